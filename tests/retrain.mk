# dt4ecg-admin retrain and evaluate end to end: a tiny network trained on
# small manifests of the real data sets ($DT4ECG_DATA), the protocols
# evaluated, checkpoints, augmentation, reproducibility and bad input.
TESTS += tests/retrain.sh
EXTRA_DIST += tests/retrain.sh

# dt4ecg-admin retrain and evaluate end to end: a tiny network trained on
# small manifests of the real data sets ($DT4ECG_DATA), the protocols
# evaluated, checkpoints, augmentation, reproducibility and bad input.
TESTS += tests/retrain.sh
EXTRA_DIST += tests/retrain.sh

# retrain's checkpoint killed at every file-system call of a save (strace),
# then resumed: one consistent checkpoint each time (no data needed).
check_PROGRAMS += tests/ckpt_crash
tests_ckpt_crash_SOURCES = tests/ckpt_crash.c admin/retrain_ckpt.c \
	admin/retrain_ckpt.h
tests_ckpt_crash_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
tests_ckpt_crash_LDADD = $(DTTEST_LIBS) $(NN_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS)
TESTS += tests/ckpt-crash.sh
EXTRA_DIST += tests/ckpt-crash.sh

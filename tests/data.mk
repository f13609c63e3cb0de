# data/: manifests, loaders, splits, augmentation (test_data); accuracy
# figures and the HTML report (test_eval); the manifest parser's fuzz target,
# replayed over its corpus.
check_PROGRAMS += tests/test_data tests/test_eval tests/test_protocol \
	fuzz/fuzz_manifest
TESTS += tests/test_data tests/test_eval tests/test_protocol
FUZZ_TESTS += fuzz/manifest.fuzz

tests_test_data_SOURCES = tests/test_data.c
tests_test_data_CFLAGS = $(TEST_CFLAGS)
tests_test_data_LDADD = $(DATA_LIBS) $(CMOCKA_LIBS)

tests_test_eval_SOURCES = tests/test_eval.c
tests_test_eval_CFLAGS = $(TEST_CFLAGS)
tests_test_eval_LDADD = $(DATA_LIBS) $(CMOCKA_LIBS)

# the evaluation protocols' scoring on synthetic embeddings (no data needed)
tests_test_protocol_SOURCES = tests/test_protocol.c
tests_test_protocol_CFLAGS = $(TEST_CFLAGS)
tests_test_protocol_LDADD = $(DATA_LIBS) $(CMOCKA_LIBS) -lm

fuzz_fuzz_manifest_SOURCES = fuzz/fuzz_manifest.c $(FUZZ_DRIVER)
fuzz_fuzz_manifest_LDADD = $(DATA_LIBS)

EXTRA_DIST += fuzz/corpus/manifest

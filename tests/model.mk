# Model file (nn/model.c) and reference forward pass (nn/ref.c): unit tests
# and the fuzz target of the safetensors loader, replayed over its corpus.
check_PROGRAMS += tests/test_model tests/test_ref fuzz/fuzz_model
TESTS += tests/test_model tests/test_ref
FUZZ_TESTS += fuzz/model.fuzz

tests_test_model_SOURCES = tests/test_model.c
tests_test_model_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS)
tests_test_model_LDADD = $(DTTEST_LIBS) $(NN_LIBS) $(CMOCKA_LIBS)

tests_test_ref_SOURCES = tests/test_ref.c
tests_test_ref_CFLAGS = $(TEST_CFLAGS)
tests_test_ref_LDADD = $(DTTEST_LIBS) $(NN_LIBS) $(CMOCKA_LIBS)

fuzz_fuzz_model_SOURCES = fuzz/fuzz_model.c $(FUZZ_DRIVER)
fuzz_fuzz_model_LDADD = $(NN_LIBS)

EXTRA_DIST += fuzz/corpus/model

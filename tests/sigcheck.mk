# ecg/sigcheck: is it an ECG at all?  test_sigcheck refuses every kind of
# non-ECG and accepts every recording of the data sets; sigcheck_frr
# measures the false-refusal rate per data set (scripts/sigcheck-frr.sh).
noinst_PROGRAMS += tests/sigcheck_frr

tests_sigcheck_frr_SOURCES = tests/sigcheck_frr.c
tests_sigcheck_frr_LDADD = $(DTTEST_LIBS) $(DATA_LIBS)

check_PROGRAMS += tests/test_sigcheck
TESTS += tests/test_sigcheck
tests_test_sigcheck_SOURCES = tests/test_sigcheck.c
tests_test_sigcheck_CFLAGS = $(TEST_CFLAGS)
tests_test_sigcheck_LDADD = $(DTTEST_LIBS) $(ECG_LIBS) $(CMOCKA_LIBS)

# the check on whatever a kiosk may send: fuzz target, replayed on its corpus
check_PROGRAMS += fuzz/fuzz_sigcheck
FUZZ_TESTS += fuzz/sigcheck.fuzz
fuzz_fuzz_sigcheck_SOURCES = fuzz/fuzz_sigcheck.c $(FUZZ_DRIVER)
fuzz_fuzz_sigcheck_LDADD = $(ECG_LIBS)
EXTRA_DIST += fuzz/corpus/sigcheck

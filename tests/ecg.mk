# ecg/: the record readers and the preprocessing, and their fuzz targets.
check_PROGRAMS += tests/test_record tests/test_prep fuzz/fuzz_wfdb fuzz/fuzz_csv
TESTS += tests/test_record tests/test_prep
FUZZ_TESTS += fuzz/wfdb.fuzz fuzz/csv.fuzz

tests_test_record_SOURCES = tests/test_record.c
tests_test_record_CFLAGS = $(TEST_CFLAGS)
tests_test_record_LDADD = $(ECG_LIBS) $(CMOCKA_LIBS)

tests_test_prep_SOURCES = tests/test_prep.c
tests_test_prep_CFLAGS = $(TEST_CFLAGS)
tests_test_prep_LDADD = $(ECG_LIBS) $(CMOCKA_LIBS)

fuzz_fuzz_wfdb_SOURCES = fuzz/fuzz_wfdb.c $(FUZZ_DRIVER)
fuzz_fuzz_wfdb_LDADD = $(ECG_LIBS)
fuzz_fuzz_csv_SOURCES = fuzz/fuzz_csv.c $(FUZZ_DRIVER)
fuzz_fuzz_csv_LDADD = $(ECG_LIBS)

EXTRA_DIST += fuzz/corpus/wfdb fuzz/corpus/csv

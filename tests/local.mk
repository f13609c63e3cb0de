# Test programs: one cmocka program per module; each fragment below adds its own.
TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)

# util/: logging (escaping, errno messages) and text validation.
check_PROGRAMS += tests/test_util
TESTS += tests/test_util
tests_test_util_SOURCES = tests/test_util.c
tests_test_util_CFLAGS = $(TEST_CFLAGS)
tests_test_util_LDADD = libdtutil.a $(CMOCKA_LIBS) -lm

# The test-support library: what several programs share — a tiny network's
# hyperparameters, random windows and a recording of the data sets
# (tests/support.h), the daemon harness and its HTTP client
# (tests/dmn_harness.h, bench/ too), signals that are not ECGs
# (tests/nonecg.h).  A program linking it gets only the objects it uses.
noinst_LIBRARIES += tests/libdttest.a
tests_libdttest_a_SOURCES = \
	tests/support.c tests/support_data.c tests/support.h \
	tests/dmn_harness.c tests/dmn_harness.h \
	tests/nonecg.c tests/nonecg.h
tests_libdttest_a_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) \
	$(SODIUM_CFLAGS) $(SQLITE_CFLAGS)
DTTEST_LIBS = tests/libdttest.a

# the folders' dependencies as docs/HACKING.md states them, on the #includes
TESTS += tests/layers.sh
EXTRA_DIST += tests/layers.sh

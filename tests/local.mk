# Test programs: one cmocka program per module; each fragment below adds its own.
TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)

# util/: logging (escaping, errno messages) and text validation.
check_PROGRAMS += tests/test_util
TESTS += tests/test_util
tests_test_util_SOURCES = tests/test_util.c
tests_test_util_CFLAGS = $(TEST_CFLAGS)
tests_test_util_LDADD = libdtutil.a $(CMOCKA_LIBS) -lm

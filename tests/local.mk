# Test programs: one cmocka program per module; each fragment below adds its own.
TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)

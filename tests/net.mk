# The oneDNN network against the plain-C reference.
check_PROGRAMS += tests/test_net
TESTS += tests/test_net
tests_test_net_SOURCES = tests/test_net.c tests/cmocka_all.h
tests_test_net_CFLAGS = $(TEST_CFLAGS)
tests_test_net_LDADD = $(NN_LIBS) $(CMOCKA_LIBS)

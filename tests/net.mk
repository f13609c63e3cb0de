# The oneDNN network against the plain-C reference.
check_PROGRAMS += tests/test_net
TESTS += tests/test_net
tests_test_net_SOURCES = tests/test_net.c tests/cmocka_all.h
tests_test_net_CFLAGS = $(TEST_CFLAGS)
tests_test_net_LDADD = $(DTTEST_LIBS) $(NN_LIBS) $(CMOCKA_LIBS)

# The recording -> embedding pipeline.
check_PROGRAMS += tests/test_embed
TESTS += tests/test_embed
tests_test_embed_SOURCES = tests/test_embed.c tests/cmocka_all.h
tests_test_embed_CFLAGS = $(TEST_CFLAGS)
tests_test_embed_LDADD = $(DTTEST_LIBS) $(PIPELINE_LIBS) $(CMOCKA_LIBS)

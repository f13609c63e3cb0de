# tests and fuzz targets of daemon/ (the protocol layer of dt4ecgd)
DAEMON_TEST_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
DAEMON_TEST_LDADD = $(DAEMON_LIBS) $(CMOCKA_LIBS)

DAEMON_TESTS = \
	tests/test_httpsig \
	tests/test_digest \
	tests/test_body \
	tests/test_config \
	tests/test_replay
check_PROGRAMS += $(DAEMON_TESTS)
TESTS += $(DAEMON_TESTS)

tests_test_httpsig_SOURCES = tests/test_httpsig.c
tests_test_httpsig_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_test_httpsig_LDADD = $(PROTO_LIBS) $(CMOCKA_LIBS)
tests_test_digest_SOURCES = tests/test_digest.c
tests_test_digest_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_test_digest_LDADD = $(PROTO_LIBS) $(CMOCKA_LIBS)
tests_test_body_SOURCES = tests/test_body.c
tests_test_body_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_test_body_LDADD = $(DAEMON_TEST_LDADD)
tests_test_config_SOURCES = tests/test_config.c
tests_test_config_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_test_config_LDADD = $(DAEMON_TEST_LDADD)
tests_test_replay_SOURCES = tests/test_replay.c
tests_test_replay_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_test_replay_LDADD = $(DAEMON_TEST_LDADD)

# Fuzz targets: replayed over their seed corpus (fuzz/local.mk).
DAEMON_FUZZ = fuzz/fuzz_httpsig fuzz/fuzz_body fuzz/fuzz_config
check_PROGRAMS += $(DAEMON_FUZZ)
FUZZ_TESTS += fuzz/httpsig.fuzz fuzz/body.fuzz fuzz/config.fuzz
EXTRA_DIST += \
	fuzz/corpus/httpsig fuzz/corpus/body fuzz/corpus/config

fuzz_fuzz_httpsig_SOURCES = fuzz/fuzz_httpsig.c $(FUZZ_DRIVER)
fuzz_fuzz_httpsig_CFLAGS = $(DAEMON_TEST_CFLAGS)
fuzz_fuzz_httpsig_LDADD = $(PROTO_LIBS)
fuzz_fuzz_body_SOURCES = fuzz/fuzz_body.c $(FUZZ_DRIVER)
fuzz_fuzz_body_CFLAGS = $(DAEMON_TEST_CFLAGS)
fuzz_fuzz_body_LDADD = $(DAEMON_LIBS)
fuzz_fuzz_config_SOURCES = fuzz/fuzz_config.c $(FUZZ_DRIVER)
fuzz_fuzz_config_CFLAGS = $(DAEMON_TEST_CFLAGS)
fuzz_fuzz_config_LDADD = $(DAEMON_LIBS)

# dt4ecgd itself: tests/test_daemon starts the real daemon on 127.0.0.1
# (tests/dmn_harness.c in libdttest.a) and drives it with libcurl; daemon-valgrind.sh runs
# the same test with the daemon under valgrind when valgrind is installed.
check_PROGRAMS += tests/test_daemon
TESTS += tests/test_daemon tests/daemon-valgrind.sh tests/daemon-soak.sh
EXTRA_DIST += tests/daemon-valgrind.sh tests/daemon-soak.sh
tests_test_daemon_SOURCES = tests/test_daemon.c
tests_test_daemon_CFLAGS = $(DAEMON_TEST_CFLAGS) $(CURL_CFLAGS) \
	$(SQLITE_CFLAGS)
tests_test_daemon_LDADD = $(DTTEST_LIBS) $(DAEMON_LIBS) $(PIPELINE_LIBS) $(STORE_LIBS) \
	$(CURL_LIBS) $(CMOCKA_LIBS)

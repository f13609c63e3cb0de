# docs/openapi.yaml against the real dt4ecgd: tests/test_openapi loads the
# spec with libyaml, validates it with a small JSON Schema validator
# (tests/jsonschema.c, test-only) and checks every class of answer of a
# daemon started on 127.0.0.1 (tests/dmn_harness.c) against it.
EXTRA_DIST += docs/openapi.yaml
check_PROGRAMS += tests/test_openapi
TESTS += tests/test_openapi
tests_test_openapi_SOURCES = tests/test_openapi.c \
	tests/jsonschema.c tests/jsonschema.h
tests_test_openapi_CFLAGS = $(DAEMON_TEST_CFLAGS) $(CURL_CFLAGS) \
	$(SQLITE_CFLAGS) $(YAML_CFLAGS)
tests_test_openapi_LDADD = $(DTTEST_LIBS) $(DAEMON_LIBS) $(PIPELINE_LIBS) $(STORE_LIBS) \
	$(CURL_LIBS) $(YAML_LIBS) $(CMOCKA_LIBS)

# Fault injection: tests/dt4ecgd-fault is dt4ecgd linked with tests/fault.c
# and -Wl,--wrap for sqlite3_step (and the error getters) and calloc;
# tests/test_fault drives it through the harness: SQLITE_BUSY -> 503, an I/O
# error -> 500 with nothing half-written, a failed allocation -> 500.
check_PROGRAMS += tests/dt4ecgd-fault tests/test_fault
TESTS += tests/test_fault
FAULT_WRAP = -Wl,--wrap=sqlite3_step -Wl,--wrap=sqlite3_errcode \
	-Wl,--wrap=sqlite3_extended_errcode -Wl,--wrap=sqlite3_errmsg \
	-Wl,--wrap=calloc
tests_dt4ecgd_fault_SOURCES = $(daemon_dt4ecgd_SOURCES) tests/fault.c
tests_dt4ecgd_fault_CFLAGS = $(daemon_dt4ecgd_CFLAGS)
tests_dt4ecgd_fault_LDFLAGS = $(AM_LDFLAGS) $(FAULT_WRAP)
tests_dt4ecgd_fault_LDADD = $(daemon_dt4ecgd_LDADD)

tests_test_fault_SOURCES = tests/test_fault.c
tests_test_fault_CFLAGS = $(DAEMON_TEST_CFLAGS) $(CURL_CFLAGS) \
	$(SQLITE_CFLAGS)
tests_test_fault_LDADD = $(DTTEST_LIBS) $(DAEMON_LIBS) $(PIPELINE_LIBS) \
	$(STORE_LIBS) $(CURL_LIBS) $(CMOCKA_LIBS)

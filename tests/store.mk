# tests of the store: schema, crypto, erasure, audit, activation, matching,
# crash safety.  All on temporary files; tests/store-pg.sh runs the same
# programs again on a throwaway PostgreSQL cluster (tests/pgtest.h).
PGTEST = tests/pgtest.c tests/pgtest.h
TESTS += tests/store-pg.sh
EXTRA_DIST += tests/store-pg.sh tests/pg-cluster.sh
check_PROGRAMS += tests/test_store tests/test_match tests/test_crash
TESTS += tests/test_store tests/test_match tests/test_crash
tests_test_store_SOURCES = tests/test_store.c $(PGTEST)
tests_test_store_CFLAGS = $(TEST_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS) $(SODIUM_CFLAGS)
tests_test_store_LDADD = $(STORE_LIBS) $(CMOCKA_LIBS)
tests_test_match_SOURCES = tests/test_match.c
tests_test_match_CFLAGS = $(TEST_CFLAGS) $(SQLITE_CFLAGS) $(SODIUM_CFLAGS)
tests_test_match_LDADD = $(STORE_LIBS) $(CMOCKA_LIBS)
tests_test_crash_SOURCES = tests/test_crash.c $(PGTEST)
tests_test_crash_CFLAGS = $(TEST_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS) $(SODIUM_CFLAGS)
tests_test_crash_LDADD = $(STORE_LIBS) $(CMOCKA_LIBS)

# what guards the door (store/guard.h): nonces, lockouts, unlock
check_PROGRAMS += tests/test_guard
TESTS += tests/test_guard
tests_test_guard_SOURCES = tests/test_guard.c $(PGTEST)
tests_test_guard_CFLAGS = $(TEST_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS) $(SODIUM_CFLAGS)
tests_test_guard_LDADD = $(STORE_LIBS) $(CMOCKA_LIBS)

# the audit anchor parser (dt4ecg-admin audit verify --anchor FILE)
check_PROGRAMS += fuzz/fuzz_anchor
FUZZ_TESTS += fuzz/anchor.fuzz
EXTRA_DIST += fuzz/corpus/anchor
fuzz_fuzz_anchor_SOURCES = fuzz/fuzz_anchor.c $(FUZZ_DRIVER)
fuzz_fuzz_anchor_CFLAGS = $(TEST_CFLAGS) $(SODIUM_CFLAGS)
fuzz_fuzz_anchor_LDADD = $(STORE_LIBS)

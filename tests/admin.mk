# tests of dt4ecg-admin (the real binary on a temporary store) and of the
# kiosk client's request building.
check_PROGRAMS += tests/admin_mkmodel
tests_admin_mkmodel_SOURCES = tests/admin_mkmodel.c
tests_admin_mkmodel_LDADD = $(NN_LIBS)
TESTS += tests/admin.sh
EXTRA_DIST += tests/admin.sh
# the same commands on a throwaway PostgreSQL cluster, and migrate-store
TESTS += tests/admin-pg.sh
EXTRA_DIST += tests/admin-pg.sh
# a chain on loopback: one PostgreSQL, three dt4ecgd replicas, the kiosk
check_PROGRAMS += tests/kiosk_sign
tests_kiosk_sign_SOURCES = tests/kiosk_sign.c kiosk/request.c kiosk/request.h
tests_kiosk_sign_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
tests_kiosk_sign_LDADD = $(DAEMON_LIBS)
TESTS += tests/chain-pg.sh tests/failover-pg.sh
EXTRA_DIST += tests/chain-pg.sh tests/failover-pg.sh

check_PROGRAMS += tests/test_kiosk
TESTS += tests/test_kiosk
tests_test_kiosk_SOURCES = tests/test_kiosk.c kiosk/request.c kiosk/request.h
tests_test_kiosk_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
tests_test_kiosk_LDADD = $(PROTO_LIBS) $(CMOCKA_LIBS)

# the admin tool, dt4ecgd and the kiosk client together (as the demo)
TESTS += tests/e2e.sh tests/man-examples.sh
EXTRA_DIST += tests/e2e.sh tests/man-examples.sh

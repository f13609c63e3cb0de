/* tests/test_crash.c — crash safety: a child enrolls members in a loop and is
 * SIGKILLed at random moments; the store must stay consistent. */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/cmocka_all.h"

#include "store/store.h"
#include "tests/pgtest.h"
#include "tests/pgtest.h"

#define ROUNDS 30
#define DIM 128

static uint8_t rawkey[32];
static char dbpath[256];

static void
child(int round)
{
	struct store_key *key;
	struct store *s;
	struct dt_error err;
	float x[2500], e[DIM];
	char id[32];
	int64_t rec;
	int i, j;

	if (store_key_from_bytes(rawkey, &key, &err) == -1 ||
	    store_open(dbpath, key, 0, &s, &err) == -1)
		_exit(2);
	for (i = 0;; i++) {
		snprintf(id, sizeof(id), "r%02d-%05d", round, i);
		for (j = 0; j < 2500; j++)
			x[j] = (float)sin(j * 0.01 * (i + 1));
		for (j = 0; j < DIM; j++)
			e[j] = (j == i % DIM) ? 1.0f : 0.0f;
		if (store_begin(s, &err) == -1)
			continue;
		if (store_member_add(s, id, "Crash Test", &err) == -1 ||
		    store_recording_add(s, id, x, 2500, 250, &rec, &err) == -1 ||
		    store_template_add(s, id, "m1", e, DIM, rec, NULL, &err) == -1 ||
		    store_commit(s, &err) == -1)
			store_rollback(s);
		if (i % 17 == 0)
			store_audit_append(s, "kiosk:k1", "auth.reject", NULL,
			    "{\"score\":0.1}", &err);
	}
}

struct check {
	int members, bad;
};

static int
check_member(void *ctx, const struct store_member *m)
{
	struct check *c = ctx;

	c->members++;
	if (m->n_recordings != 1 || m->n_templates != 1)
		c->bad++;
	return 0;
}

static int
no_recompute(void *ctx, const char *member, const float *x, size_t n,
    double fs, float *e, int dim, struct dt_error *err)
{
	return dt_error_set(err, DT_E_INTERNAL, "no recordings expected");
}

static void
test_sigkill(void **state)
{
	struct store_key *key;
	struct store *s;
	struct dt_error err;
	struct check c = { 0, 0 };
	char dir[64], cmd[128];
	const char blob[] = "model";
	int round, status;
	int64_t bad = -1, n = 0;
	pid_t pid;

	snprintf(dir, sizeof(dir), "/tmp/dt4ecg-crash-XXXXXX");
	assert_non_null(mkdtemp(dir));
	if (pgtest_enabled())	/* the server rolls back a killed client */
		pgtest_create(dbpath, sizeof(dbpath));
	else
		snprintf(dbpath, sizeof(dbpath), "%s/store.db", dir);
	randombytes_buf(rawkey, sizeof(rawkey));
	assert_int_equal(store_key_from_bytes(rawkey, &key, &err), 0);
	assert_int_equal(store_open(dbpath, key, STORE_CREATE, &s, &err), 0);
	assert_int_equal(store_model_add(s, "m1", blob, sizeof(blob), DIM, NULL,
	    &err), 0);
	assert_int_equal(store_model_activate(s, "m1", no_recompute, NULL, &err),
	    0);
	store_close(s);

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (round = 0; round < ROUNDS; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child(round);
		/* a connection to a server takes longer than opening a
		 * file: give PostgreSQL's children a longer life */
		usleep(pgtest_enabled() ? 50000 + (useconds_t)(rand() % 250000) :
		    5000 + (useconds_t)(rand() % 60000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
	}

	assert_int_equal(store_open(dbpath, key, 0, &s, &err), 0);
	assert_int_equal(store_integrity_check(s, &err), 0);
	assert_int_equal(store_audit_verify(s, &bad, &n, &err), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(store_member_list(s, check_member, &c, &err), 0);
	print_message("%d members enrolled over %d kills, %lld audit entries\n",
	    c.members, ROUNDS, (long long)n);
	assert_true(c.members > 0);
	assert_int_equal(c.bad, 0);
	/* every member's data still opens */
	assert_int_equal(store_audit_append(s, "test", "check", NULL, NULL, &err),
	    0);
	store_close(s);
	store_key_free(key);
	if (pgtest_enabled())
		pgtest_drop(dbpath);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

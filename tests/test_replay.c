/* tests/test_replay.c — nonce replay cache and per-kiosk rate limits. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "tests/cmocka_all.h"

#include "daemon/ratelimit.h"
#include "daemon/replay.h"
#include "daemon/verdict.h"

static int
setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

static void
test_replay_basic(void **state)
{
	struct replay *r = NULL;
	struct dt_error err;

	assert_int_equal(replay_create(0, 10, &r, &err), -1);
	assert_int_equal(replay_create(8, 0, &r, &err), -1);
	assert_null(r);
	assert_int_equal(replay_create(8, 10, &r, &err), 0);
	assert_int_equal(replay_check(r, "k1", "n1", 100, &err), PROBLEM_OK);
	assert_int_equal(replay_check(r, "k1", "n1", 105, &err),
	    PROBLEM_REPLAY);
	assert_non_null(strstr(err.msg, "n1"));
	/* same nonce from another kiosk, and the (keyid, nonce) split */
	assert_int_equal(replay_check(r, "k2", "n1", 105, &err), PROBLEM_OK);
	assert_int_equal(replay_check(r, "k", "1n1", 105, &err), PROBLEM_OK);
	assert_int_equal(replay_count(r), 3);
	/* still remembered at the end of its window, forgotten after */
	assert_int_equal(replay_check(r, "k1", "n1", 109, &err),
	    PROBLEM_REPLAY);
	assert_int_equal(replay_check(r, "k1", "n1", 110, &err), PROBLEM_OK);
	assert_int_equal(replay_count(r), 3);	/* old n1 gone, new n1 in */
	assert_int_equal(replay_check(r, "zz", "zz", 115, &err), PROBLEM_OK);
	assert_int_equal(replay_count(r), 2);
	replay_free(r);
	replay_free(NULL);
}

static void
test_replay_full(void **state)
{
	struct replay *r;
	struct dt_error err;
	char n[32];
	int i;

	assert_int_equal(replay_create(4, 10, &r, &err), 0);
	for (i = 0; i < 4; i++) {
		snprintf(n, sizeof(n), "n%d", i);
		assert_int_equal(replay_check(r, "k", n, 100 + i, &err),
		    PROBLEM_OK);
	}
	/* full of live nonces: fail closed, and a replay is still a replay */
	assert_int_equal(replay_check(r, "k", "new", 105, &err),
	    PROBLEM_UNAVAILABLE);
	assert_int_equal(replay_check(r, "k", "n2", 105, &err),
	    PROBLEM_REPLAY);
	/* the oldest expires: room for one */
	assert_int_equal(replay_check(r, "k", "new", 110, &err), PROBLEM_OK);
	assert_int_equal(replay_check(r, "k", "n0", 110, &err),
	    PROBLEM_UNAVAILABLE);
	assert_int_equal(replay_check(r, "k", "n1", 110, &err),
	    PROBLEM_REPLAY);
	replay_free(r);
}

/* Many entries through a small table: exercises probing and the
 * backward-shift deletion against a simple model. */
static void
test_replay_churn(void **state)
{
	struct replay *r;
	struct dt_error err;
	char n[32];
	int t, i;

	assert_int_equal(replay_create(300, 3, &r, &err), 0);
	for (t = 0; t < 200; t++) {
		for (i = 0; i < 100; i++) {
			snprintf(n, sizeof(n), "%d-%d", t, i);
			assert_int_equal(replay_check(r, "kiosk", n, t, &err),
			    PROBLEM_OK);
		}
		/* everything of the last 2 seconds is remembered */
		for (i = 0; i < 100; i += 7) {
			snprintf(n, sizeof(n), "%d-%d", t, i);
			assert_int_equal(replay_check(r, "kiosk", n, t, &err),
			    PROBLEM_REPLAY);
			if (t > 0) {
				snprintf(n, sizeof(n), "%d-%d", t - 1, i);
				assert_int_equal(replay_check(r, "kiosk", n, t,
				    &err), PROBLEM_REPLAY);
			}
		}
		assert_true(replay_count(r) <= 300);
	}
	replay_free(r);
}

struct thr {
	struct replay *r;
	int id;
	int ok, replays;
};

static void *
worker(void *arg)
{
	struct thr *t = arg;
	struct dt_error err;
	char n[32];
	int i;

	/* every thread inserts the same 1000 nonces */
	for (i = 0; i < 1000; i++) {
		snprintf(n, sizeof(n), "n%d", i);
		if (replay_check(t->r, "k", n, 1, &err) == PROBLEM_OK)
			t->ok++;
		else
			t->replays++;
	}
	return NULL;
}

static void
test_replay_threads(void **state)
{
	struct thr t[4];
	pthread_t th[4];
	struct dt_error err;
	struct replay *r;
	int i, ok = 0;

	assert_int_equal(replay_create(4096, 60, &r, &err), 0);
	for (i = 0; i < 4; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].r = r;
		t[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, worker, &t[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ok += t[i].ok;
	}
	/* each nonce accepted exactly once */
	assert_int_equal(ok, 1000);
	assert_int_equal(replay_count(r), 1000);
	replay_free(r);
}

/* One keyid cannot hold more than its quota: past it, it is refused and
 * stores nothing, while other keyids still get in (issue 13.1). */
static void
test_replay_quota(void **state)
{
	struct replay *r;
	struct dt_error err;
	char n[32];
	int i;

	assert_int_equal(replay_create(64, 10, &r, &err), 0);
	replay_set_quota(r, 8);
	for (i = 0; i < 8; i++) {
		snprintf(n, sizeof(n), "a%d", i);
		assert_int_equal(replay_check(r, "flood", n, 100, &err),
		    PROBLEM_OK);
	}
	for (i = 8; i < 200; i++) {
		snprintf(n, sizeof(n), "a%d", i);
		assert_int_equal(replay_check(r, "flood", n, 100, &err),
		    PROBLEM_RATE_LIMITED);
	}
	assert_non_null(strstr(err.msg, "share"));
	/* a replay is still a replay */
	assert_int_equal(replay_check(r, "flood", "a3", 100, &err),
	    PROBLEM_REPLAY);
	assert_int_equal(replay_count(r), 8);
	/* everyone else has room */
	for (i = 0; i < 56; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i % 7);
		snprintf(n, sizeof(n), "b%d", i);
		assert_int_equal(replay_check(r, k, n, 101, &err), PROBLEM_OK);
	}
	/* once the flood's nonces expire, it has its share again */
	assert_int_equal(replay_check(r, "flood", "late", 110, &err),
	    PROBLEM_OK);
	replay_free(r);
}

/* A NaN score never accepts (the old "score < threshold" test let it
 * through in 1:N); non-finite embeddings are refused (13.8). */
static void
test_verdict(void **state)
{
	float v[3] = { 0.5f, -0.5f, 0 };

	assert_true(verdict_accepts(0.8f, 0.7));
	assert_true(verdict_accepts(0.7f, 0.7f));
	assert_false(verdict_accepts(0.69f, 0.7));
	assert_false(verdict_accepts(NAN, 0.7));
	assert_false(verdict_accepts(NAN, -1));
	assert_false(verdict_accepts(INFINITY, 0.7));
	assert_true(verdict_finite(v, 3));
	v[2] = NAN;
	assert_false(verdict_finite(v, 3));
	v[2] = -INFINITY;
	assert_false(verdict_finite(v, 3));
}

static void
test_ratelimit(void **state)
{
	struct ratelimit *rl = NULL;
	struct dt_error err;
	unsigned ra = 0;
	int i;

	assert_int_equal(ratelimit_create(0, 5, 4, &rl, &err), -1);
	assert_int_equal(ratelimit_create(1, 0.5, 4, &rl, &err), -1);
	assert_int_equal(ratelimit_create(1, 5, 0, &rl, &err), -1);
	assert_int_equal(ratelimit_create(2, 5, 4, &rl, &err), 0);
	/* a burst of 5, then limited */
	for (i = 0; i < 5; i++)
		assert_true(ratelimit_take(rl, "k1", 100.0, &ra));
	assert_false(ratelimit_take(rl, "k1", 100.0, &ra));
	assert_int_equal(ra, 1);	/* 0.5 s at 2/s, rounded up */
	/* another kiosk has its own bucket */
	assert_true(ratelimit_take(rl, "k2", 100.0, &ra));
	/* refills at the rate */
	assert_true(ratelimit_take(rl, "k1", 100.5, &ra));
	assert_false(ratelimit_take(rl, "k1", 100.5, &ra));
	assert_true(ratelimit_take(rl, "k1", 101.0, &ra));
	ratelimit_free(rl);

	/* a slow rate gives a longer Retry-After */
	assert_int_equal(ratelimit_create(0.1, 1, 4, &rl, &err), 0);
	assert_true(ratelimit_take(rl, "k", 0, &ra));
	assert_false(ratelimit_take(rl, "k", 1, &ra));
	assert_int_equal(ra, 9);
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

static void
test_ratelimit_table(void **state)
{
	struct ratelimit *rl;
	struct dt_error err;
	unsigned ra = 0;

	assert_int_equal(ratelimit_create(1, 2, 2, &rl, &err), 0);
	assert_true(ratelimit_take(rl, "a", 0, &ra));
	assert_true(ratelimit_take(rl, "b", 0, &ra));
	/* table full of partly used buckets: a third kiosk is refused */
	assert_false(ratelimit_take(rl, "c", 0, &ra));
	assert_int_equal(ra, 1);
	/* once a bucket has refilled it can be reused for "c" */
	assert_true(ratelimit_take(rl, "c", 1.0, &ra));
	assert_true(ratelimit_take(rl, "c", 1.0, &ra));
	assert_false(ratelimit_take(rl, "c", 1.0, &ra));
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_basic),
		cmocka_unit_test(test_replay_full),
		cmocka_unit_test(test_replay_churn),
		cmocka_unit_test(test_replay_threads),
		cmocka_unit_test(test_replay_quota),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_ratelimit_table),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}

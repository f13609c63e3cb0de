/*
 * tests/test_guard.c — what guards the door, in the store (store/guard.h):
 * accepted nonces survive a reopen and their horizon holds whatever the
 * skew; member and kiosk failure counters persist, lock once with one
 * audit entry, and staff unlock, the member row's MAC kept right by
 * both; display names must be UTF-8 text; a probe is matched only
 * against the templates of the model that made it.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tests/cmocka_all.h"

#include "store/crypto.h"
#include "store/guard.h"
#include "store/match.h"
#include "store/store.h"
#include "tests/pgtest.h"

struct fx {
	char dir[64];
	char db[256];
	struct store_key *key;
	struct store *s;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t raw[32];
	struct dt_error err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/dt4ecg-guard-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (pgtest_enabled())
		pgtest_create(f->db, sizeof(f->db));
	else
		snprintf(f->db, sizeof(f->db), "%s/store.db", f->dir);
	randombytes_buf(raw, sizeof(raw));
	assert_int_equal(store_key_from_bytes(raw, &f->key, &err), 0);
	assert_int_equal(store_open(f->db, f->key, STORE_CREATE, &f->s, &err),
	    0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	store_close(f->s);
	store_key_free(f->key);
	if (pgtest_enabled())
		pgtest_drop(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
reopen(struct fx *f)
{
	struct dt_error err;

	store_close(f->s);
	assert_int_equal(store_open(f->db, f->key, 0, &f->s, &err), 0);
}

static void
test_nonces(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	int64_t t = 1700000000, n;

	assert_int_equal(store_nonce_use(f->s, "k1", "n1", t, t, 60, &err), 0);
	assert_int_equal(store_nonce_use(f->s, "k1", "n1", t, t + 1, 60,
	    &err), -1);
	assert_int_equal(err.code, DT_E_EXISTS);
	/* another kiosk, and the (keyid, nonce) split */
	assert_int_equal(store_nonce_use(f->s, "k2", "n1", t, t, 60, &err), 0);
	assert_int_equal(store_nonce_use(f->s, "k", "1n1", t, t, 60, &err), 0);
	/* a restart forgets nothing (issue 13.2b) */
	reopen(f);
	assert_int_equal(store_nonce_use(f->s, "k1", "n1", t, t + 30, 60,
	    &err), -1);
	assert_int_equal(err.code, DT_E_EXISTS);
	/* 70 s later the old nonces are purged: the horizon refuses their
	 * signatures even under a skew of an hour (issue 13.2a) */
	assert_int_equal(store_nonce_use(f->s, "k3", "x", t + 70, t + 70, 60,
	    &err), 0);
	assert_int_equal(store_nonce_count(f->s, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_nonce_use(f->s, "k1", "n1", t, t + 71, 3600,
	    &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_non_null(strstr(err.msg, "no longer kept"));
	reopen(f);
	assert_int_equal(store_nonce_use(f->s, "k1", "n1", t + 5, t + 71,
	    3600, &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	/* a fresh one still passes */
	assert_int_equal(store_nonce_use(f->s, "k1", "n2", t + 71, t + 71, 60,
	    &err), 0);
}

/* Two connections (two daemons on one store): a nonce is accepted once. */
static void
test_nonces_shared(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store *s2;
	int64_t t = (int64_t)time(NULL);

	assert_int_equal(store_open(f->db, f->key, 0, &s2, &err), 0);
	assert_int_equal(store_nonce_use(f->s, "k", "shared", t, t, 60, &err),
	    0);
	assert_int_equal(store_nonce_use(s2, "k", "shared", t, t, 60, &err),
	    -1);
	assert_int_equal(err.code, DT_E_EXISTS);
	store_close(s2);
}

struct audits {
	int lock, unlock, klock;
	char detail[256];
	char subject[STORE_AUDIT_ID_MAX];	/* of the last member.* entry */
	char udetail[256];			/* of the last member.unlock */
};

static int
count_audit(void *ctx, const struct store_audit_entry *e)
{
	struct audits *a = ctx;

	if (strcmp(e->action, "member.lock") == 0) {
		a->lock++;
		snprintf(a->detail, sizeof(a->detail), "%s",
		    e->detail ? e->detail : "");
	}
	if (strcmp(e->action, "member.unlock") == 0) {
		a->unlock++;
		snprintf(a->udetail, sizeof(a->udetail), "%s",
		    e->detail ? e->detail : "");
	}
	if (strncmp(e->action, "member.", 7) == 0)
		snprintf(a->subject, sizeof(a->subject), "%s",
		    e->subject ? e->subject : "");
	a->klock += strcmp(e->action, "kiosk.lock") == 0;
	return 0;
}

static void
test_member_lockout(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_member m;
	struct audits a = { 0 };
	unsigned fails;
	bool locked;
	int64_t now = (int64_t)time(NULL);
	int i;

	assert_int_equal(store_member_add(f->s, "ann", "Ann", &err), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(store_member_fail(f->s, "ann", "k1", 3, 300,
		    now, &locked, &err), 0);
		assert_false(locked);
	}
	/* the count survives a restart (issue 13.5b) */
	reopen(f);
	assert_int_equal(store_member_failures(f->s, "ann", &fails, &err), 0);
	assert_int_equal(fails, 2);
	assert_int_equal(store_member_fail(f->s, "ann", "k1", 3, 300, now,
	    &locked, &err), 0);
	assert_true(locked);
	assert_int_equal(store_member_get(f->s, "ann", &m, &err), 0);
	assert_int_equal(m.locked_until, now + 300);
	/* audited once (issue 13.5c), naming the kiosk */
	assert_int_equal(store_audit_list(f->s, 0, count_audit, &a, &err), 0);
	assert_int_equal(a.lock, 1);
	assert_non_null(strstr(a.detail, "\"kiosk\":\"k1\""));
	assert_int_equal(store_member_failures(f->s, "ann", &fails, &err), 0);
	assert_int_equal(fails, 0);
	/* an accept resets; an unknown member counts nothing */
	assert_int_equal(store_member_fail(f->s, "ann", "k1", 3, 300, now,
	    &locked, &err), 0);
	assert_int_equal(store_member_fail_reset(f->s, "ann", &err), 0);
	assert_int_equal(store_member_failures(f->s, "ann", &fails, &err), 0);
	assert_int_equal(fails, 0);
	assert_int_equal(store_member_fail(f->s, "nobody", "k1", 3, 300, now,
	    &locked, &err), 0);
	assert_false(locked);
	/* staff unlock, audited (issue 14.8) */
	assert_int_equal(store_member_unlock(f->s, "ann", &err), 0);
	assert_int_equal(store_member_get(f->s, "ann", &m, &err), 0);
	assert_int_equal(m.locked_until, 0);
	assert_int_equal(store_member_unlock(f->s, "nobody", &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_audit_list(f->s, 0, count_audit, &a, &err), 0);
	assert_int_equal(a.unlock, 1);
	/* erasure takes the counter along */
	assert_int_equal(store_member_fail(f->s, "ann", "k1", 3, 300, now,
	    &locked, &err), 0);
	assert_int_equal(store_member_delete(f->s, "ann", &err), 0);
	assert_int_equal(store_sql(f->s, "SELECT 1", NULL, &err), 0);
}

/*
 * members.locked_until is covered by the row's MAC (store/rowmac.c): a lock
 * set by store_member_fail and lifted by store_member_unlock keep the row
 * authentic, and the audit names the member by audit id, never by id.  A
 * lock written into the file without the key fails the MAC; staff can
 * still unlock it, which makes the row authentic again and says so.
 */
static void
test_lock_row_mac(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_member m;
	struct audits a = { 0 };
	struct store *s2;
	bool locked = false;
	int64_t now = (int64_t)time(NULL), bad = -1, n = 0;

	assert_int_equal(store_member_add(f->s, "bob", NULL, &err), 0);
	assert_int_equal(store_member_fail(f->s, "bob", "k1", 1, 300, now,
	    &locked, &err), 0);
	assert_true(locked);
	assert_int_equal(store_member_get(f->s, "bob", &m, &err), 0);
	assert_int_equal(m.row_ok, 1);
	assert_int_equal(m.locked_until, now + 300);
	assert_int_equal(store_audit_list(f->s, 0, count_audit, &a, &err), 0);
	assert_string_equal(a.subject, m.audit_id);
	assert_int_equal(strncmp(a.subject, "m:", 2), 0);
	assert_int_equal(store_member_unlock(f->s, "bob", &err), 0);
	assert_int_equal(store_member_get(f->s, "bob", &m, &err), 0);
	assert_int_equal(m.row_ok, 1);
	assert_int_equal(m.locked_until, 0);
	/* a lock written into the file: refused, then unlocked by staff */
	assert_int_equal(store_sql(f->s, "UPDATE members SET "
	    "locked_until = 1 WHERE id = 'bob'", NULL, &err), 0);
	assert_int_equal(store_member_get(f->s, "bob", &m, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	assert_int_equal(store_member_unlock(f->s, "bob", &err), 0);
	assert_int_equal(store_member_get(f->s, "bob", &m, &err), 0);
	assert_int_equal(m.row_ok, 1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_audit_list(f->s, 0, count_audit, &a, &err), 0);
	assert_int_equal(a.unlock, 2);
	assert_non_null(strstr(a.udetail, "\"row_failed_mac\":true"));
	assert_int_equal(store_audit_verify(f->s, &bad, &n, &err), 0);
	assert_int_equal(bad, 0);
	/* without the key an unlock is refused: it would break the MAC */
	assert_int_equal(store_open(f->db, NULL, 0, &s2, &err), 0);
	assert_int_equal(store_member_unlock(s2, "bob", &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	store_close(s2);
}

static void
test_kiosk_lockout(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_kiosk_guard kg;
	struct audits a = { 0 };
	bool locked = false;
	int64_t now = 1700000000;
	int i;

	assert_int_equal(store_kiosk_guard_get(f->s, "lobby", &kg, &err), 0);
	assert_int_equal(kg.fails, 0);
	assert_int_equal(kg.locked_until, 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(store_kiosk_fail(f->s, "lobby", 5, 600, now,
		    &locked, &err), 0);
		assert_false(locked);
	}
	reopen(f);
	assert_int_equal(store_kiosk_guard_get(f->s, "lobby", &kg, &err), 0);
	assert_int_equal(kg.fails, 4);
	/* an accept resets the count */
	assert_int_equal(store_kiosk_fail_reset(f->s, "lobby", &err), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(store_kiosk_fail(f->s, "lobby", 5, 600, now,
		    &locked, &err), 0);
	assert_true(locked);
	assert_int_equal(store_kiosk_guard_get(f->s, "lobby", &kg, &err), 0);
	assert_int_equal(kg.locked_until, now + 600);
	assert_int_equal(store_audit_list(f->s, 0, count_audit, &a, &err), 0);
	assert_int_equal(a.klock, 1);
}

static void
test_display_name(void **state)
{
	struct fx *f = *state;
	struct dt_error err;

	assert_int_equal(store_member_add(f->s, "zoe", "Zo\xeb", &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_non_null(strstr(err.msg, "UTF-8"));
	assert_int_equal(store_member_add(f->s, "zoe", "Zo\ne", &err), -1);
	assert_int_equal(store_member_add(f->s, "zoe", "Zoë", &err), 0);
}

/* A probe made by one model is never compared with another's templates,
 * even of the same dimension (issue 13.8). */
static void
test_match_model_bound(void **state)
{
	struct dt_error err;
	struct match_index *ix;
	struct match_hit hit;
	size_t nh;
	float q[16] = { 1 }, sc;

	assert_int_equal(match_index_create(&ix, &err), 0);
	if (match_index_add(ix, "ann", 1, q, 16, &err) != 0)
		fail_msg("%s", err.msg);
	/* an index not backed by a store holds model "(memory)" */
	assert_int_equal(match_identify_as(ix, "(memory)", q, 16, 1, &hit, &nh, &err),
	    0);
	assert_int_equal(nh, 1);
	assert_int_equal(match_identify_as(ix, "m-other", q, 16, 1, &hit, &nh,
	    &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_equal(match_verify_as(ix, "m-other", "ann", q, 16, &sc,
	    &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_equal(match_verify_as(ix, NULL, "ann", q, 16, &sc, &err), 0);
	assert_true(fabsf(sc - 1.0f) < 1e-5f);
	match_index_free(ix);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nonces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonces_shared, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_member_lockout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_row_mac, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_kiosk_lockout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_display_name, setup,
		    teardown),
		cmocka_unit_test(test_match_model_bound),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * store/lockout.c — consecutive failure counters of members (by row id, so
 * an erasure takes them along) and kiosks, and the kiosk lock; see
 * guard.h.  Each lock is audited once, in the transaction that sets it;
 * a change of members.locked_until renews the row's MAC (rowmac.c) in the
 * same transaction, as store_member_set_locked() does.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "store/guard.h"
#include "store/store_int.h"

/* Row id of member ID, 0 when absent, -1 on error. */
static int64_t
rid_of(struct store *s, const char *id, struct dt_error *err)
{
	struct sdb_stmt *st;
	int64_t rid = 0;
	int q;

	if (store_prepare(s, "SELECT rid FROM members WHERE id = ?", &st,
	    err) == -1)
		return -1;
	sdb_bind_text(st, 1, id);
	q = sdb_step(st);
	if (q == SDB_ROW)
		rid = sdb_column_int64(st, 0);
	sdb_finalize(st);
	if (q != SDB_ROW && q != SDB_DONE)
		return store_sql_error(s, err, "member get");
	return rid;
}

/* Runs SQL binding ?1 = A (int) and ?2 = B (text, may be NULL) and ?3 = C. */
static int
run(struct store *s, const char *sql, int64_t a, const char *b, int64_t c,
    const char *op, struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	sdb_bind_int64(st, 1, a);
	if (b != NULL)
		sdb_bind_text(st, 2, b);
	sdb_bind_int64(st, 3, c);
	q = sdb_step(st);
	sdb_finalize(st);
	return q == SDB_DONE ? 0 : store_sql_error(s, err, op);
}

/* The integer of the first row of SQL (?1 = A int, ?2 = B text), or DEF. */
static int
get_i64(struct store *s, const char *sql, int64_t a, const char *b,
    int col, int64_t def, int64_t *out, struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	*out = def;
	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	sdb_bind_int64(st, 1, a);
	if (b != NULL)
		sdb_bind_text(st, 2, b);
	q = sdb_step(st);
	if (q == SDB_ROW)
		*out = sdb_column_int64(st, col);
	sdb_finalize(st);
	if (q != SDB_ROW && q != SDB_DONE)
		return store_sql_error(s, err, "lockout get");
	return 0;
}

static int
tx_end(struct store *s, int rc, struct dt_error *err)
{
	if (rc == 0)
		return store_tx_end(s, 1, err);
	if (s->depth > 1)
		s->failed = 1;
	store_tx_end(s, 0, NULL);
	return -1;
}

int
store_member_fail(struct store *s, const char *member, const char *kiosk,
    unsigned max, int64_t lock_s, int64_t now, bool *locked,
    struct dt_error *err)
{
	char detail[160];
	int64_t rid, fails;
	int rc = -1;

	*locked = false;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((rid = rid_of(s, member, err)) <= 0) {
		rc = rid == 0 ? 0 : -1;
		goto out;
	}
	if (run(s, "INSERT INTO member_failures(member, fails) VALUES (?1, 1) "
	    "ON CONFLICT(member) DO UPDATE SET fails = member_failures.fails + "
	    "1", rid, NULL,
	    0, "member failure", err) == -1 ||
	    get_i64(s, "SELECT fails FROM member_failures WHERE member = ?1",
	    rid, NULL, 0, 0, &fails, err) == -1)
		goto out;
	if (fails >= (int64_t)max) {
		if (run(s, "UPDATE members SET locked_until = ?3 WHERE "
		    "rid = ?1", rid, NULL, now + lock_s, "member lock",
		    err) == -1 ||
		    store_rowmac_member_update(s, member, err) == -1 ||
		    run(s, "DELETE FROM member_failures WHERE member = ?1", rid,
		    NULL, 0, "member failure", err) == -1)
			goto out;
		snprintf(detail, sizeof(detail), "{\"failures\":%lld,"
		    "\"locked_s\":%lld,\"locked_until\":%lld,\"kiosk\":"
		    "\"%.64s\"}", (long long)fails, (long long)lock_s,
		    (long long)(now + lock_s), kiosk != NULL ? kiosk : "");
		if (store_audit_append_tx(s, s->actor, "member.lock", member,
		    detail, err) == -1)
			goto out;
		*locked = true;
	}
	rc = 0;
out:
	if (rc != 0)
		*locked = false;
	return tx_end(s, rc, err);
}

int
store_member_fail_reset(struct store *s, const char *member,
    struct dt_error *err)
{
	/* one statement: it runs on every 1:1 accept */
	return run(s, "DELETE FROM member_failures WHERE member = (SELECT "
	    "rid FROM members WHERE id = ?2)", 0, member, 0,
	    "member failure", err);
}

int
store_member_failures(struct store *s, const char *member, unsigned *fails,
    struct dt_error *err)
{
	int64_t rid, f;

	*fails = 0;
	if ((rid = rid_of(s, member, err)) <= 0)
		return rid == 0 ? 0 : -1;
	if (get_i64(s, "SELECT fails FROM member_failures WHERE member = ?1",
	    rid, NULL, 0, 0, &f, err) == -1)
		return -1;
	*fails = (unsigned)f;
	return 0;
}

int
store_member_unlock(struct store *s, const char *member, struct dt_error *err)
{
	struct dt_error merr = { 0 };
	struct store_member m;
	int64_t rid, until;
	char detail[96];
	bool forged;
	int rc = -1;

	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((rid = rid_of(s, member, err)) <= 0) {
		if (rid == 0)
			dt_error_set(err, DT_E_NOTFOUND, "member %s not found",
			    member);
		goto out;
	}
	/* A row that failed its MAC (its lock written into the file) is
	 * authentic again after this: the audit entry says it was not. */
	forged = store_member_get(s, member, &m, &merr) != 0 &&
	    merr.code == DT_E_CRYPTO;
	if (get_i64(s, "SELECT locked_until FROM members WHERE rid = ?1",
	    rid, NULL, 0, 0, &until, err) == -1 ||
	    run(s, "UPDATE members SET locked_until = 0 WHERE rid = ?1", rid,
	    NULL, 0, "member unlock", err) == -1 ||
	    store_rowmac_member_update(s, member, err) == -1 ||
	    run(s, "DELETE FROM member_failures WHERE member = ?1", rid, NULL,
	    0, "member unlock", err) == -1)
		goto out;
	snprintf(detail, sizeof(detail), "{\"was_locked_until\":%lld%s}",
	    (long long)until, forged ? ",\"row_failed_mac\":true" : "");
	rc = store_audit_append_tx(s, s->actor, "member.unlock", member, detail,
	    err);
out:
	return tx_end(s, rc, err);
}

int
store_kiosk_fail(struct store *s, const char *kiosk, unsigned max,
    int64_t lock_s, int64_t now, bool *locked, struct dt_error *err)
{
	char detail[128];
	int64_t fails;
	int rc = -1;

	*locked = false;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if (run(s, "INSERT INTO kiosk_failures(kiosk, fails) VALUES (?2, 1) "
	    "ON CONFLICT(kiosk) DO UPDATE SET fails = kiosk_failures.fails + "
	    "1", 0, kiosk, 0,
	    "kiosk failure", err) == -1 ||
	    get_i64(s, "SELECT fails FROM kiosk_failures WHERE kiosk = ?2", 0,
	    kiosk, 0, 0, &fails, err) == -1)
		goto out;
	if (fails >= (int64_t)max) {
		if (run(s, "UPDATE kiosk_failures SET fails = 0, "
		    "locked_until = ?3 WHERE kiosk = ?2", 0, kiosk, now + lock_s,
		    "kiosk lock", err) == -1)
			goto out;
		snprintf(detail, sizeof(detail), "{\"failures\":%lld,"
		    "\"locked_s\":%lld,\"locked_until\":%lld}",
		    (long long)fails, (long long)lock_s,
		    (long long)(now + lock_s));
		if (store_audit_append_tx(s, s->actor, "kiosk.lock", kiosk,
		    detail, err) == -1)
			goto out;
		*locked = true;
	}
	rc = 0;
out:
	if (rc != 0)
		*locked = false;
	return tx_end(s, rc, err);
}

int
store_kiosk_fail_reset(struct store *s, const char *kiosk,
    struct dt_error *err)
{
	/* one statement: it runs on every accept */
	return run(s, "UPDATE kiosk_failures SET fails = 0 WHERE kiosk = ?2 "
	    "AND fails <> 0", 0, kiosk, 0, "kiosk failure", err);
}

int
store_kiosk_guard_get(struct store *s, const char *kiosk,
    struct store_kiosk_guard *out, struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	out->fails = 0;
	out->locked_until = 0;
	if (store_prepare(s, "SELECT fails, locked_until FROM kiosk_failures "
	    "WHERE kiosk = ?", &st, err) == -1)
		return -1;
	sdb_bind_text(st, 1, kiosk);
	if ((q = sdb_step(st)) == SDB_ROW) {
		out->fails = (unsigned)sdb_column_int64(st, 0);
		out->locked_until = sdb_column_int64(st, 1);
	}
	sdb_finalize(st);
	return q == SDB_ROW || q == SDB_DONE ? 0 :
	    store_sql_error(s, err, "kiosk guard");
}

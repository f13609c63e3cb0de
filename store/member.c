/* store/member.c — members: add, get, list, lock, erase.  See store.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/text.h"

/* ---- members ------------------------------------------------------------ */

int
store_member_add(struct store *s, const char *id, const char *display_name,
    struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	int rc = -1;

	if (store_check_id("member", id, err) == -1)
		return -1;
	if (display_name != NULL && strlen(display_name) > STORE_NAME_MAX)
		return dt_error_set(err, DT_E_INVALID, "member %s: display name "
		    "longer than %d bytes", id, STORE_NAME_MAX);
	/* It is sent to kiosks as JSON: UTF-8 without control characters. */
	if (display_name != NULL && (!dt_utf8_valid(display_name,
	    strlen(display_name)) || dt_has_control(display_name)))
		return dt_error_set(err, DT_E_INVALID, "member %s: display name "
		    "is not UTF-8 text (invalid byte sequence or control "
		    "character)", id);
	if (store_tx_begin(s, err) == -1)
		return -1;
	if (store_prepare(s, "INSERT INTO members(id, display_name, created) "
	    "VALUES (?, ?, ?)", &st, err) == -1)
		goto out;
	sdb_bind_text(st, 1, id);
	sdb_bind_text(st, 2, display_name);
	sdb_bind_int64(st, 3, store_now());
	if (store_step_insert(s, st, "member", id, err) ||
	    store_rowmac_member_update(s, id, err))
		goto out;
	rc = store_audit_append_tx(s, s->actor, "member.add", id, NULL, err);
out:
	sdb_finalize(st);
	return store_op_end(s, rc, err);
}

#define MEMBER_COLS "m.id, m.display_name, m.created, m.locked_until, " \
	"(SELECT count(*) FROM recordings WHERE member = m.rid), " \
	"(SELECT count(*) FROM templates WHERE member = m.rid), m.audit_id, " \
	"m.mac FROM members m "

static void
member_row(struct store *s, struct sdb_stmt *st, struct store_member *m)
{
	memset(m, 0, sizeof(*m));
	store_copy_text(m->id, sizeof(m->id), sdb_column_text(st, 0));
	store_copy_text(m->display_name, sizeof(m->display_name),
	    sdb_column_text(st, 1));
	m->created = sdb_column_int64(st, 2);
	m->locked_until = sdb_column_int64(st, 3);
	m->n_recordings = sdb_column_int(st, 4);
	m->n_templates = sdb_column_int(st, 5);
	store_copy_text(m->audit_id, sizeof(m->audit_id), sdb_column_text(st, 6));
	m->row_ok = store_rowmac_member_ok(s, m->id, m->locked_until,
	    sdb_column_null(st, 6) ? NULL : m->audit_id,
	    sdb_column_blob(st, 7), sdb_column_bytes(st, 7));
}

int
store_member_get(struct store *s, const char *id, struct store_member *out,
    struct dt_error *err)
{
	struct sdb_stmt *st;

	if (store_check_id("member", id, err) == -1 ||
	    store_get_row(s, "SELECT " MEMBER_COLS "WHERE m.id = ?", "member", id,
	    &st, err) == -1)
		return -1;
	member_row(s, st, out);
	sdb_finalize(st);
	if (out->row_ok == 0)
		return dt_error_set(err, DT_E_CRYPTO, "member %s: the row does "
		    "not authenticate under the store key (changed outside "
		    "dt4ecg?): refused", id);
	return 0;
}

int
store_member_list(struct store *s, store_member_fn fn, void *ctx,
    struct dt_error *err)
{
	struct store_member m;
	struct sdb_stmt *st;
	int rc = 0, r;

	if (store_prepare(s, "SELECT " MEMBER_COLS "ORDER BY m.id", &st, err))
		return -1;
	while ((r = sdb_step(st)) == SDB_ROW) {
		member_row(s, st, &m);
		if ((rc = fn(ctx, &m)) != 0)
			break;
	}
	return store_rows_end(s, st, rc, r, "member list", err);
}

int
store_member_set_locked(struct store *s, const char *id, int64_t locked_until,
    struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	char detail[64];
	int rc = -1;

	if (store_tx_begin(s, err) == -1)
		return -1;
	if (store_need_member(s, id, err) == -1)
		goto out;
	if (store_prepare(s, "UPDATE members SET locked_until = ? WHERE id = ?",
	    &st, err) == -1)
		goto out;
	sdb_bind_int64(st, 1, locked_until);
	sdb_bind_text(st, 2, id);
	if (store_step_done(s, st, "member lock", err) == -1 ||
	    store_rowmac_member_update(s, id, err) == -1)
		goto out;
	snprintf(detail, sizeof(detail), "{\"locked_until\":%lld}",
	    (long long)locked_until);
	rc = store_audit_append_tx(s, s->actor, "member.lock", id, detail, err);
out:
	sdb_finalize(st);
	return store_op_end(s, rc, err);
}

int
store_count_where(struct store *s, const char *sql, int64_t rid, int64_t *n,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	int rc;

	if (store_prepare_rid(s, sql, rid, &st, err) == -1)
		return -1;
	rc = sdb_step(st);
	if (rc == SDB_ROW)
		*n = sdb_column_int64(st, 0);
	sdb_finalize(st);
	return rc == SDB_ROW ? 0 : store_sql_error(s, err, sql);
}

int
store_member_delete(struct store *s, const char *id, struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	char detail[96];
	int64_t rid, nrec = 0, ntpl = 0;
	int rc = -1, outer = s->depth == 0;

	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((rid = store_need_member(s, id, err)) == -1)
		goto out;
	if (store_count_where(s, "SELECT count(*) FROM recordings WHERE member = ?",
	    rid, &nrec, err) == -1 || store_count_where(s, "SELECT count(*) FROM "
	    "templates WHERE member = ?", rid, &ntpl, err) == -1)
		goto out;
	/* templates first (they reference recordings), then the rest */
	if (store_prepare_rid(s, "DELETE FROM templates WHERE member = ?1; ", rid,
	    &st, err) || store_step_done(s, st, "erase templates", err))
		goto out;
	sdb_finalize(st);
	if (store_prepare_rid(s, "DELETE FROM members WHERE rid = ?", rid, &st, err))
		goto out;
	if (sdb_step(st) != SDB_DONE || sdb_changes(s->db) != 1) {
		store_sql_error(s, err, "erase member");
		goto out;
	}
	/* nothing that names or links to the member: no subject, no hash */
	snprintf(detail, sizeof(detail), "{\"recordings\":%lld,"
	    "\"templates\":%lld}", (long long)nrec, (long long)ntpl);
	rc = store_audit_append_tx(s, s->actor, "member.erase", NULL, detail, err);
out:
	sdb_finalize(st);
	if (store_op_end(s, rc, err) == -1)
		return -1;
	if (outer)	/* move the zeroed pages into the file, empty the WAL */
		(void)store_checkpoint(s, NULL);
	return 0;
}


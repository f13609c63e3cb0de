/* store/audit.c — the hash-chained, append-only audit log.  See store.h. */
#include "config.h"

#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"

#define HASH_BYTES 32

static void
put_u64(crypto_generichash_state *h, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(h, b, sizeof(b));
}

static void
put_str(crypto_generichash_state *h, const char *str)
{
	if (str == NULL) {
		put_u64(h, UINT64_MAX);
		return;
	}
	put_u64(h, strlen(str));
	crypto_generichash_update(h, (const uint8_t *)str, strlen(str));
}

static void
entry_hash(const uint8_t prev[HASH_BYTES], const struct store_audit_entry *e,
    uint8_t out[HASH_BYTES])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, HASH_BYTES);
	crypto_generichash_update(&h, prev, HASH_BYTES);
	put_u64(&h, (uint64_t)e->id);
	put_u64(&h, (uint64_t)e->ts);
	put_str(&h, e->actor);
	put_str(&h, e->action);
	put_str(&h, e->subject);
	put_str(&h, e->detail);
	crypto_generichash_final(&h, out, HASH_BYTES);
}

int
store_audit_append_tx(struct store *s, const char *actor, const char *action,
    const char *subject, const char *detail, struct dt_error *err)
{
	struct store_audit_entry e;
	sqlite3_stmt *st = NULL;
	uint8_t prev[HASH_BYTES] = { 0 }, hash[HASH_BYTES];
	int rc = -1, q;

	if (actor == NULL || action == NULL)
		return dt_error_set(err, DT_E_INVALID, "audit: no actor or action");
	if (store_prepare(s, "SELECT id, hash FROM audit ORDER BY id DESC "
	    "LIMIT 1", &st, err) == -1)
		return -1;
	memset(&e, 0, sizeof(e));
	e.id = 1;
	if ((q = sqlite3_step(st)) == SQLITE_ROW) {
		e.id = sqlite3_column_int64(st, 0) + 1;
		if (sqlite3_column_bytes(st, 1) == HASH_BYTES)
			memcpy(prev, sqlite3_column_blob(st, 1), HASH_BYTES);
	} else if (q != SQLITE_DONE) {
		store_sql_error(s, err, "audit append");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	e.ts = (int64_t)time(NULL);
	e.actor = actor;
	e.action = action;
	e.subject = subject;
	e.detail = detail;
	entry_hash(prev, &e, hash);
	if (store_prepare(s, "INSERT INTO audit(id, ts, actor, action, subject, "
	    "detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st,
	    err) == -1)
		goto out;
	sqlite3_bind_int64(st, 1, e.id);
	sqlite3_bind_int64(st, 2, e.ts);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, prev, HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, hash, HASH_BYTES, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_sql_error(s, err, "audit append");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

int
store_audit_append(struct store *s, const char *actor, const char *action,
    const char *subject, const char *detail, struct dt_error *err)
{
	int rc;

	if (store_tx_begin(s, err) == -1)
		return -1;
	rc = store_audit_append_tx(s, actor, action, subject, detail, err);
	if (rc == 0)
		return store_tx_end(s, 1, err);
	if (s->depth > 1)
		s->failed = 1;
	store_tx_end(s, 0, NULL);
	return -1;
}

#define AUDIT_COLS "SELECT id, ts, actor, action, subject, detail, prev_hash, " \
	"hash FROM audit "

static void
audit_row(sqlite3_stmt *st, struct store_audit_entry *e)
{
	e->id = sqlite3_column_int64(st, 0);
	e->ts = sqlite3_column_int64(st, 1);
	e->actor = (const char *)sqlite3_column_text(st, 2);
	e->action = (const char *)sqlite3_column_text(st, 3);
	e->subject = (const char *)sqlite3_column_text(st, 4);
	e->detail = (const char *)sqlite3_column_text(st, 5);
}

int
store_audit_list(struct store *s, int64_t after_id, store_audit_fn fn,
    void *ctx, struct dt_error *err)
{
	struct store_audit_entry e;
	sqlite3_stmt *st;
	int rc = 0, q;

	if (store_prepare(s, AUDIT_COLS "WHERE id > ? ORDER BY id", &st, err))
		return -1;
	sqlite3_bind_int64(st, 1, after_id);
	while ((q = sqlite3_step(st)) == SQLITE_ROW) {
		audit_row(st, &e);
		if ((rc = fn(ctx, &e)) != 0)
			break;
	}
	if (rc == 0 && q != SQLITE_DONE)
		rc = store_sql_error(s, err, "audit list");
	sqlite3_finalize(st);
	return rc;
}

int
store_audit_verify(struct store *s, int64_t *first_bad, int64_t *n,
    struct dt_error *err)
{
	struct store_audit_entry e;
	sqlite3_stmt *st;
	uint8_t prev[HASH_BYTES] = { 0 }, hash[HASH_BYTES];
	int64_t count = 0, bad = 0, last = 0;
	int q;

	/* one read transaction: a consistent snapshot of the whole chain */
	if (sqlite3_exec(s->db, s->depth ? "SELECT 1" : "BEGIN", NULL, NULL,
	    NULL) != SQLITE_OK)
		return store_sql_error(s, err, "audit verify");
	if (store_prepare(s, AUDIT_COLS "ORDER BY id", &st, err) == -1) {
		if (!s->depth)
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	while ((q = sqlite3_step(st)) == SQLITE_ROW) {
		audit_row(st, &e);
		count++;
		entry_hash(prev, &e, hash);
		if (e.id != last + 1 || e.actor == NULL || e.action == NULL ||
		    sqlite3_column_bytes(st, 6) != HASH_BYTES ||
		    sqlite3_column_bytes(st, 7) != HASH_BYTES ||
		    sodium_memcmp(sqlite3_column_blob(st, 6), prev, HASH_BYTES) != 0 ||
		    sodium_memcmp(sqlite3_column_blob(st, 7), hash, HASH_BYTES) != 0) {
			bad = e.id;
			break;
		}
		memcpy(prev, hash, HASH_BYTES);
		last = e.id;
	}
	sqlite3_finalize(st);
	if (!s->depth)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	if (bad == 0 && q != SQLITE_DONE)
		return store_sql_error(s, err, "audit verify");
	*first_bad = bad;
	if (n)
		*n = count;
	return 0;
}

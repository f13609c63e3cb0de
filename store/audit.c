/* store/audit.c — the hash-chained, append-only audit log.  See store.h. */
#include "config.h"

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store/store.h"
#include "store/store_int.h"

#define HASH_BYTES 32
#define CHAIN_CONTEXT "dtaudit1"	/* crypto_kdf context of the chain key */

/* BLAKE2b-256 of PREV and E's fields, keyed with KEY (NULL: the unkeyed
 * chain of stores before migration 4). */
static void
entry_hash(const uint8_t *key, const uint8_t prev[HASH_BYTES],
    const struct store_audit_entry *e, uint8_t out[HASH_BYTES])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, key, key ? 32 : 0, HASH_BYTES);
	crypto_generichash_update(&h, prev, HASH_BYTES);
	store_hash_u64(&h, (uint64_t)e->id);
	store_hash_u64(&h, (uint64_t)e->ts);
	store_hash_str(&h, e->actor);
	store_hash_str(&h, e->action);
	store_hash_str(&h, e->subject);
	store_hash_str(&h, e->detail);
	crypto_generichash_final(&h, out, HASH_BYTES);
}

int
store_audit_hash(struct store *s, const uint8_t prev[HASH_BYTES],
    const struct store_audit_entry *e, uint8_t out[HASH_BYTES],
    struct dt_error *err)
{
	uint8_t key[32];

	if (s->key == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "%s: opened without the "
		    "store key, which every change needs (each is audited in a "
		    "chain keyed by it)", s->path);
	if (store_key_derive(s->key, CHAIN_CONTEXT, key, err) == -1)
		return -1;
	entry_hash(key, prev, e, out);
	sodium_memzero(key, sizeof(key));
	return 0;
}

int
store_audit_member_action(const char *action)
{
	static const char *const prefixes[] = { "member.", "recording.",
	    "template.", "auth." };
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(action, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

int
store_audit_append_tx(struct store *s, const char *actor, const char *action,
    const char *subject, const char *detail, struct dt_error *err)
{
	struct store_audit_entry e;
	struct sdb_stmt *st = NULL;
	uint8_t prev[HASH_BYTES] = { 0 }, hash[HASH_BYTES];
	char aid[STORE_AUDIT_ID_MAX];
	int rc = -1, q;

	if (actor == NULL || action == NULL)
		return dt_error_set(err, DT_E_INVALID, "audit: no actor or action");
	if (store_prepare(s, "SELECT id, hash FROM audit ORDER BY id DESC "
	    "LIMIT 1", &st, err) == -1)
		return -1;
	memset(&e, 0, sizeof(e));
	e.id = 1;
	if ((q = sdb_step(st)) == SDB_ROW) {
		e.id = sdb_column_int64(st, 0) + 1;
		if (sdb_column_bytes(st, 1) == HASH_BYTES)
			memcpy(prev, sdb_column_blob(st, 1), HASH_BYTES);
	} else if (q != SDB_DONE) {
		store_sql_error(s, err, "audit append");
		goto out;
	}
	sdb_finalize(st);
	st = NULL;
	e.ts = (int64_t)time(NULL);
	e.actor = actor;
	e.action = action;
	/* a member is named by their audit id, never by their id */
	if (subject != NULL && store_audit_member_action(action))
		subject = store_member_audit_id(s, subject, aid, NULL) == 0 ?
		    aid : NULL;
	e.subject = subject;
	e.detail = detail;
	if (store_audit_hash(s, prev, &e, hash, err) == -1)
		goto out;
	if (store_prepare(s, "INSERT INTO audit(id, ts, actor, action, subject, "
	    "detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st,
	    err) == -1)
		goto out;
	sdb_bind_int64(st, 1, e.id);
	sdb_bind_int64(st, 2, e.ts);
	sdb_bind_text(st, 3, actor);
	sdb_bind_text(st, 4, action);
	sdb_bind_text(st, 5, subject);
	sdb_bind_text(st, 6, detail);
	sdb_bind_blob(st, 7, prev, HASH_BYTES);
	sdb_bind_blob(st, 8, hash, HASH_BYTES);
	if (sdb_step(st) != SDB_DONE) {
		store_sql_error(s, err, "audit append");
		goto out;
	}
	rc = 0;
out:
	sdb_finalize(st);
	return rc;
}

int
store_audit_append(struct store *s, const char *actor, const char *action,
    const char *subject, const char *detail, struct dt_error *err)
{
	int rc;

	if (s->depth > 0) {	/* in the caller's transaction: no savepoint */
		if ((rc = store_audit_append_tx(s, actor, action, subject,
		    detail, err)) != 0)
			s->failed = 1;
		return rc;
	}
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
audit_row(struct sdb_stmt *st, struct store_audit_entry *e)
{
	e->id = sdb_column_int64(st, 0);
	e->ts = sdb_column_int64(st, 1);
	e->actor = (const char *)sdb_column_text(st, 2);
	e->action = (const char *)sdb_column_text(st, 3);
	e->subject = (const char *)sdb_column_text(st, 4);
	e->detail = (const char *)sdb_column_text(st, 5);
}

int
store_audit_list(struct store *s, int64_t after_id, store_audit_fn fn,
    void *ctx, struct dt_error *err)
{
	struct store_audit_entry e;
	struct sdb_stmt *st;
	int rc = 0, q;

	if (store_prepare(s, AUDIT_COLS "WHERE id > ? ORDER BY id", &st, err))
		return -1;
	sdb_bind_int64(st, 1, after_id);
	while ((q = sdb_step(st)) == SDB_ROW) {
		audit_row(st, &e);
		if ((rc = fn(ctx, &e)) != 0)
			break;
	}
	if (rc == 0 && q != SDB_DONE)
		rc = store_sql_error(s, err, "audit list");
	sdb_finalize(st);
	return rc;
}

/* Walks the chain (keyed with KEY, or unkeyed when NULL) in one read
 * snapshot. */
static int
verify_chain(struct store *s, const uint8_t *key, int64_t *first_bad,
    int64_t *n, struct dt_error *err)
{
	struct store_audit_entry e;
	struct sdb_stmt *st;
	uint8_t prev[HASH_BYTES] = { 0 }, hash[HASH_BYTES];
	int64_t count = 0, bad = 0, last = 0;
	int q;

	/* one read transaction: a consistent snapshot of the whole chain */
	if (!s->depth && store_read_begin(s, err) == -1)
		return -1;
	if (store_prepare(s, AUDIT_COLS "ORDER BY id", &st, err) == -1) {
		if (!s->depth)
			sdb_exec(s->db, "ROLLBACK");
		return -1;
	}
	while ((q = sdb_step(st)) == SDB_ROW) {
		audit_row(st, &e);
		count++;
		entry_hash(key, prev, &e, hash);
		if (e.id != last + 1 || e.actor == NULL || e.action == NULL ||
		    sdb_column_bytes(st, 6) != HASH_BYTES ||
		    sdb_column_bytes(st, 7) != HASH_BYTES ||
		    sodium_memcmp(sdb_column_blob(st, 6), prev, HASH_BYTES) != 0 ||
		    sodium_memcmp(sdb_column_blob(st, 7), hash, HASH_BYTES) != 0) {
			bad = e.id;
			break;
		}
		memcpy(prev, hash, HASH_BYTES);
		last = e.id;
	}
	sdb_finalize(st);
	if (!s->depth)
		sdb_exec(s->db, "ROLLBACK");
	if (bad == 0 && q != SDB_DONE)
		return store_sql_error(s, err, "audit verify");
	*first_bad = bad;
	if (n)
		*n = count;
	return 0;
}

int
store_audit_verify(struct store *s, int64_t *first_bad, int64_t *n,
    struct dt_error *err)
{
	uint8_t key[32];
	int rc;

	if (store_key_derive(s->key, CHAIN_CONTEXT, key, err) == -1)
		return dt_error_set(err, DT_E_CRYPTO, "%s: the audit chain is "
		    "keyed: verifying it needs the store key", s->path);
	rc = verify_chain(s, key, first_bad, n, err);
	sodium_memzero(key, sizeof(key));
	return rc;
}

int
store_audit_verify_unkeyed(struct store *s, int64_t *first_bad,
    struct dt_error *err)
{
	return verify_chain(s, NULL, first_bad, NULL, err);
}

int
store_audit_head(struct store *s, struct store_audit_anchor *out,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (store_prepare(s, "SELECT id, hash FROM audit ORDER BY id DESC "
	    "LIMIT 1", &st, err) == -1)
		return -1;
	memset(out, 0, sizeof(*out));
	out->ts = (int64_t)time(NULL);
	if ((q = sdb_step(st)) == SDB_ROW) {
		out->count = sdb_column_int64(st, 0);
		if (sdb_column_bytes(st, 1) == HASH_BYTES)
			memcpy(out->head, sdb_column_blob(st, 1), HASH_BYTES);
	}
	sdb_finalize(st);
	if (q != SDB_ROW && q != SDB_DONE)
		return store_sql_error(s, err, "audit head");
	return 0;
}

int
store_audit_check_anchor(struct store *s, const struct store_audit_anchor *a,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	int q, rc = -1;

	if (a->count == 0)
		return 0;
	if (store_prepare(s, "SELECT hash, (SELECT max(id) FROM audit) FROM "
	    "audit WHERE id = ?", &st, err) == -1)
		return -1;
	sdb_bind_int64(st, 1, a->count);
	q = sdb_step(st);
	if (q == SDB_ROW) {
		if (sdb_column_bytes(st, 0) == HASH_BYTES &&
		    sodium_memcmp(sdb_column_blob(st, 0), a->head,
		    HASH_BYTES) == 0)
			rc = 0;
		else
			dt_error_set(err, DT_E_CRYPTO, "%s: entry %lld is not "
			    "the one the anchor of %lld recorded: the log up to "
			    "it was rewritten", s->path, (long long)a->count,
			    (long long)a->ts);
	} else if (q == SDB_DONE)
		dt_error_set(err, DT_E_CRYPTO, "%s: the anchor of %lld "
		    "recorded %lld entries, the log has fewer: entries were "
		    "deleted", s->path, (long long)a->ts, (long long)a->count);
	else
		store_sql_error(s, err, "audit anchor");
	sdb_finalize(st);
	return rc;
}

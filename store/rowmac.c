/*
 * store/rowmac.c — rows that decide who gets in, authenticated under the
 * store key (issue 13 point 7), member pseudonyms for the audit log (issue
 * 14 point 5), and the C half of migration 4.
 *
 * A MAC is a keyed BLAKE2b-256 under the subkey "dtrowmac" of the store key
 * over the row's table name and fields (each length-prefixed):
 *   kiosks:  id, public_key, created, revoked_at
 *   members: id, locked_until, audit_id
 *   models:  rid, id, embedding_dim, active, digest (BLAKE2b-256 of bytes)
 * Whoever can write the database file but has no key cannot add a kiosk,
 * lift a revocation or a lock, or switch the active model: the row no
 * longer authenticates and the store refuses it (DT_E_CRYPTO).  What a MAC
 * cannot see is a whole row put back as it was at an earlier time (with its
 * MAC of then): the audit anchors (audit.c) show such a rollback of the log,
 * not of a row.
 *
 * A member's audit id ("m:" + 32 hex digits, random) stands for the member
 * in the audit log; it lives only in the member's row, so an erasure (with
 * secure_delete) leaves nothing that links the log to the person.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store.h"
#include "store/store_int.h"

#define MAC_BYTES 32

void
store_hash_u64(crypto_generichash_state *h, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(h, b, sizeof(b));
}

void
store_hash_bytes(crypto_generichash_state *h, const void *p, size_t n)
{
	store_hash_u64(h, n);
	if (n > 0)
		crypto_generichash_update(h, p, n);
}

void
store_hash_str(crypto_generichash_state *h, const char *str)
{
	if (str == NULL) {
		store_hash_u64(h, UINT64_MAX);
		return;
	}
	store_hash_bytes(h, str, strlen(str));
}

static int
mac_init(struct store *s, crypto_generichash_state *h, const char *table,
    struct dt_error *err)
{
	uint8_t sub[32];

	if (store_key_derive(s->key, "dtrowmac", sub, err) == -1)
		return -1;
	crypto_generichash_init(h, sub, sizeof(sub), MAC_BYTES);
	sodium_memzero(sub, sizeof(sub));
	store_hash_str(h, table);
	return 0;
}

static int
mac_kiosk(struct store *s, const struct store_kiosk *k, uint8_t mac[MAC_BYTES],
    struct dt_error *err)
{
	crypto_generichash_state h;

	if (mac_init(s, &h, "kiosks", err) == -1)
		return -1;
	store_hash_str(&h, k->id);
	store_hash_bytes(&h, k->public_key, sizeof(k->public_key));
	store_hash_u64(&h, (uint64_t)k->created);
	store_hash_u64(&h, (uint64_t)k->revoked_at);
	crypto_generichash_final(&h, mac, MAC_BYTES);
	return 0;
}

static int
mac_member(struct store *s, const char *id, int64_t locked_until,
    const char *audit_id, uint8_t mac[MAC_BYTES], struct dt_error *err)
{
	crypto_generichash_state h;

	if (mac_init(s, &h, "members", err) == -1)
		return -1;
	store_hash_str(&h, id);
	store_hash_u64(&h, (uint64_t)locked_until);
	store_hash_str(&h, audit_id);
	crypto_generichash_final(&h, mac, MAC_BYTES);
	return 0;
}

static int
mac_model(struct store *s, int64_t rid, const char *id, int dim, int active,
    const void *digest, size_t digest_len, uint8_t mac[MAC_BYTES],
    struct dt_error *err)
{
	crypto_generichash_state h;

	if (mac_init(s, &h, "models", err) == -1)
		return -1;
	store_hash_u64(&h, (uint64_t)rid);
	store_hash_str(&h, id);
	store_hash_u64(&h, (uint64_t)dim);
	store_hash_u64(&h, (uint64_t)active);
	store_hash_bytes(&h, digest, digest_len);
	crypto_generichash_final(&h, mac, MAC_BYTES);
	return 0;
}

/* 1 when MAC (LEN bytes) equals WANT, 0 when not. */
static int
mac_equal(const void *mac, int len, const uint8_t want[MAC_BYTES])
{
	return mac != NULL && len == MAC_BYTES &&
	    sodium_memcmp(mac, want, MAC_BYTES) == 0;
}

/* Runs SQL with a MAC bound to ?1 and the text ID to ?2. */
static int
write_mac(struct store *s, const char *sql, const uint8_t mac[MAC_BYTES],
    const char *id, const char *what, struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	sdb_bind_blob(st, 1, mac, MAC_BYTES);
	sdb_bind_text(st, 2, id);
	q = sdb_step(st);
	sdb_finalize(st);
	return q == SDB_DONE ? 0 : store_sql_error(s, err, what);
}

/* ---- members ------------------------------------------------------------ */

int
store_rowmac_member_update(struct store *s, const char *id,
    struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	uint8_t mac[MAC_BYTES], rnd[16];
	char aid[STORE_AUDIT_ID_MAX];
	int64_t locked_until;
	int rc = -1, q;

	if (store_prepare(s, "SELECT locked_until, audit_id FROM members "
	    "WHERE id = ?", &st, err) == -1)
		return -1;
	sdb_bind_text(st, 1, id);
	if ((q = sdb_step(st)) != SDB_ROW) {
		if (q == SDB_DONE)
			dt_error_set(err, DT_E_NOTFOUND, "member %s not found",
			    id);
		else
			store_sql_error(s, err, "member mac");
		goto out;
	}
	locked_until = sdb_column_int64(st, 0);
	if (sdb_column_null(st, 1)) {
		randombytes_buf(rnd, sizeof(rnd));
		memcpy(aid, "m:", 2);
		sodium_bin2hex(aid + 2, sizeof(aid) - 2, rnd, sizeof(rnd));
	} else
		snprintf(aid, sizeof(aid), "%s", sdb_column_text(st, 1));
	sdb_finalize(st);
	st = NULL;
	if (mac_member(s, id, locked_until, aid, mac, err) == -1)
		goto out;
	if (store_prepare(s, "UPDATE members SET mac = ?1, audit_id = ?3 "
	    "WHERE id = ?2", &st, err) == -1)
		goto out;
	sdb_bind_blob(st, 1, mac, MAC_BYTES);
	sdb_bind_text(st, 2, id);
	sdb_bind_text(st, 3, aid);
	if (sdb_step(st) != SDB_DONE) {
		store_sql_error(s, err, "member mac");
		goto out;
	}
	rc = 0;
out:
	sdb_finalize(st);
	return rc;
}

int
store_rowmac_member_ok(struct store *s, const char *id, int64_t locked_until,
    const char *audit_id, const void *mac, int mac_len)
{
	uint8_t want[MAC_BYTES];

	if (s->key == NULL)
		return -1;
	if (mac_member(s, id, locked_until, audit_id, want, NULL) == -1)
		return 0;
	return mac_equal(mac, mac_len, want);
}

int
store_member_audit_id(struct store *s, const char *id,
    char out[STORE_AUDIT_ID_MAX], struct dt_error *err)
{
	struct sdb_stmt *st;
	int q, rc = -1;

	if (store_prepare(s, "SELECT audit_id FROM members WHERE id = ?", &st,
	    err) == -1)
		return -1;
	sdb_bind_text(st, 1, id);
	q = sdb_step(st);
	if (q == SDB_ROW && !sdb_column_null(st, 0)) {
		snprintf(out, STORE_AUDIT_ID_MAX, "%s",
		    sdb_column_text(st, 0));
		rc = 0;
	} else if (q == SDB_ROW || q == SDB_DONE)
		dt_error_set(err, DT_E_NOTFOUND, "member %.64s not found", id);
	else
		store_sql_error(s, err, "member audit id");
	sdb_finalize(st);
	return rc;
}

/* ---- kiosks ------------------------------------------------------------- */

int
store_rowmac_kiosk_update(struct store *s, const char *id,
    struct dt_error *err)
{
	struct store_kiosk k;
	struct sdb_stmt *st;
	uint8_t mac[MAC_BYTES];
	int q;

	if (store_prepare(s, "SELECT public_key, created, revoked_at FROM "
	    "kiosks WHERE id = ?", &st, err) == -1)
		return -1;
	sdb_bind_text(st, 1, id);
	memset(&k, 0, sizeof(k));
	if ((q = sdb_step(st)) == SDB_ROW) {
		snprintf(k.id, sizeof(k.id), "%s", id);
		if (sdb_column_bytes(st, 0) == 32)
			memcpy(k.public_key, sdb_column_blob(st, 0), 32);
		k.created = sdb_column_int64(st, 1);
		k.revoked_at = sdb_column_int64(st, 2);
	}
	sdb_finalize(st);
	if (q != SDB_ROW)
		return q == SDB_DONE ? dt_error_set(err, DT_E_NOTFOUND,
		    "kiosk %s not found", id) : store_sql_error(s, err,
		    "kiosk mac");
	if (mac_kiosk(s, &k, mac, err) == -1)
		return -1;
	return write_mac(s, "UPDATE kiosks SET mac = ?1 WHERE id = ?2", mac,
	    id, "kiosk mac", err);
}

int
store_rowmac_kiosk_ok(struct store *s, const struct store_kiosk *k,
    const void *mac, int mac_len)
{
	uint8_t want[MAC_BYTES];

	if (s->key == NULL)
		return -1;
	if (mac_kiosk(s, k, want, NULL) == -1)
		return 0;
	return mac_equal(mac, mac_len, want);
}

/* ---- models ------------------------------------------------------------- */

int
store_rowmac_models_update(struct store *s, struct dt_error *err)
{
	struct sdb_stmt *st = NULL, *up = NULL;
	uint8_t mac[MAC_BYTES], digest[MAC_BYTES];
	const void *d;
	int rc = -1, q;

	if (store_prepare(s, "SELECT rid, id, embedding_dim, active, digest, "
	    "CASE WHEN digest IS NULL THEN bytes END FROM models", &st, err) ||
	    store_prepare(s, "UPDATE models SET digest = ?1, mac = ?2 WHERE "
	    "rid = ?3", &up, err))
		goto out;
	while ((q = sdb_step(st)) == SDB_ROW) {
		if (sdb_column_bytes(st, 4) == MAC_BYTES)
			memcpy(digest, sdb_column_blob(st, 4), MAC_BYTES);
		else {
			d = sdb_column_blob(st, 5);
			crypto_generichash(digest, MAC_BYTES, d,
			    (size_t)sdb_column_bytes(st, 5), NULL, 0);
		}
		if (mac_model(s, sdb_column_int64(st, 0),
		    (const char *)sdb_column_text(st, 1),
		    sdb_column_int(st, 2), sdb_column_int(st, 3),
		    digest, MAC_BYTES, mac, err) == -1)
			goto out;
		sdb_reset(up);
		sdb_bind_blob(up, 1, digest, MAC_BYTES);
		sdb_bind_blob(up, 2, mac, MAC_BYTES);
		sdb_bind_int64(up, 3, sdb_column_int64(st, 0));
		if (sdb_step(up) != SDB_DONE) {
			store_sql_error(s, err, "model mac");
			goto out;
		}
	}
	if (q != SDB_DONE) {
		store_sql_error(s, err, "model mac");
		goto out;
	}
	rc = 0;
out:
	sdb_finalize(st);
	sdb_finalize(up);
	return rc;
}

int
store_rowmac_model_ok(struct store *s, int64_t rid, const char *id, int dim,
    int active, const void *digest, int digest_len, const void *mac,
    int mac_len)
{
	uint8_t want[MAC_BYTES];

	if (s->key == NULL)
		return -1;
	if (digest == NULL || digest_len != MAC_BYTES ||
	    mac_model(s, rid, id, dim, active, digest, MAC_BYTES, want,
	    NULL) == -1)
		return 0;
	return mac_equal(mac, mac_len, want);
}

int
store_rowmac_model_bytes_ok(const void *digest, int digest_len,
    const void *bytes, size_t n)
{
	uint8_t h[MAC_BYTES];

	if (digest == NULL || digest_len != MAC_BYTES)
		return 0;
	crypto_generichash(h, MAC_BYTES, bytes, n, NULL, 0);
	return sodium_memcmp(h, digest, MAC_BYTES) == 0;
}

/* ---- migration 4 -------------------------------------------------------- */

static int
count_rows(struct store *s, const char *sql, int64_t *n, struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	if ((q = sdb_step(st)) == SDB_ROW)
		*n = sdb_column_int64(st, 0);
	sdb_finalize(st);
	return q == SDB_ROW ? 0 : store_sql_error(s, err, sql);
}

/* Calls FN(S, ID) for the text in column 0 of every row of SQL. */
static int
each_id(struct store *s, const char *sql,
    int (*fn)(struct store *, const char *, struct dt_error *),
    struct dt_error *err)
{
	struct sdb_stmt *st;
	char id[STORE_ID_MAX + 1];
	int q, rc = 0;

	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	while (rc == 0 && (q = sdb_step(st)) == SDB_ROW) {
		snprintf(id, sizeof(id), "%s", sdb_column_text(st, 0));
		rc = fn(s, id, err);
	}
	if (rc == 0 && q != SDB_DONE)
		rc = store_sql_error(s, err, sql);
	sdb_finalize(st);
	return rc;
}

#define REKEY_BATCH 256

struct rekey_row {
	struct store_audit_entry e;
	char *actor, *action, *subject, *detail;
};

static void
rekey_rows_free(struct rekey_row *r, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(r[i].actor);
		free(r[i].action);
		free(r[i].subject);
		free(r[i].detail);
	}
}

static char *
dup_col(struct sdb_stmt *st, int col, int *oom)
{
	const char *t = sdb_column_text(st, col);
	char *d;

	if (t == NULL)
		return NULL;
	if ((d = strdup((const char *)t)) == NULL)
		*oom = 1;
	return d;
}

/*
 * Older erasures recorded a hash of the member id ("member_hash", unkeyed
 * when the store was opened without its key): whoever guesses the id could
 * confirm it.  Keeps only the counts that follow it.  1 when changed.
 */
static int
strip_member_hash(struct rekey_row *r, int *oom)
{
	const char *rest = strstr(r->detail, "\"recordings\":");
	char *d;

	if (strncmp(r->detail, "{\"member_hash\":", 15) != 0 || rest == NULL)
		return 0;
	if ((d = malloc(strlen(rest) + 2)) == NULL) {
		*oom = 1;
		return 0;
	}
	d[0] = '{';
	strcpy(d + 1, rest);
	free(r->detail);
	r->detail = d;
	return 1;
}

/*
 * Re-keys the audit chain of an older store: every entry whose subject is a
 * member id gets that member's audit id (NULL when the member was erased),
 * an erasure's entry loses its hash of the id, and every hash is recomputed
 * under the chain key.  The old (unkeyed)
 * chain must verify first.  Reads in batches, so the log may be large.
 */
static int
rekey_audit(struct store *s, int64_t *n_entries, int64_t *n_subjects,
    struct dt_error *err)
{
	struct rekey_row rows[REKEY_BATCH];
	struct sdb_stmt *st = NULL, *up = NULL;
	uint8_t prev[32] = { 0 }, hash[32];
	char aid[STORE_AUDIT_ID_MAX];
	int64_t bad = 0, last = 0;
	int n, i, q, oom = 0, rc = -1;

	if (store_audit_verify_unkeyed(s, &bad, err) == -1)
		return -1;
	if (bad != 0)
		return dt_error_set(err, DT_E_CRYPTO, "%s: the audit log is "
		    "broken at entry %lld: it must verify before it is re-keyed "
		    "(restore a backup)", s->path, (long long)bad);
	if (store_prepare(s, "SELECT id, ts, actor, action, subject, detail "
	    "FROM audit WHERE id > ? ORDER BY id LIMIT " "256", &st, err) ||
	    store_prepare(s, "UPDATE audit SET subject = ?, prev_hash = ?, "
	    "hash = ?, detail = ?5 WHERE id = ?4", &up, err))
		goto out;
	for (;;) {
		sdb_reset(st);
		sdb_bind_int64(st, 1, last);
		n = 0;
		while (n < REKEY_BATCH && (q = sdb_step(st)) == SDB_ROW) {
			struct rekey_row *r = &rows[n++];

			memset(r, 0, sizeof(*r));
			r->e.id = sdb_column_int64(st, 0);
			r->e.ts = sdb_column_int64(st, 1);
			r->actor = dup_col(st, 2, &oom);
			r->action = dup_col(st, 3, &oom);
			r->subject = dup_col(st, 4, &oom);
			r->detail = dup_col(st, 5, &oom);
		}
		if (oom) {
			dt_error_set(err, DT_E_NOMEM, "audit re-key: out of memory");
			rekey_rows_free(rows, n);
			goto out;
		}
		for (i = 0; i < n; i++) {
			struct rekey_row *r = &rows[i];

			if (r->subject != NULL && r->action != NULL &&
			    store_audit_member_action(r->action)) {
				if (store_member_audit_id(s, r->subject, aid,
				    NULL) == 0) {
					free(r->subject);
					r->subject = strdup(aid);
					if (r->subject == NULL)
						oom = 1;
				} else {
					free(r->subject);
					r->subject = NULL;
				}
				(*n_subjects)++;
			}
			if (r->action != NULL && r->detail != NULL &&
			    strcmp(r->action, "member.erase") == 0 &&
			    strip_member_hash(r, &oom))
				(*n_subjects)++;
			r->e.actor = r->actor;
			r->e.action = r->action;
			r->e.subject = r->subject;
			r->e.detail = r->detail;
			if (oom || store_audit_hash(s, prev, &r->e, hash,
			    err) == -1)
				break;
			sdb_reset(up);
			sdb_bind_text(up, 1, r->subject);
			sdb_bind_blob(up, 2, prev, 32);
			sdb_bind_blob(up, 3, hash, 32);
			sdb_bind_int64(up, 4, r->e.id);
			sdb_bind_text(up, 5, r->detail);
			if (sdb_step(up) != SDB_DONE) {
				store_sql_error(s, err, "audit re-key");
				break;
			}
			memcpy(prev, hash, sizeof(prev));
			last = r->e.id;
			(*n_entries)++;
		}
		rekey_rows_free(rows, n);
		if (oom)
			dt_error_set(err, DT_E_NOMEM, "audit re-key: out of memory");
		if (oom || i < n)
			goto out;
		if (n < REKEY_BATCH)
			break;
	}
	rc = 0;
out:
	sdb_finalize(st);
	sdb_finalize(up);
	return rc;
}

int
store_migrate_c(struct store *s, int version, struct dt_error *err)
{
	int64_t n = 0, m = 0, k = 0, o = 0, ne = 0, ns = 0;
	char detail[160];

	if (version != 4)
		return 0;
	if (count_rows(s, "SELECT count(*) FROM audit", &n, err) ||
	    count_rows(s, "SELECT count(*) FROM members", &m, err) ||
	    count_rows(s, "SELECT count(*) FROM kiosks", &k, err) ||
	    count_rows(s, "SELECT count(*) FROM models", &o, err))
		return -1;
	if (n + m + k + o > 0) {
		if (s->key == NULL)
			return dt_error_set(err, DT_E_CRYPTO, "%s: migration 4 "
			    "keys the audit chain and authenticates kiosks, "
			    "members and models under the store key: run it "
			    "with the key", s->path);
		if (each_id(s, "SELECT id FROM members",
		    store_rowmac_member_update, err) ||
		    each_id(s, "SELECT id FROM kiosks",
		    store_rowmac_kiosk_update, err) ||
		    store_rowmac_models_update(s, err) ||
		    rekey_audit(s, &ne, &ns, err))
			return -1;
	}
	if (store_exec(s, sdb_kind(s->db) == SDB_PG ? "CREATE TRIGGER "
	    "audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE "
	    "FUNCTION dt4ecg_refuse('the audit log is append-only')" :
	    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN "
	    "SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
	    err) == -1)
		return -1;
	if (n + m + k + o == 0)
		return 0;	/* a new store: nothing to re-key */
	snprintf(detail, sizeof(detail), "{\"schema\":4,\"entries_rekeyed\":%lld,"
	    "\"member_refs_replaced\":%lld}", (long long)ne, (long long)ns);
	return store_audit_append_tx(s, s->actor, "store.migrate", NULL, detail,
	    err);
}

/*
 * store/nonce.c — accepted request nonces in the store; see guard.h.
 *
 * A nonce is kept as BLAKE2b-256 of (length-prefixed keyid, nonce) with the
 * signature's `created`.  The horizon (meta "nonce_horizon") only grows.
 * Check, insert and purge run in one write transaction (the caller's, or
 * one of their own), so two daemons on one store cannot both accept a
 * nonce, and a purge by one cannot open a window for the other.
 */
#include "config.h"

#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "store/guard.h"
#include "store/store_int.h"

#define NONCE_HASH 32
#define PURGE_EVERY_S 1

static _Atomic int64_t last_purge;

static int
horizon_get(struct store *s, int64_t *h, struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	*h = 0;
	if (store_prepare(s, sdb_kind(s->db) == SDB_PG ? "SELECT value FROM "
	    "nonce_horizon" : "SELECT value FROM meta WHERE key = "
	    "'nonce_horizon'", &st, err) == -1)
		return -1;
	q = sdb_step(st);
	if (q == SDB_ROW)
		*h = sdb_column_int64(st, 0);
	sdb_finalize(st);
	if (q != SDB_ROW && q != SDB_DONE)
		return store_sql_error(s, err, "nonce horizon");
	return 0;
}

static int
exec_i64(struct store *s, const char *sql, int64_t v, const char *op,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	sdb_bind_int64(st, 1, v);
	q = sdb_step(st);
	sdb_finalize(st);
	return q == SDB_DONE ? 0 : store_sql_error(s, err, op);
}

int
store_nonce_use(struct store *s, const char *keyid, const char *nonce,
    int64_t created, int64_t now, int64_t skew_s, struct dt_error *err)
{
	crypto_generichash_state hs;
	unsigned char h[NONCE_HASH];
	uint64_t klen = strlen(keyid);
	struct sdb_stmt *st = NULL;
	int64_t horizon, nh;
	int rc = -1, own_tx;

	crypto_generichash_init(&hs, NULL, 0, sizeof(h));
	crypto_generichash_update(&hs, (const unsigned char *)&klen,
	    sizeof(klen));
	crypto_generichash_update(&hs, (const unsigned char *)keyid, klen);
	crypto_generichash_update(&hs, (const unsigned char *)nonce,
	    strlen(nonce));
	crypto_generichash_final(&hs, h, sizeof(h));

	own_tx = s->depth == 0;
	if (own_tx && store_tx_begin(s, err) == -1)
		return -1;
	if (horizon_get(s, &horizon, err) == -1)
		goto out;
	if (created <= horizon) {
		dt_error_set(err, DT_E_INVALID, "signature created at %lld, "
		    "at or before %lld, up to which nonces are no longer kept",
		    (long long)created, (long long)horizon);
		goto out;
	}
	/* ON CONFLICT rather than a failed INSERT: on PostgreSQL an error
	 * would abort the whole transaction */
	if (store_prepare(s, "INSERT INTO nonces(h, created) VALUES (?, ?) "
	    "ON CONFLICT(h) DO NOTHING", &st, err) == -1)
		goto out;
	sdb_bind_blob(st, 1, h, sizeof(h));
	sdb_bind_int64(st, 2, created);
	if (sdb_step(st) != SDB_DONE) {
		store_sql_error(s, err, "nonce add");
		goto out;
	}
	if (sdb_changes(s->db) == 0) {
		dt_error_set(err, DT_E_EXISTS, "nonce \"%.64s\" of %.64s "
		    "already used", nonce, keyid);
		goto out;
	}
	/* Forget what the clock check refuses anyway (at most once a
	 * second per process). */
	nh = now - skew_s - 1;
	if (nh > horizon && now - atomic_load(&last_purge) >= PURGE_EVERY_S) {
		atomic_store(&last_purge, now);
		if (exec_i64(s, sdb_kind(s->db) == SDB_PG ? "INSERT INTO "
		    "nonce_horizon(one, value) VALUES (1, ?1) ON CONFLICT(one) "
		    "DO UPDATE SET value = greatest(nonce_horizon.value, "
		    "excluded.value)" : "INSERT INTO meta(key, value) VALUES "
		    "('nonce_horizon', ?1) ON CONFLICT(key) DO UPDATE SET "
		    "value = max(value, excluded.value)", nh, "nonce horizon",
		    err) == -1 ||
		    exec_i64(s, "DELETE FROM nonces WHERE created <= ?", nh,
		    "nonce purge", err) == -1)
			goto out;
	}
	rc = 0;
out:
	sdb_finalize(st);
	if (!own_tx) {	/* a refusal leaves the caller's transaction usable */
		if (rc != 0 && err->code != DT_E_EXISTS &&
		    err->code != DT_E_INVALID)
			s->failed = 1;
		return rc;
	}
	if (rc == 0)
		return store_tx_end(s, 1, err);
	store_tx_end(s, 0, NULL);
	return -1;
}

int
store_nonce_count(struct store *s, int64_t *n, struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (store_prepare(s, "SELECT count(*) FROM nonces", &st, err) == -1)
		return -1;
	q = sdb_step(st);
	if (q == SDB_ROW)
		*n = sdb_column_int64(st, 0);
	sdb_finalize(st);
	return q == SDB_ROW ? 0 : store_sql_error(s, err, "nonce count");
}

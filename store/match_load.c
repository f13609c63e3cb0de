/* store/match_load.c — fills the match index (match.c) from the store:
 * a full load when the active model changes, else only the members the
 * `changes` table names since the last refresh.  Runs on either backend
 * through the store's SQL seam (db.h); the index itself knows no SQL. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/match.h"
#include "store/match_int.h"
#include "store/store_int.h"

/* Reads the templates of model MODRID (all members, or only those changed
 * after SINCE when SINCE >= 0) into D. */
static int
load(struct store *s, int64_t modrid, const char *model, int64_t since,
    struct mdata *d, struct dt_error *err)
{
	struct sdb_stmt *st;
	char ad[192];
	uint8_t *plain;
	size_t len;
	int q, rc = 0, dim;

	if (store_prepare(s, since < 0 ?
	    "SELECT t.member, m.id, t.id, t.dim, t.sealed FROM templates t "
	    "JOIN members m ON m.rid = t.member WHERE t.model = ?1 "
	    "ORDER BY t.member, t.id" :
	    "SELECT t.member, m.id, t.id, t.dim, t.sealed FROM templates t "
	    "JOIN members m ON m.rid = t.member WHERE t.model = ?1 AND "
	    "t.member IN (SELECT member FROM changes WHERE seq > ?2) "
	    "ORDER BY t.member, t.id", &st, err) == -1)
		return -1;
	sdb_bind_int64(st, 1, modrid);
	if (since >= 0)
		sdb_bind_int64(st, 2, since);
	dim = match_md_dim(d);
	while ((q = sdb_step(st)) == SDB_ROW) {
		const char *member = (const char *)sdb_column_text(st, 1);
		store_template_ad(ad, sizeof(ad), member, model,
		    sdb_column_int64(st, 2));
		if (sdb_column_int(st, 3) != dim) {
			rc = dt_error_set(err, DT_E_FORMAT, "%s: dim %d, model "
			    "has %d", ad, sdb_column_int(st, 3), dim);
			break;
		}
		if (store_unseal(store_key(s), ad, sdb_column_blob(st, 4),
		    (size_t)sdb_column_bytes(st, 4), &plain, &len, err)) {
			rc = -1;
			break;
		}
		if (len != (size_t)dim * sizeof(float))
			rc = dt_error_set(err, DT_E_FORMAT, "%s: bad length", ad);
		else if (match_md_add(d, member, sdb_column_int64(st, 0),
		    (const float *)(void *)plain) == -1)
			rc = dt_error_set(err, DT_E_NOMEM, "%s: out of memory", ad);
		sodium_memzero(plain, len);
		free(plain);
		if (rc != 0)
			break;
	}
	if (rc == 0 && q != SDB_DONE)
		rc = store_sql_error(s, err, "match: loading templates");
	sdb_finalize(st);
	return rc;
}

static int
query_i64(struct store *s, const char *sql, int64_t *v, struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	if ((q = sdb_step(st)) == SDB_ROW)
		*v = sdb_column_int64(st, 0);
	sdb_finalize(st);
	return q == SDB_ROW ? 0 : store_sql_error(s, err, sql);
}

/* Remembers that connection S found the index up to date at DV. */
static void
seen(struct match_sync *y, struct store *s, int64_t dv)
{
	size_t i;

	for (i = 0; i < MATCH_SEEN; i++)
		if (y->seen[i].conn == s->db->serial)
			break;
	if (i == MATCH_SEEN)
		i = y->next_seen++ % MATCH_SEEN;
	y->seen[i] = (struct match_seen){ s->db->serial, dv, s->write_gen };
}

int
match_index_refresh(struct match_index *ix, struct store *s, int *changed,
    struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	struct match_sync *y = match_index_sync(ix);
	struct mdata *nd = NULL, *old = NULL;
	int64_t dv, seq = 0, modrid = 0, *rids = NULL;
	size_t nrids = 0, caprids = 0, i;
	char model[STORE_ID_MAX + 1] = "";
	int dim = 0, q, rc = -1, own_tx, did = 0;

	if (store_key(s) == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "match index: the store was "
		    "opened without its key");
	pthread_mutex_lock(&y->refresh);
	if (store_data_version(s, &dv, err) == -1)
		goto out;
	/*
	 * Up to date if this connection saw no change since it last found
	 * the index up to date (each connection is remembered: the daemon
	 * refreshes through several).  SQLite's data_version ignores the
	 * connection's own commits (write_gen counts them); PostgreSQL
	 * notifies a connection of its own changes too, so its audit and
	 * nonce writes, which change nothing the index holds, cost no
	 * refresh.
	 */
	for (i = 0; i < MATCH_SEEN; i++)
		if (y->seen[i].conn == s->db->serial)
			break;
	if (y->loaded && i < MATCH_SEEN && y->seen[i].dv == dv &&
	    (y->seen[i].gen == s->write_gen || sdb_kind(s->db) == SDB_PG)) {
		rc = 0;
		goto out;
	}
	/*
	 * Something was committed: on SQLite that is every other
	 * connection's nonce and audit write, most of which change nothing
	 * the index holds.  One statement tells: the newest change and the
	 * active model, as loaded, mean up to date (the model row's MAC was
	 * checked when it was loaded).
	 */
	if (y->loaded) {
		if (store_prepare(s, "SELECT (SELECT coalesce(max(seq), 0) "
		    "FROM changes), coalesce((SELECT rid FROM models WHERE "
		    "active = 1), 0)", &st, err) == -1)
			goto out;
		if ((q = sdb_step(st)) == SDB_ROW) {
			seq = sdb_column_int64(st, 0);
			modrid = sdb_column_int64(st, 1);
		}
		sdb_finalize(st);
		st = NULL;
		if (q != SDB_ROW) {
			store_sql_error(s, err, "match: changes");
			goto out;
		}
		if (seq == y->seq && modrid == y->model_rid) {
			seen(y, s, dv);
			rc = 0;
			goto out;
		}
		seq = modrid = 0;
	}
	own_tx = s->depth == 0;
	if (own_tx && store_read_begin(s, err) == -1)
		goto out;
	if (store_prepare(s, "SELECT rid, id, embedding_dim, digest, mac FROM "
	    "models WHERE active = 1", &st, err) == -1)
		goto tx;
	if ((q = sdb_step(st)) == SDB_ROW) {
		modrid = sdb_column_int64(st, 0);
		snprintf(model, sizeof(model), "%s", sdb_column_text(st, 1));
		dim = sdb_column_int(st, 2);
		/* a model made active by writing the file is refused */
		if (store_rowmac_model_ok(s, modrid, model, dim, 1,
		    sdb_column_blob(st, 3), sdb_column_bytes(st, 3),
		    sdb_column_blob(st, 4), sdb_column_bytes(st, 4))
		    == 0) {
			dt_error_set(err, DT_E_CRYPTO, "model %s: its row as the "
			    "active model does not authenticate under the store "
			    "key (changed outside dt4ecg?): refused", model);
			sdb_finalize(st);
			st = NULL;
			goto tx;
		}
	}
	sdb_finalize(st);
	st = NULL;
	if (q != SDB_ROW && q != SDB_DONE) {
		store_sql_error(s, err, "match: active model");
		goto tx;
	}
	if (dim > MATCH_DIM_MAX) {
		dt_error_set(err, DT_E_UNSUPPORTED, "model %s: embedding_dim %d "
		    "above %d", model, dim, MATCH_DIM_MAX);
		goto tx;
	}
	if (query_i64(s, "SELECT coalesce(max(seq), 0) FROM changes", &seq,
	    err) == -1)
		goto tx;
	if (!y->loaded || modrid != y->model_rid) {
		/* full reload: a new generation, swapped in below */
		if (modrid != 0) {
			if ((nd = match_md_new(dim)) == NULL) {
				dt_error_set(err, DT_E_NOMEM, "match: out of memory");
				goto tx;
			}
			if (load(s, modrid, model, -1, nd, err) == -1)
				goto tx;
		}
		old = nd;
		nd = NULL;
		match_index_replace(ix, &old, model, modrid);
		y->model_rid = modrid;
		did = 1;
	} else if (seq != y->seq && modrid != 0) {
		if (store_prepare(s, "SELECT member FROM changes WHERE seq > ?",
		    &st, err) == -1)
			goto tx;
		sdb_bind_int64(st, 1, y->seq);
		while ((q = sdb_step(st)) == SDB_ROW) {
			if (nrids == caprids) {
				size_t cap = caprids ? caprids * 2 : 64;
				void *v = realloc(rids, cap * sizeof(*rids));
				if (v == NULL) {
					dt_error_set(err, DT_E_NOMEM, "match: "
					    "out of memory");
					goto tx;
				}
				rids = v;
				caprids = cap;
			}
			rids[nrids++] = sdb_column_int64(st, 0);
		}
		if (q != SDB_DONE) {
			store_sql_error(s, err, "match: changes");
			goto tx;
		}
		if ((nd = match_md_new(dim)) == NULL) {
			dt_error_set(err, DT_E_NOMEM, "match: out of memory");
			goto tx;
		}
		if (load(s, modrid, model, y->seq, nd, err) == -1)
			goto tx;
		if (match_index_merge(ix, rids, nrids, nd, err) == -1)
			goto tx;
		did = 1;
	}
	y->seq = seq;
	y->loaded = 1;
	if (did)	/* the others look again when they next refresh */
		memset(y->seen, 0, sizeof(y->seen));
	seen(y, s, dv);
	rc = 0;
tx:
	sdb_finalize(st);
	if (own_tx)
		sdb_exec(s->db, "COMMIT");
out:
	pthread_mutex_unlock(&y->refresh);
	match_md_free(nd);
	match_md_free(old);
	free(rids);
	if (rc == 0 && changed)
		*changed = did;
	return rc;
}


/* store/model.c — models and their activation (templates recomputed in
 * one transaction).  See store.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/text.h"

/* ---- models ------------------------------------------------------------- */

int
store_model_add(struct store *s, const char *id, const void *bytes,
    size_t n_bytes, int embedding_dim, const char *metrics_json,
    struct dt_error *err)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	struct sdb_stmt *st = NULL;
	char detail[128];
	int rc = -1;

	if (store_check_id("model", id, err) == -1)
		return -1;
	if (embedding_dim <= 0 || n_bytes == 0 || n_bytes > INT32_MAX)
		return dt_error_set(err, DT_E_INVALID, "model %s: empty, too large "
		    "or bad embedding_dim %d", id, embedding_dim);
	if (store_tx_begin(s, err) == -1)
		return -1;
	crypto_hash_sha256(h, bytes, n_bytes);
	if (store_prepare(s, "INSERT INTO models(id, bytes, embedding_dim, "
	    "metrics, created, sha256) VALUES (?, ?, ?, ?, ?, ?)", &st,
	    err) == -1)
		goto out;
	sdb_bind_blob(st, 6, h, sizeof(h));
	sdb_bind_text(st, 1, id);
	sdb_bind_blob(st, 2, bytes, (int)n_bytes);
	sdb_bind_int(st, 3, embedding_dim);
	sdb_bind_text(st, 4, metrics_json);
	sdb_bind_int64(st, 5, store_now());
	if (store_step_insert(s, st, "model", id, err) ||
	    store_rowmac_models_update(s, err))
		goto out;
	snprintf(detail, sizeof(detail), "{\"bytes\":%zu,\"embedding_dim\":%d}",
	    n_bytes, embedding_dim);
	rc = store_audit_append_tx(s, s->actor, "model.add", id, detail, err);
out:
	sdb_finalize(st);
	return store_op_end(s, rc, err);
}

void
store_model_free(struct store_model *m)
{
	if (m == NULL)
		return;
	free(m->metrics_json);
	free(m->bytes);
	free(m);
}

#define MODEL_COLS "SELECT o.id, o.embedding_dim, o.active, o.created, " \
	"(SELECT count(*) FROM templates WHERE model = o.rid), o.metrics, " \
	"o.rid, o.digest, o.mac, o.sha256, o.signer "

static int
model_row(struct store *s, struct sdb_stmt *st, struct store_model *m,
    int with_bytes)
{
	const char *t;

	memset(m, 0, sizeof(*m));
	store_copy_text(m->id, sizeof(m->id), sdb_column_text(st, 0));
	m->embedding_dim = sdb_column_int(st, 1);
	m->active = sdb_column_int(st, 2);
	m->created = sdb_column_int64(st, 3);
	m->n_templates = sdb_column_int64(st, 4);
	m->row_ok = store_rowmac_model_ok(s, sdb_column_int64(st, 6),
	    m->id, m->embedding_dim, m->active, sdb_column_blob(st, 7),
	    sdb_column_bytes(st, 7), sdb_column_blob(st, 8),
	    sdb_column_bytes(st, 8));
	if ((t = sdb_column_text(st, 5)) != NULL &&
	    (m->metrics_json = strdup(t)) == NULL)
		return -1;
	if (sdb_column_bytes(st, 9) == (int)sizeof(m->sha256)) {
		memcpy(m->sha256, sdb_column_blob(st, 9),
		    sizeof(m->sha256));
		m->has_sha256 = 1;
	}
	store_copy_text(m->signer, sizeof(m->signer), sdb_column_text(st, 10));
	if (with_bytes) {
		m->n_bytes = (size_t)sdb_column_bytes(st, 11);
		if ((m->bytes = malloc(m->n_bytes ? m->n_bytes : 1)) == NULL)
			return -1;
		if (m->n_bytes)
			memcpy(m->bytes, sdb_column_blob(st, 11), m->n_bytes);
		if (m->row_ok == 1 && !store_rowmac_model_bytes_ok(
		    sdb_column_blob(st, 7), sdb_column_bytes(st, 7),
		    m->bytes, m->n_bytes))
			m->row_ok = 0;
	}
	return 0;
}

int
store_model_get(struct store *s, const char *id, struct store_model **out,
    struct dt_error *err)
{
	struct store_model *m;
	struct sdb_stmt *st;
	int rc = -1;

	if (id != NULL && store_check_id("model", id, err) == -1)
		return -1;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "model: out of memory");
	if (store_get_row(s, id ? MODEL_COLS ", o.bytes FROM models o WHERE o.id = ?"
	    : MODEL_COLS ", o.bytes FROM models o WHERE o.active = 1", "model",
	    id, &st, err) == -1) {
		store_model_free(m);
		return -1;
	}
	if (model_row(s, st, m, 1) == -1)
		dt_error_set(err, DT_E_NOMEM, "model: out of memory");
	else if (m->row_ok == 0)
		dt_error_set(err, DT_E_CRYPTO, "model %s: the row or its bytes do "
		    "not authenticate under the store key (changed outside "
		    "dt4ecg?): refused", m->id);
	else if (m->has_sha256) {
		unsigned char h[crypto_hash_sha256_BYTES];

		crypto_hash_sha256(h, m->bytes, m->n_bytes);
		if (sodium_memcmp(h, m->sha256, sizeof(h)) != 0)
			dt_error_set(err, DT_E_CRYPTO, "model %s: its bytes "
			    "in %s do not match the SHA-256 recorded at import: "
			    "the stored model was altered", m->id, s->path);
		else
			rc = 0;
	} else
		rc = 0;
	sdb_finalize(st);
	if (rc == -1) {
		store_model_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

int
store_model_set_signer(struct store *s, const char *id, const char *signer,
    struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	int rc = -1;

	if (store_check_id("model", id, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if (store_prepare(s, "UPDATE models SET signer = ? WHERE id = ?", &st,
	    err) == -1)
		goto out;
	sdb_bind_text(st, 1, signer);
	sdb_bind_text(st, 2, id);
	if (sdb_step(st) != SDB_DONE) {
		store_sql_error(s, err, "model signer");
		goto out;
	}
	if (sdb_changes(s->db) == 0) {
		dt_error_set(err, DT_E_NOTFOUND, "model %s: not found", id);
		goto out;
	}
	rc = store_audit_append_tx(s, s->actor, "model.signed", id, NULL,
	    err);
out:
	sdb_finalize(st);
	return store_op_end(s, rc, err);
}

int
store_model_list(struct store *s, store_model_fn fn, void *ctx,
    struct dt_error *err)
{
	struct store_model m;
	struct sdb_stmt *st;
	int rc = 0, q;

	if (store_prepare(s, MODEL_COLS "FROM models o ORDER BY o.created, o.id",
	    &st, err) == -1)
		return -1;
	while ((q = sdb_step(st)) == SDB_ROW) {
		if (model_row(s, st, &m, 0) == -1) {
			rc = dt_error_set(err, DT_E_NOMEM, "model: out of memory");
			break;
		}
		rc = fn(ctx, &m);
		free(m.metrics_json);
		if (rc != 0)
			break;
	}
	return store_rows_end(s, st, rc, q, "model list", err);
}

static int
model_simple(struct store *s, const char *id, const char *sql,
    const char *metrics, const char *action, struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	int rc = -1, active = 0;
	int64_t rid;

	if (store_check_id("model", id, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((rid = store_model_rid(s, id, NULL, &active, err)) <= 0) {
		if (rid == 0)
			dt_error_set(err, DT_E_NOTFOUND, "model %s not found", id);
		goto out;
	}
	if (metrics == NULL && active) {
		dt_error_set(err, DT_E_INVALID, "model %s is the active model: "
		    "activate another one before deleting it", id);
		goto out;
	}
	if (store_prepare_rid(s, sql, rid, &st, err) == -1)
		goto out;
	if (metrics)
		sdb_bind_text(st, 2, metrics);
	if (store_step_done(s, st, action, err) == -1)
		goto out;
	rc = store_audit_append_tx(s, s->actor, action, id, NULL, err);
out:
	sdb_finalize(st);
	return store_op_end(s, rc, err);
}

int
store_model_set_metrics(struct store *s, const char *id,
    const char *metrics_json, struct dt_error *err)
{
	return model_simple(s, id, "UPDATE models SET metrics = ?2 WHERE rid = ?1",
	    metrics_json ? metrics_json : "", "model.metrics", err);
}

int
store_model_delete(struct store *s, const char *id, struct dt_error *err)
{
	return model_simple(s, id, "DELETE FROM models WHERE rid = ?1", NULL,
	    "model.delete", err);
}

/* ---- activation --------------------------------------------------------- */

struct pending {
	int64_t member_rid;
	int64_t recording;
	char member[STORE_ID_MAX + 1];
	float *emb;
};

struct pendings {
	struct pending *v;
	size_t n, cap;
	int dim;
};

static void
pendings_drop(struct pendings *p, size_t i)
{
	if (p->v[i].emb != NULL) {
		sodium_memzero(p->v[i].emb, (size_t)p->dim * sizeof(float));
		free(p->v[i].emb);
		p->v[i].emb = NULL;
	}
}

static void
pendings_free(struct pendings *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		pendings_drop(p, i);
	free(p->v);
}

/* Recomputes the embedding of every recording selected by ST (REC_COLS),
 * appending to P. */
static int
recompute(struct store *s, struct sdb_stmt *st, const char *model,
    store_recompute_fn fn, void *ctx, struct pendings *p, struct dt_error *err)
{
	struct store_recording r;
	struct pending *e;
	int q, rc = 0;

	while (rc == 0 && (q = sdb_step(st)) == SDB_ROW) {
		if (p->n == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 64;
			void *v = realloc(p->v, cap * sizeof(*p->v));
			if (v == NULL)
				return dt_error_set(err, DT_E_NOMEM,
				    "activate: out of memory");
			p->v = v;
			p->cap = cap;
		}
		if (store_recording_row(s, st, &r, err) == -1)
			return -1;
		e = &p->v[p->n];
		memset(e, 0, sizeof(*e));
		e->member_rid = sdb_column_int64(st, 6);
		e->recording = r.id;
		memcpy(e->member, r.member, sizeof(e->member));
		if ((e->emb = calloc((size_t)p->dim, sizeof(float))) == NULL)
			rc = dt_error_set(err, DT_E_NOMEM, "activate: out of memory");
		else {
			p->n++;
			if (fn(ctx, r.member, r.samples, r.n_samples, r.fs_hz,
			    e->emb, p->dim, err) != 0) {
				dt_error_prefix(err, "model %s: recomputing the "
				    "template of member %s (recording %lld)",
				    model, r.member, (long long)r.id);
				rc = -1;
			} else
				rc = store_check_embedding(r.member, model, e->emb,
				    p->dim, p->dim, err);
		}
		sodium_memzero(r.samples, r.n_samples * sizeof(float));
		free(r.samples);
	}
	if (rc == 0 && q != SDB_DONE)
		rc = store_sql_error(s, err, "activate: reading recordings");
	return rc;
}

static int
max_seq(struct store *s, int64_t *seq, struct dt_error *err)
{
	return store_count_where(s, "SELECT coalesce(max(seq), 0) + 0 * ? FROM changes",
	    0, seq, err);
}

int
store_model_activate(struct store *s, const char *model,
    store_recompute_fn fn, void *ctx, struct dt_error *err)
{
	struct pendings p = { 0 };
	struct sdb_stmt *st = NULL;
	char detail[192], prev[STORE_ID_MAX + 1] = "";
	int64_t modrid, snap = 0, cur, mrid;
	size_t i, j, ntpl = 0;
	int rc = -1, q;

	if (store_check_id("model", model, err) == -1)
		return -1;
	if (s->depth != 0)
		return dt_error_set(err, DT_E_INVALID, "activate model %s: not "
		    "inside a transaction", model);
	if (s->key == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "activate model %s: the "
		    "store was opened without its key", model);
	/* phase 1: compute from a read snapshot, without the write lock */
	if (store_exec(s, "BEGIN", err) == -1)
		return -1;
	if ((modrid = store_model_rid(s, model, &p.dim, NULL, err)) <= 0) {
		if (modrid == 0)
			dt_error_set(err, DT_E_NOTFOUND, "model %s not found", model);
		store_exec(s, "ROLLBACK", NULL);
		return -1;
	}
	if (max_seq(s, &snap, err) == -1 ||
	    store_prepare(s, REC_COLS "ORDER BY r.member, r.id", &st, err) == -1 ||
	    recompute(s, st, model, fn, ctx, &p, err) == -1) {
		sdb_finalize(st);
		store_exec(s, "ROLLBACK", NULL);
		goto out;
	}
	sdb_finalize(st);
	st = NULL;
	store_exec(s, "COMMIT", NULL);

	/* phase 2: under the write lock, catch up and switch */
	if (store_tx_begin(s, err) == -1)
		goto out;
	if (store_model_rid(s, model, NULL, NULL, err) != modrid) {
		dt_error_set(err, DT_E_NOTFOUND, "model %s was deleted meanwhile",
		    model);
		goto tx;
	}
	if (max_seq(s, &cur, err) == -1)
		goto tx;
	if (cur != snap) {
		/* members whose recordings changed since the snapshot */
		if (store_prepare_rid(s, "SELECT member FROM changes WHERE seq > ?",
		    snap, &st, err) == -1)
			goto tx;
		while ((q = sdb_step(st)) == SDB_ROW) {
			mrid = sdb_column_int64(st, 0);
			for (i = 0; i < p.n; i++)
				if (p.v[i].member_rid == mrid)
					pendings_drop(&p, i);
		}
		sdb_finalize(st);
		if (store_prepare_rid(s, REC_COLS "WHERE r.member IN (SELECT member "
		    "FROM changes WHERE seq > ?) ORDER BY r.member, r.id", snap,
		    &st, err) == -1)
			goto tx;
		if (recompute(s, st, model, fn, ctx, &p, err) == -1)
			goto tx;
		sdb_finalize(st);
		st = NULL;
	}
	if (store_prepare(s, "SELECT id FROM models WHERE active = 1", &st, err))
		goto tx;
	if (sdb_step(st) == SDB_ROW)
		store_copy_text(prev, sizeof(prev), sdb_column_text(st, 0));
	sdb_finalize(st);
	st = NULL;
	if (store_exec_rid(s, "DELETE FROM templates WHERE model = ?", modrid,
	    "activate: dropping old templates", err) == -1)
		goto tx;
	for (j = 0; j < p.n; j++) {
		if (p.v[j].emb == NULL)
			continue;
		if (store_template_insert(s, p.v[j].member_rid, p.v[j].member, modrid,
		    model, p.v[j].emb, p.dim, p.v[j].recording, store_now(),
		    NULL, err) == -1)
			goto tx;
		ntpl++;
	}
	if (store_exec(s, "UPDATE models SET active = 0 WHERE active = 1", err) == -1)
		goto tx;
	if (store_exec_rid(s, "UPDATE models SET active = 1 WHERE rid = ?", modrid,
	    "activate", err) == -1 || store_rowmac_models_update(s, err) == -1)
		goto tx;
	snprintf(detail, sizeof(detail), "{\"templates\":%zu,\"previous\":\"%s\"}",
	    ntpl, prev);
	rc = store_audit_append_tx(s, s->actor, "model.activate", model, detail,
	    err);
tx:
	sdb_finalize(st);
	rc = store_op_end(s, rc, err);
out:
	pendings_free(&p);
	return rc;
}

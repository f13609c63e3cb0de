/* store/recording.c — sealed enrollment recordings and templates.
 * See store.h. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/text.h"

/* ---- recordings --------------------------------------------------------- */

static void
recording_ad(char *buf, size_t len, const char *member, int64_t id)
{
	snprintf(buf, len, "recording:%s:%lld", member, (long long)id);
}

void
store_template_ad(char *buf, size_t len, const char *member, const char *model,
    int64_t id)
{
	snprintf(buf, len, "template:%s:%s:%lld", member, model, (long long)id);
}

/* Seals PLAIN into row ID of TABLE (whose id is part of the AD). */
static int
seal_into(struct store *s, const char *table, int64_t id, const char *ad,
    const void *plain, size_t len, struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	uint8_t *blob = NULL;
	size_t bloblen;
	char sql[96];
	int rc = -1;

	if (store_seal(s->key, ad, plain, len, &blob, &bloblen, err) == -1)
		return -1;
	snprintf(sql, sizeof(sql), "UPDATE %s SET sealed = ? WHERE id = ?", table);
	if (store_prepare(s, sql, &st, err) == -1)
		goto out;
	sdb_bind_blob(st, 1, blob, (int)bloblen);
	sdb_bind_int64(st, 2, id);
	if (store_step_done(s, st, "seal", err) == -1)
		goto out;
	rc = 0;
out:
	sdb_finalize(st);
	free(blob);
	return rc;
}

int
store_recording_add(struct store *s, const char *member, const float *samples,
    size_t n, double fs_hz, int64_t *id_out, struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	char ad[128], detail[128];
	int64_t rid, id = 0;
	int rc = -1;

	if (s->key == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "recording of member %s: "
		    "the store was opened without its key", member);
	if (n == 0 || n > (size_t)(INT32_MAX / sizeof(float)) - 64 ||
	    !isfinite(fs_hz) || fs_hz <= 0)
		return dt_error_set(err, DT_E_INVALID, "recording of member %s: "
		    "bad length (%zu samples) or sample rate", member, n);
	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((rid = store_need_member(s, member, err)) == -1)
		goto out;
	if (store_prepare(s, "INSERT INTO recordings(member, fs_hz, n_samples, "
	    "created, sealed) VALUES (?, ?, ?, ?, ?) RETURNING id", &st,
	    err) == -1)
		goto out;
	sdb_bind_int64(st, 1, rid);
	sdb_bind_double(st, 2, fs_hz);
	sdb_bind_int64(st, 3, (int64_t)n);
	sdb_bind_int64(st, 4, store_now());
	sdb_bind_blob(st, 5, "", 0);	/* sealed below: the AD needs the id */
	if (store_step_returning(s, st, &id, "recording add", err) == -1)
		goto out;
	recording_ad(ad, sizeof(ad), member, id);
	if (seal_into(s, "recordings", id, ad, samples, n * sizeof(float), err))
		goto out;
	snprintf(detail, sizeof(detail), "{\"recording\":%lld,\"fs_hz\":%g,"
	    "\"n_samples\":%zu}", (long long)id, fs_hz, n);
	rc = store_audit_append_tx(s, s->actor, "recording.add", member, detail,
	    err);
out:
	sdb_finalize(st);
	if (store_op_end(s, rc, err) == -1)
		return -1;
	if (id_out)
		*id_out = id;
	return 0;
}

void
store_recording_free(struct store_recording *r)
{
	if (r == NULL)
		return;
	if (r->samples != NULL) {
		sodium_memzero(r->samples, r->n_samples * sizeof(float));
		free(r->samples);
	}
	free(r);
}

/* Opens the recording of the current row into R (samples owned by R). */
int
store_recording_row(struct store *s, struct sdb_stmt *st, struct store_recording *r,
    struct dt_error *err)
{
	char ad[128];
	uint8_t *plain;
	size_t len;

	memset(r, 0, sizeof(*r));
	r->id = sdb_column_int64(st, 0);
	store_copy_text(r->member, sizeof(r->member), sdb_column_text(st, 1));
	r->fs_hz = sdb_column_double(st, 2);
	r->n_samples = (size_t)sdb_column_int64(st, 3);
	r->created = sdb_column_int64(st, 5);
	recording_ad(ad, sizeof(ad), r->member, r->id);
	if (store_unseal(s->key, ad, sdb_column_blob(st, 4),
	    (size_t)sdb_column_bytes(st, 4), &plain, &len, err) == -1)
		return -1;
	if (len != r->n_samples * sizeof(float)) {
		sodium_memzero(plain, len);
		free(plain);
		return dt_error_set(err, DT_E_FORMAT, "%s: %zu bytes for %zu "
		    "samples", ad, len, r->n_samples);
	}
	r->samples = (float *)(void *)plain;
	return 0;
}

int
store_recording_get(struct store *s, int64_t id, struct store_recording **out,
    struct dt_error *err)
{
	struct store_recording *r;
	struct sdb_stmt *st;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "recording %lld: out of memory",
		    (long long)id);
	if (store_get_row_rid(s, REC_COLS "WHERE r.id = ?", "recording", id, &st,
	    err) == -1) {
		free(r);
		return -1;
	}
	rc = store_recording_row(s, st, r, err);
	sdb_finalize(st);
	if (rc == -1) {
		store_recording_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int
store_recording_foreach(struct store *s, const char *member,
    store_recording_fn fn, void *ctx, struct dt_error *err)
{
	struct store_recording r;
	struct sdb_stmt *st;
	int64_t rid;
	int rc = 0, q;

	if ((rid = store_need_member(s, member, err)) == -1)
		return -1;
	if (store_prepare_rid(s, REC_COLS "WHERE r.member = ? ORDER BY r.id", rid,
	    &st, err) == -1)
		return -1;
	while ((q = sdb_step(st)) == SDB_ROW) {
		if ((rc = store_recording_row(s, st, &r, err)) == -1)
			break;
		rc = fn(ctx, &r);
		sodium_memzero(r.samples, r.n_samples * sizeof(float));
		free(r.samples);
		if (rc != 0)
			break;
	}
	return store_rows_end(s, st, rc, q, "recording list", err);
}

/* ---- templates ---------------------------------------------------------- */

/* Inserts a sealed template row (no audit); the caller holds a transaction. */
int
store_template_insert(struct store *s, int64_t mrid, const char *member,
    int64_t modrid, const char *model, const float *emb, int dim,
    int64_t recording, int64_t created, int64_t *id_out,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	char ad[192];
	int64_t id;

	if (store_prepare(s, "INSERT INTO templates(member, model, recording, "
	    "dim, created, sealed) VALUES (?, ?, ?, ?, ?, ?) RETURNING id", &st,
	    err) == -1)
		return -1;
	sdb_bind_int64(st, 1, mrid);
	sdb_bind_int64(st, 2, modrid);
	if (recording > 0)
		sdb_bind_int64(st, 3, recording);
	sdb_bind_int(st, 4, dim);
	sdb_bind_int64(st, 5, created);
	sdb_bind_blob(st, 6, "", 0);	/* sealed below: the AD needs the id */
	if (store_step_returning(s, st, &id, "template add", err) == -1) {
		sdb_finalize(st);
		return -1;
	}
	sdb_finalize(st);
	store_template_ad(ad, sizeof(ad), member, model, id);
	if (seal_into(s, "templates", id, ad, emb, (size_t)dim * sizeof(float),
	    err) == -1)
		return -1;
	if (id_out)
		*id_out = id;
	return 0;
}

int
store_check_embedding(const char *member, const char *model, const float *emb,
    int dim, int want, struct dt_error *err)
{
	int i;

	if (dim != want)
		return dt_error_set(err, DT_E_INVALID, "template of member %s: "
		    "%d values, model %s has embedding_dim %d", member, dim,
		    model, want);
	for (i = 0; i < dim; i++)
		if (!isfinite(emb[i]))
			return dt_error_set(err, DT_E_INVALID, "template of member "
			    "%s for model %s: non-finite value", member, model);
	return 0;
}

/* The row ids of MEMBER and MODEL, and EMB checked against the model's
 * embedding size. */
static int
template_owner(struct store *s, const char *member, const char *model,
    const float *emb, int dim, int64_t *mrid, int64_t *modrid,
    struct dt_error *err)
{
	int want = 0;

	if ((*mrid = store_need_member(s, member, err)) == -1)
		return -1;
	if ((*modrid = store_model_rid(s, model, &want, NULL, err)) <= 0) {
		if (*modrid == 0)
			dt_error_set(err, DT_E_NOTFOUND, "model %s not found",
			    model);
		return -1;
	}
	return store_check_embedding(member, model, emb, dim, want, err);
}

int
store_template_add(struct store *s, const char *member, const char *model,
    const float *emb, int dim, int64_t recording_id, int64_t *id_out,
    struct dt_error *err)
{
	char detail[128];
	int64_t mrid, modrid, id = 0;
	int rc = -1;

	if (s->key == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "template of member %s: the "
		    "store was opened without its key", member);
	if (store_check_id("model", model, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if (template_owner(s, member, model, emb, dim, &mrid, &modrid,
	    err) == -1)
		goto out;
	if (store_template_insert(s, mrid, member, modrid, model, emb, dim,
	    recording_id, store_now(), &id, err) == -1)
		goto out;
	snprintf(detail, sizeof(detail), "{\"template\":%lld,\"model\":\"%s\"}",
	    (long long)id, model);
	rc = store_audit_append_tx(s, s->actor, "template.add", member, detail,
	    err);
out:
	if (store_op_end(s, rc, err) == -1)
		return -1;
	if (id_out)
		*id_out = id;
	return 0;
}

int
store_template_adapt(struct store *s, const char *member, const char *model,
    const float *emb, int dim, unsigned cap, int64_t min_interval_s,
    int64_t now, const char *why, bool *added, struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	char detail[512];
	int64_t mrid, modrid, n = 0, newest = 0, oldest = 0, locked = 0, id = 0;
	int rc = -1, q;

	*added = false;
	if (cap == 0)
		return 0;
	if (s->key == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "template of member %s: the "
		    "store was opened without its key", member);
	if (store_check_id("model", model, err) == -1 ||
	    store_tx_begin(s, err) == -1)
		return -1;
	if (template_owner(s, member, model, emb, dim, &mrid, &modrid,
	    err) == -1)
		goto out;
	if (store_prepare(s, "SELECT (SELECT locked_until FROM members WHERE "
	    "rid = ?1), count(*), coalesce(max(created), 0), "
	    "coalesce(min(id), 0) FROM templates WHERE member = ?1 AND "
	    "model = ?2 AND recording IS NULL", &st, err) == -1)
		goto out;
	sdb_bind_int64(st, 1, mrid);
	sdb_bind_int64(st, 2, modrid);
	if ((q = sdb_step(st)) == SDB_ROW) {
		locked = sdb_column_int64(st, 0);
		n = sdb_column_int64(st, 1);
		newest = sdb_column_int64(st, 2);
		oldest = sdb_column_int64(st, 3);
	}
	sdb_finalize(st);
	st = NULL;
	if (q != SDB_ROW) {
		store_sql_error(s, err, "adapted templates");
		goto out;
	}
	if (locked > now || (n > 0 && newest > now - min_interval_s)) {
		rc = 0;
		goto out;
	}
	if (n >= (int64_t)cap) {
		if (store_prepare(s, "DELETE FROM templates WHERE id = ?", &st,
		    err) == -1)
			goto out;
		sdb_bind_int64(st, 1, oldest);
		q = sdb_step(st);
		sdb_finalize(st);
		st = NULL;
		if (q != SDB_DONE) {
			store_sql_error(s, err, "adapted template");
			goto out;
		}
	}
	/* stamped with NOW, the clock the interval above is measured on:
	 * store_now() could be a second ahead of it (or a replica's clock
	 * apart), and the next adaptation would then wait a second more */
	if (store_template_insert(s, mrid, member, modrid, model, emb, dim, 0,
	    now, &id, err) == -1)
		goto out;
	if (n >= (int64_t)cap)
		snprintf(detail, sizeof(detail), "{\"template\":%lld,\"model\":"
		    "\"%s\",\"replaced\":%lld%s%s}", (long long)id, model,
		    (long long)oldest, why != NULL ? "," : "", why ? why : "");
	else
		snprintf(detail, sizeof(detail), "{\"template\":%lld,\"model\":"
		    "\"%s\"%s%s}", (long long)id, model, why != NULL ? "," : "",
		    why ? why : "");
	if (store_audit_append_tx(s, s->actor, "template.adapt", member, detail,
	    err) == -1)
		goto out;
	*added = true;
	rc = 0;
out:
	/* not store_op_end: a failure here must not fail the caller's
	 * transaction (a decision does not depend on its adaptation) */
	if (rc == 0)
		return store_tx_end(s, 1, err);
	store_tx_end(s, 0, NULL);
	*added = false;
	return -1;
}

int
store_template_get(struct store *s, int64_t id, float **emb, int *dim,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	char ad[192];
	uint8_t *plain;
	size_t len;
	int rc = -1, d;

	if (store_get_row_rid(s, "SELECT m.id, o.id, t.dim, t.sealed FROM templates t "
	    "JOIN members m ON m.rid = t.member JOIN models o ON o.rid = t.model "
	    "WHERE t.id = ?", "template", id, &st, err) == -1)
		return -1;
	store_template_ad(ad, sizeof(ad), (const char *)sdb_column_text(st, 0),
	    (const char *)sdb_column_text(st, 1), id);
	d = sdb_column_int(st, 2);
	if (store_unseal(s->key, ad, sdb_column_blob(st, 3),
	    (size_t)sdb_column_bytes(st, 3), &plain, &len, err) == 0) {
		if (len != (size_t)d * sizeof(float)) {
			sodium_memzero(plain, len);
			free(plain);
			dt_error_set(err, DT_E_FORMAT, "%s: bad length", ad);
		} else {
			*emb = (float *)(void *)plain;
			*dim = d;
			rc = 0;
		}
	}
	sdb_finalize(st);
	return rc;
}

int
store_template_delete_member(struct store *s, const char *member,
    const char *model, struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	char detail[128];
	int64_t mrid, modrid;
	int rc = -1;

	if (store_check_id("model", model, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((mrid = store_need_member(s, member, err)) == -1)
		goto out;
	if ((modrid = store_model_rid(s, model, NULL, NULL, err)) <= 0) {
		if (modrid == 0)
			dt_error_set(err, DT_E_NOTFOUND, "model %s not found", model);
		goto out;
	}
	if (store_prepare(s, "DELETE FROM templates WHERE member = ? AND "
	    "model = ?", &st, err) == -1)
		goto out;
	sdb_bind_int64(st, 1, mrid);
	sdb_bind_int64(st, 2, modrid);
	if (store_step_done(s, st, "template delete", err) == -1)
		goto out;
	snprintf(detail, sizeof(detail), "{\"model\":\"%s\",\"templates\":%lld}",
	    model, (long long)sdb_changes(s->db));
	rc = store_audit_append_tx(s, s->actor, "template.delete", member,
	    detail, err);
out:
	sdb_finalize(st);
	return store_op_end(s, rc, err);
}


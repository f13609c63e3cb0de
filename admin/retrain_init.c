/*
 * admin/retrain_init.c — the classifier of a fine-tuned model: kept rows
 * and imprinted new subjects (see retrain_init.h).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/datasrc.h"
#include "admin/retrain_init.h"
#include "data/protocol.h"

static double
row_norm(const float *v, int E)
{
	double s = 0;
	int e;

	for (e = 0; e < E; e++)
		s += (double)v[e] * v[e];
	return sqrt(s);
}

/* The row of INIT named NAME, or -1. */
static int
old_row(const json_t *subjects, const char *name)
{
	size_t j;
	json_t *v;

	json_array_foreach(subjects, j, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) ==
		    0)
			return (int)j;
	return -1;
}

/* The gated windows of TS whose subject has a row marked in IS_NEW. */
static size_t
new_windows(const struct data_set *ts, const int *rows, const bool *is_new,
    size_t *which)
{
	size_t w, n = 0;

	for (w = 0; w < ts->n; w++) {
		int row = rows[ts->w[w].subject];

		if (ts->w[w].id_ok && row >= 0 && is_new[row])
			which[n++] = w;
	}
	return n;
}

int
rt_classifier_carry(const struct nn_model *init, struct nn_model *m,
    char *const *names, int n_rows, const struct data_set *ts,
    const int *rows, int batch, struct rt_carry *out, struct dt_error *err)
{
	const char *meta = nn_model_meta(init, "subjects");
	const struct nn_tensor *src = nn_model_tensor(init, RT_CLASSIFIER);
	struct nn_tensor *dst = nn_model_tensor_mut(m, RT_CLASSIFIER);
	const int E = m->hp.embedding_dim;
	json_t *subjects = NULL;
	bool *is_new = NULL;
	size_t *which = NULL, n = 0, k;
	float *emb = NULL;
	double *sum = NULL, norm = 0;
	int i, j, rc = -1;

	memset(out, 0, sizeof(*out));
	if (meta == NULL || (subjects = json_loads(meta, 0, NULL)) == NULL ||
	    !json_is_array(subjects)) {
		json_decref(subjects);
		return 1;
	}
	if (src == NULL || dst == NULL || src->ndim != 2 || dst->ndim != 2 ||
	    src->shape[1] != E || dst->shape[1] != E || dst->shape[0] !=
	    n_rows || (size_t)src->shape[0] != json_array_size(subjects)) {
		dt_error_set(err, DT_E_INVALID, "--init: its classifier does "
		    "not match its %zu subjects and embedding of %d",
		    json_array_size(subjects), E);
		goto out;
	}
	if ((is_new = calloc((size_t)n_rows, sizeof(bool))) == NULL)
		goto nomem;
	for (i = 0; i < n_rows; i++) {
		if ((j = old_row(subjects, names[i])) < 0) {
			is_new[i] = true;
			continue;
		}
		memcpy(dst->data + (size_t)i * E, src->data + (size_t)j * E,
		    sizeof(float) * (size_t)E);
		norm += row_norm(dst->data + (size_t)i * E, E);
		out->kept++;
	}
	if (out->kept == n_rows) {
		rc = 0;
		goto out;
	}
	/* the new subjects' rows: their mean embedding under INIT */
	if ((which = malloc(sizeof(size_t) * (ts->n + 1))) == NULL ||
	    (sum = calloc((size_t)n_rows * E, sizeof(double))) == NULL)
		goto nomem;
	n = new_windows(ts, rows, is_new, which);
	if (n > 0 && (emb = malloc(sizeof(float) * n * (size_t)E)) == NULL)
		goto nomem;
	if (n > 0 && admin_run_windows(init, batch, ts, which, n, emb, NULL,
	    "retrain: imprinting the new subjects", err) != 0)
		goto out;
	for (k = 0; k < n; k++) {
		int row = rows[ts->w[which[k]].subject];

		for (j = 0; j < E; j++)
			sum[(size_t)row * E + j] += emb[k * E + j];
	}
	/* kept rows' mean length, else the random rows' */
	if (out->kept > 0)
		norm /= out->kept;
	else {
		for (i = 0; i < n_rows; i++)
			norm += row_norm(dst->data + (size_t)i * E, E);
		norm /= n_rows;
	}
	for (i = 0; i < n_rows; i++) {
		double len = 0;

		if (!is_new[i])
			continue;
		for (j = 0; j < E; j++)
			len += sum[(size_t)i * E + j] * sum[(size_t)i * E + j];
		if (!(len > 0)) {
			out->random++;
			continue;
		}
		len = sqrt(len);
		for (j = 0; j < E; j++)
			dst->data[(size_t)i * E + j] = (float)(norm *
			    sum[(size_t)i * E + j] / len);
		out->imprinted++;
	}
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	/* embeddings of members' recordings are biometric data */
	if (emb != NULL)
		explicit_bzero(emb, sizeof(float) * n * (size_t)E);
	if (sum != NULL)
		explicit_bzero(sum, sizeof(double) * (size_t)n_rows * E);
	free(emb);
	free(sum);
	free(which);
	free(is_new);
	json_decref(subjects);
	return rc;
}

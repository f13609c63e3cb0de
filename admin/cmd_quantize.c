/*
 * admin/cmd_quantize.c — `dt4ecg-admin quantize`: the activation scales of
 * the int8 inference path (nn/net.h, NN_PREC_INT8), calibrated on the
 * model's training data and written into its metadata (NN_INT8_META_KEY).
 * The weights are not touched: their per-channel scales follow from them
 * when an int8 network is built, and f32 inference of the file is as before.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "admin/datasrc.h"
#include "data/split.h"
#include "nn/net.h"
#include "pipeline/embed.h"

#define Q_BATCH 64

static const char usage[] =
	    "usage: dt4ecg-admin quantize --model IN --out OUT [--data NAME]...\n"
	    "           [--windows N]\n"
	    "  Calibrates the int8 inference path: runs the f32 network on N\n"
	    "  windows (default 8192) spread evenly over the model's training\n"
	    "  data (--data, default its train.data) and records, per stage, the\n"
	    "  largest value of the activations the int8 convolutions read.\n"
	    "  Writes the model with metadata " NN_INT8_META_KEY ";\n"
	    "  `infer --precision int8` and the daemon's precision = int8 use it.\n";

/* The model's train.data names (borrowed from *keep, freed by the caller). */
static void
train_data(const struct nn_model *m, char **names, int *nd, json_t **keep)
{
	const char *d = nn_model_meta(m, "train.data");
	json_t *a = d ? json_loads(d, 0, NULL) : NULL;
	size_t i;

	*keep = a;
	if (!json_is_array(a))
		return;
	for (i = 0; i < json_array_size(a) && *nd < 16; i++)
		if (json_is_string(json_array_get(a, i)))
			names[(*nd)++] = (char *)json_string_value(
			    json_array_get(a, i));
}

struct qopts {
	const char *model, *out;
	char *names[16];
	int nd;
	int windows;
};

/* --data (adm_opts' ADM_CALL): at most 16. */
static int
q_set(void *vo, int id, const char *arg)
{
	struct qopts *o = vo;

	(void)id;
	if (o->nd == 16) {
		fprintf(stderr, "dt4ecg-admin quantize: at most 16 --data\n");
		return ADMIN_EXIT_USAGE;
	}
	o->names[o->nd++] = (char *)arg;
	return -1;
}

#define Q struct qopts
static const struct adm_opt q_table[] = {
	ADM_OPT_STR("model", 'm', Q, model),
	ADM_OPT_STR("out", 'o', Q, out),
	ADM_OPT_CALL("data", 'd'),
	ADM_OPT_INT("windows", 'n', Q, windows, Q_BATCH, 10000000, NULL),
	ADM_OPT_END,
};
#undef Q
static const struct adm_options q_options = { "quantize", q_table, q_set };

int
cmd_quantize(struct admin_ctx *ctx, int argc, char **argv)
{
	struct qopts o = { .windows = 8192 };
	const char *model, *out;
	char **names = o.names;
	int nd, j, k, rc;
	long want;
	struct dt_error err = { 0 };
	struct nn_model *m = NULL;
	struct nn_net *net = NULL;
	struct data_corpus *c = NULL;
	struct data_ranges tr = { 0 };
	struct data_set *s = NULL;
	struct ecg_prep_params pp;
	json_t *keep = NULL;
	float *x = NULL, amax[2 * NN_MAX_STAGES] = { 0 };
	size_t i, used = 0, step;
	char val[2 * NN_MAX_STAGES * 16];

	(void)ctx;
	if ((rc = adm_opts(argc, argv, &q_options, usage, NULL, &o, 0,
	    0)) >= 0)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	if (o.model == NULL || o.out == NULL) {
		fputs(usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	model = o.model;
	out = o.out;
	nd = o.nd;
	want = o.windows;
	if (nn_model_load(model, &m, &err) != 0)
		goto fail;
	if (nd == 0)
		train_data(m, names, &nd, &keep);
	if (nd == 0) {
		dt_error_set(&err, DT_E_INVALID, "%s: no train.data in its "
		    "metadata: name the data with --data", model);
		goto fail;
	}
	if (admin_corpus(names, nd, m->activities, m->n_activities, &c,
	    &err) != 0 || data_split_open(c, &tr, &err) != 0 ||
	    embed_prep_params(m, &pp, &err) != 0)
		goto fail;
	pp.hop = m->hp.window / 2;
	if (data_set_build(c, tr.r, tr.n, &pp, &s, &err) != 0)
		goto fail;
	if (s->n < Q_BATCH) {
		dt_error_set(&err, DT_E_INVALID, "%zu training windows: too few "
		    "to calibrate on", s->n);
		goto fail;
	}
	if ((x = malloc(sizeof(float) * Q_BATCH * m->hp.window)) == NULL) {
		dt_error_set(&err, DT_E_NOMEM, "out of memory");
		goto fail;
	}
	if (nn_net_create_prec(m, Q_BATCH, NN_PREC_F32, &net, &err) != 0 ||
	    nn_net_calibrate(net, amax, &err) != 0)
		goto fail;
	/* whole batches only: a short one would pad with zero windows */
	if ((size_t)want > s->n)
		want = (long)s->n;
	want -= want % Q_BATCH;
	step = s->n / (size_t)want;
	for (i = 0; used < (size_t)want; ) {
		for (k = 0; k < Q_BATCH; k++, i += step)
			data_set_window(s, i, x + (size_t)k * m->hp.window);
		if (nn_net_run(net, x, Q_BATCH, NULL, NULL, &err) != 0)
			goto fail;
		used += Q_BATCH;
	}
	val[0] = '\0';
	for (j = 0; j < 2 * m->hp.n_stages; j++) {
		if (!(amax[j] > 0.0f)) {
			dt_error_set(&err, DT_E_INVALID, "stage %d: every "
			    "activation is zero on the calibration data", j / 2);
			goto fail;
		}
		snprintf(val + strlen(val), sizeof(val) - strlen(val), "%s%.6g",
		    j ? "," : "", (double)amax[j]);
	}
	if (nn_model_set_meta(m, NN_INT8_META_KEY, val, &err) != 0 ||
	    nn_model_save(m, out, &err) != 0)
		goto fail;
	printf("quantize: %zu training windows of %zu; activation maxima per "
	    "stage (input, conv1): %s\nquantize: wrote %s\n", used, s->n, val,
	    out);
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	fprintf(stderr, "dt4ecg-admin quantize: %s\n", err.msg);
out:
	if (x != NULL)
		explicit_bzero(x, sizeof(float) * Q_BATCH * m->hp.window);
	free(x);
	nn_net_free(net);
	data_set_free(s);
	data_ranges_free(&tr);
	data_corpus_free(c);
	json_decref(keep);
	nn_model_free(m);
	return rc;
}

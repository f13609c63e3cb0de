/*
 * admin/cmd_calibrate.c — `dt4ecg-admin calibrate`: temperature scaling of
 * a model's activity probabilities and its "unknown" threshold, fitted on
 * the validation data of its training (the tails retrain kept out of
 * training for early stopping), written into the model's metadata
 * (pipeline/activity.h).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "admin/datasrc.h"
#include "data/protocol.h"
#include "data/split.h"
#include "nn/net.h"
#include "pipeline/activity.h"
#include "pipeline/embed.h"

#define ECE_BINS 15

struct cal_opts {
	const char *model, *out, *protocol, *unlabelled_as, *aug;
	enum data_protocol pr;	/* protocol's: open or p1 */
	char *data[16];
	int nd;
	double val_frac, target_acc;
};

static const char usage[] =
	    "usage: dt4ecg-admin calibrate --model IN --out OUT [--data NAME]...\n"
	    "           [--protocol open|p1] [--unlabelled-as ACTIVITY]\n"
	    "           [--val-frac F] [--target-acc A] [--aug LIST]\n"
	    "  Fits the temperature of the activity probabilities (minimum\n"
	    "  negative log-likelihood) on the validation tails of the model's\n"
	    "  training data, and the threshold below which a recording's fused\n"
	    "  activity is \"unknown\": the lowest at which the validation\n"
	    "  recordings still answered are right at least A of the time (0.97).\n"
	    "  Defaults come from the model's metadata (train.data,\n"
	    "  train.hyperparameters: protocol, val_frac, unlabelled_as).\n"
	    "  The validation windows are taken twice: as they are, and with the\n"
	    "  training augmentations (--aug, default the model's\n"
	    "  train.hyperparameters.augmentation) that imitate other devices,\n"
	    "  since the training people's own clean tails make a model look\n"
	    "  surer than it is on anyone else.  Prints the expected\n"
	    "  calibration error before and after.\n";

static int
cal_set(void *vo, int id, const char *arg)
{
	struct cal_opts *o = vo;

	if (o->nd == 16) {
		fprintf(stderr, "dt4ecg-admin calibrate: at most 16 --data\n");
		return ADMIN_EXIT_USAGE;
	}
	o->data[o->nd++] = (char *)arg;
	return -1;
}

#define C struct cal_opts
static const struct adm_opt cal_table[] = {
	ADM_OPT_STR("model", 'm', C, model),
	ADM_OPT_STR("out", 'o', C, out),
	ADM_OPT_CALL("data", 'd'),
	ADM_OPT_STR("protocol", 'p', C, protocol),
	ADM_OPT_STR("unlabelled-as", 'u', C, unlabelled_as),
	ADM_OPT_DBL("val-frac", 'v', C, val_frac, 0.01, 0.5,
	    "expected a number in [0.01, 0.5]"),
	ADM_OPT_DBL("target-acc", 'a', C, target_acc, 0.5, 1.0,
	    "expected a number in [0.5, 1]"),
	ADM_OPT_STR("aug", 'g', C, aug),
	ADM_OPT_END,
};
#undef C
static const struct adm_options cal_options = { "calibrate", cal_table,
	cal_set };

/* Fills what the command line left open from the model's metadata; the
 * strings live in *keep (freed by the caller). */
static void
defaults(const struct nn_model *m, struct cal_opts *o, json_t **keep)
{
	const char *d = nn_model_meta(m, "train.data"),
	    *h = nn_model_meta(m, "train.hyperparameters");
	json_t *a = d ? json_loads(d, 0, NULL) : NULL,
	    *hp = h ? json_loads(h, 0, NULL) : NULL, *v;
	size_t i;

	*keep = json_array();
	if (o->nd == 0 && json_is_array(a))
		for (i = 0; i < json_array_size(a) && o->nd < 16; i++)
			if (json_is_string(json_array_get(a, i)))
				o->data[o->nd++] = (char *)json_string_value(
				    json_array_get(a, i));
	if (hp != NULL) {
		v = json_object_get(hp, "protocol");
		if (o->protocol == NULL && json_is_string(v))
			o->protocol = strncmp(json_string_value(v), "open",
			    4) == 0 ? "open" : strncmp(json_string_value(v),
			    "p1", 2) == 0 ? "p1" : NULL;
		v = json_object_get(hp, "unlabelled_as");
		if (o->unlabelled_as == NULL && json_is_string(v))
			o->unlabelled_as = json_string_value(v);
		v = json_object_get(hp, "augmentation");
		if (o->aug == NULL && json_is_string(v))
			o->aug = json_string_value(v);
		v = json_object_get(hp, "val_frac");
		if (o->val_frac < 0 && json_is_number(v))
			o->val_frac = json_number_value(v);
	}
	/* the strings point into a and hp: keep them alive */
	json_array_append_new(*keep, a ? a : json_null());
	json_array_append_new(*keep, hp ? hp : json_null());
}

/* Activity probabilities of every window of s, twice: plain (rows 0..n-1)
 * and augmented (rows n..2n-1). */
static int
run_twice(const struct nn_model *m, const struct data_set *s,
    const struct data_aug *aug, float *act, struct dt_error *err)
{
	struct nn_net *net = NULL;
	struct dt_rng rng;
	size_t *idx = NULL, done;
	float *x = NULL;
	int W = m->hp.window, A = m->n_activities, k, pass, rc = -1, b = 64;

	dt_rng_seed(&rng, 1 ^ DATA_SEED_SALT);
	if ((x = malloc(sizeof(float) * (size_t)b * W)) == NULL ||
	    (idx = malloc(sizeof(size_t) * (size_t)b)) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	if (nn_net_create(m, b, &net, err) != 0)
		goto out;
	for (pass = 0; pass < 2; pass++)
		for (done = 0; done < s->n; done += (size_t)k) {
			k = s->n - done < (size_t)b ? (int)(s->n - done) : b;
			for (int i = 0; i < k; i++)
				idx[i] = done + (size_t)i;
			data_set_batch(s, idx, k, pass ? aug : NULL, &rng, x);
			if (nn_net_run(net, x, k, NULL, act + ((size_t)pass *
			    s->n + done) * A, err) != 0)
				goto out;
		}
	rc = 0;
out:
	if (x != NULL)
		explicit_bzero(x, sizeof(float) * (size_t)b * W);
	free(x);
	free(idx);
	nn_net_free(net);
	return rc;
}

static int
set_meta_num(struct nn_model *m, const char *key, double v,
    struct dt_error *err)
{
	char b[64];

	snprintf(b, sizeof(b), "%.6g", v);
	return nn_model_set_meta(m, key, b, err);
}

int
cmd_calibrate(struct admin_ctx *ctx, int argc, char **argv)
{
	struct cal_opts o = { .val_frac = -1, .target_acc = 0.97 };
	struct dt_error err = { 0 };
	struct nn_model *m = NULL;
	struct data_corpus *c = NULL;
	struct data_ranges base = { 0 }, tr = { 0 }, va = { 0 }, lab = { 0 };
	struct data_set *s = NULL;
	struct ecg_prep_params pp;
	struct act_calib cal = { 1.0, 0.0 };
	struct data_aug aug;
	struct data_noise *nz = NULL;
	json_t *keep = NULL, *rep = NULL;
	float *act = NULL, *cact = NULL, *fused = NULL;
	int *y = NULL, *ny = NULL, *fy = NULL, A, i, j, rc;
	size_t w, n = 0;
	double ece0, ece1, nll0, nll1, t, best_t = -1, cov = 0, acc_ans = 0;
	char *js = NULL;

	(void)ctx;
	if ((rc = adm_opts(argc, argv, &cal_options, usage, NULL, &o, 0,
	    0)) >= 0)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	if (o.model == NULL || o.out == NULL) {
		fputs(usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (o.protocol != NULL && (data_protocol_parse(o.protocol, &o.pr) !=
	    0 || (o.pr != DATA_PROTO_OPEN && o.pr != DATA_PROTO_P1))) {
		fprintf(stderr, "dt4ecg-admin calibrate: --protocol %s: open or "
		    "p1\n", o.protocol);
		return ADMIN_EXIT_USAGE;
	}
	if (nn_model_load(o.model, &m, &err) != 0)
		goto fail;
	A = m->n_activities;
	defaults(m, &o, &keep);
	if (o.protocol == NULL)
		o.protocol = "open";
	(void)data_protocol_parse(o.protocol, &o.pr);	/* open or p1 */
	if (o.val_frac <= 0)
		o.val_frac = 0.1;
	data_aug_default(&aug);
	if (o.aug != NULL && admin_parse_aug(o.aug, &aug) != 0) {
		dt_error_set(&err, DT_E_INVALID, "--aug %s: none, all, or a list "
		    "of scale, wander, shift, noise, band, hum, stretch, motion",
		    o.aug);
		goto fail;
	}
	if (A < 2) {
		dt_error_set(&err, DT_E_INVALID, "%s: %d activity: nothing to "
		    "calibrate", o.model, A);
		goto fail;
	}
	if (o.nd == 0) {
		dt_error_set(&err, DT_E_INVALID, "%s: no train.data in its "
		    "metadata: name the data with --data", o.model);
		goto fail;
	}
	if (admin_corpus(o.data, o.nd, m->activities, A, &c, &err) != 0)
		goto fail;
	if (o.unlabelled_as != NULL && data_corpus_label_unlabelled(c,
	    o.unlabelled_as, &err) != 0)
		goto fail;
	if ((o.pr == DATA_PROTO_OPEN ? data_split_open(c, &base,
	    &err) : data_split_p1(c, 0.8, 0, NULL, &base, NULL, NULL,
	    &err)) != 0)
		goto fail;
	if (data_split_tail(&base, o.val_frac, &tr, &va) != 0)
		goto nomem;
	/* the tails with an activity label; group = the tail (one probe) */
	for (i = 0; i < va.n; i++)
		if (c->recs[va.r[i].rec].activity >= 0 && data_ranges_add(&lab,
		    va.r[i].rec, va.r[i].r0, va.r[i].r1, lab.n) != 0)
			goto nomem;
	if (embed_prep_params(m, &pp, &err) != 0)
		goto fail;
	pp.hop = m->hp.window / 2;
	if (data_set_build(c, lab.r, lab.n, &pp, &s, &err) != 0)
		goto fail;
	if (aug.noise) {
		if (admin_noise_load(&pp, &nz, &err) != 0)
			goto fail;
		aug.nz = nz;
	}
	n = s->n;
	if (n < 20) {
		dt_error_set(&err, DT_E_INVALID, "%zu validation windows with an "
		    "activity label: too few to calibrate on", n);
		goto fail;
	}
	if ((act = malloc(sizeof(float) * 2 * n * A)) == NULL ||
	    (cact = malloc(sizeof(float) * 2 * n * A)) == NULL ||
	    (y = malloc(sizeof(int) * 2 * n)) == NULL ||
	    (fused = calloc((size_t)2 * lab.n * A + 1, sizeof(float))) ==
	    NULL || (ny = calloc((size_t)2 * lab.n + 1, sizeof(int))) == NULL ||
	    (fy = malloc(sizeof(int) * ((size_t)2 * lab.n + 1))) == NULL)
		goto nomem;
	if (run_twice(m, s, &aug, act, &err) != 0)
		goto fail;
	for (w = 0; w < 2 * n; w++)
		y[w] = s->w[w % n].activity;
	n *= 2;			/* plain, then augmented */
	cal.temperature = act_fit_temperature(act, y, n, A);
	memcpy(cact, act, sizeof(float) * n * A);
	for (w = 0; w < n; w++)
		act_calib_apply(&cal, cact + w * A, A);
	ece0 = act_ece(act, y, n, A, ECE_BINS);
	ece1 = act_ece(cact, y, n, A, ECE_BINS);
	nll0 = act_nll(act, y, n, A, 1.0);
	nll1 = act_nll(act, y, n, A, cal.temperature);
	/* fused per tail, as the daemon fuses a request */
	for (w = 0; w < n; w++) {
		int g = s->w[w % s->n].group + (w >= s->n ? lab.n : 0);

		for (j = 0; j < A; j++)
			fused[(size_t)g * A + j] += cact[w * A + j];
		ny[g]++;
		fy[g] = y[w];
	}
	for (i = 0; i < 2 * lab.n; i++)
		for (j = 0; j < A && ny[i] > 0; j++)
			fused[(size_t)i * A + j] /= (float)ny[i];
	/* the lowest threshold at which the answered tails are right often
	 * enough */
	for (t = 0.30; t < 0.99 && best_t < 0; t += 0.01) {
		size_t na = 0, ok = 0, tot = 0;

		for (i = 0; i < 2 * lab.n; i++) {
			int top;

			if (ny[i] == 0)
				continue;
			tot++;
			top = act_top(fused + (size_t)i * A, A);
			if (fused[(size_t)i * A + top] < t)
				continue;
			na++;
			ok += top == fy[i];
		}
		if (na > 0 && (double)ok / (double)na >= o.target_acc) {
			best_t = t;
			cov = (double)na / (double)tot;
			acc_ans = (double)ok / (double)na;
		}
	}
	if (best_t < 0)
		best_t = 0.98;	/* nothing reaches the target: almost
				 * everything unknown, and said so below */
	cal.unknown_below = floor(best_t * 100 + 0.5) / 100;
	rep = json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
	    "s:s, s:f, s:s}", "validation_windows", (int)n, "validation_recordings",
	    lab.n, "temperature", cal.temperature, "ece_before", ece0,
	    "ece_after", ece1, "nll_before", nll0, "nll_after", nll1,
	    "unknown_below", cal.unknown_below, "answered_at_threshold", cov,
	    "accuracy_of_answered", acc_ans, "protocol", o.protocol,
	    "target_accuracy", o.target_acc, "augmentation", o.aug ? o.aug :
	    "none");
	if (rep == NULL || (js = json_dumps(rep, JSON_COMPACT |
	    JSON_REAL_PRECISION(6) | JSON_PRESERVE_ORDER)) == NULL)
		goto nomem;
	if (set_meta_num(m, "activity.temperature", cal.temperature,
	    &err) != 0 || set_meta_num(m, "activity.unknown_below",
	    cal.unknown_below, &err) != 0 || nn_model_set_meta(m,
	    "activity.calibration", js, &err) != 0 || nn_model_save(m, o.out,
	    &err) != 0)
		goto fail;
	printf("calibrate: %zu validation windows (plain and augmented) of %d "
	    "recordings: "
	    "temperature %.3f, ECE %.4f -> %.4f, NLL %.4f -> %.4f\n"
	    "calibrate: unknown below %.2f: %.1f %% of the validation "
	    "recordings answered, %.1f %% of them right\n"
	    "calibrate: wrote %s\n", n, lab.n, cal.temperature, ece0, ece1,
	    nll0, nll1, cal.unknown_below, 100 * cov, 100 * acc_ans, o.out);
	rc = ADMIN_EXIT_OK;
	goto out;
nomem:
	dt_error_set(&err, DT_E_NOMEM, "out of memory");
fail:
	fprintf(stderr, "dt4ecg-admin calibrate: %s\n", err.msg);
out:
	free(js);
	json_decref(rep);
	json_decref(keep);
	free(act);
	free(cact);
	free(y);
	free(fused);
	free(ny);
	free(fy);
	data_set_free(s);
	data_noise_free(nz);
	data_ranges_free(&base);
	data_ranges_free(&tr);
	data_ranges_free(&va);
	data_ranges_free(&lab);
	data_corpus_free(c);
	nn_model_free(m);
	return rc;
}

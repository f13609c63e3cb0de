/*
 * admin/cmd_retrain.c — `dt4ecg-admin retrain`: train DT4ECG (nn/train.h) on
 * data sets named by manifests, under a protocol of DESIGN.md section 8, and
 * write a safetensors model whose metadata records how (hyperparameters,
 * data, protocol, GradNorm weights, per-epoch curves, validation figures).
 *
 * Identity trains on windows that pass the identity gate; activity on every
 * finite, non-flat window (DESIGN.md 4.6); the per-activity fractions are
 * printed and recorded.  Validation (--val-frac of the tail of every training
 * range) drives early stopping; the best epoch's weights are written.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "admin/datasrc.h"
#include "admin/retrain_ckpt.h"
#include "admin/retrain_init.h"
#include "admin/storedata.h"
#include "data/protocol.h"
#include "data/split.h"
#include "nn/model.h"
#include "nn/net.h"
#include "nn/train.h"

struct rt_opts {
	char *data[16];
	int n_data;
	enum data_protocol pr;	/* p1 p2 p3 open all */
	const char *unlabelled_as;	/* activity for unlabelled recordings */
	bool balance;		/* each data set equally often per epoch */
	bool gn_features;	/* GradNorm measured at the pooled features */
	bool task_grad_norm;	/* fixed weights on normalised task gradients */
	int fold, folds, train_max;
	int epochs, batch, hop, threads, patience, warmup_epochs;
	int subcentres;		/* CosFace sub-centres per subject (1) */
	float ema;		/* weight averaging decay (0: off) */
	float lr, wd, alpha, gn_lr, margin, scale, val_frac;
	bool gradnorm, p3_with_unlabelled;
	float task_w[2];	/* fixed task weights without GradNorm (1, 1) */
	uint64_t seed;
	int seed_i;		/* --seed */
	struct data_aug aug;
	const char *aug_spec;
	enum ecg_id_gate gate;	/* ECG_GATE_SQI unless --gate hr-sat */
	const char *init, *out, *checkpoint, *resume;
	struct nn_hparams hp;
	float max_minutes;
};

static const char usage[] =
"usage: dt4ecg-admin retrain --out MODEL [options]\n"
"  data:      --data NAME|MANIFEST (repeatable; built-in ecg-id, ecg-activity;\n"
"             default ecg-id; also ecg-activity-textile,\n"
"             ptbxl-lead1)  --protocol p1|p2|p3|open|all [--fold K]\n"
"             [--folds N] (open: everything but the hold-outs of\n"
"             DESIGN.md 8: ECG-ID 61-90, PTB-XL records divisible by 5)\n"
"             [--unlabelled-as ACTIVITY] (e.g. rest: resting recordings\n"
"             of other devices teach that activity)\n"
"             [--balance] (each data set equally often per epoch)\n"
"             --data store: the enrolment recordings of --db STORE (one\n"
"             subject per member, decrypted in memory only)\n"
"             [--train-max N] (P2: subjects 1..N train, 60)\n"
"             [--p3-with-unlabelled] (P3: unlabelled data sets train too)\n"
"             --val-frac F (tail of each training range for validation, 0.1;\n"
"             0 = no validation, no early stop)\n"
"             --gate hr-sat|sqi (identity gate of the windows whose\n"
"             identity loss counts, ecg/prep.h; sqi; recorded in the\n"
"             model as prep.id_gate, which it is served with)\n"
"  training:  --epochs N (20) --batch N (64) --lr X (1e-3) --wd X (1e-4)\n"
"             --hop N (64) --warmup-epochs N (0) --patience N (5)\n"
"             --margin X (0.2) --scale X (30) --seed N (1)\n"
"             --subcentres K (1: CosFace with K centres per subject\n"
"             while training, the dominant one kept in the model)\n"
"             --ema D (0: off; e.g. 0.999: the model, and the\n"
"             validation that picks its epoch, hold a moving average\n"
"             of the weights over the steps)\n"
"             --no-gradnorm --alpha X (1.5) --gradnorm-lr X (0.025)\n"
"             --gradnorm-at weight|features (where ||grad L_i|| is\n"
"             measured: DESIGN.md 2's W, or the shared pooled features)\n"
"             --task-weights W_ID,W_ACT (fixed weights; implies\n"
"             --no-gradnorm; 1,1)\n"
"             --task-grad-norm (with fixed weights: each task's gradient\n"
"             at the shared features scaled to the two norms' mean)\n"
"             --threads N (1) --max-minutes X (stop after X minutes)\n"
"  augment:   --aug LIST (none, or any of scale,wander,shift,noise,\n"
"             band,hum,stretch,motion; none; all = every one but\n"
"             motion)  --motion-snr LO,HI (0,20: band-limited\n"
"             Gaussian electrode motion, 0.5-2 to 3-12 Hz)\n"
"             --snr LO[,HI] (12; dB, drawn per window between LO and\n"
"             HI; noise from $DT4ECG_DATA/nstdb bw and ma)\n"
"             --wander-amp X (0.3 sd) --wander-hz X (0.5: highest\n"
"             frequency of the wander)\n"
"  model:     --init MODEL|active (active: the store's; its trunk and\n"
"             heads are kept, and the classifier rows of the\n"
"             subjects it knows too; new subjects' rows start at their\n"
"             mean embedding under it),\n"
"             or --window N --stem-channels N\n"
"             --stage-channels A,B,C --kernel N --embedding-dim N\n"
"             --act-hidden N\n"
"  state:     --checkpoint FILE (written every epoch)  --resume FILE\n";

/* "A,B": two task weights in [0, 10], not both zero */
static int
parse_task_weights(const char *s, float w[2])
{
	char *e1, *e2;
	double a, b;

	errno = 0;
	a = strtod(s, &e1);
	if (errno || e1 == s || *e1 != ',')
		goto bad;
	b = strtod(e1 + 1, &e2);
	if (errno || e2 == e1 + 1 || *e2 || !(a >= 0 && a <= 10) ||
	    !(b >= 0 && b <= 10) || a + b <= 0)
		goto bad;
	w[0] = (float)a;
	w[1] = (float)b;
	return 0;
bad:
	fprintf(stderr, "dt4ecg-admin retrain: --task-weights %s: expected "
	    "W_ID,W_ACT, each 0..10, not both 0\n", s);
	return -1;
}

static int
win_manifest(const struct data_set *ts, size_t w)
{
	return ts->c->recs[ts->parts[ts->w[w].part].rec].manifest;
}


/*
 * One epoch's order (n entries, shuffled, into `ord`) of the n usable
 * windows `idx` in which each data set (manifest) has the same share: a
 * data set with fewer windows is repeated, a larger one subsampled.
 */
static void
balanced_epoch(const struct data_set *ts, const size_t *idx, size_t *ord,
    size_t n, int n_manifests, struct dt_rng *rng)
{
	size_t *cnt, *start, *pos, i, k, per, out = 0;
	size_t *tmp;
	int m;

	cnt = calloc((size_t)n_manifests + 1, sizeof(size_t));
	start = calloc((size_t)n_manifests + 1, sizeof(size_t));
	pos = calloc((size_t)n_manifests + 1, sizeof(size_t));
	tmp = malloc(sizeof(size_t) * (n + 1));
	if (cnt == NULL || start == NULL || pos == NULL || tmp == NULL) {
		/* no memory for the balance: an ordinary shuffle */
		memcpy(ord, idx, sizeof(size_t) * n);
		dt_rng_shuffle(ord, n, rng);
		goto out;
	}
	for (i = 0; i < n; i++)
		cnt[win_manifest(ts, idx[i])]++;
	for (m = 1; m <= n_manifests; m++)
		start[m] = start[m - 1] + cnt[m - 1];
	for (i = 0; i < n; i++) {
		m = win_manifest(ts, idx[i]);
		tmp[start[m] + pos[m]++] = idx[i];
	}
	for (m = 0, k = 0; m < n_manifests; m++)
		k += cnt[m] > 0;
	per = k > 0 ? n / k : n;
	for (m = 0; m < n_manifests && out < n; m++) {
		if (cnt[m] == 0)
			continue;
		dt_rng_shuffle(tmp + start[m], cnt[m], rng);
		for (k = 0; k < per && out < n; k++)
			ord[out++] = tmp[start[m] + k % cnt[m]];
	}
	while (out < n)		/* the remainder of n / k */
		ord[out++] = tmp[dt_rng_next(rng) % n];
	dt_rng_shuffle(ord, n, rng);
out:
	free(cnt);
	free(start);
	free(pos);
	free(tmp);
}

static void
fmt_time(double s, char *buf, size_t n)
{
	if (s >= 3600)
		snprintf(buf, n, "%dh%02dm", (int)(s / 3600),
		    (int)fmod(s / 60, 60));
	else
		snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

struct val_res {
	double id_acc, act_acc;	/* NAN when not measured */
	size_t n_id, n_act;
};

/* Validation: identity on gated windows (cosine to the classifier rows),
 * activity on every window. */
static int
validate(const struct nn_model *m, const struct data_set *vs,
    const int *rows, struct val_res *vr, struct dt_error *err)
{
	int E = m->hp.embedding_dim, A = m->n_activities, R = m->n_subjects;
	float *emb = NULL, *act = NULL, *cls = NULL;
	size_t w, ok_id = 0, ok_act = 0;
	int rc = -1;

	vr->id_acc = vr->act_acc = NAN;
	vr->n_id = vr->n_act = 0;
	if (vs == NULL || vs->n == 0)
		return 0;
	if ((emb = malloc(sizeof(float) * vs->n * E)) == NULL ||
	    (act = malloc(sizeof(float) * vs->n * A)) == NULL ||
	    (cls = admin_classifier(m)) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	if (admin_run_set(m, 64, vs, emb, act, NULL, err) != 0)
		goto out;
	for (w = 0; w < vs->n; w++) {
		const struct data_win *wi = &vs->w[w];
		int row = rows[wi->subject], r, b, j;
		double best = -1e30;

		if (wi->id_ok && row >= 0) {
			for (b = 0, r = 0; r < R; r++) {
				double s = 0;

				for (j = 0; j < E; j++)
					s += (double)emb[w * E + j] *
					    cls[(size_t)r * E + j];
				if (s > best) {
					best = s;
					b = r;
				}
			}
			vr->n_id++;
			ok_id += b == row;
		}
		if (wi->activity >= 0 && A > 1) {
			for (b = 0, j = 1; j < A; j++)
				if (act[w * A + j] > act[w * A + b])
					b = j;
			vr->n_act++;
			ok_act += b == wi->activity;
		}
	}
	if (vr->n_id)
		vr->id_acc = (double)ok_id / (double)vr->n_id;
	if (vr->n_act)
		vr->act_acc = (double)ok_act / (double)vr->n_act;
	rc = 0;
out:
	free(emb);
	free(act);
	free(cls);
	return rc;
}

static json_t *
jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static int
set_meta_json(struct nn_model *m, const char *key, json_t *v,
    struct dt_error *err)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(6) | JSON_PRESERVE_ORDER);
	int rc;

	if (s == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	rc = nn_model_set_meta(m, key, s, err);
	free(s);
	return rc;
}

static int
set_meta_f(struct nn_model *m, const char *key, double v,
    struct dt_error *err)
{
	char b[64];

	snprintf(b, sizeof(b), "%.9g", v);
	return nn_model_set_meta(m, key, b, err);
}


/* ---- options ------------------------------------------------------------ */

enum {
	O_PROTO = 256, O_FOLD, O_FOLDS, O_TMAX, O_P3U, O_VAL, O_EPOCHS,
	O_BATCH, O_LR, O_WD, O_HOP, O_WARM, O_PAT, O_MARGIN, O_SCALE, O_SEED,
	O_SUBC, O_NOGN, O_ALPHA, O_GNLR, O_THREADS, O_AUG, O_SNR, O_INIT,
	O_OUT, O_CK, O_RES, O_WIN, O_STEM, O_STAGES, O_EMB, O_HID, O_DATA,
	O_MAXMIN, O_KERNEL, O_GATE, O_TW, O_UNLAB, O_BAL, O_GNAT, O_TGN,
	O_WAMP, O_WHZ, O_MSNR, O_EMA
};

/* "A,B,C": the channels of each stage */
static int
parse_stages(const char *s, struct nn_hparams *hp)
{
	const char *p = s;
	char *e2;
	int k = 0;

	while (*p && k < NN_MAX_STAGES) {
		long v = strtol(p, &e2, 10);

		if (e2 == p || v < 1 || v > 4096)
			break;
		hp->stage_channels[k++] = (int)v;
		p = *e2 == ',' ? e2 + 1 : e2;
		if (*e2 != ',' && *e2 != '\0')
			break;
	}
	if (*p != '\0' || k == 0) {
		fprintf(stderr, "dt4ecg-admin retrain: --stage-channels %s: "
		    "e.g. 64,128,256\n", s);
		return -1;
	}
	hp->n_stages = k;
	return 0;
}

/* --OPT "LO" (a fixed SNR) or "LO,HI" (drawn uniformly per window), in
 * dB */
static int
parse_db_range(const char *opt, const char *s, float *out_lo, float *out_hi)
{
	char *e;
	double lo = strtod(s, &e), hi = lo;

	if (e != s && *e == ',') {
		const char *p = e + 1;

		hi = strtod(p, &e);
		if (e == p)
			e = (char *)s;
	}
	if (e == s || *e != '\0' || !(lo >= -20 && lo <= 60) ||
	    !(hi >= lo && hi <= 60)) {
		fprintf(stderr, "dt4ecg-admin retrain: --%s %s: LO or LO,HI "
		    "in dB, -20 <= LO <= HI <= 60\n", opt, s);
		return -1;
	}
	*out_lo = (float)lo;
	*out_hi = (float)hi;
	return 0;
}

/* The options with rules of their own (adm_opts' ADM_CALL). */
static int
rt_set(void *vo, int id, const char *arg)
{
	struct rt_opts *o = vo;

	switch (id) {
	case O_DATA:
		if (o->n_data == 16) {
			fprintf(stderr, "dt4ecg-admin retrain: at most 16 "
			    "--data\n");
			return ADMIN_EXIT_USAGE;
		}
		o->data[o->n_data++] = (char *)arg;
		return -1;
	case O_PROTO:
		if (data_protocol_parse(arg, &o->pr) != 0 || o->pr >
		    DATA_PROTO_ALL) {
			fprintf(stderr, "dt4ecg-admin retrain: --protocol %s: "
			    "p1, p2, p3, open or all\n", arg);
			return ADMIN_EXIT_USAGE;
		}
		return -1;
	case O_GNAT:
		if (strcmp(arg, "weight") != 0 &&
		    strcmp(arg, "features") != 0) {
			fprintf(stderr, "dt4ecg-admin retrain: --gradnorm-at "
			    "%s: weight or features\n", arg);
			return ADMIN_EXIT_USAGE;
		}
		o->gn_features = strcmp(arg, "features") == 0;
		return -1;
	case O_NOGN:
		o->gradnorm = false;
		return -1;
	case O_TW:
		o->gradnorm = false;
		return parse_task_weights(arg, o->task_w) != 0 ?
		    ADMIN_EXIT_USAGE : -1;
	case O_AUG:
		o->aug_spec = arg;
		if (admin_parse_aug(arg, &o->aug) != 0) {
			fprintf(stderr, "dt4ecg-admin retrain: --aug %s: none, "
			    "all, or a list of scale, wander, shift, noise, "
			    "band, hum, stretch, motion\n", arg);
			return ADMIN_EXIT_USAGE;
		}
		return -1;
	case O_SNR:
		return parse_db_range("snr", arg, &o->aug.snr_db,
		    &o->aug.snr_hi) != 0 ? ADMIN_EXIT_USAGE : -1;
	case O_MSNR:
		return parse_db_range("motion-snr", arg, &o->aug.motion_snr_lo,
		    &o->aug.motion_snr_hi) != 0 ? ADMIN_EXIT_USAGE : -1;
	case O_STAGES:
		return parse_stages(arg, &o->hp) != 0 ? ADMIN_EXIT_USAGE : -1;
	case O_GATE:
		if (ecg_prep_gate_parse(arg, &o->gate) != 0) {
			fprintf(stderr, "dt4ecg-admin retrain: --gate %s: "
			    "hr-sat or sqi\n", arg);
			return ADMIN_EXIT_USAGE;
		}
		return -1;
	}
	return -1;
}

#define R struct rt_opts
static const struct adm_opt rt_table[] = {
	ADM_OPT_CALL("data", O_DATA),
	ADM_OPT_CALL("protocol", O_PROTO),
	ADM_OPT_INT("fold", O_FOLD, R, fold, 0, 99, NULL),
	ADM_OPT_INT("folds", O_FOLDS, R, folds, 2, 100, NULL),
	ADM_OPT_INT("train-max", O_TMAX, R, train_max, 1, 1000000, NULL),
	ADM_OPT_BOOL("p3-with-unlabelled", O_P3U, R, p3_with_unlabelled),
	ADM_OPT_FLT("val-frac", O_VAL, R, val_frac, 0, 0.5, NULL),
	ADM_OPT_INT("epochs", O_EPOCHS, R, epochs, 1, 10000, NULL),
	ADM_OPT_INT("batch", O_BATCH, R, batch, 2, 4096, NULL),
	ADM_OPT_FLT("lr", O_LR, R, lr, 1e-7, 1, NULL),
	ADM_OPT_FLT("wd", O_WD, R, wd, 0, 1, NULL),
	ADM_OPT_INT("hop", O_HOP, R, hop, 1, 100000, NULL),
	ADM_OPT_INT("warmup-epochs", O_WARM, R, warmup_epochs, 0, 1000, NULL),
	ADM_OPT_INT("patience", O_PAT, R, patience, 0, 10000, NULL),
	ADM_OPT_FLT("margin", O_MARGIN, R, margin, 0, 1, NULL),
	ADM_OPT_FLT("scale", O_SCALE, R, scale, 1, 100, NULL),
	ADM_OPT_INT("subcentres", O_SUBC, R, subcentres, 1,
	    NN_MAX_SUBCENTRES, NULL),
	ADM_OPT_FLT("ema", O_EMA, R, ema, 0, 0.99999,
	    "expected a number in [0, 0.99999] (0: off)"),
	ADM_OPT_INT("seed", O_SEED, R, seed_i, 0, 2147483647, NULL),
	ADM_OPT_CALL0("no-gradnorm", O_NOGN),
	ADM_OPT_FLT("alpha", O_ALPHA, R, alpha, 0, 10, NULL),
	ADM_OPT_FLT("gradnorm-lr", O_GNLR, R, gn_lr, 0, 10, NULL),
	ADM_OPT_CALL("task-weights", O_TW),
	ADM_OPT_INT("threads", O_THREADS, R, threads, 1, 256, NULL),
	ADM_OPT_CALL("aug", O_AUG),
	ADM_OPT_CALL("snr", O_SNR),
	ADM_OPT_CALL("motion-snr", O_MSNR),
	ADM_OPT_FLT("wander-amp", O_WAMP, R, aug.wander_amp, 0, 10, NULL),
	ADM_OPT_FLT("wander-hz", O_WHZ, R, aug.wander_hz, 0.05, 10, NULL),
	ADM_OPT_STR("init", O_INIT, R, init),
	ADM_OPT_STR("out", O_OUT, R, out),
	ADM_OPT_STR("checkpoint", O_CK, R, checkpoint),
	ADM_OPT_STR("resume", O_RES, R, resume),
	ADM_OPT_INT("window", O_WIN, R, hp.window, 64, 8192, NULL),
	ADM_OPT_INT("stem-channels", O_STEM, R, hp.stem_channels, 1, 1024,
	    NULL),
	ADM_OPT_CALL("stage-channels", O_STAGES),
	ADM_OPT_INT("embedding-dim", O_EMB, R, hp.embedding_dim, 2, 4096,
	    NULL),
	ADM_OPT_INT("act-hidden", O_HID, R, hp.act_hidden, 1, 4096, NULL),
	ADM_OPT_FLT("max-minutes", O_MAXMIN, R, max_minutes, 0.01, 1e6, NULL),
	ADM_OPT_INT("kernel", O_KERNEL, R, hp.kernel, 1, 63, NULL),
	ADM_OPT_CALL("gate", O_GATE),
	ADM_OPT_STR("unlabelled-as", O_UNLAB, R, unlabelled_as),
	ADM_OPT_BOOL("balance", O_BAL, R, balance),
	ADM_OPT_BOOL("task-grad-norm", O_TGN, R, task_grad_norm),
	ADM_OPT_CALL("gradnorm-at", O_GNAT),
	ADM_OPT_END,
};
#undef R
static const struct adm_options rt_options_def = { "retrain", rt_table,
	rt_set };

/* The defaults, then the command line: -1 to go on, else the exit status. */
static int
rt_options(int argc, char **argv, struct rt_opts *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->pr = DATA_PROTO_P1;
	o->fold = 0;
	o->folds = 5;
	o->train_max = 60;
	o->epochs = 20;
	o->batch = 64;
	o->hop = 64;
	o->threads = 1;
	o->patience = 5;
	o->lr = 1e-3f;
	o->wd = 1e-4f;
	o->alpha = 1.5f;
	o->gn_lr = 0.025f;
	o->margin = 0.2f;
	o->scale = 30.0f;
	o->subcentres = 1;
	o->val_frac = 0.1f;
	o->gradnorm = true;
	o->task_w[0] = o->task_w[1] = 1.0f;
	o->aug_spec = "none";
	o->gate = ECG_GATE_SQI;
	o->seed_i = 1;
	data_aug_default(&o->aug);
	nn_hparams_default(&o->hp);
	if ((rc = adm_opts(argc, argv, &rt_options_def, usage, NULL, o, 0,
	    0)) >= 0)
		return rc;
	o->seed = (uint64_t)o->seed_i;
	if (o->fold >= o->folds) {
		fprintf(stderr, "dt4ecg-admin retrain: --fold %d: 0..%d\n",
		    o->fold, o->folds - 1);
		return ADMIN_EXIT_USAGE;
	}
	if (o->out == NULL) {
		fputs(usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (o->n_data == 0)
		o->data[o->n_data++] = "ecg-id";
	return -1;
}

/* ---- a run -------------------------------------------------------------- */

/* What a run holds, freed by rt_run_free. */
struct rt_run {
	struct store *store;
	bool use_store;
	char init_id[STORE_ID_MAX + 1];
	struct data_corpus *c;
	struct ecg_prep_params pp;
	struct data_ranges base, tr, va;
	struct data_p2 p2;
	bool *rtr, *rte;	/* P3: recordings that train, test */
	int *held, nheld;	/* P3: held-out subjects */
	struct data_set *ts, *vs;	/* training, validation windows */
	struct data_noise *nz;
	int *rows, n_rows;	/* classifier row of each corpus subject */
	char **subj_names, **act_names;
	int n_act;
	struct data_act_stats *st;
	size_t *idx, *ord, n_use;	/* usable windows; an epoch's order */
	int steps_per_epoch;
	struct nn_model *m;
	struct nn_trainer *t;
	struct dt_rng rng;	/* the data stream */
	float *x;		/* a batch */
	int *yid, *yact;
	json_t *curves;
	struct nn_step_stats last;
	double best;		/* validation score */
	int best_epoch, bad, start_ep, ep, best_changed, ck_saved, tty;
	void *best_buf;		/* the best epoch's weights */
	size_t best_len;
	double t_start, max_s;
};

static void
rt_run_free(const struct rt_opts *o, struct rt_run *r)
{
	if (r->x != NULL)
		explicit_bzero(r->x, sizeof(float) * (size_t)o->batch *
		    o->hp.window);
	free(r->x);
	free(r->yid);
	free(r->yact);
	free(r->idx);
	free(r->ord);
	free(r->st);
	free(r->rows);
	free(r->subj_names);
	free(r->rtr);
	free(r->rte);
	free(r->held);
	free(r->best_buf);
	json_decref(r->curves);
	nn_trainer_free(r->t);
	nn_model_free(r->m);
	data_noise_free(r->nz);
	data_set_free(r->ts);
	data_set_free(r->vs);
	data_ranges_free(&r->base);
	data_ranges_free(&r->tr);
	data_ranges_free(&r->va);
	data_p2_free(&r->p2);
	data_corpus_free(r->c);
	store_close(r->store);
}

/*
 * The training set: the store and the initial model when asked for, the
 * corpus, the protocol's training and validation ranges, their windows, the
 * classifier rows, the model and the usable windows.  0, -1 with ERR, or an
 * exit status already said.
 */
static int
rt_training_set(struct admin_ctx *ctx, struct rt_opts *o, struct rt_run *r,
    struct dt_error *err)
{
	json_t *jo;
	size_t w;
	int i;

	/* the store, when its recordings train or its active model starts */
	for (i = 0; i < o->n_data; i++)
		if (strcmp(o->data[i], "store") == 0) {
			memmove(&o->data[i], &o->data[i + 1],
			    sizeof(o->data[0]) * (size_t)(o->n_data - i - 1));
			o->n_data--;
			r->use_store = true;
			break;
		}
	if (r->use_store || (o->init != NULL &&
	    strcmp(o->init, "active") == 0)) {
		if (adm_need_db(ctx, "retrain") != 0)
			return ADMIN_EXIT_USAGE;
		if (adm_open(ctx, "retrain", NULL, r->use_store ?
		    ADM_KEY_REQUIRED : ADM_KEY_OPTIONAL, 0, &r->store) != 0)
			return ADMIN_EXIT_FAIL;
	}
	/* model first when --init, for its activities */
	if (o->init != NULL && strcmp(o->init, "active") == 0) {
		if (adm_load_model(r->store, "retrain", NULL, &r->m,
		    r->init_id) != 0)
			return ADMIN_EXIT_FAIL;
		o->hp = r->m->hp;
		fprintf(stderr, "retrain: fine-tuning the store's active model "
		    "%s\n", r->init_id);
	} else if (o->init != NULL) {
		if (nn_model_load(o->init, &r->m, err) != 0)
			return -1;
		o->hp = r->m->hp;
	} else if (nn_hparams_check(&o->hp, err) != 0)
		return -1;
	if (admin_corpus(o->data, o->n_data, r->m ? r->m->activities : NULL,
	    r->m ? r->m->n_activities : 0, &r->c, err) != 0)
		return -1;
	if (r->use_store) {
		int nmem = 0, nrec = 0, rest = -1;

		for (i = 0; i < r->c->n_activities; i++)
			if (o->unlabelled_as != NULL &&
			    strcmp(r->c->activities[i], o->unlabelled_as) == 0)
				rest = i;
		if (admin_store_corpus(r->store, r->c, rest, &nmem, &nrec,
		    err) != 0)
			return -1;
		fprintf(stderr,
		    "retrain: %d enrolment recordings of %d members "
		    "from the store (decrypted in memory only)\n", nrec, nmem);
		if (nrec == 0) {
			dt_error_set(err, DT_E_INVALID, "--data store: the "
			    "store has no enrolment recording");
			return -1;
		}
	}
	ecg_prep_params_default(&r->pp, o->hp.fs_hz, o->hp.window);
	r->pp.id_gate = o->gate;
	if (o->unlabelled_as != NULL && data_corpus_label_unlabelled(r->c,
	    o->unlabelled_as, err) != 0)
		return -1;

	/* the protocol's training ranges */
	switch (o->pr) {
	case DATA_PROTO_P1:
		if (data_split_p1(r->c, 0.8, 0, NULL, &r->base, NULL, NULL,
		    err) != 0)
			return -1;
		break;
	case DATA_PROTO_P2:
		if (data_split_p2(r->c, 0, o->train_max, &r->p2, err) != 0)
			return -1;
		r->base = r->p2.train;
		memset(&r->p2.train, 0, sizeof(r->p2.train));
		break;
	case DATA_PROTO_P3:
		if (data_split_p3(r->c, o->fold, o->folds,
		    o->p3_with_unlabelled, &r->rtr, &r->rte, &r->held,
		    &r->nheld, err) != 0)
			return -1;
		for (i = 0; i < r->c->n_recs; i++)
			if (r->rtr[i] && data_ranges_add(&r->base, i, 0,
			    r->c->recs[i].n, i) != 0)
				goto nomem;
		break;
	case DATA_PROTO_OPEN:
		if (data_split_open(r->c, &r->base, err) != 0)
			return -1;
		break;
	default:	/* all */
		for (i = 0; i < r->c->n_recs; i++)
			if (data_ranges_add(&r->base, i, 0, r->c->recs[i].n,
			    i) != 0)
				goto nomem;
	}
	if (data_split_tail(&r->base, o->val_frac, &r->tr, &r->va) != 0)
		goto nomem;
	r->pp.hop = o->hop;
	fprintf(stderr, "retrain: preprocessing %d training ranges of %d "
	    "recordings...\n", r->tr.n, r->c->n_recs);
	if (data_set_build(r->c, r->tr.r, r->tr.n, &r->pp, &r->ts, err) != 0)
		return -1;
	r->pp.hop = o->hp.window / 2;
	if (r->va.n > 0 && data_set_build(r->c, r->va.r, r->va.n, &r->pp,
	    &r->vs, err) != 0)
		return -1;
	if (o->aug.noise) {
		if (admin_noise_load(&r->pp, &r->nz, err) != 0)
			return -1;
		o->aug.nz = r->nz;
	}

	/* classifier rows: the subjects of the training windows */
	if ((r->rows = malloc(sizeof(int) *
	    ((size_t)r->c->n_subjects + 1))) == NULL ||
	    (r->subj_names = calloc((size_t)r->c->n_subjects + 1,
	    sizeof(char *))) == NULL)
		goto nomem;
	for (i = 0; i < r->c->n_subjects; i++)
		r->rows[i] = -1;
	for (w = 0; w < r->ts->n; w++)
		if (r->ts->w[w].id_ok && r->rows[r->ts->w[w].subject] < 0)
			r->rows[r->ts->w[w].subject] = 0;
	for (i = 0; i < r->c->n_subjects; i++)
		if (r->rows[i] == 0) {
			r->rows[i] = r->n_rows;
			r->subj_names[r->n_rows++] = r->c->subjects[i];
		}
	if (r->n_rows < 2) {
		dt_error_set(err, DT_E_INVALID, "training data: %d subjects "
		    "with usable windows", r->n_rows);
		return -1;
	}
	if (r->c->n_activities > 0) {
		r->n_act = r->c->n_activities;
		r->act_names = r->c->activities;
	} else {
		static char *unl[] = { "unlabelled" };

		r->n_act = 1;
		r->act_names = unl;
	}
	if (r->m == NULL) {
		if (nn_model_create(&o->hp, r->n_rows, r->n_act,
		    (const char *const *)r->act_names, o->seed, &r->m, err) !=
		    0)
			return -1;
	} else if (r->m->n_activities != r->n_act) {
		dt_error_set(err, DT_E_INVALID, "--init %s: %d activities, the "
		    "training data have %d", o->init, r->m->n_activities,
		    r->n_act);
		return -1;
	} else {
		/* fine-tuning: the trunk and both heads of the initial model;
		 * its classifier rows for the subjects it knows, imprinted
		 * rows for new ones (retrain_init.h) */
		struct nn_model *fresh = NULL;
		struct rt_carry cy;
		int k, rc;

		if (nn_model_create(&o->hp, r->n_rows, r->n_act,
		    (const char *const *)r->m->activities, o->seed, &fresh,
		    err) != 0)
			return -1;
		k = nn_model_copy_weights(fresh, r->m, RT_CLASSIFIER);
		rc = rt_classifier_carry(r->m, fresh, r->subj_names, r->n_rows,
		    r->ts, r->rows, o->batch, &cy, err);
		if (rc < 0) {
			nn_model_free(fresh);
			return -1;
		}
		if (rc == 0)
			fprintf(stderr, "retrain: --init %s: %d tensors kept; "
			    "classifier: %d of %d subjects kept, %d new "
			    "imprinted, %d new at random\n", o->init, k,
			    cy.kept, r->n_rows, cy.imprinted, cy.random);
		else
			fprintf(stderr, "retrain: --init %s: %d tensors kept, a "
			    "new classifier for %d subjects (it names none)\n",
			    o->init, k, r->n_rows);
		nn_model_free(r->m);
		r->m = fresh;
	}
	{
		json_t *a = json_array();

		for (i = 0; i < r->n_rows; i++)
			json_array_append_new(a, json_string(r->subj_names[i]));
		if (set_meta_json(r->m, "subjects", a, err) != 0) {
			json_decref(a);
			return -1;
		}
		json_decref(a);
	}

	/* labels; windows with neither label are left out */
	if ((r->idx = malloc(sizeof(size_t) * (r->ts->n + 1))) == NULL ||
	    (r->st = calloc((size_t)r->c->n_activities + 1,
	    sizeof(*r->st))) == NULL)
		goto nomem;
	for (w = 0; w < r->ts->n; w++)
		if (r->ts->w[w].id_ok || r->ts->w[w].activity >= 0)
			r->idx[r->n_use++] = w;
	if ((r->ord = malloc(sizeof(size_t) * (r->n_use + 1))) == NULL)
		goto nomem;
	memcpy(r->ord, r->idx, sizeof(size_t) * r->n_use);
	data_set_activity_stats(r->ts, r->st);
	jo = json_object();
	for (i = 0; i <= r->c->n_activities; i++) {
		json_t *x1;

		if (r->st[i].n_windows == 0)
			continue;
		fprintf(stderr, "retrain: %-10s %7zu windows reach the network "
		    "(activity%s), %5.1f %% of them pass the identity gate\n",
		    i < r->c->n_activities ? r->c->activities[i] : "(none)",
		    r->st[i].n_windows, i < r->c->n_activities ? "" : ": none",
		    100.0 * (double)r->st[i].n_id_ok /
		    (double)r->st[i].n_windows);
		x1 = json_object();
		json_object_set_new(x1, "windows", json_integer(
		    (json_int_t)r->st[i].n_windows));
		json_object_set_new(x1, "identity_gate_pass_frac", json_real(
		    (double)r->st[i].n_id_ok / (double)r->st[i].n_windows));
		json_object_set_new(jo, i < r->c->n_activities ?
		    r->c->activities[i] : "unlabelled", x1);
	}
	if (set_meta_json(r->m, "train.windows_by_activity", jo, err) != 0) {
		json_decref(jo);
		return -1;
	}
	json_decref(jo);
	r->steps_per_epoch = (int)(r->n_use / (size_t)o->batch);
	if (r->steps_per_epoch < 1) {
		dt_error_set(err, DT_E_INVALID, "%zu training windows: fewer "
		    "than one batch of %d", r->n_use, o->batch);
		return -1;
	}
	fprintf(stderr, "retrain: %zu training windows (%d subjects, %d "
	    "activities), %zu validation windows, %d steps per epoch\n",
	    r->n_use,
	    r->n_rows, r->c->n_activities, r->vs ? r->vs->n : 0,
	    r->steps_per_epoch);
	return 0;
nomem:
	return dt_error_set(err, DT_E_NOMEM, "out of memory");
}

/* The trainer, continuing checkpoint --resume when given. */
static int
rt_resume(const struct rt_opts *o, struct rt_run *r, struct dt_error *err)
{
	struct nn_train_opts to;

	nn_train_opts_default(&to);
	to.batch = o->batch;
	to.total_steps = r->steps_per_epoch * o->epochs;
	to.warmup_steps = r->steps_per_epoch * o->warmup_epochs;
	to.lr = o->lr;
	to.weight_decay = o->wd;
	to.cosface_s = o->scale;
	to.cosface_m = o->margin;
	to.subcentres = o->subcentres;
	to.ema_decay = o->ema;
	to.gradnorm = o->gradnorm;
	to.fixed_w_id = o->task_w[0];
	to.fixed_w_act = o->task_w[1];
	to.gradnorm_alpha = o->alpha;
	to.gradnorm_lr = o->gn_lr;
	to.gradnorm_features = o->gn_features;
	to.task_grad_norm = o->task_grad_norm;
	to.seed = o->seed;
	if (nn_trainer_create(r->m, &to, &r->t, err) != 0)
		return -1;
	dt_rng_seed(&r->rng, o->seed ^ DATA_SEED_SALT);
	if (o->resume != NULL) {
		struct rt_loop rl;

		if (rt_ckpt_load(o->resume, r->t, &rl, &r->best_buf,
		    &r->best_len,
		    err) != 0)
			return -1;
		r->start_ep = rl.epoch;
		r->rng = rl.rng;
		json_decref(r->curves);
		r->curves = rl.curves;
		r->best = rl.best;
		r->best_epoch = rl.best_epoch;
		r->bad = rl.bad_epochs;
		/* the checkpoint's weights and task weights, also when no
		 * epoch is left to run (else a fresh initialisation would be
		 * written when the last epoch was the best) */
		if (nn_trainer_export(r->t, r->m, err) != 0)
			return -1;
		{
			const char *wi = nn_model_meta(r->m, "gradnorm.w_id"),
			    *wa = nn_model_meta(r->m, "gradnorm.w_act");

			r->last.w_id = wi ? strtof(wi, NULL) : 1.0f;
			r->last.w_act = wa ? strtof(wa, NULL) : 1.0f;
		}
		fprintf(stderr, "retrain: resumed %s after epoch %d\n",
		    o->resume, r->start_ep);
	}
	return 0;
}

/* The epochs, each followed by validation and the checkpoint. */
static int
rt_epochs(const struct rt_opts *o, struct rt_run *r, struct dt_error *err)
{
	const char *stop;
	char tb[32], tb2[32];

	if ((r->x = malloc(sizeof(float) * (size_t)o->batch *
	    o->hp.window)) == NULL ||
	    (r->yid = malloc(sizeof(int) * (size_t)o->batch)) == NULL ||
	    (r->yact = malloc(sizeof(int) * (size_t)o->batch)) == NULL)
		goto nomem;

	stop = NULL;
	for (r->ep = r->start_ep; r->ep < o->epochs && stop == NULL; r->ep++) {
		double e0 = admin_now(), last_print = e0, sl_id = 0, sl_act = 0;
		long c_id = 0, n_id = 0, c_act = 0, n_act_s = 0, nb_id = 0,
		    nb_act = 0;
		struct val_res vr;
		json_t *cj;
		double score;
		bool id_val, act_val;
		int s, b, q;

		r->best_changed = 0;
		if (o->balance)
			balanced_epoch(r->ts, r->idx, r->ord, r->n_use,
			    r->c->n_manifests, &r->rng);
		else
			dt_rng_shuffle(r->ord, r->n_use, &r->rng);
		for (s = 0; s < r->steps_per_epoch; s++) {
			const size_t *bi = r->ord + (size_t)s * o->batch;
			double now, el, rate, eta;

			data_set_batch(r->ts, bi, o->batch, &o->aug, &r->rng,
			    r->x);
			for (b = 0; b < o->batch; b++) {
				const struct data_win *wi = &r->ts->w[bi[b]];

				r->yid[b] = wi->id_ok ? r->rows[wi->subject] :
				    -1;
				r->yact[b] = wi->activity;
			}
			if (nn_trainer_step(r->t, r->x, r->yid, r->yact,
			    o->batch, &r->last, err) != 0)
				return -1;
			if (r->last.n_id > 0) {
				sl_id += r->last.loss_id;
				nb_id++;
			}
			if (r->last.n_act > 0) {
				sl_act += r->last.loss_act;
				nb_act++;
			}
			c_id += r->last.correct_id;
			n_id += r->last.n_id;
			c_act += r->last.correct_act;
			n_act_s += r->last.n_act;
			now = admin_now();
			el = now - e0;
			rate = el > 0 ? (double)(s + 1) * o->batch / el : 0;
			eta = rate > 0 ? ((double)(o->epochs - r->ep - 1) *
			    r->steps_per_epoch + (r->steps_per_epoch - s - 1)) *
			    o->batch / rate : 0;
			q = r->steps_per_epoch / 4 ? r->steps_per_epoch / 4 : 1;
			if ((r->tty && now - last_print >= 0.25) ||
			    (!r->tty && ((s + 1) % q == 0 ||
			    now - last_print >= 30)) ||
			    s + 1 == r->steps_per_epoch) {
				fmt_time(eta, tb, sizeof(tb));
				fprintf(stderr,
				    "%sepoch %d/%d step %d/%d  L_id "
				    "%.4f L_act %.4f  w_id %.3f w_act %.3f  lr "
				    "%.2e  %.0f win/s  ETA %s%s",
				    r->tty ? "\r" : "",
				    r->ep + 1, o->epochs, s + 1,
				    r->steps_per_epoch,
				    nb_id ? sl_id / nb_id : NAN,
				    nb_act ? sl_act / nb_act : NAN,
				    r->last.w_id, r->last.w_act, r->last.lr,
				    rate, tb,
				    r->tty ? "\033[K" : "\n");
				last_print = now;
			}
			if (now - r->t_start > r->max_s) {
				stop = "time budget (--max-minutes) reached";
				break;
			}
		}
		if (r->tty)
			fputc('\n', stderr);
		if (nn_trainer_export(r->t, r->m, err) != 0 ||
		    validate(r->m, r->vs, r->rows, &vr, err) != 0)
			return -1;
		cj = json_object();
		json_object_set_new(cj, "epoch", json_integer(r->ep + 1));
		json_object_set_new(cj, "loss_id", jnum(nb_id ? sl_id / nb_id :
		    NAN));
		json_object_set_new(cj, "loss_act", jnum(nb_act ?
		    sl_act / nb_act : NAN));
		json_object_set_new(cj, "train_id_acc", jnum(n_id ?
		    (double)c_id / n_id : NAN));
		json_object_set_new(cj, "train_act_acc", jnum(n_act_s ?
		    (double)c_act / n_act_s : NAN));
		json_object_set_new(cj, "w_id", json_real(r->last.w_id));
		json_object_set_new(cj, "w_act", json_real(r->last.w_act));
		json_object_set_new(cj, "lr", json_real(r->last.lr));
		json_object_set_new(cj, "val_id_acc", jnum(vr.id_acc));
		json_object_set_new(cj, "val_act_acc", jnum(vr.act_acc));
		json_object_set_new(cj, "seconds", json_real(admin_now() - e0));
		json_array_append_new(r->curves, cj);
		fmt_time(admin_now() - r->t_start, tb2, sizeof(tb2));
		fprintf(stderr, "epoch %d/%d done in %.0f s (total %s): L_id "
		    "%.4f L_act %.4f train acc id %.4f act %.4f | val acc id "
		    "%.4f (%zu) act %.4f (%zu) | w %.3f/%.3f\n", r->ep + 1,
		    o->epochs, admin_now() - e0, tb2,
		    nb_id ? sl_id / nb_id : NAN,
		    nb_act ? sl_act / nb_act : NAN,
		    n_id ? (double)c_id / n_id : NAN,
		    n_act_s ? (double)c_act / n_act_s : NAN, vr.id_acc, vr.n_id,
		    vr.act_acc, vr.n_act, r->last.w_id, r->last.w_act);
		/* a task held at weight 0 does not train: its accuracy would
		 * only add noise to the choice of epoch */
		id_val = isfinite(vr.id_acc) &&
		    (o->gradnorm || o->task_w[0] > 0);
		act_val = isfinite(vr.act_acc) &&
		    (o->gradnorm || o->task_w[1] > 0);
		if (r->vs != NULL && (id_val || act_val)) {
			int k = 0;

			score = 0;
			if (id_val) {
				score += vr.id_acc;
				k++;
			}
			if (act_val) {
				score += vr.act_acc;
				k++;
			}
			score /= k;
			if (score > r->best) {
				r->best = score;
				r->best_epoch = r->ep + 1;
				r->bad = 0;
				free(r->best_buf);
				r->best_buf = NULL;
				r->best_changed = 1;
				if (nn_model_save_buffer(r->m, &r->best_buf,
				    &r->best_len, err) != 0)
					return -1;
			} else if (++r->bad > o->patience && o->patience > 0) {
				stop = "early stop: validation did not improve";
			}
		}
		if (o->checkpoint != NULL) {
			struct rt_loop rl = { .epoch = r->ep + 1, .rng = r->rng,
			    .curves = r->curves, .best = r->best,
			    .best_epoch = r->best_epoch, .bad_epochs = r->bad };

			/* the first save of a run writes its best weights */
			if (rt_ckpt_save(o->checkpoint, r->t, &rl, r->best_buf,
			    r->best_len, r->best_changed || !r->ck_saved,
			    err) != 0)
				return -1;
			r->ck_saved = 1;
		}
	}
	if (stop != NULL)
		fprintf(stderr, "retrain: %s after epoch %d\n", stop, r->ep);
	return 0;
nomem:
	return dt_error_set(err, DT_E_NOMEM, "out of memory");
}

/* The best epoch's weights when validation chose one, and the metadata
 * that says how the model was trained. */
static int
rt_metadata(const struct rt_opts *o, struct rt_run *r, struct dt_error *err)
{
	int i;

	/* the best epoch's weights when validation chose one */
	if (r->best_buf != NULL && r->best_epoch != r->ep) {
		struct nn_model *bm = NULL;

		if (nn_model_load_buffer(r->best_buf, r->best_len, "best epoch",
		    &bm,
		    err) != 0)
			return -1;
		nn_model_free(r->m);
		r->m = bm;
		fprintf(stderr, "retrain: keeping epoch %d (best validation "
		    "%.4f)\n", r->best_epoch, r->best);
	}
	{
		json_t *a = json_array(), *hpj = json_object(), *vj;
		char b[64];

		for (i = 0; i < o->n_data; i++) {
			const char *s = strrchr(o->data[i], '/');

			json_array_append_new(a, json_string(s ? s + 1 :
			    o->data[i]));
		}
		if (set_meta_json(r->m, "train.data", a, err) != 0) {
			json_decref(a);
			json_decref(hpj);
			return -1;
		}
		json_decref(a);
		switch (o->pr) {
		case DATA_PROTO_P3:
			snprintf(b, sizeof(b), "%d", o->fold);
			if (nn_model_set_meta(r->m, "train.fold", b, err) !=
			    0) {
				json_decref(hpj);
				return -1;
			}
			/* evaluate needs it to find the same held-out subjects
			    */
			snprintf(b, sizeof(b), "%d", o->folds);
			if (nn_model_set_meta(r->m, "train.folds", b, err) !=
			    0) {
				json_decref(hpj);
				return -1;
			}
			snprintf(b, sizeof(b), "p3 fold %d of %d", o->fold,
			    o->folds);
			break;
		case DATA_PROTO_P2:
			snprintf(b, sizeof(b), "p2 subjects 1-%d",
			    o->train_max);
			break;
		case DATA_PROTO_P1:
			snprintf(b, sizeof(b), "p1 first 80%% of every "
			    "recording");
			break;
		case DATA_PROTO_OPEN:
			snprintf(b, sizeof(b), "open: every recording but the "
			    "hold-outs");
			break;
		default:
			snprintf(b, sizeof(b), "all recordings");
		}
		json_object_set_new(hpj, "protocol", json_string(b));
		json_object_set_new(hpj, "balance", json_boolean(o->balance));
		json_object_set_new(hpj, "gradnorm_at", json_string(
		    o->gn_features ? "features" : "weight"));
		json_object_set_new(hpj, "task_grad_norm",
		    json_boolean(o->task_grad_norm));
		if (o->unlabelled_as != NULL)
			json_object_set_new(hpj, "unlabelled_as",
			    json_string(o->unlabelled_as));
		json_object_set_new(hpj, "epochs", json_integer(o->epochs));
		json_object_set_new(hpj, "epochs_run", json_integer(r->ep));
		json_object_set_new(hpj, "best_epoch",
		    json_integer(r->best_epoch));
		json_object_set_new(hpj, "batch", json_integer(o->batch));
		json_object_set_new(hpj, "lr", json_real(o->lr));
		json_object_set_new(hpj, "weight_decay", json_real(o->wd));
		json_object_set_new(hpj, "warmup_epochs",
		    json_integer(o->warmup_epochs));
		json_object_set_new(hpj, "hop", json_integer(o->hop));
		json_object_set_new(hpj, "id_gate", json_string(
		    ecg_prep_gate_name(o->gate)));
		json_object_set_new(hpj, "cosface_s", json_real(o->scale));
		json_object_set_new(hpj, "cosface_m", json_real(o->margin));
		if (o->subcentres > 1)
			json_object_set_new(hpj, "cosface_subcentres",
			    json_integer(o->subcentres));
		if (o->ema > 0)
			json_object_set_new(hpj, "ema_decay",
			    json_real(o->ema));
		json_object_set_new(hpj, "gradnorm", json_boolean(o->gradnorm));
		json_object_set_new(hpj, "gradnorm_alpha", json_real(o->alpha));
		json_object_set_new(hpj, "gradnorm_lr", json_real(o->gn_lr));
		if (!o->gradnorm)
			json_object_set_new(hpj, "task_weights", json_pack(
			    "[f,f]", (double)o->task_w[0],
			    (double)o->task_w[1]));
		json_object_set_new(hpj, "augmentation",
		    json_string(o->aug_spec));
		json_object_set_new(hpj, "snr_db", json_real(o->aug.snr_db));
		json_object_set_new(hpj, "snr_db_hi", json_real(o->aug.snr_hi));
		json_object_set_new(hpj, "wander_amp",
		    json_real(o->aug.wander_amp));
		json_object_set_new(hpj, "wander_hz", json_real(o->aug.wander_hz));
		json_object_set_new(hpj, "motion_snr_db", json_pack("[f,f]",
		    (double)o->aug.motion_snr_lo, (double)o->aug.motion_snr_hi));
		json_object_set_new(hpj, "val_frac", json_real(o->val_frac));
		json_object_set_new(hpj, "patience", json_integer(o->patience));
		json_object_set_new(hpj, "seed", json_integer(o->seed_i));
		json_object_set_new(hpj, "threads", json_integer(o->threads));
		json_object_set_new(hpj, "n_train_windows",
		    json_integer((json_int_t)r->n_use));
		json_object_set_new(hpj, "seconds", json_real(admin_now() -
		    r->t_start));
		if (set_meta_json(r->m, "train.hyperparameters", hpj, err) !=
		    0) {
			json_decref(hpj);
			return -1;
		}
		json_decref(hpj);
		if (set_meta_json(r->m, "train.curves", r->curves, err) != 0 ||
		    nn_model_set_meta(r->m, "train.protocol", b, err) != 0 ||
		    nn_model_set_meta(r->m, "prep.id_gate",
		    ecg_prep_gate_name(o->gate), err) != 0 ||
		    set_meta_f(r->m, "train.gradnorm_final_w_id", r->last.w_id,
		    err) != 0 ||
		    set_meta_f(r->m, "train.gradnorm_final_w_act",
		    r->last.w_act,
		    err) != 0)
			return -1;
		vj = json_object();
		if (r->best_epoch > 0) {
			json_t *bc = json_array_get(r->curves,
			    (size_t)r->best_epoch - 1);

			json_object_set(vj, "val_id_acc", json_object_get(bc,
			    "val_id_acc"));
			json_object_set(vj, "val_act_acc", json_object_get(bc,
			    "val_act_acc"));
			json_object_set_new(vj, "epoch",
			    json_integer(r->best_epoch));
		}
		if (set_meta_json(r->m, "train.validation", vj, err) != 0) {
			json_decref(vj);
			return -1;
		}
		json_decref(vj);
	}
	return 0;
}

int
cmd_retrain(struct admin_ctx *ctx, int argc, char **argv)
{
	struct rt_opts o;
	struct rt_run r;
	struct dt_error err = { 0 };
	char tb[32];
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = rt_options(argc, argv, &o)) >= 0)
		return rc;
	/* after the options, whose errors return early */
	if ((r.curves = json_array()) == NULL) {
		fprintf(stderr, "dt4ecg-admin retrain: out of memory\n");
		return ADMIN_EXIT_FAIL;
	}
	r.best = -1;
	r.tty = isatty(STDERR_FILENO);
	nn_set_threads(o.threads);
	r.t_start = admin_now();
	r.max_s = o.max_minutes > 0 ? o.max_minutes * 60 : INFINITY;
	if ((rc = rt_training_set(ctx, &o, &r, &err)) != 0 ||
	    (rc = rt_resume(&o, &r, &err)) != 0 ||
	    (rc = rt_epochs(&o, &r, &err)) != 0 ||
	    (rc = rt_metadata(&o, &r, &err)) != 0 ||
	    (rc = nn_model_save(r.m, o.out, &err)) != 0) {
		if (rc < 0) {
			fprintf(stderr, "dt4ecg-admin retrain: %s\n", err.msg);
			rc = ADMIN_EXIT_FAIL;
		}
		goto out;
	}
	fmt_time(admin_now() - r.t_start, tb, sizeof(tb));
	fprintf(stderr, "retrain: wrote %s (%s)\n", o.out, tb);
	rc = ADMIN_EXIT_OK;
out:
	rt_run_free(&o, &r);
	return rc;
}

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
#include <getopt.h>
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
#include "admin/storedata.h"
#include "data/split.h"
#include "nn/model.h"
#include "nn/net.h"
#include "nn/train.h"

struct rt_opts {
	char *data[16];
	int n_data;
	const char *protocol;	/* p1 p2 p3 open all */
	const char *unlabelled_as;	/* activity for unlabelled recordings */
	bool balance;		/* each data set equally often per epoch */
	bool gn_features;	/* GradNorm measured at the pooled features */
	int fold, folds, train_max;
	int epochs, batch, hop, threads, patience, warmup_epochs;
	float lr, wd, alpha, gn_lr, margin, scale, val_frac;
	bool gradnorm, p3_with_unlabelled;
	float task_w[2];	/* fixed task weights without GradNorm (1, 1) */
	uint64_t seed;
	struct data_aug aug;
	const char *aug_spec;
	enum ecg_id_gate gate;	/* ECG_GATE_SQI unless --gate hr-sat */
	const char *init, *out, *checkpoint, *resume;
	struct nn_hparams hp;
	double max_minutes;
};

static void
usage(FILE *f)
{
	fprintf(f,
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
"             --no-gradnorm --alpha X (1.5) --gradnorm-lr X (0.025)\n"
"             --gradnorm-at weight|features (where ||grad L_i|| is\n"
"             measured: DESIGN.md 2's W, or the shared pooled features)\n"
"             --task-weights W_ID,W_ACT (fixed weights; implies\n"
"             --no-gradnorm; 1,1)\n"
"             --threads N (1) --max-minutes X (stop after X minutes)\n"
"  augment:   --aug LIST (none, or any of scale,wander,shift,noise,\n"
"             band,hum,stretch; none)\n"
"             --snr DB (12; noise from $DT4ECG_DATA/nstdb bw and ma)\n"
"  model:     --init MODEL|active (active: the store's; a model of\n"
"             other subjects keeps its trunk and heads, new classifier),\n"
"             or --window N --stem-channels N\n"
"             --stage-channels A,B,C --kernel N --embedding-dim N\n"
"             --act-hidden N\n"
"  state:     --checkpoint FILE (written every epoch)  --resume FILE\n");
}

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

int
cmd_retrain(struct admin_ctx *ctx, int argc, char **argv)
{
	enum { O_PROTO = 256, O_FOLD, O_FOLDS, O_TMAX, O_P3U, O_VAL, O_EPOCHS,
	    O_BATCH, O_LR, O_WD, O_HOP, O_WARM, O_PAT, O_MARGIN, O_SCALE,
	    O_SEED, O_NOGN, O_ALPHA, O_GNLR, O_THREADS, O_AUG, O_SNR, O_INIT,
	    O_OUT, O_CK, O_RES, O_WIN, O_STEM, O_STAGES, O_EMB, O_HID, O_DATA,
	    O_MAXMIN, O_KERNEL, O_GATE, O_TW, O_UNLAB, O_BAL, O_GNAT };
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, O_DATA },
		{ "protocol", required_argument, NULL, O_PROTO },
		{ "fold", required_argument, NULL, O_FOLD },
		{ "folds", required_argument, NULL, O_FOLDS },
		{ "train-max", required_argument, NULL, O_TMAX },
		{ "p3-with-unlabelled", no_argument, NULL, O_P3U },
		{ "val-frac", required_argument, NULL, O_VAL },
		{ "epochs", required_argument, NULL, O_EPOCHS },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "lr", required_argument, NULL, O_LR },
		{ "wd", required_argument, NULL, O_WD },
		{ "hop", required_argument, NULL, O_HOP },
		{ "warmup-epochs", required_argument, NULL, O_WARM },
		{ "patience", required_argument, NULL, O_PAT },
		{ "margin", required_argument, NULL, O_MARGIN },
		{ "scale", required_argument, NULL, O_SCALE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "no-gradnorm", no_argument, NULL, O_NOGN },
		{ "alpha", required_argument, NULL, O_ALPHA },
		{ "gradnorm-lr", required_argument, NULL, O_GNLR },
		{ "task-weights", required_argument, NULL, O_TW },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "aug", required_argument, NULL, O_AUG },
		{ "snr", required_argument, NULL, O_SNR },
		{ "init", required_argument, NULL, O_INIT },
		{ "out", required_argument, NULL, O_OUT },
		{ "checkpoint", required_argument, NULL, O_CK },
		{ "resume", required_argument, NULL, O_RES },
		{ "window", required_argument, NULL, O_WIN },
		{ "stem-channels", required_argument, NULL, O_STEM },
		{ "stage-channels", required_argument, NULL, O_STAGES },
		{ "embedding-dim", required_argument, NULL, O_EMB },
		{ "act-hidden", required_argument, NULL, O_HID },
		{ "max-minutes", required_argument, NULL, O_MAXMIN },
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "gate", required_argument, NULL, O_GATE },
		{ "unlabelled-as", required_argument, NULL, O_UNLAB },
		{ "balance", no_argument, NULL, O_BAL },
		{ "gradnorm-at", required_argument, NULL, O_GNAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rt_opts o;
	struct dt_error err = { 0 };
	struct data_corpus *c = NULL;
	struct data_ranges base = { 0 }, tr = { 0 }, va = { 0 };
	struct data_set *ts = NULL, *vs = NULL;
	struct data_noise *nz = NULL;
	struct data_p2 p2;
	struct nn_model *m = NULL;
	struct nn_trainer *t = NULL;
	struct nn_train_opts to;
	struct ecg_prep_params pp;
	struct dt_rng rng;
	struct data_act_stats *st = NULL;
	bool *rtr = NULL, *rte = NULL;
	int *held = NULL, nheld = 0, *rows = NULL, *yid = NULL, *yact = NULL;
	size_t *idx = NULL, *ord = NULL, n_use = 0, w;
	float *x = NULL;
	char **subj_names = NULL, **act_names = NULL, *stop;
	int n_rows = 0, n_act = 0, ch, i, ep, start_ep = 0, best_epoch = 0,
	    bad = 0, steps_per_epoch, rc = ADMIN_EXIT_FAIL, tty, seed_i = 1,
	    best_changed, ck_saved = 0;
	void *best_buf = NULL;
	size_t best_len = 0;
	double best = -1, t_start, max_s;
	json_t *curves = NULL, *jo;
	struct nn_step_stats last = { 0 };
	char tb[32], tb2[32], init_id[STORE_ID_MAX + 1];
	float mm;
	struct store *store = NULL;
	bool use_store = false;

	memset(&o, 0, sizeof(o));
	memset(&p2, 0, sizeof(p2));
	o.protocol = "p1";
	o.fold = 0;
	o.folds = 5;
	o.train_max = 60;
	o.epochs = 20;
	o.batch = 64;
	o.hop = 64;
	o.threads = 1;
	o.patience = 5;
	o.lr = 1e-3f;
	o.wd = 1e-4f;
	o.alpha = 1.5f;
	o.gn_lr = 0.025f;
	o.margin = 0.2f;
	o.scale = 30.0f;
	o.val_frac = 0.1f;
	o.gradnorm = true;
	o.task_w[0] = o.task_w[1] = 1.0f;
	o.aug_spec = "none";
	o.gate = ECG_GATE_SQI;
	data_aug_default(&o.aug);
	nn_hparams_default(&o.hp);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int r = 0;

		switch (ch) {
		case O_DATA:
			if (o.n_data == 16) {
				fprintf(stderr, "dt4ecg-admin retrain: at most "
				    "16 --data\n");
				return ADMIN_EXIT_USAGE;
			}
			o.data[o.n_data++] = optarg;
			break;
		case O_PROTO: o.protocol = optarg; break;
		case O_FOLD: r = adm_int("retrain", "--fold", optarg, 0, 99, &o.fold); break;
		case O_FOLDS: r = adm_int("retrain", "--folds", optarg, 2, 100, &o.folds);
			break;
		case O_TMAX: r = adm_int("retrain", "--train-max", optarg, 1, 1000000,
		    &o.train_max); break;
		case O_P3U: o.p3_with_unlabelled = true; break;
		case O_UNLAB: o.unlabelled_as = optarg; break;
		case O_BAL: o.balance = true; break;
		case O_GNAT:
			if (strcmp(optarg, "weight") != 0 &&
			    strcmp(optarg, "features") != 0) {
				fprintf(stderr, "dt4ecg-admin retrain: "
				    "--gradnorm-at %s: weight or features\n",
				    optarg);
				return ADMIN_EXIT_USAGE;
			}
			o.gn_features = strcmp(optarg, "features") == 0;
			break;
		case O_VAL: r = adm_numf("retrain", "--val-frac", optarg, 0, 0.5, &o.val_frac);
			break;
		case O_EPOCHS: r = adm_int("retrain", "--epochs", optarg, 1, 10000,
		    &o.epochs); break;
		case O_BATCH: r = adm_int("retrain", "--batch", optarg, 2, 4096, &o.batch);
			break;
		case O_LR: r = adm_numf("retrain", "--lr", optarg, 1e-7, 1, &o.lr); break;
		case O_WD: r = adm_numf("retrain", "--wd", optarg, 0, 1, &o.wd); break;
		case O_HOP: r = adm_int("retrain", "--hop", optarg, 1, 100000, &o.hop); break;
		case O_WARM: r = adm_int("retrain", "--warmup-epochs", optarg, 0, 1000,
		    &o.warmup_epochs); break;
		case O_PAT: r = adm_int("retrain", "--patience", optarg, 0, 10000,
		    &o.patience); break;
		case O_MARGIN: r = adm_numf("retrain", "--margin", optarg, 0, 1, &o.margin);
			break;
		case O_SCALE: r = adm_numf("retrain", "--scale", optarg, 1, 100, &o.scale);
			break;
		case O_SEED: r = adm_int("retrain", "--seed", optarg, 0, 2147483647, &seed_i);
			break;
		case O_NOGN: o.gradnorm = false; break;
		case O_TW:
			r = parse_task_weights(optarg, o.task_w);
			o.gradnorm = false;
			break;
		case O_ALPHA: r = adm_numf("retrain", "--alpha", optarg, 0, 10, &o.alpha);
			break;
		case O_GNLR: r = adm_numf("retrain", "--gradnorm-lr", optarg, 0, 10,
		    &o.gn_lr); break;
		case O_THREADS: r = adm_int("retrain", "--threads", optarg, 1, 256,
		    &o.threads); break;
		case O_AUG:
			o.aug_spec = optarg;
			if (admin_parse_aug(optarg, &o.aug) != 0) {
				fprintf(stderr, "dt4ecg-admin retrain: --aug "
				    "%s: none, all, or a list of scale, wander,"
				    " shift, noise, band, hum, stretch\n",
				    optarg);
				return ADMIN_EXIT_USAGE;
			}
			break;
		case O_SNR: r = adm_numf("retrain", "--snr", optarg, -20, 60, &o.aug.snr_db);
			break;
		case O_INIT: o.init = optarg; break;
		case O_OUT: o.out = optarg; break;
		case O_CK: o.checkpoint = optarg; break;
		case O_RES: o.resume = optarg; break;
		case O_WIN: r = adm_int("retrain", "--window", optarg, 64, 8192, &o.hp.window);
			break;
		case O_STEM: r = adm_int("retrain", "--stem-channels", optarg, 1, 1024,
		    &o.hp.stem_channels); break;
		case O_STAGES: {
			char *p = optarg, *e2;
			int k = 0;

			while (*p && k < NN_MAX_STAGES) {
				long v = strtol(p, &e2, 10);

				if (e2 == p || v < 1 || v > 4096)
					break;
				o.hp.stage_channels[k++] = (int)v;
				p = *e2 == ',' ? e2 + 1 : e2;
				if (*e2 != ',' && *e2 != '\0')
					break;
			}
			if (*p != '\0' || k == 0) {
				fprintf(stderr, "dt4ecg-admin retrain: "
				    "--stage-channels %s: e.g. 64,128,256\n",
				    optarg);
				return ADMIN_EXIT_USAGE;
			}
			o.hp.n_stages = k;
			break;
		}
		case O_EMB: r = adm_int("retrain", "--embedding-dim", optarg, 2, 4096,
		    &o.hp.embedding_dim); break;
		case O_HID: r = adm_int("retrain", "--act-hidden", optarg, 1, 4096,
		    &o.hp.act_hidden); break;
		case O_KERNEL: r = adm_int("retrain", "--kernel", optarg, 1, 63,
		    &o.hp.kernel); break;
		case O_GATE:
			if (ecg_prep_gate_parse(optarg, &o.gate) != 0) {
				fprintf(stderr, "dt4ecg-admin retrain: --gate "
				    "%s: hr-sat or sqi\n", optarg);
				return ADMIN_EXIT_USAGE;
			}
			break;
		case O_MAXMIN: r = adm_numf("retrain", "--max-minutes", optarg, 0.01, 1e6, &mm);
			o.max_minutes = mm;
			break;
		case 'h': usage(stdout); return ADMIN_EXIT_OK;
		default: usage(stderr); return ADMIN_EXIT_USAGE;
		}
		if (r != 0)
			return ADMIN_EXIT_USAGE;
	}
	o.seed = (uint64_t)seed_i;
	if (strcmp(o.protocol, "p1") && strcmp(o.protocol, "p2") &&
	    strcmp(o.protocol, "p3") && strcmp(o.protocol, "open") &&
	    strcmp(o.protocol, "all")) {
		fprintf(stderr, "dt4ecg-admin retrain: --protocol %s: p1, p2, "
		    "p3, open or all\n", o.protocol);
		return ADMIN_EXIT_USAGE;
	}
	if (o.fold >= o.folds) {
		fprintf(stderr, "dt4ecg-admin retrain: --fold %d: 0..%d\n",
		    o.fold, o.folds - 1);
		return ADMIN_EXIT_USAGE;
	}
	if (optind != argc || o.out == NULL) {
		usage(stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (o.n_data == 0)
		o.data[o.n_data++] = "ecg-id";
	/* after the options, whose errors return early */
	if ((curves = json_array()) == NULL) {
		fprintf(stderr, "dt4ecg-admin retrain: out of memory\n");
		return ADMIN_EXIT_FAIL;
	}
	tty = isatty(STDERR_FILENO);
	nn_set_threads(o.threads);
	t_start = admin_now();
	max_s = o.max_minutes > 0 ? o.max_minutes * 60 : INFINITY;

	/* the store, when its recordings train or its active model starts */
	for (i = 0; i < o.n_data; i++)
		if (strcmp(o.data[i], "store") == 0) {
			memmove(&o.data[i], &o.data[i + 1], sizeof(o.data[0]) *
			    (size_t)(o.n_data - i - 1));
			o.n_data--;
			use_store = true;
			break;
		}
	if (use_store || (o.init != NULL && strcmp(o.init, "active") == 0)) {
		if (adm_need_db(ctx, "retrain") != 0) {
			rc = ADMIN_EXIT_USAGE;
			goto out;
		}
		if (adm_open(ctx, "retrain", NULL, use_store ?
		    ADM_KEY_REQUIRED : ADM_KEY_OPTIONAL, 0, &store) != 0) {
			rc = ADMIN_EXIT_FAIL;
			goto out;
		}
	}
	/* model first when --init, for its activities */
	if (o.init != NULL && strcmp(o.init, "active") == 0) {
		if (adm_load_model(store, "retrain", NULL, &m, init_id) != 0) {
			rc = ADMIN_EXIT_FAIL;
			goto out;
		}
		o.hp = m->hp;
		fprintf(stderr, "retrain: fine-tuning the store's active model "
		    "%s\n", init_id);
	} else if (o.init != NULL) {
		if (nn_model_load(o.init, &m, &err) != 0)
			goto fail;
		o.hp = m->hp;
	} else if (nn_hparams_check(&o.hp, &err) != 0)
		goto fail;
	if (admin_corpus(o.data, o.n_data, m ? m->activities : NULL,
	    m ? m->n_activities : 0, &c, &err) != 0)
		goto fail;
	if (use_store) {
		int nmem = 0, nrec = 0, rest = -1;

		for (i = 0; i < c->n_activities; i++)
			if (o.unlabelled_as != NULL &&
			    strcmp(c->activities[i], o.unlabelled_as) == 0)
				rest = i;
		if (admin_store_corpus(store, c, rest, &nmem, &nrec, &err) != 0)
			goto fail;
		fprintf(stderr, "retrain: %d enrolment recordings of %d members "
		    "from the store (decrypted in memory only)\n", nrec, nmem);
		if (nrec == 0) {
			dt_error_set(&err, DT_E_INVALID, "--data store: the "
			    "store has no enrolment recording");
			goto fail;
		}
	}
	ecg_prep_params_default(&pp, o.hp.fs_hz, o.hp.window);
	pp.id_gate = o.gate;
	if (o.unlabelled_as != NULL && data_corpus_label_unlabelled(c,
	    o.unlabelled_as, &err) != 0)
		goto fail;

	/* the protocol's training ranges */
	if (strcmp(o.protocol, "p1") == 0) {
		if (data_split_p1(c, 0.8, 0, NULL, &base, NULL, NULL,
		    &err) != 0)
			goto fail;
	} else if (strcmp(o.protocol, "p2") == 0) {
		if (data_split_p2(c, 0, o.train_max, &p2, &err) != 0)
			goto fail;
		base = p2.train;
		memset(&p2.train, 0, sizeof(p2.train));
	} else if (strcmp(o.protocol, "p3") == 0) {
		if (data_split_p3(c, o.fold, o.folds, o.p3_with_unlabelled, &rtr,
		    &rte, &held, &nheld, &err) != 0)
			goto fail;
		for (i = 0; i < c->n_recs; i++)
			if (rtr[i] && data_ranges_add(&base, i, 0, c->recs[i].n,
			    i) != 0)
				goto nomem;
	} else if (strcmp(o.protocol, "open") == 0) {
		if (data_split_open(c, &base, &err) != 0)
			goto fail;
	} else {
		for (i = 0; i < c->n_recs; i++)
			if (data_ranges_add(&base, i, 0, c->recs[i].n, i) != 0)
				goto nomem;
	}
	if (data_split_tail(&base, o.val_frac, &tr, &va) != 0)
		goto nomem;
	pp.hop = o.hop;
	fprintf(stderr, "retrain: preprocessing %d training ranges of %d "
	    "recordings...\n", tr.n, c->n_recs);
	if (data_set_build(c, tr.r, tr.n, &pp, &ts, &err) != 0)
		goto fail;
	pp.hop = o.hp.window / 2;
	if (va.n > 0 && data_set_build(c, va.r, va.n, &pp, &vs, &err) != 0)
		goto fail;
	if (o.aug.noise) {
		if (admin_noise_load(&pp, &nz, &err) != 0)
			goto fail;
		o.aug.nz = nz;
	}

	/* classifier rows: the subjects of the training windows */
	if ((rows = malloc(sizeof(int) * ((size_t)c->n_subjects + 1))) == NULL ||
	    (subj_names = calloc((size_t)c->n_subjects + 1, sizeof(char *))) ==
	    NULL)
		goto nomem;
	for (i = 0; i < c->n_subjects; i++)
		rows[i] = -1;
	for (w = 0; w < ts->n; w++)
		if (ts->w[w].id_ok && rows[ts->w[w].subject] < 0)
			rows[ts->w[w].subject] = 0;
	for (i = 0; i < c->n_subjects; i++)
		if (rows[i] == 0) {
			rows[i] = n_rows;
			subj_names[n_rows++] = c->subjects[i];
		}
	if (n_rows < 2) {
		dt_error_set(&err, DT_E_INVALID, "training data: %d subjects "
		    "with usable windows", n_rows);
		goto fail;
	}
	if (c->n_activities > 0) {
		n_act = c->n_activities;
		act_names = c->activities;
	} else {
		static char *unl[] = { "unlabelled" };

		n_act = 1;
		act_names = unl;
	}
	if (m == NULL) {
		if (nn_model_create(&o.hp, n_rows, n_act,
		    (const char *const *)act_names, o.seed, &m, &err) != 0)
			goto fail;
	} else if (m->n_activities != n_act) {
		dt_error_set(&err, DT_E_INVALID, "--init %s: %d activities, the "
		    "training data have %d", o.init, m->n_activities, n_act);
		goto fail;
	} else if (m->n_subjects != n_rows) {
		/* fine-tuning on other people: the trunk and both heads of
		 * the initial model, a new classifier for these subjects */
		struct nn_model *fresh = NULL;
		int k;

		if (nn_model_create(&o.hp, n_rows, n_act,
		    (const char *const *)m->activities, o.seed, &fresh,
		    &err) != 0)
			goto fail;
		k = nn_model_copy_weights(fresh, m, "id_head.classifier.weight");
		fprintf(stderr, "retrain: --init %s: %d tensors kept, a new "
		    "classifier for %d subjects (it had %d)\n", o.init, k,
		    n_rows, m->n_subjects);
		nn_model_free(m);
		m = fresh;
	}
	{
		json_t *a = json_array();

		for (i = 0; i < n_rows; i++)
			json_array_append_new(a, json_string(subj_names[i]));
		if (set_meta_json(m, "subjects", a, &err) != 0) {
			json_decref(a);
			goto fail;
		}
		json_decref(a);
	}

	/* labels; windows with neither label are left out */
	if ((idx = malloc(sizeof(size_t) * (ts->n + 1))) == NULL ||
	    (st = calloc((size_t)c->n_activities + 1, sizeof(*st))) == NULL)
		goto nomem;
	for (w = 0; w < ts->n; w++)
		if (ts->w[w].id_ok || ts->w[w].activity >= 0)
			idx[n_use++] = w;
	if ((ord = malloc(sizeof(size_t) * (n_use + 1))) == NULL)
		goto nomem;
	memcpy(ord, idx, sizeof(size_t) * n_use);
	data_set_activity_stats(ts, st);
	jo = json_object();
	for (i = 0; i <= c->n_activities; i++) {
		json_t *x1;

		if (st[i].n_windows == 0)
			continue;
		fprintf(stderr, "retrain: %-10s %7zu windows reach the network "
		    "(activity%s), %5.1f %% of them pass the identity gate\n",
		    i < c->n_activities ? c->activities[i] : "(none)",
		    st[i].n_windows, i < c->n_activities ? "" : ": none",
		    100.0 * (double)st[i].n_id_ok / (double)st[i].n_windows);
		x1 = json_object();
		json_object_set_new(x1, "windows", json_integer(
		    (json_int_t)st[i].n_windows));
		json_object_set_new(x1, "identity_gate_pass_frac", json_real(
		    (double)st[i].n_id_ok / (double)st[i].n_windows));
		json_object_set_new(jo, i < c->n_activities ?
		    c->activities[i] : "unlabelled", x1);
	}
	if (set_meta_json(m, "train.windows_by_activity", jo, &err) != 0) {
		json_decref(jo);
		goto fail;
	}
	json_decref(jo);
	steps_per_epoch = (int)(n_use / (size_t)o.batch);
	if (steps_per_epoch < 1) {
		dt_error_set(&err, DT_E_INVALID, "%zu training windows: fewer "
		    "than one batch of %d", n_use, o.batch);
		goto fail;
	}
	fprintf(stderr, "retrain: %zu training windows (%d subjects, %d "
	    "activities), %zu validation windows, %d steps per epoch\n", n_use,
	    n_rows, c->n_activities, vs ? vs->n : 0, steps_per_epoch);

	nn_train_opts_default(&to);
	to.batch = o.batch;
	to.total_steps = steps_per_epoch * o.epochs;
	to.warmup_steps = steps_per_epoch * o.warmup_epochs;
	to.lr = o.lr;
	to.weight_decay = o.wd;
	to.cosface_s = o.scale;
	to.cosface_m = o.margin;
	to.gradnorm = o.gradnorm;
	to.fixed_w_id = o.task_w[0];
	to.fixed_w_act = o.task_w[1];
	to.gradnorm_alpha = o.alpha;
	to.gradnorm_lr = o.gn_lr;
	to.gradnorm_features = o.gn_features;
	to.seed = o.seed;
	if (nn_trainer_create(m, &to, &t, &err) != 0)
		goto fail;
	dt_rng_seed(&rng, o.seed ^ DATA_SEED_SALT);
	if (o.resume != NULL) {
		struct rt_loop rl;

		if (rt_ckpt_load(o.resume, t, &rl, &best_buf, &best_len,
		    &err) != 0)
			goto fail;
		start_ep = rl.epoch;
		rng = rl.rng;
		json_decref(curves);
		curves = rl.curves;
		best = rl.best;
		best_epoch = rl.best_epoch;
		bad = rl.bad_epochs;
		/* the checkpoint's weights and task weights, also when no
		 * epoch is left to run (else a fresh initialisation would be
		 * written when the last epoch was the best) */
		if (nn_trainer_export(t, m, &err) != 0)
			goto fail;
		{
			const char *wi = nn_model_meta(m, "gradnorm.w_id"),
			    *wa = nn_model_meta(m, "gradnorm.w_act");

			last.w_id = wi ? strtof(wi, NULL) : 1.0f;
			last.w_act = wa ? strtof(wa, NULL) : 1.0f;
		}
		fprintf(stderr, "retrain: resumed %s after epoch %d\n",
		    o.resume, start_ep);
	}
	if ((x = malloc(sizeof(float) * (size_t)o.batch * o.hp.window)) ==
	    NULL || (yid = malloc(sizeof(int) * (size_t)o.batch)) == NULL ||
	    (yact = malloc(sizeof(int) * (size_t)o.batch)) == NULL)
		goto nomem;

	stop = NULL;
	for (ep = start_ep; ep < o.epochs && stop == NULL; ep++) {
		double e0 = admin_now(), last_print = e0, sl_id = 0, sl_act = 0;
		long c_id = 0, n_id = 0, c_act = 0, n_act_s = 0, nb_id = 0,
		    nb_act = 0;
		struct val_res vr;
		json_t *cj;
		double score;
		bool id_val, act_val;
		int s, b;

		best_changed = 0;
		if (o.balance)
			balanced_epoch(ts, idx, ord, n_use, c->n_manifests,
			    &rng);
		else
			dt_rng_shuffle(ord, n_use, &rng);
		for (s = 0; s < steps_per_epoch; s++) {
			const size_t *bi = ord + (size_t)s * o.batch;
			double now, el, rate, eta;

			data_set_batch(ts, bi, o.batch, &o.aug, &rng, x);
			for (b = 0; b < o.batch; b++) {
				const struct data_win *wi = &ts->w[bi[b]];

				yid[b] = wi->id_ok ? rows[wi->subject] : -1;
				yact[b] = wi->activity;
			}
			if (nn_trainer_step(t, x, yid, yact, o.batch, &last,
			    &err) != 0)
				goto fail;
			if (last.n_id > 0) {
				sl_id += last.loss_id;
				nb_id++;
			}
			if (last.n_act > 0) {
				sl_act += last.loss_act;
				nb_act++;
			}
			c_id += last.correct_id;
			n_id += last.n_id;
			c_act += last.correct_act;
			n_act_s += last.n_act;
			now = admin_now();
			el = now - e0;
			rate = el > 0 ? (double)(s + 1) * o.batch / el : 0;
			eta = rate > 0 ? ((double)(o.epochs - ep - 1) *
			    steps_per_epoch + (steps_per_epoch - s - 1)) *
			    o.batch / rate : 0;
			if ((tty && now - last_print >= 0.25) || (!tty &&
			    ((s + 1) % (steps_per_epoch / 4 ? steps_per_epoch / 4
			    : 1) == 0 || now - last_print >= 30)) ||
			    s + 1 == steps_per_epoch) {
				fmt_time(eta, tb, sizeof(tb));
				fprintf(stderr, "%sepoch %d/%d step %d/%d  L_id "
				    "%.4f L_act %.4f  w_id %.3f w_act %.3f  lr "
				    "%.2e  %.0f win/s  ETA %s%s", tty ? "\r" : "",
				    ep + 1, o.epochs, s + 1, steps_per_epoch,
				    nb_id ? sl_id / nb_id : NAN,
				    nb_act ? sl_act / nb_act : NAN, last.w_id,
				    last.w_act, last.lr, rate, tb,
				    tty ? "\033[K" : "\n");
				last_print = now;
			}
			if (now - t_start > max_s) {
				stop = "time budget (--max-minutes) reached";
				break;
			}
		}
		if (tty)
			fputc('\n', stderr);
		if (nn_trainer_export(t, m, &err) != 0 ||
		    validate(m, vs, rows, &vr, &err) != 0)
			goto fail;
		cj = json_object();
		json_object_set_new(cj, "epoch", json_integer(ep + 1));
		json_object_set_new(cj, "loss_id", jnum(nb_id ? sl_id / nb_id :
		    NAN));
		json_object_set_new(cj, "loss_act", jnum(nb_act ? sl_act / nb_act
		    : NAN));
		json_object_set_new(cj, "train_id_acc", jnum(n_id ?
		    (double)c_id / n_id : NAN));
		json_object_set_new(cj, "train_act_acc", jnum(n_act_s ?
		    (double)c_act / n_act_s : NAN));
		json_object_set_new(cj, "w_id", json_real(last.w_id));
		json_object_set_new(cj, "w_act", json_real(last.w_act));
		json_object_set_new(cj, "lr", json_real(last.lr));
		json_object_set_new(cj, "val_id_acc", jnum(vr.id_acc));
		json_object_set_new(cj, "val_act_acc", jnum(vr.act_acc));
		json_object_set_new(cj, "seconds", json_real(admin_now() - e0));
		json_array_append_new(curves, cj);
		fmt_time(admin_now() - t_start, tb2, sizeof(tb2));
		fprintf(stderr, "epoch %d/%d done in %.0f s (total %s): L_id "
		    "%.4f L_act %.4f train acc id %.4f act %.4f | val acc id "
		    "%.4f (%zu) act %.4f (%zu) | w %.3f/%.3f\n", ep + 1,
		    o.epochs, admin_now() - e0, tb2, nb_id ? sl_id / nb_id : NAN,
		    nb_act ? sl_act / nb_act : NAN,
		    n_id ? (double)c_id / n_id : NAN,
		    n_act_s ? (double)c_act / n_act_s : NAN, vr.id_acc, vr.n_id,
		    vr.act_acc, vr.n_act, last.w_id, last.w_act);
		/* a task held at weight 0 does not train: its accuracy would
		 * only add noise to the choice of epoch */
		id_val = isfinite(vr.id_acc) && (o.gradnorm || o.task_w[0] > 0);
		act_val = isfinite(vr.act_acc) &&
		    (o.gradnorm || o.task_w[1] > 0);
		if (vs != NULL && (id_val || act_val)) {
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
			if (score > best) {
				best = score;
				best_epoch = ep + 1;
				bad = 0;
				free(best_buf);
				best_buf = NULL;
				best_changed = 1;
				if (nn_model_save_buffer(m, &best_buf,
				    &best_len, &err) != 0)
					goto fail;
			} else if (++bad > o.patience && o.patience > 0) {
				stop = "early stop: validation did not improve";
			}
		}
		if (o.checkpoint != NULL) {
			struct rt_loop rl = { .epoch = ep + 1, .rng = rng,
			    .curves = curves, .best = best,
			    .best_epoch = best_epoch, .bad_epochs = bad };

			/* the first save of a run writes its best weights */
			if (rt_ckpt_save(o.checkpoint, t, &rl, best_buf,
			    best_len, best_changed || !ck_saved, &err) != 0)
				goto fail;
			ck_saved = 1;
		}
	}
	if (stop != NULL)
		fprintf(stderr, "retrain: %s after epoch %d\n", stop, ep);

	/* the best epoch's weights when validation chose one */
	if (best_buf != NULL && best_epoch != ep) {
		struct nn_model *bm = NULL;

		if (nn_model_load_buffer(best_buf, best_len, "best epoch", &bm,
		    &err) != 0)
			goto fail;
		nn_model_free(m);
		m = bm;
		fprintf(stderr, "retrain: keeping epoch %d (best validation "
		    "%.4f)\n", best_epoch, best);
	}
	{
		json_t *a = json_array(), *hpj = json_object(), *vj;
		char b[64];

		for (i = 0; i < o.n_data; i++) {
			const char *s = strrchr(o.data[i], '/');

			json_array_append_new(a, json_string(s ? s + 1 :
			    o.data[i]));
		}
		if (set_meta_json(m, "train.data", a, &err) != 0) {
			json_decref(a);
			json_decref(hpj);
			goto fail;
		}
		json_decref(a);
		if (strcmp(o.protocol, "p3") == 0) {
			snprintf(b, sizeof(b), "%d", o.fold);
			if (nn_model_set_meta(m, "train.fold", b, &err) != 0) {
				json_decref(hpj);
				goto fail;
			}
			/* evaluate needs it to find the same held-out subjects */
			snprintf(b, sizeof(b), "%d", o.folds);
			if (nn_model_set_meta(m, "train.folds", b, &err) != 0) {
				json_decref(hpj);
				goto fail;
			}
			snprintf(b, sizeof(b), "p3 fold %d of %d", o.fold,
			    o.folds);
		} else if (strcmp(o.protocol, "p2") == 0)
			snprintf(b, sizeof(b), "p2 subjects 1-%d", o.train_max);
		else if (strcmp(o.protocol, "p1") == 0)
			snprintf(b, sizeof(b), "p1 first 80%% of every "
			    "recording");
		else if (strcmp(o.protocol, "open") == 0)
			snprintf(b, sizeof(b), "open: every recording but the "
			    "hold-outs");
		else
			snprintf(b, sizeof(b), "all recordings");
		json_object_set_new(hpj, "protocol", json_string(b));
		json_object_set_new(hpj, "balance", json_boolean(o.balance));
		json_object_set_new(hpj, "gradnorm_at", json_string(
		    o.gn_features ? "features" : "weight"));
		if (o.unlabelled_as != NULL)
			json_object_set_new(hpj, "unlabelled_as",
			    json_string(o.unlabelled_as));
		json_object_set_new(hpj, "epochs", json_integer(o.epochs));
		json_object_set_new(hpj, "epochs_run", json_integer(ep));
		json_object_set_new(hpj, "best_epoch", json_integer(best_epoch));
		json_object_set_new(hpj, "batch", json_integer(o.batch));
		json_object_set_new(hpj, "lr", json_real(o.lr));
		json_object_set_new(hpj, "weight_decay", json_real(o.wd));
		json_object_set_new(hpj, "warmup_epochs",
		    json_integer(o.warmup_epochs));
		json_object_set_new(hpj, "hop", json_integer(o.hop));
		json_object_set_new(hpj, "id_gate", json_string(
		    ecg_prep_gate_name(o.gate)));
		json_object_set_new(hpj, "cosface_s", json_real(o.scale));
		json_object_set_new(hpj, "cosface_m", json_real(o.margin));
		json_object_set_new(hpj, "gradnorm", json_boolean(o.gradnorm));
		json_object_set_new(hpj, "gradnorm_alpha", json_real(o.alpha));
		json_object_set_new(hpj, "gradnorm_lr", json_real(o.gn_lr));
		if (!o.gradnorm)
			json_object_set_new(hpj, "task_weights", json_pack(
			    "[f,f]", (double)o.task_w[0],
			    (double)o.task_w[1]));
		json_object_set_new(hpj, "augmentation",
		    json_string(o.aug_spec));
		json_object_set_new(hpj, "snr_db", json_real(o.aug.snr_db));
		json_object_set_new(hpj, "val_frac", json_real(o.val_frac));
		json_object_set_new(hpj, "patience", json_integer(o.patience));
		json_object_set_new(hpj, "seed", json_integer(seed_i));
		json_object_set_new(hpj, "threads", json_integer(o.threads));
		json_object_set_new(hpj, "n_train_windows",
		    json_integer((json_int_t)n_use));
		json_object_set_new(hpj, "seconds", json_real(admin_now() -
		    t_start));
		if (set_meta_json(m, "train.hyperparameters", hpj, &err) != 0) {
			json_decref(hpj);
			goto fail;
		}
		json_decref(hpj);
		if (set_meta_json(m, "train.curves", curves, &err) != 0 ||
		    nn_model_set_meta(m, "train.protocol", b, &err) != 0 ||
		    nn_model_set_meta(m, "prep.id_gate",
		    ecg_prep_gate_name(o.gate), &err) != 0 ||
		    set_meta_f(m, "train.gradnorm_final_w_id", last.w_id,
		    &err) != 0 ||
		    set_meta_f(m, "train.gradnorm_final_w_act", last.w_act,
		    &err) != 0)
			goto fail;
		vj = json_object();
		if (best_epoch > 0) {
			json_t *bc = json_array_get(curves,
			    (size_t)best_epoch - 1);

			json_object_set(vj, "val_id_acc", json_object_get(bc,
			    "val_id_acc"));
			json_object_set(vj, "val_act_acc", json_object_get(bc,
			    "val_act_acc"));
			json_object_set_new(vj, "epoch",
			    json_integer(best_epoch));
		}
		if (set_meta_json(m, "train.validation", vj, &err) != 0) {
			json_decref(vj);
			goto fail;
		}
		json_decref(vj);
	}
	if (nn_model_save(m, o.out, &err) != 0)
		goto fail;
	fmt_time(admin_now() - t_start, tb, sizeof(tb));
	fprintf(stderr, "retrain: wrote %s (%s)\n", o.out, tb);
	rc = ADMIN_EXIT_OK;
	goto out;
nomem:
	dt_error_set(&err, DT_E_NOMEM, "out of memory");
fail:
	fprintf(stderr, "dt4ecg-admin retrain: %s\n", err.msg);
out:
	if (x != NULL)
		explicit_bzero(x, sizeof(float) * (size_t)o.batch * o.hp.window);
	free(x);
	free(yid);
	free(yact);
	free(idx);
	free(ord);
	free(st);
	free(rows);
	free(subj_names);
	free(rtr);
	free(rte);
	free(held);
	free(best_buf);
	json_decref(curves);
	nn_trainer_free(t);
	nn_model_free(m);
	data_noise_free(nz);
	data_set_free(ts);
	data_set_free(vs);
	data_ranges_free(&base);
	data_ranges_free(&tr);
	data_ranges_free(&va);
	data_p2_free(&p2);
	data_corpus_free(c);
	store_close(store);
	return rc;
}

/*
 * nn/train.c — the DT4ECG trainer (nn/train.h): forward in training mode,
 * backward through every layer, masked CosFace + cross-entropy, GradNorm,
 * AdamW with a cosine schedule, export (checkpoints: nn/train_ckpt.c).
 *
 * Everything is built for the batch size at create time: oneDNN primitives
 * bound to fixed buffers, every activation and gradient buffer.  A step
 * allocates nothing.
 *
 * Parameters live in one flat array P (PyTorch names, PyTorch layouts; conv
 * weights [out][in][k] are what oneDNN calls oiw, so its primitives read them
 * in place or through one reorder per step), gradients in G, AdamW moments
 * in M and V.  BN running statistics are a second flat array R.
 *
 * Choices:
 *  - AdamW weight decay applies to convolution, fc and classifier weights and
 *    the SCA convolution; not to BN weights/biases nor to any bias.
 *  - As torch.optim.AdamW with set_to_none: a head whose task has no label in
 *    the batch has no gradient and is not touched (no decay, no moment update,
 *    its own step count for bias correction).
 *  - GradNorm runs only when both tasks have labels in the batch; with one
 *    task the loss is w_t L_t with the current weights, which stay.  L_i(0) is
 *    the loss of the first batch that has task i.  A batch without any label
 *    changes nothing but the BN running statistics (as the PyTorch peer).
 *  - BN of the identity head needs at least 2 windows: n >= 2.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "nn/model.h"
#include "nn/train.h"
#include "nn/train_internal.h"
#include "nn/train_layers.h"
#include "nn/trainer.h"
#include "util/error.h"

void
nn_train_opts_default(struct nn_train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->batch = 64;
	o->total_steps = 1000;
	o->warmup_steps = 0;
	o->lr = 1e-3f;
	o->weight_decay = 1e-4f;
	o->cosface_s = 30.0f;
	o->cosface_m = 0.2f;
	o->subcentres = 1;
	o->dropout = 0.2f;
	o->gradnorm = true;
	o->fixed_w_id = o->fixed_w_act = 1.0f;
	o->gradnorm_alpha = 1.5f;
	o->gradnorm_lr = 1e-3f;	/* the peer's default: the model's lr */
	o->seed = 1;
}

/* ---- parameters ------------------------------------------------------------ */

static int
add_param(struct nn_trainer *t, const struct nn_model *m, const char *name,
    size_t numel, bool decay, enum task task, struct dt_error *err)
{
	struct param *p;

	(void)m;
	if (t->n_prm >= MAX_PARAMS)
		return dt_error_set(err, DT_E_INTERNAL, "too many parameters");
	p = &t->prm[t->n_prm];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->numel = numel;
	p->off = t->n_floats;
	p->decay = decay;
	p->task = task;
	t->n_floats += (numel + 15) / 16 * 16;	/* 64-byte aligned */
	return t->n_prm++;
}

static int
add_buf(struct nn_trainer *t, const char *name, size_t numel, size_t *off,
    struct dt_error *err)
{
	struct param *p;

	if (t->n_buf >= (int)(sizeof(t->buf) / sizeof(t->buf[0])))
		return dt_error_set(err, DT_E_INTERNAL, "too many buffers");
	p = &t->buf[t->n_buf++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->numel = numel;
	p->off = t->n_rfloats;
	*off = p->off;
	t->n_rfloats += numel;
	return 0;
}

/* BN affine parameters and running statistics under `prefix`. */
static int
add_bn(struct nn_trainer *t, const struct nn_model *m, const char *prefix,
    int C, enum task task, int *gi, int *bi, size_t *rm, size_t *rv,
    struct dt_error *err)
{
	char n[96];

	snprintf(n, sizeof(n), "%s.weight", prefix);
	if ((*gi = add_param(t, m, n, (size_t)C, false, task, err)) < 0)
		return -1;
	snprintf(n, sizeof(n), "%s.bias", prefix);
	if ((*bi = add_param(t, m, n, (size_t)C, false, task, err)) < 0)
		return -1;
	snprintf(n, sizeof(n), "%s.running_mean", prefix);
	if (add_buf(t, n, (size_t)C, rm, err) != 0)
		return -1;
	snprintf(n, sizeof(n), "%s.running_var", prefix);
	if (add_buf(t, n, (size_t)C, rv, err) != 0)
		return -1;
	return 0;
}

static int
define_params(struct nn_trainer *t, const struct nn_model *m,
    struct dt_error *err)
{
	const struct nn_hparams *hp = &t->hp;
	char n[96];
	int i, cin = hp->stem_channels;

#define P_(idx, nm, cnt, dec, task)                                          \
	do {                                                                 \
		if (((idx) = add_param(t, m, (nm), (size_t)(cnt), (dec), (task), \
		    err)) < 0)                                               \
			return -1;                                           \
	} while (0)
	P_(t->i_stem_w, "stem.conv.weight", hp->stem_channels * hp->stem_kernel,
	    true, T_SHARED);
	if (add_bn(t, m, "stem.bn", hp->stem_channels, T_SHARED, &t->i_stem_g,
	    &t->i_stem_b, &t->stem_rm, &t->stem_rv, err) != 0)
		return -1;
	for (i = 0; i < hp->n_stages; i++) {
		struct stage *s = &t->st[i];
		const int C = hp->stage_channels[i], K = hp->kernel;
		const int H = C / hp->sca_reduction;

		snprintf(n, sizeof(n), "stages.%d.conv1.weight", i);
		P_(s->w1, n, C * cin * K, true, T_SHARED);
		snprintf(n, sizeof(n), "stages.%d.bn1", i);
		if (add_bn(t, m, n, C, T_SHARED, &s->g1, &s->b1, &s->rm1,
		    &s->rv1, err) != 0)
			return -1;
		snprintf(n, sizeof(n), "stages.%d.conv2.weight", i);
		P_(s->w2, n, C * C * K, true, T_SHARED);
		snprintf(n, sizeof(n), "stages.%d.bn2", i);
		if (add_bn(t, m, n, C, T_SHARED, &s->g2, &s->b2, &s->rm2,
		    &s->rv2, err) != 0)
			return -1;
		snprintf(n, sizeof(n), "stages.%d.down.conv.weight", i);
		P_(s->wd, n, C * cin, true, T_SHARED);
		snprintf(n, sizeof(n), "stages.%d.down.bn", i);
		if (add_bn(t, m, n, C, T_SHARED, &s->gd, &s->bd, &s->rmd,
		    &s->rvd, err) != 0)
			return -1;
		snprintf(n, sizeof(n), "stages.%d.sca.fc1.weight", i);
		P_(s->f1w, n, H * C, true, T_SHARED);
		snprintf(n, sizeof(n), "stages.%d.sca.fc1.bias", i);
		P_(s->f1b, n, H, false, T_SHARED);
		snprintf(n, sizeof(n), "stages.%d.sca.fc2.weight", i);
		P_(s->f2w, n, C * H, true, T_SHARED);
		snprintf(n, sizeof(n), "stages.%d.sca.fc2.bias", i);
		P_(s->f2b, n, C, false, T_SHARED);
		snprintf(n, sizeof(n), "stages.%d.sca.seq.weight", i);
		P_(s->sqw, n, 2 * hp->seq_kernel, true, T_SHARED);
		snprintf(n, sizeof(n), "stages.%d.sca.seq.bias", i);
		P_(s->sqb, n, 1, false, T_SHARED);
		cin = C;
	}
	P_(t->i_idfc_w, "id_head.fc.weight", t->E * cin, true, T_ID);
	P_(t->i_idfc_b, "id_head.fc.bias", t->E, false, T_ID);
	if (add_bn(t, m, "id_head.bn", t->E, T_ID, &t->i_idbn_g, &t->i_idbn_b,
	    &t->id_rm, &t->id_rv, err) != 0)
		return -1;
	P_(t->i_cls, "id_head.classifier.weight", t->n_subj * t->K * t->E,
	    true, T_ID);
	P_(t->i_a1w, "act_head.fc1.weight", t->Hd * cin, true, T_ACT);
	P_(t->i_a1b, "act_head.fc1.bias", t->Hd, false, T_ACT);
	P_(t->i_a2w, "act_head.fc2.weight", t->n_act * t->Hd, true, T_ACT);
	P_(t->i_a2b, "act_head.fc2.bias", t->n_act, false, T_ACT);
#undef P_
	return 0;
}

static float *
PP(struct nn_trainer *t, int i)
{
	return t->P + t->prm[i].off;
}

static float *
GG(struct nn_trainer *t, int i)
{
	return t->G + t->prm[i].off;
}

/* Values of parameter or buffer I in the model: the classifier has one row
 * per subject there, K here. */
static size_t
model_numel(const struct nn_trainer *t, int i)
{
	const struct param *p = i < t->n_prm ? &t->prm[i] :
	    &t->buf[i - t->n_prm];

	return i == t->i_cls ? p->numel / (size_t)t->K : p->numel;
}

/*
 * The model's classifier rows into the trainer's: sub-centre 0 of a subject
 * starts at its row (kept or imprinted by the caller), the others at random
 * directions of the same norm, so that they collect what the first does not
 * fit.  Its own random stream: K = 1 draws nothing and the dropout masks
 * stay those of plain CosFace.
 */
static void
cls_expand(struct nn_trainer *t, const float *rows)
{
	float *P = PP(t, t->i_cls);
	const int E = t->E, K = t->K;
	struct dt_rng r;
	int j, k, c;

	dt_rng_seed(&r, t->o.seed ^ 0x5355424345ULL);
	for (j = 0; j < t->n_subj; j++) {
		const float *src = rows + (size_t)j * E;
		double q = 0.0, qr;

		for (c = 0; c < E; c++)
			q += (double)src[c] * src[c];
		memcpy(P + (size_t)j * K * E, src, sizeof(float) * E);
		for (k = 1; k < K; k++) {
			float *dst = P + ((size_t)j * K + k) * E;

			qr = 0.0;
			for (c = 0; c < E; c++) {
				dst[c] = (float)dt_rng_normal(&r);
				qr += (double)dst[c] * dst[c];
			}
			for (c = 0; c < E; c++)
				dst[c] = (float)(dst[c] * sqrt(q / fmax(qr,
				    1e-30)));
		}
	}
}

/* Copies the model's tensors into P and R. */
static int
load_from_model(struct nn_trainer *t, const struct nn_model *m,
    struct dt_error *err)
{
	int i;

	for (i = 0; i < t->n_prm + t->n_buf; i++) {
		const struct param *p = i < t->n_prm ? &t->prm[i] :
		    &t->buf[i - t->n_prm];
		float *dst = i < t->n_prm ? t->P + p->off : t->R + p->off;
		const struct nn_tensor *x = nn_model_tensor(m, p->name);

		if (x == NULL || x->numel != model_numel(t, i))
			return dt_error_set(err, DT_E_FORMAT,
			    "tensor %s: %s (expected %zu values)", p->name,
			    x ? "wrong size" : "missing", model_numel(t, i));
		if (i == t->i_cls && t->K > 1)
			cls_expand(t, x->data);
		else
			memcpy(dst, x->data, sizeof(float) * p->numel);
	}
	return 0;
}

/* ---- create ------------------------------------------------------------------ */

#define ALLOC(ptr, count)                                                    \
	do {                                                                 \
		if (((ptr) = nn_tl_alloc((size_t)(count))) == NULL) {        \
			dt_error_set(err, DT_E_NOMEM, "trainer: out of memory"); \
			goto fail;                                           \
		}                                                            \
	} while (0)

static int
build(struct nn_trainer *t, struct dt_error *err)
{
	const struct nn_hparams *hp = &t->hp;
	const int N = t->N, W = hp->window, C0 = hp->stem_channels;
	const int Ks = hp->stem_kernel;
	size_t scratch = 0, maxc = (size_t)C0;
	float *in, *din1 = NULL, *din2 = NULL;
	int i, L = W / 2, cin = C0;

	ALLOC(t->P, t->n_floats);
	ALLOC(t->G, t->n_floats);
	ALLOC(t->M, t->n_floats);
	ALLOC(t->V, t->n_floats);
	if ((t->pstep = calloc((size_t)t->n_prm, sizeof(int64_t))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "trainer: out of memory");
		goto fail;
	}
	ALLOC(t->R, t->n_rfloats);

	ALLOC(t->xp, (size_t)N * (W + Ks - 1));
	ALLOC(t->wt, (size_t)Ks * C0);
	ALLOC(t->dwt, (size_t)Ks * C0);
	ALLOC(t->stem_acc, (size_t)t->nthreads * Ks * C0);
	ALLOC(t->sconv, (size_t)N * C0 * W);
	ALLOC(t->srelu, (size_t)N * C0 * W);
	ALLOC(t->dsrelu, (size_t)N * C0 * W);
	ALLOC(t->p0, (size_t)N * C0 * L);
	ALLOC(t->smean, C0);
	ALLOC(t->sis, C0);

	in = t->p0;
	for (i = 0; i < hp->n_stages; i++) {
		struct stage *s = &t->st[i];
		const int C = hp->stage_channels[i], K = hp->kernel;
		const int Lo = (L + 2 * (K / 2) - K) / 2 + 1;
		const size_t sz = (size_t)N * C * Lo;

		s->cin = cin;
		s->C = C;
		s->lin = L;
		s->L = Lo;
		s->H = C / hp->sca_reduction;
		if ((size_t)C > maxc)
			maxc = (size_t)C;
		ALLOC(s->c1o, sz);
		ALLOC(s->r1, sz);
		ALLOC(s->c2o, sz);
		ALLOC(s->cdo, sz);
		ALLOC(s->z, sz);
		ALLOC(s->out, sz);
		ALLOC(s->dc1, sz);
		ALLOC(s->dc2, sz);
		ALLOC(s->dcd, sz);
		ALLOC(s->dz, sz);
		ALLOC(s->din1, (size_t)N * cin * L);
		ALLOC(s->din2, (size_t)N * cin * L);
		ALLOC(s->mean1, C);
		ALLOC(s->is1, C);
		ALLOC(s->mean2, C);
		ALLOC(s->is2, C);
		ALLOC(s->meand, C);
		ALLOC(s->isd, C);
		if (nn_tl_sca_init(&s->sca, N, C, Lo, s->H, hp->seq_kernel,
		    err) != 0)
			goto fail;
		s->sca.fc1_w = PP(t, s->f1w);
		s->sca.fc1_b = PP(t, s->f1b);
		s->sca.fc2_w = PP(t, s->f2w);
		s->sca.fc2_b = PP(t, s->f2b);
		s->sca.seq_w = PP(t, s->sqw);
		s->sca.seq_b = PP(t, s->sqb);
		if (nn_tl_conv_create(&s->c1, t->eng, N, cin, C, K, 2, K / 2, L,
		    in, s->c1o, PP(t, s->w1), GG(t, s->w1), s->din1, s->dc1,
		    err) != 0 ||
		    nn_tl_conv_create(&s->c2, t->eng, N, C, C, K, 1, K / 2, Lo,
		    s->r1, s->c2o, PP(t, s->w2), GG(t, s->w2), s->dc1, s->dc2,
		    err) != 0 ||
		    nn_tl_conv_create(&s->cd, t->eng, N, cin, C, 1, 2, 0, L,
		    in, s->cdo, PP(t, s->wd), GG(t, s->wd), s->din2, s->dcd,
		    err) != 0)
			goto fail;
		if (s->c1.lout != Lo || s->cd.lout != Lo) {
			dt_error_set(err, DT_E_INTERNAL,
			    "stage %d: lengths disagree", i);
			goto fail;
		}
		if (s->c1.scratch_size > scratch)
			scratch = s->c1.scratch_size;
		if (s->c2.scratch_size > scratch)
			scratch = s->c2.scratch_size;
		if (s->cd.scratch_size > scratch)
			scratch = s->cd.scratch_size;
		in = s->out;
		L = Lo;
		cin = C;
	}
	(void)din1;
	(void)din2;
	if (nn_tl_scratch_create(t->eng, scratch, &t->scratch, err) != 0)
		goto fail;
	for (i = 0; i < hp->n_stages; i++) {
		nn_tl_conv_bind_scratch(&t->st[i].c1, t->scratch);
		nn_tl_conv_bind_scratch(&t->st[i].c2, t->scratch);
		nn_tl_conv_bind_scratch(&t->st[i].cd, t->scratch);
	}

	t->Cl = cin;
	ALLOC(t->f, (size_t)N * cin);
	ALLOC(t->df, (size_t)N * cin);
	ALLOC(t->df_id, (size_t)N * cin);
	ALLOC(t->df_act, (size_t)N * cin);
	ALLOC(t->epre, (size_t)N * t->E);
	ALLOC(t->e, (size_t)N * t->E);
	ALLOC(t->emean, t->E);
	ALLOC(t->eis, t->E);
	ALLOC(t->de, (size_t)N * t->E);
	ALLOC(t->depre, (size_t)N * t->E);
	ALLOC(t->cos_work, nn_tl_cosface_work(N, t->E, t->n_subj, t->K));
	ALLOC(t->sub_hits, (size_t)t->n_subj * t->K);
	if (t->o.ema_decay > 0) {
		ALLOC(t->avg_P, t->n_floats);
		ALLOC(t->avg_R, t->n_rfloats);
	}
	if ((t->cos_arg = calloc((size_t)N * t->n_subj, sizeof(int))) ==
	    NULL) {
		dt_error_set(err, DT_E_NOMEM, "trainer: out of memory");
		goto fail;
	}
	ALLOC(t->h, (size_t)N * t->Hd);
	ALLOC(t->hr, (size_t)N * t->Hd);
	ALLOC(t->drop, (size_t)N * t->Hd);
	ALLOC(t->dhr, (size_t)N * t->Hd);
	ALLOC(t->logits, (size_t)N * t->n_act);
	ALLOC(t->dlog, (size_t)N * t->n_act);
	ALLOC(t->bn_ws, 2 * maxc);
	{
		const struct param *w = &t->prm[t->st[hp->n_stages - 1].w2];

		ALLOC(t->gw_id, w->numel);
		ALLOC(t->gw_act, w->numel);
	}
	return 0;
fail:
	return -1;
}

int
nn_trainer_create(const struct nn_model *m, const struct nn_train_opts *o,
    struct nn_trainer **out, struct dt_error *err)
{
	struct nn_trainer *t;
	int i;

	if (m == NULL || o == NULL)
		return dt_error_set(err, DT_E_INVALID, "trainer: no model");
	if (nn_hparams_check(&m->hp, err) != 0)
		return -1;
	if (o->batch < 2 || o->batch > 65536)
		return dt_error_set(err, DT_E_INVALID,
		    "trainer: batch %d outside 2..65536", o->batch);
	if (m->n_activities < 1 || m->n_subjects < 1)
		return dt_error_set(err, DT_E_INVALID,
		    "trainer: the model needs subjects and activities");
	if (!(o->lr > 0) || !(o->weight_decay >= 0) || !(o->dropout >= 0) ||
	    !(o->dropout < 1) || !(o->cosface_s > 0) || o->total_steps < 1 ||
	    o->warmup_steps < 0 || !(o->gradnorm_lr >= 0) ||
	    o->subcentres < 1 || o->subcentres > NN_MAX_SUBCENTRES ||
	    !(o->gradnorm_alpha >= 0) || !(o->fixed_w_id >= 0) ||
	    !(o->fixed_w_act >= 0) || !(o->fixed_w_id + o->fixed_w_act > 0) ||
	    !(o->ema_decay >= 0) || !(o->ema_decay < 1))
		return dt_error_set(err, DT_E_INVALID,
		    "trainer: invalid options (lr, weight decay, dropout, "
		    "cosface s, sub-centres, steps, GradNorm settings or "
		    "EMA decay)");
	if (m->hp.stem_channels % NN_TB)
		return dt_error_set(err, DT_E_UNSUPPORTED,
		    "trainer: stem_channels %d is not a multiple of %d",
		    m->hp.stem_channels, NN_TB);
	for (i = 0; i < m->hp.n_stages; i++)
		if (m->hp.stage_channels[i] % NN_TB)
			return dt_error_set(err, DT_E_UNSUPPORTED,
			    "trainer: stage_channels[%d] = %d is not a "
			    "multiple of %d", i, m->hp.stage_channels[i], NN_TB);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	t->hp = m->hp;
	t->o = *o;
	t->N = o->batch;
	t->n_subj = m->n_subjects;
	t->n_act = m->n_activities;
	t->K = o->subcentres;
	t->E = m->hp.embedding_dim;
	t->Hd = m->hp.act_hidden;
	t->nthreads = omp_get_max_threads();
	nn_gradnorm_init(&t->gn, o->gradnorm_alpha);
	if (!o->gradnorm) {
		t->gn.w[0] = o->fixed_w_id;
		t->gn.w[1] = o->fixed_w_act;
	}
	dt_rng_seed(&t->rng, o->seed);
	if (dnnl_engine_create(&t->eng, dnnl_cpu, 0) != dnnl_success ||
	    dnnl_stream_create(&t->strm, t->eng,
	    dnnl_stream_default_flags) != dnnl_success) {
		dt_error_set(err, DT_E_INTERNAL, "oneDNN: no CPU engine");
		goto fail;
	}
	if (define_params(t, m, err) != 0 || build(t, err) != 0 ||
	    load_from_model(t, m, err) != 0)
		goto fail;
	if (t->avg_P != NULL) {	/* the averages start empty */
		memset(t->avg_P, 0, sizeof(float) * t->n_floats);
		memset(t->avg_R, 0, sizeof(float) * t->n_rfloats);
	}
	t->weights_dirty = true;
	*out = t;
	return 0;
fail:
	nn_trainer_free(t);
	return -1;
}

void
nn_trainer_free(struct nn_trainer *t)
{
	int i;

	if (t == NULL)
		return;
	for (i = 0; i < t->hp.n_stages; i++) {
		struct stage *s = &t->st[i];

		nn_tl_conv_destroy(&s->c1);
		nn_tl_conv_destroy(&s->c2);
		nn_tl_conv_destroy(&s->cd);
		nn_tl_sca_free(&s->sca);
		free(s->c1o);
		free(s->r1);
		free(s->c2o);
		free(s->cdo);
		free(s->z);
		free(s->out);
		free(s->dc1);
		free(s->dc2);
		free(s->dcd);
		free(s->dz);
		free(s->din1);
		free(s->din2);
		free(s->mean1);
		free(s->is1);
		free(s->mean2);
		free(s->is2);
		free(s->meand);
		free(s->isd);
	}
	if (t->scratch)
		dnnl_memory_destroy(t->scratch);
	if (t->strm)
		dnnl_stream_destroy(t->strm);
	if (t->eng)
		dnnl_engine_destroy(t->eng);
	/* the input windows are biometric data */
	if (t->xp)
		explicit_bzero(t->xp, sizeof(float) * (size_t)t->N *
		    (t->hp.window + t->hp.stem_kernel - 1));
	free(t->xp);
	free(t->P);
	free(t->G);
	free(t->M);
	free(t->V);
	free(t->pstep);
	free(t->R);
	free(t->wt);
	free(t->dwt);
	free(t->stem_acc);
	free(t->sconv);
	free(t->srelu);
	free(t->dsrelu);
	free(t->p0);
	free(t->smean);
	free(t->sis);
	free(t->f);
	free(t->df);
	free(t->df_id);
	free(t->df_act);
	free(t->epre);
	free(t->e);
	free(t->emean);
	free(t->eis);
	free(t->de);
	free(t->depre);
	free(t->cos_work);
	free(t->cos_arg);
	free(t->sub_hits);
	free(t->avg_P);
	free(t->avg_R);
	free(t->h);
	free(t->hr);
	free(t->drop);
	free(t->dhr);
	free(t->logits);
	free(t->dlog);
	free(t->bn_ws);
	free(t->gw_id);
	free(t->gw_act);
	free(t);
}

/* ---- forward ------------------------------------------------------------------- */

static int
sync_weights(struct nn_trainer *t, struct dt_error *err)
{
	const int C0 = t->hp.stem_channels, K = t->hp.stem_kernel;
	const float *w = PP(t, t->i_stem_w);
	int i, c, k;

	if (!t->weights_dirty)
		return 0;
	for (c = 0; c < C0; c++)
		for (k = 0; k < K; k++)
			t->wt[(size_t)k * C0 + c] = w[(size_t)c * K + k];
	for (i = 0; i < t->hp.n_stages; i++)
		if (nn_tl_conv_sync_weights(&t->st[i].c1, t->strm, err) != 0 ||
		    nn_tl_conv_sync_weights(&t->st[i].c2, t->strm, err) != 0 ||
		    nn_tl_conv_sync_weights(&t->st[i].cd, t->strm, err) != 0)
			return -1;
	t->weights_dirty = false;
	return 0;
}

/* update_stats: move the BN running statistics (not in gradient checks) */
static int
forward(struct nn_trainer *t, const float *x, int n, bool update_stats,
    struct dt_error *err)
{
	const struct nn_hparams *hp = &t->hp;
	const int N = t->N, W = hp->window, K = hp->stem_kernel;
	const int C0 = hp->stem_channels;
	const size_t xs = (size_t)W + K - 1;
	int i;

	if (sync_weights(t, err) != 0)
		return -1;
	for (i = 0; i < N; i++) {
		float *row = t->xp + i * xs + K / 2;

		if (i < n)
			memcpy(row, x + (size_t)i * W, sizeof(float) * W);
		else
			memset(row, 0, sizeof(float) * W);
	}
	nn_tl_stem_fwd(t->xp, t->wt, t->sconv, n, C0, K, W);
	nn_tl_bn_stats(t->sconv, n, C0, W, t->smean, t->sis,
	    update_stats ? t->R + t->stem_rm : NULL, t->R + t->stem_rv,
	    NN_BN_MOMENTUM);
	nn_tl_bn_apply(t->sconv, t->srelu, n, N, C0, W, t->smean, t->sis,
	    PP(t, t->i_stem_g), PP(t, t->i_stem_b), true);
	nn_tl_maxpool2_fwd(t->srelu, t->p0, n, N, C0, W);

	for (i = 0; i < hp->n_stages; i++) {
		struct stage *s = &t->st[i];
		const int C = s->C, L = s->L;

		if (nn_tl_conv_fwd(&s->c1, t->strm, err) != 0 ||
		    nn_tl_conv_fwd(&s->cd, t->strm, err) != 0)
			return -1;
		nn_tl_bn_stats(s->c1o, n, C, L, s->mean1, s->is1,
		    update_stats ? t->R + s->rm1 : NULL, t->R + s->rv1,
		    NN_BN_MOMENTUM);
		nn_tl_bn_apply(s->c1o, s->r1, n, N, C, L, s->mean1, s->is1,
		    PP(t, s->g1), PP(t, s->b1), true);
		if (nn_tl_conv_fwd(&s->c2, t->strm, err) != 0)
			return -1;
		nn_tl_bn_stats(s->c2o, n, C, L, s->mean2, s->is2,
		    update_stats ? t->R + s->rm2 : NULL, t->R + s->rv2,
		    NN_BN_MOMENTUM);
		nn_tl_bn_stats(s->cdo, n, C, L, s->meand, s->isd,
		    update_stats ? t->R + s->rmd : NULL, t->R + s->rvd,
		    NN_BN_MOMENTUM);
		nn_tl_bn2_add_relu(s->c2o, s->cdo, s->z, n, N, C, L, s->mean2,
		    s->is2, PP(t, s->g2), PP(t, s->b2), s->meand, s->isd,
		    PP(t, s->gd), PP(t, s->bd));
		nn_tl_sca_fwd(&s->sca, s->z, s->out, n);
	}
	{
		const struct stage *s = &t->st[hp->n_stages - 1];

		nn_tl_gap_fwd(s->out, t->f, n, N, s->C, s->L);
	}
	/* identity head: BN_e(fc(f)) */
	nn_tl_fc_fwd(t->f, PP(t, t->i_idfc_w), PP(t, t->i_idfc_b), t->epre, n,
	    t->Cl, t->E);
	nn_tl_bn1d_fwd(t->epre, t->e, n, t->E, PP(t, t->i_idbn_g),
	    PP(t, t->i_idbn_b), t->emean, t->eis,
	    update_stats ? t->R + t->id_rm : NULL, t->R + t->id_rv,
	    NN_BN_MOMENTUM);
	/* activity head: fc2(dropout(relu(fc1(f)))) */
	nn_tl_fc_fwd(t->f, PP(t, t->i_a1w), PP(t, t->i_a1b), t->h, n, t->Cl,
	    t->Hd);
	if (!t->drop_frozen || !t->drop_ready) {
		const float p = t->o.dropout, keep = 1.0f / (1.0f - p);
		size_t j;

		for (j = 0; j < (size_t)N * t->Hd; j++)
			t->drop[j] = p > 0 && dt_rng_uniformf(&t->rng, 0.0f,
			    1.0f) < p ? 0.0f : keep;
		t->drop_ready = true;
	}
	{
		size_t j;

		for (j = 0; j < (size_t)n * t->Hd; j++)
			t->hr[j] = (t->h[j] > 0.0f ? t->h[j] : 0.0f) *
			    t->drop[j];
	}
	nn_tl_fc_fwd(t->hr, PP(t, t->i_a2w), PP(t, t->i_a2b), t->logits, n,
	    t->Hd, t->n_act);
	return 0;
}

/* ---- backward ------------------------------------------------------------------- */

/*
 * Losses and the heads' backward: df_id = dL_id/df, df_act = dL_act/df
 * (unweighted); the heads' parameter gradients get w_i dL_i/dparam.
 */
static void
heads_backward(struct nn_trainer *t, const int *y_id, const int *y_act,
    int n, float w_id, float w_act, bool count_hits, double *L_id,
    double *L_act, struct nn_step_stats *st)
{
	const int N = t->N;
	size_t j;

	count_hits = count_hits && t->K > 1;
	if (count_hits)	/* dominance follows the last ~1,000 steps */
		for (j = 0; j < (size_t)t->n_subj * t->K; j++)
			t->sub_hits[j] *= 0.999f;
	*L_id = nn_tl_cosface(t->e, PP(t, t->i_cls), y_id, n, N, t->E,
	    t->n_subj, t->K, t->o.cosface_s, t->o.cosface_m, t->de,
	    GG(t, t->i_cls), w_id, &st->n_id, &st->correct_id, t->cos_work,
	    t->cos_arg, count_hits ? t->sub_hits : NULL);
	nn_tl_bn1d_bwd(t->epre, t->de, t->depre, n, N, t->E, t->emean, t->eis,
	    PP(t, t->i_idbn_g), GG(t, t->i_idbn_g), GG(t, t->i_idbn_b), w_id);
	nn_tl_fc_bwd(t->f, PP(t, t->i_idfc_w), t->depre, t->df_id,
	    GG(t, t->i_idfc_w), GG(t, t->i_idfc_b), w_id, n, N, t->Cl, t->E);

	*L_act = nn_tl_xent(t->logits, y_act, n, N, t->n_act, t->dlog,
	    &st->n_act, &st->correct_act);
	nn_tl_fc_bwd(t->hr, PP(t, t->i_a2w), t->dlog, t->dhr,
	    GG(t, t->i_a2w), GG(t, t->i_a2b), w_act, n, N, t->Hd, t->n_act);
	for (j = 0; j < (size_t)N * t->Hd; j++)
		t->dhr[j] = t->h[j] > 0.0f ? t->dhr[j] * t->drop[j] : 0.0f;
	nn_tl_fc_bwd(t->f, PP(t, t->i_a1w), t->dhr, t->df_act,
	    GG(t, t->i_a1w), GG(t, t->i_a1b), w_act, n, N, t->Cl, t->Hd);
}

/*
 * GradNorm: ||grad_W L_i|| at W = the last stage's conv2 weight, for the
 * gradient df_task at the pooled features: through the last SCA, the ReLU,
 * BN2 and conv2's backward-weights.  The result lands in gw (and G's slice,
 * which the full backward overwrites).
 */
static int
task_grad_at_W(struct nn_trainer *t, const float *df_task, int n, float *gw,
    double *norm, struct dt_error *err)
{
	struct stage *s = &t->st[t->hp.n_stages - 1];
	const struct param *w = &t->prm[s->w2];
	double q = 0.0;
	size_t j;

	nn_tl_sca_bwd(&s->sca, s->z, NULL, NULL, df_task, s->dz, n, NULL, NULL,
	    NULL, NULL, NULL, NULL);
	nn_tl_bn_bwd(s->c2o, s->dz, NULL, s->dc2, n, t->N, s->C, s->L,
	    s->mean2, s->is2, PP(t, s->g2), NULL, NULL, t->bn_ws);
	if (nn_tl_conv_bwd(&s->c2, t->strm, false, true, err) != 0)
		return -1;
	memcpy(gw, t->G + w->off, sizeof(float) * w->numel);
	for (j = 0; j < w->numel; j++)
		q += (double)gw[j] * gw[j];
	*norm = sqrt(q);
	return 0;
}

/*
 * The backward pass of the backbone from df (the gradient at the pooled
 * features).  When W_given, the last conv2's weight gradient is already in G
 * (GradNorm computed it per task) and is not recomputed.
 */
static int
backbone_backward(struct nn_trainer *t, int n, bool W_given,
    struct dt_error *err)
{
	const struct nn_hparams *hp = &t->hp;
	const int N = t->N, C0 = hp->stem_channels, W = hp->window;
	int i;

	for (i = hp->n_stages - 1; i >= 0; i--) {
		struct stage *s = &t->st[i];
		const int C = s->C, L = s->L;
		const bool last = i == hp->n_stages - 1;

		if (last)
			nn_tl_sca_bwd(&s->sca, s->z, NULL, NULL, t->df, s->dz, n,
			    GG(t, s->f1w), GG(t, s->f1b), GG(t, s->f2w),
			    GG(t, s->f2b), GG(t, s->sqw), GG(t, s->sqb));
		else
			nn_tl_sca_bwd(&s->sca, s->z, t->st[i + 1].din1,
			    t->st[i + 1].din2, NULL, s->dz, n, GG(t, s->f1w),
			    GG(t, s->f1b), GG(t, s->f2w), GG(t, s->f2b),
			    GG(t, s->sqw), GG(t, s->sqb));
		/* z = relu(bn2(c2) + bnd(cd)): dz is already masked */
		nn_tl_bn_bwd(s->c2o, s->dz, NULL, s->dc2, n, N, C, L, s->mean2,
		    s->is2, PP(t, s->g2), GG(t, s->g2), GG(t, s->b2), t->bn_ws);
		nn_tl_bn_bwd(s->cdo, s->dz, NULL, s->dcd, n, N, C, L, s->meand,
		    s->isd, PP(t, s->gd), GG(t, s->gd), GG(t, s->bd), t->bn_ws);
		if (nn_tl_conv_bwd(&s->c2, t->strm, true, !(last && W_given),
		    err) != 0)
			return -1;
		/* r1 = relu(bn1(c1)); conv2's diff_src is in dc1 */
		nn_tl_bn_bwd(s->c1o, s->dc1, s->r1, s->dc1, n, N, C, L,
		    s->mean1, s->is1, PP(t, s->g1), GG(t, s->g1), GG(t, s->b1),
		    t->bn_ws);
		if (nn_tl_conv_bwd(&s->c1, t->strm, true, true, err) != 0 ||
		    nn_tl_conv_bwd(&s->cd, t->strm, true, true, err) != 0)
			return -1;
	}
	/* stem: max-pool, ReLU, BN, conv (weights only) */
	nn_tl_maxpool2_bwd(t->srelu, t->st[0].din1, t->st[0].din2, t->dsrelu, n,
	    N, C0, W);
	nn_tl_bn_bwd(t->sconv, t->dsrelu, t->srelu, t->dsrelu, n, N, C0, W,
	    t->smean, t->sis, PP(t, t->i_stem_g), GG(t, t->i_stem_g),
	    GG(t, t->i_stem_b), t->bn_ws);
	nn_tl_stem_bwd_w(t->xp, t->dsrelu, t->dwt, n, C0, hp->stem_kernel, W,
	    t->stem_acc, t->nthreads);
	{
		float *g = GG(t, t->i_stem_w);
		const int K = hp->stem_kernel;
		int c, k;

		for (c = 0; c < C0; c++)
			for (k = 0; k < K; k++)
				g[(size_t)c * K + k] = t->dwt[(size_t)k * C0 + c];
	}
	return 0;
}

static int
check_batch(const struct nn_trainer *t, const float *x, const int *y_id,
    const int *y_act, int n, struct dt_error *err)
{
	int i;

	if (n < 2 || n > t->N)
		return dt_error_set(err, DT_E_INVALID,
		    "trainer: %d windows for a batch of %d (at least 2)", n,
		    t->N);
	if (x == NULL || y_id == NULL || y_act == NULL)
		return dt_error_set(err, DT_E_INVALID, "trainer: no data");
	for (i = 0; i < n; i++) {
		if (y_id[i] < -1 || y_id[i] >= t->n_subj)
			return dt_error_set(err, DT_E_INVALID,
			    "trainer: window %d: identity label %d outside "
			    "-1..%d", i, y_id[i], t->n_subj - 1);
		if (y_act[i] < -1 || y_act[i] >= t->n_act)
			return dt_error_set(err, DT_E_INVALID,
			    "trainer: window %d: activity label %d outside "
			    "-1..%d", i, y_act[i], t->n_act - 1);
	}
	for (i = 0; i < n * t->hp.window; i++)
		if (!isfinite(x[i]))
			return dt_error_set(err, DT_E_INVALID,
			    "trainer: window %d sample %d is not finite",
			    i / t->hp.window, i % t->hp.window);
	return 0;
}

static void
combine_df(struct nn_trainer *t, float w_id, float w_act)
{
	size_t j;

	for (j = 0; j < (size_t)t->N * t->Cl; j++)
		t->df[j] = w_id * t->df_id[j] + w_act * t->df_act[j];
}

static int
compute(struct nn_trainer *t, const float *x, const int *y_id,
    const int *y_act, int n, bool backward, double *loss,
    struct dt_error *err)
{
	struct nn_step_stats st;
	double L_id, L_act;

	memset(&st, 0, sizeof(st));
	if (check_batch(t, x, y_id, y_act, n, err) != 0 ||
	    forward(t, x, n, false, err) != 0)
		return -1;
	heads_backward(t, y_id, y_act, n, t->gn.w[0], t->gn.w[1], false,
	    &L_id, &L_act, &st);
	combine_df(t, t->gn.w[0], t->gn.w[1]);
	if (backward && backbone_backward(t, n, false, err) != 0)
		return -1;
	if (dnnl_stream_wait(t->strm) != dnnl_success)
		return dt_error_set(err, DT_E_INTERNAL, "oneDNN: stream");
	*loss = t->gn.w[0] * L_id + t->gn.w[1] * L_act;
	return 0;
}

int
nn_trainer_compute(struct nn_trainer *t, const float *x, const int *y_id,
    const int *y_act, int n, double *loss, struct dt_error *err)
{
	return compute(t, x, y_id, y_act, n, true, loss, err);
}

int
nn_trainer_loss(struct nn_trainer *t, const float *x, const int *y_id,
    const int *y_act, int n, double *loss, struct dt_error *err)
{
	return compute(t, x, y_id, y_act, n, false, loss, err);
}

/* ---- optimiser --------------------------------------------------------------- */

static double
schedule(const struct nn_trainer *t, int64_t s)
{
	const int64_t wu = t->o.warmup_steps, T = t->o.total_steps;
	double span, pos;

	if (s < wu)
		return (double)(s + 1) / (double)wu;
	span = (double)(T > wu ? T - wu : 1);
	pos = (double)(s - wu);
	if (pos > span)
		pos = span;
	return 0.5 * (1.0 + cos(M_PI * pos / span));
}

static void
adamw(struct nn_trainer *t, double lr, bool id_on, bool act_on)
{
	const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
	int i;

	for (i = 0; i < t->n_prm; i++) {
		const struct param *p = &t->prm[i];
		float *w = t->P + p->off, *g = t->G + p->off;
		float *m = t->M + p->off, *v = t->V + p->off;
		const float decay = p->decay ?
		    (float)(1.0 - lr * t->o.weight_decay) : 1.0f;
		float c1, c2;
		int64_t k;
		long j;

		if ((p->task == T_ID && !id_on) || (p->task == T_ACT && !act_on))
			continue;
		k = ++t->pstep[i];
		c1 = (float)(lr / (1.0 - pow(b1, (double)k)));
		c2 = (float)(1.0 / sqrt(1.0 - pow(b2, (double)k)));
#pragma omp parallel for if (p->numel > 65536) schedule(static)
		for (j = 0; j < (long)p->numel; j++) {
			const float gj = g[j];

			m[j] = (float)b1 * m[j] + (float)(1 - b1) * gj;
			v[j] = (float)b2 * v[j] + (float)(1 - b2) * gj * gj;
			w[j] = w[j] * decay -
			    c1 * m[j] / (sqrtf(v[j]) * c2 + (float)eps);
		}
	}
	t->weights_dirty = true;
}

/*
 * Polyak averaging: avg = d avg + (1 - d) live after every step, from zero;
 * divided by 1 - d^k after k steps (nn_trainer_export), it is the average of
 * the live weights so far with weights d^age, whatever k is (Adam's bias
 * correction: no weight on the initial model, and no warm-up that would
 * cap d below the decay asked for over a run of a few thousand steps, as
 * TensorFlow's (1 + k) / (10 + k) does).  The BN running statistics are
 * averaged alike, so that they describe the averaged weights' activations
 * about as well as the live ones describe theirs.
 */
static void
ema_update(struct nn_trainer *t)
{
	const float d = t->o.ema_decay, e = 1.0f - d;
	long j;

	if (t->avg_P == NULL)
		return;
#pragma omp parallel for if (t->n_floats > 65536) schedule(static)
	for (j = 0; j < (long)t->n_floats; j++)
		t->avg_P[j] = d * t->avg_P[j] + e * t->P[j];
	for (j = 0; j < (long)t->n_rfloats; j++)
		t->avg_R[j] = d * t->avg_R[j] + e * t->R[j];
}

int
nn_trainer_step(struct nn_trainer *t, const float *x, const int *y_id,
    const int *y_act, int n, struct nn_step_stats *st, struct dt_error *err)
{
	struct nn_step_stats s;
	double L_id, L_act, g_id = 0, g_act = 0;
	const double f = schedule(t, t->step);
	bool id_on, act_on, use_gn;
	float w_id, w_act;

	memset(&s, 0, sizeof(s));
	if (check_batch(t, x, y_id, y_act, n, err) != 0 ||
	    forward(t, x, n, true, err) != 0)
		return -1;
	w_id = t->gn.w[0];
	w_act = t->gn.w[1];
	heads_backward(t, y_id, y_act, n, w_id, w_act, true, &L_id, &L_act,
	    &s);
	id_on = s.n_id > 0;
	act_on = s.n_act > 0;
	s.lr = (float)(t->o.lr * f);
	if (!id_on && !act_on) {
		s.w_id = w_id;
		s.w_act = w_act;
		if (st)
			*st = s;
		return 0;
	}
	{
		const float L[2] = { (float)L_id, (float)L_act };
		const bool on[2] = { id_on, act_on };

		nn_gradnorm_observe(&t->gn, L, on);
	}
	use_gn = t->o.gradnorm && id_on && act_on;
	if (use_gn && t->o.gradnorm_features) {
		/* the task gradients at the pooled features, which every
		 * shared parameter's gradient flows through */
		size_t j, m = (size_t)n * t->Cl;

		for (j = 0; j < m; j++) {
			g_id += (double)t->df_id[j] * t->df_id[j];
			g_act += (double)t->df_act[j] * t->df_act[j];
		}
		g_id = sqrt(g_id);
		g_act = sqrt(g_act);
	} else if (use_gn) {
		const struct param *w = &t->prm[t->st[t->hp.n_stages - 1].w2];
		float *gw = t->G + w->off;
		size_t j;

		if (task_grad_at_W(t, t->df_id, n, t->gw_id, &g_id, err) != 0 ||
		    task_grad_at_W(t, t->df_act, n, t->gw_act, &g_act,
		    err) != 0)
			return -1;
		/* conv2's weight gradient is linear in its diff_dst */
		for (j = 0; j < w->numel; j++)
			gw[j] = w_id * t->gw_id[j] + w_act * t->gw_act[j];
	}
	if (!use_gn && t->o.task_grad_norm && id_on && act_on) {
		/* per-task gradient normalisation: neither loss's scale
		 * decides how much it moves the shared trunk, only its
		 * weight does (the heads keep their own gradients) */
		size_t j, m = (size_t)n * t->Cl;
		double a = 0, b = 0;

		for (j = 0; j < m; j++) {
			a += (double)t->df_id[j] * t->df_id[j];
			b += (double)t->df_act[j] * t->df_act[j];
		}
		a = sqrt(a);
		b = sqrt(b);
		if (a > 0 && b > 0) {
			w_id = (float)(w_id * (a + b) / (2 * a));
			w_act = (float)(w_act * (a + b) / (2 * b));
		}
	}
	combine_df(t, id_on ? w_id : 0.0f, act_on ? w_act : 0.0f);
	if (backbone_backward(t, n, use_gn && !t->o.gradnorm_features, err) !=
	    0)
		return -1;
	if (dnnl_stream_wait(t->strm) != dnnl_success)
		return dt_error_set(err, DT_E_INTERNAL, "oneDNN: stream");
	adamw(t, t->o.lr * f, id_on, act_on);
	if (use_gn) {
		const float L[2] = { (float)L_id, (float)L_act };
		const float gn[2] = { (float)g_id, (float)g_act };

		nn_gradnorm_update(&t->gn, L, gn, (float)(t->o.gradnorm_lr * f));
	}
	ema_update(t);
	t->step++;
	s.loss_id = (float)L_id;
	s.loss_act = (float)L_act;
	s.w_id = t->gn.w[0];
	s.w_act = t->gn.w[1];
	if (st)
		*st = s;
	return 0;
}

/* ---- internal accessors ------------------------------------------------------ */

float *
nn_trainer_params(struct nn_trainer *t, size_t *count)
{
	if (count)
		*count = t->n_floats;
	return t->P;
}

float *
nn_trainer_grads(struct nn_trainer *t)
{
	return t->G;
}

int
nn_trainer_param_find(const struct nn_trainer *t, const char *name,
    size_t *off, size_t *numel)
{
	int i;

	for (i = 0; i < t->n_prm; i++)
		if (strcmp(t->prm[i].name, name) == 0) {
			*off = t->prm[i].off;
			*numel = t->prm[i].numel;
			return 0;
		}
	return -1;
}

void
nn_trainer_params_changed(struct nn_trainer *t)
{
	t->weights_dirty = true;
}

void
nn_trainer_freeze_dropout(struct nn_trainer *t, bool frozen)
{
	t->drop_frozen = frozen;
}

void
nn_trainer_set_task_weights(struct nn_trainer *t, float w_id, float w_act)
{
	t->gn.w[0] = w_id;
	t->gn.w[1] = w_act;
}

void
nn_trainer_task_weights(const struct nn_trainer *t, float *w_id,
    float *w_act)
{
	*w_id = t->gn.w[0];
	*w_act = t->gn.w[1];
}

/* ---- export -------------------------------------------------------------------- */

/*
 * The trainer's K sub-centres of each subject into the model's one row: the
 * dominant one, which won most of the subject's recent samples (Sub-center
 * ArcFace keeps it and drops the rest, whose samples are the subject's
 * outliers; embeddings are matched against enrolled templates, never
 * against these rows, so the rest are not needed downstream).
 */
static void
cls_collapse(const struct nn_trainer *t, const float *params, float *rows)
{
	const float *P = params + t->prm[t->i_cls].off;
	const int E = t->E, K = t->K;
	int j, k;

	for (j = 0; j < t->n_subj; j++) {
		const float *h = t->sub_hits + (size_t)j * K;
		int best = 0;

		for (k = 1; k < K; k++)
			if (h[k] > h[best])
				best = k;
		memcpy(rows + (size_t)j * E, P + ((size_t)j * K + best) * E,
		    sizeof(float) * E);
	}
}

int
nn_trainer_export(const struct nn_trainer *t, struct nn_model *m,
    struct dt_error *err)
{
	const float *P = t->P, *R = t->R;
	float *avg = NULL;
	char v[64];
	int i, rc = -1;

	if (m->n_subjects != t->n_subj || m->n_activities != t->n_act ||
	    memcmp(&m->hp, &t->hp, sizeof(m->hp)) != 0)
		return dt_error_set(err, DT_E_INVALID,
		    "export: the model's architecture differs from the "
		    "trainer's");
	/* check every tensor first, so that a failure changes nothing */
	for (i = 0; i < t->n_prm + t->n_buf; i++) {
		const struct param *p = i < t->n_prm ? &t->prm[i] :
		    &t->buf[i - t->n_prm];
		const struct nn_tensor *x = nn_model_tensor(m, p->name);

		if (x == NULL || x->numel != model_numel(t, i))
			return dt_error_set(err, DT_E_FORMAT,
			    "export: tensor %s: %s", p->name,
			    x ? "wrong size" : "missing");
	}
	if (t->avg_P != NULL && t->step > 0) {
		/* the averages over the steps so far (ema_update) */
		const float c = (float)(1.0 / (1.0 - pow(t->o.ema_decay,
		    (double)t->step)));
		size_t j;

		if ((avg = malloc(sizeof(float) * (t->n_floats +
		    t->n_rfloats))) == NULL)
			return dt_error_set(err, DT_E_NOMEM, "export: out of "
			    "memory");
		for (j = 0; j < t->n_floats; j++)
			avg[j] = t->avg_P[j] * c;
		for (j = 0; j < t->n_rfloats; j++)
			avg[t->n_floats + j] = t->avg_R[j] * c;
		P = avg;
		R = avg + t->n_floats;
	}
	for (i = 0; i < t->n_prm + t->n_buf; i++) {
		const struct param *p = i < t->n_prm ? &t->prm[i] :
		    &t->buf[i - t->n_prm];
		struct nn_tensor *x = nn_model_tensor_mut(m, p->name);

		if (i == t->i_cls && t->K > 1)
			cls_collapse(t, P, x->data);
		else
			memcpy(x->data, (i < t->n_prm ? P : R) + p->off,
			    sizeof(float) * p->numel);
	}
	snprintf(v, sizeof(v), "%.6g", (double)t->gn.w[0]);
	if (nn_model_set_meta(m, "gradnorm.w_id", v, err) != 0)
		goto out;
	snprintf(v, sizeof(v), "%.6g", (double)t->gn.w[1]);
	if (nn_model_set_meta(m, "gradnorm.w_act", v, err) != 0)
		goto out;
	rc = 0;
out:
	free(avg);
	return rc;
}

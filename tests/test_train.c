/*
 * tests/test_train.c — the trainer (nn/train.c, nn/train_layers.c,
 * nn/train_conv.c, nn/gradnorm.c).
 *
 * Gradient checks: analytic gradients against central finite differences
 * (float32 network, step h = 1e-3 relative to the coordinate, at least 1e-3)
 * for every layer type and for a small whole network with both heads and SCA.
 * For each tensor we sample coordinates (the largest analytic ones and random
 * ones) and require
 *     ||g_analytic - g_numeric||_2 / max(||g_analytic||, ||g_numeric||) < TOL
 * with TOL = 2e-2 for single layers and 5e-2 for the whole network (float32
 * through ReLU/max-pool kinks and batch statistics).  A wrong sign gives 2, a
 * transposed weight or a missing term of a few percent or more fails.
 *
 * Then: GradNorm on a toy two-task problem, a short training run on a
 * separable synthetic problem, masked losses, and the checkpoint round trip.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cmocka_all.h"

#include "nn/model.h"
#include "nn/train.h"
#include "nn/train_internal.h"
#include "nn/train_layers.h"
#include "tests/support.h"

#define TOL_LAYER 2e-2
#define TOL_NET 5e-2
#define NSAMPLE 8

/* ---- finite differences ---------------------------------------------------- */

typedef double (*loss_fn)(void *ctx);

/*
 * Compares analytic gradient `ga` of the parameters `p` (count n) with central
 * differences of loss(ctx), on NSAMPLE coordinates: the largest |ga| half,
 * random the other half.  Returns the relative error.
 */
static double
fd_check(const char *what, float *p, const float *ga, size_t n, loss_fn loss,
    void *ctx, struct dt_rng *r)
{
	size_t idx[NSAMPLE], j, k, m = n < NSAMPLE ? n : NSAMPLE;
	double num[NSAMPLE], an[NSAMPLE], dn = 0, na = 0, nn_ = 0, rel;

	for (k = 0; k < m; k++) {
		size_t best = 0;
		double bv = -1;

		if (k < m / 2) {
			for (j = 0; j < n; j++) {
				size_t q;
				bool used = false;

				for (q = 0; q < k; q++)
					used |= idx[q] == j;
				if (!used && fabs(ga[j]) > bv) {
					bv = fabs(ga[j]);
					best = j;
				}
			}
		} else if (n <= NSAMPLE) {
			bool used;

			for (best = 0; best < n; best++) {
				size_t q;

				used = false;
				for (q = 0; q < k; q++)
					used |= idx[q] == best;
				if (!used)
					break;
			}
		} else {
			bool used;

			do {
				size_t q;

				best = (size_t)(dt_rng_next(r) % n);
				used = false;
				for (q = 0; q < k; q++)
					used |= idx[q] == best;
			} while (used);
		}
		idx[k] = best;
	}
	for (k = 0; k < m; k++) {
		float save = p[idx[k]];
		const double hs = getenv("TRAIN_H") ? atof(getenv("TRAIN_H")) : 1e-3;
		double h = fmax(hs, hs * fabs(save)), lp, lm;

		p[idx[k]] = (float)(save + h);
		lp = loss(ctx);
		p[idx[k]] = (float)(save - h);
		lm = loss(ctx);
		p[idx[k]] = save;
		/* the step actually taken in float */
		num[k] = (lp - lm) / ((double)(float)(save + h) -
		    (double)(float)(save - h));
		an[k] = ga[idx[k]];
		dn += (num[k] - an[k]) * (num[k] - an[k]);
		na += an[k] * an[k];
		nn_ += num[k] * num[k];
	}
	(void)loss(ctx);	/* leave the context as it was */
	rel = sqrt(dn) / fmax(fmax(sqrt(na), sqrt(nn_)), 1e-12);
	/* a parameter without influence (the id fc bias before BN): both
	 * gradients are rounding noise */
	if (fmax(sqrt(na), sqrt(nn_)) < 1e-3)
		rel = 0.0;
	printf("  %-34s rel err %.2e  (|g| %.3e)\n", what, rel, sqrt(na));
	if (rel > 1e-9 && getenv("TRAIN_VERBOSE"))
		for (k = 0; k < m; k++)
			printf("    [%zu] analytic %+.6e numeric %+.6e\n", idx[k],
			    an[k], num[k]);
	return rel;
}

static void
fill(float *p, size_t n, struct dt_rng *r, float scale)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = scale * (float)dt_rng_normal(r);
}

static double
dot(const float *a, const float *b, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* ---- convolution (oneDNN) ----------------------------------------------------- */

struct conv_ctx {
	struct nn_tl_conv c;
	dnnl_engine_t eng;
	dnnl_stream_t st;
	float *x, *y, *w, *dw, *dx, *dy, *R;
	size_t ny;
};

static double
conv_loss(void *p)
{
	struct conv_ctx *c = p;

	assert_int_equal(nn_tl_conv_sync_weights(&c->c, c->st, NULL), 0);
	assert_int_equal(nn_tl_conv_fwd(&c->c, c->st, NULL), 0);
	dnnl_stream_wait(c->st);
	return dot(c->y, c->R, c->ny);
}

static void
conv_case(int N, int cin, int cout, int k, int stride, int pad, int lin)
{
	struct conv_ctx c;
	struct dt_rng r;
	dnnl_memory_t scratch;
	size_t nx = (size_t)N * cin * lin, nw = (size_t)cout * cin * k;
	int lout = (lin + 2 * pad - k) / stride + 1;
	char what[96];

	memset(&c, 0, sizeof(c));
	dt_rng_seed(&r, 7);
	c.ny = (size_t)N * cout * lout;
	c.x = nn_tl_alloc(nx);
	c.dx = nn_tl_alloc(nx);
	c.w = nn_tl_alloc(nw);
	c.dw = nn_tl_alloc(nw);
	c.y = nn_tl_alloc(c.ny);
	c.dy = nn_tl_alloc(c.ny);
	c.R = nn_tl_alloc(c.ny);
	fill(c.x, nx, &r, 1.0f);
	fill(c.w, nw, &r, 0.3f);
	fill(c.R, c.ny, &r, 1.0f);
	memcpy(c.dy, c.R, sizeof(float) * c.ny);
	assert_int_equal(dnnl_engine_create(&c.eng, dnnl_cpu, 0), dnnl_success);
	assert_int_equal(dnnl_stream_create(&c.st, c.eng,
	    dnnl_stream_default_flags), dnnl_success);
	assert_int_equal(nn_tl_conv_create(&c.c, c.eng, N, cin, cout, k,
	    stride, pad, lin, c.x, c.y, c.w, c.dw, c.dx, c.dy, NULL), 0);
	assert_int_equal(c.c.lout, lout);
#ifdef __x86_64__
	/* the jit kernels of stride 1 exist on every x86-64 oneDNN runs on */
	if (strcmp(getenv("DT4ECG_TRAIN_CONV"), "bbb") == 0 && stride == 1)
		assert_true(c.c.blk_fwd && c.c.blk_bwd_d && c.c.blk_bwd_w);
#endif
	if (strcmp(getenv("DT4ECG_TRAIN_CONV"), "ggg") == 0)
		assert_false(c.c.blk_fwd || c.c.blk_bwd_d || c.c.blk_bwd_w);
	assert_int_equal(nn_tl_scratch_create(c.eng, c.c.scratch_size,
	    &scratch, NULL), 0);
	nn_tl_conv_bind_scratch(&c.c, scratch);
	(void)conv_loss(&c);
	assert_int_equal(nn_tl_conv_bwd(&c.c, c.st, true, true, NULL), 0);
	dnnl_stream_wait(c.st);
	snprintf(what, sizeof(what), "conv k%d s%d p%d: input", k, stride, pad);
	assert_true(fd_check(what, c.x, c.dx, nx, conv_loss, &c, &r) <
	    TOL_LAYER);
	snprintf(what, sizeof(what), "conv k%d s%d p%d: weight", k, stride, pad);
	assert_true(fd_check(what, c.w, c.dw, nw, conv_loss, &c, &r) <
	    TOL_LAYER);
	nn_tl_conv_destroy(&c.c);
	dnnl_memory_destroy(scratch);
	dnnl_stream_destroy(c.st);
	dnnl_engine_destroy(c.eng);
	free(c.x);
	free(c.dx);
	free(c.w);
	free(c.dw);
	free(c.y);
	free(c.dy);
	free(c.R);
}

static void
test_grad_conv(void **state)
{
	/* every combination of layouts per pass (forward, bwd-data, bwd-w) */
	static const char *modes[] = { "ggg", "bgg", "gbg", "ggb", "bbg",
		"bgb", "gbb", "bbb", "auto" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		setenv("DT4ECG_TRAIN_CONV", modes[i], 1);
		conv_case(2, 8, 16, 3, 1, 1, 11); /* same padding, odd length */
		conv_case(2, 8, 8, 5, 2, 2, 13); /* stride 2, pad, odd length */
		conv_case(2, 16, 8, 1, 2, 0, 10); /* 1x1 shortcut, stride 2 */
	}
	unsetenv("DT4ECG_TRAIN_CONV");
}

/*
 * The fixed layout rule of nn/train_conv.c: a strided k = 7 convolution of
 * channels in 16s runs backward-weights blocked on AVX-512 (nCw16c) and on
 * ncw (gemm) on AVX2; forward is blocked on both.
 */
static void
test_conv_rule(void **state)
{
	struct nn_tl_conv c;
	dnnl_engine_t eng;
	const int N = 2, cin = 16, cout = 32, k = 7, lin = 20, lout = 10;
	float *x = nn_tl_alloc((size_t)N * cin * lin);
	float *dx = nn_tl_alloc((size_t)N * cin * lin);
	float *w = nn_tl_alloc((size_t)cout * cin * k);
	float *dw = nn_tl_alloc((size_t)cout * cin * k);
	float *y = nn_tl_alloc((size_t)N * cout * lout);
	float *dy = nn_tl_alloc((size_t)N * cout * lout);
	bool avx512 = (dnnl_get_effective_cpu_isa() &
	    dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;

	(void)state;
	unsetenv("DT4ECG_TRAIN_CONV");
	memset(&c, 0, sizeof(c));
	assert_int_equal(dnnl_engine_create(&eng, dnnl_cpu, 0), dnnl_success);
	assert_int_equal(nn_tl_conv_create(&c, eng, N, cin, cout, k, 2, k / 2,
	    lin, x, y, w, dw, dx, dy, NULL), 0);
	assert_int_equal(c.lout, lout);
#ifdef __x86_64__
	assert_true(c.blk_fwd);
	assert_int_equal(c.blk_bwd_w, avx512);
#endif
	nn_tl_conv_destroy(&c);
	dnnl_engine_destroy(eng);
	free(x);
	free(dx);
	free(w);
	free(dw);
	free(y);
	free(dy);
}

/* ---- stem convolution ------------------------------------------------------------ */

struct stem_ctx {
	int N, C, K, W;
	float *xp, *wt, *y, *R;
};

static double
stem_loss(void *p)
{
	struct stem_ctx *s = p;

	nn_tl_stem_fwd(s->xp, s->wt, s->y, s->N, s->C, s->K, s->W);
	return dot(s->y, s->R, (size_t)s->N * s->C * s->W);
}

static void
test_grad_stem(void **state)
{
	struct stem_ctx s = { .N = 3, .C = 16, .K = 5, .W = 23 };
	struct dt_rng r;
	size_t nx = (size_t)s.N * (s.W + s.K - 1), ny = (size_t)s.N * s.C * s.W;
	float *dwt, *acc;
	int i;

	(void)state;
	dt_rng_seed(&r, 3);
	s.xp = nn_tl_alloc(nx);
	s.wt = nn_tl_alloc((size_t)s.K * s.C);
	s.y = nn_tl_alloc(ny);
	s.R = nn_tl_alloc(ny);
	dwt = nn_tl_alloc((size_t)s.K * s.C);
	acc = nn_tl_alloc((size_t)4 * s.K * s.C);
	for (i = 0; i < s.N; i++)	/* zero pads around each window */
		fill(s.xp + (size_t)i * (s.W + s.K - 1) + s.K / 2, (size_t)s.W,
		    &r, 1.0f);
	fill(s.wt, (size_t)s.K * s.C, &r, 0.3f);
	fill(s.R, ny, &r, 1.0f);
	nn_tl_stem_bwd_w(s.xp, s.R, dwt, s.N, s.C, s.K, s.W, acc, 4);
	assert_true(fd_check("stem conv: weight", s.wt, dwt,
	    (size_t)s.K * s.C, stem_loss, &s, &r) < TOL_LAYER);
	free(s.xp);
	free(s.wt);
	free(s.y);
	free(s.R);
	free(dwt);
	free(acc);
}

/* ---- batch norm (training mode), with and without the ReLU mask ------------------- */

struct bn_ctx {
	int n, N, C, L;
	bool relu;
	float *x, *y, *g, *b, *mean, *is, *R;
};

static double
bn_loss(void *p)
{
	struct bn_ctx *c = p;

	nn_tl_bn_stats(c->x, c->n, c->C, c->L, c->mean, c->is, NULL, NULL,
	    0.1f);
	nn_tl_bn_apply(c->x, c->y, c->n, c->N, c->C, c->L, c->mean, c->is,
	    c->g, c->b, c->relu);
	return dot(c->y, c->R, (size_t)c->N * c->C * c->L);
}

static void
bn_case(bool relu)
{
	struct bn_ctx c = { .n = 3, .N = 4, .C = 8, .L = 5, .relu = relu };
	struct dt_rng r;
	size_t nx = (size_t)c.N * c.C * c.L;
	float *dx, *dg, *db, *ws;

	dt_rng_seed(&r, relu ? 11 : 12);
	c.x = nn_tl_alloc(nx);
	c.y = nn_tl_alloc(nx);
	c.R = nn_tl_alloc(nx);
	c.g = nn_tl_alloc(c.C);
	c.b = nn_tl_alloc(c.C);
	c.mean = nn_tl_alloc(c.C);
	c.is = nn_tl_alloc(c.C);
	dx = nn_tl_alloc(nx);
	dg = nn_tl_alloc(c.C);
	db = nn_tl_alloc(c.C);
	ws = nn_tl_alloc(2 * (size_t)c.C);
	fill(c.x, nx, &r, 2.0f);
	fill(c.R, nx, &r, 1.0f);
	fill(c.g, c.C, &r, 1.0f);
	fill(c.b, c.C, &r, 0.5f);
	(void)bn_loss(&c);
	nn_tl_bn_bwd(c.x, c.R, relu ? c.y : NULL, dx, c.n, c.N, c.C, c.L,
	    c.mean, c.is, c.g, dg, db, ws);
	/* a sample beyond n gets no gradient */
	assert_true(dx[nn_tl_idx(3, 1, 1, c.C, c.L)] == 0.0f);
	assert_true(fd_check(relu ? "BN+ReLU train: input" :
	    "BN train: input", c.x, dx, (size_t)c.n * c.C * c.L, bn_loss, &c,
	    &r) < TOL_LAYER);
	assert_true(fd_check(relu ? "BN+ReLU train: weight" :
	    "BN train: weight", c.g, dg, c.C, bn_loss, &c, &r) < TOL_LAYER);
	assert_true(fd_check(relu ? "BN+ReLU train: bias" : "BN train: bias",
	    c.b, db, c.C, bn_loss, &c, &r) < TOL_LAYER);
	free(c.x);
	free(c.y);
	free(c.R);
	free(c.g);
	free(c.b);
	free(c.mean);
	free(c.is);
	free(dx);
	free(dg);
	free(db);
	free(ws);
}

static void
test_grad_bn(void **state)
{
	(void)state;
	bn_case(false);
	bn_case(true);
}

static void
test_bn_running_stats(void **state)
{
	/* PyTorch: running_var moves towards the unbiased variance */
	const int C = 8, L = 3, n = 2;
	float x[2 * 8 * 3], mean[8], is[8], rm[8], rv[8];
	int i, c;

	(void)state;
	for (i = 0; i < n; i++)
		for (c = 0; c < C; c++) {
			int t;

			for (t = 0; t < L; t++)
				x[nn_tl_idx(i, c, t, C, L)] =
				    (float)(i * L + t + c);
		}
	for (c = 0; c < C; c++) {
		rm[c] = 0.0f;
		rv[c] = 1.0f;
	}
	nn_tl_bn_stats(x, n, C, L, mean, is, rm, rv, 0.1f);
	for (c = 0; c < C; c++) {
		/* values c + 0..5: mean c + 2.5, biased var 35/12, unbiased 3.5 */
		assert_float_equal(mean[c], c + 2.5f, 1e-5);
		assert_float_equal(is[c], 1.0 / sqrt(35.0 / 12.0 + 1e-5), 1e-5);
		assert_float_equal(rm[c], 0.1f * (c + 2.5f), 1e-5);
		assert_float_equal(rv[c], 0.9f + 0.1f * 3.5f, 1e-5);
	}
}

/* ---- max-pool ----------------------------------------------------------------- */

struct pool_ctx {
	int n, N, C, L;
	float *x, *y, *R;
};

static double
pool_loss(void *p)
{
	struct pool_ctx *c = p;

	nn_tl_maxpool2_fwd(c->x, c->y, c->n, c->N, c->C, c->L);
	return dot(c->y, c->R, (size_t)c->N * c->C * (c->L / 2));
}

static void
test_grad_maxpool(void **state)
{
	struct pool_ctx c = { .n = 2, .N = 2, .C = 8, .L = 9 };
	struct dt_rng r;
	size_t nx = (size_t)c.N * c.C * c.L, ny = (size_t)c.N * c.C * (c.L / 2);
	float *dx;

	(void)state;
	dt_rng_seed(&r, 5);
	c.x = nn_tl_alloc(nx);
	c.y = nn_tl_alloc(ny);
	c.R = nn_tl_alloc(ny);
	dx = nn_tl_alloc(nx);
	fill(c.x, nx, &r, 1.0f);
	fill(c.R, ny, &r, 1.0f);
	nn_tl_maxpool2_bwd(c.x, c.R, NULL, dx, c.n, c.N, c.C, c.L);
	assert_true(fd_check("max-pool(2,2), odd length: input", c.x, dx, nx,
	    pool_loss, &c, &r) < TOL_LAYER);
	free(c.x);
	free(c.y);
	free(c.R);
	free(dx);
}

/* ---- SCA (channel and sequence parts) and global pool ------------------------------ */

struct sca_ctx {
	struct nn_tl_sca s;
	int n;
	bool gap;		/* loss through the global average pool */
	float *z, *out, *R, *f;
	float *fc1w, *fc1b, *fc2w, *fc2b, *seqw, *seqb;
};

static double
sca_loss(void *p)
{
	struct sca_ctx *c = p;
	const size_t no = (size_t)c->s.N * c->s.C * c->s.L;

	nn_tl_sca_fwd(&c->s, c->z, c->out, c->n);
	if (c->gap) {
		nn_tl_gap_fwd(c->out, c->f, c->n, c->s.N, c->s.C, c->s.L);
		return dot(c->f, c->R, (size_t)c->s.N * c->s.C);
	}
	return dot(c->out, c->R, no);
}

static void
sca_case(bool gap)
{
	struct sca_ctx c;
	struct dt_rng r;
	const int N = 3, C = 16, L = 9, H = 4, kq = 5;
	const size_t nz = (size_t)N * C * L;
	float *dz, *g1w, *g1b, *g2w, *g2b, *gsw, *gsb;
	size_t i;

	memset(&c, 0, sizeof(c));
	dt_rng_seed(&r, gap ? 21 : 22);
	assert_int_equal(nn_tl_sca_init(&c.s, N, C, L, H, kq, NULL), 0);
	c.n = 2;
	c.gap = gap;
	c.z = nn_tl_alloc(nz);
	c.out = nn_tl_alloc(nz);
	c.R = nn_tl_alloc(nz);
	c.f = nn_tl_alloc((size_t)N * C);
	c.fc1w = nn_tl_alloc((size_t)H * C);
	c.fc1b = nn_tl_alloc(H);
	c.fc2w = nn_tl_alloc((size_t)C * H);
	c.fc2b = nn_tl_alloc(C);
	c.seqw = nn_tl_alloc(2 * (size_t)kq);
	c.seqb = nn_tl_alloc(1);
	dz = nn_tl_alloc(nz);
	g1w = nn_tl_alloc((size_t)H * C);
	g1b = nn_tl_alloc(H);
	g2w = nn_tl_alloc((size_t)C * H);
	g2b = nn_tl_alloc(C);
	gsw = nn_tl_alloc(2 * (size_t)kq);
	gsb = nn_tl_alloc(1);
	/* z is the output of a ReLU: some zeros, the rest positive */
	fill(c.z, nz, &r, 1.0f);
	for (i = 0; i < nz; i++)
		c.z[i] = c.z[i] > -0.3f ? fabsf(c.z[i]) + 0.05f : 0.0f;
	fill(c.R, nz, &r, 1.0f);
	fill(c.fc1w, (size_t)H * C, &r, 0.5f);
	fill(c.fc1b, H, &r, 0.3f);
	fill(c.fc2w, (size_t)C * H, &r, 0.5f);
	fill(c.fc2b, C, &r, 0.2f);
	fill(c.seqw, 2 * (size_t)kq, &r, 0.5f);
	fill(c.seqb, 1, &r, 0.2f);
	c.s.fc1_w = c.fc1w;
	c.s.fc1_b = c.fc1b;
	c.s.fc2_w = c.fc2w;
	c.s.fc2_b = c.fc2b;
	c.s.seq_w = c.seqw;
	c.s.seq_b = c.seqb;
	(void)sca_loss(&c);
	nn_tl_sca_bwd(&c.s, c.z, gap ? NULL : c.R, NULL, gap ? c.R : NULL, dz,
	    c.n, g1w, g1b, g2w, g2b, gsw, gsb);
	/* the ReLU before SCA: no gradient where z = 0 */
	for (i = 0; i < nz; i++)
		if (c.z[i] == 0.0f)
			assert_true(dz[i] == 0.0f);
	/* finite differences away from the ReLU's kink: z > 0 everywhere */
	for (i = 0; i < nz; i++)
		c.z[i] = fabsf(c.z[i]) + 0.05f + 0.1f * (float)(i % 7);
	(void)sca_loss(&c);
	nn_tl_sca_bwd(&c.s, c.z, gap ? NULL : c.R, NULL, gap ? c.R : NULL, dz,
	    c.n, g1w, g1b, g2w, g2b, gsw, gsb);
	assert_true(fd_check(gap ? "SCA+GAP: input" : "SCA: input", c.z, dz,
	    (size_t)c.n * C * L, sca_loss, &c, &r) < TOL_LAYER);
	assert_true(fd_check(gap ? "SCA+GAP channel: fc1.weight" :
	    "SCA channel: fc1.weight", c.fc1w, g1w, (size_t)H * C, sca_loss,
	    &c, &r) < TOL_LAYER);
	assert_true(fd_check("SCA channel: fc1.bias", c.fc1b, g1b, H, sca_loss,
	    &c, &r) < TOL_LAYER);
	assert_true(fd_check("SCA channel: fc2.weight", c.fc2w, g2w,
	    (size_t)C * H, sca_loss, &c, &r) < TOL_LAYER);
	assert_true(fd_check("SCA channel: fc2.bias", c.fc2b, g2b, C, sca_loss,
	    &c, &r) < TOL_LAYER);
	assert_true(fd_check("SCA sequence: seq.weight", c.seqw, gsw,
	    2 * (size_t)kq, sca_loss, &c, &r) < TOL_LAYER);
	assert_true(fd_check("SCA sequence: seq.bias", c.seqb, gsb, 1,
	    sca_loss, &c, &r) < TOL_LAYER);
	nn_tl_sca_free(&c.s);
	free(c.z);
	free(c.out);
	free(c.R);
	free(c.f);
	free(c.fc1w);
	free(c.fc1b);
	free(c.fc2w);
	free(c.fc2b);
	free(c.seqw);
	free(c.seqb);
	free(dz);
	free(g1w);
	free(g1b);
	free(g2w);
	free(g2b);
	free(gsw);
	free(gsb);
}

static void
test_grad_sca(void **state)
{
	(void)state;
	sca_case(false);
	sca_case(true);
}

/* ---- fc, BN1d, CosFace, cross-entropy ------------------------------------------------ */

struct head_ctx {
	int n, N, I, E, S, A, K;
	const int *y;
	int *arg;
	float *x, *w, *b, *y1, *g, *be, *mean, *is, *e, *cls, *work, *de,
	    *dwc, *R;
	int mode;		/* 0: fc, 1: fc+BN1d, 2: CosFace, 3: CE */
};

static double
head_loss(void *p)
{
	struct head_ctx *c = p;
	int nl, ok;

	switch (c->mode) {
	case 0:
		nn_tl_fc_fwd(c->x, c->w, c->b, c->y1, c->n, c->I, c->E);
		return dot(c->y1, c->R, (size_t)c->n * c->E);
	case 1:
		nn_tl_fc_fwd(c->x, c->w, c->b, c->y1, c->n, c->I, c->E);
		nn_tl_bn1d_fwd(c->y1, c->e, c->n, c->E, c->g, c->be, c->mean,
		    c->is, NULL, NULL, 0.1f);
		return dot(c->e, c->R, (size_t)c->n * c->E);
	case 2:
		return nn_tl_cosface(c->e, c->cls, c->y, c->n, c->N, c->E, c->S,
		    c->K, 30.0f, 0.2f, c->de, c->dwc, 1.0f, &nl, &ok, c->work,
		    c->arg, NULL);
	default:
		return nn_tl_xent(c->e, c->y, c->n, c->N, c->A, c->de, &nl, &ok);
	}
}

static void
test_grad_heads(void **state)
{
	struct head_ctx c;
	struct dt_rng r;
	static const int y[5] = { 2, -1, 0, 2, 3 };
	static const int y_none[5] = { -1, -1, -1, -1, -1 };
	float *dx, *dw, *db, *dy1, *dg, *dbe, *de, *dwc;
	int nl, ok;
	double l;

	(void)state;
	memset(&c, 0, sizeof(c));
	dt_rng_seed(&r, 31);
	c.n = 4;
	c.N = 5;
	c.I = 12;
	c.E = 6;
	c.S = 4;
	c.A = 6;
	c.y = y;
	c.x = nn_tl_alloc((size_t)c.N * c.I);
	c.w = nn_tl_alloc((size_t)c.E * c.I);
	c.b = nn_tl_alloc(c.E);
	c.y1 = nn_tl_alloc((size_t)c.N * c.E);
	c.g = nn_tl_alloc(c.E);
	c.be = nn_tl_alloc(c.E);
	c.mean = nn_tl_alloc(c.E);
	c.is = nn_tl_alloc(c.E);
	c.e = nn_tl_alloc((size_t)c.N * c.E);
	c.K = 1;
	c.cls = nn_tl_alloc((size_t)c.S * 3 * c.E);	/* up to 3 sub-centres */
	c.work = nn_tl_alloc(nn_tl_cosface_work(c.N, c.E, c.S, 3));
	c.arg = calloc((size_t)c.N * c.S, sizeof(int));
	assert_non_null(c.arg);
	c.de = nn_tl_alloc((size_t)c.N * c.E);
	c.dwc = nn_tl_alloc((size_t)c.S * 3 * c.E);
	c.R = nn_tl_alloc((size_t)c.N * c.E);
	dx = nn_tl_alloc((size_t)c.N * c.I);
	dw = nn_tl_alloc((size_t)c.E * c.I);
	db = nn_tl_alloc(c.E);
	dy1 = nn_tl_alloc((size_t)c.N * c.E);
	dg = nn_tl_alloc(c.E);
	dbe = nn_tl_alloc(c.E);
	de = nn_tl_alloc((size_t)c.N * c.E);
	dwc = nn_tl_alloc((size_t)c.S * 3 * c.E);
	fill(c.x, (size_t)c.N * c.I, &r, 1.0f);
	fill(c.w, (size_t)c.E * c.I, &r, 0.4f);
	fill(c.b, c.E, &r, 0.3f);
	fill(c.g, c.E, &r, 1.0f);
	fill(c.be, c.E, &r, 0.3f);
	fill(c.e, (size_t)c.N * c.E, &r, 1.0f);
	fill(c.cls, (size_t)c.S * c.E, &r, 1.0f);
	fill(c.R, (size_t)c.N * c.E, &r, 1.0f);

	/* fc (scale 1: dW = dy^T x) */
	c.mode = 0;
	nn_tl_fc_bwd(c.x, c.w, c.R, dx, dw, db, 1.0f, c.n, c.N, c.I, c.E);
	assert_true(fd_check("fc: input", c.x, dx, (size_t)c.n * c.I,
	    head_loss, &c, &r) < TOL_LAYER);
	assert_true(fd_check("fc: weight", c.w, dw, (size_t)c.E * c.I,
	    head_loss, &c, &r) < TOL_LAYER);
	assert_true(fd_check("fc: bias", c.b, db, c.E, head_loss, &c, &r) <
	    TOL_LAYER);

	/* fc -> BN1d (training mode) */
	c.mode = 1;
	(void)head_loss(&c);
	nn_tl_bn1d_bwd(c.y1, c.R, dy1, c.n, c.N, c.E, c.mean, c.is, c.g, dg,
	    dbe, 1.0f);
	nn_tl_fc_bwd(c.x, c.w, dy1, dx, dw, db, 1.0f, c.n, c.N, c.I, c.E);
	assert_true(fd_check("fc->BN1d: input", c.x, dx, (size_t)c.n * c.I,
	    head_loss, &c, &r) < TOL_LAYER);
	assert_true(fd_check("fc->BN1d: fc weight", c.w, dw,
	    (size_t)c.E * c.I, head_loss, &c, &r) < TOL_LAYER);
	assert_true(fd_check("fc->BN1d: BN weight", c.g, dg, c.E, head_loss,
	    &c, &r) < TOL_LAYER);
	assert_true(fd_check("fc->BN1d: BN bias", c.be, dbe, c.E, head_loss,
	    &c, &r) < TOL_LAYER);

	/* CosFace with a mask (sample 1 unlabelled, sample 4 beyond n) */
	c.mode = 2;
	fill(c.e, (size_t)c.N * c.E, &r, 1.0f);
	l = nn_tl_cosface(c.e, c.cls, y, c.n, c.N, c.E, c.S, 1, 30.0f, 0.2f,
	    de, dwc, 1.0f, &nl, &ok, c.work, c.arg, NULL);
	assert_int_equal(nl, 3);
	assert_true(l > 0);
	for (int k = 0; k < c.E; k++) {
		assert_true(de[1 * c.E + k] == 0.0f);
		assert_true(de[4 * c.E + k] == 0.0f);
	}
	assert_true(fd_check("CosFace: embedding", c.e, de, (size_t)c.n * c.E,
	    head_loss, &c, &r) < TOL_LAYER);
	assert_true(fd_check("CosFace: classifier", c.cls, dwc,
	    (size_t)c.S * c.E, head_loss, &c, &r) < TOL_LAYER);
	l = nn_tl_cosface(c.e, c.cls, y_none, c.n, c.N, c.E, c.S, 1, 30.0f,
	    0.2f, de, dwc, 1.0f, &nl, &ok, c.work, c.arg, NULL);
	assert_int_equal(nl, 0);
	assert_true(l == 0.0);
	assert_true(dot(de, de, (size_t)c.N * c.E) == 0.0);

	/* three sub-centres per class: the gradients of the max over them */
	{
		float hits[4 * 3] = { 0 }, rows[4 * 6], l1;
		int j, k;

		c.K = 3;
		fill(c.cls, (size_t)c.S * 3 * c.E, &r, 1.0f);
		l = nn_tl_cosface(c.e, c.cls, y, c.n, c.N, c.E, c.S, 3, 30.0f,
		    0.2f, de, dwc, 1.0f, &nl, &ok, c.work, c.arg, hits);
		assert_int_equal(nl, 3);
		assert_true(l > 0);
		assert_true(fd_check("CosFace, 3 sub-centres: embedding", c.e,
		    de, (size_t)c.n * c.E, head_loss, &c, &r) < TOL_LAYER);
		assert_true(fd_check("CosFace, 3 sub-centres: classifier",
		    c.cls, dwc, (size_t)c.S * 3 * c.E, head_loss, &c, &r) <
		    TOL_LAYER);
		/* one win per labelled sample, in its own class's rows */
		assert_float_equal(hits[2 * 3] + hits[2 * 3 + 1] +
		    hits[2 * 3 + 2], 2.0, 0);
		assert_float_equal(hits[0] + hits[1] + hits[2], 1.0, 0);
		/* a sub-centre has a gradient iff it won its class for
		 * some labelled sample */
		(void)nn_tl_cosface(c.e, c.cls, y, c.n, c.N, c.E, c.S, 3,
		    30.0f, 0.2f, de, dwc, 1.0f, &nl, &ok, c.work, c.arg, NULL);
		for (j = 0; j < c.S * 3; j++) {
			int won = 0, i;

			for (i = 0; i < c.n; i++)
				won |= y[i] >= 0 && c.arg[i * c.S + j / 3] == j;
			assert_int_equal(dot(dwc + (size_t)j * c.E,
			    dwc + (size_t)j * c.E, c.E) > 0, won);
		}
		/* three copies of each row are plain CosFace */
		for (j = 0; j < c.S; j++)
			memcpy(rows + j * c.E, c.cls + (size_t)j * 3 * c.E,
			    sizeof(float) * c.E);
		for (j = 0; j < c.S; j++)
			for (k = 1; k < 3; k++)
				memcpy(c.cls + ((size_t)j * 3 + k) * c.E,
				    rows + j * c.E, sizeof(float) * c.E);
		l = nn_tl_cosface(c.e, c.cls, y, c.n, c.N, c.E, c.S, 3, 30.0f,
		    0.2f, de, dwc, 1.0f, &nl, &ok, c.work, c.arg, NULL);
		l1 = (float)nn_tl_cosface(c.e, rows, y, c.n, c.N, c.E, c.S, 1,
		    30.0f, 0.2f, de, dwc, 1.0f, &nl, &ok, c.work, c.arg, NULL);
		assert_float_equal(l, l1, 1e-6);
		c.K = 1;
	}

	/* cross-entropy with a mask */
	c.mode = 3;
	l = nn_tl_xent(c.e, y, c.n, c.N, c.A, de, &nl, &ok);
	assert_int_equal(nl, 3);
	assert_true(fd_check("cross-entropy (masked): logits", c.e, de,
	    (size_t)c.n * c.A, head_loss, &c, &r) < TOL_LAYER);
	{
		/* the loss is the mean over labelled samples only */
		double ref = 0;
		int i, j;

		for (i = 0; i < c.n; i++) {
			double s = 0;

			if (y[i] < 0)
				continue;
			for (j = 0; j < c.A; j++)
				s += exp(c.e[i * c.A + j]);
			ref += log(s) - c.e[i * c.A + y[i]];
		}
		assert_float_equal(l, ref / 3, 1e-5);
	}
	free(c.x);
	free(c.w);
	free(c.b);
	free(c.y1);
	free(c.g);
	free(c.be);
	free(c.mean);
	free(c.is);
	free(c.e);
	free(c.cls);
	free(c.work);
	free(c.arg);
	free(c.de);
	free(c.dwc);
	free(c.R);
	free(dx);
	free(dw);
	free(db);
	free(dy1);
	free(dg);
	free(dbe);
	free(de);
	free(dwc);
}

/* ---- whole network ------------------------------------------------------------- */

static const char *const acts3[] = { "rest", "walk", "run" };

struct net_ctx {
	struct nn_trainer *t;
	const float *x;
	const int *yi, *ya;
	int n;
};

static double
net_loss(void *p)
{
	struct net_ctx *c = p;
	double l = 0;

	nn_trainer_params_changed(c->t);
	assert_int_equal(nn_trainer_loss(c->t, c->x, c->yi, c->ya, c->n, &l,
	    NULL), 0);
	return l;
}

/* BN weights away from 1 and biases away from 0, so every term shows */
static void
perturb_model(struct nn_model *m, uint64_t seed)
{
	struct dt_rng r;
	size_t i, j;

	dt_rng_seed(&r, seed);
	for (i = 0; i < m->n_tensors; i++) {
		struct nn_tensor *t = &m->tensors[i];

		if (strstr(t->name, "running"))
			continue;
		for (j = 0; j < t->numel; j++) {
			if (strstr(t->name, "bn") && strstr(t->name, ".weight"))
				t->data[j] = dt_rng_uniformf(&r, 0.6f, 1.4f);
			else if (strstr(t->name, ".bias"))
				t->data[j] = 0.2f * (float)dt_rng_normal(&r);
		}
	}
}

static void
grad_network(void)
{
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct nn_trainer *t = NULL;
	struct nn_train_opts o;
	struct dt_error err;
	struct dt_rng r;
	struct net_ctx c;
	const int N = 6;
	static const int yi[6] = { 0, 3, -1, 1, 4, 2 };
	static const int ya[6] = { 2, -1, 0, 1, 1, -1 };
	float *x, *P, *G, *gcopy;
	size_t np, i;
	double l;
	int k, fails = 0;

	tt_tiny_hp(&hp, 40, 8);
	assert_int_equal(nn_model_create(&hp, 5, 3, acts3, 42, &m, &err), 0);
	perturb_model(m, 43);
	nn_train_opts_default(&o);
	o.batch = N + 1;	/* one slot unused: n < batch */
	o.cosface_s = 8.0f;	/* softer logits: smaller second derivatives */
	assert_int_equal(nn_trainer_create(m, &o, &t, &err), 0);
	nn_trainer_freeze_dropout(t, true);
	nn_trainer_set_task_weights(t, 0.7f, 1.3f);
	x = malloc(sizeof(float) * (size_t)N * hp.window);
	dt_rng_seed(&r, 44);
	fill(x, (size_t)N * hp.window, &r, 1.0f);
	c = (struct net_ctx){ .t = t, .x = x, .yi = yi, .ya = ya, .n = N };
	assert_int_equal(nn_trainer_compute(t, x, yi, ya, N, &l, &err), 0);
	P = nn_trainer_params(t, &np);
	G = nn_trainer_grads(t);
	gcopy = malloc(sizeof(float) * np);
	memcpy(gcopy, G, sizeof(float) * np);
	for (k = 0; k < (int)m->n_tensors; k++) {
		const char *name = m->tensors[k].name;
		size_t off, cnt;
		double rel;

		if (nn_trainer_param_find(t, name, &off, &cnt) != 0)
			continue;	/* running statistics */
		rel = fd_check(name, P + off, gcopy + off, cnt, net_loss, &c, &r);
		if (!(rel < TOL_NET)) {
			printf("  ^ FAILED\n");
			fails++;
		}
		nn_trainer_params_changed(t);
	}
	assert_int_equal(fails, 0);
	for (i = 0; i < np; i++)
		assert_true(isfinite(gcopy[i]));
	free(gcopy);
	free(x);
	nn_trainer_free(t);
	nn_model_free(m);
}

static void
test_grad_network(void **state)
{
	static const char *modes[] = { "gemm", "blocked", "auto" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		setenv("DT4ECG_TRAIN_CONV", modes[i], 1);
		grad_network();
	}
	unsetenv("DT4ECG_TRAIN_CONV");
}

/* ---- GradNorm ------------------------------------------------------------------- */

/*
 * Toy: task 0's loss falls fast (L0 = exp(-0.05 s)), task 1's slowly
 * (exp(-0.005 s)), equal gradient norms at W.  GradNorm must move weight
 * from the fast task to the slow one, keeping the sum at 2.
 */
static void
test_gradnorm_toy(void **state)
{
	struct nn_gradnorm g;
	int s;

	(void)state;
	nn_gradnorm_init(&g, 1.5f);
	for (s = 0; s < 200; s++) {
		const float L[2] = { 2.0f * expf(-0.05f * s),
			2.0f * expf(-0.005f * s) };
		const float gn[2] = { 1.0f, 1.0f };
		const bool on[2] = { true, true };

		nn_gradnorm_observe(&g, L, on);
		nn_gradnorm_update(&g, L, gn, 0.01f);
		assert_float_equal(g.w[0] + g.w[1], 2.0, 1e-5);
	}
	printf("  toy GradNorm after 200 steps: w_fast %.3f w_slow %.3f\n",
	    g.w[0], g.w[1]);
	assert_true(g.w[0] < 0.8f);
	assert_true(g.w[1] > 1.2f);
	assert_float_equal(g.L0[0], 2.0, 1e-6);
}

/* ---- training on a separable problem ------------------------------------------- */

/* Window of class (id, act): sinusoids whose frequency codes the identity and
 * whose amplitude envelope codes the activity, plus noise. */
static void
make_window(float *w, int W, int id, int act, struct dt_rng *r)
{
	int t;
	float ph = dt_rng_uniformf(r, 0.0f, 6.28f);

	for (t = 0; t < W; t++)
		w[t] = sinf(0.25f * (id + 1) * t + ph) +
		    (act == 1 ? 1.0f : -1.0f) * (t < W / 2 ? 1.0f : 0.0f) +
		    0.2f * (float)dt_rng_normal(r);
}

/* The synthetic two-task problem of the training runs below: the tiny
 * network on windows of W samples, 4 identities, activities rest/run, and
 * the options it trains with in STEPS steps of N. */
static struct nn_model *
synth_model(int W)
{
	static const char *const acts2[] = { "rest", "run" };
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct dt_error err;

	tt_tiny_hp(&hp, 40, 8);
	hp.window = W;
	assert_int_equal(nn_model_create(&hp, 4, 2, acts2, 5, &m, &err), 0);
	return m;
}

/* A batch of N windows of it; with SOME_UNLABELLED every fifth window has
 * no activity label. */
static void
synth_batch(float *x, int *yi, int *ya, int N, int W, bool some_unlabelled,
    struct dt_rng *r)
{
	int i;

	for (i = 0; i < N; i++) {
		yi[i] = (int)(dt_rng_next(r) % 4);
		ya[i] = (int)(dt_rng_next(r) % 2);
		make_window(x + i * W, W, yi[i], ya[i], r);
		if (some_unlabelled && i % 5 == 4)
			ya[i] = -1;
	}
}

static struct nn_train_opts
synth_opts(int N, int steps)
{
	struct nn_train_opts o;

	nn_train_opts_default(&o);
	o.batch = N;
	o.total_steps = steps;
	o.warmup_steps = 5;
	o.lr = 3e-3f;
	o.cosface_s = 10.0f;
	return o;
}

static void
training_run(bool gn_features)
{
	struct nn_model *m = NULL;
	struct nn_trainer *t = NULL;
	struct nn_train_opts o;
	struct nn_step_stats st;
	struct dt_error err;
	struct dt_rng r;
	const int N = 16, W = 64, steps = 150;
	float x[16 * 64];
	int yi[16], ya[16], s;
	double first_l = 0, last_l = 0, acc_first = 0, acc_last = 0;
	float w0 = 1.0f;

	o = synth_opts(N, steps);
	o.gradnorm_lr = 1e-2f;
	o.gradnorm_features = gn_features;
	m = synth_model(W);
	assert_int_equal(nn_trainer_create(m, &o, &t, &err), 0);
	dt_rng_seed(&r, 9);
	for (s = 0; s < steps; s++) {
		synth_batch(x, yi, ya, N, W, true, &r);
		assert_int_equal(nn_trainer_step(t, x, yi, ya, N, &st, &err), 0);
		assert_float_equal(st.w_id + st.w_act, 2.0, 1e-4);
		if (s == 5)
			w0 = st.w_id;
		if (s < 10) {
			first_l += st.loss_id + st.loss_act;
			acc_first += (double)(st.correct_id + st.correct_act) /
			    (st.n_id + st.n_act);
		}
		if (s >= steps - 10) {
			last_l += st.loss_id + st.loss_act;
			acc_last += (double)(st.correct_id + st.correct_act) /
			    (st.n_id + st.n_act);
		}
	}
	printf("  GradNorm at the %s: loss %.3f -> %.3f, train accuracy "
	    "%.2f -> %.2f, w = %.3f / %.3f\n", gn_features ? "features" :
	    "weight W", first_l / 10, last_l / 10, acc_first / 10,
	    acc_last / 10, st.w_id, st.w_act);
	/* the weights moved: GradNorm ran */
	assert_true(fabsf(st.w_id - w0) > 1e-4f);
	assert_true(last_l < 0.5 * first_l);
	assert_true(acc_last / 10 > 0.9);
	assert_true(acc_last > acc_first);

	/* export: the model now holds the trained weights */
	assert_int_equal(nn_trainer_export(t, m, &err), 0);
	assert_non_null(nn_model_meta(m, "gradnorm.w_id"));
	{
		size_t off, cnt;
		float *P = nn_trainer_params(t, NULL);
		const struct nn_tensor *x0 = nn_model_tensor(m,
		    "stages.1.conv2.weight");

		assert_int_equal(nn_trainer_param_find(t,
		    "stages.1.conv2.weight", &off, &cnt), 0);
		assert_memory_equal(x0->data, P + off, cnt * sizeof(float));
	}
	nn_trainer_free(t);
	nn_model_free(m);
}

static void
test_training_run(void **state)
{
	(void)state;
	training_run(false);
}

/* The variant measuring the task gradients at the shared pooled features
 * trains as well. */
static void
test_training_run_gn_features(void **state)
{
	(void)state;
	training_run(true);
}

/* Fixed weights with per-task gradient normalisation at the shared
 * features: it trains, and it changes the trunk's updates (the same run
 * without it ends elsewhere). */
static double
fixed_run(bool task_norm, double *loss_ratio, double *acc)
{
	struct nn_model *m = NULL;
	struct nn_trainer *t = NULL;
	struct nn_train_opts o;
	struct nn_step_stats st;
	struct dt_error err;
	struct dt_rng r;
	const int N = 16, W = 64, steps = 150;
	float x[16 * 64];
	int yi[16], ya[16], s;
	double first_l = 0, last_l = 0, acc_last = 0, sum = 0;
	size_t np, j;
	const float *P;

	o = synth_opts(N, steps);
	o.gradnorm = false;
	o.task_grad_norm = task_norm;
	m = synth_model(W);
	assert_int_equal(nn_trainer_create(m, &o, &t, &err), 0);
	dt_rng_seed(&r, 9);
	for (s = 0; s < steps; s++) {
		synth_batch(x, yi, ya, N, W, false, &r);
		assert_int_equal(nn_trainer_step(t, x, yi, ya, N, &st, &err), 0);
		if (s < 10)
			first_l += st.loss_id + st.loss_act;
		if (s >= steps - 10) {
			last_l += st.loss_id + st.loss_act;
			acc_last += (double)(st.correct_id + st.correct_act) /
			    (st.n_id + st.n_act);
		}
	}
	P = nn_trainer_params(t, &np);
	for (j = 0; j < np; j++)
		sum += fabs((double)P[j]);
	*loss_ratio = last_l / first_l;
	*acc = acc_last / 10;
	nn_trainer_free(t);
	nn_model_free(m);
	return sum;
}

static void
test_task_grad_norm(void **state)
{
	double r0, a0, r1, a1, s0, s1;

	(void)state;
	s0 = fixed_run(false, &r0, &a0);
	s1 = fixed_run(true, &r1, &a1);
	printf("  fixed weights: loss ratio %.3f, accuracy %.2f; with per-task "
	    "gradient normalisation %.3f, %.2f\n", r0, a0, r1, a1);
	assert_true(r1 < 0.5 && a1 > 0.9);
	assert_true(fabs(s1 - s0) > 1e-6 * s0);
}

/*
 * CosFace with sub-centres in the trainer: the model's one classifier row
 * per subject starts sub-centre 0, the run trains, a checkpoint resumes it
 * exactly (and a trainer with another count refuses it), and the export
 * writes each subject's dominant sub-centre, one row per subject.
 */
static void
test_subcentre_run(void **state)
{
	struct nn_model *m = NULL;
	struct nn_trainer *t = NULL, *b = NULL, *one = NULL;
	struct nn_train_opts o;
	struct nn_step_stats st, sb;
	struct dt_error err;
	struct dt_rng r;
	char path[] = "/tmp/test_train_scXXXXXX";
	const int N = 16, W = 64, steps = 150, K = 3;
	float x[16 * 64];
	int yi[16], ya[16], s, j, fd;
	double acc_last = 0;
	size_t off, cnt, E;
	const struct nn_tensor *cls;
	const float *first_p;
	float *first;

	(void)state;
	o = synth_opts(N, steps);
	o.subcentres = K;
	m = synth_model(W);
	cls = nn_model_tensor(m, "id_head.classifier.weight");
	assert_non_null(cls);
	E = cls->numel / 4;
	first = malloc(sizeof(float) * cls->numel);
	assert_non_null(first);
	memcpy(first, cls->data, sizeof(float) * cls->numel);
	assert_int_equal(nn_trainer_create(m, &o, &t, &err), 0);
	assert_int_equal(nn_trainer_param_find(t, "id_head.classifier.weight",
	    &off, &cnt), 0);
	assert_int_equal(cnt, 4 * K * E);
	for (j = 0; j < 4; j++)
		assert_memory_equal(nn_trainer_params(t, NULL) + off +
		    (size_t)j * K * E, first + (size_t)j * E, E * sizeof(float));
	dt_rng_seed(&r, 9);
	for (s = 0; s < steps; s++) {
		synth_batch(x, yi, ya, N, W, false, &r);
		if (s == steps - 1) {
			/* a checkpoint before the last step resumes it */
			fd = mkstemp(path);
			assert_true(fd >= 0);
			close(fd);
			assert_int_equal(nn_trainer_save_state(t, path, &err), 0);
			assert_int_equal(nn_trainer_create(m, &o, &b, &err), 0);
			assert_int_equal(nn_trainer_load_state(b, path, &err), 0);
			assert_int_equal(nn_trainer_step(b, x, yi, ya, N, &sb,
			    &err), 0);
		}
		assert_int_equal(nn_trainer_step(t, x, yi, ya, N, &st, &err), 0);
		if (s >= steps - 10)
			acc_last += (double)st.correct_id / st.n_id;
	}
	printf("  CosFace with %d sub-centres: train identity accuracy %.2f\n",
	    K, acc_last / 10);
	assert_true(acc_last / 10 > 0.9);
	assert_float_equal(st.loss_id, sb.loss_id, 1e-6);
	first_p = nn_trainer_params(t, &cnt);	/* all of them, not the
						 * classifier's cnt above */
	assert_memory_equal(first_p, nn_trainer_params(b, NULL),
	    cnt * sizeof(float));
	o.subcentres = 1;
	assert_int_equal(nn_trainer_create(m, &o, &one, &err), 0);
	assert_int_equal(nn_trainer_load_state(one, path, &err), -1);
	assert_non_null(strstr(err.msg, "different architecture"));
	unlink(path);

	/* the export: one row per subject, one of its sub-centres */
	assert_int_equal(nn_trainer_export(t, m, &err), 0);
	cls = nn_model_tensor(m, "id_head.classifier.weight");
	assert_int_equal(cls->numel, 4 * E);
	for (j = 0; j < 4; j++) {
		const float *P = nn_trainer_params(t, NULL) + off;
		int k, found = 0;

		for (k = 0; k < K; k++)
			found += memcmp(cls->data + (size_t)j * E,
			    P + ((size_t)j * K + k) * E, E * sizeof(float)) == 0;
		assert_int_equal(found, 1);
	}
	/* out of range refused */
	o.subcentres = 0;
	assert_int_equal(nn_trainer_create(m, &o, &one, &err), -1);
	o.subcentres = NN_MAX_SUBCENTRES + 1;
	assert_int_equal(nn_trainer_create(m, &o, &one, &err), -1);
	free(first);
	nn_trainer_free(t);
	nn_trainer_free(b);
	nn_trainer_free(one);
	nn_model_free(m);
}

/*
 * Weight averaging (ema_decay): the live weights are exactly those of a run
 * without it (the averages never feed back); the export after k steps is
 * the moving average of the live weights and BN statistics from zero,
 * divided by 1 - D^k; a checkpoint carries the averages, and a trainer
 * without averaging refuses it.
 */
static void
test_ema(void **state)
{
	enum { N = 16, W = 64, STEPS = 12, TAIL = 3 };
	const float D = 0.8f;
	struct nn_model *live = synth_model(W), *avg = synth_model(W);
	struct nn_model *resumed = synth_model(W);
	float *acc[64];		/* the moving averages, by tensor */
	double keep = 1;	/* D^k */
	struct nn_trainer *a = NULL, *b = NULL, *c = NULL, *none = NULL;
	struct nn_train_opts o;
	struct dt_error err;
	struct dt_rng r;
	char path[] = "/tmp/test_train_emaXXXXXX";
	float x[TAIL][N * W];
	int yi[TAIL][N], ya[TAIL][N], s, fd, k, moved = 0;
	size_t i, j, cnt = 0;
	const float *live_p;

	(void)state;
	o = synth_opts(N, STEPS);
	assert_int_equal(nn_trainer_create(live, &o, &a, &err), 0);
	o.ema_decay = D;
	assert_int_equal(nn_trainer_create(live, &o, &b, &err), 0);
	assert_true(live->n_tensors <= 64);
	for (i = 0; i < live->n_tensors; i++) {
		acc[i] = calloc(live->tensors[i].numel, sizeof(float));
		assert_non_null(acc[i]);
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	dt_rng_seed(&r, 5);
	for (s = 0; s < STEPS; s++) {
		k = s < STEPS - TAIL ? 0 : s - (STEPS - TAIL);
		synth_batch(x[k], yi[k], ya[k], N, W, false, &r);
		if (s == STEPS - TAIL)
			assert_int_equal(nn_trainer_save_state(b, path, &err),
			    0);
		assert_int_equal(nn_trainer_step(a, x[k], yi[k], ya[k], N, NULL,
		    &err), 0);
		assert_int_equal(nn_trainer_step(b, x[k], yi[k], ya[k], N, NULL,
		    &err), 0);
		assert_int_equal(nn_trainer_export(a, live, &err), 0);
		for (i = 0; i < live->n_tensors; i++)
			for (j = 0; j < live->tensors[i].numel; j++)
				acc[i][j] = D * acc[i][j] +
				    (1 - D) * live->tensors[i].data[j];
		keep *= D;
	}
	live_p = nn_trainer_params(a, &cnt);	/* sets cnt: not inside the
						 * call below, whose arguments
						 * have no order */
	assert_memory_equal(live_p, nn_trainer_params(b, NULL),
	    cnt * sizeof(float));
	assert_int_equal(nn_trainer_export(b, avg, &err), 0);
	for (i = 0; i < live->n_tensors; i++) {
		const struct nn_tensor *l = &live->tensors[i];
		const struct nn_tensor *v = nn_model_tensor(avg, l->name);

		assert_non_null(v);
		for (j = 0; j < l->numel; j++) {
			const double want = acc[i][j] / (1 - keep);

			assert_float_equal(v->data[j], want,
			    1e-5 * (1 + fabs(want)));
			moved += fabsf(v->data[j] - l->data[j]) > 1e-4f;
		}
	}
	assert_true(moved > 0);	/* the average is not the live model */

	/* resumed from the checkpoint: the same averages, bit for bit */
	assert_int_equal(nn_trainer_create(live, &o, &c, &err), 0);
	assert_int_equal(nn_trainer_load_state(c, path, &err), 0);
	for (k = 0; k < TAIL; k++)
		assert_int_equal(nn_trainer_step(c, x[k], yi[k], ya[k], N, NULL,
		    &err), 0);
	assert_int_equal(nn_trainer_export(c, resumed, &err), 0);
	for (i = 0; i < avg->n_tensors; i++)
		assert_memory_equal(avg->tensors[i].data,
		    nn_model_tensor(resumed, avg->tensors[i].name)->data,
		    avg->tensors[i].numel * sizeof(float));
	o.ema_decay = 0;
	assert_int_equal(nn_trainer_create(live, &o, &none, &err), 0);
	assert_int_equal(nn_trainer_load_state(none, path, &err), -1);
	assert_non_null(strstr(err.msg, "weight averaging"));
	unlink(path);
	nn_trainer_free(none);
	none = NULL;
	/* a decay outside [0, 1) refused */
	o.ema_decay = 1.0f;
	assert_int_equal(nn_trainer_create(live, &o, &none, &err), -1);
	o.ema_decay = -0.1f;
	assert_int_equal(nn_trainer_create(live, &o, &none, &err), -1);
	nn_trainer_free(a);
	nn_trainer_free(b);
	nn_trainer_free(c);
	for (i = 0; i < live->n_tensors; i++)
		free(acc[i]);
	nn_model_free(live);
	nn_model_free(avg);
	nn_model_free(resumed);
}

/* ---- checkpoint ------------------------------------------------------------------- */

static void
test_checkpoint(void **state)
{
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct nn_trainer *a = NULL, *b = NULL;
	struct nn_train_opts o;
	struct nn_step_stats sa, sb;
	struct dt_error err;
	struct dt_rng r;
	char path[] = "/tmp/test_train_ckXXXXXX";
	const int N = 4;
	float x[4 * 40];
	int yi[4] = { 0, 1, 2, -1 }, ya[4] = { 1, -1, 0, 2 };
	int fd, s;
	size_t np;
	FILE *f;

	(void)state;
	tt_tiny_hp(&hp, 40, 8);
	assert_int_equal(nn_model_create(&hp, 3, 3, acts3, 1, &m, &err), 0);
	nn_train_opts_default(&o);
	o.batch = N;
	assert_int_equal(nn_trainer_create(m, &o, &a, &err), 0);
	assert_int_equal(nn_trainer_create(m, &o, &b, &err), 0);
	dt_rng_seed(&r, 2);
	fill(x, sizeof(x) / sizeof(x[0]), &r, 1.0f);
	for (s = 0; s < 3; s++)
		assert_int_equal(nn_trainer_step(a, x, yi, ya, N, &sa, &err), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(nn_trainer_save_state(a, path, &err), 0);
	assert_int_equal(nn_trainer_load_state(b, path, &err), 0);
	/* the same next step from both */
	assert_int_equal(nn_trainer_step(a, x, yi, ya, N, &sa, &err), 0);
	assert_int_equal(nn_trainer_step(b, x, yi, ya, N, &sb, &err), 0);
	assert_float_equal(sa.loss_id, sb.loss_id, 1e-6);
	assert_float_equal(sa.loss_act, sb.loss_act, 1e-6);
	assert_float_equal(sa.w_id, sb.w_id, 1e-6);
	{
		const float *pa = nn_trainer_params(a, &np);
		const float *pb = nn_trainer_params(b, NULL);
		size_t q;

		for (q = 0; q < np; q++)
			if (pa[q] != pb[q])
				printf("  param %zu: %.9g vs %.9g\n", q, pa[q], pb[q]);
	}
	assert_memory_equal(nn_trainer_params(a, &np), nn_trainer_params(b, NULL),
	    np * sizeof(float));

	/* a flipped byte is caught */
	f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 200, SEEK_SET);
	fputc(0x5a ^ fgetc(f), f);
	fseek(f, 200, SEEK_SET);
	fputc(0x33, f);
	fclose(f);
	assert_int_equal(nn_trainer_load_state(b, path, &err), -1);
	/* a truncated file too */
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(nn_trainer_load_state(b, path, &err), -1);
	unlink(path);
	assert_int_equal(nn_trainer_load_state(b, "/nonexistent/ck", &err), -1);
	nn_trainer_free(a);
	nn_trainer_free(b);
	nn_model_free(m);
}

/* Labels outside their range and a too-small batch are refused. */
static void
test_bad_input(void **state)
{
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct nn_trainer *t = NULL;
	struct nn_train_opts o;
	struct nn_step_stats st;
	struct dt_error err;
	float x[4 * 40] = { 0 };
	int yi[4] = { 0, 1, 2, 3 }, ya[4] = { 0, 0, 0, 0 };

	(void)state;
	tt_tiny_hp(&hp, 40, 8);
	assert_int_equal(nn_model_create(&hp, 3, 3, acts3, 1, &m, &err), 0);
	nn_train_opts_default(&o);
	o.batch = 4;
	assert_int_equal(nn_trainer_create(m, &o, &t, &err), 0);
	assert_int_equal(nn_trainer_step(t, x, yi, ya, 4, &st, &err), -1);
	assert_non_null(strstr(err.msg, "identity label"));
	yi[3] = -1;
	assert_int_equal(nn_trainer_step(t, x, yi, ya, 1, &st, &err), -1);
	assert_int_equal(nn_trainer_step(t, x, yi, ya, 5, &st, &err), -1);
	nn_trainer_free(t);
	nn_model_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grad_conv),
		cmocka_unit_test(test_conv_rule),
		cmocka_unit_test(test_grad_stem),
		cmocka_unit_test(test_grad_bn),
		cmocka_unit_test(test_bn_running_stats),
		cmocka_unit_test(test_grad_maxpool),
		cmocka_unit_test(test_grad_sca),
		cmocka_unit_test(test_grad_heads),
		cmocka_unit_test(test_grad_network),
		cmocka_unit_test(test_gradnorm_toy),
		cmocka_unit_test(test_training_run),
		cmocka_unit_test(test_training_run_gn_features),
		cmocka_unit_test(test_task_grad_norm),
		cmocka_unit_test(test_subcentre_run),
		cmocka_unit_test(test_ema),
		cmocka_unit_test(test_checkpoint),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

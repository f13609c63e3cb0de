/*
 * nn/train_layers.c — forward (training mode) and backward kernels of the
 * layers of DESIGN.md section 2 in plain C (stem convolution, batch norm,
 * ReLU, max-pool, SCA, global pool, heads, losses): everything but the
 * convolutions of the residual blocks, which run on oneDNN (nn/train_conv.c).  See nn/train_layers.h for the layouts.
 *
 * Parallelism: loops over samples (or channel blocks, for batch-norm
 * statistics) run under OpenMP in the calling thread, as oneDNN's
 * primitives do.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "nn/nn_internal.h"
#include "nn/train_layers.h"

#if NN_TB != 1
#error "the kernels below are written for the plain ncw layout"
#endif


#define B NN_TB

static inline float
sigmoidf(float z)
{
	return 1.0f / (1.0f + expf(-z));
}

float *
nn_tl_alloc(size_t nfloats)
{
	size_t bytes = (nfloats * sizeof(float) + 63) / 64 * 64;
	float *p;

	if (bytes == 0)
		bytes = 64;
	if ((p = aligned_alloc(64, bytes)) != NULL)
		memset(p, 0, bytes);
	return p;
}

void
nn_tl_to_blocked(const float *src, float *dst, int N, int C, int L)
{
	int n, c, t;

	for (n = 0; n < N; n++)
		for (c = 0; c < C; c++)
			for (t = 0; t < L; t++)
				dst[nn_tl_idx(n, c, t, C, L)] =
				    src[((size_t)n * C + c) * L + t];
}

void
nn_tl_from_blocked(const float *src, float *dst, int N, int C, int L)
{
	int n, c, t;

	for (n = 0; n < N; n++)
		for (c = 0; c < C; c++)
			for (t = 0; t < L; t++)
				dst[((size_t)n * C + c) * L + t] =
				    src[nn_tl_idx(n, c, t, C, L)];
}

/* ---- stem ------------------------------------------------------------------ */

NN_HOT static void
stem_fwd_one(const float *xp, const float *wt, float *y, int C, int K, int W)
{
	int c, k, t;

	for (c = 0; c < C; c++) {
		float *yr = y + (size_t)c * W;

		for (t = 0; t < W; t++)
			yr[t] = 0.0f;
		for (k = 0; k < K; k++) {
			const float w = wt[(size_t)k * C + c];
			const float *xs = xp + k;

#pragma omp simd
			for (t = 0; t < W; t++)
				yr[t] += w * xs[t];
		}
	}
}

void
nn_tl_stem_fwd(const float *xp, const float *wt, float *y, int n, int C,
    int K, int W)
{
	const size_t xs = (size_t)W + K - 1, ys = (size_t)C * W;
	int s;

#pragma omp parallel for if (n > 1) schedule(static)
	for (s = 0; s < n; s++)
		stem_fwd_one(xp + s * xs, wt, y + s * ys, C, K, W);
}

NN_HOT static void
stem_bwd_one(const float *xp, const float *dy, float *acc, int C, int K,
    int W)
{
	int c, k, t;

	for (c = 0; c < C; c++) {
		const float *g = dy + (size_t)c * W;

		/* four taps at a time: one FMA chain alone waits on latency */
		for (k = 0; k + 4 <= K; k += 4) {
			const float *x0 = xp + k, *x1 = x0 + 1, *x2 = x0 + 2;
			const float *x3 = x0 + 3;
			float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;

#pragma omp simd reduction(+ : a0, a1, a2, a3)
			for (t = 0; t < W; t++) {
				a0 += g[t] * x0[t];
				a1 += g[t] * x1[t];
				a2 += g[t] * x2[t];
				a3 += g[t] * x3[t];
			}
			acc[(size_t)k * C + c] += a0;
			acc[(size_t)(k + 1) * C + c] += a1;
			acc[(size_t)(k + 2) * C + c] += a2;
			acc[(size_t)(k + 3) * C + c] += a3;
		}
		for (; k < K; k++) {
			const float *xs = xp + k;
			float a = 0.0f;

#pragma omp simd reduction(+ : a)
			for (t = 0; t < W; t++)
				a += g[t] * xs[t];
			acc[(size_t)k * C + c] += a;
		}
	}
}

void
nn_tl_stem_bwd_w(const float *xp, const float *dy, float *dwt, int n, int C,
    int K, int W, float *acc, int nthreads)
{
	const size_t xs = (size_t)W + K - 1, ys = (size_t)C * W;
	const size_t kc = (size_t)K * C;
	int nt = nthreads < 1 ? 1 : nthreads;

	memset(acc, 0, sizeof(float) * kc * (size_t)nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
	{
		int th = omp_get_thread_num(), s;

#pragma omp for schedule(static)
		for (s = 0; s < n; s++)
			stem_bwd_one(xp + s * xs, dy + s * ys, acc + kc * th,
			    C, K, W);
	}
	{
		size_t j;
		int th;

		for (j = 0; j < kc; j++) {
			float v = 0.0f;

			for (th = 0; th < nt; th++)
				v += acc[kc * th + j];
			dwt[j] = v;
		}
	}
}

/* ---- batch norm ------------------------------------------------------------ */

NN_HOT static void
bn_stats_block(const float *x, int c, int n, int C, int L, float *mean,
    float *invstd, float *run_mean, float *run_var, float momentum)
{
	const double cnt = (double)n * L;
	double sum = 0.0, q = 0.0, var;
	float mu;
	int s_, t;

	for (s_ = 0; s_ < n; s_++) {
		const float *p = x + ((size_t)s_ * C + c) * L;
		float a = 0.0f;

#pragma omp simd reduction(+ : a)
		for (t = 0; t < L; t++)
			a += p[t];
		sum += a;
	}
	mu = (float)(sum / cnt);
	for (s_ = 0; s_ < n; s_++) {
		const float *p = x + ((size_t)s_ * C + c) * L;
		float a = 0.0f;

#pragma omp simd reduction(+ : a)
		for (t = 0; t < L; t++)
			a += (p[t] - mu) * (p[t] - mu);
		q += a;
	}
	var = q / cnt;
	mean[c] = mu;
	invstd[c] = (float)(1.0 / sqrt(var + NN_BN_EPS));
	if (run_mean != NULL) {
		double uv = cnt > 1 ? q / (cnt - 1) : var;

		run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * mu;
		run_var[c] = (float)((1.0 - momentum) * run_var[c] +
		    momentum * uv);
	}
}

void
nn_tl_bn_stats(const float *x, int n, int C, int L, float *mean,
    float *invstd, float *run_mean, float *run_var, float momentum)
{
	int cb;

#pragma omp parallel for if (C > 1) schedule(static)
	for (cb = 0; cb < C; cb++)
		bn_stats_block(x, cb, n, C, L, mean, invstd, run_mean, run_var,
		    momentum);
}

NN_HOT static void
bn_apply_one(const float *x, float *y, int C, int L, const float *mean,
    const float *invstd, const float *g, const float *b, bool relu)
{
	int cb, t, i;

	for (cb = 0; cb < C / B; cb++) {
		const float *xp = x + (size_t)cb * L * B;
		float *yp = y + (size_t)cb * L * B;
		float sc[B], sh[B];

		for (i = 0; i < B; i++) {
			const int c = cb * B + i;

			sc[i] = g[c] * invstd[c];
			sh[i] = b[c] - mean[c] * sc[i];
		}
		for (t = 0; t < L; t++)
			for (i = 0; i < B; i++) {
				float v = xp[(size_t)t * B + i] * sc[i] + sh[i];

				if (relu)
					v = v > 0.0f ? v : 0.0f;
				yp[(size_t)t * B + i] = v;
			}
	}
}

void
nn_tl_bn_apply(const float *x, float *y, int n, int N, int C, int L,
    const float *mean, const float *invstd, const float *g, const float *b,
    bool relu)
{
	const size_t per = (size_t)C * L;
	int s;

#pragma omp parallel for if (N > 1) schedule(static)
	for (s = 0; s < N; s++) {
		if (s >= n)
			memset(y + s * per, 0, sizeof(float) * per);
		else
			bn_apply_one(x + s * per, y + s * per, C, L, mean,
			    invstd, g, b, relu);
	}
}

NN_HOT static void
bn2_one(const float *xa, const float *xb, float *z, int C, int L,
    const float *ma, const float *ia, const float *ga, const float *ba,
    const float *mb, const float *ib, const float *gb, const float *bb)
{
	int cb, t, i;

	for (cb = 0; cb < C / B; cb++) {
		const size_t o = (size_t)cb * L * B;
		float sa[B], sb[B], sh[B];

		for (i = 0; i < B; i++) {
			const int c = cb * B + i;

			sa[i] = ga[c] * ia[c];
			sb[i] = gb[c] * ib[c];
			sh[i] = ba[c] - ma[c] * sa[i] + bb[c] - mb[c] * sb[i];
		}
		for (t = 0; t < L; t++)
			for (i = 0; i < B; i++) {
				const size_t j = o + (size_t)t * B + i;
				float v = xa[j] * sa[i] + xb[j] * sb[i] + sh[i];

				z[j] = v > 0.0f ? v : 0.0f;
			}
	}
}

void
nn_tl_bn2_add_relu(const float *xa, const float *xb, float *z, int n, int N,
    int C, int L, const float *mean_a, const float *invstd_a,
    const float *g_a, const float *b_a, const float *mean_b,
    const float *invstd_b, const float *g_b, const float *b_b)
{
	const size_t per = (size_t)C * L;
	int s;

#pragma omp parallel for if (N > 1) schedule(static)
	for (s = 0; s < N; s++) {
		if (s >= n)
			memset(z + s * per, 0, sizeof(float) * per);
		else
			bn2_one(xa + s * per, xb + s * per, z + s * per, C, L,
			    mean_a, invstd_a, g_a, b_a, mean_b, invstd_b, g_b,
			    b_b);
	}
}

/* Sums of dy_eff and dy_eff * xhat over one channel block. */
NN_HOT static void
bn_bwd_sums(const float *x, const float *dy, const float *mask, int c,
    int n, int C, int L, const float *mean, const float *invstd, double *sd,
    double *sdx)
{
	const float mu = mean[c], is = invstd[c];
	double a = 0.0, q = 0.0;
	int s, t;

	for (s = 0; s < n; s++) {
		const size_t o = ((size_t)s * C + c) * L;
		const float *xr = x + o, *gr = dy + o;
		float ra = 0.0f, rq = 0.0f;

		if (mask != NULL) {
			const float *mr = mask + o;

#pragma omp simd reduction(+ : ra, rq)
			for (t = 0; t < L; t++) {
				const float d = mr[t] > 0.0f ? gr[t] : 0.0f;

				ra += d;
				rq += d * (xr[t] - mu);
			}
		} else {
#pragma omp simd reduction(+ : ra, rq)
			for (t = 0; t < L; t++) {
				ra += gr[t];
				rq += gr[t] * (xr[t] - mu);
			}
		}
		a += ra;
		q += rq;
	}
	*sd = a;
	*sdx = q * is;
}

NN_HOT static void
bn_bwd_dx(const float *x, const float *dy, const float *mask, float *dx,
    int C, int L, const float *mean, const float *invstd, const float *g,
    const float *k1, const float *k2)
{
	int c, t;

	for (c = 0; c < C; c++) {
		const size_t o = (size_t)c * L;
		const float mu = mean[c], sc = g[c] * invstd[c];
		const float a1 = k1[c], a2 = k2[c] * invstd[c];
		const float *xr = x + o, *gr = dy + o;
		float *dr = dx + o;

		if (mask != NULL) {
			const float *mr = mask + o;

#pragma omp simd
			for (t = 0; t < L; t++) {
				const float d = mr[t] > 0.0f ? gr[t] : 0.0f;

				dr[t] = sc * (d - a1 - (xr[t] - mu) * a2);
			}
		} else {
#pragma omp simd
			for (t = 0; t < L; t++)
				dr[t] = sc * (gr[t] - a1 - (xr[t] - mu) * a2);
		}
	}
}

void
nn_tl_bn_bwd(const float *x, const float *dy, const float *mask, float *dx,
    int n, int N, int C, int L, const float *mean, const float *invstd,
    const float *g, float *dg, float *db, float *k)
{
	const size_t per = (size_t)C * L;
	const double cnt = (double)n * L;
	int cb, s;

	/* k[c] = mean(dy_eff), k[C + c] = mean(dy_eff * xhat) */
#pragma omp parallel for if (C > 1) schedule(static)
	for (cb = 0; cb < C; cb++) {
		double sd, sdx;

		bn_bwd_sums(x, dy, mask, cb, n, C, L, mean, invstd, &sd, &sdx);
		k[cb] = (float)(sd / cnt);
		k[C + cb] = (float)(sdx / cnt);
		if (dg != NULL)
			dg[cb] = (float)sdx;
		if (db != NULL)
			db[cb] = (float)sd;
	}
#pragma omp parallel for if (N > 1) schedule(static)
	for (s = 0; s < N; s++) {
		if (s >= n)
			memset(dx + s * per, 0, sizeof(float) * per);
		else
			bn_bwd_dx(x + s * per, dy + s * per,
			    mask ? mask + s * per : NULL, dx + s * per, C, L,
			    mean, invstd, g, k, k + C);
	}
}

/* ---- max-pool -------------------------------------------------------------- */

NN_HOT static void
maxpool2_fwd_one(const float *x, float *y, int C, int L)
{
	const int Lo = L / 2;
	int c, t;

	for (c = 0; c < C; c++) {
		const float *xr = x + (size_t)c * L;
		float *yr = y + (size_t)c * Lo;

#pragma omp simd
		for (t = 0; t < Lo; t++) {
			const float a = xr[2 * t], b = xr[2 * t + 1];

			yr[t] = b > a ? b : a;
		}
	}
}

void
nn_tl_maxpool2_fwd(const float *x, float *y, int n, int N, int C, int L)
{
	const size_t pi = (size_t)C * L, po = (size_t)C * (L / 2);
	int s;

#pragma omp parallel for if (N > 1) schedule(static)
	for (s = 0; s < N; s++) {
		if (s >= n)
			memset(y + s * po, 0, sizeof(float) * po);
		else
			maxpool2_fwd_one(x + s * pi, y + s * po, C, L);
	}
}

NN_HOT static void
maxpool2_bwd_one(const float *x, const float *dy, const float *dy2,
    float *dx, int C, int L)
{
	const int Lo = L / 2;
	int c, t;

	for (c = 0; c < C; c++) {
		const float *xr = x + (size_t)c * L, *gr = dy + (size_t)c * Lo;
		const float *g2 = dy2 ? dy2 + (size_t)c * Lo : NULL;
		float *dr = dx + (size_t)c * L;

		if (g2 != NULL) {
#pragma omp simd
			for (t = 0; t < Lo; t++) {
				const float g = gr[t] + g2[t];
				const bool second = xr[2 * t + 1] > xr[2 * t];

				dr[2 * t] = second ? 0.0f : g;
				dr[2 * t + 1] = second ? g : 0.0f;
			}
		} else {
#pragma omp simd
			for (t = 0; t < Lo; t++) {
				const bool second = xr[2 * t + 1] > xr[2 * t];

				dr[2 * t] = second ? 0.0f : gr[t];
				dr[2 * t + 1] = second ? gr[t] : 0.0f;
			}
		}
		if (L % 2)
			dr[L - 1] = 0.0f;
	}
}

/* Written per channel in ncw so that the loops vectorise. */
void
nn_tl_maxpool2_bwd(const float *x, const float *dy, const float *dy2,
    float *dx, int n, int N, int C, int L)
{
	const size_t pi = (size_t)C * L, po = (size_t)C * (L / 2);
	int s;

#pragma omp parallel for if (N > 1) schedule(static)
	for (s = 0; s < N; s++) {
		if (s >= n)
			memset(dx + s * pi, 0, sizeof(float) * pi);
		else
			maxpool2_bwd_one(x + s * pi, dy + s * po,
			    dy2 ? dy2 + s * po : NULL, dx + s * pi, C, L);
	}
}

/* ---- SCA ------------------------------------------------------------------- */

int
nn_tl_sca_init(struct nn_tl_sca *s, int N, int C, int L, int H, int kq,
    struct dt_error *err)
{
	const size_t nc = (size_t)N * C, nh = (size_t)N * H, nl = (size_t)N * L;

	memset(s, 0, sizeof(*s));
	s->N = N;
	s->C = C;
	s->L = L;
	s->H = H;
	s->kq = kq;
	s->avg = nn_tl_alloc(nc);
	s->mx = nn_tl_alloc(nc);
	s->amax_t = calloc(nc, sizeof(int));
	s->ha = nn_tl_alloc(nh);
	s->hm = nn_tl_alloc(nh);
	s->att = nn_tl_alloc(nc);
	s->u = nn_tl_alloc(nc * L);
	s->s = nn_tl_alloc(2 * nl);
	s->amax_c = calloc(nl, sizeof(int));
	s->m = nn_tl_alloc(nl);
	s->d_o = nn_tl_alloc(nc);
	s->dha = nn_tl_alloc(nh);
	s->dhm = nn_tl_alloc(nh);
	s->dq = nn_tl_alloc(nl);
	s->work = nn_tl_alloc(4 * nl + 2 * nc);
	if (!s->avg || !s->mx || !s->amax_t || !s->ha || !s->hm || !s->att ||
	    !s->u || !s->s || !s->amax_c || !s->m || !s->d_o || !s->dha ||
	    !s->dhm || !s->dq || !s->work) {
		nn_tl_sca_free(s);
		return dt_error_set(err, DT_E_NOMEM, "SCA: out of memory");
	}
	return 0;
}

void
nn_tl_sca_free(struct nn_tl_sca *s)
{
	free(s->avg);
	free(s->mx);
	free(s->amax_t);
	free(s->ha);
	free(s->hm);
	free(s->att);
	free(s->u);
	free(s->s);
	free(s->amax_c);
	free(s->m);
	free(s->d_o);
	free(s->dha);
	free(s->dhm);
	free(s->dq);
	free(s->work);
	memset(s, 0, sizeof(*s));
}

/*
 * The SCA loops below run over time within one channel (ncw), under
 * `omp simd`: written per block they came out scalar and branchy (the ReLU
 * mask at the end of the backward pass alone took half of it).
 */
NN_HOT static void
sca_fwd_one(struct nn_tl_sca *s, int n, const float *z, float *out)
{
	const int C = s->C, L = s->L, H = s->H, P = s->kq / 2;
	const size_t per = (size_t)C * L;
	float *avg = s->avg + (size_t)n * C, *mx = s->mx + (size_t)n * C;
	int *amt = s->amax_t + (size_t)n * C;
	float *ha = s->ha + (size_t)n * H, *hm = s->hm + (size_t)n * H;
	float *att = s->att + (size_t)n * C, *u = s->u + (size_t)n * per;
	float *s0 = s->s + (size_t)n * 2 * L, *s1 = s0 + L;
	int *amc = s->amax_c + (size_t)n * L;
	float *m = s->m + (size_t)n * L;
	int t, j, c, k;

	/* channel part: pool over time (argmax: the first maximum) */
	for (c = 0; c < C; c++) {
		const float *zr = z + (size_t)c * L;
		float sum = 0.0f, mv = zr[0];

#pragma omp simd reduction(+ : sum) reduction(max : mv)
		for (t = 0; t < L; t++) {
			sum += zr[t];
			mv = zr[t] > mv ? zr[t] : mv;
		}
		for (t = 0; t < L - 1 && zr[t] != mv; t++)
			;
		avg[c] = sum / (float)L;
		mx[c] = mv;
		amt[c] = t;
	}
	for (j = 0; j < H; j++) {
		const float *w = s->fc1_w + (size_t)j * C;
		float a = s->fc1_b[j], b = s->fc1_b[j];

#pragma omp simd reduction(+ : a, b)
		for (c = 0; c < C; c++) {
			a += w[c] * avg[c];
			b += w[c] * mx[c];
		}
		ha[j] = a;
		hm[j] = b;
	}
	for (c = 0; c < C; c++) {
		const float *w = s->fc2_w + (size_t)c * H;
		float o = 2.0f * s->fc2_b[c];

#pragma omp simd reduction(+ : o)
		for (j = 0; j < H; j++)
			o += w[j] * ((ha[j] > 0.0f ? ha[j] : 0.0f) +
			    (hm[j] > 0.0f ? hm[j] : 0.0f));
		att[c] = sigmoidf(o);
	}
	/* apply; pool over channels (argmax: the first channel) */
	for (t = 0; t < L; t++) {
		s0[t] = 0.0f;
		s1[t] = -INFINITY;
		amc[t] = 0;
	}
	for (c = 0; c < C; c++) {
		const float *zr = z + (size_t)c * L;
		float *ur = u + (size_t)c * L;
		const float a = att[c];

#pragma omp simd
		for (t = 0; t < L; t++) {
			const float v = zr[t] * a;
			const bool gt = v > s1[t];

			ur[t] = v;
			s0[t] += v;
			s1[t] = gt ? v : s1[t];
			amc[t] = gt ? c : amc[t];
		}
	}
	for (t = 0; t < L; t++)
		s0[t] /= (float)C;
	/* sequence part */
	for (t = 0; t < L; t++) {
		float q = s->seq_b[0];

		for (k = 0; k < s->kq; k++) {
			int at = t + k - P;

			if (at < 0 || at >= L)
				continue;
			q += s->seq_w[k] * s0[at] + s->seq_w[s->kq + k] * s1[at];
		}
		m[t] = sigmoidf(q);
	}
	for (c = 0; c < C; c++) {
		const float *ur = u + (size_t)c * L;
		float *op = out + (size_t)c * L;

#pragma omp simd
		for (t = 0; t < L; t++)
			op[t] = ur[t] * m[t];
	}
}

void
nn_tl_sca_fwd(struct nn_tl_sca *s, const float *z, float *out, int n)
{
	const size_t per = (size_t)s->C * s->L;
	int i;

#pragma omp parallel for if (s->N > 1) schedule(static)
	for (i = 0; i < s->N; i++) {
		if (i >= n)
			memset(out + i * per, 0, sizeof(float) * per);
		else
			sca_fwd_one(s, i, z + i * per, out + i * per);
	}
}

NN_HOT static void
sca_bwd_one(struct nn_tl_sca *s, int n, const float *z, const float *da,
    const float *db, const float *dfg, float *dz)
{
	const int C = s->C, L = s->L, H = s->H, P = s->kq / 2, kq = s->kq;
	const size_t per = (size_t)C * L;
	const float *u = s->u + (size_t)n * per;
	const float *att = s->att + (size_t)n * C;
	const float *ha = s->ha + (size_t)n * H, *hm = s->hm + (size_t)n * H;
	const int *amt = s->amax_t + (size_t)n * C;
	const int *amc = s->amax_c + (size_t)n * L;
	const float *m = s->m + (size_t)n * L;
	float *d_o = s->d_o + (size_t)n * C;
	float *dha = s->dha + (size_t)n * H, *dhm = s->dhm + (size_t)n * H;
	float *dq = s->dq + (size_t)n * L;
	float *dm = s->work + (size_t)n * (4 * (size_t)L + 2 * C);
	float *ds0 = dm + L, *ds1 = ds0 + L, *ga = ds1 + L, *gm = ga + C;
	int t, j, c, k;

	/* out = u * m: dm[t] = sum_c dout u; dz holds dout for now */
	for (t = 0; t < L; t++)
		dm[t] = 0.0f;
	for (c = 0; c < C; c++) {
		const size_t o = (size_t)c * L;
		const float *ur = u + o, *ar = da ? da + o : NULL;
		const float *br = db ? db + o : NULL;
		float *dr = dz + o;

		if (dfg != NULL) {
			const float g = dfg[c] / (float)L;

#pragma omp simd
			for (t = 0; t < L; t++) {
				dm[t] += g * ur[t];
				dr[t] = g;
			}
		} else if (br != NULL) {
#pragma omp simd
			for (t = 0; t < L; t++) {
				const float g = ar[t] + br[t];

				dm[t] += g * ur[t];
				dr[t] = g;
			}
		} else {
#pragma omp simd
			for (t = 0; t < L; t++) {
				dm[t] += ar[t] * ur[t];
				dr[t] = ar[t];
			}
		}
	}
	/* m = sigmoid(q); q = conv(s) */
	for (t = 0; t < L; t++) {
		dq[t] = dm[t] * m[t] * (1.0f - m[t]);
		ds0[t] = 0.0f;
		ds1[t] = 0.0f;
	}
	for (t = 0; t < L; t++)
		for (k = 0; k < kq; k++) {
			int at = t + k - P;

			if (at < 0 || at >= L)
				continue;
			ds0[at] += s->seq_w[k] * dq[t];
			ds1[at] += s->seq_w[kq + k] * dq[t];
		}
	/*
	 * s0 = mean_c u, s1 = max_c u, so du = dout * m + ds0 (+ ds1 at the
	 * argmax channel); u = z * att: d_o = sum_t du z, dz = du * att
	 */
	for (t = 0; t < L; t++)
		ds0[t] /= (float)C;
	for (c = 0; c < C; c++) {
		const size_t o = (size_t)c * L;
		const float *zr = z + o;
		float *dr = dz + o;
		const float a = att[c];
		float acc = 0.0f;

#pragma omp simd reduction(+ : acc)
		for (t = 0; t < L; t++) {
			const float du = dr[t] * m[t] + ds0[t];

			acc += du * zr[t];
			dr[t] = du * a;
		}
		d_o[c] = acc;
	}
	for (t = 0; t < L; t++) {
		const size_t q = (size_t)amc[t] * L + t;

		d_o[amc[t]] += ds1[t] * z[q];
		dz[q] += ds1[t] * att[amc[t]];
	}
	for (c = 0; c < C; c++)
		d_o[c] *= att[c] * (1.0f - att[c]);
	/* MLP, shared by both pooled vectors */
	for (j = 0; j < H; j++)
		dha[j] = 0.0f;
	for (c = 0; c < C; c++) {
		const float *w = s->fc2_w + (size_t)c * H;
		const float d = d_o[c];

#pragma omp simd
		for (j = 0; j < H; j++)
			dha[j] += w[j] * d;
	}
	for (j = 0; j < H; j++) {
		dhm[j] = hm[j] > 0.0f ? dha[j] : 0.0f;
		dha[j] = ha[j] > 0.0f ? dha[j] : 0.0f;
	}
	for (c = 0; c < C; c++) {
		ga[c] = 0.0f;
		gm[c] = 0.0f;
	}
	for (j = 0; j < H; j++) {
		const float *w = s->fc1_w + (size_t)j * C;
		const float a = dha[j] / (float)L, b = dhm[j];

#pragma omp simd
		for (c = 0; c < C; c++) {
			ga[c] += w[c] * a;
			gm[c] += w[c] * b;
		}
	}
	/* the pooled vectors' gradients, then the ReLU before SCA */
	for (c = 0; c < C; c++) {
		const size_t o = (size_t)c * L;
		const float *zr = z + o;
		float *dr = dz + o;
		const float g = ga[c];

		dr[amt[c]] += gm[c];
#pragma omp simd
		for (t = 0; t < L; t++)
			dr[t] += g;
		/* apart: GCC will not if-convert a (trapping) add under a
		 * condition, and a branch per element mispredicts */
#pragma omp simd
		for (t = 0; t < L; t++)
			dr[t] = zr[t] > 0.0f ? dr[t] : 0.0f;
	}
}

void
nn_tl_sca_bwd(struct nn_tl_sca *s, const float *z, const float *dout_a,
    const float *dout_b, const float *df_gap, float *dz, int n,
    float *g_fc1_w, float *g_fc1_b, float *g_fc2_w, float *g_fc2_b,
    float *g_seq_w, float *g_seq_b)
{
	const int C = s->C, L = s->L, H = s->H, kq = s->kq, P = kq / 2;
	const size_t per = (size_t)C * L;
	int i;

#pragma omp parallel for if (s->N > 1) schedule(static)
	for (i = 0; i < s->N; i++) {
		if (i >= n) {
			memset(dz + i * per, 0, sizeof(float) * per);
			continue;
		}
		sca_bwd_one(s, i, z + i * per,
		    dout_a ? dout_a + i * per : NULL,
		    dout_b ? dout_b + i * per : NULL,
		    df_gap ? df_gap + (size_t)i * C : NULL, dz + i * per);
	}
	if (g_fc1_w == NULL)
		return;
	/* parameter gradients: sums over the samples */
#pragma omp parallel for if (C > 64) schedule(static)
	for (i = 0; i < C; i++) {
		int j, q;
		float b = 0.0f;

		for (j = 0; j < H; j++)
			g_fc2_w[(size_t)i * H + j] = 0.0f;
		for (q = 0; q < n; q++) {
			const float d = s->d_o[(size_t)q * C + i];
			const float *ha = s->ha + (size_t)q * H;
			const float *hm = s->hm + (size_t)q * H;

			b += d;
			for (j = 0; j < H; j++)
				g_fc2_w[(size_t)i * H + j] += d *
				    ((ha[j] > 0.0f ? ha[j] : 0.0f) +
				    (hm[j] > 0.0f ? hm[j] : 0.0f));
		}
		g_fc2_b[i] = 2.0f * b;
	}
#pragma omp parallel for if (H > 8) schedule(static)
	for (i = 0; i < H; i++) {
		int c, q;
		float b = 0.0f;

		for (c = 0; c < C; c++)
			g_fc1_w[(size_t)i * C + c] = 0.0f;
		for (q = 0; q < n; q++) {
			const float da = s->dha[(size_t)q * H + i];
			const float dm = s->dhm[(size_t)q * H + i];
			const float *av = s->avg + (size_t)q * C;
			const float *mv = s->mx + (size_t)q * C;

			b += da + dm;
			for (c = 0; c < C; c++)
				g_fc1_w[(size_t)i * C + c] += da * av[c] +
				    dm * mv[c];
		}
		g_fc1_b[i] = b;
	}
	{
		int q, t, k;
		float b = 0.0f;

		for (k = 0; k < 2 * kq; k++)
			g_seq_w[k] = 0.0f;
		for (q = 0; q < n; q++) {
			const float *dq = s->dq + (size_t)q * L;
			const float *s0 = s->s + (size_t)q * 2 * L, *s1 = s0 + L;

			for (t = 0; t < L; t++) {
				b += dq[t];
				for (k = 0; k < kq; k++) {
					int at = t + k - P;

					if (at < 0 || at >= L)
						continue;
					g_seq_w[k] += dq[t] * s0[at];
					g_seq_w[kq + k] += dq[t] * s1[at];
				}
			}
		}
		g_seq_b[0] = b;
	}
}

/* ---- global average pool ------------------------------------------------- */

void
nn_tl_gap_fwd(const float *x, float *f, int n, int N, int C, int L)
{
	int s;

	for (s = 0; s < N; s++) {
		int cb, t, i;

		for (cb = 0; cb < C / B; cb++) {
			const float *p = x + nn_tl_idx(s, cb * B, 0, C, L);
			float a[B] = { 0 };

			if (s < n)
				for (t = 0; t < L; t++)
					for (i = 0; i < B; i++)
						a[i] += p[(size_t)t * B + i];
			for (i = 0; i < B; i++)
				f[(size_t)s * C + cb * B + i] = a[i] / (float)L;
		}
	}
}

/* ---- fully connected ------------------------------------------------------- */

void
nn_tl_fc_fwd(const float *x, const float *w, const float *b, float *y,
    int n, int I, int O)
{
	int s, o, i;

	for (s = 0; s < n; s++)
		for (o = 0; o < O; o++) {
			const float *wr = w + (size_t)o * I;
			const float *xr = x + (size_t)s * I;
			float a = b != NULL ? b[o] : 0.0f;

			for (i = 0; i < I; i++)
				a += wr[i] * xr[i];
			y[(size_t)s * O + o] = a;
		}
}

void
nn_tl_fc_bwd(const float *x, const float *w, const float *dy, float *dx,
    float *dw, float *db, float scale, int n, int N, int I, int O)
{
	int s, o, i;

	if (dw != NULL)
		for (o = 0; o < O; o++) {
			float *wr = dw + (size_t)o * I;

			for (i = 0; i < I; i++)
				wr[i] = 0.0f;
			for (s = 0; s < n; s++) {
				const float g = scale * dy[(size_t)s * O + o];
				const float *xr = x + (size_t)s * I;

				for (i = 0; i < I; i++)
					wr[i] += g * xr[i];
			}
		}
	if (db != NULL)
		for (o = 0; o < O; o++) {
			float a = 0.0f;

			for (s = 0; s < n; s++)
				a += dy[(size_t)s * O + o];
			db[o] = scale * a;
		}
	if (dx != NULL)
		for (s = 0; s < N; s++) {
			float *xr = dx + (size_t)s * I;

			for (i = 0; i < I; i++)
				xr[i] = 0.0f;
			if (s >= n)
				continue;
			for (o = 0; o < O; o++) {
				const float g = dy[(size_t)s * O + o];
				const float *wr = w + (size_t)o * I;

				for (i = 0; i < I; i++)
					xr[i] += g * wr[i];
			}
		}
}

/* ---- batch norm over features ---------------------------------------------- */

void
nn_tl_bn1d_fwd(const float *x, float *y, int n, int E, const float *g,
    const float *b, float *mean, float *invstd, float *run_mean,
    float *run_var, float momentum)
{
	int s, e;

	for (e = 0; e < E; e++) {
		double a = 0.0, q = 0.0, mu, var;

		for (s = 0; s < n; s++)
			a += x[(size_t)s * E + e];
		mu = a / n;
		for (s = 0; s < n; s++) {
			double d = x[(size_t)s * E + e] - mu;

			q += d * d;
		}
		var = q / n;
		mean[e] = (float)mu;
		invstd[e] = (float)(1.0 / sqrt(var + NN_BN_EPS));
		if (run_mean != NULL) {
			run_mean[e] = (float)((1.0 - momentum) * run_mean[e] +
			    momentum * mu);
			run_var[e] = (float)((1.0 - momentum) * run_var[e] +
			    momentum * (n > 1 ? q / (n - 1) : var));
		}
		for (s = 0; s < n; s++)
			y[(size_t)s * E + e] = g[e] * (x[(size_t)s * E + e] -
			    mean[e]) * invstd[e] + b[e];
	}
}

void
nn_tl_bn1d_bwd(const float *x, const float *dy, float *dx, int n, int N,
    int E, const float *mean, const float *invstd, const float *g,
    float *dg, float *db, float scale)
{
	int s, e;

	for (e = 0; e < E; e++) {
		double a = 0.0, q = 0.0;
		float k1, k2;

		for (s = 0; s < n; s++) {
			const float d = dy[(size_t)s * E + e];

			a += d;
			q += (double)d * (x[(size_t)s * E + e] - mean[e]) *
			    invstd[e];
		}
		if (dg != NULL)
			dg[e] = (float)(scale * q);
		if (db != NULL)
			db[e] = (float)(scale * a);
		k1 = (float)(a / n);
		k2 = (float)(q / n);
		for (s = 0; s < N; s++) {
			const size_t j = (size_t)s * E + e;

			dx[j] = s < n ? g[e] * invstd[e] * (dy[j] - k1 -
			    (x[j] - mean[e]) * invstd[e] * k2) : 0.0f;
		}
	}
}

/* ---- losses ---------------------------------------------------------------- */

size_t
nn_tl_cosface_work(int N, int E, int S, int K)
{
	const size_t R = (size_t)S * K;

	return 2 * (size_t)N * E + R * E + (size_t)N * S + N + 2 * R;
}

double
nn_tl_cosface(const float *e, const float *w, const int *y, int n, int N,
    int E, int S, int K, float sc, float mg, float *de, float *dw,
    float scale, int *n_lab, int *correct, float *work, int *arg,
    float *hits)
{
	const int R = S * K;	/* classifier rows */
	float *eh = work, *deh = eh + (size_t)N * E, *wh = deh + (size_t)N * E;
	float *p = wh + (size_t)R * E, *en = p + (size_t)N * S, *wn = en + N;
	float *cr = wn + R;
	double loss = 0.0;
	int i, j, k, r, nl = 0, ok = 0;

	for (i = 0; i < n; i++)
		if (y[i] >= 0)
			nl++;
	memset(de, 0, sizeof(float) * (size_t)N * E);
	if (dw != NULL)
		memset(dw, 0, sizeof(float) * (size_t)R * E);
	*n_lab = nl;
	*correct = 0;
	if (nl == 0)
		return 0.0;
	for (r = 0; r < R; r++) {
		double q = 0.0;

		for (k = 0; k < E; k++)
			q += (double)w[(size_t)r * E + k] * w[(size_t)r * E + k];
		wn[r] = (float)fmax(sqrt(q), 1e-12);
		for (k = 0; k < E; k++)
			wh[(size_t)r * E + k] = w[(size_t)r * E + k] / wn[r];
	}
	for (i = 0; i < n; i++) {
		const float *er = e + (size_t)i * E;
		float *pr = p + (size_t)i * S;
		int *ar = arg + (size_t)i * S;
		double q = 0.0, mx = -INFINITY, sum = 0.0;
		int best = 0;

		if (y[i] < 0)
			continue;
		for (k = 0; k < E; k++)
			q += (double)er[k] * er[k];
		en[i] = (float)fmax(sqrt(q), 1e-12);
		for (k = 0; k < E; k++)
			eh[(size_t)i * E + k] = er[k] / en[i];
		for (r = 0; r < R; r++) {
			float c = 0.0f;

			for (k = 0; k < E; k++)
				c += eh[(size_t)i * E + k] * wh[(size_t)r * E + k];
			cr[r] = c;
		}
		/* a class's cosine is its closest sub-centre's */
		for (j = 0; j < S; j++) {
			ar[j] = j * K;
			for (r = j * K + 1; r < (j + 1) * K; r++)
				if (cr[r] > cr[ar[j]])
					ar[j] = r;
			pr[j] = cr[ar[j]];
		}
		if (hits != NULL)
			hits[ar[y[i]]] += 1.0f;
		/* argmax of cos before the margin */
		for (j = 0; j < S; j++)
			if (pr[j] > pr[best])
				best = j;
		if (best == y[i])
			ok++;
		for (j = 0; j < S; j++) {
			pr[j] = sc * (pr[j] - (j == y[i] ? mg : 0.0f));
			if (pr[j] > mx)
				mx = pr[j];
		}
		for (j = 0; j < S; j++)
			sum += exp(pr[j] - mx);
		loss += -(pr[y[i]] - mx - log(sum));
		/* dlogit = (softmax - onehot) / nl; dcos = s dlogit */
		for (j = 0; j < S; j++)
			pr[j] = (float)(sc * (exp(pr[j] - mx) / sum -
			    (j == y[i] ? 1.0 : 0.0)) / nl);
	}
	/* d e-hat, d w-hat: only the winning sub-centre of each class */
	for (i = 0; i < n; i++) {
		float *dr = deh + (size_t)i * E;
		const float *pr = p + (size_t)i * S;
		const int *ar = arg + (size_t)i * S;
		float dot = 0.0f;

		if (y[i] < 0)
			continue;
		for (k = 0; k < E; k++)
			dr[k] = 0.0f;
		for (j = 0; j < S; j++)
			for (k = 0; k < E; k++)
				dr[k] += pr[j] * wh[(size_t)ar[j] * E + k];
		for (k = 0; k < E; k++)
			dot += dr[k] * eh[(size_t)i * E + k];
		for (k = 0; k < E; k++)
			de[(size_t)i * E + k] = (dr[k] -
			    eh[(size_t)i * E + k] * dot) / en[i];
	}
	if (dw != NULL) {
		for (i = 0; i < n; i++) {
			const float *pr = p + (size_t)i * S;
			const int *ar = arg + (size_t)i * S;

			if (y[i] < 0)
				continue;
			for (j = 0; j < S; j++)
				for (k = 0; k < E; k++)
					dw[(size_t)ar[j] * E + k] += pr[j] *
					    eh[(size_t)i * E + k];
		}
		for (r = 0; r < R; r++) {
			float *dr = dw + (size_t)r * E;
			const float *wr = wh + (size_t)r * E;
			float dot = 0.0f;

			for (k = 0; k < E; k++)
				dot += dr[k] * wr[k];
			for (k = 0; k < E; k++)
				dr[k] = scale * (dr[k] - wr[k] * dot) / wn[r];
		}
	}
	*correct = ok;
	return loss / nl;
}

double
nn_tl_xent(const float *z, const int *y, int n, int N, int A, float *dz,
    int *n_lab, int *correct)
{
	double loss = 0.0;
	int i, j, nl = 0, ok = 0;

	memset(dz, 0, sizeof(float) * (size_t)N * A);
	for (i = 0; i < n; i++)
		if (y[i] >= 0)
			nl++;
	*n_lab = nl;
	*correct = 0;
	if (nl == 0)
		return 0.0;
	for (i = 0; i < n; i++) {
		const float *zr = z + (size_t)i * A;
		double mx = zr[0], sum = 0.0;
		int best = 0;

		if (y[i] < 0)
			continue;
		for (j = 1; j < A; j++)
			if (zr[j] > zr[best])
				best = j;
		mx = zr[best];
		if (best == y[i])
			ok++;
		for (j = 0; j < A; j++)
			sum += exp(zr[j] - mx);
		loss += -(zr[y[i]] - mx - log(sum));
		for (j = 0; j < A; j++)
			dz[(size_t)i * A + j] = (float)((exp(zr[j] - mx) / sum -
			    (j == y[i] ? 1.0 : 0.0)) / nl);
	}
	*correct = ok;
	return loss / nl;
}

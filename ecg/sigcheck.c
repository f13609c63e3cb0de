/* ecg/sigcheck.c — is this an ECG at all? (sigcheck.h) */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecg/sigcheck.h"

#define REFRACTORY_S	0.25	/* 240 bpm at most */
#define ENERGY_S	0.15	/* moving average of the squared slope */
#define THR_FRAC	0.3	/* of the largest energy within +-THR_SPAN_S */
#define THR_SPAN_S	2.0
#define REFINE_S	0.06
#define WELCH_S		4.0
#define TONE_HALF_HZ	0.5
#define GBLK		16	/* DFT bins computed together */

void
ecg_sigcheck_params_default(struct ecg_sigcheck_params *p)
{
	memset(p, 0, sizeof(*p));
	p->hr_min_bpm = 30.0;
	p->hr_max_bpm = 220.0;
	p->min_beats = 3;
	p->max_tone = 0.92;
	p->wave_tone = 0.55;
	p->wave_kurtosis = 3.0;
	p->noise_flatness = 0.7;
	p->noise_explained = 0.25;
	p->min_explained = 0.02;
	p->walk_slope_flatness = 0.75;
	p->walk_explained = 0.45;
	p->segment_s = 8.0;
	p->qrs_half_s = 0.05;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

static int
cmp_by_height(const void *a, const void *b, void *ve)
{
	const double *e = ve;
	double x = e[*(const size_t *)a], y = e[*(const size_t *)b];

	return (x < y) - (x > y);	/* highest first */
}

/*
 * R peaks of x (n samples at fs): local maxima of the squared slope's moving
 * average at least THR_FRAC of the largest within +-THR_SPAN_S, the highest
 * first, none closer than REFRACTORY_S to one kept.  pk (room for n) gets
 * them in time order; returns how many.  e and bmax are scratch (n each).
 */
static size_t
beats(const float *x, size_t n, int fs, double *e, double *bmax, size_t *pk,
    size_t *range)
{
	size_t m = (size_t)(ENERGY_S * fs), span = (size_t)(THR_SPAN_S * fs);
	size_t dist = (size_t)(REFRACTORY_S * fs), blk = (size_t)fs;
	size_t i, j, np = 0, nk = 0, nb;
	double acc = 0, d;
	bool *taken = NULL;

	if (m < 1)
		m = 1;
	/* e[i]: mean squared slope over the m samples centred on i */
	for (i = 0; i < n + m / 2; i++) {
		if (i < n && i > 0) {
			d = (double)x[i] - (double)x[i - 1];
			acc += d * d;
		}
		if (i >= m && i - m > 0) {
			d = (double)x[i - m] - (double)x[i - m - 1];
			acc -= d * d;
		}
		if (i >= m / 2)
			e[i - m / 2] = acc > 0 ? acc / (double)m : 0;
	}
	nb = (n + blk - 1) / blk;
	for (j = 0; j < nb; j++) {
		bmax[j] = 0;
		for (i = j * blk; i < n && i < (j + 1) * blk; i++)
			if (e[i] > bmax[j])
				bmax[j] = e[i];
	}
	for (i = 1; i + 1 < n; i++) {
		size_t b = i / blk, r = span / blk, lo, hi;
		double thr = 0;

		if (!(e[i] > e[i - 1] && e[i] >= e[i + 1]))
			continue;
		lo = b >= r ? b - r : 0;
		hi = b + r < nb ? b + r : nb - 1;
		for (j = lo; j <= hi; j++)
			if (bmax[j] > thr)
				thr = bmax[j];
		if (e[i] > 0 && e[i] >= THR_FRAC * thr)
			pk[np++] = i;
	}
	if (np == 0)
		return 0;
	qsort_r(pk, np, sizeof(*pk), cmp_by_height, e);
	if ((taken = calloc(n, sizeof(*taken))) == NULL)
		return 0;
	for (i = 0; i < np; i++) {
		size_t p = pk[i], lo = p >= dist ? p - dist + 1 : 0;
		size_t hi = p + dist < n ? p + dist : n;
		bool free_ = true;

		for (j = lo; j < hi && free_; j++)
			free_ = !taken[j];
		if (!free_)
			continue;
		taken[p] = true;
		pk[nk++] = p;
	}
	free(taken);
	qsort(pk, nk, sizeof(*pk), cmp_size);
	/* the rhythm's regularity on the energy peaks (the refined peaks
	 * below may alternate between the sides of a symmetric wave) */
	if (nk >= 3) {
		size_t lo = SIZE_MAX, hi = 0;

		for (i = 0; i + 1 < nk; i++) {
			size_t g = pk[i + 1] - pk[i];

			lo = g < lo ? g : lo;
			hi = g > hi ? g : hi;
		}
		*range = hi - lo;
	}
	/* the R peak: the largest deflection within REFINE_S of the energy's
	 * peak (which lags or leads it by a few ms, enough to blur a QRS) */
	for (i = 0; i < nk; i++) {
		size_t w = (size_t)(REFINE_S * fs), p = pk[i], best = p;
		size_t lo = p >= w ? p - w : 0, hi = p + w < n ? p + w : n - 1;

		for (j = lo; j <= hi; j++)
			if (fabs(x[j]) > fabs(x[best]))
				best = j;
		pk[i] = best;
	}
	return nk;
}

/*
 * The averaged beat's figures: explained (each beat against the mean of the
 * others, scaled to fit) and the QRS share of the mean beat's slope energy.
 * seg is scratch (L = pre + post), sum too.
 */
static void
beat_figures(const float *x, size_t n, const size_t *pk, size_t npk,
    size_t pre, size_t post, size_t half, double *sum, double *seg,
    struct ecg_sigcheck_result *r)
{
	size_t L = pre + post, i, j, nb = 0;
	double tot = 0, expl = 0, sq = 0, sall = 0;

	for (j = 0; j < L; j++)
		sum[j] = 0;
	for (i = 0; i < npk; i++) {
		double mu = 0;

		if (pk[i] < pre || pk[i] + post > n)
			continue;
		for (j = 0; j < L; j++)
			mu += x[pk[i] - pre + j];
		mu /= (double)L;
		for (j = 0; j < L; j++)
			sum[j] += x[pk[i] - pre + j] - mu;
		nb++;
	}
	r->explained = 0;
	r->qrs_share = 0;
	if (nb < 2)
		return;
	for (i = 0; i < npk; i++) {
		double mu = 0, xt = 0, tt = 0, xx = 0;

		if (pk[i] < pre || pk[i] + post > n)
			continue;
		for (j = 0; j < L; j++)
			mu += x[pk[i] - pre + j];
		mu /= (double)L;
		for (j = 0; j < L; j++) {
			seg[j] = x[pk[i] - pre + j] - mu;
			xx += seg[j] * seg[j];
		}
		for (j = 0; j < L; j++) {
			/* the mean of the other beats (times nb - 1) */
			double t = sum[j] - seg[j];

			xt += seg[j] * t;
			tt += t * t;
		}
		tot += xx;
		if (xt > 0 && tt > 0)
			expl += xt * xt / tt;
	}
	r->explained = tot > 0 ? expl / tot : 0;
	for (j = 1; j < L; j++) {
		double d = sum[j] - sum[j - 1];

		sall += d * d;
		if (j + half >= pre && j <= pre + half)
			sq += d * d;
	}
	r->qrs_share = sall > 0 ? sq / sall : 0;
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define SC_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SC_HOT
#endif

typedef double sc_v4 __attribute__((vector_size(32)));

/*
 * P[k] += |DFT bin k of seg|^2 for the nk bins whose 2 cos(2 pi f / L) are
 * c2[0..nk) (c2 has room for GBLK more), by Goertzel's recurrence, GBLK
 * bins at a time held in registers: the direct sum cost ~20x more.
 */
SC_HOT static void
goertzel(const double *seg, size_t L, const double *c2, size_t nk,
    double *P)
{
	enum { V = GBLK / 4 };	/* independent chains, to fill the pipeline */
	size_t k, j, b, v;

	for (k = 0; k < nk; k += GBLK) {
		sc_v4 c[V], s1[V], s2[V], x, t;
		double o1[GBLK], o2[GBLK];

		for (v = 0; v < V; v++) {
			memcpy(&c[v], c2 + k + 4 * v, sizeof(c[v]));
			s1[v] = s2[v] = (sc_v4){ 0, 0, 0, 0 };
		}
		for (j = 0; j < L; j++) {
			x = (sc_v4){ seg[j], seg[j], seg[j], seg[j] };
			for (v = 0; v < V; v++) {
				t = x + c[v] * s1[v] - s2[v];
				s2[v] = s1[v];
				s1[v] = t;
			}
		}
		/* cppcheck does not size vector types: s1 and s2 are GBLK
		 * doubles each, as the assertion says */
		_Static_assert(sizeof(s1) == sizeof(o1), "GBLK lanes");
		// cppcheck-suppress bufferAccessOutOfBounds
		memcpy(o1, s1, sizeof(o1));
		// cppcheck-suppress bufferAccessOutOfBounds
		memcpy(o2, s2, sizeof(o2));
		for (b = 0; b < GBLK && k + b < nk; b++)
			P[k + b] += o1[b] * o1[b] + o2[b] * o2[b] -
			    c2[k + b] * o1[b] * o2[b];
	}
}

/* Welch estimate over 0.5-40 Hz: the tone and flatness figures. */
static int
spectrum(const float *x, size_t n, int fs, struct ecg_sigcheck_result *r)
{
	size_t L = (size_t)(WELCH_S * fs), hop, k0, k1, nk, k, j, s, nseg = 0;
	size_t half, f0, f1;
	double *c2 = NULL, *w = NULL, *P = NULL, *seg = NULL;
	double tot = 0, best = 0, lsum = 0, asum = 0;
	int rc = -1;

	if (L > n)
		L = n;
	hop = L / 2 > 0 ? L / 2 : 1;
	k0 = (size_t)ceil(0.5 * (double)L / fs);
	k1 = (size_t)floor(40.0 * (double)L / fs);
	if (k1 >= L / 2)
		k1 = L / 2 - 1;
	if (L < 8 || k1 <= k0) {
		r->tone = 0;
		r->flatness = 0;
		return 0;
	}
	nk = k1 - k0 + 1;
	if ((c2 = malloc((nk + GBLK) * sizeof(*c2))) == NULL ||
	    (w = malloc(L * sizeof(*w))) == NULL ||
	    (seg = malloc(L * sizeof(*seg))) == NULL ||
	    (P = calloc(nk, sizeof(*P))) == NULL)
		goto out;
	for (j = 0; j < L; j++)
		w[j] = 0.5 - 0.5 * cos(2 * M_PI * (double)j / (double)L);
	for (k = 0; k < nk + GBLK; k++)
		c2[k] = 2 * cos(2 * M_PI * (double)(k + k0) / (double)L);
	for (s = 0; s + L <= n; s += hop) {
		double mu = 0;

		for (j = 0; j < L; j++)
			mu += x[s + j];
		mu /= (double)L;
		for (j = 0; j < L; j++)
			seg[j] = (x[s + j] - mu) * w[j];
		goertzel(seg, L, c2, nk, P);
		nseg++;
	}
	half = (size_t)lround(TONE_HALF_HZ * (double)L / fs);
	if (half < 1)
		half = 1;
	for (k = 0; k < nk; k++)
		tot += P[k];
	for (k = 0; k < nk; k++) {
		double acc = 0;

		for (j = k >= half ? k - half : 0; j < nk && j <= k + half; j++)
			acc += P[j];
		if (acc > best) {
			best = acc;
			r->tone_hz = (double)(k + k0) * fs / (double)L;
		}
		if ((double)(k + k0) * fs / (double)L < 1.5)
			r->low += P[k];
	}
	r->tone = tot > 0 ? best / tot : 0;
	for (k = 0; k < nk; k++)
		if ((double)(k + k0) * fs / (double)L > 2.5 * r->tone_hz)
			r->upper += P[k];
	r->upper = best > 0 ? r->upper / best : 0;
	r->low = tot > 0 ? r->low / tot : 0;
	f0 = (size_t)ceil(1.0 * (double)L / fs);
	f1 = (size_t)floor(35.0 * (double)L / fs);
	f0 = f0 < k0 ? k0 : f0;
	f1 = f1 > k1 ? k1 : f1;
	for (k = f0, nseg = 0; k <= f1; k++, nseg++) {
		lsum += log(P[k - k0] + 1e-30);
		asum += P[k - k0];
	}
	r->flatness = nseg > 0 && asum > 0 ? exp(lsum / (double)nseg) /
	    (asum / (double)nseg) : 0;
	/* the same of the slope's spectrum (P f^2): a random walk's slope
	 * is white noise */
	lsum = asum = 0;
	for (k = f0; k <= f1; k++) {
		double d = P[k - k0] * (double)k * (double)k;

		lsum += log(d + 1e-30);
		asum += d;
	}
	r->slope_flatness = nseg > 0 && asum > 0 ?
	    exp(lsum / (double)nseg) / (asum / (double)nseg) : 0;
	rc = 0;
out:
	free(c2);
	free(w);
	if (seg != NULL)
		explicit_bzero(seg, L * sizeof(*seg));
	free(seg);
	free(P);
	return rc;
}

static int
check_one(const float *x, size_t n, int fs,
    const struct ecg_sigcheck_params *p, struct ecg_sigcheck_result *r,
    struct dt_error *err)
{
	double *e = NULL, *bmax = NULL, *sum = NULL, *seg = NULL, med;
	size_t *pk = NULL, *rr = NULL, npk, i, pre = 0, post = 0, L = 0;
	size_t ok = 0, range = 0;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((x == NULL && n > 0) || p == NULL || fs < 50)
		return dt_error_set(err, DT_E_INVALID, "sigcheck: bad "
		    "arguments");
	if ((e = malloc((n + 1) * sizeof(*e))) == NULL ||
	    (bmax = malloc((n / (size_t)fs + 2) * sizeof(*bmax))) == NULL ||
	    (pk = malloc((n + 1) * sizeof(*pk))) == NULL ||
	    (rr = malloc((n + 1) * sizeof(*rr))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "sigcheck: out of memory");
		goto out;
	}
	npk = beats(x, n, fs, e, bmax, pk, &range);
	r->beats = (int)npk;
	if (npk >= 2) {
		for (i = 0; i + 1 < npk; i++)
			rr[i] = pk[i + 1] - pk[i];
		qsort(rr, npk - 1, sizeof(*rr), cmp_size);
		med = (npk - 1) % 2 ? (double)rr[(npk - 1) / 2] :
		    0.5 * (double)(rr[(npk - 1) / 2 - 1] + rr[(npk - 1) / 2]);
		r->hr_bpm = 60.0 * fs / med;
		r->rr_range_ms = 1000.0 * (double)range / fs;
		for (i = 0; i + 1 < npk; i++)
			ok += (double)rr[i] >= 0.6 * med &&
			    (double)rr[i] <= 1.6 * med;
		r->rhythm = (double)ok / (double)(npk - 1);
		pre = (size_t)fmin(0.2 * fs, 0.35 * med);
		post = (size_t)fmin(0.4 * fs, 0.6 * med);
		L = pre + post;
		if ((sum = malloc(L * sizeof(*sum))) == NULL ||
		    (seg = malloc(L * sizeof(*seg))) == NULL) {
			dt_error_set(err, DT_E_NOMEM, "sigcheck: out of "
			    "memory");
			goto out;
		}
		beat_figures(x, n, pk, npk, pre, post,
		    (size_t)(p->qrs_half_s * fs), sum, seg, r);
	}
	{
		double mu = 0, m2 = 0, m4 = 0;

		for (i = 0; i < n; i++)
			mu += x[i];
		mu /= (double)(n > 0 ? n : 1);
		for (i = 0; i < n; i++) {
			double d2 = ((double)x[i] - mu) * ((double)x[i] - mu);

			m2 += d2;
			m4 += d2 * d2;
		}
		r->kurtosis = m2 > 0 ? m4 * (double)n / (m2 * m2) : 0;
	}
	if (spectrum(x, n, fs, r) != 0) {
		dt_error_set(err, DT_E_NOMEM, "sigcheck: out of memory");
		goto out;
	}
	if (r->beats < p->min_beats || r->hr_bpm < p->hr_min_bpm ||
	    r->hr_bpm > p->hr_max_bpm)
		r->reason = "no QRS-like beats at 30-220 bpm";
	else if (r->tone > p->max_tone)
		r->reason = "a pure tone, not heart beats (a sine wave?)";
	else if (r->tone > p->wave_tone && r->kurtosis < p->wave_kurtosis)
		r->reason = "a periodic wave, not heart beats (a square or "
		    "saw wave?)";
	else if (r->flatness > p->noise_flatness &&
	    r->explained < p->noise_explained)
		r->reason = "a flat spectrum and no repeating beat (noise?)";
	else if (r->explained < p->min_explained)
		r->reason = "no repeating beat: the averaged beat explains "
		    "nothing of the signal";
	else if (r->slope_flatness > p->walk_slope_flatness &&
	    r->explained < p->walk_explained)
		r->reason = "a wander whose slope is white noise, no repeating "
		    "beat (a random walk?)";
	if (r->reason != NULL) {
		dt_error_set(err, DT_E_SIG_NOT_ECG, "not an ECG: %s (%d beats, "
		    "%.0f bpm, averaged beat explains %.2f, QRS share %.2f, "
		    "tone %.2f, kurtosis %.1f, spectral flatness %.2f, "
		    "below 1.5 Hz %.2f)", r->reason, r->beats, r->hr_bpm,
		    r->explained, r->qrs_share, r->tone, r->kurtosis,
		    r->flatness, r->low);
		goto out;
	}
	rc = 0;
out:
	free(e);
	free(bmax);
	free(pk);
	free(rr);
	if (sum != NULL)
		explicit_bzero(sum, L * sizeof(*sum));
	if (seg != NULL)
		explicit_bzero(seg, L * sizeof(*seg));
	free(sum);
	free(seg);
	return rc;
}

int
ecg_sigcheck(const float *x, size_t n, int fs,
    const struct ecg_sigcheck_params *p, struct ecg_sigcheck_result *r,
    struct dt_error *err)
{
	struct ecg_sigcheck_result one;
	struct dt_error first = { 0 };
	size_t L, s;
	int m = 0, bad = 0;

	if (p == NULL || fs < 50 || !(p->segment_s > 0))
		return dt_error_set(err, DT_E_INVALID, "sigcheck: bad "
		    "arguments");
	L = (size_t)(p->segment_s * fs);
	if (n < 2 * L)
		return check_one(x, n, fs, p, r, err);
	/* a long recording: a vote of its segments, so that a stretch of
	 * motion does not condemn the rest (nor a stretch of ECG absolve) */
	for (s = 0; s + L <= n; s += L, m++) {
		struct dt_error e1 = { 0 };

		if (check_one(x + s, L, fs, p, &one, &e1) == 0) {
			if (m - bad == 0 && bad == 0)
				*r = one;
			continue;
		}
		if (e1.code != DT_E_SIG_NOT_ECG) {
			if (err != NULL)
				*err = e1;
			return -1;
		}
		if (bad++ == 0) {
			*r = one;
			first = e1;
		}
	}
	/* a tie goes to the whole recording's own verdict */
	if (2 * bad < m || (2 * bad == m && check_one(x, n, fs, p, &one,
	    NULL) == 0)) {
		if (bad > 0)
			r->reason = NULL;
		return 0;
	}
	if (err != NULL) {
		*err = first;
		dt_error_prefix(err, "%d of %d segments of %g s", bad, m,
		    p->segment_s);
	}
	return -1;
}

int
ecg_sigcheck_raw(const float *mv, size_t n, struct dt_error *err)
{
	float lo, hi, range;
	size_t i;

	if (mv == NULL || n < 3)
		return 0;
	lo = hi = mv[1];
	for (i = 2; i < n; i++) {
		lo = mv[i] < lo ? mv[i] : lo;
		hi = mv[i] > hi ? mv[i] : hi;
	}
	range = hi - lo;
	if (mv[0] > hi + 3 * range || mv[0] < lo - 3 * range)
		return dt_error_set(err, DT_E_SIG_NOT_ECG, "not an ECG as "
		    "read: the first sample (%g) lies far outside the rest "
		    "(%g..%g): a header row read as a sample?", (double)mv[0],
		    (double)lo, (double)hi);
	return 0;
}

/*
 * ecg/prep.c — DESIGN.md section 4: checks, band-limited resampling
 * (libsoxr), zero-phase Butterworth band-pass as scipy's sosfiltfilt, windows,
 * z-score and the per-window identity quality gate (simplified Pan-Tompkins
 * heart rate and saturation), matching the reference implementation.
 *
 * The band-pass is designed here, in double precision, the way scipy's
 * butter(N, [lo, hi], btype='bandpass', output='sos') does: analog
 * Butterworth prototype, prewarped low-pass to band-pass transform, bilinear
 * transform, poles paired into second-order sections.  liquid-dsp's
 * iirdes_* functions work in single precision (float prototype, float
 * sections) and parameterise the band-pass by a cut-off and a centre
 * frequency for a digital transform; designing in double here keeps the
 * filtered output within 3e-8 of scipy's (tests/test_prep.c).
 */
#include "config.h"

#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <soxr.h>

#include "ecg/prep.h"

#define MAX_ORDER	8
#define MAX_OUT		((size_t)1 << 27)
/* soxr_oneshot delivers nothing or too little when its output buffer is
 * smaller than the whole output (which may be round(n * ratio) + 1): it
 * gets this much more room, and the surplus is dropped. */
#define RS_SLACK	64

/* One biquad: b0 b1 b2 a1 a2 (a0 = 1), as a row of scipy's sos. */
struct sos {
	double b[3], a[3];
};

void
ecg_prep_params_default(struct ecg_prep_params *p, int fs_hz, int window)
{
	memset(p, 0, sizeof(*p));
	p->fs_hz = fs_hz;
	p->window = window;
	p->hop = window / 2 > 0 ? window / 2 : 1;
	p->bp_low_hz = 0.5;
	p->bp_high_hz = 40.0;
	p->bp_cap_frac = 0.45;
	p->bp_order = 4;
	p->hr_min_bpm = 30.0;
	p->hr_max_bpm = 220.0;
	p->sat_abs_mv = 5.0;
	p->reject_clipped = true;
	p->id_gate = ECG_GATE_HR_SAT;
	p->sat_max_frac = 0.5;
	p->sqi_min = 0.3;
	p->sqi_pre_s = 0.1;
	p->sqi_post_s = 0.15;
}

int
ecg_prep_gate_parse(const char *name, enum ecg_id_gate *out)
{
	if (name != NULL && strcmp(name, "hr-sat") == 0)
		*out = ECG_GATE_HR_SAT;
	else if (name != NULL && strcmp(name, "sqi") == 0)
		*out = ECG_GATE_SQI;
	else
		return -1;
	return 0;
}

const char *
ecg_prep_gate_name(enum ecg_id_gate g)
{
	return g == ECG_GATE_SQI ? "sqi" : "hr-sat";
}

static void
wipe_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}

static int
check_params(const struct ecg_prep_params *p, struct dt_error *err)
{
	if (p == NULL)
		return dt_error_set(err, DT_E_INVALID, "NULL parameters");
	if (p->fs_hz < 1 || p->fs_hz > 100000 || p->window < 8 ||
	    p->hop < 1 || p->bp_order < 1 || p->bp_order > MAX_ORDER)
		return dt_error_set(err, DT_E_INVALID,
		    "preprocessing parameters out of range: fs %d, window %d, "
		    "hop %d, order %d", p->fs_hz, p->window, p->hop,
		    p->bp_order);
	if (!(p->bp_low_hz > 0) || !(p->bp_high_hz > p->bp_low_hz) ||
	    !(p->bp_cap_frac > 0 && p->bp_cap_frac < 0.5) ||
	    !(p->bp_cap_frac * p->fs_hz > p->bp_low_hz))
		return dt_error_set(err, DT_E_INVALID,
		    "band-pass %g-%g Hz (cap %g fs) invalid at %d Hz",
		    p->bp_low_hz, p->bp_high_hz, p->bp_cap_frac, p->fs_hz);
	if (!(p->hr_min_bpm > 0) || !(p->hr_max_bpm > p->hr_min_bpm) ||
	    !(p->sat_abs_mv > 0))
		return dt_error_set(err, DT_E_INVALID,
		    "quality limits invalid: HR %g-%g bpm, saturation %g mV",
		    p->hr_min_bpm, p->hr_max_bpm, p->sat_abs_mv);
	if (p->id_gate != ECG_GATE_HR_SAT && (p->id_gate != ECG_GATE_SQI ||
	    !(p->sat_max_frac >= 0 && p->sat_max_frac <= 1) ||
	    !(p->sqi_min >= -1 && p->sqi_min <= 1) ||
	    !(p->sqi_pre_s >= 0 && p->sqi_post_s > 0 &&
	    p->sqi_pre_s + p->sqi_post_s < (double)p->window / p->fs_hz)))
		return dt_error_set(err, DT_E_INVALID,
		    "identity gate %d invalid: saturated fraction %g, beat "
		    "correlation %g, beat %g+%g s", (int)p->id_gate,
		    p->sat_max_frac, p->sqi_min, p->sqi_pre_s, p->sqi_post_s);
	return 0;
}

/* ---------------------------------------------------------------- checks */

/*
 * As the reference's is_clipped: >= max(5, 1 %) of the samples equal the
 * maximum (or the minimum) and at least one run of them is >= 3 long.
 */
static bool
is_clipped(const float *x, size_t n)
{
	float rail[2];
	size_t i;
	int k;

	rail[0] = rail[1] = x[0];
	for (i = 1; i < n; i++) {
		if (x[i] > rail[0])
			rail[0] = x[i];
		if (x[i] < rail[1])
			rail[1] = x[i];
	}
	for (k = 0; k < 2; k++) {
		size_t c = 0, run = 0, best = 0;
		double need = 0.01 * (double)n;

		for (i = 0; i < n; i++) {
			if (x[i] == rail[k]) {
				c++;
				if (++run > best)
					best = run;
			} else {
				run = 0;
			}
		}
		if (need < 5)
			need = 5;
		if ((double)c >= need && best >= 3)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ resampling */

static size_t
resampled_len(size_t n, double fs_in, int fs_out)
{
	double m = round((double)n * fs_out / fs_in);

	if (fs_in == fs_out)
		return n;
	return m > (double)MAX_OUT ? MAX_OUT + 1 : (size_t)m;
}

/* y has room for ny + RS_SLACK samples; the first ny are the result. */
static int
resample(const double *x, size_t n, double fs_in, int fs_out, double *y,
    size_t ny, struct dt_error *err)
{
	soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT64_I, SOXR_FLOAT64_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
	soxr_error_t e;
	size_t idone = 0, odone = 0;

	if (fs_in == fs_out) {
		memcpy(y, x, n * sizeof(*y));
		return 0;
	}
	e = soxr_oneshot(fs_in, fs_out, 1, x, n, &idone, y, ny + RS_SLACK,
	    &odone, &io, &q, NULL);
	if (e != NULL)
		return dt_error_set(err, DT_E_INTERNAL,
		    "resampling %g -> %d Hz: soxr: %s", fs_in, fs_out, e);
	/* soxr delivers round(n * ratio) samples, give or take one: a
	 * missing last one is held from the one before. */
	if (odone + 2 < ny || odone == 0)
		return dt_error_set(err, DT_E_INTERNAL,
		    "resampling %g -> %d Hz: soxr produced %zu samples of %zu",
		    fs_in, fs_out, odone, ny);
	for (; odone < ny; odone++)
		y[odone] = y[odone - 1];
	return 0;
}

/* -------------------------------------------------------------- band-pass */

static int
cmp_dist(const void *a, const void *b)
{
	double da = fabs(1.0 - cabs(*(const double complex *)a));
	double db = fabs(1.0 - cabs(*(const double complex *)b));

	return (da > db) - (da < db);
}

/*
 * scipy.signal.butter(order, [lo, hi], btype='bandpass', fs=fs,
 * output='sos'): returns the number of sections (= order) in s[], -1 if
 * the order is out of range or the zeros cannot be paired (check_params
 * rules both out).
 */
static int
design_bandpass(int order, double lo, double hi, double fs, struct sos *s)
{
	double complex pa[2 * MAX_ORDER], pz[2 * MAX_ORDER];
	double complex up[2 * MAX_ORDER];
	double complex zeros[2 * MAX_ORDER];
	double w1, w2, wo, bw, k;
	double complex num = 1, den = 1;
	bool used[2 * MAX_ORDER];
	int i, j, np = 2 * order, nu = 0, nreal = 0, nsec = order;
	double complex realp[2 * MAX_ORDER];

	if (order < 1 || order > MAX_ORDER)
		return -1;
	/* Prewarp with scipy's normalisation (fs = 2, Wn relative to
	 * Nyquist). */
	w1 = 4.0 * tan(M_PI * (lo / (fs / 2.0)) / 2.0);
	w2 = 4.0 * tan(M_PI * (hi / (fs / 2.0)) / 2.0);
	wo = sqrt(w1 * w2);
	bw = w2 - w1;
	/* Analog prototype poles -exp(i pi m / 2N), m = -N+1, -N+3 .. N-1,
	 * moved to the band-pass. */
	for (i = 0; i < order; i++) {
		int m = -order + 1 + 2 * i;
		double complex p = -cexp(I * M_PI * m / (2.0 * order));
		double complex pl = p * bw / 2.0;
		double complex r = csqrt(pl * pl - wo * wo);

		pa[2 * i] = pl + r;
		pa[2 * i + 1] = pl - r;
	}
	/* Gain: k = bw^N, then the bilinear transform's factor with N zeros
	 * at s = 0 and N at infinity. */
	k = pow(bw, order);
	for (i = 0; i < np; i++) {
		pz[i] = (4.0 + pa[i]) / (4.0 - pa[i]);
		den *= 4.0 - pa[i];
	}
	for (i = 0; i < order; i++)
		num *= 4.0;
	k *= creal(num / den);
	for (i = 0; i < order; i++) {
		zeros[i] = 1.0;
		zeros[order + i] = -1.0;
	}
	/* Conjugate pairs (upper half-plane) and real poles. */
	for (i = 0; i < np; i++) {
		if (cimag(pz[i]) > 1e-14 * cabs(pz[i]))
			up[nu++] = pz[i];
		else if (fabs(cimag(pz[i])) <= 1e-14 * cabs(pz[i]))
			realp[nreal++] = creal(pz[i]);
	}
	/* Sections nearest the unit circle pick their zeros first, as
	 * scipy's zpk2sos(pairing='nearest') does; they come last. */
	qsort(up, (size_t)nu, sizeof(up[0]), cmp_dist);
	memset(used, 0, sizeof(used));
	for (i = 0; i < nsec; i++) {
		double complex p1, p2, zz[2];
		struct sos *sec = &s[nsec - 1 - i];
		int z;

		if (i < nu) {
			p1 = up[i];
			p2 = conj(up[i]);
		} else {
			j = 2 * (i - nu);
			p1 = realp[j];
			p2 = j + 1 < nreal ? realp[j + 1] : 0;
		}
		for (z = 0; z < 2; z++) {
			int best = -1;
			double bd = INFINITY;
			double complex target = z == 0 ? p1 : p2;

			/* 2 * nsec == np zeros for 2 * nsec picks: an
			 * unused one is always left, so best ends >= 0
			 * (even when a distance is NaN). */
			for (j = 0; j < np; j++) {
				if (used[j])
					continue;
				if (best < 0 || cabs(zeros[j] - target) < bd) {
					bd = cabs(zeros[j] - target);
					best = j;
				}
			}
			if (best < 0)
				return -1;
			used[best] = true;
			zz[z] = zeros[best];
		}
		sec->b[0] = 1.0;
		sec->b[1] = -creal(zz[0] + zz[1]);
		sec->b[2] = creal(zz[0] * zz[1]);
		sec->a[0] = 1.0;
		sec->a[1] = -creal(p1 + p2);
		sec->a[2] = creal(p1 * p2);
	}
	for (j = 0; j < 3; j++)
		s[0].b[j] *= k;
	return nsec;
}

/* scipy's sosfilt_zi: each section's steady state for a unit step. */
static void
sos_zi(const struct sos *s, int nsec, double (*zi)[2])
{
	double scale = 1.0;
	int i;

	for (i = 0; i < nsec; i++) {
		const double *b = s[i].b, *a = s[i].a;
		/* lfilter_zi: solve (I - A^T) zi = b[1:] - a[1:] b0. */
		double m00 = 1.0 + a[1], m01 = -1.0, m10 = a[2], m11 = 1.0;
		double r0 = b[1] - a[1] * b[0], r1 = b[2] - a[2] * b[0];
		double det = m00 * m11 - m01 * m10;

		zi[i][0] = scale * (r0 * m11 - m01 * r1) / det;
		zi[i][1] = scale * (m00 * r1 - m10 * r0) / det;
		scale *= (b[0] + b[1] + b[2]) / (a[0] + a[1] + a[2]);
	}
}

/* Direct form II transposed, in place, each section over the whole signal
 * (the same arithmetic as scipy's sample-major loop). */
static void
sos_run(const struct sos *s, int nsec, double (*zi)[2], double x0,
    double *x, size_t n)
{
	int i;
	size_t t;

	for (i = 0; i < nsec; i++) {
		double z0 = zi[i][0] * x0, z1 = zi[i][1] * x0;
		double b0 = s[i].b[0], b1 = s[i].b[1], b2 = s[i].b[2];
		double a1 = s[i].a[1], a2 = s[i].a[2];

		for (t = 0; t < n; t++) {
			double in = x[t], out = b0 * in + z0;

			z0 = b1 * in - a1 * out + z1;
			z1 = b2 * in - a2 * out;
			x[t] = out;
		}
	}
}

/*
 * scipy.signal.sosfiltfilt(sos, x) with padtype='odd' and the default
 * padlen; `x` (n samples) is filtered in place.
 */
static int
sosfiltfilt(const struct sos *s, int nsec, double *x, size_t n,
    struct dt_error *err)
{
	double zi[MAX_ORDER][2];
	double *e = NULL;
	size_t pad, ne, i;
	int nz2 = 0, na2 = 0, rc = -1;

	for (i = 0; i < (size_t)nsec; i++) {
		nz2 += s[i].b[2] == 0;
		na2 += s[i].a[2] == 0;
	}
	pad = 3 * (size_t)(2 * nsec + 1 - (nz2 < na2 ? nz2 : na2));
	if (n <= pad)
		return dt_error_set(err, DT_E_SIG_TOO_SHORT,
		    "signal of %zu samples too short for the band-pass (needs "
		    "more than %zu)", n, pad);
	ne = n + 2 * pad;
	if ((e = malloc(ne * sizeof(*e))) == NULL)
		return dt_error_set(err, DT_E_NOMEM,
		    "band-pass: out of memory");
	for (i = 0; i < pad; i++) {
		e[i] = 2.0 * x[0] - x[pad - i];
		e[pad + n + i] = 2.0 * x[n - 1] - x[n - 2 - i];
	}
	memcpy(e + pad, x, n * sizeof(*x));
	sos_zi(s, nsec, zi);
	sos_run(s, nsec, zi, e[0], e, ne);
	for (i = 0; i < ne / 2; i++) {
		double t = e[i];

		e[i] = e[ne - 1 - i];
		e[ne - 1 - i] = t;
	}
	sos_run(s, nsec, zi, e[0], e, ne);
	for (i = 0; i < n; i++)
		x[i] = e[ne - 1 - pad - i];
	rc = 0;
	wipe_free(e, ne * sizeof(*e));
	return rc;
}

int
ecg_prep_filter(const float *mv, size_t n, double fs_in,
    const struct ecg_prep_params *p, float **out, size_t *out_len,
    struct dt_error *err)
{
	struct sos s[MAX_ORDER];
	double *x = NULL, *y = NULL, hi;
	float *res = NULL, mx, mn;
	size_t i, ny = 0;
	int nsec, rc = -1;

	if (check_params(p, err) != 0)
		return -1;
	if ((mv == NULL && n > 0) || out == NULL || out_len == NULL)
		return dt_error_set(err, DT_E_INVALID,
		    "NULL signal or result");
	for (i = 0; i < n; i++)
		if (!isfinite(mv[i]))
			return dt_error_set(err, DT_E_SIG_NONFINITE,
			    "signal: sample %zu is not finite", i);
	if (!(fs_in >= 50 && fs_in <= 2000))
		return dt_error_set(err, DT_E_SIG_RATE,
		    "signal: sampling rate %g Hz outside 50..2000 Hz", fs_in);
	ny = resampled_len(n, fs_in, p->fs_hz);
	if (ny > MAX_OUT)
		return dt_error_set(err, DT_E_INVALID,
		    "signal: %zu samples after resampling, more than %zu",
		    ny, MAX_OUT);
	if (ny < (size_t)p->window)
		return dt_error_set(err, DT_E_SIG_TOO_SHORT,
		    "signal too short: %zu samples after resampling to %d Hz, "
		    "need %d", ny, p->fs_hz, p->window);
	mx = mn = mv[0];
	for (i = 1; i < n; i++) {
		if (mv[i] > mx)
			mx = mv[i];
		if (mv[i] < mn)
			mn = mv[i];
	}
	if ((double)mx - (double)mn < 1e-6)
		return dt_error_set(err, DT_E_SIG_FLAT,
		    "signal is flat (peak-to-peak %g mV)",
		    (double)mx - (double)mn);
	if (p->reject_clipped && is_clipped(mv, n))
		return dt_error_set(err, DT_E_SIG_CLIPPED,
		    "signal is clipped: too many samples sit at its min/max "
		    "rail");
	if ((x = malloc(n * sizeof(*x))) == NULL ||
	    (y = malloc((ny + RS_SLACK) * sizeof(*y))) == NULL ||
	    (res = malloc(ny * sizeof(*res))) == NULL) {
		dt_error_set(err, DT_E_NOMEM,
		    "preprocessing: out of memory for %zu samples", ny);
		goto out;
	}
	for (i = 0; i < n; i++)
		x[i] = mv[i];
	if (resample(x, n, fs_in, p->fs_hz, y, ny, err) != 0)
		goto out;
	hi = p->bp_high_hz;
	if (hi > p->bp_cap_frac * p->fs_hz)
		hi = p->bp_cap_frac * p->fs_hz;
	nsec = design_bandpass(p->bp_order, p->bp_low_hz, hi, p->fs_hz, s);
	if (nsec < 0) {
		dt_error_set(err, DT_E_INTERNAL,
		    "band-pass %g-%g Hz order %d: cannot be designed",
		    p->bp_low_hz, hi, p->bp_order);
		goto out;
	}
	if (sosfiltfilt(s, nsec, y, ny, err) != 0)
		goto out;
	for (i = 0; i < ny; i++)
		res[i] = (float)y[i];
	*out = res;
	*out_len = ny;
	res = NULL;
	rc = 0;
out:
	wipe_free(x, n * sizeof(*x));
	wipe_free(y, (ny + RS_SLACK) * sizeof(*y));
	wipe_free(res, ny * sizeof(*res));
	return rc;
}

/* ---------------------------------------------------------------- windows */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The reference's detect_r_peaks on one window (w, n samples; e and pk are
 * scratch of n): derivative squared, moving average of 0.15 s, and
 * scipy.signal.find_peaks(height = 0.3 max, distance = 0.25 s).  Returns
 * the number of peaks in pk.
 */
static size_t
r_peaks(const double *w, size_t n, int fs, double *d, double *e, size_t *pk,
    size_t *order, bool *keep)
{
	size_t m = (size_t)(0.15 * fs), dist = (size_t)(0.25 * fs);
	size_t i, j, np = 0, nk;
	double emax = -INFINITY, thr;

	if (m < 1)
		m = 1;
	d[0] = 0;
	for (i = 1; i < n; i++) {
		d[i] = w[i] - w[i - 1];
		d[i] *= d[i];
	}
	/* np.convolve(d, ones(m)/m, 'same'): e[k] sums d[k - m/2 ..
	 * k + (m-1)/2]. */
	for (i = 0; i < n; i++) {
		size_t lo = i >= m / 2 ? i - m / 2 : 0;
		size_t hi = i + (m - 1) / 2 < n ? i + (m - 1) / 2 : n - 1;
		double acc = 0;

		for (j = lo; j <= hi; j++)
			acc += d[j] * (1.0 / (double)m);
		e[i] = acc;
		if (acc > emax)
			emax = acc;
	}
	if (!(emax > 0))
		return 0;
	thr = 0.3 * emax;
	/* Local maxima, flat tops at their middle (scipy's
	 * _local_maxima_1d), at least thr high. */
	for (i = 1; i + 1 < n; i++) {
		if (e[i - 1] < e[i]) {
			size_t ahead = i + 1;

			while (ahead < n - 1 && e[ahead] == e[i])
				ahead++;
			if (e[ahead] < e[i]) {
				size_t mid = (i + ahead - 1) / 2;

				if (e[mid] >= thr)
					pk[np++] = mid;
				i = ahead - 1;
			}
		}
	}
	if (dist < 1 || np < 2)
		return np;
	/* _select_by_peak_distance: highest first (ties: the later one),
	 * each removes its neighbours closer than dist. */
	for (i = 0; i < np; i++)
		order[i] = i;
	for (i = 1; i < np; i++) {	/* stable insertion sort by height */
		size_t v = order[i];

		for (j = i; j > 0 && e[pk[order[j - 1]]] > e[pk[v]]; j--)
			order[j] = order[j - 1];
		order[j] = v;
	}
	for (i = 0; i < np; i++)
		keep[i] = true;
	for (i = np; i-- > 0;) {
		size_t c = order[i];

		if (!keep[c])
			continue;
		for (j = c; j-- > 0 && pk[c] - pk[j] < dist;)
			keep[j] = false;
		for (j = c + 1; j < np && pk[j] - pk[c] < dist; j++)
			keep[j] = false;
	}
	for (i = 0, nk = 0; i < np; i++)
		if (keep[i])
			pk[nk++] = pk[i];
	return nk;
}

/*
 * ECG_GATE_SQI's beat likeness: the mean correlation of every whole beat
 * (pre samples before its peak, post after) of w (n samples) with the mean
 * beat (tp scratch of pre + post).  1 when fewer than two beats are whole.
 */
static double
beat_sqi(const double *w, size_t n, const size_t *pk, size_t npk, size_t pre,
    size_t post, double *tp)
{
	size_t L = pre + post, i, j, nb = 0;
	double r = 0, tm = 0, tv = 0;

	for (j = 0; j < L; j++)
		tp[j] = 0;
	for (i = 0; i < npk; i++) {
		if (pk[i] < pre || pk[i] + post > n)
			continue;
		for (j = 0; j < L; j++)
			tp[j] += w[pk[i] - pre + j];
		nb++;
	}
	if (nb < 2)
		return 1.0;
	for (j = 0; j < L; j++) {
		tp[j] /= (double)nb;
		tm += tp[j];
	}
	tm /= (double)L;
	for (j = 0; j < L; j++) {
		tp[j] -= tm;
		tv += tp[j] * tp[j];
	}
	for (i = 0; i < npk; i++) {
		const double *b;
		double bm = 0, bv = 0, c = 0;

		if (pk[i] < pre || pk[i] + post > n)
			continue;
		b = w + pk[i] - pre;
		for (j = 0; j < L; j++)
			bm += b[j];
		bm /= (double)L;
		for (j = 0; j < L; j++) {
			bv += (b[j] - bm) * (b[j] - bm);
			c += (b[j] - bm) * tp[j];
		}
		r += bv > 0 && tv > 0 ? c / sqrt(bv * tv) : 0;
	}
	return r / (double)nb;
}

int
ecg_prep_windows(const float *filtered, size_t n,
    const struct ecg_prep_params *p, struct ecg_windows *out,
    struct dt_error *err)
{
	struct ecg_windows w;
	double *buf = NULL, *d = NULL, *e = NULL, *rr = NULL;
	size_t *pk = NULL, *order = NULL, nwin, win, k, i;
	bool *keep = NULL;
	int rc = -1;

	memset(&w, 0, sizeof(w));
	if (check_params(p, err) != 0)
		return -1;
	if ((filtered == NULL && n > 0) || out == NULL)
		return dt_error_set(err, DT_E_INVALID,
		    "NULL signal or result");
	win = (size_t)p->window;
	if (n < win)
		return dt_error_set(err, DT_E_SIG_TOO_SHORT,
		    "signal too short: %zu samples, a window is %zu", n, win);
	nwin = (n - win) / (size_t)p->hop + 1;
	if (nwin > INT32_MAX || nwin > MAX_OUT / win)
		return dt_error_set(err, DT_E_INVALID,
		    "%zu windows of %zu: too many", nwin, win);
	w.n = (int)nwin;
	w.window = p->window;
	if ((w.data = calloc(nwin * win, sizeof(float))) == NULL ||
	    (w.id_ok = calloc(nwin, sizeof(bool))) == NULL ||
	    (w.hr_bpm = calloc(nwin, sizeof(float))) == NULL ||
	    (w.sqi = calloc(nwin, sizeof(float))) == NULL ||
	    (buf = malloc(win * sizeof(double))) == NULL ||
	    (d = malloc(win * sizeof(double))) == NULL ||
	    (e = malloc(win * sizeof(double))) == NULL ||
	    (rr = malloc(win * sizeof(double))) == NULL ||
	    (pk = malloc(win * sizeof(size_t))) == NULL ||
	    (order = malloc(win * sizeof(size_t))) == NULL ||
	    (keep = malloc(win * sizeof(bool))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "windows: out of memory");
		goto out;
	}
	for (k = 0; k < nwin; k++) {
		const float *src = filtered + k * (size_t)p->hop;
		float *dst = w.data + k * win;
		double mean = 0, var = 0, sd, hr = 0, med, sqi = 1;
		size_t npk, nsat = 0;
		bool ok;

		for (i = 0; i < win; i++) {
			buf[i] = src[i];
			nsat += fabs(buf[i]) > p->sat_abs_mv;
			mean += buf[i];
		}
		mean /= (double)win;
		for (i = 0; i < win; i++)
			var += (buf[i] - mean) * (buf[i] - mean);
		sd = sqrt(var / (double)win);
		npk = r_peaks(buf, win, p->fs_hz, d, e, pk, order, keep);
		if (npk >= 2) {
			for (i = 0; i + 1 < npk; i++)
				rr[i] = (double)(pk[i + 1] - pk[i]);
			qsort(rr, npk - 1, sizeof(double), cmp_double);
			med = (npk - 1) % 2 ? rr[(npk - 1) / 2] :
			    (rr[(npk - 1) / 2 - 1] + rr[(npk - 1) / 2]) / 2;
			hr = 60.0 * p->fs_hz / med;
		}
		ok = npk >= 2 && hr >= p->hr_min_bpm && hr <= p->hr_max_bpm;
		if (p->id_gate == ECG_GATE_SQI) {
			/* rr is free again: the beat template's room */
			sqi = beat_sqi(buf, win, pk, npk,
			    (size_t)(p->sqi_pre_s * p->fs_hz),
			    (size_t)(p->sqi_post_s * p->fs_hz), rr);
			ok = ok && (double)nsat <= p->sat_max_frac *
			    (double)win && sqi >= p->sqi_min;
		} else
			ok = ok && nsat == 0;
		if (sd < 1e-8) {
			ok = false;	/* left as zeros */
		} else {
			for (i = 0; i < win; i++)
				dst[i] = (float)((buf[i] - mean) / sd);
		}
		w.id_ok[k] = ok;
		w.hr_bpm[k] = (float)hr;
		w.sqi[k] = (float)sqi;
		w.n_id_ok += ok;
	}
	*out = w;
	memset(&w, 0, sizeof(w));
	rc = 0;
out:
	ecg_windows_free(&w);
	wipe_free(buf, win * sizeof(double));
	wipe_free(d, win * sizeof(double));
	wipe_free(e, win * sizeof(double));
	free(rr);
	free(pk);
	free(order);
	free(keep);
	return rc;
}

int
ecg_prep(const float *mv, size_t n, double fs_in,
    const struct ecg_prep_params *p, struct ecg_windows *out,
    struct dt_error *err)
{
	float *y = NULL;
	size_t ny = 0;
	int rc;

	if (ecg_prep_filter(mv, n, fs_in, p, &y, &ny, err) != 0)
		return -1;
	rc = ecg_prep_windows(y, ny, p, out, err);
	wipe_free(y, ny * sizeof(float));
	return rc;
}

void
ecg_windows_free(struct ecg_windows *w)
{
	size_t n;

	if (w == NULL)
		return;
	n = w->n > 0 ? (size_t)w->n : 0;
	wipe_free(w->data, n * (size_t)(w->window > 0 ? w->window : 0) *
	    sizeof(float));
	wipe_free(w->id_ok, n * sizeof(bool));
	wipe_free(w->hr_bpm, n * sizeof(float));
	wipe_free(w->sqi, n * sizeof(float));
	memset(w, 0, sizeof(*w));
}

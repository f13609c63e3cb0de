/*
 * tests/test_prep.c — DESIGN.md section 4: signal errors, resampling,
 * band-pass against scipy, windows and the identity quality gate.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cmocka_all.h"

#include "ecg/prep.h"
#include "ecg/record.h"

/*
 * scipy 1.10.1, generated once with /usr/bin/python3:
 *   i = np.arange(400)
 *   x = (np.sin(2*np.pi*1.3*i/250) + 0.5*np.sin(2*np.pi*17*i/250)
 *        + 0.3*np.sin(2*np.pi*0.2*i/250) + 0.2*np.cos(2*np.pi*55*i/250)
 *        + 0.1*(((i*37) % 11) - 5)/5.0).astype(np.float32)
 *   sos = scipy.signal.butter(4, [0.5, 40], btype='bandpass', fs=250,
 *                             output='sos')
 *   y = scipy.signal.sosfiltfilt(sos, x.astype(np.float64))
 * and y printed at the indices below.
 */
static const struct {
	int i;
	double y;
} scipy_ref[] = {
	{ 0, 1.3732398738e-02 },
	{ 16, 6.3214722461e-01 },
	{ 32, 1.1340091964e+00 },
	{ 48, 1.2802463225e+00 },
	{ 64, 1.0446746934e+00 },
	{ 80, 4.1320723119e-01 },
	{ 96, -3.1900231317e-01 },
	{ 112, -1.1134966672e+00 },
	{ 128, -1.5523189018e+00 },
	{ 144, -1.7205475904e+00 },
	{ 160, -1.3491670984e+00 },
	{ 176, -7.3059748436e-01 },
	{ 192, 1.5082713594e-01 },
	{ 208, 9.3741228223e-01 },
	{ 224, 1.5110654568e+00 },
	{ 240, 1.7143889662e+00 },
	{ 256, 1.4733314909e+00 },
	{ 272, 9.7295894727e-01 },
	{ 288, 2.1694474335e-01 },
	{ 304, -3.8918569228e-01 },
	{ 320, -9.0064500543e-01 },
	{ 336, -9.6814635393e-01 },
	{ 352, -8.3866137356e-01 },
	{ 368, -4.0437055151e-01 },
	{ 384, -4.8707121923e-02 },
	{ 399, -1.0088671628e-02 },
};

static float *
sine(size_t n, double fs, double f, double amp)
{
	float *x = malloc(n * sizeof(float));
	size_t i;

	assert_non_null(x);
	for (i = 0; i < n; i++)
		x[i] = (float)(amp * sin(2 * M_PI * f * (double)i / fs));
	return x;
}

static void
expect_err(const float *x, size_t n, double fs, struct ecg_prep_params *p,
    enum dt_errc code)
{
	struct dt_error err;
	float *y = NULL;
	size_t ny = 0;

	assert_int_equal(ecg_prep_filter(x, n, fs, p, &y, &ny, &err), -1);
	assert_null(y);
	if (err.code != code)
		fail_msg("code %s (%s), expected %s", dt_errc_name(err.code),
		    err.msg, dt_errc_name(code));
	assert_true(err.msg[0] != '\0');
}

static void
test_errors(void **state)
{
	struct ecg_prep_params p;
	float *x = sine(4000, 500, 7, 1.0);
	size_t i;

	ecg_prep_params_default(&p, 250, 512);
	x[100] = NAN;
	expect_err(x, 4000, 500, &p, DT_E_SIG_NONFINITE);
	x[100] = INFINITY;
	expect_err(x, 4000, 500, &p, DT_E_SIG_NONFINITE);
	x[100] = 0;
	expect_err(x, 4000, 40, &p, DT_E_SIG_RATE);
	expect_err(x, 4000, 2500, &p, DT_E_SIG_RATE);
	expect_err(x, 4000, NAN, &p, DT_E_SIG_RATE);
	expect_err(x, 1000, 500, &p, DT_E_SIG_TOO_SHORT);	/* 500 < 512 */
	expect_err(x, 0, 500, &p, DT_E_SIG_TOO_SHORT);
	for (i = 0; i < 4000; i++)
		x[i] = 0.25f;
	expect_err(x, 4000, 500, &p, DT_E_SIG_FLAT);
	/* A sine sitting on its rails. */
	free(x);
	x = sine(4000, 500, 7, 1.0);
	for (i = 0; i < 4000; i++) {
		if (x[i] > 0.8f)
			x[i] = 0.8f;
		if (x[i] < -0.8f)
			x[i] = -0.8f;
	}
	expect_err(x, 4000, 500, &p, DT_E_SIG_CLIPPED);
	p.reject_clipped = false;
	{
		struct dt_error err;
		float *y = NULL;
		size_t ny = 0;

		assert_int_equal(ecg_prep_filter(x, 4000, 500, &p, &y, &ny,
		    &err), 0);
		assert_int_equal(ny, 2000);
		free(y);
	}
	p.bp_order = 0;
	expect_err(x, 4000, 500, &p, DT_E_INVALID);
	free(x);
}

/* Amplitude and zero crossings of y[from, to). */
static void
measure(const float *y, size_t from, size_t to, double *amp, int *zc)
{
	size_t i;

	*amp = 0;
	*zc = 0;
	for (i = from; i < to; i++) {
		if (fabs(y[i]) > *amp)
			*amp = fabs(y[i]);
		if (i > from && (y[i - 1] < 0) != (y[i] < 0))
			(*zc)++;
	}
}

static void
test_resample(void **state)
{
	struct ecg_prep_params p;
	struct dt_error err;
	float *x = sine(10000, 500, 10, 1.0), *y = NULL;
	size_t ny = 0;
	double amp;
	int zc;

	ecg_prep_params_default(&p, 250, 512);
	if (ecg_prep_filter(x, 10000, 500, &p, &y, &ny, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ny, 5000);
	/* 10 s in the middle: 100 periods, 200 zero crossings. */
	measure(y, 1250, 3750, &amp, &zc);
	assert_float_equal(amp, 1.0, 0.01);
	assert_true(zc >= 199 && zc <= 201);
	free(y);
	/* A non-integer rate: output length round(n * 250 / 497.5). */
	if (ecg_prep_filter(x, 10000, 497.5, &p, &y, &ny, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ny, 5025);
	free(y);
	free(x);
	/* Other rates and odd lengths: the whole output is the sine, up to
	 * the last sample (soxr needs room beyond round(n * ratio)). */
	{
		const double rates[] = { 1000, 2000, 360, 50, 333.3 };
		const size_t lens[] = { 12001, 24001, 4321, 601, 3999 };
		int k;

		for (k = 0; k < 5; k++) {
			size_t n = lens[k], want;

			x = sine(n, rates[k], 10, 1.0);
			want = (size_t)round((double)n * 250 / rates[k]);
			if (ecg_prep_filter(x, n, rates[k], &p, &y, &ny,
			    &err) != 0)
				fail_msg("%g Hz: %s", rates[k], err.msg);
			assert_int_equal(ny, want);
			/* In the middle: 10 Hz, amplitude 1. */
			measure(y, ny / 2 - 250, ny / 2 + 250, &amp, &zc);
			if (fabs(amp - 1.0) > 0.015 || zc < 39)
				fail_msg("%g Hz, %zu samples: amplitude %g, "
				    "%d zero crossings", rates[k], n, amp, zc);
			/* Near the end the sine's abrupt stop rings through
			 * the resampler and the band-pass (as it does with
			 * resample_poly + sosfiltfilt: up to 14 % at 50 Hz),
			 * but the signal must not die out. */
			measure(y, ny - 600, ny - 250, &amp, &zc);
			if (fabs(amp - 1.0) > 0.15 || zc < 27)
				fail_msg("%g Hz, %zu samples: amplitude %g, "
				    "%d zero crossings", rates[k], n, amp, zc);
			/* and the sine goes on to the last sample */
			measure(y, ny - 50, ny, &amp, &zc);
			if (amp < 0.5 || zc < 3)
				fail_msg("%g Hz, %zu samples: last 50 samples: "
				    "amplitude %g, %d zero crossings", rates[k],
				    n, amp, zc);
			free(y);
			free(x);
		}
	}
}

static void
test_bandpass(void **state)
{
	const double freq[] = { 0.1, 60, 10 };
	const double maxamp[] = { 0.01, 0.03, 1.01 };
	struct ecg_prep_params p;
	struct dt_error err;
	size_t ny;
	double amp;
	int k, zc;

	ecg_prep_params_default(&p, 250, 512);
	for (k = 0; k < 3; k++) {
		float *x = sine(10000, 250, freq[k], 1.0), *y = NULL;

		if (ecg_prep_filter(x, 10000, 250, &p, &y, &ny, &err) != 0)
			fail_msg("%g Hz: %s", freq[k], err.msg);
		assert_int_equal(ny, 10000);
		measure(y, 2500, 7500, &amp, &zc);
		if (amp > maxamp[k])
			fail_msg("%g Hz: amplitude %g", freq[k], amp);
		if (freq[k] == 10)
			assert_true(amp > 0.99);
		free(x);
		free(y);
	}
}

static void
test_scipy(void **state)
{
	struct ecg_prep_params p;
	struct dt_error err;
	float x[400], *y = NULL;
	size_t i, ny;

	for (i = 0; i < 400; i++) {
		double t = (double)i;

		x[i] = (float)(sin(2 * M_PI * 1.3 * t / 250) +
		    0.5 * sin(2 * M_PI * 17 * t / 250) +
		    0.3 * sin(2 * M_PI * 0.2 * t / 250) +
		    0.2 * cos(2 * M_PI * 55 * t / 250) +
		    0.1 * ((double)((i * 37) % 11) - 5) / 5.0);
	}
	ecg_prep_params_default(&p, 250, 256);
	if (ecg_prep_filter(x, 400, 250, &p, &y, &ny, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ny, 400);
	for (i = 0; i < sizeof(scipy_ref) / sizeof(scipy_ref[0]); i++)
		if (fabs(y[scipy_ref[i].i] - scipy_ref[i].y) > 1e-5)
			fail_msg("y[%d] = %.9g, scipy %.9g", scipy_ref[i].i,
			    y[scipy_ref[i].i], scipy_ref[i].y);
	free(y);
}

static void
test_windows(void **state)
{
	struct ecg_prep_params p;
	struct ecg_windows w;
	struct dt_error err;
	float *y = calloc(2000, sizeof(float));
	size_t i;
	int k;

	assert_non_null(y);
	ecg_prep_params_default(&p, 250, 512);
	/* A pulse train at 75 bpm (every 200 samples), 1 mV. */
	for (i = 0; i < 2000; i++) {
		int ph = (int)(i % 200);

		y[i] = ph < 10 ? (float)sin(M_PI * ph / 10.0) : 0.0f;
	}
	if (ecg_prep_windows(y, 2000, &p, &w, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(w.n, (2000 - 512) / 256 + 1);
	assert_int_equal(w.n_id_ok, w.n);
	for (k = 0; k < w.n; k++) {
		double m = 0, v = 0;

		assert_true(w.id_ok[k]);
		assert_float_equal(w.hr_bpm[k], 75.0, 0.01);
		for (i = 0; i < 512; i++)
			m += w.data[k * 512 + i];
		m /= 512;
		for (i = 0; i < 512; i++)
			v += (w.data[k * 512 + i] - m) *
			    (w.data[k * 512 + i] - m);
		assert_float_equal(m, 0, 1e-5);
		assert_float_equal(v / 512, 1.0, 1e-4);
	}
	ecg_windows_free(&w);
	/* Saturated: 6 mV pulses. */
	for (i = 0; i < 2000; i++)
		y[i] *= 6;
	assert_int_equal(ecg_prep_windows(y, 2000, &p, &w, &err), 0);
	assert_int_equal(w.n_id_ok, 0);
	assert_float_equal(w.hr_bpm[0], 75.0, 0.01);
	ecg_windows_free(&w);
	/* Flat: no peaks, no heart rate, zeros. */
	memset(y, 0, 2000 * sizeof(float));
	assert_int_equal(ecg_prep_windows(y, 2000, &p, &w, &err), 0);
	assert_int_equal(w.n_id_ok, 0);
	assert_float_equal(w.hr_bpm[0], 0, 0);
	assert_float_equal(w.data[0], 0, 0);
	ecg_windows_free(&w);
	/* Too fast: pulses every 60 samples (250 bpm) are outside 30-220. */
	for (i = 0; i < 2000; i++)
		y[i] = i % 65 < 5 ? 1.0f : 0.0f;
	assert_int_equal(ecg_prep_windows(y, 2000, &p, &w, &err), 0);
	assert_int_equal(w.n_id_ok, 0);
	assert_true(w.hr_bpm[0] > 220);
	ecg_windows_free(&w);
	assert_int_equal(ecg_prep_windows(y, 500, &p, &w, &err), -1);
	assert_int_equal(err.code, DT_E_SIG_TOO_SHORT);
	free(y);
	ecg_windows_free(NULL);
}

/* Beats every 200 samples (75 bpm): a 1 mV R wave, then `dip` samples at
 * `s_mv` (an S wave; beyond 5 mV it is saturated); every other beat
 * upside down when `alternate`. */
static void
beats(float *y, size_t n, int dip, float s_mv, bool alternate)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int ph = (int)(i % 200);
		float v = ph < 10 ? (float)sin(M_PI * ph / 10.0) :
		    ph >= 12 && ph < 12 + dip ? s_mv : 0.0f;

		y[i] = alternate && (i / 200) % 2 ? -v : v;
	}
}

static void
test_sqi_gate(void **state)
{
	struct ecg_prep_params p, q;
	struct ecg_windows w;
	struct dt_error err;
	float *y = calloc(2000, sizeof(float));
	int k;

	(void)state;
	assert_non_null(y);
	ecg_prep_params_default(&p, 250, 512);
	assert_int_equal(p.id_gate, ECG_GATE_HR_SAT);
	q = p;
	q.id_gate = ECG_GATE_SQI;
	/* S waves on the rail for 2 samples a beat (~1 % of a window):
	 * DESIGN.md 4.6 refuses every window, the quality index keeps them,
	 * the beats being alike. */
	beats(y, 2000, 2, -6.0f, false);
	assert_int_equal(ecg_prep_windows(y, 2000, &p, &w, &err), 0);
	assert_int_equal(w.n_id_ok, 0);
	ecg_windows_free(&w);
	if (ecg_prep_windows(y, 2000, &q, &w, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(w.n_id_ok, w.n);
	for (k = 0; k < w.n; k++) {
		assert_float_equal(w.hr_bpm[k], 75.0, 0.01);
		assert_true(w.sqi[k] > 0.99);
	}
	ecg_windows_free(&w);
	/* On the rail for 150 samples a beat (75 %): refused by both. */
	beats(y, 2000, 150, -6.0f, false);
	assert_int_equal(ecg_prep_windows(y, 2000, &p, &w, &err), 0);
	assert_int_equal(w.n_id_ok, 0);
	ecg_windows_free(&w);
	assert_int_equal(ecg_prep_windows(y, 2000, &q, &w, &err), 0);
	assert_int_equal(w.n_id_ok, 0);
	ecg_windows_free(&w);
	/* Unsaturated, a regular 75 bpm, but every other beat upside down
	 * (not one heart's beats): DESIGN.md 4.6 keeps every window; each
	 * beat correlates +-1 with a mean beat of +-1/3 or 0, so the index is
	 * at most 1/3, and an index of 0.4 refuses every window. */
	beats(y, 2000, 8, -0.3f, true);
	assert_int_equal(ecg_prep_windows(y, 2000, &p, &w, &err), 0);
	assert_int_equal(w.n_id_ok, w.n);
	ecg_windows_free(&w);
	q.sqi_min = 0.4;
	assert_int_equal(ecg_prep_windows(y, 2000, &q, &w, &err), 0);
	assert_int_equal(w.n_id_ok, 0);
	for (k = 0; k < w.n; k++) {
		assert_float_equal(w.hr_bpm[k], 75.0, 0.01);
		assert_true(w.sqi[k] < 1.0 / 3 + 1e-6);
	}
	ecg_windows_free(&w);
	q.sqi_min = p.sqi_min;
	/* The gate's parameters are checked. */
	q.sat_max_frac = 1.5;
	assert_int_equal(ecg_prep_windows(y, 2000, &q, &w, &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	q.sat_max_frac = p.sat_max_frac;
	q.sqi_post_s = 3.0;
	assert_int_equal(ecg_prep_windows(y, 2000, &q, &w, &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	q = p;
	q.id_gate = (enum ecg_id_gate)7;
	assert_int_equal(ecg_prep_windows(y, 2000, &q, &w, &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	free(y);
}

static void
test_ecgid(void **state)
{
	const char *d = getenv("DT4ECG_DATA");
	struct ecg_record *r = NULL;
	struct ecg_prep_params p;
	struct ecg_windows w;
	struct dt_error err;
	char rec[1024], hea[1100];
	int s, k;

	if (d == NULL || *d == '\0')
		skip();
	snprintf(rec, sizeof(rec), "%s/ecg-id/Person_01/rec_1", d);
	snprintf(hea, sizeof(hea), "%s.hea", rec);
	if (access(hea, R_OK) != 0)
		skip();
	if (ecg_read_wfdb(rec, &r, &err) != 0)
		fail_msg("%s", err.msg);
	ecg_prep_params_default(&p, 250, 512);
	for (s = 0; s < 2; s++) {
		if (ecg_prep(r->samples[s], r->n_samples, r->fs_hz, &p, &w,
		    &err) != 0)
			fail_msg("signal %d: %s", s, err.msg);
		assert_int_equal(w.n, 18);
		assert_true(w.n_id_ok >= w.n * 8 / 10);
		for (k = 0; k < w.n; k++)
			if (w.id_ok[k] && (w.hr_bpm[k] < 40 ||
			    w.hr_bpm[k] > 120))
				fail_msg("signal %d window %d: %g bpm", s, k,
				    w.hr_bpm[k]);
		ecg_windows_free(&w);
	}
	ecg_record_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_resample),
		cmocka_unit_test(test_bandpass),
		cmocka_unit_test(test_scipy),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_sqi_gate),
		cmocka_unit_test(test_ecgid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/test_sigcheck.c — ecg/sigcheck.h: every kind of non-ECG is refused,
 * at any amplitude, rate and length, each with a reason; a CSV header row
 * read as a sample is refused; every ECG-ID recording is checked whole and
 * in 8 s segments, and the false refusals stay within what
 * scripts/sigcheck-frr.sh measured (3 of 310 recordings, 5 of 619
 * segments).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecg/load.h"
#include "ecg/prep.h"
#include "ecg/sigcheck.h"
#include "tests/cmocka_all.h"
#include "tests/nonecg.h"

/* 0 accepted, 1 refused as not an ECG; fails on any other error. */
static int
verdict(const float *mv, size_t n, double fs, struct ecg_sigcheck_result *r,
    char *msg, size_t msglen)
{
	struct ecg_prep_params pp;
	struct ecg_sigcheck_params sp;
	struct ecg_sigcheck_result tmp;
	struct dt_error err = { 0 };
	float *y = NULL;
	size_t ny = 0;
	int rc;

	ecg_prep_params_default(&pp, 250, 512);
	ecg_sigcheck_params_default(&sp);
	if (r == NULL)
		r = &tmp;
	if (ecg_sigcheck_raw(mv, n, &err) != 0) {
		assert_int_equal(err.code, DT_E_SIG_NOT_ECG);
		if (msg != NULL)
			snprintf(msg, msglen, "%s", err.msg);
		return 1;
	}
	if (ecg_prep_filter(mv, n, fs, &pp, &y, &ny, &err) != 0)
		return -1;	/* flat, clipped: refused before the check */
	rc = ecg_sigcheck(y, ny, pp.fs_hz, &sp, r, &err);
	free(y);
	if (rc == 0)
		return 0;
	assert_int_equal(err.code, DT_E_SIG_NOT_ECG);
	assert_non_null(r->reason);
	assert_non_null(strstr(err.msg, r->reason));
	if (msg != NULL)
		snprintf(msg, msglen, "%s", err.msg);
	return 1;
}

static void
every_kind_of_non_ecg_is_refused(void **state)
{
	static const double amps[] = { 1e-3, 1, 1e3 };
	static const double freqs[] = { 0.7, 1.2, 2.5, 6, 15 };
	static const double rates[] = { 250, 500 };
	static const double lens[] = { 8, 30 };
	static const char *const words[] = { "noise", "sine", "square",
	    "square", "wander" };
	struct ecg_sigcheck_result r;
	char msg[DT_ERROR_MSG_MAX];
	size_t a, f, q, l, n_refused = 0, n = 0;
	int k;

	(void)state;
	for (k = 0; k < NONECG_N; k++)
	for (a = 0; a < 3; a++)
	for (f = 0; f < 5; f++)
	for (q = 0; q < 2; q++)
	for (l = 0; l < 2; l++) {
		size_t len = (size_t)(lens[l] * rates[q]);
		float *x = malloc(len * sizeof(*x));

		assert_non_null(x);
		nonecg_fill(k, x, len, rates[q], amps[a], freqs[f],
		    (uint64_t)(k * 100 + a * 10 + f + 1));
		n++;
		memset(&r, 0, sizeof(r));
		if (verdict(x, len, rates[q], &r, msg, sizeof(msg)) == 1)
			n_refused++;
		else
			fail_msg("%s, %g mV, %g Hz, at %g Hz for %g s: "
			    "accepted (explained %.2f, tone %.2f, kurtosis "
			    "%.2f, flatness %.2f)", nonecg_name(k), amps[a],
			    freqs[f], rates[q], lens[l], r.explained, r.tone,
			    r.kurtosis, r.flatness);
		/* the reason names what was seen (sine and square/saw share
		 * a word: "wave") */
		if (r.reason != NULL && r.beats >= 3 && r.hr_bpm >= 30 &&
		    r.hr_bpm <= 220 && strstr(msg, words[k]) == NULL &&
		    strstr(msg, "wave") == NULL && strstr(msg, "beat") ==
		    NULL)
			fail_msg("%s: reason \"%s\"", nonecg_name(k), msg);
		free(x);
	}
	assert_int_equal(n_refused, n);
}

/* Noise at any amplitude gets the same verdict and the same figures. */
static void
the_check_ignores_the_amplitude(void **state)
{
	struct ecg_sigcheck_result r1, r2;
	float *x = malloc(2000 * sizeof(*x)), *y = malloc(2000 * sizeof(*y));
	size_t i;

	(void)state;
	assert_non_null(x);
	assert_non_null(y);
	nonecg_fill(NONECG_NOISE, x, 2000, 250, 1.0, 0, 7);
	for (i = 0; i < 2000; i++)
		y[i] = x[i] * 1e-3f;
	assert_int_equal(verdict(x, 2000, 250, &r1, NULL, 0), 1);
	assert_int_equal(verdict(y, 2000, 250, &r2, NULL, 0), 1);
	assert_string_equal(r1.reason, r2.reason);
	assert_true(fabs(r1.flatness - r2.flatness) < 1e-3);
	assert_int_equal(r1.beats, r2.beats);
	free(x);
	free(y);
}

static const char *
data_dir(void)
{
	const char *d = getenv("DT4ECG_DATA");

	return d != NULL && *d != '\0' ? d : NULL;
}

/* A CSV whose header row is a number (the rate, say) is read with that
 * number as its first sample: refused, naming it; without it, accepted. */
static void
a_header_row_read_as_a_sample_is_refused(void **state)
{
	struct dt_error err = { 0 };
	char rec[1024], csv[] = "/tmp/dt4ecg-sigcheck-XXXXXX.csv";
	char msg[DT_ERROR_MSG_MAX];
	float *mv = NULL, *back = NULL;
	size_t n = 0, nb = 0, i;
	double fs = 0, fsb = 0;
	FILE *f;
	int fd;

	(void)state;
	if (data_dir() == NULL)
		skip();
	snprintf(rec, sizeof(rec), "%s/ecg-id/Person_02/rec_1", data_dir());
	if (ecg_load_signal(rec, ECG_FORMAT_WFDB, 0, 0, &mv, &n, &fs,
	    &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(verdict(mv, n, fs, NULL, NULL, 0), 0);
	assert_true((fd = mkstemps(csv, 4)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "500\n");
	for (i = 0; i < n; i++)
		fprintf(f, "%.4f\n", (double)mv[i]);
	fclose(f);
	if (ecg_load_signal(csv, ECG_FORMAT_CSV, fs, -1, &back, &nb, &fsb,
	    &err) != 0)
		fail_msg("%s", err.msg);
	unlink(csv);
	assert_int_equal(nb, n + 1);
	assert_int_equal(verdict(back, nb, fsb, NULL, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "header row"));
	assert_int_equal(verdict(back + 1, nb - 1, fsb, NULL, NULL, 0), 0);
	ecg_samples_free(mv, n);
	ecg_samples_free(back, nb);
}

/* Every ECG-ID recording, whole and in 8 s segments. */
static void
ecg_id_is_accepted(void **state)
{
	char path[1024], line[256];
	size_t whole = 0, whole_ref = 0, segs = 0, segs_ref = 0;
	FILE *f;

	(void)state;
	if (data_dir() == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/ecg-id/RECORDS", data_dir());
	if ((f = fopen(path, "r")) == NULL)
		skip();
	while (fgets(line, sizeof(line), f) != NULL) {
		struct dt_error err = { 0 };
		float *mv = NULL;
		size_t n = 0, L, s;
		double fs = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "Person_", 7) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/ecg-id/%s", data_dir(),
		    line);
		if (ecg_load_signal(path, ECG_FORMAT_WFDB, 0, 0, &mv, &n, &fs,
		    &err) != 0)
			fail_msg("%s", err.msg);
		whole++;
		whole_ref += verdict(mv, n, fs, NULL, NULL, 0) != 0;
		L = (size_t)(8 * fs);
		for (s = 0; s + L <= n; s += L) {
			float lo = mv[s], hi = mv[s];
			size_t i;

			for (i = s; i < s + L; i++) {
				lo = mv[i] < lo ? mv[i] : lo;
				hi = mv[i] > hi ? mv[i] : hi;
			}
			if (hi - lo < 1e-6f)
				continue;	/* flat: refused before */
			switch (verdict(mv + s, L, fs, NULL, NULL, 0)) {
			case 1:
				segs_ref++;
				/* FALLTHROUGH */
			case 0:
				segs++;
				break;
			}
		}
		ecg_samples_free(mv, n);
	}
	fclose(f);
	print_message("ECG-ID: %zu of %zu recordings refused, %zu of %zu "
	    "segments of 8 s\n", whole_ref, whole, segs_ref, segs);
	assert_int_equal(whole, 310);
	assert_true(whole_ref <= 3);
	assert_true(segs_ref <= 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_kind_of_non_ecg_is_refused),
		cmocka_unit_test(the_check_ignores_the_amplitude),
		cmocka_unit_test(a_header_row_read_as_a_sample_is_refused),
		cmocka_unit_test(ecg_id_is_accepted),
	};

	return cmocka_run_group_tests_name("ecg_sigcheck", tests, NULL, NULL);
}

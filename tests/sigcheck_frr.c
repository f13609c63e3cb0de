/*
 * tests/sigcheck_frr.c — how often the signal check (ecg/sigcheck.h) refuses
 * real ECGs, and whether it refuses every synthetic non-ECG.
 *
 *   sigcheck_frr [--seg S] [--dump FILE] [--synthetic] NAME=MANIFEST...
 *
 * For each data set (a manifest, data/manifest.h) every recording is checked
 * whole and cut into consecutive segments of S seconds [8], each filtered
 * alone as the daemon filters a kiosk's request; a segment the older checks
 * refuse (flat, clipped) is counted apart.  Prints one line per data set
 * with the false-refusal rate on segments and on whole recordings; --dump
 * writes every figure as CSV.  --synthetic checks white noise, sines,
 * square and saw waves and random walks over amplitudes, frequencies, rates
 * and lengths, and prints how many were accepted (all should be refused).
 * Exit 0 unless something could not be read.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/manifest.h"
#include "ecg/prep.h"
#include "ecg/sigcheck.h"
#include "tests/nonecg.h"

struct tally {
	size_t n, refused, prep_refused;
};

/* -1: ecg_prep_filter refused it; 0 accepted; 1 refused by sigcheck. */
static int
check(const float *mv, size_t n, double fs, FILE *dump, const char *set,
    const char *rec, long seg)
{
	struct ecg_prep_params pp;
	struct ecg_sigcheck_params sp;
	struct ecg_sigcheck_result r;
	struct dt_error err = { 0 };
	float *y = NULL;
	size_t ny = 0;
	int rc;

	ecg_prep_params_default(&pp, 250, 512);
	ecg_sigcheck_params_default(&sp);
	if (ecg_prep_filter(mv, n, fs, &pp, &y, &ny, &err) != 0)
		return -1;
	rc = ecg_sigcheck_raw(mv, n, &err) == 0 &&
	    ecg_sigcheck(y, ny, pp.fs_hz, &sp, &r, &err) == 0 ? 0 : 1;
	if (rc == 1 && r.reason == NULL)
		r.reason = "first sample";
	if (rc == 1 && err.code != DT_E_SIG_NOT_ECG) {
		fprintf(stderr, "%s %s: %s\n", set, rec, err.msg);
		exit(2);
	}
	if (dump != NULL)
		fprintf(dump, "%s,%s,%ld,%d,%d,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,"
		    "%.1f,%.2f,%.3f,%.3f,%.2f,%.3f,\"%s\"\n", set, rec, seg, rc == 0, r.beats,
		    r.hr_bpm, r.explained, r.qrs_share, r.rhythm, r.tone,
		    r.flatness, r.rr_range_ms, r.tone_hz, r.low, r.upper, r.kurtosis, r.slope_flatness,
		    r.reason ? r.reason : "");
	free(y);
	return rc;
}

static void
count(struct tally *t, int rc)
{
	if (rc < 0) {
		t->prep_refused++;
		return;
	}
	t->n++;
	t->refused += rc == 1;
}

static double
pct(const struct tally *t)
{
	return t->n ? 100.0 * (double)t->refused / (double)t->n : 0;
}

static int
one_set(const char *arg, double seg_s, FILE *dump)
{
	struct dt_error err = { 0 };
	struct data_manifest *mf = NULL;
	struct data_corpus *c = NULL;
	struct tally whole = { 0 }, segs = { 0 };
	const char *eq = strchr(arg, '=');
	char name[64];
	int i;

	if (eq == NULL || eq - arg >= (long)sizeof(name)) {
		fprintf(stderr, "sigcheck_frr: %s: expected NAME=MANIFEST\n",
		    arg);
		return -1;
	}
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	if (data_manifest_read(eq + 1, &mf, &err) != 0 ||
	    data_corpus_load(&mf, 1, NULL, 0, &c, &err) != 0) {
		fprintf(stderr, "sigcheck_frr: %s\n", err.msg);
		data_manifest_free(mf);
		return -1;
	}
	for (i = 0; i < c->n_recs; i++) {
		const struct data_rec *r = &c->recs[i];
		size_t L = (size_t)(seg_s * r->fs), s;
		long k = 0;

		count(&whole, check(r->mv, r->n, r->fs, dump, name, r->name,
		    -1));
		for (s = 0; L > 0 && s + L <= r->n; s += L, k++)
			count(&segs, check(r->mv + s, L, r->fs, dump, name,
			    r->name, k));
	}
	printf("%-24s %5zu recordings: %4zu refused (%.2f %%)%s; "
	    "%6zu segments of %g s: %5zu refused (%.2f %%)",
	    name, whole.n, whole.refused, pct(&whole),
	    whole.prep_refused ? " [+ unusable before the check]" : "",
	    segs.n, seg_s, segs.refused, pct(&segs));
	if (segs.prep_refused)
		printf(" [+%zu flat/clipped]", segs.prep_refused);
	printf("\n");
	data_corpus_free(c);
	data_manifest_free(mf);
	return 0;
}

static void
synthetic(FILE *dump)
{
	static const double amps[] = { 1e-3, 0.05, 1, 30, 1e3 };
	static const double freqs[] = { 0.6, 1, 1.3, 2, 3, 5, 8, 12, 20, 35 };
	static const double rates[] = { 250, 360, 500 };
	static const double lens[] = { 8, 20, 60 };
	size_t a, f, r, l;
	int k;

	for (k = 0; k < NONECG_N; k++) {
		struct tally t = { 0 };
		bool periodic = k == NONECG_SINE || k == NONECG_SQUARE ||
		    k == NONECG_SAW;

		for (a = 0; a < sizeof(amps) / sizeof(amps[0]); a++)
		for (f = 0; f < (periodic ? sizeof(freqs) /
		    sizeof(freqs[0]) : 10); f++)
		for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
		for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			size_t n = (size_t)(lens[l] * rates[r]);
			float *x = malloc(n * sizeof(*x));
			char rec[96];

			if (x == NULL)
				exit(2);
			nonecg_fill(k, x, n, rates[r], amps[a], freqs[f],
			    1000 * a + 10 * f + l + 1);
			snprintf(rec, sizeof(rec), "%s a=%g f=%g fs=%g %gs",
			    nonecg_name(k), amps[a], periodic ? freqs[f] : 0,
			    rates[r], lens[l]);
			count(&t, check(x, n, rates[r], dump, "synthetic",
			    rec, 0));
			free(x);
		}
		printf("%-24s %5zu signals: %4zu accepted [+%zu flat/clipped]\n",
		    nonecg_name(k), t.n, t.n - t.refused, t.prep_refused);
	}
}

int
main(int argc, char **argv)
{
	FILE *dump = NULL;
	double seg_s = 8;
	int i, rc = 0, syn = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seg") == 0 && i + 1 < argc)
			seg_s = atof(argv[++i]);
		else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) {
			if ((dump = fopen(argv[++i], "w")) == NULL) {
				perror(argv[i]);
				return 2;
			}
			fprintf(dump, "set,rec,seg,accepted,beats,hr,explained,"
			    "qrs,rhythm,tone,flatness,rr_range,tone_hz,low,upper,kurtosis,dflat,reason\n");
		} else if (strcmp(argv[i], "--synthetic") == 0)
			syn = 1;
		else if (one_set(argv[i], seg_s, dump) != 0)
			rc = 2;
	}
	if (syn)
		synthetic(dump);
	if (dump != NULL)
		fclose(dump);
	return rc;
}

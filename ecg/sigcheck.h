/*
 * ecg/sigcheck.h — is this an ECG at all?  A check of a whole band-passed
 * signal (ecg_prep_filter's output) before any network sees it, shared by
 * enrollment and the daemon (pipeline/embed.c).
 *
 * The network maps anything to an embedding, and Gaussian noise maps to one
 * much like every other noise's: a member enrolled from noise is then opened
 * by any noise.  An ECG is a train of alike beats with a sharp QRS complex.
 * The figures (every one independent of the amplitude):
 *
 *   beats      QRS-like events (slope energy, 0.25 s refractory, refined to
 *              the largest deflection) and their median rate;
 *   explained  how much of the beats' variance the averaged beat explains
 *              (each beat against the mean of the OTHER beats, scaled):
 *              noise aligned on its own maxima leaves ~0;
 *   qrs_share  the averaged beat's slope energy within qrs_half_s of R;
 *   tone       the largest share of the 0.5-40 Hz power within +-0.5 Hz of
 *              one frequency (Welch, 4 s Hann): sine 1, square >= 0.73,
 *              saw >= 0.62; an ECG spreads its power over its harmonics;
 *   kurtosis   of the samples: square 1-2, sine 1.5, saw 1.7-2.9, noise 3;
 *              an ECG, mostly baseline with rare QRS spikes, 4-30;
 *   flatness   geometric over arithmetic mean of the spectrum, 1-35 Hz:
 *              white noise ~0.8-1 at any amplitude;
 *   slope_flatness  the flatness of the slope's spectrum (P f^2): a
 *              random walk's slope is white noise;
 *   low        the share of the power below 1.5 Hz (informative).
 *
 * The rules, in order, each with its own reason: too few beats or a rate
 * outside hr_min..hr_max; tone > max_tone (sine); tone > wave_tone and
 * kurtosis < wave_kurtosis (square, saw); flatness > noise_flatness and
 * explained < noise_explained (white noise); explained < min_explained;
 * slope_flatness > walk_slope_flatness and explained < walk_explained
 * (random walk).  A recording of at least two segment_s is judged by its
 * consecutive segments of segment_s: accepted when fewer than half of them
 * are refused, or half and the whole recording passes (the figures are then the first segment's; on refusal the first
 * refused one's, and the message counts them).  The defaults were set on every recording of ECG-ID, both
 * wearable sets and PTB-XL lead I (scripts/sigcheck-frr.sh measures the
 * false-refusal rate) and on tests/nonecg.c's signals, all refused.
 */
#ifndef ECG_SIGCHECK_H
#define ECG_SIGCHECK_H

#include <stddef.h>

#include "util/error.h"

struct ecg_sigcheck_params {
	double hr_min_bpm, hr_max_bpm;	/* 30, 220 */
	int min_beats;			/* 3 */
	double max_tone;		/* 0.92 */
	double wave_tone, wave_kurtosis;	/* 0.55, 3.0 */
	double noise_flatness, noise_explained;	/* 0.7, 0.25 */
	double min_explained;		/* 0.02 */
	double walk_slope_flatness, walk_explained;	/* 0.75, 0.45 */
	double segment_s;		/* 8: longer recordings vote */
	double qrs_half_s;		/* 0.05 */
};

struct ecg_sigcheck_result {
	int beats;
	double hr_bpm;		/* 60 / median RR */
	double explained;	/* 0..1 */
	double qrs_share;	/* 0..1 */
	double rhythm;		/* RR within 0.6..1.6 of the median (informative) */
	double rr_range_ms;	/* longest RR interval less the shortest */
	double tone;		/* 0..1 */
	double tone_hz;		/* where the strongest line is */
	double upper;		/* power above 2.5 tone_hz over the line's */
	double slope_flatness;	/* flatness of the slope's spectrum */
	double kurtosis;	/* of the samples: 1 square, 1.5 sine, 1.8 saw, 3 noise */
	double low;		/* share of the power below 1.5 Hz */
	double flatness;	/* 0..1 */
	const char *reason;	/* NULL when it is an ECG; a static string */
};

void ecg_sigcheck_params_default(struct ecg_sigcheck_params *p);

/*
 * x: n samples band-passed at fs Hz.  Fills *r (the figures, also on
 * refusal).  Returns 0 for an ECG; -1 with DT_E_SIG_NOT_ECG and a message
 * naming the failed figure when it is not one (other codes: bad arguments,
 * memory).
 */
int ecg_sigcheck(const float *x, size_t n, int fs,
    const struct ecg_sigcheck_params *p, struct ecg_sigcheck_result *r,
    struct dt_error *err);

/*
 * On the samples as read, before any filtering: refuses (DT_E_SIG_NOT_ECG) a
 * first sample far outside the range of all the others (more than three
 * times that range beyond it), which is what a CSV header row of numbers
 * read as a sample gives.
 */
int ecg_sigcheck_raw(const float *mv, size_t n, struct dt_error *err);

#endif /* ECG_SIGCHECK_H */

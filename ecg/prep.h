/*
 * ecg/prep.h — DESIGN.md section 4: the preprocessing shared by training,
 * enrollment and the daemon.
 *
 *   samples (mV, fs_in) -> checks -> band-limited resampling (libsoxr) to fs
 *   -> zero-phase 4th-order Butterworth band-pass 0.5-40 Hz (sosfiltfilt with
 *   scipy's edge padding) -> windows of `window`, hop `hop` -> z-score,
 *   with a per-window quality verdict for identity.
 */
#ifndef ECG_PREP_H
#define ECG_PREP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/*
 * The per-window identity gate (DESIGN.md 4.6).
 *
 *   ECG_GATE_HR_SAT  the rule of DESIGN.md 4.6: an R-peak heart rate within
 *                    hr_min_bpm..hr_max_bpm and no saturated sample.
 *   ECG_GATE_SQI     a signal-quality index for windows in motion: the same
 *                    heart-rate range; at most sat_max_frac of the samples
 *                    saturated (an ECG whose S waves touch a rail for a few
 *                    ms is still an ECG); and the beats of the window alike
 *                    (mean correlation of each beat, sqi_pre_s before to
 *                    sqi_post_s after its R peak, with their mean beat at
 *                    least sqi_min; a window with fewer than two whole
 *                    beats is judged on the other two rules).  Defaults:
 *                    sat_max_frac 0.5, sqi_min 0.3, beat 0.1 + 0.15 s.
 *
 * The gate decides which windows train identity as well as which answer a
 * request, and a network identifies well only the kind of window it was
 * trained on: a model records its gate (metadata prep.id_gate, written by
 * retrain, whose default is sqi) and is served with it; a model without the
 * key is served with hr-sat (pipeline/embed.h embed_prep_params).
 */
enum ecg_id_gate {
	ECG_GATE_HR_SAT = 0,
	ECG_GATE_SQI,
};

struct ecg_prep_params {
	int fs_hz;		/* model rate, 250 */
	int window;		/* 512 */
	int hop;		/* window/2 at inference */
	double bp_low_hz;	/* 0.5 */
	double bp_high_hz;	/* 40, capped at bp_cap_frac * fs */
	double bp_cap_frac;	/* 0.45 */
	int bp_order;		/* 4 */
	double hr_min_bpm;	/* 30 */
	double hr_max_bpm;	/* 220 */
	double sat_abs_mv;	/* 5.0: a window whose pre-normalisation |x| exceeds it is saturated */
	bool reject_clipped;	/* refuse a whole signal sitting on its rails */
	enum ecg_id_gate id_gate;	/* ECG_GATE_HR_SAT */
	double sat_max_frac;	/* ECG_GATE_SQI: most saturated fraction */
	double sqi_min;		/* ECG_GATE_SQI: least beat likeness */
	double sqi_pre_s, sqi_post_s;	/* ECG_GATE_SQI: beat extent */
};

void ecg_prep_params_default(struct ecg_prep_params *p, int fs_hz, int window);

/* "hr-sat" and "sqi" (a model's metadata prep.id_gate, the --gate options);
 * -1 for anything else. */
int ecg_prep_gate_parse(const char *name, enum ecg_id_gate *out);
const char *ecg_prep_gate_name(enum ecg_id_gate g);

struct ecg_windows {
	int n;			/* windows cut */
	int window;
	float *data;		/* n x window, z-scored */
	bool *id_ok;		/* per window: usable for identity */
	float *hr_bpm;		/* per window: heart rate estimate, 0 if none */
	float *sqi;		/* per window: beat likeness (1: <2 beats) */
	int n_id_ok;
};

/*
 * Steps 1-3: validate, resample and band-pass.  *out (malloc'd, *out_len
 * samples at p->fs_hz) is owned by the caller.  Distinct error codes:
 * DT_E_SIG_NONFINITE, DT_E_SIG_RATE, DT_E_SIG_TOO_SHORT, DT_E_SIG_FLAT,
 * DT_E_SIG_CLIPPED.
 */
int ecg_prep_filter(const float *mv, size_t n, double fs_in,
    const struct ecg_prep_params *p, float **out, size_t *out_len,
    struct dt_error *err);

/* Steps 4-6 on a filtered signal. */
int ecg_prep_windows(const float *filtered, size_t n,
    const struct ecg_prep_params *p, struct ecg_windows *out,
    struct dt_error *err);

/* Both, in one call. */
int ecg_prep(const float *mv, size_t n, double fs_in,
    const struct ecg_prep_params *p, struct ecg_windows *out,
    struct dt_error *err);

/* Frees (and wipes: it is biometric data) what ecg_prep* filled in. */
void ecg_windows_free(struct ecg_windows *w);

#endif /* ECG_PREP_H */

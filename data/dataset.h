/*
 * data/dataset.h — recordings named by manifests, cut into labelled windows
 * for training and evaluation (DESIGN.md sections 4, 7 and 8).
 *
 * A corpus holds every recording of one or more manifests in mV with its
 * subject and activity.  ecg-activity's raw ADC text (format adc-ts) is split
 * at host-timestamp gaps (> 0.1 s) into pieces of >= 10 s, each one recording
 * at the rate its timestamps give, and scaled to mV-like units:
 *
 *     mv = (count - median(counts of the piece)) / 200
 *
 * (assumed 200 counts/mV: the front end's gain is not published; it puts a
 * resting R wave at 0.8-1.2 "mV", like ECG-ID's).  The z-score of every window
 * makes the scale irrelevant to the network; the quality gate uses the raw
 * counts instead of the |x| > 5 mV rule (resting R waves span 150-1200
 * counts between subjects, so no one gain makes an mV threshold meaningful):
 * a window is saturated for identity when >= 3 of its raw
 * samples lie within 2 % of full scale of either rail (the front end saturates
 * onto noisy floors near 10 and 4050 counts); under the signal-quality gate
 * (ECG_GATE_SQI) when more than sat_max_frac of them do.  Every finite, non-flat window
 * is kept for activity (DESIGN.md 4.6); only the identity label depends on the
 * gate.
 *
 * A data set is a list of ranges (recording, raw sample range, group): each
 * range is preprocessed alone (so nothing crosses a split point) and cut into
 * windows of `window` samples with hop `hop`; a window remembers its range's
 * group (a probe, an enrolment, ...).
 */
#ifndef DATA_DATASET_H
#define DATA_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data/manifest.h"
#include "ecg/prep.h"
#include "util/error.h"
#include "util/rng.h"

#define DATA_ADC_GAIN 200.0	/* assumed counts per mV for adc-ts */
#define DATA_ADC_FULL 4095
#define DATA_ADC_RAIL_FRAC 0.02
#define DATA_ADC_RAIL_MIN 3
#define DATA_GAP_S 0.1
#define DATA_MIN_PIECE_S 10.0

struct data_rec {
	char *name;		/* path, with [a:b] for a piece of an adc-ts file */
	int manifest;		/* index of the manifest it came from */
	int subject;		/* index into corpus->subjects */
	int activity;		/* index into corpus->activities, -1 none */
	int session;		/* number in the session column (else entry order) */
	int piece;		/* adc-ts piece index, else 0 */
	double fs;
	size_t n;
	float *mv;
	uint16_t *adc;		/* raw counts (adc-ts), else NULL */
	bool relative;		/* samples not in mV (PTB-XL's "sd"): no mV rule */
};

struct data_corpus {
	int n_manifests;
	char **manifests;	/* manifest names */
	int n_recs;
	struct data_rec *recs;
	int n_subjects;
	char **subjects;
	int n_activities;
	char **activities;
	int n_dropped_pieces;	/* adc-ts pieces shorter than DATA_MIN_PIECE_S */
};

/*
 * Loads every recording.  `activities` (may be NULL) fixes the activity names
 * and their order (a model's); names not in it are an error.  Without it the
 * order is that of first appearance.
 */
int data_corpus_load(struct data_manifest *const *mf, int n_mf,
    char *const *activities, int n_activities, struct data_corpus **out,
    struct dt_error *err);
void data_corpus_free(struct data_corpus *c);

/*
 * Adds a recording held in memory (the store's enrolment recordings) as data
 * set `source`: mv (n samples in mV at fs) becomes the corpus's, wiped and
 * freed with it — also when this fails.  activity -1 = none.
 */
int data_corpus_add_samples(struct data_corpus *c, const char *source,
    const char *name, const char *subject, int activity, int session,
    double fs, float *mv, size_t n, struct dt_error *err);

/* Gives every recording without an activity label the activity `name`, one
 * of the corpus's (resting recordings of other devices taught as rest). */
int data_corpus_label_unlabelled(struct data_corpus *c, const char *name,
    struct dt_error *err);

/* Subject number: the trailing digits of its name ("ecgid:07" -> 7), -1. */
int data_subject_number(const char *name);

/* Raw ADC reader (exposed for tests). */
int data_read_adc_ts(const char *path, double gap_s, double min_piece_s,
    uint16_t ***pieces, size_t **lens, double **fs, int *n_pieces,
    int *n_dropped, struct dt_error *err);

struct data_range {
	int rec;
	size_t r0, r1;		/* raw samples [r0, r1) */
	int group;
};

struct data_part {
	int rec;
	int group;
	size_t r0, r1;
	float *filt;		/* band-passed at fs_hz */
	size_t len;
};

struct data_win {
	int part;
	int start;		/* in the part's filtered signal */
	int group;
	int subject;		/* corpus index */
	int activity;		/* corpus index or -1 */
	bool id_ok;		/* passes the identity gate */
	float hr_bpm;
	float sqi;		/* beat correlation (ECG_GATE_SQI), else 1 */
};

struct data_set {
	const struct data_corpus *c;
	int window, hop, fs_hz;
	int n_parts;
	struct data_part *parts;
	size_t n;
	struct data_win *w;
	int n_ranges_failed;	/* ranges that preprocessing refused */
	size_t n_flat;		/* flat windows left out */
};

int data_set_build(const struct data_corpus *c, const struct data_range *r,
    int n_ranges, const struct ecg_prep_params *pp, struct data_set **out,
    struct dt_error *err);
void data_set_free(struct data_set *s);

/* Window i, z-scored, without augmentation. */
void data_set_window(const struct data_set *s, size_t i, float *dst);

/* Per activity: windows kept for activity / that pass the identity gate. */
struct data_act_stats {
	size_t n_windows;
	size_t n_id_ok;
};
/* `st` has c->n_activities + 1 entries; the last counts unlabelled windows. */
void data_set_activity_stats(const struct data_set *s,
    struct data_act_stats *st);

/* ------------------------------------------------------------ randomness */

/* The data stream (shuffling, augmentation) of seed S is util/rng.h seeded
 * with S ^ DATA_SEED_SALT: another stream than the weights' of the same S. */
#define DATA_SEED_SALT UINT64_C(0x9e3779b97f4a7c15)

/* ----------------------------------------------------------- augmentation */

/* Real electrode noise (nstdb bw/ma), filtered as ECG is, at fs_hz. */
struct data_noise {
	int n;
	float *sig[8];
	size_t len[8];
	char *name[8];
};
/* `records`: WFDB record paths; every signal of each is used. */
int data_noise_load(const char *const *records, int n_records,
    const struct ecg_prep_params *pp, struct data_noise **out,
    struct dt_error *err);
void data_noise_free(struct data_noise *nz);

struct data_aug {
	bool scale;		/* amplitude x U(scale_lo, scale_hi) */
	float scale_lo, scale_hi;
	bool wander;		/* + sinusoid U(0.05, wander_hz) Hz, amplitude
				 * U(0, wander_amp) sd */
	float wander_amp, wander_hz;
	bool shift;		/* window start moved by U{-shift_max..shift_max} */
	int shift_max;
	bool noise;		/* + nstdb noise, SNR drawn U(snr_db, snr_hi) dB */
	float snr_db, snr_hi;
	float noise_p;		/* probability a window gets noise */
	const struct data_noise *nz;
	/* Other devices and contacts (each with probability 0.5): */
	bool band;		/* zero-phase one-pole low-pass at U(15, 40) Hz
				 * and/or high-pass at U(0.5, 4) Hz */
	bool hum;		/* + mains hum, 50 or 60 Hz, U(0, hum_amp) sd */
	float hum_amp;
	bool stretch;		/* time stretch by U(1 - s, 1 + s): heart rate */
	float stretch_max;
	bool motion;		/* + Gaussian noise band-limited to U(0.5, 2) -
				 * U(3, 12) Hz, SNR U(motion_snr_lo, _hi) dB:
				 * electrode motion, on any activity */
	float motion_snr_lo, motion_snr_hi;
};
void data_aug_default(struct data_aug *a);	/* everything off */

/* Fills x (n x window) with windows idx[0..n-1], augmented; deterministic
 * for a given rng state. */
void data_set_batch(const struct data_set *s, const size_t *idx, int n,
    const struct data_aug *aug, struct dt_rng *rng, float *x);

#endif /* DATA_DATASET_H */

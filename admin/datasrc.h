/*
 * admin/datasrc.h — what retrain and evaluate share: data sets named on the
 * command line (manifest files or the built-in names ecg-id, ecg-activity),
 * running the network over a data set, and terminal progress.
 */
#ifndef ADMIN_DATASRC_H
#define ADMIN_DATASRC_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "data/dataset.h"
#include "nn/model.h"
#include "util/error.h"

/* $DT4ECG_DATA, else ../shared/data. */
const char *admin_data_dir(void);

/* ecg-id, ecg-activity, ecg-activity-textile, ptbxl-lead1 or nstdb. */
bool admin_builtin_name(const char *name);

/* A built-in name or a manifest path. */
int admin_manifest(const char *name, struct data_manifest **out,
    struct dt_error *err);

int admin_corpus(char *const *names, int n, char *const *activities,
    int n_activities, struct data_corpus **out, struct dt_error *err);

/* Rows of the model's classifier for each corpus subject (-1: none), by
 * the model's "subjects" metadata (exact names; bare numbers match the
 * trailing number of a name when the model has no prefixed names). */
int admin_subject_rows(const struct nn_model *m, const struct data_corpus *c,
    int **rows, int *n_matched, struct dt_error *err);

/* --aug LIST: none, all, or any of scale, wander, shift, noise, band, hum,
 * stretch; -1 on an unknown name.  The noise records are loaded apart. */
int admin_parse_aug(const char *s, struct data_aug *a);

/* The electrode noise of the augmentation: nstdb bw and ma. */
int admin_noise_load(const struct ecg_prep_params *pp, struct data_noise **out,
    struct dt_error *err);

/* Small helpers of evaluate's protocols (the growing score array is
 * data_push, data/protocol.h): dot product; a number or null when not
 * finite; k/n or null when n is 0. */
double admin_dot(const float *a, const float *b, int n);
json_t *admin_jnum(double v);
json_t *admin_jfrac(size_t k, size_t n);

/* Normalised classifier rows (n_subjects x E), malloc'd. */
float *admin_classifier(const struct nn_model *m);

struct admin_progress {
	bool tty;
	double t0, last;
	const char *what;
};
double admin_now(void);
void admin_progress_start(struct admin_progress *p, const char *what);
/* Prints "what: done/total (x/s, ETA)" at most 4 times a second on a TTY
 * (\r), every 10 % otherwise. */
void admin_progress(struct admin_progress *p, size_t done, size_t total);
void admin_progress_end(struct admin_progress *p);

/*
 * Runs the network over every window of s: emb (n x E, L2-normalised) and
 * act (n x A) may be NULL.  batch windows at a time.
 */
int admin_run_set(const struct nn_model *m, int batch, const struct data_set *s,
    float *emb, float *act, const char *what, struct dt_error *err);
/* The same for the N windows WHICH[0..n) of S (NULL: the first N); row k
 * of EMB and ACT is window WHICH[k]. */
int admin_run_windows(const struct nn_model *m, int batch,
    const struct data_set *s, const size_t *which, size_t n, float *emb,
    float *act, const char *what, struct dt_error *err);

#endif /* ADMIN_DATASRC_H */

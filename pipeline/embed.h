/*
 * pipeline/embed.h — one recording to one decision's worth of evidence:
 * preprocessing (DESIGN.md section 4), the network on every window, the
 * identity embedding fused over the windows usable for identity (normalised
 * mean), and the activity probabilities averaged over every window.
 *
 * Used alike by enrollment (dt4ecg-admin), template recomputation on model
 * activation, and authentication (dt4ecgd), so all three see the same numbers.
 * An embedder holds a network: like it, it must be used by the thread that
 * created it.
 */
#ifndef PIPELINE_EMBED_H
#define PIPELINE_EMBED_H

#include <stdbool.h>
#include <stddef.h>

#include "ecg/prep.h"
#include "nn/model.h"
#include "util/error.h"

struct embedder;

struct embed_result {
	float *embedding;	/* [embedding_dim], L2-normalised; caller's buffer */
	float *activity;	/* [n_activities], sums to 1; caller's buffer */
	int windows_used;	/* windows fused into the embedding */
	int windows_rejected;	/* windows the identity gate refused */
	float heart_rate_bpm;	/* median over the usable windows, 0 if none */
};

/*
 * The preprocessing a model is served with: ecg_prep_params_default at its
 * rate and window, and the identity gate it was trained with (metadata
 * prep.id_gate; hr-sat when absent, as for models trained before the key).
 */
int embed_prep_params(const struct nn_model *m, struct ecg_prep_params *pp,
    struct dt_error *err);

/*
 * A stored model's bytes (a safetensors file, as the store keeps it) as a
 * model whose embedding dimension is want_dim, the one `where` records ("the
 * store", "the index"): DT_E_FORMAT, naming model `id`, when they differ.
 * The daemon loads what it serves through this, never from the bytes itself.
 */
int embed_model_load(const void *buf, size_t len, const char *id,
    int want_dim, const char *where, struct nn_model **out,
    struct dt_error *err);

/* `batch` bounds the windows run at once (a request of 8 s has 6). */
int embedder_create(const struct nn_model *m, int batch,
    struct embedder **out, struct dt_error *err);

/*
 * mv: n samples in mV at fs_hz.  Fills r (whose two buffers the caller
 * provides); the activity is the mean of the windows' calibrated
 * probabilities (pipeline/activity.h).  Errors: the signal errors of
 * ecg_prep (DT_E_SIG_*), DT_E_SIG_NOT_ECG when it is not an ECG at all
 * (ecg/sigcheck.h), and DT_E_SIG_NO_USABLE_WINDOW when no window passes the
 * identity gate — r's activity and window counts are filled then too, its
 * embedding is not.
 */
int embedder_run(struct embedder *e, const float *mv, size_t n, double fs_hz,
    struct embed_result *r, struct dt_error *err);

/*
 * embedder_run in three steps, for a caller that runs the windows of several
 * recordings as one batch (dt4ecgd's inference queue):
 *   embedder_prepare  the signal check, preprocessing and windows of one
 *                     recording (w: freed by the caller, ecg_windows_free;
 *                     the signal errors as embedder_run);
 *   embedder_forward  n windows (any n >= 1, contiguous) through the
 *                     network: emb [n][embedding_dim], act [n][n_activities]
 *                     (raw probabilities), in chunks of at most `batch`;
 *   embedder_fuse     one recording's windows' outputs into r, as
 *                     embedder_run does; calibrates act in place.
 */
int embedder_prepare(struct embedder *e, const float *mv, size_t n,
    double fs_hz, struct ecg_windows *w, struct dt_error *err);
int embedder_forward(struct embedder *e, const float *windows, int n,
    float *emb, float *act, struct dt_error *err);
int embedder_fuse(struct embedder *e, const struct ecg_windows *w,
    const float *emb, float *act, struct embed_result *r,
    struct dt_error *err);

/*
 * Whether embedder_run first asks ecg/sigcheck.h whether the signal is an
 * ECG at all (DT_E_SIG_NOT_ECG when not): on by default, for enrollment and
 * the daemon alike; off for recomputing the templates of recordings the
 * store already holds.
 */
void embedder_set_sigcheck(struct embedder *e, bool on);

const struct nn_model *embedder_model(const struct embedder *e);

/* The activity label of a result: the index of its top calibrated
 * probability, or -1 ("unknown") below the model's activity.unknown_below
 * (pipeline/activity.h). */
int embedder_activity_label(const struct embedder *e, const float *activity);
void embedder_free(struct embedder *e);

#endif /* PIPELINE_EMBED_H */

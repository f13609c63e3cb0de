/*
 * admin/openset.h — the open-set figures an operator chooses a threshold
 * from, kept in a model's metadata.
 *
 * `evaluate --protocol p2|p2+ptbxl|p4 --save-metrics` writes, into the
 * model file's "metrics" metadata (a JSON object; `model import` copies it
 * into the store, `model show` prints it), under "open_set".<protocol>:
 *
 *   {"scores": "8 s probes against enrolment templates (cosine), as
 *    dt4ecgd compares", "data": [...], "n_genuine", "n_impostor",
 *    "eer", "threshold_at_eer",
 *    "at_far": [{"far": 0.01, "far_measured", "frr", "threshold",
 *                "measurable"}, 0.001, 0.0001],
 *    "det": [[threshold, far, frr], ...]}   thresholds 0.00..1.00 by 0.01
 *
 * A threshold accepts a score >= it.  At FAR x the threshold is the lowest
 * one that accepts at most floor(x n_impostor) impostor scores; it is
 * "measurable" only when x n_impostor >= 1 (else it merely lies above
 * every impostor score seen).
 */
#ifndef ADMIN_OPENSET_H
#define ADMIN_OPENSET_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/error.h"

/* FAR and FRR when scores >= t are accepted. */
void openset_rates(const float *gen, size_t ng, const float *imp, size_t ni,
    double t, double *far, double *frr);

/* The threshold for at most FAR target; *measurable as above. */
int openset_at_far(const float *gen, size_t ng, const float *imp, size_t ni,
    double target, double *thr, double *frr, bool *measurable,
    struct dt_error *err);

/* The object above (new reference), or NULL with err. */
json_t *openset_json(const float *gen, size_t ng, const float *imp,
    size_t ni, json_t *data_names, struct dt_error *err);

/* Reads FILE, sets metrics.open_set.<protocol> = FIGURES (borrowed) in its
 * metadata and writes it back (atomically: FILE.tmp, rename). */
int openset_save(const char *file, const char *protocol, json_t *figures,
    struct dt_error *err);

/*
 * The recommendation for FAR target from a model's metrics JSON text:
 * the protocol used (p2+ptbxl when present, else p2, else p4: cross-session
 * and the most impostor pairs first), the threshold, the FAR and
 * FRR measured there, n_impostor, and whether the target is measurable.
 * DT_E_NOTFOUND when the metrics hold no open-set figures.
 */
struct openset_pick {
	const char *protocol;	/* static */
	double threshold, far, frr;
	long n_genuine, n_impostor;
	bool measurable;
	char scores[160];
};
int openset_recommend(const char *metrics_json, double target,
    struct openset_pick *out, struct dt_error *err);

#endif /* ADMIN_OPENSET_H */

/*
 * admin/eval_open.h — the protocols of DESIGN.md section 8 that measure a
 * model on people and devices it never trained on:
 *
 *   p2+ptbxl    P2 (ECG-ID 61-90 enrolled from their lowest-numbered record,
 *               8 s probes of the others) with every PTB-XL hold-out record
 *               added as a further member (template: its first 6 s) and a
 *               further probe (its last 4 s); PTB-XL records are only
 *               impostors here (their genuine pairs are P4's).
 *   p4          PTB-XL hold-out, one session: enrol the first 6 s, probe
 *               the last 4 s.
 *   xelectrode  enrol each wearable subject from the Ag/AgCl rest recording,
 *               probe with 8 s segments of every textile recording: rank-1
 *               and probes answered per activity; activity per 8 s probe.
 *   rest-other  8 s probes of resting people on other devices (ECG-ID 61-90,
 *               the PTB-XL hold-out): fraction labelled rest, unknown,
 *               wrong, and wrong with probability >= 0.9.
 *   site        enrol each wearable subject from the textile rest recording,
 *               probe with 8 s of their other textile recordings (a site's
 *               own kiosks; not part of "open").
 *   adapt       template updates between visits (see eval_open.c; not part
 *               of "open").
 *
 * Templates and probes are fused as the daemon fuses a request (normalised
 * mean of the gated windows' embeddings; mean of the windows' calibrated
 * activity probabilities).  Scores are cosines.
 */
#ifndef ADMIN_EVAL_OPEN_H
#define ADMIN_EVAL_OPEN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "data/dataset.h"
#include "data/protocol.h"
#include "ecg/prep.h"
#include "nn/model.h"
#include "util/error.h"

enum eo_protocol {
	EO_P2_PTBXL = 1 << 0,
	EO_P4 = 1 << 1,
	EO_XELECTRODE = 1 << 2,
	EO_REST_OTHER = 1 << 3,
	EO_ALL = 0xf,
	EO_SITE = 1 << 4,	/* not part of "open" */
	EO_ADAPT = 1 << 5,	/* not part of "open" */
};

/* The protocols of P (data/protocol.h): open (all four), p2+ptbxl, p4,
 * xelectrode, rest-other, site, adapt; 0 for any other. */
unsigned eo_protocol_mask(enum data_protocol p);

/* The built-in data sets the protocols need. */
extern const char *const eo_data_names[4];

/* The template-update rule of "adapt" (dt4ecgd's template_update_*). */
struct eo_adapt {
	double threshold, margin;
	int cap;
};

struct eo_scores {		/* genuine and impostor scores, for the report */
	float *gen, *imp;
	size_t ng, ni;
};

/*
 * Runs the protocols in `which` on corpus c (which must hold the data sets
 * they need; one that is missing is an error naming it) and adds their
 * results to `out` under their names.  `keep` (may be NULL) receives the
 * scores of P2+PTB-XL when it ran, else of P4; free them with
 * eo_scores_free.
 */
int eo_evaluate(const struct nn_model *m, const struct data_corpus *c,
    const struct ecg_prep_params *pp, unsigned which, bool progress,
    const struct eo_adapt *ad, json_t *out, struct eo_scores *keep,
    struct dt_error *err);

void eo_scores_free(struct eo_scores *s);

#endif /* ADMIN_EVAL_OPEN_H */

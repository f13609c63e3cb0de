/*
 * admin/contamination.h — an open-set protocol (P2, and P4 when it comes)
 * measures people the model never trained on.  A model whose metadata
 * lists probe persons among its training subjects (admin_subject_rows
 * matches them) would report flattering figures; evaluate refuses it, or,
 * with --contaminated, marks the result: "contaminated": true and the
 * persons in "contaminated_subjects".
 */
#ifndef ADMIN_CONTAMINATION_H
#define ADMIN_CONTAMINATION_H

#include <stdbool.h>

#include <jansson.h>

#include "data/dataset.h"
#include "util/error.h"

/*
 * PROBES: n corpus subject indices; ROWS: corpus subject -> the model's
 * classifier row (-1: not a training subject).  Sets "contaminated" in OUT
 * (false, or true with the list when ALLOW); -1 (DT_E_INVALID) naming
 * them when some trained and not ALLOW.
 */
int eval_contamination(const char *protocol, const char *model,
    const struct data_corpus *c, const int *rows, const int *probes, int n,
    bool allow, json_t *out, struct dt_error *err);

#endif /* ADMIN_CONTAMINATION_H */

/*
 * nn/ref.h — the plain-C reference forward pass: naive loops straight from
 * DESIGN.md section 2, with BN applied from running statistics (not folded).
 * Used by the tests to check the oneDNN network and by the benchmark as its
 * baseline; never on the serving path.
 */
#ifndef NN_REF_H
#define NN_REF_H

#include "nn/model.h"
#include "util/error.h"

/* Same contract as nn_net_run(), for any n. */
int nn_ref_forward(const struct nn_model *m, const float *windows, int n,
    float *emb, float *act, struct dt_error *err);

#endif /* NN_REF_H */

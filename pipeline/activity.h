/*
 * pipeline/activity.h — calibrated activity probabilities and the label
 * "unknown".
 *
 * A model may carry two metadata keys, written by `dt4ecg-admin calibrate`
 * from validation data:
 *   activity.temperature    T > 0: a window's probabilities become
 *                           p_i^(1/T) / sum_j p_j^(1/T), which is softmax of
 *                           the logits divided by T (temperature scaling)
 *   activity.unknown_below  t in [0, 1): a recording whose fused (mean of
 *                           calibrated windows) top probability is below t
 *                           is labelled "unknown"
 * Without them T = 1 and nothing is unknown, as models before the keys.
 */
#ifndef PIPELINE_ACTIVITY_H
#define PIPELINE_ACTIVITY_H

#include <stddef.h>

#include "nn/model.h"
#include "util/error.h"

#define ACT_UNKNOWN_LABEL "unknown"

struct act_calib {
	double temperature;
	double unknown_below;
};

/* Reads the model's keys; a malformed value is an error naming the key. */
int act_calib_from_model(const struct nn_model *m, struct act_calib *c,
    struct dt_error *err);

/* One window's probabilities p[0..A), in place. */
void act_calib_apply(const struct act_calib *c, float *p, int A);

/* The index of the top probability (-1 when A < 1). */
int act_top(const float *p, int A);

/* The index of the top probability, or -1 when it is below unknown_below. */
int act_calib_label(const struct act_calib *c, const float *p, int A);

/* The label's name: the model's activity, or ACT_UNKNOWN_LABEL. */
const char *act_label_name(const struct nn_model *m, int label);

/*
 * Expected calibration error of n rows of probabilities p (n x A) with true
 * classes y, over `bins` equal-width bins of the top probability.
 */
double act_ece(const float *p, const int *y, size_t n, int A, int bins);

/* Mean negative log-likelihood of y under p at temperature T. */
double act_nll(const float *p, const int *y, size_t n, int A, double T);

/* The temperature in [0.05, 20] that minimises act_nll (golden section on
 * log T; the NLL is convex in 1/T). */
double act_fit_temperature(const float *p, const int *y, size_t n, int A);

#endif /* PIPELINE_ACTIVITY_H */

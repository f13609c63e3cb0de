/*
 * nn/train_internal.h — what the tests and the benchmark may see of the
 * trainer beyond nn/train.h: gradients without an update, the flat parameter
 * array, the GradNorm update on its own.
 */
#ifndef NN_TRAIN_INTERNAL_H
#define NN_TRAIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "nn/train.h"
#include "util/error.h"

/*
 * Forward (training mode) and backward with the current task weights, no
 * GradNorm and no parameter update: the gradient of
 * w_id * L_id + w_act * L_act lands in nn_trainer_grads().  *loss gets that
 * total.  BN running statistics are left untouched.
 */
int nn_trainer_compute(struct nn_trainer *t, const float *x, const int *y_id,
    const int *y_act, int n, double *loss, struct dt_error *err);

/* The same total loss, forward only (gradients of the backbone untouched). */
int nn_trainer_loss(struct nn_trainer *t, const float *x, const int *y_id,
    const int *y_act, int n, double *loss, struct dt_error *err);

/* The flat parameter / gradient arrays and one parameter's place in them. */
float *nn_trainer_params(struct nn_trainer *t, size_t *count);
float *nn_trainer_grads(struct nn_trainer *t);
int nn_trainer_param_find(const struct nn_trainer *t, const char *name,
    size_t *off, size_t *numel);
/* Marks the parameters as changed (conv weights are re-laid-out). */
void nn_trainer_params_changed(struct nn_trainer *t);

/* Keep the current dropout mask (gradient checks) / draw a new one per step. */
void nn_trainer_freeze_dropout(struct nn_trainer *t, bool frozen);
void nn_trainer_set_task_weights(struct nn_trainer *t, float w_id,
    float w_act);
void nn_trainer_task_weights(const struct nn_trainer *t, float *w_id,
    float *w_act);

/*
 * GradNorm on its own (DESIGN.md section 2): two task weights, L_i(0),
 * and an Adam optimiser for the weights.
 */
struct nn_gradnorm {
	float w[2];
	float L0[2];
	bool have_L0[2];
	double m[2], v[2];	/* Adam moments of the weights */
	long t;			/* Adam steps taken */
	float alpha;
};

void nn_gradnorm_init(struct nn_gradnorm *g, float alpha);
/* Records L_i(0) for tasks seen for the first time (active[i]). */
void nn_gradnorm_observe(struct nn_gradnorm *g, const float L[2],
    const bool active[2]);
/*
 * One update from the losses L_i and gnorm_i = ||grad_W L_i|| (the
 * unweighted task gradients at the shared layer), learning rate lr:
 * G_i = w_i gnorm_i, r_i = (L_i / L_i(0)) / mean_j(L_j / L_j(0)),
 * L_grad = sum_i |G_i - mean(G) r_i^alpha| (target constant),
 * w_i -= Adam(dL_grad/dw_i), clamp at 1e-3, renormalise to sum 2.
 */
void nn_gradnorm_update(struct nn_gradnorm *g, const float L[2],
    const float gnorm[2], float lr);

#endif /* NN_TRAIN_INTERNAL_H */

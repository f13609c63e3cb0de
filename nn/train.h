/*
 * nn/train.h — training DT4ECG (DESIGN.md section 2): forward in training
 * mode, backward through every layer, CosFace + cross-entropy losses masked
 * per sample, GradNorm loss balancing, AdamW with a cosine schedule.
 *
 * The trainer owns a copy of the parameters; nn_trainer_export() writes
 * weights and BN running statistics back into a model (tensors of the same
 * names), so the inference network and the model file see the result.
 */
#ifndef NN_TRAIN_H
#define NN_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/model.h"
#include "util/error.h"

#define NN_MAX_SUBCENTRES 8

struct nn_train_opts {
	int batch;		/* windows per step (the trainer is built for it) */
	int total_steps;	/* for the cosine schedule */
	int warmup_steps;	/* linear warm-up before the cosine decay (0: none) */
	float lr;		/* 1e-3 */
	float weight_decay;	/* 1e-4 (AdamW, decoupled) */
	float cosface_s;	/* 30 */
	float cosface_m;	/* 0.2 */
	int subcentres;		/* 1 (plain CosFace) .. NN_MAX_SUBCENTRES: the
				 * trainer's classifier has this many rows per
				 * subject; the model gets each subject's
				 * dominant one (nn_trainer_export) */
	float dropout;		/* 0.2, activity head */
	bool gradnorm;		/* false: fixed weights fixed_w_id, fixed_w_act */
	float fixed_w_id, fixed_w_act;	/* 1, 1 (ablation: e.g. 0, 1) */
	float gradnorm_alpha;	/* 1.5 */
	float gradnorm_lr;	/* learning rate of the task weights */
	bool gradnorm_features;	/* measure ||grad L_i|| at the shared pooled
				 * features instead of the weight W (a GradNorm
				 * variant: no extra backward passes) */
	bool task_grad_norm;	/* with fixed weights: each task's gradient
				 * at the shared features scaled to the two
				 * norms' mean before its weight */
	float ema_decay;	/* 0: off; D in (0, 1): the export holds the
				 * average of the weights and BN statistics
				 * over the steps so far, the step k back
				 * weighted D^k (Polyak averaging, bias-
				 * corrected); the steps move the live ones */
	uint64_t seed;		/* dropout masks */
};

void nn_train_opts_default(struct nn_train_opts *o);

struct nn_step_stats {
	float loss_id;		/* mean CosFace loss over samples with an identity label */
	float loss_act;		/* mean cross-entropy over samples with an activity label */
	float w_id, w_act;	/* GradNorm task weights after this step */
	float lr;
	int n_id, n_act;	/* labelled samples in the batch */
	int correct_id, correct_act;	/* training accuracy counts */
};

struct nn_trainer;

/* The model gives the architecture and the starting weights. */
int nn_trainer_create(const struct nn_model *m, const struct nn_train_opts *o,
    struct nn_trainer **out, struct dt_error *err);

/*
 * One optimisation step on n <= batch windows (each hp.window floats).
 * y_id[i] in 0..n_subjects-1 or -1 (no identity label); y_act[i] in
 * 0..n_activities-1 or -1 (no activity label).
 */
int nn_trainer_step(struct nn_trainer *t, const float *x, const int *y_id,
    const int *y_act, int n, struct nn_step_stats *st, struct dt_error *err);

/* Copies the current weights and BN running statistics (their moving
 * averages with ema_decay) into m (same architecture), and the GradNorm
 * weights into its metadata. */
int nn_trainer_export(const struct nn_trainer *t, struct nn_model *m,
    struct dt_error *err);

/* Checkpoint: parameters, optimiser moments, task weights, step, L_i(0). */
int nn_trainer_save_state(const struct nn_trainer *t, const char *path,
    struct dt_error *err);
int nn_trainer_load_state(struct nn_trainer *t, const char *path,
    struct dt_error *err);
/* Optimisation steps taken (restored by nn_trainer_load_state). */
int64_t nn_trainer_steps(const struct nn_trainer *t);

void nn_trainer_free(struct nn_trainer *t);

#endif /* NN_TRAIN_H */

/*
 * nn/model.h — the DT4ECG model: hyperparameters, named float32 tensors and
 * metadata, read from and written to one safetensors file (DESIGN.md section 3).
 *
 * The loader validates everything a hostile file could get wrong (header length,
 * JSON, dtypes, shapes against the hyperparameters, offsets, NaN/Inf) and keeps
 * every metadata key it does not know, so a load/save round trip loses nothing.
 */
#ifndef NN_MODEL_H
#define NN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/rng.h"

#define NN_MAX_STAGES 8
#define NN_MAX_DIMS 4
#define NN_FORMAT_VERSION "1"

struct nn_hparams {
	int fs_hz;		/* 250 */
	int window;		/* 512 */
	int stem_channels;	/* 64 */
	int stem_kernel;	/* 15 */
	int n_stages;		/* 3 */
	int stage_channels[NN_MAX_STAGES]; /* 64,128,256 */
	int kernel;		/* 7 */
	int sca_reduction;	/* 8 */
	int seq_kernel;		/* 7 */
	int embedding_dim;	/* 128 */
	int act_hidden;		/* 64 */
};

struct nn_tensor {
	char *name;
	int ndim;
	int64_t shape[NN_MAX_DIMS];
	size_t numel;
	float *data;		/* numel floats, owned by the model */
};

struct nn_meta {
	char *key;
	char *value;
};

struct nn_model {
	struct nn_hparams hp;
	int n_activities;
	char **activities;	/* n_activities names, from metadata "activities" */
	int n_subjects;		/* rows of id_head.classifier.weight */
	size_t n_tensors;
	struct nn_tensor *tensors;
	size_t n_meta;
	struct nn_meta *meta;	/* every __metadata__ entry, known or not */
};

/* The defaults of DESIGN.md section 2. */
void nn_hparams_default(struct nn_hparams *hp);

/* 0 when the hyperparameters are usable (odd kernels, positive sizes, the
 * window long enough for every stage, channels divisible by sca_reduction). */
int nn_hparams_check(const struct nn_hparams *hp, struct dt_error *err);

/* Lengths along the time axis: after the stem's pool, and after stage i. */
int nn_hparams_stem_len(const struct nn_hparams *hp);
int nn_hparams_stage_len(const struct nn_hparams *hp, int stage);

/* Multiply-adds x 2 of one window through the inference network. */
double nn_hparams_flops(const struct nn_hparams *hp, int n_activities);

/*
 * A new model with every tensor of DESIGN.md section 3 allocated with its shape
 * and initialised as PyTorch would for a fresh network (BN weight 1, bias 0,
 * running_mean 0, running_var 1; weights uniform(-1/sqrt(fan_in), +)) from a
 * deterministic generator seeded with `seed`.  The metadata holds the format,
 * the hyperparameters and the activities.
 */
int nn_model_create(const struct nn_hparams *hp, int n_subjects,
    int n_activities, const char *const *activities, uint64_t seed,
    struct nn_model **out, struct dt_error *err);

/* Read a safetensors file / buffer.  `name` is used in messages (the path). */
int nn_model_load(const char *path, struct nn_model **out,
    struct dt_error *err);
int nn_model_load_buffer(const void *buf, size_t len, const char *name,
    struct nn_model **out, struct dt_error *err);

/* Serialise; the buffer is malloc'd and owned by the caller. */
int nn_model_save_buffer(const struct nn_model *m, void **buf, size_t *len,
    struct dt_error *err);
/* Write atomically: PATH.tmp, fsync, rename. */
int nn_model_save(const struct nn_model *m, const char *path,
    struct dt_error *err);

void nn_model_free(struct nn_model *m);

/* Borrowed pointer into the model, or NULL when there is no such tensor. */
const struct nn_tensor *nn_model_tensor(const struct nn_model *m,
    const char *name);
struct nn_tensor *nn_model_tensor_mut(struct nn_model *m, const char *name);

/*
 * Copies every tensor of src into dst's tensor of the same name and shape,
 * except `skip` (may be NULL); returns how many were copied.  Fine-tuning
 * keeps a trained trunk and heads under a new classifier this way.
 */
int nn_model_copy_weights(struct nn_model *dst, const struct nn_model *src,
    const char *skip);

/* Metadata: borrowed value or NULL; set replaces or adds (copies both). */
const char *nn_model_meta(const struct nn_model *m, const char *key);
int nn_model_set_meta(struct nn_model *m, const char *key, const char *value,
    struct dt_error *err);

#endif /* NN_MODEL_H */

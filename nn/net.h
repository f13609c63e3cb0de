/*
 * nn/net.h — DT4ECG inference on oneDNN (v2 C API).
 *
 * A network is built once for a model and a batch size: BN is folded into the
 * convolutions, every primitive and buffer is created here, and nn_net_run()
 * allocates nothing.  oneDNN's OpenMP runtime needs a network to run in the
 * thread that created it, so each worker thread builds its own.
 */
#ifndef NN_NET_H
#define NN_NET_H

#include "nn/model.h"
#include "util/error.h"

struct nn_net;

/*
 * Precision of the residual blocks' convolutions.  NN_PREC_INT8 runs them on
 * oneDNN's int8 kernels (u8 activations, s8 weights with per-output-channel
 * scales, s32 accumulation; VNNI where the CPU has it) with the activation
 * scales the model carries (metadata NN_INT8_META_KEY, written by
 * nn_net_calibrate's caller); the stem, SCA, pooling and heads stay f32.
 */
enum nn_precision { NN_PREC_F32, NN_PREC_INT8 };

/* Metadata key of the int8 calibration: 2 * n_stages maxima, "a,b,...". */
#define NN_INT8_META_KEY "dt4ecg.int8.act_max"

/*
 * The calibration m carries (metadata NN_INT8_META_KEY) into amax
 * (2 * n_stages maxima, all positive and finite); -1 and err when it has
 * none or it is malformed.
 */
int nn_int8_calibration(const struct nn_model *m, float *amax,
    struct dt_error *err);

/* "f32" or "int8" (-1 and err otherwise); and back. */
int nn_precision_parse(const char *s, enum nn_precision *out,
    struct dt_error *err);
const char *nn_precision_name(enum nn_precision p);

/*
 * The precision nn_net_create builds for, process-wide (default f32): the
 * daemon's config key and the tools' --precision set it once at start.
 */
void nn_set_precision(enum nn_precision p);
enum nn_precision nn_get_precision(void);
/* What nn_net_create builds m at: int8 only if m carries a calibration. */
enum nn_precision nn_model_precision(const struct nn_model *m);

/* At nn_model_precision(m); nn_net_create_prec at the one asked for. */
int nn_net_create(const struct nn_model *m, int batch, struct nn_net **out,
    struct dt_error *err);
int nn_net_create_prec(const struct nn_model *m, int batch,
    enum nn_precision prec, struct nn_net **out, struct dt_error *err);

/*
 * Calibration, on an f32 network: from now on, each nn_net_run raises
 * amax[2 i] and amax[2 i + 1] to the largest value of stage i's input and of
 * its first convolution's output (both after ReLU) over the windows run
 * (whole chunks only: run full batches).  amax (borrowed; 2 * n_stages
 * entries, zero at first) must outlive the runs; NULL stops.
 */
int nn_net_calibrate(struct nn_net *net, float *amax, struct dt_error *err);

/*
 * Run n windows (n <= batch), each hp.window floats, preprocessed.  Writes the
 * L2-normalised embeddings (n x embedding_dim) and the activity probabilities
 * (n x n_activities).  Either output may be NULL.
 */
int nn_net_run(struct nn_net *net, const float *windows, int n, float *emb,
    float *act, struct dt_error *err);

int nn_net_batch(const struct nn_net *net);
void nn_net_free(struct nn_net *net);

/* Threads oneDNN may use in the calling thread (OpenMP). */
void nn_set_threads(int n);

#endif /* NN_NET_H */

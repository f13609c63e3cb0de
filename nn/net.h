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

int nn_net_create(const struct nn_model *m, int batch, struct nn_net **out,
    struct dt_error *err);

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

/*
 * nn/train_conv.h — the trainer's oneDNN convolution wrapper (nn/train_conv.c).
 * Internal to nn/: the trainer and its tests.
 */
#ifndef NN_TRAIN_CONV_H
#define NN_TRAIN_CONV_H

#include <stdbool.h>
#include <stddef.h>

#include <dnnl.h>

#include "util/error.h"

/* ---- oneDNN convolution -------------------------------------------------
 * src, dst and their gradients are the caller's ncw buffers.  Each pass
 * (forward, backward-data, backward-weights) runs either on them (oneDNN's
 * gemm) or on blocked copies of its own (jit: nCw8c, nCw16c on AVX-512), by
 * a fixed rule measured to be faster, reorders included (nn/train_conv.c);
 * DT4ECG_TRAIN_CONV=gemm,
 * blocked or e.g. gbg (per pass) overrides it for the tests.
 */
struct nn_tl_conv {
	int N, cin, cout, k, stride, pad, lin, lout;
	bool blk_fwd, blk_bwd_d, blk_bwd_w;	/* pass runs blocked */
	dnnl_primitive_t fwd, bwd_d, bwd_w;
	dnnl_primitive_t r_w_fwd, r_w_bwd_d, r_dw;	/* weight reorders */
	dnnl_primitive_t r_src, r_dst, r_dsrc, r_ddst;	/* ncw <-> blocked */
	dnnl_memory_t src, dst, dsrc, ddst;		/* bound to buffers */
	dnnl_memory_t src_b, dst_b, dsrc_b, ddst_b;	/* blocked copies */
	dnnl_memory_t w_user, w_fwd, w_bwd_d;		/* w_user: oiw */
	dnnl_memory_t dw_prim, dw_user;
	size_t scratch_size;
	dnnl_memory_t scratch;				/* borrowed */
};

/*
 * Builds forward-training, backward-data (when dsrc is not NULL) and
 * backward-weights primitives for src [N][cin][lin] -> dst [N][cout][lout]
 * (PyTorch's length formula), bound to the given buffers: w and dw are
 * plain [cout][cin][k].  Bind a scratchpad of at least scratch_size bytes
 * with nn_tl_conv_bind_scratch before running.
 */
int nn_tl_conv_create(struct nn_tl_conv *c, dnnl_engine_t eng, int N,
    int cin, int cout, int k, int stride, int pad, int lin, float *src,
    float *dst, float *w, float *dw, float *dsrc, float *ddst,
    struct dt_error *err);
void nn_tl_conv_bind_scratch(struct nn_tl_conv *c, dnnl_memory_t scratch);
void nn_tl_conv_destroy(struct nn_tl_conv *c);
/* Reorders w into the primitives' formats: after every weight update. */
int nn_tl_conv_sync_weights(struct nn_tl_conv *c, dnnl_stream_t st,
    struct dt_error *err);
int nn_tl_conv_fwd(struct nn_tl_conv *c, dnnl_stream_t st,
    struct dt_error *err);
/*
 * Backward from ddst: diff_src into dsrc (data) and the weight gradient
 * (oiw) into dw (weights); ddst is laid out once for both.  The weight
 * gradient uses src as of the last nn_tl_conv_fwd.
 */
int nn_tl_conv_bwd(struct nn_tl_conv *c, dnnl_stream_t st, bool data,
    bool weights, struct dt_error *err);
/* Creates a scratchpad memory of `size` bytes (at least 1). */
int nn_tl_scratch_create(dnnl_engine_t eng, size_t size, dnnl_memory_t *out,
    struct dt_error *err);

#endif /* NN_TRAIN_CONV_H */

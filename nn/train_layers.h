/*
 * nn/train_layers.h — per-layer forward (training mode) and backward kernels
 * of the trainer (nn/train.c).  Internal to nn/: the trainer and its tests.
 *
 * Activations of the convolutional part are [N][C][L] with the channels in
 * blocks of NN_TB: element (n, c, t) is at
 *     ((n * C/NN_TB + c/NN_TB) * L + t) * NN_TB + c%NN_TB
 * ("blocked" below).  NN_TB is 1, plain ncw, which our own loops vectorise
 * over time; the oneDNN convolutions make blocked copies where that is faster
 * (struct nn_tl_conv).
 *
 * Vectors of the heads are plain row-major [N][features].
 *
 * Every kernel takes n (the samples present) and N (the batch the buffers
 * were built for): statistics and losses use the first n samples only, and
 * gradients for samples n..N-1 are written as zeros, so that oneDNN's
 * backward-weights primitives (which sum over all N) see nothing from them.
 */
#ifndef NN_TRAIN_LAYERS_H
#define NN_TRAIN_LAYERS_H

#include <stdbool.h>
#include <stddef.h>

#include <dnnl.h>

#include "nn/train_conv.h"	/* the oneDNN convolutions */
#include "util/error.h"

#define NN_TB 1			/* channel block: 1 = plain ncw, 8 = nCw8c */
#define NN_TB_TAG (NN_TB == 1 ? dnnl_ncw : dnnl_nCw8c)
#define NN_BN_EPS 1e-5f
#define NN_BN_MOMENTUM 0.1f

/* Offset of (n, c, t) in a blocked [.][C][L] tensor. */
static inline size_t
nn_tl_idx(int n, int c, int t, int C, int L)
{
	return (((size_t)n * (size_t)(C / NN_TB) + (size_t)(c / NN_TB)) *
	    (size_t)L + (size_t)t) * NN_TB + (size_t)(c % NN_TB);
}

/* Plain [N][C][L] <-> blocked (tests and the trainer's input/output). */
void nn_tl_to_blocked(const float *src, float *dst, int N, int C, int L);
void nn_tl_from_blocked(const float *src, float *dst, int N, int C, int L);

/* 64-byte aligned, zeroed; free with free(). */
float *nn_tl_alloc(size_t nfloats);

/* ---- stem convolution (1 -> C, kernel K, stride 1, pad K/2): plain C ----
 * xp is [N][W + K - 1], the zero-padded input; wt is the weight transposed
 * to [K][C]; y is blocked [N][C][W].  The backward pass needs only the
 * weight gradient (the input is data); dwt is [K][C], overwritten; `acc` is
 * scratch of nthreads * K * C floats. */
void nn_tl_stem_fwd(const float *xp, const float *wt, float *y, int n,
    int C, int K, int W);
void nn_tl_stem_bwd_w(const float *xp, const float *dy, float *dwt, int n,
    int C, int K, int W, float *acc, int nthreads);

/* ---- batch norm, training mode (blocked [N][C][L]) ----------------------
 * Statistics over the n samples x L positions: mean and 1/sqrt(biased
 * var + eps) per channel; running statistics (if not NULL) move by
 * `momentum` towards mean and the unbiased variance (PyTorch). */
void nn_tl_bn_stats(const float *x, int n, int C, int L, float *mean,
    float *invstd, float *run_mean, float *run_var, float momentum);
/* y = [relu](g * (x - mean) * invstd + b); samples n..N-1 get 0. */
void nn_tl_bn_apply(const float *x, float *y, int n, int N, int C, int L,
    const float *mean, const float *invstd, const float *g, const float *b,
    bool relu);
/* z = relu(bn_a(xa) + bn_b(xb)): the end of a residual block. */
void nn_tl_bn2_add_relu(const float *xa, const float *xb, float *z, int n,
    int N, int C, int L, const float *mean_a, const float *invstd_a,
    const float *g_a, const float *b_a, const float *mean_b,
    const float *invstd_b, const float *g_b, const float *b_b);
/*
 * Backward: dy_eff = mask ? (mask > 0 ? dy : 0) : dy;
 * dx = g * invstd * (dy_eff - mean(dy_eff) - xhat * mean(dy_eff * xhat)).
 * dg, db (may be NULL) receive sum(dy_eff * xhat) and sum(dy_eff).
 * dx may alias dy.  Samples n..N-1 of dx get 0.  ws: 2 C floats of work.
 */
void nn_tl_bn_bwd(const float *x, const float *dy, const float *mask,
    float *dx, int n, int N, int C, int L, const float *mean,
    const float *invstd, const float *g, float *dg, float *db, float *ws);

/* ---- max-pool(2, 2) over time (blocked) ---------------------------------
 * Lo = L / 2.  Backward scatters dy to the larger of each pair (the first
 * on ties, as PyTorch), optionally adding a second gradient dy2. */
void nn_tl_maxpool2_fwd(const float *x, float *y, int n, int N, int C, int L);
void nn_tl_maxpool2_bwd(const float *x, const float *dy, const float *dy2,
    float *dx, int n, int N, int C, int L);

/* ---- Sequence Channel Attention (blocked z [N][C][L]) ------------------- */
struct nn_tl_sca {
	int N, C, L, H, kq;
	/* parameters (borrowed): fc1 [H][C], [H]; fc2 [C][H], [C];
	 * seq [2][kq], [1] */
	const float *fc1_w, *fc1_b, *fc2_w, *fc2_b, *seq_w, *seq_b;
	/* saved by the forward pass */
	float *avg, *mx;	/* [N][C] pooled over time */
	int *amax_t;		/* [N][C] argmax over time */
	float *ha, *hm;		/* [N][H] fc1 outputs (before ReLU) */
	float *att;		/* [N][C] channel attention */
	float *u;		/* [N][C][L] blocked: z * att */
	float *s;		/* [N][2][L] mean and max over channels */
	int *amax_c;		/* [N][L] argmax over channels */
	float *m;		/* [N][L] sequence attention */
	/* backward work */
	float *d_o;		/* [N][C] gradient of the MLP sum */
	float *dha, *dhm;	/* [N][H] */
	float *dq;		/* [N][L] gradient of the seq conv output */
	float *work;		/* [N][4 L + 2 C] */
};

int nn_tl_sca_init(struct nn_tl_sca *s, int N, int C, int L, int H, int kq,
    struct dt_error *err);
void nn_tl_sca_free(struct nn_tl_sca *s);
/* out = (z * att) * m; out may not alias z. */
void nn_tl_sca_fwd(struct nn_tl_sca *s, const float *z, float *out, int n);
/*
 * dout = dout_a (+ dout_b) (+ df_gap[n][c] / L: the global pool's backward,
 * when df_gap is given instead of dout_a).  Writes dz = d(loss)/dz masked by
 * z > 0 (the ReLU before SCA), and the parameter gradients when the g_*
 * pointers are not NULL (overwritten).
 */
void nn_tl_sca_bwd(struct nn_tl_sca *s, const float *z, const float *dout_a,
    const float *dout_b, const float *df_gap, float *dz, int n,
    float *g_fc1_w, float *g_fc1_b, float *g_fc2_w, float *g_fc2_b,
    float *g_seq_w, float *g_seq_b);

/* ---- global average pool (blocked [N][C][L] -> f [N][C]) ---------------- */
void nn_tl_gap_fwd(const float *x, float *f, int n, int N, int C, int L);

/* ---- fully connected, plain --------------------------------------------
 * y[N][O] = x[N][I] W^T + b.  Backward: dW = scale * dy^T x,
 * db = scale * sum dy (overwritten; NULL: not wanted), dx = dy W (NULL: not
 * wanted).  Only the first n rows are used; rows n.. of dx get 0. */
void nn_tl_fc_fwd(const float *x, const float *w, const float *b, float *y,
    int n, int I, int O);
void nn_tl_fc_bwd(const float *x, const float *w, const float *dy, float *dx,
    float *dw, float *db, float scale, int n, int N, int I, int O);

/* ---- batch norm over features, plain [N][E] ------------------------------ */
void nn_tl_bn1d_fwd(const float *x, float *y, int n, int E, const float *g,
    const float *b, float *mean, float *invstd, float *run_mean,
    float *run_var, float momentum);
void nn_tl_bn1d_bwd(const float *x, const float *dy, float *dx, int n, int N,
    int E, const float *mean, const float *invstd, const float *g,
    float *dg, float *db, float scale);

/* ---- losses -------------------------------------------------------------- */
/*
 * CosFace with K sub-centres per class (Deng et al., "Sub-center ArcFace",
 * ECCV 2020; K = 1 is plain CosFace): w holds S*K rows, class j's sub-centres
 * at rows j*K .. j*K+K-1; a class's cosine is its closest sub-centre's,
 * logits = s * (cos(e_i, class j) - m [j == y_i]), cross-entropy over the
 * samples with y_i >= 0, mean over them.  Returns the loss (0 when no sample
 * is labelled) and sets *n_lab and *correct (argmax of cos == y).
 * de [N][E] (rows n.. zero, unlabelled rows zero) is d(loss)/de; dw [S*K][E]
 * is `scale` * d(loss)/dw (NULL: not wanted; only winning sub-centres get a
 * gradient).  hits [S*K] (NULL: not wanted) gets +1 at the winning
 * sub-centre of each labelled sample's own class.  work:
 * nn_tl_cosface_work(N, E, S, K) floats; arg: N*S ints.
 */
size_t nn_tl_cosface_work(int N, int E, int S, int K);
double nn_tl_cosface(const float *e, const float *w, const int *y, int n,
    int N, int E, int S, int K, float s, float m, float *de, float *dw,
    float scale, int *n_lab, int *correct, float *work, int *arg,
    float *hits);
/* Cross-entropy of logits [N][A] over samples with y >= 0, mean. dz [N][A]
 * is d(loss)/dz (zero rows for unlabelled and n..). */
double nn_tl_xent(const float *z, const int *y, int n, int N, int A,
    float *dz, int *n_lab, int *correct);

#endif /* NN_TRAIN_LAYERS_H */

/*
 * nn/net.c — DT4ECG inference on oneDNN 2.x (C API).
 *
 * The network is a list of ops run in order.  An op is either a oneDNN
 * primitive with its bound arguments, or one of our own loops (sequence channel
 * attention, global pooling, head epilogues) where oneDNN has no primitive that
 * does the job in one pass.  Everything — primitives, folded weights, activation
 * buffers, one shared scratchpad — is created by nn_net_create(); nn_net_run()
 * copies the input in, executes the list and copies the outputs out.
 *
 * Memory formats: convolutions are created with format_tag_any for source,
 * weights and destination, so oneDNN picks what its fastest kernel wants
 * (channels-last `nwc` for brgconv on AVX-512).  Our own loops work on `nwc`;
 * a reorder op is inserted only where oneDNN's choice differs from that.
 * Weights are reordered once, at build time.
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "nn/model.h"
#include "nn/net.h"
#include "nn/nn_internal.h"
#include "util/error.h"

#define BN_EPS 1e-5f

#define MAX_ARGS 8

struct nn_net;
typedef void (*op_fn)(struct nn_net *net, void *ctx);

struct op {
	dnnl_primitive_t prim;	/* NULL for our own loops */
	int nargs;
	dnnl_exec_arg_t args[MAX_ARGS];
	op_fn fn;
	void *ctx;
};

/* Sequence Channel Attention on an `nwc` activation [batch][len][ch]. */
struct sca {
	float *x;		/* borrowed: the activation buffer */
	int batch, len, ch, hidden, kq;
	float *fc1_w, *fc1_b;	/* [hidden][ch], [hidden] */
	float *fc2_w, *fc2_b;	/* [ch][hidden], [ch] */
	float seq_w[2][64];	/* [2][kq] (kq <= 63, checked) */
	float seq_b;
	float *work;		/* per thread: 4*ch + 2*hidden + 3*len */
	int nthreads;
};

/* Global average pool [batch][len][ch] -> [batch][ch]. */
struct gap {
	const float *x;
	float *f;
	int batch, len, ch;
};

struct nn_net {
	struct nn_hparams hp;
	int batch;		/* what the ops are built for: a chunk */
	int cap;		/* windows per nn_net_run (nn_net_batch) */
	int emb_dim, n_act;

	dnnl_engine_t engine;
	dnnl_stream_t stream;

	struct op *ops;
	int n_ops, cap_ops;

	/* every dnnl_memory_t and primitive we created, to destroy them */
	dnnl_memory_t *mems;
	int n_mems, cap_mems;
	dnnl_primitive_t *prims;
	int n_prims, cap_prims;
	struct owned_ctx {
		void *p;
		void (*free_fn)(void *);
	} *ctxs;		/* op contexts (struct sca, struct gap) */
	int n_ctxs, cap_ctxs;

	/* One scratchpad shared by all primitives (they run one at a time).
	 * Ops bind DNNL_ARG_SCRATCHPAD to NULL while the network is built; the
	 * memory is created, at the largest size asked for, once all exist. */
	size_t scratch_size;

	enum nn_precision prec;
	float amax[2 * NN_MAX_STAGES];	/* int8: calibrated maxima (nn/net.h) */
	/* each stage's input and first convolution's output, for calibration */
	dnnl_memory_t cal[2 * NN_MAX_STAGES];
	float *calib;		/* borrowed: nn_net_calibrate's maxima */

	float *in;		/* [batch][window + stem_kernel - 1]: zero-padded */
	float *emb;		/* [batch][emb_dim] after the id fc (BN folded) */
	float *act_logits;	/* [batch][n_act] */
};

/* ---- bookkeeping --------------------------------------------------------- */

static int
grow(void **arr, int *cap, int n, size_t elem)
{
	void *p;
	int ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((p = realloc(*arr, (size_t)ncap * elem)) == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int
keep_mem(struct nn_net *net, dnnl_memory_t m)
{
	if (grow((void **)&net->mems, &net->cap_mems, net->n_mems,
	    sizeof(*net->mems)) != 0)
		return -1;
	net->mems[net->n_mems++] = m;
	return 0;
}

static int
keep_prim(struct nn_net *net, dnnl_primitive_t p)
{
	if (grow((void **)&net->prims, &net->cap_prims, net->n_prims,
	    sizeof(*net->prims)) != 0)
		return -1;
	net->prims[net->n_prims++] = p;
	return 0;
}

static int
keep_ctx(struct nn_net *net, void *ctx, void (*free_fn)(void *))
{
	if (grow((void **)&net->ctxs, &net->cap_ctxs, net->n_ctxs,
	    sizeof(*net->ctxs)) != 0)
		return -1;
	net->ctxs[net->n_ctxs].p = ctx;
	net->ctxs[net->n_ctxs].free_fn = free_fn;
	net->n_ctxs++;
	return 0;
}

static struct op *
new_op(struct nn_net *net)
{
	struct op *op;

	if (grow((void **)&net->ops, &net->cap_ops, net->n_ops,
	    sizeof(*net->ops)) != 0)
		return NULL;
	op = &net->ops[net->n_ops++];
	memset(op, 0, sizeof(*op));
	return op;
}

static void
op_arg(struct op *op, int arg, dnnl_memory_t mem)
{
	op->args[op->nargs].arg = arg;
	op->args[op->nargs].memory = mem;
	op->nargs++;
}

/* A memory object with its own buffer, kept for destruction. */
static int
make_mem(struct nn_net *net, const dnnl_memory_desc_t *md, dnnl_memory_t *out,
    struct dt_error *err)
{
	dnnl_memory_t m = NULL;

	NN_TRY(dnnl_memory_create(&m, md, net->engine, DNNL_MEMORY_ALLOCATE));
	if (keep_mem(net, m) != 0) {
		dnnl_memory_destroy(m);
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	*out = m;
	return 0;
fail:
	return -1;
}

static float *
mem_ptr(dnnl_memory_t m)
{
	void *p = NULL;

	if (dnnl_memory_get_data_handle(m, &p) != dnnl_success)
		return NULL;
	return p;
}

static int
md_plain(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
    dnnl_format_tag_t tag, struct dt_error *err)
{
	NN_TRY(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag));
	return 0;
fail:
	return -1;
}

/* Builds a primitive from `pd` (consumed), kept for destruction. */
static int
make_prim(struct nn_net *net, dnnl_primitive_desc_t pd, dnnl_primitive_t *out,
    struct dt_error *err)
{
	dnnl_primitive_t p = NULL;
	const dnnl_memory_desc_t *smd;
	size_t ss;

	/* Grow the shared scratchpad to what this primitive needs. */
	smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	ss = smd ? dnnl_memory_desc_get_size(smd) : 0;
	if (ss > net->scratch_size)
		net->scratch_size = ss;
	NN_TRY(dnnl_primitive_create(&p, pd));
	dnnl_primitive_desc_destroy(pd);
	if (keep_prim(net, p) != 0) {
		dnnl_primitive_destroy(p);
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	*out = p;
	return 0;
fail:
	dnnl_primitive_desc_destroy(pd);
	return -1;
}

/*
 * If `have` (a memory holding data in layout `*have_md`) is not in layout
 * `*want_md`, add a reorder op into a new buffer and return that; else return
 * `have` itself.
 */
static int
ensure_layout(struct nn_net *net, dnnl_memory_t have,
    const dnnl_memory_desc_t *have_md, const dnnl_memory_desc_t *want_md,
    dnnl_memory_t *out, struct dt_error *err)
{
	dnnl_primitive_desc_t rpd = NULL;
	dnnl_primitive_t rp;
	dnnl_memory_t dst;
	struct op *op;

	if (dnnl_memory_desc_equal(have_md, want_md)) {
		*out = have;
		return 0;
	}
	if (make_mem(net, want_md, &dst, err) != 0)
		return -1;
	NN_TRY(dnnl_reorder_primitive_desc_create(&rpd, have_md, net->engine,
	    want_md, net->engine, NULL));
	if (make_prim(net, rpd, &rp, err) != 0)
		return -1;
	if ((op = new_op(net)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	op->prim = rp;
	op_arg(op, DNNL_ARG_FROM, have);
	op_arg(op, DNNL_ARG_TO, dst);
	*out = dst;
	return 0;
fail:
	return -1;
}

/*
 * Copies `src` (plain layout `src_md`) into a new memory of layout `dst_md`,
 * through the reorder attributes `rattr` (NULL: none; int8 weights: the
 * scales that quantize them).
 */
static int
reorder_once(struct nn_net *net, const float *src,
    const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md,
    const_dnnl_primitive_attr_t rattr, dnnl_memory_t *out,
    struct dt_error *err)
{
	dnnl_memory_t user = NULL, dst;
	dnnl_primitive_desc_t rpd = NULL;
	dnnl_primitive_t rp = NULL;
	dnnl_exec_arg_t args[2];
	int rc = -1;

	if (make_mem(net, dst_md, &dst, err) != 0)
		return -1;
	NN_TRY(dnnl_memory_create(&user, src_md, net->engine, (void *)src));
	NN_TRY(dnnl_reorder_primitive_desc_create(&rpd, src_md, net->engine,
	    dst_md, net->engine, rattr));
	NN_TRY(dnnl_primitive_create(&rp, rpd));
	args[0].arg = DNNL_ARG_FROM;
	args[0].memory = user;
	args[1].arg = DNNL_ARG_TO;
	args[1].memory = dst;
	NN_TRY(dnnl_primitive_execute(rp, net->stream, 2, args));
	NN_TRY(dnnl_stream_wait(net->stream));
	*out = dst;
	rc = 0;
fail:
	if (rp)
		dnnl_primitive_destroy(rp);
	if (rpd)
		dnnl_primitive_desc_destroy(rpd);
	if (user)
		dnnl_memory_destroy(user);
	return rc;
}

/* ---- weights ------------------------------------------------------------- */

static const float *
tensor(const struct nn_model *m, const char *name, size_t numel,
    struct dt_error *err)
{
	const struct nn_tensor *t = nn_model_tensor(m, name);

	if (t == NULL || t->numel != numel) {
		dt_error_set(err, DT_E_FORMAT,
		    "tensor %s: %s (expected %zu values)", name,
		    t ? "wrong size" : "missing", numel);
		return NULL;
	}
	return t->data;
}

/*
 * Folds BatchNorm `bn_prefix` into the convolution / fc weights `w`
 * ([out][rest]) and bias `b` (may be NULL: no bias before BN), writing
 * wf [out][rest] and bf [out].
 */
static int
fold_bn(const struct nn_model *m, const char *bn_prefix, const float *w,
    const float *b, int out, size_t rest, float *wf, float *bf,
    struct dt_error *err)
{
	char name[128];
	const float *g, *beta, *mu, *var;
	int o;
	size_t i;

	snprintf(name, sizeof(name), "%s.weight", bn_prefix);
	if ((g = tensor(m, name, (size_t)out, err)) == NULL)
		return -1;
	snprintf(name, sizeof(name), "%s.bias", bn_prefix);
	if ((beta = tensor(m, name, (size_t)out, err)) == NULL)
		return -1;
	snprintf(name, sizeof(name), "%s.running_mean", bn_prefix);
	if ((mu = tensor(m, name, (size_t)out, err)) == NULL)
		return -1;
	snprintf(name, sizeof(name), "%s.running_var", bn_prefix);
	if ((var = tensor(m, name, (size_t)out, err)) == NULL)
		return -1;
	for (o = 0; o < out; o++) {
		double s = (double)g[o] / sqrt((double)var[o] + BN_EPS);

		for (i = 0; i < rest; i++)
			wf[(size_t)o * rest + i] = (float)(w[(size_t)o * rest + i] * s);
		bf[o] = (float)(((b ? b[o] : 0.0) - mu[o]) * s + beta[o]);
	}
	return 0;
}

/*
 * Attributes shared by our weighted primitives: user scratchpad, and the
 * post-ops `sum` (accumulate onto dst: the residual) then ReLU.
 */
static int
make_attr(bool sum, bool relu, dnnl_primitive_attr_t *out,
    struct dt_error *err)
{
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;

	NN_TRY(dnnl_primitive_attr_create(&attr));
	NN_TRY(dnnl_primitive_attr_set_scratchpad_mode(attr,
	    dnnl_scratchpad_mode_user));
	NN_TRY(dnnl_post_ops_create(&po));
	if (sum)
		NN_TRY(dnnl_post_ops_append_sum(po, 1.0f));
	if (relu)
		NN_TRY(dnnl_post_ops_append_eltwise(po, 1.0f,
		    dnnl_eltwise_relu, 0.0f, 0.0f));
	NN_TRY(dnnl_primitive_attr_set_post_ops(attr, po));
	dnnl_post_ops_destroy(po);
	*out = attr;
	return 0;
fail:
	if (po)
		dnnl_post_ops_destroy(po);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return -1;
}

/*
 * make_attr plus per-output-channel output scales (int8 convolutions; the
 * scales are copied): oneDNN applies them to the s32 accumulator plus
 * bias, before the post-ops.
 */
static int
make_attr_q(bool sum, bool relu, int cout, const float *oscale,
    dnnl_primitive_attr_t *out, struct dt_error *err)
{
	if (make_attr(sum, relu, out, err) != 0)
		return -1;
	NN_TRY(dnnl_primitive_attr_set_output_scales(*out, cout, 1 << 1,
	    oscale));
	return 0;
fail:
	dnnl_primitive_attr_destroy(*out);
	*out = NULL;
	return -1;
}

/*
 * Finishes a convolution or inner product: reorders the (folded) weights
 * `w` (plain layout `*w_user`; through `wattr` when not NULL: int8) and bias
 * `b` into what *pd chose, creates the primitive (consuming *pd) and appends
 * its op, reading `src` into `dst`.
 */
static int
add_weighted_op(struct nn_net *net, dnnl_primitive_desc_t *pd,
    const float *w, const dnnl_memory_desc_t *w_user,
    const_dnnl_primitive_attr_t wattr, const float *b,
    const dnnl_memory_desc_t *b_md, dnnl_memory_t src, dnnl_memory_t dst,
    struct dt_error *err)
{
	const dnnl_memory_desc_t *w_md;
	dnnl_primitive_desc_t owned;
	dnnl_memory_t wmem, bmem;
	dnnl_primitive_t prim;
	struct op *op;

	w_md = dnnl_primitive_desc_query_md(*pd, dnnl_query_weights_md, 0);
	if (reorder_once(net, w, w_user, w_md, wattr, &wmem, err) != 0 ||
	    reorder_once(net, b, b_md, b_md, NULL, &bmem, err) != 0)
		return -1;
	owned = *pd;
	*pd = NULL;
	if (make_prim(net, owned, &prim, err) != 0)
		return -1;
	if ((op = new_op(net)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	op->prim = prim;
	op_arg(op, DNNL_ARG_SRC, src);
	op_arg(op, DNNL_ARG_WEIGHTS, wmem);
	op_arg(op, DNNL_ARG_BIAS, bmem);
	op_arg(op, DNNL_ARG_DST, dst);
	op_arg(op, DNNL_ARG_SCRATCHPAD, NULL);
	return 0;
}

/* ---- convolution ---------------------------------------------------------- */

struct conv_spec {
	int cin, cout, k, stride, pad, lin, lout;
	bool relu;		/* ReLU post-op */
	bool sum;		/* dst += result before the ReLU (residual) */
};

/*
 * Adds a convolution op with folded BN: `src` holds [batch][cin][lin] in layout
 * `*src_md`; the destination is either `*dst_io` (when sum is set: it already
 * holds the shortcut, in layout `*dst_md_io`) or a new buffer whose layout
 * oneDNN chooses (returned in *dst_io / *dst_md_io).
 */
static int
add_conv(struct nn_net *net, const struct nn_model *m, const char *wname,
    const char *bn_prefix, const struct conv_spec *cs, dnnl_memory_t src,
    const dnnl_memory_desc_t *src_md, dnnl_memory_t *dst_io,
    dnnl_memory_desc_t *dst_md_io, struct dt_error *err)
{
	dnnl_memory_desc_t s_any, w_any, w_user, b_md, d_any, s_md, d_md;
	dnnl_convolution_desc_t cd;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_memory_t src_use, dst;
	float *wf = NULL, *bf = NULL;
	const float *w;
	size_t rest = (size_t)cs->cin * cs->k;
	dnnl_dims_t sd = { net->batch, cs->cin, cs->lin };
	dnnl_dims_t wd = { cs->cout, cs->cin, cs->k };
	dnnl_dims_t bd = { cs->cout };
	dnnl_dims_t dd = { net->batch, cs->cout, cs->lout };
	dnnl_dims_t strides = { cs->stride };
	dnnl_dims_t pl = { cs->pad };
	/* right padding so that oneDNN's length equals PyTorch's floor formula */
	dnnl_dims_t pr = { (cs->lout - 1) * cs->stride + cs->k - cs->lin - cs->pad };
	int rc = -1;

	if (pr[0] < 0)
		pr[0] = 0;
	if ((w = tensor(m, wname, (size_t)cs->cout * rest, err)) == NULL)
		goto out;
	wf = malloc(sizeof(float) * (size_t)cs->cout * rest);
	bf = malloc(sizeof(float) * (size_t)cs->cout);
	if (wf == NULL || bf == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	if (fold_bn(m, bn_prefix, w, NULL, cs->cout, rest, wf, bf, err) != 0)
		goto out;

	NN_TRY(dnnl_memory_desc_init_by_tag(&s_any, 3, sd, dnnl_f32,
	    dnnl_format_tag_any));
	NN_TRY(dnnl_memory_desc_init_by_tag(&w_any, 3, wd, dnnl_f32,
	    dnnl_format_tag_any));
	NN_TRY(dnnl_memory_desc_init_by_tag(&w_user, 3, wd, dnnl_f32,
	    dnnl_oiw));
	NN_TRY(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x));
	if (cs->sum)
		d_any = *dst_md_io;
	else
		NN_TRY(dnnl_memory_desc_init_by_tag(&d_any, 3, dd, dnnl_f32,
		    dnnl_format_tag_any));
	NN_TRY(dnnl_convolution_forward_desc_init(&cd,
	    dnnl_forward_inference, dnnl_convolution_direct, &s_any, &w_any,
	    &b_md, &d_any, strides, pl, pr));
	if (make_attr(cs->sum, cs->relu, &attr, err) != 0)
		goto out;
	NN_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, net->engine, NULL));
	s_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
	d_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);

	if (ensure_layout(net, src, src_md, &s_md, &src_use, err) != 0)
		goto out;
	if (cs->sum)
		dst = *dst_io;
	else if (make_mem(net, &d_md, &dst, err) != 0)
		goto out;
	if (add_weighted_op(net, &pd, wf, &w_user, NULL, bf, &b_md, src_use,
	    dst, err) != 0)
		goto out;
	*dst_io = dst;
	*dst_md_io = d_md;
	rc = 0;
	goto out;
fail:
	rc = -1;
out:
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	free(wf);
	free(bf);
	return rc;
}

/*
 * An int8 convolution with folded BN (NN_PREC_INT8): src is u8 `nwc`, the
 * stage's activation quantized as q = x * s_in; the weights are quantized
 * to s8 per output channel (scale 127 / max |w| of the channel); the
 * destination is u8 `nwc` quantized with s_out when s_out > 0 (it feeds the
 * next convolution), else f32 `nwc` (when sum is set, *dst_io already holds
 * the shortcut).  oneDNN 2.x adds the bias to the accumulator before the
 * output scale, so the bias goes in at the accumulator's scale.
 */
static int
add_conv_q(struct nn_net *net, const struct nn_model *m, const char *wname,
    const char *bn_prefix, const struct conv_spec *cs, dnnl_memory_t src,
    float s_in, float s_out, dnnl_memory_t *dst_io, struct dt_error *err)
{
	dnnl_memory_desc_t s_md, w_any, w_user, b_md, d_md;
	dnnl_convolution_desc_t cd;
	dnnl_primitive_attr_t attr = NULL, wattr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_memory_t dst;
	float *wf = NULL, *bf = NULL, *sw = NULL, *os = NULL;
	const float *w;
	size_t rest = (size_t)cs->cin * cs->k, i;
	dnnl_dims_t sd = { net->batch, cs->cin, cs->lin };
	dnnl_dims_t wd = { cs->cout, cs->cin, cs->k };
	dnnl_dims_t bd = { cs->cout };
	dnnl_dims_t dd = { net->batch, cs->cout, cs->lout };
	dnnl_dims_t strides = { cs->stride };
	dnnl_dims_t pl = { cs->pad };
	dnnl_dims_t pr = { (cs->lout - 1) * cs->stride + cs->k - cs->lin - cs->pad };
	int o, rc = -1;

	if (pr[0] < 0)
		pr[0] = 0;
	if ((w = tensor(m, wname, (size_t)cs->cout * rest, err)) == NULL)
		goto out;
	wf = malloc(sizeof(float) * (size_t)cs->cout * rest);
	bf = malloc(sizeof(float) * (size_t)cs->cout);
	sw = malloc(sizeof(float) * (size_t)cs->cout);
	os = malloc(sizeof(float) * (size_t)cs->cout);
	if (wf == NULL || bf == NULL || sw == NULL || os == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	if (fold_bn(m, bn_prefix, w, NULL, cs->cout, rest, wf, bf, err) != 0)
		goto out;
	for (o = 0; o < cs->cout; o++) {
		float mx = 0.0f;

		for (i = 0; i < rest; i++)
			mx = fmaxf(mx, fabsf(wf[(size_t)o * rest + i]));
		sw[o] = mx > 0.0f ? 127.0f / mx : 1.0f;
		os[o] = (s_out > 0.0f ? s_out : 1.0f) / (s_in * sw[o]);
		bf[o] *= s_in * sw[o];
	}

	NN_TRY(dnnl_memory_desc_init_by_tag(&s_md, 3, sd, dnnl_u8, dnnl_nwc));
	NN_TRY(dnnl_memory_desc_init_by_tag(&w_any, 3, wd, dnnl_s8,
	    dnnl_format_tag_any));
	NN_TRY(dnnl_memory_desc_init_by_tag(&w_user, 3, wd, dnnl_f32,
	    dnnl_oiw));
	NN_TRY(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x));
	NN_TRY(dnnl_memory_desc_init_by_tag(&d_md, 3, dd,
	    s_out > 0.0f ? dnnl_u8 : dnnl_f32, dnnl_nwc));
	NN_TRY(dnnl_convolution_forward_desc_init(&cd,
	    dnnl_forward_inference, dnnl_convolution_direct, &s_md, &w_any,
	    &b_md, &d_md, strides, pl, pr));
	if (make_attr_q(cs->sum, cs->relu, cs->cout, os, &attr, err) != 0)
		goto out;
	NN_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, net->engine, NULL));
	NN_TRY(dnnl_primitive_attr_create(&wattr));
	NN_TRY(dnnl_primitive_attr_set_output_scales(wattr, cs->cout, 1 << 0,
	    sw));
	if (cs->sum)
		dst = *dst_io;
	else if (make_mem(net, &d_md, &dst, err) != 0)
		goto out;
	if (add_weighted_op(net, &pd, wf, &w_user, wattr, bf, &b_md, src,
	    dst, err) != 0)
		goto out;
	*dst_io = dst;
	rc = 0;
	goto out;
fail:
	rc = -1;
out:
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	if (wattr)
		dnnl_primitive_attr_destroy(wattr);
	free(wf);
	free(bf);
	free(sw);
	free(os);
	return rc;
}

/* ---- our own loops --------------------------------------------------------- */

static inline float
sigmoidf(float z)
{
	return 1.0f / (1.0f + expf(-z));
}

NN_HOT static void
sca_one(const struct sca *s, float *x, float *work)
{
	const int C = s->ch, L = s->len, H = s->hidden, P = s->kq / 2;
	float *avg = work, *mx = avg + C, *att = mx + C, *o = att + C;
	float *h = o + C, *s0 = h + 2 * H, *s1 = s0 + L, *mt = s1 + L;
	int c, t, j, k;

	/* channel part: pool over time */
	for (c = 0; c < C; c++) {
		avg[c] = 0.0f;
		mx[c] = -INFINITY;
	}
	for (t = 0; t < L; t++) {
		const float *row = x + (size_t)t * C;

#pragma omp simd
		for (c = 0; c < C; c++) {
			avg[c] += row[c];
			mx[c] = row[c] > mx[c] ? row[c] : mx[c];
		}
	}
	for (c = 0; c < C; c++)
		avg[c] /= (float)L;
	/* shared MLP on both: fc2(relu(fc1 avg)) + fc2(relu(fc1 max)) */
	for (j = 0; j < H; j++) {
		const float *wr = s->fc1_w + (size_t)j * C;
		float za = s->fc1_b[j], zm = s->fc1_b[j];

#pragma omp simd reduction(+ : za, zm)
		for (c = 0; c < C; c++) {
			za += wr[c] * avg[c];
			zm += wr[c] * mx[c];
		}
		h[j] = (za > 0.0f ? za : 0.0f) + (zm > 0.0f ? zm : 0.0f);
	}
	for (c = 0; c < C; c++) {
		const float *wr = s->fc2_w + (size_t)c * H;
		float z = 2.0f * s->fc2_b[c];

#pragma omp simd reduction(+ : z)
		for (j = 0; j < H; j++)
			z += wr[j] * h[j];
		att[c] = sigmoidf(z);
	}
	/* apply, and pool over channels for the sequence part */
	for (t = 0; t < L; t++) {
		float *row = x + (size_t)t * C;
		float sum = 0.0f, m = -INFINITY;

#pragma omp simd reduction(+ : sum) reduction(max : m)
		for (c = 0; c < C; c++) {
			float v = row[c] * att[c];

			row[c] = v;
			sum += v;
			m = v > m ? v : m;
		}
		s0[t] = sum / (float)C;
		s1[t] = m;
	}
	/* sequence part: conv(2 -> 1, kq, pad kq/2) + sigmoid */
	for (t = 0; t < L; t++) {
		float z = s->seq_b;

		for (k = 0; k < s->kq; k++) {
			int u = t + k - P;

			if (u < 0 || u >= L)
				continue;
			z += s->seq_w[0][k] * s0[u] + s->seq_w[1][k] * s1[u];
		}
		mt[t] = sigmoidf(z);
	}
	for (t = 0; t < L; t++) {
		float *row = x + (size_t)t * C;
		const float g = mt[t];

#pragma omp simd
		for (c = 0; c < C; c++)
			row[c] *= g;
	}
}

static void
sca_run(struct nn_net *net, void *ctx)
{
	struct sca *s = ctx;
	const size_t per = (size_t)s->len * s->ch;
	const size_t wsz = (size_t)4 * s->ch + 2 * s->hidden + 3 * s->len;
	int n;

	(void)net;
#pragma omp parallel for if (s->batch > 1) num_threads(s->nthreads) schedule(static)
	for (n = 0; n < s->batch; n++)
		sca_one(s, s->x + (size_t)n * per,
		    s->work + (size_t)omp_get_thread_num() * wsz);
}

NN_HOT static void
gap_run(struct nn_net *net, void *ctx)
{
	struct gap *g = ctx;
	int n, t, c;

	(void)net;
	for (n = 0; n < g->batch; n++) {
		float *f = g->f + (size_t)n * g->ch;
		const float *x = g->x + (size_t)n * g->len * g->ch;

		for (c = 0; c < g->ch; c++)
			f[c] = 0.0f;
		for (t = 0; t < g->len; t++)
			for (c = 0; c < g->ch; c++)
				f[c] += x[(size_t)t * g->ch + c];
		for (c = 0; c < g->ch; c++)
			f[c] /= (float)g->len;
	}
}

/* f32 -> u8, q = round(x * s) clamped to [0, 255] (x is after a ReLU). */
struct quant {
	const float *x;
	uint8_t *q;
	size_t n;
	float s;
};

NN_HOT static void
quant_run(struct nn_net *net, void *ctx)
{
	const struct quant *qc = ctx;
	const float *x = qc->x;
	uint8_t *q = qc->q;
	const float s = qc->s;
	size_t i;

	(void)net;
	/* through int32: a float -> uint8 conversion does not vectorise */
#pragma omp simd
	for (i = 0; i < qc->n; i++) {
		float v = x[i] * s + 0.5f;

		v = v < 0.0f ? 0.0f : v;
		v = v > 255.0f ? 255.0f : v;
		q[i] = (uint8_t)(int32_t)v;
	}
}

static int
add_quant(struct nn_net *net, const float *x, size_t n, float s,
    dnnl_memory_t q, struct dt_error *err)
{
	struct quant *qc;
	struct op *op;

	if ((qc = calloc(1, sizeof(*qc))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	if (keep_ctx(net, qc, free) != 0) {
		free(qc);
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	*qc = (struct quant){ .x = x, .q = (uint8_t *)mem_ptr(q), .n = n,
		.s = s };
	if ((op = new_op(net)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	op->fn = quant_run;
	op->ctx = qc;
	return 0;
}

static void
sca_free(void *p)
{
	struct sca *s = p;

	if (s == NULL)
		return;
	free(s->fc1_w);
	free(s->fc1_b);
	free(s->fc2_w);
	free(s->fc2_b);
	free(s->work);
	free(s);
}

static int
add_sca(struct nn_net *net, const struct nn_model *m, int stage, float *x,
    int ch, int len, struct dt_error *err)
{
	struct sca *s;
	struct op *op;
	char name[128];
	const float *p;
	const int H = ch / net->hp.sca_reduction, kq = net->hp.seq_kernel;
	int k;

	if (kq > 63)
		return dt_error_set(err, DT_E_UNSUPPORTED,
		    "seq_kernel %d: at most 63 is supported", kq);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	if (keep_ctx(net, s, sca_free) != 0) {
		free(s);
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	s->x = x;
	s->batch = net->batch;
	s->len = len;
	s->ch = ch;
	s->hidden = H;
	s->kq = kq;
	s->nthreads = omp_get_max_threads();
	s->fc1_w = malloc(sizeof(float) * (size_t)H * ch);
	s->fc1_b = malloc(sizeof(float) * (size_t)H);
	s->fc2_w = malloc(sizeof(float) * (size_t)ch * H);
	s->fc2_b = malloc(sizeof(float) * (size_t)ch);
	s->work = malloc(sizeof(float) * (size_t)s->nthreads *
	    ((size_t)4 * ch + 2 * H + 3 * len));
	if (!s->fc1_w || !s->fc1_b || !s->fc2_w || !s->fc2_b || !s->work)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");

#define COPY_T(dst, suffix, count)                                          \
	do {                                                                \
		snprintf(name, sizeof(name), "stages.%d.sca.%s", stage, suffix); \
		if ((p = tensor(m, name, (size_t)(count), err)) == NULL)    \
			return -1;                                          \
		memcpy((dst), p, sizeof(float) * (size_t)(count));          \
	} while (0)
	COPY_T(s->fc1_w, "fc1.weight", H * ch);
	COPY_T(s->fc1_b, "fc1.bias", H);
	COPY_T(s->fc2_w, "fc2.weight", ch * H);
	COPY_T(s->fc2_b, "fc2.bias", ch);
	COPY_T(&s->seq_b, "seq.bias", 1);
#undef COPY_T
	snprintf(name, sizeof(name), "stages.%d.sca.seq.weight", stage);
	if ((p = tensor(m, name, (size_t)2 * kq, err)) == NULL)
		return -1;
	for (k = 0; k < kq; k++) {
		s->seq_w[0][k] = p[k];
		s->seq_w[1][k] = p[kq + k];
	}
	if ((op = new_op(net)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	op->fn = sca_run;
	op->ctx = s;
	return 0;
}

/*
 * The stem in one pass: conv(1 -> C0, kernel Ks, pad Ks/2) with BN folded,
 * ReLU, max-pool(2, 2), written channels-last.  Our own loop rather than
 * oneDNN's: 2.6.3 has no JIT kernel for a one-input-channel 1D convolution on
 * AVX2 (it falls back to gemm, 0.34 ms a window, or to ref:any, 22 ms) and
 * then pools a plain layout with its reference kernel (0.6 ms); this loop does
 * all four steps for a 512-sample window in a few tens of microseconds.
 */
struct stem {
	const float *xp;	/* [batch][window + ks - 1], zero-padded input */
	float *y;		/* [batch][window / 2][c0] */
	int batch, window, ks, c0;
	float *wt;		/* [ks][c0]: transposed, BN folded */
	float *b;		/* [c0] */
	int nthreads;
};

typedef float stem_v8 __attribute__((vector_size(32)));
typedef int stem_v8i __attribute__((vector_size(32)));

/* out = max(max(a, b), 0) lane-wise, without leaving vector registers (a
 * macro: a function taking 32-byte vectors would change the ABI by ISA) */
#define POOL_RELU(out, a, b)                                                \
	do {                                                                \
		const stem_v8 zero_ = { 0 };                                \
		stem_v8i m_ = (a) > (b);                                    \
		stem_v8 v_ = (stem_v8)(((stem_v8i)(a) & m_) |               \
		    ((stem_v8i)(b) & ~m_));                                 \
		(out) = (stem_v8)((stem_v8i)v_ & (v_ > zero_));             \
	} while (0)

/* One pooled output t, channels [c0, c1): the plain loop, for the tails. */
static void
stem_plain(const struct stem *st, const float *x, float *y, int t, int c0,
    int c1)
{
	const int C = st->c0;
	int c, k;

	for (c = c0; c < c1; c++) {
		float a0 = st->b[c], a1 = st->b[c], v;

		for (k = 0; k < st->ks; k++) {
			a0 += x[2 * t + k] * st->wt[(size_t)k * C + c];
			a1 += x[2 * t + k + 1] * st->wt[(size_t)k * C + c];
		}
		v = a0 > a1 ? a0 : a1;
		y[(size_t)t * C + c] = v > 0.0f ? v : 0.0f;
	}
}

/*
 * x is the zero-padded window (x[i] = in[i - Ks/2]); y is [window/2][C].
 * Blocks of 8 channels x 8 positions (4 pooled outputs) keep 8 accumulators
 * in vector registers and load each weight vector once per kernel tap.
 */
NN_HOT static void
stem_one(const struct stem *st, const float *x, float *y)
{
	const int C = st->c0, K = st->ks, Lp = st->window / 2;
	const int cb = C / 8 * 8, tb = Lp / 4 * 4;
	int t, c0, k, p;

	for (t = 0; t < tb; t += 4) {
		for (c0 = 0; c0 < cb; c0 += 8) {
			stem_v8 w, r0, r1, r2, r3, r4, r5, r6, r7;

			/* eight named accumulators: GCC keeps them in registers */
			memcpy(&r0, st->b + c0, sizeof(r0));
			r1 = r2 = r3 = r4 = r5 = r6 = r7 = r0;
			for (k = 0; k < K; k++) {
				const float *xk = x + 2 * t + k;

				memcpy(&w, st->wt + (size_t)k * C + c0, sizeof(w));
				r0 += xk[0] * w;
				r1 += xk[1] * w;
				r2 += xk[2] * w;
				r3 += xk[3] * w;
				r4 += xk[4] * w;
				r5 += xk[5] * w;
				r6 += xk[6] * w;
				r7 += xk[7] * w;
			}
			POOL_RELU(r0, r0, r1);
			POOL_RELU(r2, r2, r3);
			POOL_RELU(r4, r4, r5);
			POOL_RELU(r6, r6, r7);
			memcpy(y + (size_t)(t + 0) * C + c0, &r0, sizeof(r0));
			memcpy(y + (size_t)(t + 1) * C + c0, &r2, sizeof(r2));
			memcpy(y + (size_t)(t + 2) * C + c0, &r4, sizeof(r4));
			memcpy(y + (size_t)(t + 3) * C + c0, &r6, sizeof(r6));
		}
		for (p = 0; p < 4 && cb < C; p++)
			stem_plain(st, x, y, t + p, cb, C);
	}
	for (t = tb; t < Lp; t++)
		stem_plain(st, x, y, t, 0, C);
}

static void
stem_run(struct nn_net *net, void *ctx)
{
	struct stem *st = ctx;
	const size_t in_stride = (size_t)st->window + st->ks - 1;
	const size_t out_stride = (size_t)(st->window / 2) * st->c0;
	int n;

	(void)net;
#pragma omp parallel for if (st->batch > 1) num_threads(st->nthreads) schedule(static)
	for (n = 0; n < st->batch; n++)
		stem_one(st, st->xp + (size_t)n * in_stride,
		    st->y + (size_t)n * out_stride);
}

static void
stem_free(void *p)
{
	struct stem *st = p;

	if (st == NULL)
		return;
	free(st->wt);
	free(st->b);
	free(st);
}

static int
add_stem(struct nn_net *net, const struct nn_model *m, float *y,
    struct dt_error *err)
{
	const int C = net->hp.stem_channels, K = net->hp.stem_kernel;
	struct stem *st;
	struct op *op;
	const float *w;
	float *wf = NULL;
	int c, k, rc = -1;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	if (keep_ctx(net, st, stem_free) != 0) {
		free(st);
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	st->batch = net->batch;
	st->window = net->hp.window;
	st->ks = K;
	st->c0 = C;
	st->y = y;
	st->xp = net->in;
	st->nthreads = omp_get_max_threads();
	st->wt = malloc(sizeof(float) * (size_t)K * C);
	st->b = malloc(sizeof(float) * (size_t)C);
	wf = malloc(sizeof(float) * (size_t)K * C);
	if (st->wt == NULL || st->b == NULL || wf == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	if ((w = tensor(m, "stem.conv.weight", (size_t)C * K, err)) == NULL ||
	    fold_bn(m, "stem.bn", w, NULL, C, (size_t)K, wf, st->b, err) != 0)
		goto out;
	for (c = 0; c < C; c++)
		for (k = 0; k < K; k++)
			st->wt[(size_t)k * C + c] = wf[(size_t)c * K + k];
	if ((op = new_op(net)) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	op->fn = stem_run;
	op->ctx = st;
	rc = 0;
out:
	free(wf);
	return rc;
}

/* ---- heads ----------------------------------------------------------------- */

/*
 * Inner product [batch][in] -> [batch][out] with optional ReLU; weights
 * ([out][in]) and bias are given already folded.  src and dst are plain `nc`.
 */
static int
add_fc(struct nn_net *net, int in, int out, const float *w, const float *b,
    bool relu, dnnl_memory_t src, dnnl_memory_t *dst_out,
    struct dt_error *err)
{
	dnnl_memory_desc_t s_md, w_any, w_user, b_md, d_md;
	dnnl_inner_product_desc_t ipd;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_memory_t dst;
	dnnl_dims_t sd = { net->batch, in }, wd = { out, in }, bd = { out };
	dnnl_dims_t dd = { net->batch, out };
	int rc = -1;

	if (md_plain(&s_md, 2, sd, dnnl_nc, err) != 0 ||
	    md_plain(&w_user, 2, wd, dnnl_oi, err) != 0 ||
	    md_plain(&b_md, 1, bd, dnnl_x, err) != 0 ||
	    md_plain(&d_md, 2, dd, dnnl_nc, err) != 0 ||
	    md_plain(&w_any, 2, wd, dnnl_format_tag_any, err) != 0)
		goto out;
	NN_TRY(dnnl_inner_product_forward_desc_init(&ipd,
	    dnnl_forward_inference, &s_md, &w_any, &b_md, &d_md));
	if (make_attr(false, relu, &attr, err) != 0)
		goto out;
	NN_TRY(dnnl_primitive_desc_create(&pd, &ipd, attr, net->engine, NULL));
	if (make_mem(net, &d_md, &dst, err) != 0 ||
	    add_weighted_op(net, &pd, w, &w_user, NULL, b, &b_md, src, dst,
	    err) != 0)
		goto out;
	*dst_out = dst;
	rc = 0;
	goto out;
fail:
	rc = -1;
out:
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return rc;
}

static int
add_heads(struct nn_net *net, const struct nn_model *m, dnnl_memory_t f,
    int C, struct dt_error *err)
{
	const int E = net->hp.embedding_dim, Hd = net->hp.act_hidden;
	const int A = net->n_act;
	const float *w, *b;
	float *wf = NULL, *bf = NULL;
	dnnl_memory_t e_mem, h_mem, a_mem;
	int rc = -1;

	/* identity: BN_e(fc(f)), BN folded into the fc */
	if ((w = tensor(m, "id_head.fc.weight", (size_t)E * C, err)) == NULL ||
	    (b = tensor(m, "id_head.fc.bias", (size_t)E, err)) == NULL)
		goto out;
	wf = malloc(sizeof(float) * (size_t)E * C);
	bf = malloc(sizeof(float) * (size_t)E);
	if (wf == NULL || bf == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	if (fold_bn(m, "id_head.bn", w, b, E, (size_t)C, wf, bf, err) != 0 ||
	    add_fc(net, C, E, wf, bf, false, f, &e_mem, err) != 0)
		goto out;
	net->emb = mem_ptr(e_mem);

	/* activity: fc2(relu(fc1(f))); dropout is the identity at inference */
	if ((w = tensor(m, "act_head.fc1.weight", (size_t)Hd * C, err)) == NULL ||
	    (b = tensor(m, "act_head.fc1.bias", (size_t)Hd, err)) == NULL ||
	    add_fc(net, C, Hd, w, b, true, f, &h_mem, err) != 0)
		goto out;
	if ((w = tensor(m, "act_head.fc2.weight", (size_t)A * Hd, err)) == NULL ||
	    (b = tensor(m, "act_head.fc2.bias", (size_t)A, err)) == NULL ||
	    add_fc(net, Hd, A, w, b, false, h_mem, &a_mem, err) != 0)
		goto out;
	net->act_logits = mem_ptr(a_mem);
	rc = 0;
out:
	free(wf);
	free(bf);
	return rc;
}

/* ---- build ----------------------------------------------------------------- */

/* Creates the shared scratchpad and binds it to every op that takes one. */
static int
bind_scratchpad(struct nn_net *net, struct dt_error *err)
{
	dnnl_memory_desc_t smd;
	dnnl_memory_t mem;
	dnnl_dims_t sz = { (dnnl_dim_t)(net->scratch_size ? net->scratch_size : 1) };
	int i, j;

	NN_TRY(dnnl_memory_desc_init_by_tag(&smd, 1, sz, dnnl_u8, dnnl_x));
	if (make_mem(net, &smd, &mem, err) != 0)
		return -1;
	for (i = 0; i < net->n_ops; i++)
		for (j = 0; j < net->ops[i].nargs; j++)
			if (net->ops[i].args[j].arg == DNNL_ARG_SCRATCHPAD)
				net->ops[i].args[j].memory = mem;
	return 0;
fail:
	return -1;
}

/*
 * Stage i at int8: x (f32 nwc [batch][cin][L], after a ReLU) quantized to
 * u8 once for both convolutions that read it; the shortcut and conv2 write
 * f32 nwc, conv1 writes u8 straight into conv2's input; SCA as at f32.
 */
static int
add_stage_q(struct nn_net *net, const struct nn_model *m, int i, int cin,
    int L, dnnl_memory_t x, dnnl_memory_t *out, struct dt_error *err)
{
	const struct nn_hparams *hp = &net->hp;
	const int C = hp->stage_channels[i], Lo = (L - 1) / 2 + 1;
	const float s_x = 255.0f / net->amax[2 * i];
	const float s_y = 255.0f / net->amax[2 * i + 1];
	dnnl_dims_t xd = { net->batch, cin, L }, yd = { net->batch, C, Lo };
	dnnl_memory_desc_t xq_md, yq_md, sc_md;
	dnnl_memory_t xq, yq, sc;
	struct conv_spec cs;
	char w[64], b[64];

	NN_TRY(dnnl_memory_desc_init_by_tag(&xq_md, 3, xd, dnnl_u8, dnnl_nwc));
	NN_TRY(dnnl_memory_desc_init_by_tag(&yq_md, 3, yd, dnnl_u8, dnnl_nwc));
	NN_TRY(dnnl_memory_desc_init_by_tag(&sc_md, 3, yd, dnnl_f32, dnnl_nwc));
	if (make_mem(net, &xq_md, &xq, err) != 0 ||
	    make_mem(net, &yq_md, &yq, err) != 0 ||
	    make_mem(net, &sc_md, &sc, err) != 0 ||
	    add_quant(net, mem_ptr(x), (size_t)net->batch * cin * L, s_x, xq,
	    err) != 0)
		return -1;

	snprintf(w, sizeof(w), "stages.%d.down.conv.weight", i);
	snprintf(b, sizeof(b), "stages.%d.down.bn", i);
	cs = (struct conv_spec){ .cin = cin, .cout = C, .k = 1, .stride = 2,
		.pad = 0, .lin = L, .lout = Lo };
	if (add_conv_q(net, m, w, b, &cs, xq, s_x, 0.0f, &sc, err) != 0)
		return -1;
	snprintf(w, sizeof(w), "stages.%d.conv1.weight", i);
	snprintf(b, sizeof(b), "stages.%d.bn1", i);
	cs = (struct conv_spec){ .cin = cin, .cout = C, .k = hp->kernel,
		.stride = 2, .pad = hp->kernel / 2, .lin = L, .lout = Lo,
		.relu = true };
	if (add_conv_q(net, m, w, b, &cs, xq, s_x, s_y, &yq, err) != 0)
		return -1;
	snprintf(w, sizeof(w), "stages.%d.conv2.weight", i);
	snprintf(b, sizeof(b), "stages.%d.bn2", i);
	cs = (struct conv_spec){ .cin = C, .cout = C, .k = hp->kernel,
		.stride = 1, .pad = hp->kernel / 2, .lin = Lo, .lout = Lo,
		.relu = true, .sum = true };
	if (add_conv_q(net, m, w, b, &cs, yq, s_y, 0.0f, &sc, err) != 0 ||
	    add_sca(net, m, i, mem_ptr(sc), C, Lo, err) != 0)
		return -1;
	*out = sc;
	return 0;
fail:
	return -1;
}

int
nn_int8_calibration(const struct nn_model *m, float *amax,
    struct dt_error *err)
{
	const char *v = nn_model_meta(m, NN_INT8_META_KEY), *p;
	const int want = 2 * m->hp.n_stages;
	char *end;
	int j;

	if (v == NULL)
		return dt_error_set(err, DT_E_UNSUPPORTED, "int8: the model "
		    "has no calibration (metadata %s; see dt4ecg-admin "
		    "quantize)", NN_INT8_META_KEY);
	for (p = v, j = 0; j < want; j++) {
		double d = strtod(p, &end);

		if (end == p || !(d > 0.0) || !isfinite(d) || d > 1e30)
			break;
		amax[j] = (float)d;
		p = end;
		if (j + 1 < want) {
			if (*p != ',')
				break;
			p++;
		}
	}
	if (j < want || *p != '\0')
		return dt_error_set(err, DT_E_FORMAT, "int8: metadata %s "
		    "\"%.64s\": %d positive numbers separated by commas "
		    "expected", NN_INT8_META_KEY, v, want);
	return 0;
}

static int
build(struct nn_net *net, const struct nn_model *m, struct dt_error *err)
{
	const struct nn_hparams *hp = &net->hp;
	dnnl_memory_desc_t x_md, sc_md, y_md, nwc_md, pool_md, f_md;
	dnnl_memory_t x, sc, y, xn, f_mem, pooled;
	struct conv_spec cs;
	struct op *op;
	struct gap *g;
	int L, cin, i;
	char w1[64], b1[64], w2[64], b2[64], wd[64], bd[64];
	dnnl_dims_t f_dims;

	/* stem: conv + BN + ReLU + max-pool(2, 2), fused, into `nwc` */
	L = hp->window / 2;
	{
		dnnl_dims_t pdims = { net->batch, hp->stem_channels, L };

		if (md_plain(&pool_md, 3, pdims, dnnl_nwc, err) != 0 ||
		    make_mem(net, &pool_md, &pooled, err) != 0 ||
		    add_stem(net, m, mem_ptr(pooled), err) != 0)
			return -1;
	}
	x = pooled;
	x_md = pool_md;
	cin = hp->stem_channels;

	for (i = 0; i < hp->n_stages; i++) {
		const int C = hp->stage_channels[i];
		const int Lo = (L - 1) / 2 + 1;	/* PyTorch, stride 2, pad k/2 */
		dnnl_dims_t nd = { net->batch, C, Lo };

		snprintf(w1, sizeof(w1), "stages.%d.conv1.weight", i);
		snprintf(b1, sizeof(b1), "stages.%d.bn1", i);
		snprintf(w2, sizeof(w2), "stages.%d.conv2.weight", i);
		snprintf(b2, sizeof(b2), "stages.%d.bn2", i);
		snprintf(wd, sizeof(wd), "stages.%d.down.conv.weight", i);
		snprintf(bd, sizeof(bd), "stages.%d.down.bn", i);

		if (net->prec == NN_PREC_INT8) {
			/* x_md is not used on this path: all of it is nwc */
			if (add_stage_q(net, m, i, cin, L, x, &x, err) != 0)
				return -1;
			L = Lo;
			cin = C;
			continue;
		}
		net->cal[2 * i] = x;
		/* shortcut first: conv2 accumulates onto it */
		cs = (struct conv_spec){ .cin = cin, .cout = C, .k = 1,
			.stride = 2, .pad = 0, .lin = L, .lout = Lo };
		if (add_conv(net, m, wd, bd, &cs, x, &x_md, &sc, &sc_md,
		    err) != 0)
			return -1;
		cs = (struct conv_spec){ .cin = cin, .cout = C, .k = hp->kernel,
			.stride = 2, .pad = hp->kernel / 2, .lin = L, .lout = Lo,
			.relu = true };
		if (add_conv(net, m, w1, b1, &cs, x, &x_md, &y, &y_md, err) != 0)
			return -1;
		net->cal[2 * i + 1] = y;
		cs = (struct conv_spec){ .cin = C, .cout = C, .k = hp->kernel,
			.stride = 1, .pad = hp->kernel / 2, .lin = Lo, .lout = Lo,
			.relu = true, .sum = true };
		if (add_conv(net, m, w2, b2, &cs, y, &y_md, &sc, &sc_md,
		    err) != 0)
			return -1;
		/* SCA runs on nwc */
		if (md_plain(&nwc_md, 3, nd, dnnl_nwc, err) != 0 ||
		    ensure_layout(net, sc, &sc_md, &nwc_md, &xn, err) != 0 ||
		    add_sca(net, m, i, mem_ptr(xn), C, Lo, err) != 0)
			return -1;
		x = xn;
		x_md = nwc_md;
		L = Lo;
		cin = C;
	}

	/* global average pool over time -> f [batch][C] */
	f_dims[0] = net->batch;
	f_dims[1] = cin;
	if (md_plain(&f_md, 2, f_dims, dnnl_nc, err) != 0 ||
	    make_mem(net, &f_md, &f_mem, err) != 0)
		return -1;
	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    keep_ctx(net, g, free) != 0) {
		free(g);
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	*g = (struct gap){ .x = mem_ptr(x), .f = mem_ptr(f_mem),
		.batch = net->batch, .len = L, .ch = cin };
	if ((op = new_op(net)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	op->fn = gap_run;
	op->ctx = g;

	if (add_heads(net, m, f_mem, cin, err) != 0)
		return -1;

	if (bind_scratchpad(net, err) != 0)
		return -1;
	return 0;
}

static enum nn_precision default_prec = NN_PREC_F32;

/*
 * Windows the ops run at once: a larger batch runs in chunks of this many.
 * At f32, chunks of 8 keep a layer's activations in the core's L2 cache for
 * the next (batch 64: ~4 % more windows per CPU-second than one chunk of 64,
 * AVX-512, measured alternating); at int8, whose activations are a quarter
 * the size, one chunk is as fast.  DT4ECG_NET_CHUNK overrides it, for
 * measuring.
 */
static int
chunk_size(enum nn_precision prec)
{
	const char *e = getenv("DT4ECG_NET_CHUNK");
	int v = e ? atoi(e) : 0;

	if (v >= 1 && v <= 65536)
		return v;
	return prec == NN_PREC_F32 ? 8 : 65536;
}

void
nn_set_precision(enum nn_precision p)
{
	default_prec = p;
}

enum nn_precision
nn_get_precision(void)
{
	return default_prec;
}

const char *
nn_precision_name(enum nn_precision p)
{
	return p == NN_PREC_INT8 ? "int8" : "f32";
}

int
nn_precision_parse(const char *s, enum nn_precision *out,
    struct dt_error *err)
{
	if (strcmp(s, "f32") == 0)
		*out = NN_PREC_F32;
	else if (strcmp(s, "int8") == 0)
		*out = NN_PREC_INT8;
	else
		return dt_error_set(err, DT_E_INVALID, "precision \"%.32s\": "
		    "f32 or int8", s);
	return 0;
}

int
nn_net_create(const struct nn_model *m, int batch, struct nn_net **out,
    struct dt_error *err)
{
	return nn_net_create_prec(m, batch, nn_model_precision(m), out, err);
}

enum nn_precision
nn_model_precision(const struct nn_model *m)
{
	if (default_prec == NN_PREC_INT8 && m != NULL &&
	    nn_model_meta(m, NN_INT8_META_KEY) == NULL)
		return NN_PREC_F32;
	return default_prec;
}

int
nn_net_calibrate(struct nn_net *net, float *amax, struct dt_error *err)
{
	if (net->prec != NN_PREC_F32)
		return dt_error_set(err, DT_E_INVALID,
		    "int8 calibration runs on an f32 network");
	net->calib = amax;
	return 0;
}

/* Raises net->calib[] to the maxima of the buffers of net->cal[]. */
static int
calib_update(struct nn_net *net, struct dt_error *err)
{
	float *amax = net->calib;
	int j;

	for (j = 0; j < 2 * net->hp.n_stages; j++) {
		const dnnl_memory_desc_t *md;
		const float *p = mem_ptr(net->cal[j]);
		size_t n, i;

		if (p == NULL || dnnl_memory_get_memory_desc(net->cal[j],
		    &md) != dnnl_success)
			return dt_error_set(err, DT_E_INTERNAL,
			    "oneDNN: calibration buffer %d", j);
		n = dnnl_memory_desc_get_size(md) / sizeof(float);
		for (i = 0; i < n; i++)
			amax[j] = p[i] > amax[j] ? p[i] : amax[j];
	}
	return 0;
}

int
nn_net_create_prec(const struct nn_model *m, int batch,
    enum nn_precision prec, struct nn_net **out, struct dt_error *err)
{
	struct nn_net *net;

	if (m == NULL || batch < 1 || batch > 65536)
		return dt_error_set(err, DT_E_INVALID,
		    "network: batch %d outside 1..65536", batch);
	if (nn_hparams_check(&m->hp, err) != 0)
		return -1;
	if (m->n_activities < 1)
		return dt_error_set(err, DT_E_FORMAT,
		    "model has no activities");
	if ((net = calloc(1, sizeof(*net))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	net->hp = m->hp;
	net->cap = batch;
	net->batch = batch < chunk_size(prec) ? batch : chunk_size(prec);
	net->emb_dim = m->hp.embedding_dim;
	net->n_act = m->n_activities;
	net->prec = prec;
	if (prec == NN_PREC_INT8 && nn_int8_calibration(m, net->amax,
	    err) != 0)
		goto fail;
	NN_TRY(dnnl_engine_create(&net->engine, dnnl_cpu, 0));
	NN_TRY(dnnl_stream_create(&net->stream, net->engine,
	    dnnl_stream_default_flags));
	net->in = calloc((size_t)net->batch * (m->hp.window +
	    m->hp.stem_kernel - 1), sizeof(float));
	if (net->in == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto fail;
	}
	if (build(net, m, err) != 0)
		goto fail;
	*out = net;
	return 0;
fail:
	nn_net_free(net);
	return -1;
}

/* Runs the ops on windows [0, n) of `windows` (n <= net->batch). */
static int
run_chunk(struct nn_net *net, const float *windows, int n, float *emb,
    float *act, struct dt_error *err)
{
	const int W = net->hp.window, E = net->emb_dim, A = net->n_act;
	int i, j;

	{
		const size_t stride = (size_t)W + net->hp.stem_kernel - 1;
		const int pad = net->hp.stem_kernel / 2;

		/* the pads around each window stay zero from nn_net_create */
		for (i = 0; i < n; i++)
			memcpy(net->in + i * stride + pad,
			    windows + (size_t)i * W, sizeof(float) * W);
		if (n < net->batch)
			for (i = n; i < net->batch; i++)
				memset(net->in + i * stride + pad, 0,
				    sizeof(float) * W);
	}
	for (i = 0; i < net->n_ops; i++) {
		struct op *op = &net->ops[i];

		if (op->prim) {
			NN_TRY(dnnl_primitive_execute(op->prim, net->stream,
			    op->nargs, op->args));
		} else {
			op->fn(net, op->ctx);
		}
	}
	NN_TRY(dnnl_stream_wait(net->stream));
	/* a short chunk's padding windows would count: whole ones only */
	if (net->calib != NULL && n == net->batch && calib_update(net,
	    err) != 0)
		return -1;

	for (i = 0; i < n; i++) {
		const float *e = net->emb + (size_t)i * E;
		const float *z = net->act_logits + (size_t)i * A;
		double ss = 0.0, mx = -INFINITY, sum = 0.0;

		if (emb) {
			for (j = 0; j < E; j++)
				ss += (double)e[j] * e[j];
			/* as F.normalize: divide by max(||e||, 1e-12) */
			ss = sqrt(ss);
			if (ss < 1e-12)
				ss = 1e-12;
			for (j = 0; j < E; j++)
				emb[(size_t)i * E + j] = (float)(e[j] / ss);
		}
		if (act) {
			for (j = 0; j < A; j++)
				mx = z[j] > mx ? z[j] : mx;
			for (j = 0; j < A; j++)
				sum += exp((double)z[j] - mx);
			for (j = 0; j < A; j++)
				act[(size_t)i * A + j] =
				    (float)(exp((double)z[j] - mx) / sum);
		}
	}
	return 0;
fail:
	return -1;
}

int
nn_net_run(struct nn_net *net, const float *windows, int n, float *emb,
    float *act, struct dt_error *err)
{
	const int W = net->hp.window, E = net->emb_dim, A = net->n_act;
	int done, k;

	if (n < 0 || n > net->cap)
		return dt_error_set(err, DT_E_INVALID,
		    "network: %d windows for a batch of %d", n, net->cap);
	for (done = 0; done < n; done += k) {
		k = n - done < net->batch ? n - done : net->batch;
		if (run_chunk(net, windows + (size_t)done * W, k,
		    emb ? emb + (size_t)done * E : NULL,
		    act ? act + (size_t)done * A : NULL, err) != 0)
			return -1;
	}
	return 0;
}

int
nn_net_batch(const struct nn_net *net)
{
	return net->cap;
}

void
nn_net_free(struct nn_net *net)
{
	int i;

	if (net == NULL)
		return;
	for (i = 0; i < net->n_prims; i++)
		dnnl_primitive_destroy(net->prims[i]);
	for (i = 0; i < net->n_mems; i++)
		dnnl_memory_destroy(net->mems[i]);
	for (i = 0; i < net->n_ctxs; i++)
		net->ctxs[i].free_fn(net->ctxs[i].p);
	free(net->in);
	if (net->stream)
		dnnl_stream_destroy(net->stream);
	if (net->engine)
		dnnl_engine_destroy(net->engine);
	free(net->prims);
	free(net->mems);
	free(net->ctxs);
	free(net->ops);
	free(net);
}

void
nn_set_threads(int n)
{
	if (n >= 1)
		omp_set_num_threads(n);
}

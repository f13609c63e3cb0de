/*
 * nn/train_conv.c — the trainer's oneDNN convolution wrapper (struct
 * nn_tl_conv of nn/train_conv.h): the forward-training, backward-data and
 * backward-weights primitives of the residual blocks' convolutions, their
 * layouts and reorders.  The only part of the trainer that follows oneDNN's
 * API and kernel set, so the only one that changes on a oneDNN upgrade.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "nn/nn_internal.h"
#include "nn/train_layers.h"	/* NN_TB: the activations' layout */

/*
 * Each pass runs either on the caller's ncw buffers (oneDNN's gemm:
 * im2col + sgemm) or on blocked copies (the jit direct kernels): nCw16c
 * where oneDNN runs AVX-512, nCw8c on AVX2 (nCw8c on an AVX-512 core would
 * get the AVX2 kernels, at half the vector width: 28 % slower training
 * there, measured in CPU time; channel counts that are not multiples of 16
 * stay on nCw8c).  On AVX-512 every pass runs blocked (6 % faster than the
 * AVX2 rule there).  Measured
 * at batch 64, one thread, AVX2 (docs/HACKING.md): the jit kernels win the
 * forward and backward-data passes by 1.1-2x, reorders included, and
 * backward-weights at stride 1 and for the 1x1 shortcuts; strided k > 1
 * backward-weights ties or loses (128 -> 256: 15 ms gemm, 19-22 ms jit).
 * A fixed rule rather than timing at creation: results must not depend on
 * the machine's load (a resumed checkpoint repeats the same steps).
 * Reference implementations are never chosen: oneDNN has no blocked
 * strided backward-data on AVX2 and falls back to one a thousand times
 * slower.
 */
enum { P_FWD, P_BWD_D, P_BWD_W, P_N };

/* Whether c runs on AVX-512's 16-channel blocks: channels that fill them. */
static bool
blk16(const struct nn_tl_conv *c)
{
	return (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) ==
	    dnnl_cpu_isa_avx512_core && c->cin % 16 == 0 && c->cout % 16 == 0;
}

#define BLK_TAG(c) (blk16(c) ? dnnl_nCw16c : dnnl_nCw8c)

/* The descriptors of the three passes in one layout. */
struct layout {
	dnnl_primitive_desc_t pd[P_N];	/* NULL: oneDNN cannot, or not wanted */
	bool ok[P_N];			/* exists and is not a reference one */
};

static size_t
pd_scratch(const_dnnl_primitive_desc_t pd)
{
	const dnnl_memory_desc_t *smd =
	    dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);

	return smd ? dnnl_memory_desc_get_size(smd) : 0;
}

static bool
is_ref(const_dnnl_primitive_desc_t pd)
{
	const char *s = NULL;

	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0,
	    &s) != dnnl_success || s == NULL)
		return true;
	return strncmp(s, "ref", 3) == 0;
}

static dnnl_primitive_desc_t
pd_or_null(const void *desc, const_dnnl_primitive_attr_t attr,
    dnnl_engine_t eng, const_dnnl_primitive_desc_t hint)
{
	dnnl_primitive_desc_t pd = NULL;

	if (dnnl_primitive_desc_create(&pd, desc, attr, eng, hint) !=
	    dnnl_success)
		return NULL;
	return pd;
}

/* src and dst descriptors of c in layout `tag`. */
static int
act_mds(const struct nn_tl_conv *c, dnnl_format_tag_t tag,
    dnnl_memory_desc_t *s_md, dnnl_memory_desc_t *d_md, struct dt_error *err)
{
	dnnl_dims_t sd = { c->N, c->cin, c->lin };
	dnnl_dims_t dd = { c->N, c->cout, c->lout };

	NN_TRY(dnnl_memory_desc_init_by_tag(s_md, 3, sd, dnnl_f32, tag));
	NN_TRY(dnnl_memory_desc_init_by_tag(d_md, 3, dd, dnnl_f32, tag));
	return 0;
fail:
	return -1;
}

/*
 * The passes with src and dst as s_md and d_md (backward-data only when
 * `data`); what oneDNN cannot do is left NULL.  The descriptors stay alive
 * together: the backward ones keep a pointer to their forward hint.
 */
static void
layout_pds(const struct nn_tl_conv *c, dnnl_engine_t eng,
    const_dnnl_primitive_attr_t attr, const dnnl_memory_desc_t *s_md,
    const dnnl_memory_desc_t *d_md, bool data, struct layout *l)
{
	dnnl_dims_t wd = { c->cout, c->cin, c->k };
	dnnl_dims_t strides = { c->stride }, pl = { c->pad };
	dnnl_dims_t pr = { (c->lout - 1) * c->stride + c->k - c->lin - c->pad };
	dnnl_memory_desc_t w_any;
	dnnl_convolution_desc_t fd, bdd, bwd;
	int i;

	memset(l, 0, sizeof(*l));
	if (pr[0] < 0)
		pr[0] = 0;
	if (dnnl_memory_desc_init_by_tag(&w_any, 3, wd, dnnl_f32,
	    dnnl_format_tag_any) != dnnl_success ||
	    dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training,
	    dnnl_convolution_direct, s_md, &w_any, NULL, d_md, strides, pl,
	    pr) != dnnl_success ||
	    (l->pd[P_FWD] = pd_or_null(&fd, attr, eng, NULL)) == NULL)
		return;
	if (data && dnnl_convolution_backward_data_desc_init(&bdd,
	    dnnl_convolution_direct, s_md, &w_any, d_md, strides, pl,
	    pr) == dnnl_success)
		l->pd[P_BWD_D] = pd_or_null(&bdd, attr, eng, l->pd[P_FWD]);
	if (dnnl_convolution_backward_weights_desc_init(&bwd,
	    dnnl_convolution_direct, s_md, &w_any, NULL, d_md, strides, pl,
	    pr) == dnnl_success)
		l->pd[P_BWD_W] = pd_or_null(&bwd, attr, eng, l->pd[P_FWD]);
	for (i = 0; i < P_N; i++)
		l->ok[i] = l->pd[i] != NULL && !is_ref(l->pd[i]);
}

static void
layout_free(struct layout *l)
{
	int i;

	for (i = 0; i < P_N; i++)
		if (l->pd[i] != NULL)
			dnnl_primitive_desc_destroy(l->pd[i]);
	memset(l, 0, sizeof(*l));
}

/*
 * The passes that should run blocked (if oneDNN has a kernel for them).
 * DT4ECG_TRAIN_CONV overrides the rule: gemm (none), blocked (all), or
 * three letters g|b for forward, backward-data, backward-weights, so that
 * the tests run every path.
 */
static int
conv_want(const struct nn_tl_conv *c, bool want[P_N], struct dt_error *err)
{
	const char *v = getenv("DT4ECG_TRAIN_CONV");
	int i;

	if (v == NULL || *v == '\0' || strcmp(v, "auto") == 0) {
		want[P_FWD] = want[P_BWD_D] = true;
		want[P_BWD_W] = blk16(c) || c->stride == 1 || c->k == 1;
		return 0;
	}
	for (i = 0; i < P_N; i++)
		want[i] = strcmp(v, "blocked") == 0;
	if (strcmp(v, "gemm") == 0 || strcmp(v, "blocked") == 0)
		return 0;
	if (strlen(v) != P_N)
		goto bad;
	for (i = 0; i < P_N; i++) {
		if (v[i] != 'g' && v[i] != 'b')
			goto bad;
		want[i] = v[i] == 'b';
	}
	return 0;
bad:
	return dt_error_set(err, DT_E_INVALID, "DT4ECG_TRAIN_CONV=%s: "
	    "expected auto, gemm, blocked or three of g|b", v);
}

/* A reorder from `from` to `to` memory descriptors (NULL when equal). */
static int
make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *from,
    const dnnl_memory_desc_t *to, dnnl_primitive_t *out, struct dt_error *err)
{
	dnnl_primitive_desc_t pd = NULL;

	*out = NULL;
	if (dnnl_memory_desc_equal(from, to))
		return 0;
	NN_TRY(dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng,
	    NULL));
	NN_TRY(dnnl_primitive_create(out, pd));
	dnnl_primitive_desc_destroy(pd);
	return 0;
fail:
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	return -1;
}

/*
 * A memory of descriptor `md` with the reorder from `from` into it: it is
 * `buf` itself when the layouts agree (no reorder), else a buffer of its
 * own.  `to_user` turns the reorder around (md into from).
 */
static int
mem_and_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *md,
    const dnnl_memory_desc_t *from, void *buf, bool to_user,
    dnnl_memory_t *m, dnnl_primitive_t *r, struct dt_error *err)
{
	void *h = dnnl_memory_desc_equal(md, from) ? buf :
	    DNNL_MEMORY_ALLOCATE;

	NN_TRY(dnnl_memory_create(m, md, eng, h));
	return to_user ? make_reorder(eng, md, from, r, err) :
	    make_reorder(eng, from, md, r, err);
fail:
	return -1;
}

int
nn_tl_conv_create(struct nn_tl_conv *c, dnnl_engine_t eng, int N, int cin,
    int cout, int k, int stride, int pad, int lin, float *src, float *dst,
    float *w, float *dw, float *dsrc, float *ddst, struct dt_error *err)
{
	struct layout pl, bl;
	dnnl_memory_desc_t s_md, d_md, sb_md, db_md, w_user;
	dnnl_primitive_attr_t attr = NULL;
	const_dnnl_primitive_desc_t fpd, bdpd, bwpd;
	dnnl_dims_t wd = { cout, cin, k };
	bool want[P_N];
	size_t ss;
	int i;

	memset(c, 0, sizeof(*c));
	memset(&pl, 0, sizeof(pl));
	memset(&bl, 0, sizeof(bl));
	c->N = N;
	c->cin = cin;
	c->cout = cout;
	c->k = k;
	c->stride = stride;
	c->pad = pad;
	c->lin = lin;
	c->lout = (lin + 2 * pad - k) / stride + 1;
	if (cin % NN_TB || cout % NN_TB)
		return dt_error_set(err, DT_E_UNSUPPORTED,
		    "convolution %d -> %d channels: the trainer needs "
		    "multiples of %d", cin, cout, NN_TB);
	if (conv_want(c, want, err) != 0 ||
	    act_mds(c, NN_TB_TAG, &s_md, &d_md, err) != 0 ||
	    act_mds(c, BLK_TAG(c), &sb_md, &db_md, err) != 0)
		goto fail;
	NN_TRY(dnnl_memory_desc_init_by_tag(&w_user, 3, wd, dnnl_f32,
	    dnnl_oiw));
	NN_TRY(dnnl_primitive_attr_create(&attr));
	NN_TRY(dnnl_primitive_attr_set_scratchpad_mode(attr,
	    dnnl_scratchpad_mode_user));

	layout_pds(c, eng, attr, &s_md, &d_md, dsrc != NULL, &pl);
	if (pl.pd[P_FWD] == NULL || pl.pd[P_BWD_W] == NULL ||
	    (dsrc != NULL && pl.pd[P_BWD_D] == NULL)) {
		dt_error_set(err, DT_E_INTERNAL, "oneDNN: no convolution "
		    "%d -> %d, kernel %d, stride %d", cin, cout, k, stride);
		goto fail;
	}
	if (want[P_FWD] || want[P_BWD_D] || want[P_BWD_W])
		layout_pds(c, eng, attr, &sb_md, &db_md, dsrc != NULL, &bl);
	c->blk_fwd = want[P_FWD] && bl.ok[P_FWD];
	c->blk_bwd_d = want[P_BWD_D] && bl.ok[P_BWD_D];
	c->blk_bwd_w = want[P_BWD_W] && bl.ok[P_BWD_W];
	fpd = c->blk_fwd ? bl.pd[P_FWD] : pl.pd[P_FWD];
	bdpd = c->blk_bwd_d ? bl.pd[P_BWD_D] : pl.pd[P_BWD_D];
	bwpd = c->blk_bwd_w ? bl.pd[P_BWD_W] : pl.pd[P_BWD_W];
	for (i = 0; i < P_N; i++) {
		const_dnnl_primitive_desc_t pd = i == P_FWD ? fpd :
		    i == P_BWD_D ? bdpd : bwpd;

		if (pd != NULL && (ss = pd_scratch(pd)) > c->scratch_size)
			c->scratch_size = ss;
	}

	/* the caller's buffers, and blocked copies where a pass wants them */
	NN_TRY(dnnl_memory_create(&c->src, &s_md, eng, src));
	NN_TRY(dnnl_memory_create(&c->dst, &d_md, eng, dst));
	NN_TRY(dnnl_memory_create(&c->ddst, &d_md, eng, ddst));
	if (dsrc != NULL)
		NN_TRY(dnnl_memory_create(&c->dsrc, &s_md, eng, dsrc));
	if ((c->blk_fwd || c->blk_bwd_w) && mem_and_reorder(eng, &sb_md,
	    &s_md, NULL, false, &c->src_b, &c->r_src, err) != 0)
		goto fail;
	if (c->blk_fwd && mem_and_reorder(eng, &db_md, &d_md, NULL, true,
	    &c->dst_b, &c->r_dst, err) != 0)
		goto fail;
	if ((c->blk_bwd_d || c->blk_bwd_w) && mem_and_reorder(eng, &db_md,
	    &d_md, NULL, false, &c->ddst_b, &c->r_ddst, err) != 0)
		goto fail;
	if (c->blk_bwd_d && mem_and_reorder(eng, &sb_md, &s_md, NULL, true,
	    &c->dsrc_b, &c->r_dsrc, err) != 0)
		goto fail;

	/* weights: the caller's oiw, and what each primitive wants */
	NN_TRY(dnnl_memory_create(&c->w_user, &w_user, eng, w));
	NN_TRY(dnnl_memory_create(&c->dw_user, &w_user, eng, dw));
	if (mem_and_reorder(eng, dnnl_primitive_desc_query_md(fpd,
	    dnnl_query_weights_md, 0), &w_user, w, false, &c->w_fwd,
	    &c->r_w_fwd, err) != 0)
		goto fail;
	if (bdpd != NULL && mem_and_reorder(eng,
	    dnnl_primitive_desc_query_md(bdpd, dnnl_query_weights_md, 0),
	    &w_user, w, false, &c->w_bwd_d, &c->r_w_bwd_d, err) != 0)
		goto fail;
	if (mem_and_reorder(eng, dnnl_primitive_desc_query_md(bwpd,
	    dnnl_query_diff_weights_md, 0), &w_user, dw, true, &c->dw_prim,
	    &c->r_dw, err) != 0)
		goto fail;

	NN_TRY(dnnl_primitive_create(&c->fwd, fpd));
	if (bdpd != NULL)
		NN_TRY(dnnl_primitive_create(&c->bwd_d, bdpd));
	NN_TRY(dnnl_primitive_create(&c->bwd_w, bwpd));
	layout_free(&pl);
	layout_free(&bl);
	dnnl_primitive_attr_destroy(attr);
	return 0;
fail:
	layout_free(&pl);
	layout_free(&bl);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	nn_tl_conv_destroy(c);
	return -1;
}

void
nn_tl_conv_bind_scratch(struct nn_tl_conv *c, dnnl_memory_t scratch)
{
	c->scratch = scratch;
}

void
nn_tl_conv_destroy(struct nn_tl_conv *c)
{
	dnnl_primitive_t *ps[] = { &c->fwd, &c->bwd_d, &c->bwd_w, &c->r_w_fwd,
		&c->r_w_bwd_d, &c->r_dw, &c->r_src, &c->r_dst, &c->r_ddst,
		&c->r_dsrc };
	dnnl_memory_t *ms[] = { &c->src, &c->dst, &c->dsrc, &c->ddst,
		&c->src_b, &c->dst_b, &c->dsrc_b, &c->ddst_b, &c->w_user,
		&c->w_fwd, &c->w_bwd_d, &c->dw_prim, &c->dw_user };
	size_t i;

	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		if (*ps[i] != NULL) {
			dnnl_primitive_destroy(*ps[i]);
			*ps[i] = NULL;
		}
	for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		if (*ms[i] != NULL) {
			dnnl_memory_destroy(*ms[i]);
			*ms[i] = NULL;
		}
}

static int
run(dnnl_primitive_t p, dnnl_stream_t st, int nargs,
    const dnnl_exec_arg_t *args, struct dt_error *err)
{
	NN_TRY(dnnl_primitive_execute(p, st, nargs, args));
	return 0;
fail:
	return -1;
}

static int
reorder(dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to,
    dnnl_stream_t st, struct dt_error *err)
{
	dnnl_exec_arg_t a[2] = { { DNNL_ARG_FROM, from }, { DNNL_ARG_TO, to } };

	if (r == NULL)
		return 0;
	return run(r, st, 2, a, err);
}

int
nn_tl_conv_sync_weights(struct nn_tl_conv *c, dnnl_stream_t st,
    struct dt_error *err)
{
	if (reorder(c->r_w_fwd, c->w_user, c->w_fwd, st, err) != 0)
		return -1;
	if (c->bwd_d != NULL &&
	    reorder(c->r_w_bwd_d, c->w_user, c->w_bwd_d, st, err) != 0)
		return -1;
	return 0;
}

int
nn_tl_conv_fwd(struct nn_tl_conv *c, dnnl_stream_t st, struct dt_error *err)
{
	const bool b = c->blk_fwd;
	dnnl_exec_arg_t a[4] = { { DNNL_ARG_SRC, b ? c->src_b : c->src },
		{ DNNL_ARG_WEIGHTS, c->w_fwd },
		{ DNNL_ARG_DST, b ? c->dst_b : c->dst },
		{ DNNL_ARG_SCRATCHPAD, c->scratch } };

	if (b && reorder(c->r_src, c->src, c->src_b, st, err) != 0)
		return -1;
	if (run(c->fwd, st, 4, a, err) != 0)
		return -1;
	return b ? reorder(c->r_dst, c->dst_b, c->dst, st, err) : 0;
}

int
nn_tl_conv_bwd(struct nn_tl_conv *c, dnnl_stream_t st, bool data,
    bool weights, struct dt_error *err)
{
	const bool bd = c->blk_bwd_d, bw = c->blk_bwd_w;

	if (data && c->bwd_d == NULL)
		return dt_error_set(err, DT_E_INTERNAL,
		    "convolution: built without backward-data");
	if (((data && bd) || (weights && bw)) &&
	    reorder(c->r_ddst, c->ddst, c->ddst_b, st, err) != 0)
		return -1;
	if (data) {
		dnnl_exec_arg_t a[4] = {
			{ DNNL_ARG_DIFF_DST, bd ? c->ddst_b : c->ddst },
			{ DNNL_ARG_WEIGHTS, c->w_bwd_d },
			{ DNNL_ARG_DIFF_SRC, bd ? c->dsrc_b : c->dsrc },
			{ DNNL_ARG_SCRATCHPAD, c->scratch } };

		if (run(c->bwd_d, st, 4, a, err) != 0 ||
		    (bd && reorder(c->r_dsrc, c->dsrc_b, c->dsrc, st,
		    err) != 0))
			return -1;
	}
	if (weights) {
		dnnl_exec_arg_t a[4] = {
			{ DNNL_ARG_SRC, bw ? c->src_b : c->src },
			{ DNNL_ARG_DIFF_DST, bw ? c->ddst_b : c->ddst },
			{ DNNL_ARG_DIFF_WEIGHTS, c->dw_prim },
			{ DNNL_ARG_SCRATCHPAD, c->scratch } };

		/* else the forward pass left src's blocked copy */
		if (bw && !c->blk_fwd &&
		    reorder(c->r_src, c->src, c->src_b, st, err) != 0)
			return -1;
		if (run(c->bwd_w, st, 4, a, err) != 0 ||
		    reorder(c->r_dw, c->dw_prim, c->dw_user, st, err) != 0)
			return -1;
	}
	return 0;
}

int
nn_tl_scratch_create(dnnl_engine_t eng, size_t size, dnnl_memory_t *out,
    struct dt_error *err)
{
	dnnl_memory_desc_t md;
	dnnl_dims_t sz = { (dnnl_dim_t)(size ? size : 1) };

	NN_TRY(dnnl_memory_desc_init_by_tag(&md, 1, sz, dnnl_u8, dnnl_x));
	NN_TRY(dnnl_memory_create(out, &md, eng, DNNL_MEMORY_ALLOCATE));
	return 0;
fail:
	return -1;
}

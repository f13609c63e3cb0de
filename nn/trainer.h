/*
 * nn/trainer.h — the trainer's state, private to nn/train.c (the step) and
 * nn/train_ckpt.c (its checkpoint file).
 */
#ifndef NN_TRAINER_H
#define NN_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dnnl.h>

#include "nn/model.h"
#include "nn/train.h"
#include "nn/train_internal.h"
#include "nn/train_layers.h"
#include "util/rng.h"

#define MAX_PARAMS (16 * NN_MAX_STAGES + 32)

enum task { T_SHARED, T_ID, T_ACT };

struct param {
	char name[80];
	size_t off, numel;
	bool decay;
	enum task task;
};

struct stage {
	int cin, C, lin, L, H;
	struct nn_tl_conv c1, c2, cd;
	float *c1o, *r1, *c2o, *cdo, *z, *out;
	float *mean1, *is1, *mean2, *is2, *meand, *isd;
	struct nn_tl_sca sca;
	float *dc1;		/* conv2's diff_src and conv1's diff_dst */
	float *dc2, *dcd, *dz;
	float *din1, *din2;	/* gradient of the stage input: conv1, down */
	/* parameter indices */
	int w1, g1, b1, w2, g2, b2, wd, gd, bd;
	int f1w, f1b, f2w, f2b, sqw, sqb;
	/* running statistics: offsets in R */
	size_t rm1, rv1, rm2, rv2, rmd, rvd;
};

struct nn_trainer {
	struct nn_hparams hp;
	struct nn_train_opts o;
	int N, n_subj, n_act, nthreads;
	int K;			/* CosFace sub-centres per subject */

	dnnl_engine_t eng;
	dnnl_stream_t strm;
	dnnl_memory_t scratch;

	struct param prm[MAX_PARAMS];
	int n_prm;
	size_t n_floats;
	float *P, *G, *M, *V;
	int64_t *pstep;		/* AdamW steps taken, per parameter */
	/* running statistics */
	struct param buf[4 * NN_MAX_STAGES + 8];
	int n_buf;
	size_t n_rfloats;
	float *R;

	/* stem */
	int i_stem_w, i_stem_g, i_stem_b;
	size_t stem_rm, stem_rv;
	float *xp, *wt, *dwt, *stem_acc;
	float *sconv, *srelu, *p0, *dsrelu;
	float *smean, *sis;

	struct stage st[NN_MAX_STAGES];

	/* heads */
	int Cl, E, Hd;
	int i_idfc_w, i_idfc_b, i_idbn_g, i_idbn_b, i_cls;
	int i_a1w, i_a1b, i_a2w, i_a2b;
	size_t id_rm, id_rv;
	float *f, *df, *df_id, *df_act;
	float *epre, *e, *emean, *eis, *de, *depre, *cos_work;
	int *cos_arg;		/* winning sub-centre per sample and subject */
	float *sub_hits;	/* K > 1: how often each sub-centre won its
				 * own subject's samples, decayed per step */
	float *avg_P, *avg_R;	/* ema_decay > 0: the moving averages of P
				 * and R that nn_trainer_export writes */
	float *h, *hr, *drop, *logits, *dlog, *dhr;
	float *bn_ws;		/* 2 * max C */
	float *gw_id, *gw_act;	/* GradNorm: grad_W L_i at the shared layer */

	struct nn_gradnorm gn;
	int64_t step;
	struct dt_rng rng;
	bool weights_dirty, drop_frozen, drop_ready;
};

#endif /* NN_TRAINER_H */

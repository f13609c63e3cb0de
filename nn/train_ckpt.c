/*
 * nn/train_ckpt.c — the trainer's checkpoint file (nn/train.h):
 * nn_trainer_save_state and nn_trainer_load_state.  Split from nn/train.c.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/trainer.h"
#include "util/error.h"
#include "util/file.h"

/* ---- checkpoint ------------------------------------------------------------------ */

/*
 * Format (little-endian, this machine's float layout):
 *   "DT4ECGTR" | u32 version (2) | u32 header bytes
 *   header: the architecture (hyperparameters, subjects, activities, float
 *   counts, a hash of the parameter names and sizes), step, GradNorm state,
 *   rng state, whether the weights are averaged (ema_decay > 0)
 *   P | M | V (n_floats each) | per-parameter AdamW steps (i64) | R
 *   | with CosFace sub-centres (K > 1): each one's recent wins (S*K floats;
 *   K is in the names hash through the classifier's size)
 *   | with weight averaging: the averages of P and R
 *   u64 FNV-1a of everything before it.
 * Version 1 (no averaging field) is refused: a checkpoint lives as long as
 * its training run.
 */
#define CK_MAGIC "DT4ECGTR"
#define CK_VERSION 2u

struct ck_header {
	int32_t hp[16 + NN_MAX_STAGES];
	int32_t n_subj, n_act, n_prm, n_buf;
	uint64_t n_floats, n_rfloats, names_hash;
	int64_t step;
	float gn_w[2], gn_L0[2];
	int32_t gn_have_L0[2];
	double gn_m[2], gn_v[2];
	int64_t gn_t;
	uint64_t rng;
	int32_t averaged;	/* 1: avg_P and avg_R follow */
	int32_t reserved;	/* 0 */
};

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
ck_arch(const struct nn_trainer *t, struct ck_header *h)
{
	const struct nn_hparams *hp = &t->hp;
	uint64_t nh = 1469598103934665603ULL;
	int i;

	memset(h, 0, sizeof(*h));
	h->hp[0] = hp->fs_hz;
	h->hp[1] = hp->window;
	h->hp[2] = hp->stem_channels;
	h->hp[3] = hp->stem_kernel;
	h->hp[4] = hp->n_stages;
	h->hp[5] = hp->kernel;
	h->hp[6] = hp->sca_reduction;
	h->hp[7] = hp->seq_kernel;
	h->hp[8] = hp->embedding_dim;
	h->hp[9] = hp->act_hidden;
	for (i = 0; i < hp->n_stages; i++)
		h->hp[16 + i] = hp->stage_channels[i];
	h->n_subj = t->n_subj;
	h->n_act = t->n_act;
	h->n_prm = t->n_prm;
	h->n_buf = t->n_buf;
	h->n_floats = t->n_floats;
	h->n_rfloats = t->n_rfloats;
	for (i = 0; i < t->n_prm + t->n_buf; i++) {
		const struct param *p = i < t->n_prm ? &t->prm[i] :
		    &t->buf[i - t->n_prm];
		uint64_t sz = p->numel;

		nh = fnv(nh, p->name, strlen(p->name) + 1);
		nh = fnv(nh, &sz, sizeof(sz));
	}
	h->names_hash = nh;
}

int64_t
nn_trainer_steps(const struct nn_trainer *t)
{
	return t->step;
}

/* floats of the weight averages in the file (P's, then R's) */
static size_t
ck_avg(const struct nn_trainer *t, int which)
{
	if (t->avg_P == NULL)
		return 0;
	return which == 0 ? t->n_floats : t->n_rfloats;
}

/* floats of sub-centre wins in the file */
static size_t
ck_hits(const struct nn_trainer *t)
{
	return t->K > 1 ? (size_t)t->n_subj * t->K : 0;
}

static int
ck_write(struct dt_file_out *f, const void *p, size_t n, uint64_t *hash,
    struct dt_error *err)
{
	*hash = fnv(*hash, p, n);
	return dt_file_write(f, p, n, err);
}

/* Written to PATH.tmp, fsynced, renamed over PATH, directory fsynced
 * (util/file.h): after a crash PATH is the old state or the new one. */
int
nn_trainer_save_state(const struct nn_trainer *t, const char *path,
    struct dt_error *err)
{
	struct dt_file_out f;
	struct ck_header h;
	uint64_t hash = 1469598103934665603ULL, hcopy;
	uint32_t ver = CK_VERSION, hb = sizeof(h);
	int i;

	ck_arch(t, &h);
	h.step = t->step;
	for (i = 0; i < 2; i++) {
		h.gn_w[i] = t->gn.w[i];
		h.gn_L0[i] = t->gn.L0[i];
		h.gn_have_L0[i] = t->gn.have_L0[i];
		h.gn_m[i] = t->gn.m[i];
		h.gn_v[i] = t->gn.v[i];
	}
	h.gn_t = t->gn.t;
	h.rng = t->rng.s;
	h.averaged = t->avg_P != NULL;
	if (dt_file_open(&f, path, DT_FILE_REPLACE, 0600, err) != 0)
		return -1;
	if (ck_write(&f, CK_MAGIC, 8, &hash, err) != 0 ||
	    ck_write(&f, &ver, 4, &hash, err) != 0 ||
	    ck_write(&f, &hb, 4, &hash, err) != 0 ||
	    ck_write(&f, &h, sizeof(h), &hash, err) != 0 ||
	    ck_write(&f, t->P, sizeof(float) * t->n_floats, &hash, err) != 0 ||
	    ck_write(&f, t->M, sizeof(float) * t->n_floats, &hash, err) != 0 ||
	    ck_write(&f, t->V, sizeof(float) * t->n_floats, &hash, err) != 0 ||
	    ck_write(&f, t->pstep, sizeof(int64_t) * (size_t)t->n_prm, &hash,
	    err) != 0 ||
	    ck_write(&f, t->R, sizeof(float) * t->n_rfloats, &hash, err) != 0 ||
	    ck_write(&f, t->sub_hits, sizeof(float) * ck_hits(t), &hash,
	    err) != 0 ||
	    ck_write(&f, t->avg_P, sizeof(float) * ck_avg(t, 0), &hash,
	    err) != 0 ||
	    ck_write(&f, t->avg_R, sizeof(float) * ck_avg(t, 1), &hash,
	    err) != 0)
		goto fail;
	hcopy = hash;
	if (ck_write(&f, &hcopy, sizeof(hcopy), &hash, err) != 0)
		goto fail;
	return dt_file_commit(&f, err);
fail:
	dt_file_abort(&f);
	return -1;
}

static int
read_all(FILE *f, void *p, size_t n, uint64_t *hash)
{
	if (fread(p, 1, n, f) != n)
		return -1;
	*hash = fnv(*hash, p, n);
	return 0;
}

int
nn_trainer_load_state(struct nn_trainer *t, const char *path,
    struct dt_error *err)
{
	struct ck_header want, h;
	char magic[8];
	uint32_t ver, hb;
	uint64_t hash = 1469598103934665603ULL, stored, dummy = 0;
	float *P = NULL, *M = NULL, *V = NULL, *R = NULL, *H = NULL;
	float *AP = NULL, *AR = NULL;
	int64_t *ps = NULL;
	FILE *f;
	size_t j;
	int i, rc = -1;

	if ((f = fopen(path, "rb")) == NULL)
		return dt_error_set(err, DT_E_IO, "%s: %s", path,
		    strerror(errno));
	ck_arch(t, &want);
	if (read_all(f, magic, 8, &hash) != 0 ||
	    memcmp(magic, CK_MAGIC, 8) != 0) {
		dt_error_set(err, DT_E_FORMAT, "%s: not a trainer checkpoint",
		    path);
		goto out;
	}
	if (read_all(f, &ver, 4, &hash) != 0 || ver != CK_VERSION ||
	    read_all(f, &hb, 4, &hash) != 0 || hb != sizeof(h)) {
		dt_error_set(err, DT_E_VERSION,
		    "%s: checkpoint version or header size not supported",
		    path);
		goto out;
	}
	if (read_all(f, &h, sizeof(h), &hash) != 0) {
		dt_error_set(err, DT_E_FORMAT, "%s: truncated header", path);
		goto out;
	}
	if (memcmp(h.hp, want.hp, sizeof(h.hp)) != 0 ||
	    h.n_subj != want.n_subj || h.n_act != want.n_act ||
	    h.n_prm != want.n_prm || h.n_buf != want.n_buf ||
	    h.n_floats != want.n_floats || h.n_rfloats != want.n_rfloats ||
	    h.names_hash != want.names_hash) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: checkpoint of a different architecture (hyper"
		    "parameters, subjects or activities)", path);
		goto out;
	}
	if (h.averaged != (t->avg_P != NULL) || h.reserved != 0) {
		dt_error_set(err, DT_E_FORMAT, "%s: checkpoint %s weight "
		    "averaging (resume with the same --ema)", path,
		    h.averaged ? "with" : "without");
		goto out;
	}
	P = malloc(sizeof(float) * t->n_floats);
	M = malloc(sizeof(float) * t->n_floats);
	V = malloc(sizeof(float) * t->n_floats);
	R = malloc(sizeof(float) * (t->n_rfloats ? t->n_rfloats : 1));
	ps = malloc(sizeof(int64_t) * (size_t)t->n_prm);
	H = malloc(sizeof(float) * (ck_hits(t) ? ck_hits(t) : 1));
	AP = malloc(sizeof(float) * (ck_avg(t, 0) ? ck_avg(t, 0) : 1));
	AR = malloc(sizeof(float) * (ck_avg(t, 1) ? ck_avg(t, 1) : 1));
	if (!P || !M || !V || !R || !ps || !H || !AP || !AR) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	if (read_all(f, P, sizeof(float) * t->n_floats, &hash) != 0 ||
	    read_all(f, M, sizeof(float) * t->n_floats, &hash) != 0 ||
	    read_all(f, V, sizeof(float) * t->n_floats, &hash) != 0 ||
	    read_all(f, ps, sizeof(int64_t) * (size_t)t->n_prm, &hash) != 0 ||
	    read_all(f, R, sizeof(float) * t->n_rfloats, &hash) != 0 ||
	    read_all(f, H, sizeof(float) * ck_hits(t), &hash) != 0 ||
	    read_all(f, AP, sizeof(float) * ck_avg(t, 0), &hash) != 0 ||
	    read_all(f, AR, sizeof(float) * ck_avg(t, 1), &hash) != 0 ||
	    fread(&stored, 1, sizeof(stored), f) != sizeof(stored)) {
		dt_error_set(err, DT_E_FORMAT, "%s: truncated", path);
		goto out;
	}
	if (fread(&dummy, 1, 1, f) != 0) {
		dt_error_set(err, DT_E_FORMAT, "%s: trailing bytes", path);
		goto out;
	}
	if (stored != hash) {
		dt_error_set(err, DT_E_FORMAT, "%s: checksum mismatch", path);
		goto out;
	}
	for (j = 0; j < t->n_floats; j++)
		if (!isfinite(P[j]) || !isfinite(M[j]) || !isfinite(V[j]) ||
		    V[j] < 0) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: non-finite parameter or moment", path);
			goto out;
		}
	for (j = 0; j < ck_avg(t, 0); j++)
		if (!isfinite(AP[j])) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: non-finite averaged parameter", path);
			goto out;
		}
	for (j = 0; j < t->n_rfloats; j++)
		if (!isfinite(R[j]) || (j < ck_avg(t, 1) && !isfinite(AR[j]))) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: non-finite running statistic", path);
			goto out;
		}
	for (j = 0; j < ck_hits(t); j++)
		if (!isfinite(H[j]) || H[j] < 0) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: invalid sub-centre count", path);
			goto out;
		}
	if (h.step < 0 || h.gn_t < 0 || !(h.gn_w[0] > 0) || !(h.gn_w[1] > 0) ||
	    !isfinite(h.gn_w[0]) || !isfinite(h.gn_w[1])) {
		dt_error_set(err, DT_E_FORMAT, "%s: invalid trainer state",
		    path);
		goto out;
	}
	memcpy(t->P, P, sizeof(float) * t->n_floats);
	memcpy(t->M, M, sizeof(float) * t->n_floats);
	memcpy(t->V, V, sizeof(float) * t->n_floats);
	memcpy(t->pstep, ps, sizeof(int64_t) * (size_t)t->n_prm);
	memcpy(t->R, R, sizeof(float) * t->n_rfloats);
	memcpy(t->sub_hits, H, sizeof(float) * ck_hits(t));
	if (t->avg_P != NULL) {
		memcpy(t->avg_P, AP, sizeof(float) * t->n_floats);
		memcpy(t->avg_R, AR, sizeof(float) * t->n_rfloats);
	}
	t->step = h.step;
	for (i = 0; i < 2; i++) {
		t->gn.w[i] = h.gn_w[i];
		t->gn.L0[i] = h.gn_L0[i];
		t->gn.have_L0[i] = h.gn_have_L0[i] != 0;
		t->gn.m[i] = h.gn_m[i];
		t->gn.v[i] = h.gn_v[i];
	}
	t->gn.t = h.gn_t;
	t->rng.s = h.rng;
	t->weights_dirty = true;
	rc = 0;
out:
	fclose(f);
	free(P);
	free(M);
	free(V);
	free(R);
	free(H);
	free(AP);
	free(AR);
	free(ps);
	return rc;
}

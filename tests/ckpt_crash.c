/*
 * tests/ckpt_crash.c — drives retrain's checkpoint (admin/retrain_ckpt.c)
 * for tests/ckpt-crash.sh, on a tiny network and synthetic windows, so
 * that the script can SIGKILL it at every file-system call of a save:
 *
 *   ckpt_crash write CK   three "epochs" of two steps each, a checkpoint
 *                         after each (the best epoch improves at 1 and 2,
 *                         not at 3); prints "saved E" once save E returned
 *   ckpt_crash check CK   resumes CK and compares every part of it with a
 *                         fresh deterministic run to the epoch it names;
 *                         prints "epoch E" (0: no checkpoint); exit 1 on
 *                         any disagreement.  (Not installed.)
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/retrain_ckpt.h"
#include "nn/model.h"
#include "nn/train.h"
#include "tests/support.h"

#define N 4
#define STEPS 2
#define EPOCHS 3

static const char *const acts[] = { "rest", "walk", "run" };

struct run {
	struct nn_model *m;
	struct nn_trainer *t;
	struct rt_loop l;
	void *best;		/* the best epoch's weights */
	size_t best_len;
};

static int
start(struct run *r, struct dt_error *err)
{
	struct nn_hparams hp;
	struct nn_train_opts o;

	memset(r, 0, sizeof(*r));
	tt_tiny_hp(&hp, 40, 8);
	if (nn_model_create(&hp, 3, 3, acts, 1, &r->m, err) != 0)
		return -1;
	nn_train_opts_default(&o);
	o.batch = N;
	o.seed = 7;
	if (nn_trainer_create(r->m, &o, &r->t, err) != 0)
		return -1;
	dt_rng_seed(&r->l.rng, 11);
	r->l.best = -1;
	if ((r->l.curves = json_array()) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	return 0;
}

static void
finish(struct run *r)
{
	nn_trainer_free(r->t);
	nn_model_free(r->m);
	json_decref(r->l.curves);
	free(r->best);
}

/* One epoch: STEPS steps, the loop state as retrain keeps it; 1 when the
 * epoch is a new best. */
static int
epoch(struct run *r, struct dt_error *err)
{
	struct nn_step_stats st;
	struct dt_rng xr;
	float x[N * 40];
	int yi[N] = { 0, 1, 2, -1 }, ya[N] = { 1, -1, 0, 2 }, s, e;
	size_t i;

	e = ++r->l.epoch;
	for (s = 0; s < STEPS; s++) {
		dt_rng_seed(&xr, (uint64_t)(e * 100 + s));
		for (i = 0; i < sizeof(x) / sizeof(x[0]); i++)
			x[i] = (float)dt_rng_normal(&xr);
		(void)dt_rng_next(&r->l.rng);
		if (nn_trainer_step(r->t, x, yi, ya, N, &st, err) != 0)
			return -1;
	}
	json_array_append_new(r->l.curves, json_pack("{si}", "epoch", e));
	if (e > 2) {
		r->l.bad_epochs++;
		return 0;
	}
	r->l.best = 0.1 * e;
	r->l.best_epoch = e;
	r->l.bad_epochs = 0;
	free(r->best);
	r->best = NULL;
	if (nn_trainer_export(r->t, r->m, err) != 0 ||
	    nn_model_save_buffer(r->m, &r->best, &r->best_len, err) != 0)
		return -1;
	return 1;
}

static int
do_write(const char *ck)
{
	struct dt_error err = { 0 };
	struct run r;
	int e, changed, rc = 1;

	if (start(&r, &err) != 0)
		goto out;
	for (e = 1; e <= EPOCHS; e++) {
		if ((changed = epoch(&r, &err)) < 0 ||
		    rt_ckpt_save(ck, r.t, &r.l, r.best, r.best_len, changed,
		    &err) != 0)
			goto out;
		printf("saved %d\n", e);
		fflush(stdout);
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "ckpt_crash write: %s\n", err.msg);
	finish(&r);
	return rc;
}

/* The model bytes of trainer T's weights (through R's model). */
static int
weights(struct run *r, struct nn_trainer *t, void **buf, size_t *len,
    struct dt_error *err)
{
	if (nn_trainer_export(t, r->m, err) != 0)
		return -1;
	return nn_model_save_buffer(r->m, buf, len, err);
}

static int
do_check(const char *ck)
{
	struct dt_error err = { 0 };
	struct run want, got;
	struct rt_loop l;
	char loop[4200];
	void *best = NULL, *wa = NULL, *wb = NULL;
	size_t best_len = 0, la = 0, lb = 0;
	const char *bad = NULL;
	int e, rc = 1;

	memset(&l, 0, sizeof(l));
	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	if (start(&want, &err) != 0 || start(&got, &err) != 0)
		goto fail;
	snprintf(loop, sizeof(loop), "%s.loop.json", ck);
	if (access(ck, F_OK) != 0 && errno == ENOENT) {
		/* killed before the first commit: nothing else in place */
		if (access(loop, F_OK) == 0) {
			bad = "a loop state without a trainer state";
			goto out;
		}
		printf("epoch 0\n");
		rc = 0;
		goto out;
	}
	if (rt_ckpt_load(ck, got.t, &l, &best, &best_len, &err) != 0)
		goto fail;
	for (e = 0; e < l.epoch; e++)
		if (epoch(&want, &err) < 0)
			goto fail;
	if (weights(&want, want.t, &wa, &la, &err) != 0 ||
	    weights(&got, got.t, &wb, &lb, &err) != 0)
		goto fail;
	if (l.epoch < 1 || l.epoch > EPOCHS)
		bad = "epoch";
	else if (nn_trainer_steps(got.t) != nn_trainer_steps(want.t))
		bad = "trainer step";
	else if (la != lb || memcmp(wa, wb, la) != 0)
		bad = "trainer weights";
	else if (l.rng.s != want.l.rng.s)
		bad = "rng";
	else if (!json_equal(l.curves, want.l.curves))
		bad = "curves";
	else if (l.best != want.l.best || l.best_epoch != want.l.best_epoch ||
	    l.bad_epochs != want.l.bad_epochs)
		bad = "best, best_epoch or bad_epochs";
	else if (best_len != want.best_len || (best_len > 0 &&
	    memcmp(best, want.best, best_len) != 0))
		bad = "best weights";
	if (bad == NULL) {
		printf("epoch %d\n", l.epoch);
		rc = 0;
	}
	goto out;
fail:
	fprintf(stderr, "ckpt_crash check: %s\n", err.msg);
out:
	if (bad != NULL)
		fprintf(stderr, "ckpt_crash check: %s: %s disagrees with "
		    "epoch %d\n", ck, bad, l.epoch);
	json_decref(l.curves);
	free(best);
	free(wa);
	free(wb);
	finish(&want);
	finish(&got);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2]);
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return do_check(argv[2]);
	fprintf(stderr, "usage: ckpt_crash write|check CK\n");
	return 2;
}

/*
 * admin/retrain_ckpt.h — retrain's checkpoint: the trainer state (FILE,
 * nn/train.h), the loop state (FILE.loop.json) and the best epoch's weights
 * (FILE.best.safetensors), kept crash-consistent.
 *
 * A save writes the new loop state and best weights beside the old ones
 * (FILE.loop.json.new, FILE.best.safetensors.new, each durable), then
 * replaces the trainer state atomically — the commit point — and then
 * renames the two new files into place.  The loop state names the trainer
 * step it belongs to and the BLAKE2b hash of the best weights, so a resume
 * after a kill at any point finds one consistent set: the old one (killed
 * before the commit) or the new one (after it; the renames the kill
 * prevented are done then).  Every key of the loop state is checked.
 */
#ifndef ADMIN_RETRAIN_CKPT_H
#define ADMIN_RETRAIN_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nn/train.h"
#include "util/error.h"
#include "util/rng.h"

/* The epoch loop's state after an epoch. */
struct rt_loop {
	int epoch;		/* epochs done */
	struct dt_rng rng;	/* the data stream (shuffles, augmentation) */
	json_t *curves;		/* one object per epoch done (owned) */
	double best;		/* best validation score so far */
	int best_epoch;		/* 0: none yet */
	int bad_epochs;		/* since the best */
};

/*
 * Saves the checkpoint FILE after an epoch.  BEST_BUF/BEST_LEN: the best
 * epoch's weights (a safetensors buffer), NULL when there is none;
 * BEST_CHANGED: they are new since the last save (written only then).
 */
int rt_ckpt_save(const char *file, const struct nn_trainer *t,
    const struct rt_loop *l, const void *best_buf, size_t best_len,
    int best_changed, struct dt_error *err);

/*
 * Loads checkpoint FILE into T (same architecture) and *L; *BEST_BUF
 * (malloc'd, NULL when best_epoch is 0) receives the best weights.
 * Completes a save that a kill interrupted after its commit point.
 * DT_E_FORMAT when the three files do not make one checkpoint.
 */
int rt_ckpt_load(const char *file, struct nn_trainer *t, struct rt_loop *l,
    void **best_buf, size_t *best_len, struct dt_error *err);

#endif /* ADMIN_RETRAIN_CKPT_H */

/*
 * admin/retrain_init.h — the identity classifier of a model fine-tuned from
 * another (retrain --init): a subject both know keeps its row; a new one
 * starts from its mean embedding under the initial model (weight
 * imprinting, Qi, Brown & Lowe, CVPR 2018), scaled like the kept rows.
 * A random row for a new member gives its windows a loss far above the
 * rest, whose gradient pulls the trunk away from what it knew (the open-set
 * figure a site adaptation must keep); an imprinted one starts near the
 * answer.
 */
#ifndef ADMIN_RETRAIN_INIT_H
#define ADMIN_RETRAIN_INIT_H

#include "data/dataset.h"
#include "nn/model.h"
#include "util/error.h"

/* the identity classifier's tensor (DESIGN.md 3) */
#define RT_CLASSIFIER "id_head.classifier.weight"

struct rt_carry {
	int kept;		/* rows copied from the initial model */
	int imprinted;		/* new subjects started at their mean embedding */
	int random;		/* new subjects without a gated window */
};

/*
 * Fills M's classifier (N_ROWS rows: NAMES[i] is row i's subject) from
 * INIT, whose metadata "subjects" names its rows.  ROWS maps the corpus
 * subject of each window of TS to its row (-1: none); the gated windows of
 * the new subjects run through INIT in batches of BATCH.  Returns 1 when
 * INIT names no subjects (M's classifier is left as it is), 0 on success,
 * -1 on error.
 */
int rt_classifier_carry(const struct nn_model *init, struct nn_model *m,
    char *const *names, int n_rows, const struct data_set *ts,
    const int *rows, int batch, struct rt_carry *out, struct dt_error *err);

#endif /* ADMIN_RETRAIN_INIT_H */

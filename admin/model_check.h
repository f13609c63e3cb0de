/*
 * admin/model_check.h — before `model activate` switches the door to a
 * model: how well it tells the site's own members apart.
 *
 * Every enrolled recording is embedded with the model; genuine scores are
 * each recording against the member's other recordings, impostor scores
 * each against the other members' recordings (cosine, as the daemon
 * compares).  A model whose impostor scores collapse (mean above
 * MODEL_CHECK_MAX_IMPOSTOR: everyone looks alike, as with damaged weights)
 * is refused, and so is one whose separation (mean genuine less mean
 * impostor; with no genuine pairs, 1 less mean impostor) is below
 * MODEL_CHECK_MIN_RATIO of the active model's.
 */
#ifndef ADMIN_MODEL_CHECK_H
#define ADMIN_MODEL_CHECK_H

#include <stddef.h>

#include "nn/model.h"
#include "store/store.h"
#include "util/error.h"

#define MODEL_CHECK_MAX_IMPOSTOR 0.9
#define MODEL_CHECK_MIN_RATIO 0.5

struct model_scores {
	size_t n_recordings, n_genuine, n_impostor;
	double genuine_mean, impostor_mean, impostor_max;
	double separation;
};

int model_check_scores(struct store *s, const struct nn_model *m,
    struct model_scores *out, struct dt_error *err);

/*
 * The site's own members against each other at threshold THR: every
 * enrolled recording, as a probe, against each OTHER member's best template
 * (what a 1:N attempt compares); n_mistaken of n_comparisons reach THR.
 * worst: the three closest (probe member, other member) pairs.
 */
struct model_site {
	int n_members;
	size_t n_recordings, n_comparisons, n_mistaken;
	struct {
		char a[STORE_ID_MAX + 1], b[STORE_ID_MAX + 1];
		double score;
	} worst[3];
};
int model_check_site(struct store *s, const struct nn_model *m, double thr,
    struct model_site *out, struct dt_error *err);

/* One line: "N recordings: genuine mean G (n), impostor mean I (max M, n),
 * separation S". */
void model_check_print(const char *label, const struct model_scores *sc);

#endif /* ADMIN_MODEL_CHECK_H */

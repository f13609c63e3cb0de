/* admin/enroll_check.c — a member's recordings as a set (enroll_check.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin/enroll_check.h"

struct load_ctx {
	struct embedder *e;
	int dim;
	struct enroll_rec **recs;
	int *n;
	float *act;
};

static int
load_one(void *vctx, const struct store_recording *r)
{
	struct load_ctx *c = vctx;
	struct enroll_rec *nr, *x;
	struct embed_result er = { 0 };
	struct dt_error err = { 0 };
	float *mv = NULL, *emb = NULL;

	if ((nr = realloc(*c->recs, (size_t)(*c->n + 1) * sizeof(*nr))) ==
	    NULL)
		return -1;
	*c->recs = nr;
	if ((mv = malloc(r->n_samples * sizeof(*mv))) == NULL ||
	    (emb = calloc((size_t)c->dim, sizeof(*emb))) == NULL)
		goto fail;
	memcpy(mv, r->samples, r->n_samples * sizeof(*mv));
	er.embedding = emb;
	er.activity = c->act;
	/* a stored recording without a usable window has no template: it
	 * takes no part in the agreement, only in the duplicate check */
	if (embedder_run(c->e, mv, r->n_samples, r->fs_hz, &er, &err) != 0) {
		free(emb);
		emb = NULL;
	}
	x = &nr[*c->n];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "recording #%lld already "
	    "enrolled", (long long)r->id);
	x->mv = mv;
	x->n = r->n_samples;
	x->fs = r->fs_hz;
	x->emb = emb;
	x->stored = true;
	(*c->n)++;
	return 0;
fail:
	if (mv != NULL)
		sodium_memzero(mv, r->n_samples * sizeof(*mv));
	free(mv);
	free(emb);
	return -1;
}

int
enroll_load_stored(struct store *s, const char *member, struct embedder *e,
    int dim, struct enroll_rec **recs, int *n, struct dt_error *err)
{
	const struct nn_model *m = embedder_model(e);
	struct load_ctx c = { e, dim, recs, n, NULL };
	int rc;

	if ((c.act = calloc((size_t)m->n_activities + 1, sizeof(float))) ==
	    NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	embedder_set_sigcheck(e, false);
	rc = store_recording_foreach(s, member, load_one, &c, err);
	embedder_set_sigcheck(e, true);
	free(c.act);
	if (rc != 0 && err != NULL && err->msg[0] == '\0')
		dt_error_set(err, DT_E_NOMEM, "out of memory");
	return rc;
}

void
enroll_recs_free(struct enroll_rec *recs, int n, int n_new, int dim)
{
	int i;

	if (recs == NULL)
		return;
	for (i = n_new; i < n; i++) {
		if (recs[i].mv != NULL)
			sodium_memzero((void *)recs[i].mv, recs[i].n *
			    sizeof(float));
		free((void *)recs[i].mv);
		if (recs[i].emb != NULL)
			sodium_memzero(recs[i].emb, (size_t)dim *
			    sizeof(float));
		free(recs[i].emb);
	}
	free(recs);
}

int
enroll_check_duplicates(const struct enroll_rec *recs, int n, int n_new,
    struct dt_error *err)
{
	int i, j;

	for (i = 0; i < n_new; i++)
		for (j = 0; j < n; j++) {
			if (j == i || (j < n_new && j < i))
				continue;
			if (recs[i].n == recs[j].n && recs[i].fs ==
			    recs[j].fs && memcmp(recs[i].mv, recs[j].mv,
			    recs[i].n * sizeof(float)) == 0)
				return dt_error_set(err, DT_E_EXISTS, "%s: the "
				    "same recording as %s (one recording "
				    "enrolled twice would pass for two that "
				    "agree)", recs[i].name, recs[j].name);
		}
	return 0;
}

static double
cosine(const float *a, const float *b, int dim)
{
	double d = 0, na = 0, nb = 0;
	int k;

	for (k = 0; k < dim; k++) {
		d += (double)a[k] * b[k];
		na += (double)a[k] * a[k];
		nb += (double)b[k] * b[k];
	}
	return na > 0 && nb > 0 ? d / sqrt(na * nb) : 0;
}

int
enroll_check_agreement(struct enroll_rec *recs, int n, int n_new, int dim,
    double min_agreement, int *bad, struct dt_error *err)
{
	int i, j, worst = -1, m = 0;

	*bad = -1;
	for (i = 0; i < n; i++)
		m += recs[i].emb != NULL;
	for (i = 0; i < n; i++) {
		double sum = 0;
		int k = 0;

		recs[i].agreement = 1.0;
		if (recs[i].emb == NULL)
			continue;
		for (j = 0; j < n; j++)
			if (j != i && recs[j].emb != NULL) {
				sum += cosine(recs[i].emb, recs[j].emb, dim);
				k++;
			}
		if (k > 0)
			recs[i].agreement = sum / k;
		if (i < n_new && (worst < 0 ||
		    recs[i].agreement < recs[worst].agreement))
			worst = i;
	}
	if (worst < 0 || m < 2 || recs[worst].agreement >= min_agreement)
		return 0;
	if (m == 2) {
		for (j = 0; j < n; j++)
			if (j != worst && recs[j].emb != NULL)
				break;
		return dt_error_set(err, DT_E_INVALID, "%s and %s do not "
		    "agree: their templates' similarity %.2f is below %.2f "
		    "(--min-agreement): are both of this member?",
		    recs[worst].name, recs[j].name, recs[worst].agreement,
		    min_agreement);
	}
	*bad = worst;
	return dt_error_set(err, DT_E_INVALID, "%s does not agree with the "
	    "member's other recordings: mean similarity %.2f, below %.2f "
	    "(--min-agreement): is it of this member?", recs[worst].name,
	    recs[worst].agreement, min_agreement);
}

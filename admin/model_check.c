/* admin/model_check.c — a model's scores on the site's members. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin/model_check.h"
#include "pipeline/embed.h"

struct ctx {
	struct embedder *e;
	int dim, member;
	float *emb;		/* [cap][dim] */
	int *who;
	size_t n, cap;
	float *act;
	struct store *s;
	struct dt_error *err;
	char (*ids)[STORE_ID_MAX + 1];	/* [member] */
	int n_ids, cap_ids;
};

static int
one_recording(void *vctx, const struct store_recording *r)
{
	struct ctx *c = vctx;
	struct embed_result er = { 0 };
	struct dt_error e = { 0 };

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		float *ne = realloc(c->emb, cap * (size_t)c->dim *
		    sizeof(float));
		int *nw;

		if (ne == NULL)
			return -1;
		c->emb = ne;
		if ((nw = realloc(c->who, cap * sizeof(int))) == NULL)
			return -1;
		c->who = nw;
		c->cap = cap;
	}
	er.embedding = c->emb + c->n * (size_t)c->dim;
	er.activity = c->act;
	if (embedder_run(c->e, r->samples, r->n_samples, r->fs_hz, &er,
	    &e) != 0)
		return 0;	/* no usable window: no template either */
	c->who[c->n++] = c->member;
	return 0;
}

static int
one_member(void *vctx, const struct store_member *m)
{
	struct ctx *c = vctx;
	int rc;

	if (c->n_ids == c->cap_ids) {
		int cap = c->cap_ids ? 2 * c->cap_ids : 64;
		char (*ni)[STORE_ID_MAX + 1] = realloc(c->ids, (size_t)cap *
		    sizeof(*ni));

		if (ni == NULL)
			return -1;
		c->ids = ni;
		c->cap_ids = cap;
	}
	snprintf(c->ids[c->n_ids++], sizeof(c->ids[0]), "%s", m->id);
	rc = store_recording_foreach(c->s, m->id, one_recording, c, c->err);
	c->member++;
	return rc;
}

static void
ctx_free(struct ctx *c)
{
	if (c->emb != NULL)
		sodium_memzero(c->emb, c->cap * (size_t)c->dim * sizeof(float));
	free(c->emb);
	free(c->who);
	free(c->act);
	free(c->ids);
	embedder_free(c->e);
}

/* Every enrolled recording embedded by m, with its member. */
static int
collect(struct store *s, const struct nn_model *m, struct ctx *c,
    struct dt_error *err)
{
	memset(c, 0, sizeof(*c));
	c->dim = m->hp.embedding_dim;
	c->s = s;
	c->err = err;
	if ((c->act = calloc((size_t)m->n_activities + 1, sizeof(float))) ==
	    NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	if (embedder_create(m, 16, &c->e, err) != 0)
		return -1;
	embedder_set_sigcheck(c->e, false);
	if (store_member_list(s, one_member, c, err) != 0) {
		if (err != NULL && err->msg[0] == '\0')
			dt_error_set(err, DT_E_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static double
dotf(const float *a, const float *b, int dim)
{
	double d = 0;
	int k;

	for (k = 0; k < dim; k++)
		d += (double)a[k] * b[k];
	return d;
}

int
model_check_site(struct store *s, const struct nn_model *m, double thr,
    struct model_site *out, struct dt_error *err)
{
	struct ctx c;
	size_t i, j;
	int rc = -1, mb, k;
	double *best = NULL;

	memset(out, 0, sizeof(*out));
	if (collect(s, m, &c, err) != 0)
		goto out;
	if ((best = malloc((size_t)(c.n_ids > 0 ? c.n_ids : 1) *
	    sizeof(*best))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	out->n_members = c.n_ids;
	out->n_recordings = c.n;
	/* each recording, as a probe, against every other member's best
	 * template (a 1:N attempt by that member) */
	for (i = 0; i < c.n; i++) {
		for (mb = 0; mb < c.n_ids; mb++)
			best[mb] = -2;
		for (j = 0; j < c.n; j++) {
			double d;

			if (c.who[j] == c.who[i])
				continue;
			d = dotf(c.emb + i * (size_t)c.dim, c.emb + j *
			    (size_t)c.dim, c.dim);
			if (d > best[c.who[j]])
				best[c.who[j]] = d;
		}
		for (mb = 0; mb < c.n_ids; mb++) {
			if (best[mb] < -1)
				continue;
			out->n_comparisons++;
			out->n_mistaken += best[mb] >= thr;
			/* keep the closest three pairs */
			for (k = 0; k < 3; k++)
				if (best[mb] > out->worst[k].score ||
				    out->worst[k].a[0] == '\0')
					break;
			if (k < 3) {
				memmove(&out->worst[k + 1], &out->worst[k],
				    (size_t)(2 - k) * sizeof(out->worst[0]));
				out->worst[k].score = best[mb];
				snprintf(out->worst[k].a, sizeof(out->worst[k].a),
				    "%s", c.ids[c.who[i]]);
				snprintf(out->worst[k].b, sizeof(out->worst[k].b),
				    "%s", c.ids[mb]);
			}
		}
	}
	rc = 0;
out:
	free(best);
	ctx_free(&c);
	return rc;
}

int
model_check_scores(struct store *s, const struct nn_model *m,
    struct model_scores *out, struct dt_error *err)
{
	struct ctx c;
	double g = 0, im = 0, imax = -1;
	size_t i, j, ng = 0, ni = 0;
	int k, rc = -1;

	if (collect(s, m, &c, err) != 0)
		goto out;
	for (i = 0; i < c.n; i++)
		for (j = i + 1; j < c.n; j++) {
			const float *a = c.emb + i * (size_t)c.dim;
			const float *b = c.emb + j * (size_t)c.dim;
			double d = 0;

			for (k = 0; k < c.dim; k++)
				d += (double)a[k] * b[k];
			if (c.who[i] == c.who[j]) {
				g += d;
				ng++;
			} else {
				im += d;
				ni++;
				imax = d > imax ? d : imax;
			}
		}
	memset(out, 0, sizeof(*out));
	out->n_recordings = c.n;
	out->n_genuine = ng;
	out->n_impostor = ni;
	out->genuine_mean = ng ? g / (double)ng : 0;
	out->impostor_mean = ni ? im / (double)ni : 0;
	out->impostor_max = ni ? imax : 0;
	out->separation = (ng ? out->genuine_mean : 1.0) -
	    out->impostor_mean;
	rc = 0;
out:
	ctx_free(&c);
	return rc;
}

void
model_check_print(const char *label, const struct model_scores *sc)
{
	printf("%s: %zu recordings: genuine mean %.3f (%zu pairs), impostor "
	    "mean %.3f (max %.3f, %zu pairs), separation %.3f\n", label,
	    sc->n_recordings, sc->genuine_mean, sc->n_genuine,
	    sc->impostor_mean, sc->impostor_max, sc->n_impostor,
	    sc->separation);
}

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

	rc = store_recording_foreach(c->s, m->id, one_recording, c, c->err);
	c->member++;
	return rc;
}

int
model_check_scores(struct store *s, const struct nn_model *m,
    struct model_scores *out, struct dt_error *err)
{
	struct ctx c = { 0 };
	double g = 0, im = 0, imax = -1;
	size_t i, j, ng = 0, ni = 0;
	int k, rc = -1;

	c.dim = m->hp.embedding_dim;
	c.s = s;
	c.err = err;
	if ((c.act = calloc((size_t)m->n_activities + 1, sizeof(float))) ==
	    NULL || embedder_create(m, 16, &c.e, err) != 0)
		goto nomem;
	embedder_set_sigcheck(c.e, false);
	if (store_member_list(s, one_member, &c, err) != 0) {
		if (err != NULL && err->msg[0] == '\0')
			goto nomem;
		goto out;
	}
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
	goto out;
nomem:
	if (err != NULL && err->msg[0] == '\0')
		dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	if (c.emb != NULL)
		sodium_memzero(c.emb, c.cap * (size_t)c.dim * sizeof(float));
	free(c.emb);
	free(c.who);
	free(c.act);
	embedder_free(c.e);
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

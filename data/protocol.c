/* data/protocol.c — see protocol.h. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/protocol.h"

static const char *const names[DATA_PROTO_N] = {
	[DATA_PROTO_P1] = "p1",
	[DATA_PROTO_P2] = "p2",
	[DATA_PROTO_P3] = "p3",
	[DATA_PROTO_OPEN] = "open",
	[DATA_PROTO_ALL] = "all",
	[DATA_PROTO_P2_PTBXL] = "p2+ptbxl",
	[DATA_PROTO_P4] = "p4",
	[DATA_PROTO_XELECTRODE] = "xelectrode",
	[DATA_PROTO_REST_OTHER] = "rest-other",
	[DATA_PROTO_SITE] = "site",
	[DATA_PROTO_ADAPT] = "adapt",
};

int
data_protocol_parse(const char *name, enum data_protocol *out)
{
	int i;

	for (i = 0; name != NULL && i < DATA_PROTO_N; i++)
		if (strcmp(name, names[i]) == 0) {
			*out = (enum data_protocol)i;
			return 0;
		}
	return -1;
}

const char *
data_protocol_name(enum data_protocol p)
{
	return (unsigned)p < DATA_PROTO_N ? names[p] : "?";
}

bool
data_protocol_is_open_set(enum data_protocol p)
{
	return p == DATA_PROTO_OPEN || (p >= DATA_PROTO_P2_PTBXL &&
	    p < DATA_PROTO_N);
}

void
data_l2_normalise(float *v, int n)
{
	double s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += (double)v[i] * v[i];
	s = sqrt(s) + 1e-12;
	for (i = 0; i < n; i++)
		v[i] = (float)(v[i] / s);
}

int
data_argmax(const float *v, int n)
{
	int i, b = 0;

	for (i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

int
data_mean_embeddings(const struct data_set *s, const float *emb, int E,
    enum data_key key, const int *subject_of, int n, bool fallback,
    float *out, int *count, struct dt_error *err)
{
	int *k_of = NULL, *cnt = NULL, *sub = NULL, i, j, k, pass, rc = -1;
	int ns = 0;
	size_t w;

	if (E < 1 || n < 0)
		return dt_error_set(err, DT_E_INVALID, "protocol: bad sizes");
	memset(out, 0, sizeof(float) * (size_t)n * (size_t)E);
	if ((cnt = calloc((size_t)n + 1, sizeof(int))) == NULL)
		goto nomem;
	/* the key of each subject (DATA_BY_SUBJECT): -1 when not collected */
	if (key == DATA_BY_SUBJECT) {
		for (w = 0; w < s->n; w++)
			if (s->w[w].subject >= ns)
				ns = s->w[w].subject + 1;
		if ((sub = malloc(sizeof(int) * ((size_t)ns + 1))) == NULL)
			goto nomem;
		for (i = 0; i < ns; i++)
			sub[i] = -1;
		for (k = 0; k < n; k++) {
			int sj = subject_of != NULL ? subject_of[k] : k;

			if (sj >= 0 && sj < ns)
				sub[sj] = k;
		}
	}
	if ((k_of = malloc(sizeof(int) * (s->n + 1))) == NULL)
		goto nomem;
	for (w = 0; w < s->n; w++) {
		k = key == DATA_BY_GROUP ? s->w[w].group :
		    sub != NULL && s->w[w].subject >= 0 &&
		    s->w[w].subject < ns ? sub[s->w[w].subject] : -1;
		k_of[w] = k >= 0 && k < n ? k : -1;
	}
	/* pass 0: gated windows; pass 1: every window of a key without */
	for (pass = 0; pass < (fallback ? 2 : 1); pass++)
		for (w = 0; w < s->n; w++) {
			k = k_of[w];
			if (k < 0 || (pass == 0 && !s->w[w].id_ok) ||
			    (pass == 1 && cnt[k] > 0))
				continue;
			for (j = 0; j < E; j++)
				out[(size_t)k * E + j] += emb[w * (size_t)E + j];
			if (pass == 0)
				cnt[k]++;
		}
	for (k = 0; k < n; k++) {
		data_l2_normalise(out + (size_t)k * E, E);
		if (count != NULL)
			count[k] = cnt[k];
	}
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	free(k_of);
	free(cnt);
	free(sub);
	return rc;
}

int
data_push(float **v, size_t *n, size_t *cap, float x)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4096;
		float *nv = realloc(*v, nc * sizeof(float));

		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = x;
	return 0;
}

int
data_open_set_score(const float *pe, const int *pid, int P,
    const float *te, const int *tid, int T, int E, struct data_open_set *out,
    struct dt_error *err)
{
	float *S = NULL;
	size_t gc = 0, ic = 0;
	int p, t, j;

	memset(out, 0, sizeof(*out));
	if (P == 0)
		return dt_error_set(err, DT_E_INVALID, "P2: no probes");
	if ((S = malloc(sizeof(float) * (size_t)P * (size_t)T + 1)) == NULL)
		goto nomem;
	for (p = 0; p < P; p++)
		for (t = 0; t < T; t++) {
			double d = 0;
			float sc;

			for (j = 0; j < E; j++)
				d += (double)pe[(size_t)p * E + j] *
				    te[(size_t)t * E + j];
			sc = (float)d;
			S[(size_t)p * T + t] = sc;
			if (pid[p] == tid[t] ? data_push(&out->gen, &out->n_gen,
			    &gc, sc) : data_push(&out->imp, &out->n_imp, &ic, sc))
				goto nomem;
		}
	if (data_verif_metrics(out->gen, out->n_gen, out->imp, out->n_imp,
	    &out->v, err) != 0)
		goto fail;
	out->rank1 = data_rank1(S, P, T, pid, tid);
	out->n_probes = P;
	out->n_enrolled = T;
	free(S);
	return 0;
nomem:
	dt_error_set(err, DT_E_NOMEM, "oom");
fail:
	free(S);
	data_open_set_free(out);
	return -1;
}

void
data_open_set_free(struct data_open_set *o)
{
	free(o->gen);
	free(o->imp);
	o->gen = o->imp = NULL;
	o->n_gen = o->n_imp = 0;
}

size_t
data_confusion_add(const struct data_set *s, const float *act, int K,
    long *conf)
{
	size_t w, n = 0;

	for (w = 0; w < s->n; w++) {
		int a = s->w[w].activity;

		if (a >= 0 && a < K) {
			conf[a * K + data_argmax(act + w * (size_t)K, K)]++;
			n++;
		}
	}
	return n;
}

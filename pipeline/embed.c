/* pipeline/embed.c — recording -> fused embedding + activity (embed.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ecg/prep.h"
#include "ecg/sigcheck.h"
#include "nn/net.h"
#include "pipeline/activity.h"
#include "pipeline/embed.h"

struct embedder {
	const struct nn_model *m;	/* borrowed: outlives the embedder */
	/*
	 * nets[b] is a network built for exactly b windows, made the first time
	 * a chunk of b windows is run (chunk_of): a network runs its whole
	 * batch, so 6 windows through a network of 8 would cost 8.  Requests
	 * of one length (8 s at the kiosk: 6 windows) use one or two of them.
	 */
	struct nn_net **nets;	/* [batch + 1] */
	struct ecg_prep_params pp;
	struct act_calib cal;
	struct ecg_sigcheck_params sc;
	bool sigcheck;
	int batch, E, A;
};

int
embed_prep_params(const struct nn_model *m, struct ecg_prep_params *pp,
    struct dt_error *err)
{
	const char *g = nn_model_meta(m, "prep.id_gate");

	ecg_prep_params_default(pp, m->hp.fs_hz, m->hp.window);
	if (g != NULL && ecg_prep_gate_parse(g, &pp->id_gate) != 0)
		return dt_error_set(err, DT_E_INVALID, "model metadata "
		    "prep.id_gate \"%.32s\": hr-sat or sqi", g);
	return 0;
}

int
embedder_create(const struct nn_model *m, int batch, struct embedder **out,
    struct dt_error *err)
{
	struct embedder *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	e->m = m;
	e->batch = batch;
	e->E = m->hp.embedding_dim;
	e->A = m->n_activities;
	ecg_sigcheck_params_default(&e->sc);
	e->sigcheck = true;
	if (embed_prep_params(m, &e->pp, err) != 0 ||
	    act_calib_from_model(m, &e->cal, err) != 0)
		goto fail;
	e->nets = calloc((size_t)batch + 1, sizeof(*e->nets));
	if (e->nets == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto fail;
	}
	/* the full-batch network now, so a bad model fails here */
	if (nn_net_create(m, batch, &e->nets[batch], err) != 0)
		goto fail;
	*out = e;
	return 0;
fail:
	embedder_free(e);
	return -1;
}

/* The network for exactly k windows (1 <= k <= batch), built on first use. */
static struct nn_net *
net_for(struct embedder *e, int k, struct dt_error *err)
{
	if (e->nets[k] == NULL && nn_net_create(e->m, k, &e->nets[k], err) != 0)
		return NULL;
	return e->nets[k];
}

/*
 * How many of k windows (k >= 1) to run next: all of them up to 8 (a
 * request of 8 s has 6), else the full batch or the largest of 64, 48, 32,
 * 24, 16, 8 that fits, so a gathered batch of any size costs its own
 * windows (not the padding of a bigger network) with a few networks.
 */
static int
chunk_of(const struct embedder *e, int k)
{
	static const int sizes[] = { 64, 48, 32, 24, 16, 8 };
	size_t i;

	if (k <= 8 && k <= e->batch)
		return k;
	if (k >= e->batch)
		return e->batch;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (sizes[i] <= k)
			return sizes[i];
	return k;	/* not reached: k > 8 here */
}

int
embedder_forward(struct embedder *e, const float *windows, int n,
    float *emb, float *act, struct dt_error *err)
{
	struct nn_net *net;
	int done, k;

	for (done = 0; done < n; done += k) {
		k = chunk_of(e, n - done);
		if ((net = net_for(e, k, err)) == NULL ||
		    nn_net_run(net, windows + (size_t)done * e->m->hp.window,
		    k, emb + (size_t)done * e->E, act + (size_t)done * e->A,
		    err) != 0)
			return -1;
	}
	return 0;
}

static int
cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

int
embedder_prepare(struct embedder *e, const float *mv, size_t n, double fs_hz,
    struct ecg_windows *w, struct dt_error *err)
{
	struct ecg_sigcheck_result sr;
	float *y = NULL;
	size_t ny = 0;
	int rc;

	memset(w, 0, sizeof(*w));
	/* not an ECG at all: refused before the network sees it */
	if (e->sigcheck && ecg_sigcheck_raw(mv, n, err) != 0)
		return -1;
	if (ecg_prep_filter(mv, n, fs_hz, &e->pp, &y, &ny, err) != 0)
		return -1;
	rc = (e->sigcheck && ecg_sigcheck(y, ny, e->pp.fs_hz, &e->sc, &sr,
	    err) != 0) || ecg_prep_windows(y, ny, &e->pp, w, err) != 0 ? -1 : 0;
	explicit_bzero(y, ny * sizeof(*y));
	free(y);
	return rc;
}

int
embedder_fuse(struct embedder *e, const struct ecg_windows *w,
    const float *emb, float *act, struct embed_result *r,
    struct dt_error *err)
{
	double *sum_e = NULL, *sum_a = NULL, norm = 0.0;
	float *hr = NULL;
	int i, j, n_hr = 0, rc = -1;

	sum_e = calloc((size_t)e->E, sizeof(double));
	sum_a = calloc((size_t)e->A, sizeof(double));
	hr = calloc((size_t)w->n + 1, sizeof(float));
	if (sum_e == NULL || sum_a == NULL || hr == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < w->n; i++) {
		/* activity: every window cut (finite and not flat), each
		 * calibrated before the mean */
		act_calib_apply(&e->cal, act + (size_t)i * e->A, e->A);
		for (j = 0; j < e->A; j++)
			sum_a[j] += act[(size_t)i * e->A + j];
		if (!w->id_ok[i])
			continue;
		for (j = 0; j < e->E; j++)
			sum_e[j] += emb[(size_t)i * e->E + j];
		if (w->hr_bpm[i] > 0)
			hr[n_hr++] = w->hr_bpm[i];
	}
	for (j = 0; j < e->A; j++)
		r->activity[j] = w->n > 0 ? (float)(sum_a[j] / w->n) : 0.0f;
	r->windows_used = w->n_id_ok;
	r->windows_rejected = w->n - w->n_id_ok;
	r->heart_rate_bpm = 0.0f;
	if (w->n_id_ok == 0) {
		/* the activity stays answered (infer --fuse prints it) */
		dt_error_set(err, DT_E_SIG_NO_USABLE_WINDOW,
		    "no window usable for identity: %d window%s, none with a "
		    "heart rate of %.0f-%.0f bpm and %s", w->n, w->n == 1 ?
		    "" : "s", e->pp.hr_min_bpm, e->pp.hr_max_bpm,
		    e->pp.id_gate == ECG_GATE_SQI ? "alike beats, at most "
		    "half saturated" : "an unsaturated amplitude");
		goto out;
	}
	for (j = 0; j < e->E; j++)
		norm += sum_e[j] * sum_e[j];
	norm = sqrt(norm);
	if (norm < 1e-12)
		norm = 1e-12;
	for (j = 0; j < e->E; j++)
		r->embedding[j] = (float)(sum_e[j] / norm);
	if (n_hr > 0) {
		qsort(hr, (size_t)n_hr, sizeof(float), cmp_float);
		r->heart_rate_bpm = n_hr % 2 ? hr[n_hr / 2] :
		    0.5f * (hr[n_hr / 2 - 1] + hr[n_hr / 2]);
	}
	rc = 0;
out:
	/* embeddings of a person are biometric data */
	if (sum_e != NULL)
		explicit_bzero(sum_e, sizeof(double) * (size_t)e->E);
	free(sum_e);
	free(sum_a);
	free(hr);
	return rc;
}

int
embedder_run(struct embedder *e, const float *mv, size_t n, double fs_hz,
    struct embed_result *r, struct dt_error *err)
{
	struct ecg_windows w = { 0 };
	float *emb = NULL, *act = NULL;
	int rc = -1;

	if (embedder_prepare(e, mv, n, fs_hz, &w, err) != 0)
		goto out;
	emb = malloc(sizeof(float) * ((size_t)w.n * e->E + 1));
	act = malloc(sizeof(float) * ((size_t)w.n * e->A + 1));
	if (emb == NULL || act == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	if (embedder_forward(e, w.data, w.n, emb, act, err) != 0)
		goto out;
	rc = embedder_fuse(e, &w, emb, act, r, err);
out:
	if (emb != NULL)
		explicit_bzero(emb, sizeof(float) * (size_t)w.n * e->E);
	free(emb);
	free(act);
	ecg_windows_free(&w);
	return rc;
}

void
embedder_set_sigcheck(struct embedder *e, bool on)
{
	e->sigcheck = on;
}

int
embed_model_load(const void *buf, size_t len, const char *id, int want_dim,
    const char *where, struct nn_model **out, struct dt_error *err)
{
	struct nn_model *m = NULL;

	if (nn_model_load_buffer(buf, len, id, &m, err) != 0)
		return -1;
	if (m->hp.embedding_dim != want_dim) {
		dt_error_set(err, DT_E_FORMAT, "model %s: embedding_dim %d in "
		    "the file, %d in %s", id, m->hp.embedding_dim, want_dim,
		    where);
		nn_model_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

const struct nn_model *
embedder_model(const struct embedder *e)
{
	return e->m;
}

int
embedder_activity_label(const struct embedder *e, const float *activity)
{
	return act_calib_label(&e->cal, activity, e->A);
}

void
embedder_free(struct embedder *e)
{
	int k;

	if (e == NULL)
		return;
	for (k = 0; e->nets != NULL && k <= e->batch; k++)
		nn_net_free(e->nets[k]);
	free(e->nets);
	free(e);
}

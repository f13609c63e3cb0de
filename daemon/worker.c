/*
 * daemon/worker.c — the per-thread context of dt4ecgd's server threads: its
 * own store connection and its own network (oneDNN's OpenMP runtime wants
 * primitives run by the thread that created them), both built lazily in the
 * thread on its first request, and rebuilt when the generation (reload) or
 * the store's active model or batch_max changes.  Freed by the pthread key destructor
 * when the thread exits.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/dmn.h"
#include "nn/model.h"
#include "nn/net.h"
#include "pipeline/activity.h"
#include "pipeline/embed.h"
#include "store/match.h"
#include "store/store.h"
#include "util/log.h"

struct worker {
	uint64_t gen_id;
	struct store *store;
	struct nn_model *model;
	struct embedder *emb;
	char model_id[STORE_ID_MAX + 1];
	unsigned batch;			/* the embedder's: cfg batch_max */
	bool omp_set;
};

static pthread_key_t worker_key;
static bool worker_key_ok;

static void
worker_free(void *p)
{
	struct worker *w = p;

	if (w == NULL)
		return;
	embedder_free(w->emb);
	nn_model_free(w->model);
	store_close(w->store);
	free(w);
}

int
worker_init(struct dt_error *err)
{
	if (pthread_key_create(&worker_key, worker_free) != 0)
		return dt_error_set(err, DT_E_INTERNAL,
		    "pthread_key_create failed");
	worker_key_ok = true;
	return 0;
}

void
worker_shutdown(void)
{
	struct worker *w;

	if (!worker_key_ok)
		return;
	/* The main thread never serves, but be tidy if it did. */
	w = pthread_getspecific(worker_key);
	worker_free(w);
	pthread_setspecific(worker_key, NULL);
	pthread_key_delete(worker_key);
	worker_key_ok = false;
}

struct worker *
worker_self(void)
{
	struct worker *w = pthread_getspecific(worker_key);

	if (w != NULL)
		return w;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if (pthread_setspecific(worker_key, w) != 0) {
		free(w);
		return NULL;
	}
	return w;
}

/* Loads model ID from the worker's store and builds its embedder. */
static int
build_embedder(struct worker *w, const char *id, int dim, unsigned batch,
    struct dt_error *err)
{
	struct store_model *sm = NULL;
	struct nn_model *m = NULL;
	struct embedder *e = NULL;
	int rc = -1;

	if (store_model_get(w->store, id, &sm, err) != 0)
		goto out;
	if (embed_model_load(sm->bytes, sm->n_bytes, id, dim, "the index", &m,
	    err) != 0)
		goto out;
	if (nn_model_precision(m) != nn_get_precision())
		log_warnx("model %s has no int8 calibration (dt4ecg-admin "
		    "quantize): served at f32", id);
	if (embedder_create(m, (int)batch, &e, err) != 0)
		goto out;
	embedder_free(w->emb);
	nn_model_free(w->model);
	w->emb = e;
	w->model = m;
	w->batch = batch;
	m = NULL;
	snprintf(w->model_id, sizeof(w->model_id), "%s", id);
	log_debug("worker %lu: model %s loaded",
	    (unsigned long)pthread_self(), id);
	rc = 0;
out:
	if (rc != 0)
		dt_error_prefix(err, "model %s", id);
	nn_model_free(m);
	store_model_free(sm);
	return rc;
}

enum problem_kind
worker_prepare_store(struct worker *w, struct dmn_gen *g,
    struct dt_error *err)
{
	if (w->store == NULL || w->gen_id != g->id) {
		store_close(w->store);
		w->store = NULL;
		if (dmn_gen_open_store(g, &w->store, err) != 0)
			return problem_from_errc(err->code) == PROBLEM_UNAVAILABLE ?
			    PROBLEM_UNAVAILABLE : PROBLEM_INTERNAL;
		w->gen_id = g->id;
	}
	return PROBLEM_OK;
}

enum problem_kind
worker_prepare(struct worker *w, struct dmn_gen *g, bool need_model,
    struct dt_error *err)
{
	struct match_stats st;
	enum problem_kind pk;

	if (!w->omp_set) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned nthr = cfg_threads(&g->cfg);
		int per = g->cfg.network_threads > 0 ?
		    (int)g->cfg.network_threads : ncpu > 0 && nthr > 0 ?
		    (int)(ncpu / nthr) : 1;

		nn_set_threads(per < 1 ? 1 : per);
		w->omp_set = true;
	}
	if ((pk = worker_prepare_store(w, g, err)) != PROBLEM_OK)
		return pk;
	if (match_index_refresh(g->index, w->store, NULL, err) != 0)
		return err->code == DT_E_BUSY ? PROBLEM_UNAVAILABLE :
		    PROBLEM_INTERNAL;
	match_index_stats(g->index, &st);
	if (st.model[0] == '\0') {
		dt_error_set(err, DT_E_NOTFOUND, "no active model in the store");
		return PROBLEM_NO_MODEL;
	}
	if (!need_model || (w->emb != NULL &&
	    strcmp(w->model_id, st.model) == 0 &&
	    w->batch == g->cfg.batch_max))
		return PROBLEM_OK;
	if (build_embedder(w, st.model, st.dim, g->cfg.batch_max, err) != 0)
		return err->code == DT_E_BUSY ? PROBLEM_UNAVAILABLE :
		    PROBLEM_INTERNAL;
	return PROBLEM_OK;
}

struct store *
worker_store(struct worker *w)
{
	return w->store;
}

struct embedder *
worker_embedder(struct worker *w)
{
	return w->emb;
}

const char *
worker_model_id(const struct worker *w)
{
	return w->model_id;
}

int
worker_embedding_dim(const struct worker *w)
{
	return w->model != NULL ? w->model->hp.embedding_dim : 0;
}

int
worker_n_activities(const struct worker *w)
{
	return w->model != NULL ? w->model->n_activities : 0;
}

const char *
worker_activity_label(const struct worker *w, const float *activity)
{
	if (w->model == NULL || w->emb == NULL || w->model->n_activities < 1)
		return "";
	return act_label_name(w->model, embedder_activity_label(w->emb,
	    activity));
}

const char *
worker_activity_name(const struct worker *w, int i)
{
	if (w->model == NULL || i < 0 || i >= w->model->n_activities)
		return "";
	return w->model->activities[i];
}

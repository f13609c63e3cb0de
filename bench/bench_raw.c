/*
 * bench/bench_raw.c — the network alone, as the baseline the load benches
 * compare dt4ecgd with in the same run: nn_net_run on one network per
 * thread, a batch per call, random windows.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "nn/model.h"
#include "nn/net.h"
#include "util/rng.h"

struct raw {
	const struct nn_model *m;
	long windows;		/* per thread */
	int per_request;
	double seconds;
	int fail;
};

static void *
raw_main(void *arg)
{
	struct raw *r = arg;
	struct dt_error err = { 0 };
	struct nn_net *net = NULL;
	const struct nn_hparams *hp = &r->m->hp;
	float *x = NULL, *emb = NULL, *act = NULL;
	struct dt_rng rng;
	long done;
	size_t i, nx = (size_t)r->per_request * (size_t)hp->window;
	double t0;

	nn_set_threads(1);
	x = malloc(nx * sizeof(float));
	emb = malloc((size_t)r->per_request * (size_t)hp->embedding_dim *
	    sizeof(float));
	act = malloc((size_t)r->per_request * (size_t)r->m->n_activities *
	    sizeof(float));
	if (x == NULL || emb == NULL || act == NULL ||
	    nn_net_create(r->m, r->per_request, &net, &err) != 0) {
		r->fail = 1;
		goto out;
	}
	dt_rng_seed(&rng, 3);
	for (i = 0; i < nx; i++)
		x[i] = (float)dt_rng_normal(&rng);
	nn_net_run(net, x, r->per_request, emb, act, &err);	/* warm-up */
	t0 = bench_now();
	for (done = 0; done < r->windows; done += r->per_request)
		if (nn_net_run(net, x, r->per_request, emb, act, &err) != 0) {
			r->fail = 1;
			break;
		}
	r->seconds = bench_now() - t0;
out:
	nn_net_free(net);
	free(x);
	free(emb);
	free(act);
	return NULL;
}

double
bench_raw_rate(const struct nn_model *m, int p, long windows,
    int per_request)
{
	pthread_t th[BENCH_RAW_MAX_THREADS];
	struct raw r[BENCH_RAW_MAX_THREADS];
	double tmax = 0;
	int i;

	if (p < 1 || p > BENCH_RAW_MAX_THREADS)
		return -1;
	for (i = 0; i < p; i++) {
		r[i] = (struct raw){ m, windows / p + 1, per_request, 0, 0 };
		if (pthread_create(&th[i], NULL, raw_main, &r[i]) != 0)
			return -1;
	}
	for (i = 0; i < p; i++) {
		pthread_join(th[i], NULL);
		if (r[i].fail)
			return -1;
		if (r[i].seconds > tmax)
			tmax = r[i].seconds;
	}
	return tmax > 0 ? (double)(windows / p + 1) * p / tmax : -1;
}

/*
 * bench/bench_train.c — `dt4ecg-bench train`: training throughput of the
 * default network (DESIGN.md section 9): one optimisation step at batch B on
 * random windows with random identity (90 subjects) and activity (6) labels
 * for every window, so both losses are present and GradNorm really runs.
 *
 * windows/s is the median over timed chunks of steps, after a warm-up.
 * gflops = 3 x the inference FLOPs per window (nn_hparams_flops: convolutions,
 * SCA MLPs and convolutions, heads; multiply-adds x 2) x windows/s: the usual
 * forward + backward-data + backward-weights estimate.  It counts neither the
 * element-wise work (BN, SCA, losses) nor GradNorm's extra backward-weights
 * of the last convolution, so GradNorm runs show fewer GFLOP/s for the same
 * windows/s.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "nn/model.h"
#include "nn/net.h"
#include "nn/train.h"

#define N_SUBJECTS 90
#define N_BATCHES 8

static const char *const acts6[] = { "rest", "arms", "walk", "run", "squat",
	"cycle" };

#define CHUNK 3		/* steps timed together; also the warm-up */

struct train_opts {
	struct bench_run_opts r;
	bool gradnorm_only_off;
};

struct steps {
	struct nn_trainer *t;
	const float *x;
	const int *yi, *ya;
	int batch, W, k;
};

/* CHUNK optimisation steps, each on the next of the N_BATCHES batches. */
static int
run_steps(void *vc, struct dt_error *err)
{
	struct steps *c = vc;
	const int batch = c->batch;
	int i;

	for (i = 0; i < CHUNK; i++, c->k++)
		if (nn_trainer_step(c->t, c->x + (size_t)(c->k % N_BATCHES) *
		    batch * c->W, c->yi + (c->k % N_BATCHES) * batch,
		    c->ya + (c->k % N_BATCHES) * batch, batch, NULL, err) != 0)
			return -1;
	return 0;
}

static int
run_config(const struct nn_model *m, const float *x, const int *yi,
    const int *ya, int batch, int threads, bool gradnorm, double seconds,
    double *wps, double *cpu_wps)
{
	struct dt_error err = { 0 };
	struct nn_train_opts o;
	struct steps c = { .x = x, .yi = yi, .ya = ya, .batch = batch,
		.W = m->hp.window };
	struct bench_stats st;
	int rc;

	nn_set_threads(threads);
	nn_train_opts_default(&o);
	o.batch = batch;
	o.total_steps = 1000000;
	o.gradnorm = gradnorm;
	if (nn_trainer_create(m, &o, &c.t, &err) != 0) {
		fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
		return -1;
	}
	rc = bench_time(run_steps, &c, 1, seconds, 3, CHUNK, &st);
	nn_trainer_free(c.t);
	if (rc != 0)
		return -1;
	*wps = batch / st.p50;
	*cpu_wps = batch / st.cpu;
	return 0;
}

static int
set(void *vo, int ch, const char *arg)
{
	struct train_opts *o = vo;

	if (ch != 'G')
		return 0;
	o->gradnorm_only_off = true;
	return 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: dt4ecg-bench train [--threads N[,N...]] [--batch N] "
	    "[--no-gradnorm] [--seconds S] [--json]\n"
	    "  Training throughput of the default network on random data, "
	    "with and\n  without GradNorm (default threads 1,2; batch 64; "
	    "4 s per configuration).\n");
}

int
bench_train_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		BENCH_RUN_LONGOPTS,
		{ "no-gradnorm", no_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct train_opts o = { .r = { .threads = { 1, 2 }, .n_threads = 2,
		.batch = 64, .seconds = 4.0 } };
	struct dt_error err = { 0 };
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct dt_rng r;
	float *x = NULL;
	int *yi = NULL, *ya = NULL;
	double flops;
	size_t i, nx;
	int ti, g, rc = 1;

	if ((g = bench_run_getopt(argc, argv, longopts, 2, &o.r, set, &o,
	    usage)) >= 0)
		return g;
	nn_hparams_default(&hp);
	if (nn_model_create(&hp, N_SUBJECTS, 6, acts6, 1, &m, &err) != 0) {
		fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
		return 1;
	}
	flops = nn_hparams_flops(&m->hp, m->n_activities);
	nx = (size_t)N_BATCHES * o.r.batch;
	x = malloc(sizeof(float) * nx * hp.window);
	yi = malloc(sizeof(int) * nx);
	ya = malloc(sizeof(int) * nx);
	if (x == NULL || yi == NULL || ya == NULL) {
		fprintf(stderr, "dt4ecg-bench: out of memory\n");
		goto out;
	}
	dt_rng_seed(&r, 7);
	for (i = 0; i < nx * hp.window; i++)
		x[i] = (float)dt_rng_normal(&r);
	for (i = 0; i < nx; i++) {
		yi[i] = (int)(dt_rng_next(&r) % N_SUBJECTS);
		ya[i] = (int)(dt_rng_next(&r) % 6);
	}
	if (!o.r.json)
		printf("train: default network, batch %d, random data, "
		    "3 x %.1f MFLOP per window\n%8s %9s %13s %8s\n", o.r.batch,
		    flops / 1e6, "threads", "gradnorm", "windows/s",
		    "GFLOP/s");
	for (ti = 0; ti < o.r.n_threads; ti++)
		for (g = o.gradnorm_only_off ? 0 : 1; g >= 0; g--) {
			double wps, cpu_wps;

			if (run_config(m, x, yi, ya, o.r.batch, o.r.threads[ti],
			    g == 1, o.r.seconds, &wps, &cpu_wps) != 0)
				goto out;
			if (o.r.json)
				printf("{\"bench\":\"train\",\"threads\":%d,"
				    "\"batch\":%d,\"gradnorm\":%s,"
				    "\"windows_per_s\":%.1f,\"gflops\":%.2f,"
				    "\"windows_per_cpu_s\":%.1f}\n",
				    o.r.threads[ti], o.r.batch,
				    g ? "true" : "false", wps,
				    3.0 * flops * wps / 1e9, cpu_wps);
			else
				printf("%8d %9s %13.1f %8.2f\n", o.r.threads[ti],
				    g ? "yes" : "no", wps,
				    3.0 * flops * wps / 1e9);
			fflush(stdout);
		}
	rc = 0;
out:
	free(x);
	free(yi);
	free(ya);
	nn_model_free(m);
	return rc;
}

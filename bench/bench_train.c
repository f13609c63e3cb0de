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

struct train_opts {
	int threads[8];
	int n_threads;
	int batch;
	double seconds;
	bool json, gradnorm_only_off;
};

static int
run_config(const struct nn_model *m, const float *x, const int *yi,
    const int *ya, int batch, int threads, bool gradnorm, double seconds,
    double *wps)
{
	struct dt_error err = { 0 };
	struct nn_train_opts o;
	struct nn_trainer *t = NULL;
	struct bench_samples s;
	struct bench_stats st;
	const int W = m->hp.window, chunk = 3;
	double t0, deadline;
	int i, k = 0;

	nn_set_threads(threads);
	nn_train_opts_default(&o);
	o.batch = batch;
	o.total_steps = 1000000;
	o.gradnorm = gradnorm;
	bench_samples_init(&s);
	if (nn_trainer_create(m, &o, &t, &err) != 0)
		goto fail;
	for (i = 0; i < 3; i++, k++)	/* warm-up: JIT, caches */
		if (nn_trainer_step(t, x + (size_t)(k % N_BATCHES) * batch * W,
		    yi + (k % N_BATCHES) * batch, ya + (k % N_BATCHES) * batch,
		    batch, NULL, &err) != 0)
			goto fail;
	deadline = bench_now() + seconds;
	do {
		t0 = bench_now();
		for (i = 0; i < chunk; i++, k++)
			if (nn_trainer_step(t, x + (size_t)(k % N_BATCHES) *
			    batch * W, yi + (k % N_BATCHES) * batch,
			    ya + (k % N_BATCHES) * batch, batch, NULL,
			    &err) != 0)
				goto fail;
		if (bench_samples_add(&s, (bench_now() - t0) / chunk) != 0)
			break;
	} while (bench_now() < deadline || s.n < 3);
	bench_samples_stats(&s, &st);
	*wps = batch / st.p50;
	bench_samples_free(&s);
	nn_trainer_free(t);
	return 0;
fail:
	fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
	bench_samples_free(&s);
	nn_trainer_free(t);
	return -1;
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
		{ "threads", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, 'b' },
		{ "seconds", required_argument, NULL, 's' },
		{ "no-gradnorm", no_argument, NULL, 'G' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct train_opts o = { .threads = { 1, 2 }, .n_threads = 2,
		.batch = 64, .seconds = 4.0 };
	struct dt_error err = { 0 };
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct nn_rng r;
	float *x = NULL;
	int *yi = NULL, *ya = NULL;
	double flops;
	size_t i, nx;
	int ch, ti, g, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if ((o.n_threads = bench_parse_int_list("--threads",
			    optarg, o.threads, 8, 1, 256)) < 1)
				return 2;
			break;
		case 'b':
			if (bench_parse_int("--batch", optarg, 2, 4096,
			    &o.batch) != 0)
				return 2;
			break;
		case 's':
			if (bench_parse_double("--seconds", optarg, 0.05, 600,
			    &o.seconds) != 0)
				return 2;
			break;
		case 'G':
			o.gradnorm_only_off = true;
			break;
		case 'j':
			o.json = true;
			break;
		default:
			usage();
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	nn_hparams_default(&hp);
	if (nn_model_create(&hp, N_SUBJECTS, 6, acts6, 1, &m, &err) != 0) {
		fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
		return 1;
	}
	flops = nn_hparams_flops(&m->hp, m->n_activities);
	nx = (size_t)N_BATCHES * o.batch;
	x = malloc(sizeof(float) * nx * hp.window);
	yi = malloc(sizeof(int) * nx);
	ya = malloc(sizeof(int) * nx);
	if (x == NULL || yi == NULL || ya == NULL) {
		fprintf(stderr, "dt4ecg-bench: out of memory\n");
		goto out;
	}
	nn_rng_seed(&r, 7);
	for (i = 0; i < nx * hp.window; i++)
		x[i] = nn_rng_normal(&r);
	for (i = 0; i < nx; i++) {
		yi[i] = (int)(nn_rng_next(&r) % N_SUBJECTS);
		ya[i] = (int)(nn_rng_next(&r) % 6);
	}
	if (!o.json)
		printf("train: default network, batch %d, random data, "
		    "3 x %.1f MFLOP per window\n%8s %9s %13s %8s\n", o.batch,
		    flops / 1e6, "threads", "gradnorm", "windows/s",
		    "GFLOP/s");
	for (ti = 0; ti < o.n_threads; ti++)
		for (g = o.gradnorm_only_off ? 0 : 1; g >= 0; g--) {
			double wps;

			if (run_config(m, x, yi, ya, o.batch, o.threads[ti],
			    g == 1, o.seconds, &wps) != 0)
				goto out;
			if (o.json)
				printf("{\"bench\":\"train\",\"threads\":%d,"
				    "\"batch\":%d,\"gradnorm\":%s,"
				    "\"windows_per_s\":%.1f,\"gflops\":%.2f}\n",
				    o.threads[ti], o.batch,
				    g ? "true" : "false", wps,
				    3.0 * flops * wps / 1e9);
			else
				printf("%8d %9s %13.1f %8.2f\n", o.threads[ti],
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

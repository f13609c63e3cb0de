/*
 * bench/bench_infer.c — `dt4ecg-bench infer`: the oneDNN network's latency at
 * batch 1, its throughput at a large batch, the GFLOP/s those mean against the
 * network's FLOP count, and the plain-C reference forward pass measured in the
 * same run as the baseline.  Figures are medians over repeated runs after a
 * warm-up.
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
#include "nn/ref.h"

struct infer_opts {
	const char *model;
	int threads[8];
	int n_threads;
	int batch;		/* throughput batch */
	double seconds;		/* per measurement */
	bool json;
	bool no_reference;
};

static const char *const default_acts[] = { "rest", "arms", "walk", "run",
	"squat" };

static int
load_model(const struct infer_opts *o, struct nn_model **m, const char **what)
{
	struct dt_error err = { 0 };
	struct nn_hparams hp;
	const char *path = o->model;

	if (path == NULL && bench_file_exists(BENCH_DEFAULT_MODEL))
		path = BENCH_DEFAULT_MODEL;
	if (path != NULL) {
		if (nn_model_load(path, m, &err) != 0) {
			fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
			return -1;
		}
		*what = path;
		return 0;
	}
	nn_hparams_default(&hp);
	if (nn_model_create(&hp, 90, 5, default_acts, 1, m, &err) != 0) {
		fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
		return -1;
	}
	*what = "random weights, default hyperparameters";
	return 0;
}

/* Latency of single runs of `batch` windows: p50, p99 in ms, and windows/s
 * from the median. */
static int
time_net(struct nn_net *net, const float *x, int batch, double seconds,
    struct bench_stats *st)
{
	struct dt_error err = { 0 };
	struct bench_samples s;
	double t0, deadline;
	int i;

	bench_samples_init(&s);
	for (i = 0; i < 5; i++)		/* warm-up: JIT, caches */
		if (nn_net_run(net, x, batch, NULL, NULL, &err) != 0)
			goto fail;
	deadline = bench_now() + seconds;
	do {
		t0 = bench_now();
		if (nn_net_run(net, x, batch, NULL, NULL, &err) != 0)
			goto fail;
		if (bench_samples_add(&s, bench_now() - t0) != 0)
			break;
	} while (bench_now() < deadline || s.n < 20);
	bench_samples_stats(&s, st);
	bench_samples_free(&s);
	return 0;
fail:
	fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
	bench_samples_free(&s);
	return -1;
}

static int
time_reference(const struct nn_model *m, const float *x, double seconds,
    double *windows_per_s)
{
	struct dt_error err = { 0 };
	struct bench_samples s;
	struct bench_stats st;
	double t0, deadline;

	bench_samples_init(&s);
	if (nn_ref_forward(m, x, 1, NULL, NULL, &err) != 0)
		goto fail;
	deadline = bench_now() + seconds;
	do {
		t0 = bench_now();
		if (nn_ref_forward(m, x, 1, NULL, NULL, &err) != 0)
			goto fail;
		if (bench_samples_add(&s, bench_now() - t0) != 0)
			break;
	} while (bench_now() < deadline || s.n < 3);
	bench_samples_stats(&s, &st);
	*windows_per_s = 1.0 / st.p50;
	bench_samples_free(&s);
	return 0;
fail:
	fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
	bench_samples_free(&s);
	return -1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: dt4ecg-bench infer [--model FILE] [--threads N[,N...]] "
	    "[--batch N] [--seconds S] [--no-reference] [--json]\n"
	    "  Measures batch-1 latency and batch-N throughput for each thread "
	    "count\n  (default 1,2; batch 64), with the plain-C reference "
	    "in the same run.\n");
}

int
bench_infer_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, 'b' },
		{ "seconds", required_argument, NULL, 's' },
		{ "no-reference", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct infer_opts o = { .threads = { 1, 2 }, .n_threads = 2,
		.batch = 64, .seconds = 2.0 };
	struct nn_model *m = NULL;
	const char *what = NULL;
	float *x = NULL;
	double flops, ref_wps = 0.0;
	int ch, i, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			o.model = optarg;
			break;
		case 't':
			if ((o.n_threads = bench_parse_int_list("--threads",
			    optarg, o.threads, 8, 1, 256)) < 1)
				return 2;
			break;
		case 'b':
			if (bench_parse_int("--batch", optarg, 1, 4096,
			    &o.batch) != 0)
				return 2;
			break;
		case 's':
			if (bench_parse_double("--seconds", optarg, 0.05, 600,
			    &o.seconds) != 0)
				return 2;
			break;
		case 'R':
			o.no_reference = true;
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
	if (load_model(&o, &m, &what) != 0)
		return 1;
	flops = nn_hparams_flops(&m->hp, m->n_activities);
	{
		struct nn_rng r;
		size_t n = (size_t)o.batch * m->hp.window;

		if ((x = malloc(sizeof(float) * n)) == NULL)
			goto out;
		nn_rng_seed(&r, 7);
		for (size_t k = 0; k < n; k++)
			x[k] = nn_rng_normal(&r);
	}
	if (!o.no_reference) {
		nn_set_threads(1);
		if (time_reference(m, x, o.seconds, &ref_wps) != 0)
			goto out;
	}
	if (!o.json) {
		printf("model: %s\n", what);
		printf("network: window %d, %.1f MFLOP per window; plain-C "
		    "reference: %.1f windows/s (1 thread)\n", m->hp.window,
		    flops / 1e6, ref_wps);
		printf("%-8s %-6s %12s %12s %12s %10s %10s %9s\n", "threads",
		    "batch", "windows/s", "p50 ms", "p99 ms", "GFLOP/s",
		    "vs ref", "RSS MB");
	}
	for (i = 0; i < o.n_threads; i++) {
		int batches[2] = { 1, o.batch }, b;

		nn_set_threads(o.threads[i]);
		for (b = 0; b < (o.batch == 1 ? 1 : 2); b++) {
			struct dt_error err = { 0 };
			struct nn_net *net = NULL;
			struct bench_stats st;
			double wps, gflops;

			if (nn_net_create(m, batches[b], &net, &err) != 0) {
				fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
				goto out;
			}
			if (time_net(net, x, batches[b], o.seconds, &st) != 0) {
				nn_net_free(net);
				goto out;
			}
			nn_net_free(net);
			wps = batches[b] / st.p50;
			gflops = wps * flops / 1e9;
			if (o.json)
				printf("{\"bench\":\"infer\",\"threads\":%d,"
				    "\"batch\":%d,\"windows_per_s\":%.1f,"
				    "\"latency_ms_p50\":%.4f,"
				    "\"latency_ms_p99\":%.4f,"
				    "\"flops_per_window\":%.0f,\"gflops\":%.2f,"
				    "\"reference_windows_per_s\":%.2f,"
				    "\"rss_mb\":%.1f}\n", o.threads[i],
				    batches[b], wps, st.p50 * 1e3,
				    st.p99 * 1e3, flops, gflops, ref_wps,
				    bench_rss_mb());
			else
				printf("%-8d %-6d %12.1f %12.4f %12.4f %10.1f "
				    "%9.0fx %9.1f\n", o.threads[i], batches[b],
				    wps, st.p50 * 1e3, st.p99 * 1e3, gflops,
				    ref_wps > 0 ? wps / ref_wps : 0.0,
				    bench_rss_mb());
			fflush(stdout);
		}
	}
	rc = 0;
out:
	free(x);
	nn_model_free(m);
	return rc;
}

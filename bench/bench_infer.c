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
	struct bench_run_opts r;	/* batch: the throughput batch */
	const char *model;
	bool no_reference;
	enum nn_precision prec[2];	/* --precision f32,int8 */
	int n_prec;
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

struct run {
	const struct nn_model *m;	/* the reference, or */
	struct nn_net *net;		/* the network */
	const float *x;
	int batch;
};

static int
run_once(void *vc, struct dt_error *err)
{
	struct run *c = vc;

	if (c->net != NULL)
		return nn_net_run(c->net, c->x, c->batch, NULL, NULL, err);
	return nn_ref_forward(c->m, c->x, 1, NULL, NULL, err);
}

/* Latency of single runs of `batch` windows: p50, p99 in ms, and windows/s
 * from the median. */
static int
time_net(struct nn_net *net, const float *x, int batch, double seconds,
    struct bench_stats *st)
{
	struct run c = { .net = net, .x = x, .batch = batch };

	return bench_time(run_once, &c, 5, seconds, 20, 1.0, st);
}

static int
time_reference(const struct nn_model *m, const float *x, double seconds,
    double *windows_per_s)
{
	struct run c = { .m = m, .x = x, .batch = 1 };
	struct bench_stats st;

	if (bench_time(run_once, &c, 1, seconds, 3, 1.0, &st) != 0)
		return -1;
	*windows_per_s = 1.0 / st.p50;
	return 0;
}

static int
set(void *vo, int ch, const char *arg)
{
	struct infer_opts *o = vo;

	if (ch == 'm')
		o->model = arg;
	else if (ch == 'R')
		o->no_reference = true;
	else if (ch == 'p') {
		char buf[32], *tok, *save = NULL;
		struct dt_error err = { 0 };

		snprintf(buf, sizeof(buf), "%s", arg);
		o->n_prec = 0;
		for (tok = strtok_r(buf, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			if (o->n_prec == 2 || nn_precision_parse(tok,
			    &o->prec[o->n_prec], &err) != 0) {
				fprintf(stderr, "dt4ecg-bench: --precision %s: "
				    "f32, int8 or f32,int8\n", arg);
				return -1;
			}
			o->n_prec++;
		}
		if (o->n_prec == 0) {
			fprintf(stderr, "dt4ecg-bench: --precision: empty\n");
			return -1;
		}
	} else
		return 0;
	return 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: dt4ecg-bench infer [--model FILE] [--threads N[,N...]] "
	    "[--batch N] [--seconds S] [--no-reference] [--json]\n"
	    "           [--precision f32|int8|f32,int8]\n"
	    "  Measures batch-1 latency and batch-N throughput for each thread "
	    "count\n  (default 1,2; batch 64) and precision (default f32; int8 "
	    "needs a model\n  calibrated by `dt4ecg-admin quantize`), with the "
	    "plain-C reference in the same run.\n");
}

int
bench_infer_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		BENCH_RUN_LONGOPTS,
		{ "no-reference", no_argument, NULL, 'R' },
		{ "precision", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct infer_opts o = { .r = { .threads = { 1, 2 }, .n_threads = 2,
		.batch = 64, .seconds = 2.0 }, .prec = { NN_PREC_F32 },
		.n_prec = 1 };
	struct nn_model *m = NULL;
	const char *what = NULL;
	float *x = NULL;
	double flops, ref_wps = 0.0;
	int i, rc = 1;

	if ((i = bench_run_getopt(argc, argv, longopts, 1, &o.r, set, &o,
	    usage)) >= 0)
		return i;
	if (load_model(&o, &m, &what) != 0)
		return 1;
	flops = nn_hparams_flops(&m->hp, m->n_activities);
	{
		struct dt_rng r;
		size_t n = (size_t)o.r.batch * m->hp.window;

		if ((x = malloc(sizeof(float) * n)) == NULL)
			goto out;
		dt_rng_seed(&r, 7);
		for (size_t k = 0; k < n; k++)
			x[k] = (float)dt_rng_normal(&r);
	}
	if (!o.no_reference) {
		nn_set_threads(1);
		if (time_reference(m, x, o.r.seconds, &ref_wps) != 0)
			goto out;
	}
	if (!o.r.json) {
		printf("model: %s\n", what);
		printf("network: window %d, %.1f MFLOP per window; plain-C "
		    "reference: %.1f windows/s (1 thread)\n", m->hp.window,
		    flops / 1e6, ref_wps);
		printf("%-8s %-5s %-6s %12s %12s %12s %10s %10s %9s\n",
		    "threads", "prec", "batch", "windows/s", "p50 ms", "p99 ms", "GFLOP/s",
		    "vs ref", "RSS MB");
	}
	for (i = 0; i < o.r.n_threads * o.n_prec; i++) {
		int batches[2] = { 1, o.r.batch }, b, t = i / o.n_prec;
		enum nn_precision prec = o.prec[i % o.n_prec];

		nn_set_threads(o.r.threads[t]);
		for (b = 0; b < (o.r.batch == 1 ? 1 : 2); b++) {
			struct dt_error err = { 0 };
			struct nn_net *net = NULL;
			struct bench_stats st;
			double wps, gflops;

			if (nn_net_create_prec(m, batches[b], prec, &net,
			    &err) != 0) {
				fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
				goto out;
			}
			if (time_net(net, x, batches[b], o.r.seconds, &st) != 0) {
				nn_net_free(net);
				goto out;
			}
			nn_net_free(net);
			wps = batches[b] / st.p50;
			gflops = wps * flops / 1e9;
			if (o.r.json)
				printf("{\"bench\":\"infer\",\"threads\":%d,"
				    "\"precision\":\"%s\",\"batch\":%d,\"windows_per_s\":%.1f,"
				    "\"latency_ms_p50\":%.4f,"
				    "\"latency_ms_p99\":%.4f,"
				    "\"latency_ms_min\":%.4f,"
				    "\"cpu_ms\":%.4f,"
				    "\"flops_per_window\":%.0f,\"gflops\":%.2f,"
				    "\"reference_windows_per_s\":%.2f,"
				    "\"rss_mb\":%.1f}\n", o.r.threads[t],
				    nn_precision_name(prec), batches[b], wps, st.p50 * 1e3,
				    st.p99 * 1e3, st.min * 1e3, st.cpu * 1e3,
				    flops, gflops,
				    ref_wps,
				    bench_rss_mb());
			else
				printf("%-8d %-5s %-6d %12.1f %12.4f %12.4f "
				    "%10.1f %9.0fx %9.1f\n", o.r.threads[t],
				    nn_precision_name(prec), batches[b],
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

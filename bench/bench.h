/*
 * bench/bench.h — what the dt4ecg-bench subcommands share: a monotonic
 * clock, sample collection with percentiles, resident memory, and argument
 * parsing.
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define BENCH_DEFAULT_MODEL "models/dt4ecg-default.safetensors"

struct bench_samples {
	double *v;
	size_t n, cap;
};

struct bench_stats {
	double p50, p99, min, max, mean;
	double cpu;		/* bench_time: process CPU seconds per sample */
	size_t n;
};

/* The options of the timing benches (infer, train). */
struct bench_run_opts {
	int threads[8];
	int n_threads;
	int batch;
	double seconds;		/* per measurement */
	bool json;
};

/* Their entries of a getopt_long table. */
#define BENCH_RUN_LONGOPTS \
	{ "threads", required_argument, NULL, 't' }, \
	{ "batch", required_argument, NULL, 'b' }, \
	{ "seconds", required_argument, NULL, 's' }, \
	{ "json", no_argument, NULL, 'j' }

struct option;

/*
 * Parses the options of a timing bench (getopt_long with LONGOPTS, which
 * holds BENCH_RUN_LONGOPTS): those into O (BATCH_MIN: the least --batch),
 * the others passed to SET(CTX, letter, optarg), which returns 0 for one it
 * does not take and -1 for a bad value (said on stderr).  Returns -1 to go on, 2 after a bad value (said on
 * stderr), else prints USAGE (--help, an option not taken, an operand) and
 * returns 0 for --help, 2 otherwise.
 */
int bench_run_getopt(int argc, char **argv, const struct option *longopts,
    int batch_min, struct bench_run_opts *o,
    int (*set)(void *ctx, int ch, const char *arg), void *ctx,
    void (*usage)(void));

double bench_now(void);		/* seconds, CLOCK_MONOTONIC */

/*
 * Times FN(CTX, err): WARMUP calls, then calls for SECONDS and at least
 * MIN_N times, each call's time divided by PER being one sample, into ST.
 * When FN fails, says its error on stderr and returns -1.
 */
int bench_time(int (*fn)(void *ctx, struct dt_error *err), void *ctx,
    int warmup, double seconds, size_t min_n, double per,
    struct bench_stats *st);
void bench_samples_init(struct bench_samples *s);
int bench_samples_add(struct bench_samples *s, double v);	/* -1: full */
void bench_samples_stats(struct bench_samples *s, struct bench_stats *st);
void bench_samples_free(struct bench_samples *s);

/* Sorts v in place; p in 0..1, linear interpolation. */
double bench_percentile(double *v, size_t n, double p);

double bench_rss_mb(void);	/* VmRSS of this process */
/* VmRSS of process PID (this one when 0), -1 when unreadable. */
double bench_rss_mb_of(long pid);
bool bench_file_exists(const char *path);
/* Raw windows/s of model M with P threads (1..BENCH_RAW_MAX_THREADS), each
 * running its share of WINDOWS in batches of PER_REQUEST (bench_raw.c);
 * -1 on failure. */
#define BENCH_RAW_MAX_THREADS 64
struct nn_model;
double bench_raw_rate(const struct nn_model *m, int p, long windows,
    int per_request);
/* The value of the Prometheus text line starting with NAME (its labels
 * included) in TEXT, or 0. */
double bench_metric(const char *text, const char *name);

/* Option values: on a bad one, say so on stderr naming the option `opt`
 * and the range, and return -1. */
int bench_parse_int(const char *opt, const char *s, int lo, int hi,
    int *out);
int bench_parse_double(const char *opt, const char *s, double lo, double hi,
    double *out);
/* "1,2,4" -> out[]; returns the count, or -1. */
int bench_parse_int_list(const char *opt, const char *s, int *out, int max,
    int lo, int hi);

int bench_infer_main(int argc, char **argv);
int bench_match_main(int argc, char **argv);
int bench_load_main(int argc, char **argv);
/* load --replicas: several dt4ecgd on one store (bench_chain.c) */
int bench_chain_main(int argc, char **argv);
int bench_soak_main(int argc, char **argv);
int bench_train_main(int argc, char **argv);

#endif /* BENCH_BENCH_H */

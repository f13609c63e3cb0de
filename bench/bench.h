/*
 * bench/bench.h — what the dt4ecg-bench subcommands share: a monotonic
 * clock, sample collection with percentiles, resident memory, and argument
 * parsing.
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#define BENCH_DEFAULT_MODEL "models/dt4ecg-default.safetensors"

struct bench_samples {
	double *v;
	size_t n, cap;
};

struct bench_stats {
	double p50, p99, min, max, mean;
	size_t n;
};

double bench_now(void);		/* seconds, CLOCK_MONOTONIC */
void bench_samples_init(struct bench_samples *s);
int bench_samples_add(struct bench_samples *s, double v);	/* -1: full */
void bench_samples_stats(struct bench_samples *s, struct bench_stats *st);
void bench_samples_free(struct bench_samples *s);

/* Sorts v in place; p in 0..1, linear interpolation. */
double bench_percentile(double *v, size_t n, double p);

double bench_rss_mb(void);	/* VmRSS of this process */
bool bench_file_exists(const char *path);

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
int bench_train_main(int argc, char **argv);

#endif /* BENCH_BENCH_H */

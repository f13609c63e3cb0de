/*
 * bench/bench_match.c — `dt4ecg-bench match`: 1:N query latency and memory of
 * the matching engine (store/match.h) for N members, E = 128, random
 * L2-normalised templates, against a naive scalar loop in the same run.
 *
 *   dt4ecg-bench match [--members N]... [--queries Q] [--k K] [--threads T]
 *                      [--json]
 *
 * Without --members: 1000, 100000 and 1000000.  One query is one
 * match_identify(k) call; its scan runs on one thread below 256 k templates,
 * else on T threads (match_index_set_threads; default 1, 0 = one per CPU).
 * rss_mb is the process's resident set after the index is built (the naive
 * copy freed); index_mb counts float rows, int8 and 4-bit codes.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "store/match.h"

#define DIM 128
#define MAX_CONFIGS 16

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static void
randvec(float *v, int dim)
{
	match_rand_unit(&rng_state, v, dim);
}

/* The naive reference: one scalar dot product per template, best kept. */
static __attribute__((noinline)) size_t
naive_best(const float *t, size_t n, const float *q, float *best)
{
	size_t r, arg = 0;
	float b = -2;
	int i;

	for (r = 0; r < n; r++) {
		float s = 0;
		for (i = 0; i < DIM; i++)
			s += t[r * DIM + i] * q[i];
		if (s > b) {
			b = s;
			arg = r;
		}
	}
	*best = b;
	return arg;
}

static void
usage_to(FILE *f)
{
	fprintf(f, "usage: dt4ecg-bench match [--members N]... "
	    "[--queries Q] [--k K] [--threads T] [--json]\n");
}

static void
usage(void)
{
	usage_to(stderr);
}

int
bench_match_main(int argc, char **argv)
{
	size_t members[MAX_CONFIGS], nconf = 0, c, i, r;
	int json = 0, queries = 0, k = 5, threads = 1, a;
	struct dt_error err;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") ==
		    0) {
			usage_to(stdout);
			return 0;
		} else if (strcmp(argv[a], "--json") == 0)
			json = 1;
		else if (strcmp(argv[a], "--members") == 0 && a + 1 < argc &&
		    nconf < MAX_CONFIGS) {
			int v;

			if (bench_parse_int("--members", argv[++a], 1,
			    100000000, &v) != 0)
				return 2;
			members[nconf++] = (size_t)v;
		} else if (strcmp(argv[a], "--queries") == 0 && a + 1 < argc) {
			if (bench_parse_int("--queries", argv[++a], 0, 1000000,
			    &queries) != 0)
				return 2;
		} else if (strcmp(argv[a], "--k") == 0 && a + 1 < argc) {
			if (bench_parse_int("--k", argv[++a], 1, MATCH_K_MAX,
			    &k) != 0)
				return 2;
		} else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc) {
			if (bench_parse_int("--threads", argv[++a], 0, 64,
			    &threads) != 0)
				return 2;
		} else {
			usage();
			return 2;
		}
	}
	if (nconf == 0) {
		members[nconf++] = 1000;
		members[nconf++] = 100000;
		members[nconf++] = 1000000;
	}
	if (k < 1 || k > MATCH_K_MAX) {
		fprintf(stderr, "match: --k must be 1..%d\n", MATCH_K_MAX);
		return 2;
	}
	if (!json)
		printf("%-10s %4s %8s %12s %12s %9s %14s %12s %8s %s\n",
		    "members", "dim", "queries", "p50_ms", "p99_ms", "rss_mb",
		    "naive_p50_ms", "float_p50_ms", "speedup", "kernel");
	for (c = 0; c < nconf; c++) {
		size_t n = members[c], nq, nnaive;
		struct match_index *ix;
		struct match_hit hits[MATCH_K_MAX];
		struct match_stats st;
		size_t nh;
		float *t, q[DIM], best = 0;
		double *lat, *nlat, p50, p99, np50, fp50, rss;
		char id[32];
		int agree = 1;

		if (n == 0)
			continue;
		nq = queries > 0 ? (size_t)queries :
		    n <= 10000 ? 2000 : n <= 200000 ? 300 : 60;
		nnaive = nq < 20 ? nq : 20;
		if ((t = malloc(n * DIM * sizeof(float))) == NULL ||
		    (lat = calloc(nq, sizeof(double))) == NULL ||
		    (nlat = calloc(nnaive, sizeof(double))) == NULL) {
			fprintf(stderr, "match: out of memory for %zu members\n", n);
			return 1;
		}
		for (r = 0; r < n; r++)
			randvec(t + r * DIM, DIM);
		if (match_index_create(&ix, &err) == -1) {
			fprintf(stderr, "match: %s\n", err.msg);
			return 1;
		}
		match_index_set_threads(ix, threads);
		for (r = 0; r < n; r++) {
			snprintf(id, sizeof(id), "m%zu", r);
			if (match_index_add(ix, id, (int64_t)r + 1, t + r * DIM,
			    DIM, &err) == -1) {
				fprintf(stderr, "match: %s\n", err.msg);
				return 1;
			}
		}
		/* naive scalar loop, same data, same run */
		for (i = 0; i < nnaive + 2; i++) {
			size_t arg;
			double t0;
			randvec(q, DIM);
			t0 = (bench_now() * 1e3);
			arg = naive_best(t, n, q, &best);
			if (i >= 2)
				nlat[i - 2] = (bench_now() * 1e3) - t0;
			if (match_identify(ix, q, DIM, 1, hits, &nh, &err) == 0) {
				snprintf(id, sizeof(id), "m%zu", arg);
				agree &= strcmp(hits[0].member, id) == 0;
			}
		}
		np50 = bench_percentile(nlat, nnaive, 0.5);
		free(t);
		for (i = 0; i < nq + 5; i++) {
			double t0;
			randvec(q, DIM);
			t0 = (bench_now() * 1e3);
			if (match_identify(ix, q, DIM, (size_t)k, hits, &nh,
			    &err) == -1) {
				fprintf(stderr, "match: %s\n", err.msg);
				return 1;
			}
			if (i >= 5)
				lat[i - 5] = (bench_now() * 1e3) - t0;
		}
		p50 = bench_percentile(lat, nq, 0.5);
		p99 = bench_percentile(lat, nq, 0.99);
		/* the same engine without its int8 stage (float rows only) */
		match_index_float_scan(ix, 1);
		for (i = 0; i < nnaive + 2; i++) {
			double t0;
			randvec(q, DIM);
			t0 = (bench_now() * 1e3);
			match_identify(ix, q, DIM, (size_t)k, hits, &nh, &err);
			if (i >= 2)
				nlat[i - 2] = (bench_now() * 1e3) - t0;
		}
		fp50 = bench_percentile(nlat, nnaive, 0.5);
		rss = bench_rss_mb();
		match_index_stats(ix, &st);
		if (json)
			printf("{\"bench\":\"match\",\"members\":%zu,\"dim\":%d,"
			    "\"k\":%d,\"queries\":%zu,\"latency_ms_p50\":%.4f,"
			    "\"latency_ms_p99\":%.4f,\"rss_mb\":%.1f,"
			    "\"index_mb\":%.1f,\"naive_latency_ms_p50\":%.4f,"
			    "\"float_scan_latency_ms_p50\":%.4f,"
			    "\"kernel\":\"%s\",\"agrees_with_naive\":%s}\n",
			    n, DIM, k, nq, p50, p99, rss,
			    (double)st.bytes * 1.375 / 1048576.0, np50, fp50, st.kernel,
			    agree ? "true" : "false");
		else
			printf("%-10zu %4d %8zu %12.4f %12.4f %9.1f %14.4f %12.4f "
			    "%7.1fx %s%s\n", n, DIM, nq, p50, p99, rss, np50, fp50,
			    np50 / p50,
			    st.kernel, agree ? "" : " (DISAGREES WITH NAIVE)");
		fflush(stdout);
		match_index_free(ix);
		free(lat);
		free(nlat);
	}
	return 0;
}

/* bench/bench.c — helpers shared by the dt4ecg-bench subcommands. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench/bench.h"
#include "util/num.h"

#define BENCH_MAX_SAMPLES (1u << 22)

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void
bench_samples_init(struct bench_samples *s)
{
	memset(s, 0, sizeof(*s));
}

int
bench_samples_add(struct bench_samples *s, double v)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 256;
		double *p;

		if (ncap > BENCH_MAX_SAMPLES ||
		    (p = realloc(s->v, ncap * sizeof(*p))) == NULL)
			return -1;
		s->v = p;
		s->cap = ncap;
	}
	s->v[s->n++] = v;
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
percentile(const double *sorted, size_t n, double p)
{
	double pos, frac;
	size_t i;

	if (n == 0)
		return NAN;
	pos = p * (double)(n - 1);
	i = (size_t)pos;
	frac = pos - (double)i;
	if (i + 1 >= n)
		return sorted[n - 1];
	return sorted[i] * (1.0 - frac) + sorted[i + 1] * frac;
}

double
bench_percentile(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(double), cmp_double);
	return percentile(v, n, p);
}

void
bench_samples_stats(struct bench_samples *s, struct bench_stats *st)
{
	double sum = 0.0;
	size_t i;

	memset(st, 0, sizeof(*st));
	st->n = s->n;
	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(double), cmp_double);
	for (i = 0; i < s->n; i++)
		sum += s->v[i];
	st->mean = sum / (double)s->n;
	st->min = s->v[0];
	st->max = s->v[s->n - 1];
	st->p50 = percentile(s->v, s->n, 0.50);
	st->p99 = percentile(s->v, s->n, 0.99);
}

void
bench_samples_free(struct bench_samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int
bench_time(int (*fn)(void *ctx, struct dt_error *err), void *ctx,
    int warmup, double seconds, size_t min_n, double per,
    struct bench_stats *st)
{
	struct dt_error err = { 0 };
	struct bench_samples s;
	struct timespec c0, c1;
	double t0, deadline;
	int i, rc = -1;

	bench_samples_init(&s);
	for (i = 0; i < warmup; i++)	/* warm-up: JIT, caches */
		if (fn(ctx, &err) != 0)
			goto out;
	deadline = bench_now() + seconds;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	do {
		t0 = bench_now();
		if (fn(ctx, &err) != 0)
			goto out;
		if (bench_samples_add(&s, (bench_now() - t0) / per) != 0)
			break;
	} while (bench_now() < deadline || s.n < min_n);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	bench_samples_stats(&s, st);
	/* the CPU time is what a loaded machine leaves least disturbed */
	st->cpu = ((double)(c1.tv_sec - c0.tv_sec) +
	    (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9) / (double)s.n / per;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "dt4ecg-bench: %s\n", err.msg);
	bench_samples_free(&s);
	return rc;
}

double
bench_rss_mb_of(long pid)
{
	char path[64], line[256];
	double mb = -1;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			mb = strtod(line + 6, NULL) / 1024.0;
			break;
		}
	fclose(f);
	return mb;
}

double
bench_rss_mb(void)
{
	double mb = bench_rss_mb_of(0);

	return mb < 0 ? 0.0 : mb;
}

bool
bench_file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
bench_parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
	if (dt_parse_int(s, lo, hi, out) == 0)
		return 0;
	fprintf(stderr, "dt4ecg-bench: %s %s: expected an integer %d..%d\n",
	    opt, s, lo, hi);
	return -1;
}

int
bench_parse_double(const char *opt, const char *s, double lo, double hi,
    double *out)
{
	if (dt_parse_double(s, lo, hi, out) == 0)
		return 0;
	fprintf(stderr, "dt4ecg-bench: %s %s: expected a number %g..%g\n",
	    opt, s, lo, hi);
	return -1;
}

/* Takes option CH with ARG if it is a run option: 1 taken, 0 not one,
 * -1 a bad value (said on stderr). */
static int
run_opt(int ch, const char *arg, int batch_min, struct bench_run_opts *o)
{
	switch (ch) {
	case 't':
		if ((o->n_threads = bench_parse_int_list("--threads", arg,
		    o->threads, 8, 1, 256)) < 1)
			return -1;
		return 1;
	case 'b':
		return bench_parse_int("--batch", arg, batch_min, 4096,
		    &o->batch) != 0 ? -1 : 1;
	case 's':
		return bench_parse_double("--seconds", arg, 0.05, 600,
		    &o->seconds) != 0 ? -1 : 1;
	case 'j':
		o->json = true;
		return 1;
	}
	return 0;
}

int
bench_run_getopt(int argc, char **argv, const struct option *longopts,
    int batch_min, struct bench_run_opts *o,
    int (*set)(void *ctx, int ch, const char *arg), void *ctx,
    void (*usage)(void))
{
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if ((r = run_opt(ch, optarg, batch_min, o)) < 0)
			return 2;
		if (r == 0 && (r = set(ctx, ch, optarg)) < 0)
			return 2;
		if (r == 0) {
			usage();
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	return -1;
}

int
bench_parse_int_list(const char *opt, const char *s, int *out, int max,
    int lo, int hi)
{
	char buf[256], *tok, *save = NULL;
	int n = 0;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (n == max || dt_parse_int(tok, lo, hi, &out[n]) != 0)
			goto bad;
		n++;
	}
	if (n > 0)
		return n;
bad:
	fprintf(stderr, "dt4ecg-bench: %s %s: expected up to %d comma-separated "
	    "integers %d..%d\n", opt, s, max, lo, hi);
	return -1;
}

double
bench_metric(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return 0;
}

/*
 * bench/bench_soak.c — dt4ecg-bench soak: a long, bounded, loopback run of
 * the build tree's dt4ecgd under a mix of valid, replayed, malformed,
 * mis-signed and oversized requests, to be run against the AddressSanitizer
 * + UndefinedBehaviorSanitizer build (scripts/soak.sh).
 *
 *   dt4ecg-bench soak [--seconds S] [--concurrency C] [--warmup S]
 *                     [--members N] [--tiny] [--json]
 *
 * Every request kind has the statuses it may get; anything else is counted
 * as unexpected.  A 5xx is intended only as 503 with Retry-After (the
 * inference queue full).  The daemon's resident memory is sampled every
 * few seconds; after the warm-up it must stay flat.  At the end the daemon
 * is stopped and its log searched for sanitizer reports.  Exit 0 only when
 * nothing unexpected, no unintended 5xx, no sanitizer report and the daemon
 * exited 0.
 */
#include "config.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "bench/bench.h"
#include "proto/digest.h"
#include "proto/httpsig.h"
#include "ecg/load.h"
#include "tests/dmn_harness.h"
#include "tests/support.h"

#define SOAK_MAX_CONC 16
#define SOAK_MAX_BODIES 64
#define SOAK_SEG_S 8
#define SOAK_MAX_BODY 262144	/* the soak's max_body: oversized is past it */
#define SOAK_RSS_MAX 4096
#define SOAK_STATUS_MAX 600
#define SOAK_CLOSED 1		/* "status" of a connection closed unanswered */

enum soak_kind {
	K_VALID,		/* signed ECG, fresh nonce */
	K_REPLAY,		/* the last answered valid request again */
	K_BAD_JSON,		/* signed, truncated JSON */
	K_BAD_SAMPLES,		/* signed, samples not numbers / fs absurd */
	K_BAD_SIG,		/* one signature byte changed */
	K_DIGEST,		/* body changed after signing */
	K_OVERSIZED,		/* signed, past max_body */
	K_UNSIGNED,		/* no signature headers, 64 KiB body */
	K_EXPIRED,		/* created an hour ago */
	K_CONTENT_TYPE,		/* text/plain */
	K_ROUTE,		/* unknown path, wrong method */
	K_HEALTH,		/* GET /v1/health */
	K_N
};

/* SOAK_CLOSED is allowed where the daemon refuses a request from its
 * headers alone: it answers without reading the body and closes, and a
 * client still sending may see the close before the answer. */
static const struct {
	const char *name;
	int ok[4];		/* statuses this kind may get (0 ends) */
} kinds[K_N] = {
	[K_VALID] = { "valid", { 200, 422, 503, 0 } },
	[K_REPLAY] = { "replayed", { 409, 0 } },
	[K_BAD_JSON] = { "malformed-json", { 400, 0 } },
	[K_BAD_SAMPLES] = { "bad-samples", { 400, 422, 0 } },
	[K_BAD_SIG] = { "bad-signature", { 401, SOAK_CLOSED, 0 } },
	[K_DIGEST] = { "digest-mismatch", { 400, 401, 0 } },
	[K_OVERSIZED] = { "oversized", { 413, SOAK_CLOSED, 0 } },
	[K_UNSIGNED] = { "unsigned", { 401, SOAK_CLOSED, 0 } },
	[K_EXPIRED] = { "expired", { 401, SOAK_CLOSED, 0 } },
	[K_CONTENT_TYPE] = { "content-type", { 415, SOAK_CLOSED, 0 } },
	[K_ROUTE] = { "bad-route", { 404, 405, 0 } },
	[K_HEALTH] = { "health", { 200, 0 } },
};

struct soak_body {
	char *json;
	size_t len;
};

struct soak {
	struct dh *h;
	struct soak_body bodies[SOAK_MAX_BODIES];
	int nbodies;
	char *big;		/* SOAK_MAX_BODY + 1 bytes of JSON */
	size_t big_len;
	double deadline;
	pthread_mutex_t lock;
	long sent[K_N];
	long status[K_N][SOAK_STATUS_MAX];	/* 0: no answer */
	long unexpected, unintended_5xx, intended_503;
	struct bench_samples lat;
};

struct soak_client {
	struct soak *S;
	int id;
};

/* A POST /v1/authenticate of BODY signed by kiosk K over the digest of
 * SIGNED (the body itself when NULL), created SKEW seconds from now, with
 * NONCE (a fresh one when NULL; the one used is copied to NONCE_OUT),
 * CTYPE as Content-Type, and one signature byte changed when MANGLE. */
static int
soak_post(struct dh *h, CURL *c, int k, const char *body, size_t len,
    const char *signed_body, size_t signed_len, int64_t skew,
    const char *nonce, char nonce_out[32], const char *ctype, bool mangle,
    struct dh_resp *r)
{
	struct dt_error err = { 0 };
	char digest[DIGEST_HEADER_BUF], si[1024], sig[256], n[32];
	char *colon;

	if (nonce == NULL) {
		if (httpsig_nonce(n, sizeof(n)) != 0)
			return -1;
		nonce = n;
	}
	if (nonce_out != NULL)
		snprintf(nonce_out, 32, "%s", nonce);
	if (signed_body == NULL)
		signed_body = body, signed_len = len;
	if (digest_header(DIGEST_SHA256, signed_body, signed_len, digest,
	    sizeof(digest), &err) != 0 ||
	    httpsig_sign_kiosk("POST", "/v1/authenticate", digest,
	    h->kiosk_id[k], (int64_t)time(NULL) + skew, nonce, h->sk[k], si,
	    sizeof(si), sig, sizeof(sig), &err) != 0) {
		fprintf(stderr, "soak: sign: %s\n", err.msg);
		return -1;
	}
	/* sig is "sig1=:BASE64:"; change a character of the base64 */
	if (mangle && (colon = strchr(sig, ':')) != NULL && colon[1] != '\0')
		colon[1] = colon[1] == 'A' ? 'B' : 'A';
	return dh_post(h, c, ctype, digest, si, sig, body, len, r);
}

/* Sends one request of kind KIND (its VARIANT-th form where it has several,
 * body I); the replay state lives in LAST_*. */
static void
soak_one(struct soak *S, CURL *c, int k, enum soak_kind kind, unsigned i,
    unsigned variant, char last_nonce[32], int *last_body)
{
	static const char bad_json[] = "{\"fs\": 250, \"samples\": [0.1, 0.2,";
	static const char *const bad_samples[] = {
		"{\"fs\": 250, \"samples\": [\"a\", \"b\"]}",
		"{\"fs\": 1e308, \"samples\": [0.1, 0.2, 0.3]}",
		"{\"fs\": 250, \"samples\": [1e999, 0]}",
		"{\"fs\": -5, \"samples\": []}",
		"{\"samples\": {\"a\": 1}}",
		"[1, 2, 3]",
	};
	struct dh *h = S->h;
	struct soak_body *b = &S->bodies[i % (unsigned)S->nbodies];
	struct dh_resp r;
	char nonce[32];
	const char *bs;
	char *copy = NULL;
	int rc = -1;
	long st;
	bool ok = false;
	int j;

	memset(&r, 0, sizeof(r));
	switch (kind) {
	case K_VALID:
		rc = soak_post(h, c, k, b->json, b->len, NULL, 0, 0, NULL,
		    nonce, "application/json", false, &r);
		if (rc == 0 && (r.status == 200 || r.status == 422)) {
			memcpy(last_nonce, nonce, 32);
			*last_body = (int)(b - S->bodies);
		}
		break;
	case K_REPLAY:
		if (*last_body < 0)
			return;
		b = &S->bodies[*last_body];
		rc = soak_post(h, c, k, b->json, b->len, NULL, 0, 0,
		    last_nonce, NULL, "application/json", false, &r);
		break;
	case K_BAD_JSON:
		rc = soak_post(h, c, k, bad_json, sizeof(bad_json) - 1, NULL, 0,
		    0, NULL, NULL, "application/json", false, &r);
		break;
	case K_BAD_SAMPLES:
		bs = bad_samples[variant % (sizeof(bad_samples) /
		    sizeof(bad_samples[0]))];
		rc = soak_post(h, c, k, bs, strlen(bs), NULL, 0, 0, NULL, NULL,
		    "application/json", false, &r);
		break;
	case K_BAD_SIG:
		rc = soak_post(h, c, k, b->json, b->len, NULL, 0, 0, NULL, NULL,
		    "application/json", true, &r);
		break;
	case K_DIGEST:
		if ((copy = malloc(b->len)) == NULL)
			return;
		memcpy(copy, b->json, b->len);
		copy[b->len / 2] = copy[b->len / 2] == '1' ? '2' : '1';
		rc = soak_post(h, c, k, copy, b->len, b->json, b->len, 0, NULL,
		    NULL, "application/json", false, &r);
		break;
	case K_OVERSIZED:
		rc = soak_post(h, c, k, S->big, S->big_len, NULL, 0, 0, NULL,
		    NULL, "application/json", false, &r);
		break;
	case K_UNSIGNED:
		rc = dh_post(h, c, "application/json", NULL, NULL, NULL,
		    S->big, 65536, &r);
		break;
	case K_EXPIRED:
		rc = soak_post(h, c, k, b->json, b->len, NULL, 0, -3600, NULL,
		    NULL, "application/json", false, &r);
		break;
	case K_CONTENT_TYPE:
		rc = soak_post(h, c, k, b->json, b->len, NULL, 0, 0, NULL, NULL,
		    "text/plain", false, &r);
		break;
	case K_ROUTE:
		rc = variant % 2 ? dh_request(h, c, "GET", "/v1/nope", NULL, NULL, 0,
		    &r) : dh_request(h, c, "DELETE", "/v1/authenticate", NULL,
		    NULL, 0, &r);
		break;
	case K_HEALTH:
		rc = dh_request(h, c, "GET", "/v1/health", NULL, NULL, 0, &r);
		break;
	case K_N:
		return;
	}
	st = rc == 0 ? r.status : SOAK_CLOSED;
	if (st < 0 || st >= SOAK_STATUS_MAX)
		st = 0;
	for (j = 0; kinds[kind].ok[j] != 0; j++)
		if (kinds[kind].ok[j] == st)
			ok = true;
	pthread_mutex_lock(&S->lock);
	S->sent[kind]++;
	S->status[kind][st]++;
	if (st == 503 && r.retry_after[0] != '\0')
		S->intended_503++;
	else if (st >= 500)
		S->unintended_5xx++;
	if (!ok)
		S->unexpected++;
	if (rc == 0)
		bench_samples_add(&S->lat, r.seconds * 1e3);
	pthread_mutex_unlock(&S->lock);
	if (!ok && st != 503)
		fprintf(stderr, "soak: %s answered %ld: %.200s\n",
		    kinds[kind].name, st, r.body != NULL ? r.body : "");
	dh_resp_free(&r);
	free(copy);
}

static void *
soak_client_main(void *arg)
{
	struct soak_client *cl = arg;
	struct soak *S = cl->S;
	CURL *c = curl_easy_init();
	char last_nonce[32] = "";
	int last_body = -1;
	unsigned i = (unsigned)cl->id * 5;

	/* valid requests are most of the traffic, as at a real gym */
	static const enum soak_kind cycle[] = {
		K_VALID, K_REPLAY, K_VALID, K_BAD_JSON, K_VALID, K_BAD_SIG,
		K_VALID, K_DIGEST, K_VALID, K_OVERSIZED, K_VALID, K_UNSIGNED,
		K_VALID, K_EXPIRED, K_VALID, K_CONTENT_TYPE, K_VALID, K_ROUTE,
		K_VALID, K_HEALTH, K_VALID, K_BAD_SAMPLES,
	};
	const unsigned ncycle = sizeof(cycle) / sizeof(cycle[0]);

	if (c == NULL)
		return NULL;
	while (bench_now() < S->deadline) {
		soak_one(S, c, cl->id % DH_KIOSKS, cycle[i % ncycle], i,
		    i / ncycle, last_nonce, &last_body);
		i++;
	}
	curl_easy_cleanup(c);
	return NULL;
}

/* Least-squares slope of V over T for T >= FROM, in units per minute. */
static double
soak_slope_per_min(const double *t, const double *v, int n, double from)
{
	double st = 0, sv = 0, stt = 0, stv = 0, d;
	int i, m = 0;

	for (i = 0; i < n; i++)
		if (t[i] >= from && v[i] >= 0) {
			st += t[i], sv += v[i];
			stt += t[i] * t[i], stv += t[i] * v[i];
			m++;
		}
	d = m * stt - st * st;
	return m >= 2 && d > 0 ? 60.0 * (m * stv - st * sv) / d : 0;
}

/* Sanitizer reports in the daemon's log. */
static long
soak_sanitizer_reports(const char *log)
{
	static const char *const marks[] = {
		"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
		"runtime error:", "WARNING: AddressSanitizer",
	};
	char line[4096];
	long n = 0;
	size_t j;
	FILE *f = fopen(log, "r");

	if (f == NULL) {
		fprintf(stderr, "soak: %s: cannot read the daemon's log\n", log);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		for (j = 0; j < sizeof(marks) / sizeof(marks[0]); j++)
			if (strstr(line, marks[j]) != NULL) {
				fputs(line, stderr);
				n++;
			}
	fclose(f);
	return n;
}

/* 8 s segments of a recording, and the oversized body. */
static int
soak_bodies(struct soak *S, const char *rel)
{
	char *json[SOAK_MAX_BODIES];
	size_t len[SOAK_MAX_BODIES];
	int k, i;

	if ((k = dh_segment_bodies(rel, SOAK_SEG_S, SOAK_SEG_S, NULL, json, len,
	    SOAK_MAX_BODIES - S->nbodies)) < 0)
		return -1;
	for (i = 0; i < k; i++) {
		S->bodies[S->nbodies].json = json[i];
		S->bodies[S->nbodies++].len = len[i];
	}
	return 0;
}

static int
soak_big(struct soak *S)
{
	size_t i;

	S->big_len = SOAK_MAX_BODY + 1;
	if ((S->big = malloc(S->big_len + 1)) == NULL)
		return -1;
	memcpy(S->big, "{\"fs\": 250, \"samples\": [", 24);
	for (i = 24; i < S->big_len - 2; i += 2)
		memcpy(S->big + i, "0,", 2);
	memcpy(S->big + S->big_len - 2, "0]", 2);
	S->big[S->big_len] = '\0';
	return 0;
}

static void
usage_to(FILE *f)
{
	fprintf(f, "usage: dt4ecg-bench soak [--seconds S] [--concurrency C] "
	    "[--warmup S] [--members N] [--tiny] [--json]\n"
	    "  a mixed valid/replayed/malformed/oversized load on the build "
	    "tree's dt4ecgd\n");
}

int
bench_soak_main(int argc, char **argv)
{
	static struct dh H;
	static struct soak S;
	pthread_t th[SOAK_MAX_CONC];
	struct soak_client cl[SOAK_MAX_CONC];
	static double rss_t[SOAK_RSS_MAX], rss_v[SOAK_RSS_MAX];
	int seconds = 60, warmup = 30, conc = 4, members = 10, nrss = 0;
	int i, started = 0, rc = 1, exit_status = -1;
	bool json = false, tiny = false;
	char conf[512], rec[64], id[16];
	double t0, t_warm_rss = -1, rss_warm = -1, rss_end = -1;
	double rss_max = -1, el, slope;
	long reports = -1, total = 0;
	struct bench_stats st;
	enum soak_kind k;

	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "members", required_argument, NULL, 'm' },
		{ "tiny", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		const char *name = ch == 's' ? "--seconds" : ch == 'w' ?
		    "--warmup" : ch == 'c' ? "--concurrency" : "--members";

		switch (ch) {
		case 's':
			if (bench_parse_int(name, optarg, 1, 86400, &seconds))
				return 2;
			break;
		case 'w':
			if (bench_parse_int(name, optarg, 0, 3600, &warmup))
				return 2;
			break;
		case 'c':
			if (bench_parse_int(name, optarg, 1, SOAK_MAX_CONC,
			    &conc))
				return 2;
			break;
		case 'm':
			if (bench_parse_int(name, optarg, 1, 30, &members))
				return 2;
			break;
		case 't':
			tiny = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage_to(stdout);
			return 0;
		default:
			usage_to(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage_to(stderr);
		return 2;
	}
	if (warmup >= seconds)
		warmup = seconds / 2;
	if (sodium_init() < 0 || pthread_mutex_init(&S.lock, NULL) != 0)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	bench_samples_init(&S.lat);
	S.h = &H;
	if (getenv("DT4ECG_DATA") == NULL)
		setenv("DT4ECG_DATA", "../shared/data", 0);
	if (getenv("DT4ECG_BUILDDIR") == NULL)
		setenv("DT4ECG_BUILDDIR", ".", 0);
	/* Limits high enough that the mix is not all 429s; the kiosk
	 * lockout would otherwise end the run after 20 rejects. */
	snprintf(conf, sizeof(conf), "threshold = 0.9\nmax_body = %d\n"
	    "rate_per_kiosk = 10000\nrate_burst = 100000\n"
	    "replay_capacity = 1048576\nconnection_limit = 256\n"
	    "per_ip_limit = 0\nkiosk_lockout_failures = 100000\n",
	    SOAK_MAX_BODY);
	if (dh_init(&H, conf) != 0 || soak_big(&S) != 0)
		goto out;
	H.full_model = !tiny;
	if (dh_model(&H, "soak", 17) != 0)
		goto out;
	/* never-trained people (ECG-ID 61..), as in the demo */
	for (i = 0; i < members; i++) {
		snprintf(id, sizeof(id), "m%02d", 61 + i);
		snprintf(rec, sizeof(rec), "ecg-id/Person_%02d/rec_1", 61 + i);
		if (dh_member(&H, id, id, rec, false) != 0)
			goto out;
		snprintf(rec, sizeof(rec), "ecg-id/Person_%02d/rec_2", 61 + i);
		if (soak_bodies(&S, rec) != 0)
			goto out;
	}
	if (S.nbodies == 0) {
		fprintf(stderr, "soak: no 8 s segment in the recordings\n");
		goto out;
	}
	if (dh_activate(&H) != 0 || dh_start(&H, false, 120) != 0)
		goto out;
	if (!json)
		printf("soak: dt4ecgd pid %ld, %d clients, %d s (warm-up %d s), "
		    "%d bodies\n", (long)H.pid, conc, seconds, warmup,
		    S.nbodies);
	t0 = bench_now();
	S.deadline = t0 + seconds;
	for (i = 0; i < conc; i++) {
		cl[i] = (struct soak_client){ &S, i };
		if (pthread_create(&th[i], NULL, soak_client_main, &cl[i]) != 0)
			break;
		started++;
	}
	while ((el = bench_now() - t0) < seconds) {
		double mb = bench_rss_mb_of(H.pid);
		long done;

		pthread_mutex_lock(&S.lock);
		done = (long)S.lat.n;
		pthread_mutex_unlock(&S.lock);

		if (nrss < SOAK_RSS_MAX) {
			rss_t[nrss] = el;
			rss_v[nrss++] = mb;
		}
		if (el >= warmup && rss_warm < 0)
			rss_warm = mb, t_warm_rss = el;
		if (el >= warmup && mb > rss_max)
			rss_max = mb;
		if (!json)
			printf("soak: %5.0f s  rss %.1f MB  requests %ld\n", el,
			    mb, done), fflush(stdout);
		sleep(seconds >= 120 ? 10 : 2);
	}
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	rss_end = bench_rss_mb_of(H.pid);
	if (rss_end > rss_max)
		rss_max = rss_end;
	el = bench_now() - t0;
	if (dh_stop(&H, 120, &exit_status) != 0)
		exit_status = -1;
	H.pid = 0;
	reports = soak_sanitizer_reports(H.daemon_log);
	bench_samples_stats(&S.lat, &st);
	slope = soak_slope_per_min(rss_t, rss_v, nrss, warmup);
	for (k = 0; k < K_N; k++)
		total += S.sent[k];
	if (json) {
		printf("{\"bench\":\"soak\",\"seconds\":%.1f,\"clients\":%d,"
		    "\"requests\":%ld,\"unexpected\":%ld,"
		    "\"unintended_5xx\":%ld,\"intended_503\":%ld,"
		    "\"sanitizer_reports\":%ld,\"daemon_exit\":%d,"
		    "\"rss_mb_warm\":%.1f,\"rss_mb_max\":%.1f,"
		    "\"rss_mb_end\":%.1f,\"rss_mb_per_min\":%.3f,"
		    "\"latency_ms_p50\":%.2f,"
		    "\"latency_ms_p99\":%.2f,\"kinds\":{", el, started, total,
		    S.unexpected, S.unintended_5xx, S.intended_503, reports,
		    exit_status, rss_warm, rss_max, rss_end, slope, st.p50,
		    st.p99);
		for (k = 0; k < K_N; k++)
			printf("%s\"%s\":%ld", k ? "," : "", kinds[k].name,
			    S.sent[k]);
		printf("}}\n");
	} else {
		printf("%-16s %9s  statuses\n", "kind", "sent");
		for (k = 0; k < K_N; k++) {
			int s;

			printf("%-16s %9ld ", kinds[k].name, S.sent[k]);
			for (s = 0; s < SOAK_STATUS_MAX; s++)
				if (S.status[k][s] != 0 && s == SOAK_CLOSED)
					printf(" closed:%ld", S.status[k][s]);
				else if (S.status[k][s] != 0)
					printf(" %d:%ld", s, S.status[k][s]);
			printf("\n");
		}
		printf("requests %ld in %.1f s (%.1f/s), p50 %.2f ms, p99 %.2f "
		    "ms\n", total, el, total / el, st.p50, st.p99);
		printf("unexpected statuses %ld, unintended 5xx %ld, intended "
		    "503 %ld\n", S.unexpected, S.unintended_5xx,
		    S.intended_503);
		printf("rss after warm-up (%.0f s) %.1f MB, max after %.1f MB, "
		    "end %.1f MB (%+.1f MB; trend %+.3f MB/min)\n", t_warm_rss,
		    rss_warm, rss_max, rss_end, rss_end - rss_warm, slope);
		printf("sanitizer reports in the daemon's log: %ld; dt4ecgd "
		    "exit status %d\n", reports, exit_status);
	}
	rc = S.unexpected == 0 && S.unintended_5xx == 0 && reports == 0 &&
	    exit_status == 0 && total > 0 ? 0 : 1;
	if (!json)
		printf("soak: %s\n", rc == 0 ? "PASS" : "FAIL");
out:
	if (H.pid > 0) {
		int ignored;

		dh_stop(&H, 60, &ignored);
	}
	dh_cleanup(&H);
	for (i = 0; i < S.nbodies; i++)
		free(S.bodies[i].json);
	free(S.big);
	bench_samples_free(&S.lat);
	curl_global_cleanup();
	return rc;
}

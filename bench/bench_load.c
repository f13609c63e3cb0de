/*
 * bench/bench_load.c — dt4ecg-bench load (DESIGN.md section 9): signed
 * POST /v1/authenticate requests, 8 s of real ECG each (ECG-ID), with a
 * fresh nonce every time, from C client threads (one keep-alive libcurl
 * handle each) for a bounded time per concurrency, on loopback.
 *
 *   dt4ecg-bench load [--concurrency 1,4,16,64] [--seconds S] [--rounds R]
 *                     [--members N] [--threads T] [--tiny]
 *                     [--batch-max W] [--batch-wait-ms MS] [--json]
 *       starts its own dt4ecgd (the build tree's) on 127.0.0.1 with a
 *       temporary store, certificate, kiosk and a random model of the
 *       default sizes (--tiny: the integration test's small one).
 *   dt4ecg-bench load --replicas N[,N...] [--store URI] ...
 *       several replicas on one store: bench/bench_chain.c.
 *   dt4ecg-bench load --url URL --key FILE --kiosk-id ID --recordings R...
 *                     [--cacert FILE] [--pid PID] [...]
 *       against a running daemon (RSS only with --pid).
 *
 * Each concurrency runs --rounds rounds, alternating: the daemon for
 * --seconds, then the same number of windows through the network alone
 * (nn_net_run, one network per thread, as many threads as the daemon could
 * use, each call as big a batch as the daemon could gather at that
 * concurrency: the windows of ceil(concurrency / threads) requests, at
 * most --batch-max windows, the daemon's batch_max, 64); overhead = 1 - median daemon windows/s /
 * median raw windows/s.  Only meaningful when the model is the daemon's:
 * in --url mode the raw figure uses a random model of the default size.
 * With its own daemon it also reads GET /metrics after each concurrency:
 * the mean time of each stage of a request (dt4ecg_authenticate_stage_
 * seconds) and the mean requests per network batch.
 */
#include "config.h"

#include <errno.h>
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
#include "nn/model.h"
#include "nn/net.h"
#include "tests/dmn_harness.h"
#include "tests/support.h"

#define MAX_CONC 64
#define MAX_BODIES 64
#define MAX_ROUNDS 15
#define SEG_S 8
#define NSTAGES 13
static const char *const stage_names[NSTAGES] = {	/* daemon/metrics.c */
	"tls", "signature", "body", "digest", "admit", "parse", "queue",
	"preprocess", "network", "match", "audit", "lockout", "answer"
};

struct body {
	char *json;
	size_t len;
	char digest[DIGEST_HEADER_BUF];
	int windows;
};

struct load {
	const char *url;	/* https://host:port */
	const char *cacert;
	const char *kiosk;
	unsigned char sk[64];
	struct body bodies[MAX_BODIES];
	int nbodies;
	double deadline;
	pthread_mutex_t lock;
	struct bench_samples lat;
	long requests, errors, windows;
	long err_status[8];	/* the first distinct failures: HTTP status, */
	int err_curl[8];	/* or libcurl's code when there is none */
	int nerr_kinds;
};

struct client {
	struct load *L;
	int id;
	bool warmup;		/* one request, not counted */
};

/* One keep-alive handle per client, kept across rounds and concurrencies:
 * a round measures requests, not TLS handshakes. */
static CURL *handles[MAX_CONC];

static size_t
sink(char *p, size_t size, size_t n, void *ud)
{
	return size * n;
}

static void *
client_main(void *arg)
{
	struct client *cl = arg;
	struct load *L = cl->L;
	CURL *c;
	char url[512], si[1024], sig[256], nonce[32];
	char hd[3][1200];
	unsigned i = (unsigned)cl->id * 7;
	long status;

	if (handles[cl->id] == NULL)
		handles[cl->id] = curl_easy_init();
	if ((c = handles[cl->id]) == NULL)
		return NULL;
	snprintf(url, sizeof(url), "%s/v1/authenticate", L->url);
	while (cl->warmup || bench_now() < L->deadline) {
		struct body *b = &L->bodies[i++ % (unsigned)L->nbodies];
		struct curl_slist *hl = NULL;
		struct dt_error err = { 0 };
		double t0;
		CURLcode cc;

		httpsig_nonce(nonce, sizeof(nonce));
		if (httpsig_sign_kiosk("POST", "/v1/authenticate", b->digest,
		    L->kiosk, (int64_t)time(NULL), nonce, L->sk, si,
		    sizeof(si), sig, sizeof(sig), &err) != 0)
			break;
		snprintf(hd[0], sizeof(hd[0]), "Content-Digest: %s",
		    b->digest);
		snprintf(hd[1], sizeof(hd[1]), "Signature-Input: %s", si);
		snprintf(hd[2], sizeof(hd[2]), "Signature: %s", sig);
		hl = curl_slist_append(hl, "Content-Type: application/json");
		hl = curl_slist_append(hl, "Expect:");
		hl = curl_slist_append(hl, hd[0]);
		hl = curl_slist_append(hl, hd[1]);
		hl = curl_slist_append(hl, hd[2]);
		curl_easy_setopt(c, CURLOPT_URL, url);
		if (L->cacert != NULL)
			curl_easy_setopt(c, CURLOPT_CAINFO, L->cacert);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->json);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)b->len);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		t0 = bench_now();
		cc = curl_easy_perform(c);
		status = 0;
		if (cc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_slist_free_all(hl);
		if (cl->warmup)
			break;
		pthread_mutex_lock(&L->lock);
		L->requests++;
		if (status != 200) {
			int e;

			L->errors++;
			for (e = 0; e < L->nerr_kinds; e++)
				if (L->err_status[e] == status &&
				    L->err_curl[e] == (int)cc)
					break;
			if (e == L->nerr_kinds && e < 8) {
				L->err_status[e] = status;
				L->err_curl[e] = (int)cc;
				L->nerr_kinds++;
			}
		} else
			L->windows += b->windows;
		bench_samples_add(&L->lat, (bench_now() - t0) * 1e3);
		pthread_mutex_unlock(&L->lock);
	}
	return NULL;
}

/* 8 s segments of ECG-ID recordings, resampled by the daemon. */
static int
add_bodies(struct load *L, const char *path, bool relative)
{
	float *x;
	size_t n, seg, off;
	double fs;
	struct dt_error err = { 0 };

	if (relative) {
		if (tt_load_wfdb(path, &x, &n, &fs) != 0)
			return -1;
	} else if (ecg_load_signal(path, ECG_FORMAT_AUTO, 0, 0, &x, &n, &fs,
	    &err) != 0) {
		fprintf(stderr, "load: %s\n", err.msg);
		return -1;
	}
	seg = (size_t)(fs * SEG_S);
	for (off = 0; off + seg <= n && L->nbodies < MAX_BODIES;
	    off += seg / 2) {
		struct body *b = &L->bodies[L->nbodies];

		if ((b->json = dh_body(x + off, seg, fs, NULL, &b->len)) ==
		    NULL)
			break;
		digest_header(DIGEST_SHA256, b->json, b->len, b->digest,
		    sizeof(b->digest), &err);
		/* 8 s at 250 Hz, windows of 512 with hop 256 */
		b->windows = (SEG_S * 250 - 512) / 256 + 1;
		L->nbodies++;
	}
	ecg_samples_free(x, n);
	return 0;
}

struct grow {
	char *p;
	size_t len;
};

static size_t
grow_cb(char *p, size_t size, size_t n, void *ud)
{
	struct grow *g = ud;
	char *np = realloc(g->p, g->len + size * n + 1);

	if (np == NULL)
		return 0;
	memcpy(np + g->len, p, size * n);
	g->len += size * n;
	np[g->len] = '\0';
	g->p = np;
	return size * n;
}

/* Stage sums and counts, batches and their requests from GET /metrics;
 * v[2 * NSTAGES + 2].  -1 when it cannot be read. */
static int
read_stages(const struct load *L, double *v)
{
	CURL *c = curl_easy_init();
	struct grow g = { NULL, 0 };
	char url[512], name[128];
	long status = 0;
	int i, rc = -1;

	if (c == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s/metrics", L->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (L->cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, L->cacert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200 && g.p != NULL) {
		for (i = 0; i < NSTAGES; i++) {
			snprintf(name, sizeof(name), "dt4ecg_authenticate_stage_"
			    "seconds_sum{stage=\"%s\"}", stage_names[i]);
			v[2 * i] = bench_metric(g.p, name);
			snprintf(name, sizeof(name), "dt4ecg_authenticate_stage_"
			    "seconds_count{stage=\"%s\"}", stage_names[i]);
			v[2 * i + 1] = bench_metric(g.p, name);
		}
		v[2 * NSTAGES] = bench_metric(g.p,
		    "dt4ecg_inference_batch_requests_count");
		v[2 * NSTAGES + 1] = bench_metric(g.p,
		    "dt4ecg_inference_batch_requests_sum");
		rc = 0;
	}
	free(g.p);
	curl_easy_cleanup(c);
	return rc;
}

static double
median(double *v, int n)
{
	return bench_percentile(v, (size_t)n, 0.5);
}

static void
usage_to(FILE *f)
{
	fprintf(f, "usage: dt4ecg-bench load [--concurrency 1,4,16,64] "
	    "[--seconds S] [--rounds R] [--members N] [--threads T] [--tiny] "
	    "[--batch-max W] [--batch-wait-ms MS] [--json]\n"
	    "       dt4ecg-bench load --url URL --key FILE --kiosk-id ID "
	    "--recordings FILE... [--cacert FILE] [--pid PID] ...\n"
	    "       dt4ecg-bench load --replicas N[,N...] [--store "
	    "postgresql://...] ... (--replicas --help)\n");
}

static void
usage(void)
{
	usage_to(stderr);
}

static int
read_key(const char *path, unsigned char sk[64])
{
	char line[256];
	size_t len;
	FILE *f = fopen(path, "r");

	if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (sodium_base642bin(sk, 64, line, strlen(line), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || len != 64)
		return -1;
	sodium_memzero(line, sizeof(line));
	return 0;
}

int
bench_load_main(int argc, char **argv)
{
	static struct dh H;
	struct load L;
	int conc[MAX_CONC], nconc = 4, members = 10, threads = 0, i, c;
	int seconds = 10, rounds = 3, rc = 1, batch_max = 64;
	double batch_wait_ms = 2;
	bool json = false, own = true, tiny = false;
	const char *keyfile = NULL, *kiosk = NULL, *url = NULL;
	const char *cacert = NULL;
	char urlbuf[128], conf[512];
	char **recs = NULL;
	int nrecs = 0;
	long pid = 0;
	struct nn_model *rawm = NULL;
	double rss0, rss1;

	for (i = 1; i < argc; i++)	/* replicas on one store */
		if (strcmp(argv[i], "--replicas") == 0 ||
		    strcmp(argv[i], "--store") == 0)
			return bench_chain_main(argc, argv);
	conc[0] = 1, conc[1] = 4, conc[2] = 16, conc[3] = 64;
	memset(&L, 0, sizeof(L));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_to(stdout);
			return 0;
		}
		if (strcmp(a, "--json") == 0) {
			json = true;
			continue;
		}
		if (strcmp(a, "--tiny") == 0) {	/* the test's small model */
			tiny = true;
			continue;
		}
		if (strcmp(a, "--recordings") == 0) {
			recs = argv + i + 1;
			while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
				i++, nrecs++;
			continue;
		}
		if (v == NULL) {
			usage();
			return 2;
		}
		i++;
		if (strcmp(a, "--concurrency") == 0) {
			if ((nconc = bench_parse_int_list(a, v, conc, MAX_CONC, 1,
			    MAX_CONC)) < 1)
				return 2;
		} else if (strcmp(a, "--seconds") == 0) {
			if (bench_parse_int(a, v, 1, 3600, &seconds) != 0)
				return 2;
		} else if (strcmp(a, "--batch-max") == 0) {
			if (bench_parse_int(a, v, 1, 256, &batch_max) != 0)
				return 2;
		} else if (strcmp(a, "--batch-wait-ms") == 0) {
			if (bench_parse_double(a, v, 0, 1000, &batch_wait_ms) != 0)
				return 2;
		} else if (strcmp(a, "--rounds") == 0) {
			if (bench_parse_int(a, v, 1, MAX_ROUNDS, &rounds) != 0)
				return 2;
		} else if (strcmp(a, "--members") == 0) {
			if (bench_parse_int(a, v, 1, 90, &members) != 0)
				return 2;
		} else if (strcmp(a, "--threads") == 0) {
			if (bench_parse_int(a, v, 0, 64, &threads) != 0)
				return 2;
		} else if (strcmp(a, "--url") == 0) {
			url = v;
		} else if (strcmp(a, "--key") == 0) {
			keyfile = v;
		} else if (strcmp(a, "--kiosk-id") == 0) {
			kiosk = v;
		} else if (strcmp(a, "--cacert") == 0) {
			cacert = v;
		} else if (strcmp(a, "--pid") == 0) {
			int p;

			if (bench_parse_int(a, v, 1, 4194304, &p) != 0)
				return 2;
			pid = p;
		} else {
			usage();
			return 2;
		}
	}
	if (sodium_init() < 0 || pthread_mutex_init(&L.lock, NULL) != 0)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	own = url == NULL;
	if (!own) {
		if (keyfile == NULL || kiosk == NULL || nrecs == 0 ||
		    read_key(keyfile, L.sk) != 0) {
			usage();
			return 2;
		}
		L.url = url;
		L.cacert = cacert;
		L.kiosk = kiosk;
		for (i = 0; i < nrecs; i++)
			if (add_bodies(&L, recs[i], false) != 0)
				return 1;
	} else {
		char rec[64];

		if (getenv("DT4ECG_DATA") == NULL)
			setenv("DT4ECG_DATA", "../shared/data", 0);
		if (getenv("DT4ECG_BUILDDIR") == NULL)
			setenv("DT4ECG_BUILDDIR", ".", 0);
		snprintf(conf, sizeof(conf), "threads = %d\nthreshold = 0.9\n"
		    "rate_per_kiosk = 10000\nrate_burst = 100000\n"
		    "replay_capacity = 1048576\nconnection_limit = 256\n"
		    "per_ip_limit = 0\nqueue_max = 256\n"
		    "kiosk_lockout_failures = 100000\n"
		    /* keep-alive connections survive the raw rounds */
		    "timeout_s = 300\nheader_timeout_s = 300\n"
		    "batch_max = %d\nbatch_wait_ms = %g\n", threads, batch_max,
		    batch_wait_ms);
		if (dh_init(&H, conf) != 0)
			goto out;
		H.full_model = !tiny;
		if (dh_model(&H, "bench", 11) != 0)
			goto out;
		for (i = 0; i < members; i++) {
			char id[16];

			snprintf(id, sizeof(id), "m%02d", i + 1);
			snprintf(rec, sizeof(rec), "ecg-id/Person_%02d/rec_1",
			    i + 1);
			if (dh_member(&H, id, id, rec, false) != 0)
				goto out;
			snprintf(rec, sizeof(rec), "ecg-id/Person_%02d/rec_2",
			    i + 1);
			if (add_bodies(&L, rec, true) != 0)
				goto out;
		}
		if (dh_activate(&H) != 0 || dh_start(&H, false, 60) != 0)
			goto out;
		snprintf(urlbuf, sizeof(urlbuf), "https://127.0.0.1:%u",
		    H.port);
		L.url = urlbuf;
		L.cacert = H.cert;
		L.kiosk = H.kiosk_id[0];
		memcpy(L.sk, H.sk[0], 64);
		pid = H.pid;
	}
	if (L.nbodies == 0) {
		fprintf(stderr, "load: no 8 s segment in the recordings\n");
		goto out;
	}
	if (own)
		rawm = H.model;
	else {
		struct nn_hparams hp;
		struct dt_error err = { 0 };
		static const char *const acts[] = { "rest", "walk", "run" };

		nn_hparams_default(&hp);
		if (nn_model_create(&hp, 8, 3, acts, 1, &rawm, &err) != 0)
			goto out;
	}
	if (!json)
		printf("%-5s %9s %7s %10s %9s %9s %8s %8s %12s %12s %9s\n",
		    "conc", "requests", "errors", "req/s", "p50 ms", "p99 ms",
		    "rss0 MB", "rss1 MB", "daemon win/s", "raw win/s",
		    "overhead");
	for (c = 0; c < nconc; c++) {
		pthread_t th[MAX_CONC];
		struct client cl[MAX_CONC];
		struct bench_stats st;
		double t0, el = 0, rps, wps[MAX_ROUNDS], raw[MAX_ROUNDS];
		double s0[2 * NSTAGES + 2], s1[2 * NSTAGES + 2];
		double mwps, mraw;
		long rwin;
		int p, k, per, rnd;
		bool stages;
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		int dthreads = threads > 0 ? threads : (int)ncpu;

		/* the daemon can use at most min(conc, its threads) cores */
		p = conc[c] < dthreads ? conc[c] : dthreads;
		if (p > ncpu)
			p = (int)ncpu;
		/* the biggest batch it can gather per thread: the windows of
		 * ceil(conc / p) requests, whole requests, <= batch_max */
		per = L.bodies[0].windows;
		k = (conc[c] + p - 1) / p;
		if (k * per > batch_max)
			k = batch_max / per > 0 ? batch_max / per : 1;
		bench_samples_init(&L.lat);
		L.requests = L.errors = 0;
		L.nerr_kinds = 0;
		/* every client's connection up first, untimed */
		for (i = 0; i < conc[c]; i++) {
			cl[i] = (struct client){ &L, i, true };
			pthread_create(&th[i], NULL, client_main, &cl[i]);
		}
		for (i = 0; i < conc[c]; i++)
			pthread_join(th[i], NULL);
		stages = own && read_stages(&L, s0) == 0;
		rss0 = pid > 0 ? bench_rss_mb_of(pid) : -1;
		for (rnd = 0; rnd < rounds; rnd++) {
			L.windows = 0;
			t0 = bench_now();
			L.deadline = t0 + seconds;
			for (i = 0; i < conc[c]; i++) {
				cl[i] = (struct client){ &L, i, false };
				pthread_create(&th[i], NULL, client_main,
				    &cl[i]);
			}
			for (i = 0; i < conc[c]; i++)
				pthread_join(th[i], NULL);
			t0 = bench_now() - t0;
			el += t0;
			wps[rnd] = (double)L.windows / t0;
			rwin = L.windows > 0 ? L.windows : 60;
			raw[rnd] = bench_raw_rate(rawm, p, rwin, k * per);
		}
		rss1 = pid > 0 ? bench_rss_mb_of(pid) : -1;
		if (stages && read_stages(&L, s1) != 0)
			stages = false;
		bench_samples_stats(&L.lat, &st);
		rps = (double)L.requests / el;
		mwps = median(wps, rounds);
		mraw = median(raw, rounds);
		if (json) {
			printf("{\"bench\":\"load\",\"concurrency\":%d,"
			    "\"requests\":%ld,\"errors\":%ld,"
			    "\"requests_per_s\":%.2f,\"latency_ms_p50\":%.2f,"
			    "\"latency_ms_p99\":%.2f,\"rss_mb_start\":%.1f,"
			    "\"rss_mb_end\":%.1f,\"raw_infer_windows_per_s\":"
			    "%.1f,\"raw_batch\":%d,\"daemon_windows_per_s\":"
			    "%.1f,\"overhead\":%.4f,\"rounds\":%d,"
			    "\"seconds\":%.1f", conc[c], L.requests, L.errors,
			    rps, st.p50, st.p99, rss0, rss1, mraw, k * per,
			    mwps, mraw > 0 ? 1.0 - mwps / mraw : -1, rounds,
			    el);
			if (stages) {
				double nb = s1[2 * NSTAGES] - s0[2 * NSTAGES];

				printf(",\"requests_per_batch\":%.2f",
				    nb > 0 ? (s1[2 * NSTAGES + 1] -
				    s0[2 * NSTAGES + 1]) / nb : 0);
				printf(",\"stages_ms\":{");
				for (i = 0; i < NSTAGES; i++) {
					double n = s1[2 * i + 1] - s0[2 * i + 1];

					printf("%s\"%s\":%.3f", i ? "," : "",
					    stage_names[i], n > 0 ? 1e3 *
					    (s1[2 * i] - s0[2 * i]) / n : 0);
				}
				printf("}");
			}
			printf("}\n");
		} else {
			printf("%-5d %9ld %7ld %10.2f %9.2f %9.2f %8.1f %8.1f "
			    "%12.1f %12.1f %8.1f%%\n", conc[c], L.requests,
			    L.errors, rps, st.p50, st.p99, rss0, rss1, mwps,
			    mraw, mraw > 0 ? 100.0 * (1.0 - mwps / mraw) : -1);
			if (stages) {
				double nb = s1[2 * NSTAGES] - s0[2 * NSTAGES];

				printf("      raw batch %d windows; %.2f requests "
				    "per daemon batch; mean ms per stage:",
				    k * per, nb > 0 ? (s1[2 * NSTAGES + 1] -
				    s0[2 * NSTAGES + 1]) / nb : 0);
				for (i = 0; i < NSTAGES; i++) {
					double n = s1[2 * i + 1] - s0[2 * i + 1];

					printf(" %s %.3f", stage_names[i],
					    n > 0 ? 1e3 * (s1[2 * i] -
					    s0[2 * i]) / n : 0);
				}
				printf("\n");
			}
		}
		for (i = 0; i < L.nerr_kinds; i++)
			fprintf(stderr, "load: concurrency %d: failures with "
			    "HTTP status %ld (libcurl: %s)\n", conc[c],
			    L.err_status[i], curl_easy_strerror(
			    (CURLcode)L.err_curl[i]));
		fflush(stdout);
		bench_samples_free(&L.lat);
	}
	rc = 0;
out:
	for (i = 0; i < MAX_CONC; i++) {
		curl_easy_cleanup(handles[i]);
		handles[i] = NULL;
	}
	if (!own)
		nn_model_free(rawm);
	for (i = 0; i < L.nbodies; i++)
		free(L.bodies[i].json);
	if (own) {
		int st;

		if (H.pid > 0 && dh_stop(&H, 60, &st) == 0 && st != 0)
			fprintf(stderr, "load: dt4ecgd exited with %d\n", st);
		dh_cleanup(&H);
	}
	sodium_memzero(L.sk, sizeof(L.sk));
	curl_global_cleanup();
	return rc;
}

/*
 * bench/bench_chain.c — dt4ecg-bench load --replicas N[,N...] [--store URI]
 * (issue 15 point 6): several dt4ecgd replicas on one store, as a chain runs
 * them behind a load balancer.
 *
 *   dt4ecg-bench load --replicas 1,2,3 [--store postgresql://...]
 *                     [--concurrency C] [--seconds S] [--rounds R]
 *                     [--threads T] [--members M] [--changes K]
 *                     [--model FILE] [--json]
 *
 * The store is a new SQLite file, or the PostgreSQL database named by
 * --store, which must be empty (a store there is refused: the bench writes
 * kiosks, members and audit entries).  M never-trained ECG-ID persons
 * (61..) are enrolled from their first recording with the shipped default
 * model; requests are 8 s of their second recordings, signed by one kiosk,
 * each with a fresh nonce.  For each replica count the first N replicas
 * (threads = T each, network_threads = 1: they share this host) get C
 * clients each for S seconds, R rounds; printed per replica count (with
 * --json one line with DESIGN.md section 9's load keys): requests/s over
 * all replicas, p50/p99, each replica's CPU per request (from /proc), RSS,
 * the windows/s of the network alone in the same run (bench_raw_rate, as
 * many threads as the replicas have) and the overhead against it, what
 * the decision path costs the store — round trips and write transactions
 * per decision, from the replicas' /metrics (dt4ecg_store_*, counted at
 * the store's SQL seam, background work such as the index refresh
 * included) — and the change propagation: K changes through the store
 * API (enrol a further person, then erase them, alternately; K made
 * even); for each, every replica is probed over a kept-alive connection
 * with that person's 1:1 claim until it answers as the change says
 * (accept after an enrolment, reject after an erasure); the time from the
 * change's commit to that answer is one sample per replica.  Its
 * resolution is one request's time, printed beside it.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "bench/bench.h"
#include "ecg/load.h"
#include "store/store.h"
#include "tests/dmn_harness.h"
#include "tests/support.h"

#define CH_MAX_REPLICAS 8
#define CH_MAX_CLIENTS 64
#define CH_MAX_BODIES 64
#define CH_MAX_ROUNDS 15
#define CH_SEG_S 8
/* windows of an 8 s request at 250 Hz: 512 samples, hop 256 */
#define CH_WINDOWS ((CH_SEG_S * 250 - 512) / 256 + 1)
#define CH_FIRST_PERSON 61
#define CH_PERSONS 30		/* ECG-ID 61..90: never trained on */
#define CH_CHANGE_PERSONS 5	/* enrolled and erased in turn */

struct ch_body {
	char *json;
	size_t len;
};

/* What the replicas' /metrics say, summed. */
struct ch_io {
	double trips, write_tx, decisions;
};

struct chain {
	struct dh H;			/* replica 1, owner of the store */
	struct dh R[CH_MAX_REPLICAS];	/* R[0] unused: H is replica 1 */
	int nstarted;
	struct ch_body bodies[CH_MAX_BODIES];
	int nbodies;
	/* one load phase */
	double deadline;
	pthread_mutex_t lock;
	struct bench_samples lat[CH_MAX_REPLICAS];
	long requests[CH_MAX_REPLICAS], errors[CH_MAX_REPLICAS];
	long first_error;
};

static struct dh *
replica(struct chain *C, int r)
{
	return r == 0 ? &C->H : &C->R[r];
}

struct ch_client {
	struct chain *C;
	int replica, id;
};

static void *
ch_client_main(void *arg)
{
	struct ch_client *cl = arg;
	struct chain *C = cl->C;
	struct dh *h = replica(C, cl->replica);
	CURL *c = curl_easy_init();
	unsigned i = (unsigned)cl->id * 7;

	if (c == NULL)
		return NULL;
	while (bench_now() < C->deadline) {
		struct ch_body *b = &C->bodies[i++ % (unsigned)C->nbodies];
		struct dh_resp r;
		double t0 = bench_now();
		int rc = dh_signed(h, c, 0, b->json, b->len, 0, NULL, &r);

		pthread_mutex_lock(&C->lock);
		C->requests[cl->replica]++;
		if (rc != 0 || r.status != 200) {
			C->errors[cl->replica]++;
			if (C->first_error == 0)
				C->first_error = rc != 0 ? -1 : r.status;
		}
		bench_samples_add(&C->lat[cl->replica],
		    (bench_now() - t0) * 1e3);
		pthread_mutex_unlock(&C->lock);
		dh_resp_free(&r);
	}
	curl_easy_cleanup(c);
	return NULL;
}

static int
ch_read_io(struct chain *C, int n, struct ch_io *io)
{
	int r;

	memset(io, 0, sizeof(*io));
	for (r = 0; r < n; r++) {
		struct dh_resp resp;

		if (dh_request(replica(C, r), NULL, "GET", "/metrics", NULL,
		    NULL, 0, &resp) != 0 || resp.status != 200 ||
		    resp.body == NULL) {
			dh_resp_free(&resp);
			return -1;
		}
		io->trips += bench_metric(resp.body,
		    "dt4ecg_store_round_trips_total");
		io->write_tx += bench_metric(resp.body,
		    "dt4ecg_store_write_transactions_total");
		io->decisions += bench_metric(resp.body,
		    "dt4ecg_decisions_total{decision=\"accept\"}") +
		    bench_metric(resp.body,
		    "dt4ecg_decisions_total{decision=\"reject\"}");
		dh_resp_free(&resp);
	}
	return 0;
}

/* user + system CPU seconds of PID, -1 when unreadable. */
static double
ch_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after the command name's ")": state is field 3, utime 14 */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int
ch_add_bodies(struct chain *C, const char *rec)
{
	char *json[CH_MAX_BODIES];
	size_t len[CH_MAX_BODIES];
	int k, i;

	if ((k = dh_segment_bodies(rec, CH_SEG_S, CH_SEG_S, NULL, json, len,
	    CH_MAX_BODIES - C->nbodies)) < 0)
		return -1;
	for (i = 0; i < k; i++) {
		C->bodies[C->nbodies].json = json[i];
		C->bodies[C->nbodies++].len = len[i];
	}
	return 0;
}

/* Replicas 1..N running. */
static int
ch_start(struct chain *C, int n)
{
	for (; C->nstarted < n; C->nstarted++) {
		int r = C->nstarted;

		if (r > 0 && dh_replica(&C->H, &C->R[r], r + 1) != 0)
			return -1;
		if (dh_start(replica(C, r), false, 120) != 0)
			return -1;
	}
	return 0;
}

struct ch_result {
	int replicas;
	long requests, errors;
	double seconds, rps, p50, p99;
	double rps_r[CH_MAX_REPLICAS], cpu_ms_r[CH_MAX_REPLICAS];
	double p50_r[CH_MAX_REPLICAS], p99_r[CH_MAX_REPLICAS];
	double trips, write_tx, decisions;
	double windows, rss0, rss1, raw_wps;
	double prop_p50, prop_p99, prop_max, probe_ms;
};

static int
ch_load(struct chain *C, int n, int conc, int seconds, int rounds,
    struct ch_result *res)
{
	pthread_t th[CH_MAX_CLIENTS];
	struct ch_client cl[CH_MAX_CLIENTS];
	struct bench_samples all;
	struct bench_stats st;
	struct ch_io io0, io1;
	double cpu0[CH_MAX_REPLICAS], t0, el = 0;
	int r, i, k, nthreads = n * conc, rnd;

	memset(res, 0, sizeof(*res));
	res->replicas = n;
	for (r = 0; r < n; r++) {
		bench_samples_init(&C->lat[r]);
		C->requests[r] = C->errors[r] = 0;
	}
	C->first_error = 0;
	if (ch_read_io(C, n, &io0) != 0)
		return -1;
	for (r = 0; r < n; r++) {
		cpu0[r] = ch_cpu_s(replica(C, r)->pid);
		res->rss0 += bench_rss_mb_of(replica(C, r)->pid);
	}
	for (rnd = 0; rnd < rounds; rnd++) {
		t0 = bench_now();
		C->deadline = t0 + seconds;
		for (i = 0, k = 0; i < nthreads; i++) {
			cl[i] = (struct ch_client){ C, i % n, i };
			if (pthread_create(&th[i], NULL, ch_client_main,
			    &cl[i]) != 0)
				break;
			k++;
		}
		for (i = 0; i < k; i++)
			pthread_join(th[i], NULL);
		el += bench_now() - t0;
	}
	if (ch_read_io(C, n, &io1) != 0)
		return -1;
	res->seconds = el;
	res->trips = io1.trips - io0.trips;
	res->write_tx = io1.write_tx - io0.write_tx;
	res->decisions = io1.decisions - io0.decisions;
	bench_samples_init(&all);
	for (r = 0; r < n; r++) {
		double cpu = ch_cpu_s(replica(C, r)->pid) - cpu0[r];
		size_t j;

		for (j = 0; j < C->lat[r].n; j++)
			bench_samples_add(&all, C->lat[r].v[j]);
		bench_samples_stats(&C->lat[r], &st);
		res->p50_r[r] = st.p50;
		res->p99_r[r] = st.p99;
		res->rps_r[r] = (double)C->requests[r] / el;
		res->cpu_ms_r[r] = C->requests[r] > 0 ?
		    1e3 * cpu / (double)C->requests[r] : 0;
		res->requests += C->requests[r];
		res->errors += C->errors[r];
		res->windows += (double)(C->requests[r] - C->errors[r]) *
		    CH_WINDOWS;
		res->rss1 += bench_rss_mb_of(replica(C, r)->pid);
		bench_samples_free(&C->lat[r]);
	}
	bench_samples_stats(&all, &st);
	bench_samples_free(&all);
	res->p50 = st.p50;
	res->p99 = st.p99;
	res->rps = (double)res->requests / el;
	if (C->first_error != 0)
		fprintf(stderr, "load: %ld of %ld requests failed (first: %s "
		    "%ld)\n", res->errors, res->requests, C->first_error < 0 ?
		    "no answer" : "HTTP", C->first_error);
	return 0;
}

/* --- change propagation --------------------------------------------------- */
struct ch_probe {
	struct dh *h;
	CURL *c;		/* kept across changes: no handshake timed */
	const char *body;
	size_t len;
	bool want_accept;
	double t_change, seen_ms, req_ms;
	long requests;
};

static void *
ch_probe_main(void *arg)
{
	struct ch_probe *p = arg;
	CURL *c = p->c;
	double t_end = p->t_change + 30, t0 = bench_now();

	p->seen_ms = -1;
	while (bench_now() < t_end) {
		struct dh_resp r;
		bool accepted;
		long status;

		if (dh_signed(p->h, c, 1, p->body, p->len, 0, NULL, &r) != 0) {
			dh_resp_free(&r);
			continue;
		}
		p->requests++;
		status = r.status;
		accepted = status == 200 && r.body != NULL &&
		    (strstr(r.body, "\"decision\":\"accept\"") != NULL ||
		    strstr(r.body, "\"decision\": \"accept\"") != NULL);
		dh_resp_free(&r);
		if (status == 200 && accepted == p->want_accept) {
			/* answered now: an upper bound (the request began
			 * at T, after the commit) */
			p->seen_ms = 1e3 * (bench_now() - p->t_change);
			break;
		}
	}
	p->req_ms = p->requests > 0 ?
	    1e3 * (bench_now() - t0) / (double)p->requests : 0;
	return NULL;
}

static int
ch_propagation(struct chain *C, int n, int changes, int members,
    struct bench_stats *st, double *req_ms)
{
	char *probe[CH_CHANGE_PERSONS] = { NULL };
	CURL *c[CH_MAX_REPLICAS] = { NULL };
	size_t plen[CH_CHANGE_PERSONS];
	struct bench_samples s, rq;
	struct dt_error err = { 0 };
	int k, r, rc = -1, np;

	np = CH_PERSONS - members < CH_CHANGE_PERSONS ?
	    CH_PERSONS - members : CH_CHANGE_PERSONS;
	if (np < 1) {
		fprintf(stderr, "load: --members leaves no ECG-ID person for "
		    "the change propagation\n");
		return -1;
	}
	bench_samples_init(&s);
	bench_samples_init(&rq);
	for (r = 0; r < n; r++) {	/* connections up before any change */
		struct dh_resp resp;

		if ((c[r] = curl_easy_init()) == NULL ||
		    dh_request(replica(C, r), c[r], "GET", "/v1/health", NULL,
		    NULL, 0, &resp) != 0) {
			dh_resp_free(&resp);
			goto out;
		}
		dh_resp_free(&resp);
	}
	for (k = 0; k < np; k++) {	/* 1:1 claims of their first 8 s */
		char rec[64], id[16];

		snprintf(rec, sizeof(rec), "ecg-id/Person_%02d/rec_1",
		    CH_FIRST_PERSON + members + k);
		snprintf(id, sizeof(id), "c%02d", CH_FIRST_PERSON + members + k);
		if (dh_segment_bodies(rec, CH_SEG_S, CH_SEG_S, id, &probe[k],
		    &plen[k], 1) != 1)
			goto out;
	}
	for (k = 0; k < changes; k++) {
		pthread_t th[CH_MAX_REPLICAS];
		struct ch_probe p[CH_MAX_REPLICAS];
		int person = (k / 2) % np;
		bool enrol = k % 2 == 0;
		char rec[64], id[16];
		double t;

		snprintf(id, sizeof(id), "c%02d",
		    CH_FIRST_PERSON + members + person);
		snprintf(rec, sizeof(rec), "ecg-id/Person_%02d/rec_1",
		    CH_FIRST_PERSON + members + person);
		if (enrol ? dh_member(&C->H, id, id, rec, true) :
		    store_member_delete(C->H.s, id, &err)) {
			if (!enrol)
				fprintf(stderr, "load: erase %s: %s\n", id,
				    err.msg);
			goto out;
		}
		t = bench_now();
		for (r = 0; r < n; r++) {
			p[r] = (struct ch_probe){ replica(C, r), c[r],
			    probe[person], plen[person], enrol, t, -1, 0, 0 };
			pthread_create(&th[r], NULL, ch_probe_main, &p[r]);
		}
		for (r = 0; r < n; r++) {
			pthread_join(th[r], NULL);
			if (p[r].seen_ms < 0) {
				fprintf(stderr, "load: replica %d did not see "
				    "change %d (%s %s) within 30 s\n", r + 1,
				    k + 1, enrol ? "enrol" : "erase", id);
				goto out;
			}
			bench_samples_add(&s, p[r].seen_ms);
			bench_samples_add(&rq, p[r].req_ms);
		}
	}
	bench_samples_stats(&s, st);
	{
		struct bench_stats q;

		bench_samples_stats(&rq, &q);
		*req_ms = q.p50;
	}
	rc = 0;
out:
	for (r = 0; r < n; r++)
		curl_easy_cleanup(c[r]);
	for (k = 0; k < CH_CHANGE_PERSONS; k++)
		free(probe[k]);
	bench_samples_free(&s);
	bench_samples_free(&rq);
	return rc;
}

/* One replica count's figures: a table row per replica, or one JSON line
 * with DESIGN.md section 9's load keys. */
static void
ch_print(const struct ch_result *res, bool pg, int conc, int changes,
    bool json)
{
	double per_dec = res->decisions > 0 ? 1.0 / res->decisions : 0;
	double wps = res->seconds > 0 ? res->windows / res->seconds : 0;
	double overhead = res->raw_wps > 0 ? 1.0 - wps / res->raw_wps : -1;
	double cpu = 0;
	int r;

	if (json) {
		printf("{\"bench\":\"load\",\"store\":\"%s\",\"replicas\":%d,"
		    "\"concurrency\":%d,\"requests\":%ld,\"errors\":%ld,"
		    "\"requests_per_s\":%.2f,\"latency_ms_p50\":%.2f,"
		    "\"latency_ms_p99\":%.2f,\"rss_mb_start\":%.1f,"
		    "\"rss_mb_end\":%.1f,\"raw_infer_windows_per_s\":%.1f,"
		    "\"daemon_windows_per_s\":%.1f,\"overhead\":%.4f,"
		    "\"propagation_ms_p50\":%.1f,\"propagation_ms_p99\":%.1f,"
		    "\"propagation_probe_ms\":%.1f,"
		    "\"round_trips_per_decision\":%.2f,"
		    "\"write_transactions_per_decision\":%.3f,\"replica\":[",
		    pg ? "postgresql" : "sqlite", res->replicas,
		    res->replicas * conc, res->requests, res->errors, res->rps,
		    res->p50, res->p99, res->rss0, res->rss1, res->raw_wps, wps,
		    overhead, res->prop_p50, res->prop_p99, res->probe_ms,
		    res->trips * per_dec, res->write_tx * per_dec);
		for (r = 0; r < res->replicas; r++)
			printf("%s{\"requests_per_s\":%.2f,\"latency_ms_p50\":"
			    "%.2f,\"latency_ms_p99\":%.2f,\"cpu_ms_per_request"
			    "\":%.2f}", r ? "," : "", res->rps_r[r], res->p50_r[r],
			    res->p99_r[r], res->cpu_ms_r[r]);
		printf("]}\n");
		fflush(stdout);
		return;
	}
	printf("%d replica(s): %ld requests (%ld failed), %.1f req/s, p50 "
	    "%.1f ms, p99 %.1f ms; per decision %.2f round trips and %.3f "
	    "write transactions to the store\n", res->replicas, res->requests,
	    res->errors, res->rps, res->p50, res->p99, res->trips * per_dec,
	    res->write_tx * per_dec);
	for (r = 0; r < res->replicas; r++) {
		printf("  replica %d: %.1f req/s, p50 %.1f ms, p99 %.1f ms, CPU "
		    "%.2f ms per request\n", r + 1, res->rps_r[r], res->p50_r[r],
		    res->p99_r[r], res->cpu_ms_r[r]);
		cpu += res->cpu_ms_r[r];
	}
	cpu /= res->replicas;
	printf("  windows/s: %.0f through the replicas, %.0f through the "
	    "network alone in the same run (overhead %.1f %%); RSS %.1f -> "
	    "%.1f MB\n", wps, res->raw_wps, 100 * overhead, res->rss0,
	    res->rss1);
	if (cpu > 0)
		printf("  at %.2f ms of replica CPU per request one core serves "
		    "at most %.0f req/s: about %.0f x cores while the store "
		    "keeps up\n", cpu, 1e3 / cpu, 1e3 / cpu);
	if (changes > 0)
		printf("  change propagation, %d changes (enrol, erase) x %d "
		    "replicas: p50 %.1f ms, p99 %.1f ms, max %.1f ms (one probe "
		    "takes %.1f ms: the resolution)\n", changes, res->replicas,
		    res->prop_p50, res->prop_p99, res->prop_max, res->probe_ms);
	fflush(stdout);
}

static void
ch_usage(FILE *f)
{
	fprintf(f, "usage: dt4ecg-bench load --replicas N[,N...] "
	    "[--store postgresql://...] [--concurrency C] [--seconds S] "
	    "[--rounds R] [--threads T] [--members M] [--changes K] "
	    "[--model FILE] [--json]\n");
}

int
bench_chain_main(int argc, char **argv)
{
	static struct chain C;
	int reps[CH_MAX_REPLICAS], nreps = 0, conc = 1, seconds = 10;
	int rounds = 1, threads = 1, members = 5, changes = 20, i, r, rc = 1;
	const char *store = NULL, *model = NULL;
	char conf[512], modelbuf[1024];
	bool json = false;
	struct ch_result res;
	struct bench_stats prop;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int p;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			ch_usage(stdout);
			return 0;
		}
		if (strcmp(a, "--json") == 0) {
			json = true;
			continue;
		}
		if (v == NULL) {
			ch_usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(a, "--replicas") == 0) {
			if ((nreps = bench_parse_int_list(a, v, reps,
			    CH_MAX_REPLICAS, 1, CH_MAX_REPLICAS)) < 1)
				return 2;
		} else if (strcmp(a, "--store") == 0) {
			if (strncmp(v, "postgresql://", 13) != 0 &&
			    strncmp(v, "postgres://", 11) != 0 &&
			    strcmp(v, "sqlite") != 0) {
				fprintf(stderr, "load: --store %s: expected "
				    "sqlite or a postgresql:// URI\n", v);
				return 2;
			}
			store = strcmp(v, "sqlite") == 0 ? NULL : v;
		} else if (strcmp(a, "--concurrency") == 0) {
			if (bench_parse_int(a, v, 1, CH_MAX_CLIENTS /
			    CH_MAX_REPLICAS, &conc) != 0)
				return 2;
		} else if (strcmp(a, "--seconds") == 0) {
			if (bench_parse_int(a, v, 1, 3600, &seconds) != 0)
				return 2;
		} else if (strcmp(a, "--rounds") == 0) {
			if (bench_parse_int(a, v, 1, CH_MAX_ROUNDS, &rounds) != 0)
				return 2;
		} else if (strcmp(a, "--threads") == 0) {
			if (bench_parse_int(a, v, 1, 64, &threads) != 0)
				return 2;
		} else if (strcmp(a, "--members") == 0) {
			if (bench_parse_int(a, v, 1, CH_PERSONS - 1,
			    &members) != 0)
				return 2;
		} else if (strcmp(a, "--changes") == 0) {
			if (bench_parse_int(a, v, 0, 1000, &changes) != 0)
				return 2;
			changes += changes % 2;	/* each enrolment erased */
		} else if (strcmp(a, "--model") == 0) {
			model = v;
		} else {
			ch_usage(stderr);
			return 2;
		}
	}
	if (nreps == 0) {
		ch_usage(stderr);
		return 2;
	}
	if (model == NULL) {
		const char *src = getenv("DT4ECG_SRCDIR");

		snprintf(modelbuf, sizeof(modelbuf),
		    "%s/models/dt4ecg-default.safetensors",
		    src != NULL ? src : ".");
		model = modelbuf;
	}
	if (sodium_init() < 0 || pthread_mutex_init(&C.lock, NULL) != 0)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (getenv("DT4ECG_DATA") == NULL)
		setenv("DT4ECG_DATA", "../shared/data", 0);
	if (getenv("DT4ECG_BUILDDIR") == NULL)
		setenv("DT4ECG_BUILDDIR", ".", 0);
	/* limits that let one kiosk send the whole load */
	/* replicas share this host: one core's worth of network each */
	snprintf(conf, sizeof(conf), "threads = %d\nnetwork_threads = 1\n"
	    "threshold = 0.7\n"
	    "rate_per_kiosk = 10000\nrate_burst = 100000\n"
	    "replay_capacity = 1048576\nconnection_limit = 256\n"
	    "per_ip_limit = 0\nqueue_max = 256\n"
	    "kiosk_lockout_failures = 100000\nlockout_failures = 1000\n",
	    threads);
	if (dh_init_at(&C.H, conf, store) != 0 ||
	    dh_model_file(&C.H, model, "bench") != 0)
		goto out;
	C.H.full_model = true;
	for (i = 0; i < members; i++) {
		char id[16], rec[64];

		snprintf(id, sizeof(id), "m%02d", CH_FIRST_PERSON + i);
		snprintf(rec, sizeof(rec), "ecg-id/Person_%02d/rec_1",
		    CH_FIRST_PERSON + i);
		if (dh_member(&C.H, id, id, rec, false) != 0)
			goto out;
		snprintf(rec, sizeof(rec), "ecg-id/Person_%02d/rec_2",
		    CH_FIRST_PERSON + i);
		if (ch_add_bodies(&C, rec) != 0)
			goto out;
	}
	if (C.nbodies == 0 || dh_activate(&C.H) != 0)
		goto out;
	if (!json)
		printf("load: %s store, %d client(s) per replica, %d thread(s) "
		    "per replica, %d s x %d round(s), %d members, %ld cores\n",
		    store != NULL ? "PostgreSQL" : "SQLite", conc, threads,
		    seconds, rounds, members, sysconf(_SC_NPROCESSORS_ONLN));
	for (i = 0; i < nreps; i++) {
		if (ch_start(&C, reps[i]) != 0 ||
		    ch_load(&C, reps[i], conc, seconds, rounds, &res) != 0)
			goto out;
		/* the network alone, as many threads as the replicas have
		 * cores, a request's windows per call: the baseline */
		p = reps[i] * threads < ncpu ? reps[i] * threads : (int)ncpu;
		res.raw_wps = bench_raw_rate(C.H.model, p, (long)res.windows >
		    60 ? (long)res.windows : 60, CH_WINDOWS);
		if (changes > 0 && ch_propagation(&C, reps[i], changes, members,
		    &prop, &res.probe_ms) != 0)
			goto out;
		res.prop_p50 = changes > 0 ? prop.p50 : -1;
		res.prop_p99 = changes > 0 ? prop.p99 : -1;
		res.prop_max = changes > 0 ? prop.max : -1;
		ch_print(&res, store != NULL, conc, changes, json);
	}
	rc = 0;
out:
	for (r = C.nstarted - 1; r >= 1; r--)
		dh_cleanup(&C.R[r]);
	if (C.H.pid > 0) {
		int st;

		if (dh_stop(&C.H, 60, &st) == 0 && st != 0)
			fprintf(stderr, "load: dt4ecgd exited with %d\n", st);
	}
	dh_cleanup(&C.H);
	for (i = 0; i < C.nbodies; i++)
		free(C.bodies[i].json);
	curl_global_cleanup();
	return rc;
}

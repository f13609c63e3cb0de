/*
 * daemon/metrics.c — counters and histograms for GET /metrics, rendered in
 * the Prometheus text exposition format (version 0.0.4).
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dmn.h"
#include "daemon/replay.h"
#include "store/match.h"
#include "store/store.h"

#define STATUS_MAX 600
static const double buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct histo {
	uint64_t le[NBUCKETS];	/* cumulative at render time */
	uint64_t count;
	double sum;
};

static pthread_mutex_t mlock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t requests[ROUTE_COUNT][STATUS_MAX];
static struct histo latency[ROUTE_COUNT];
static struct histo inference;
static uint64_t decisions[2];	/* reject, accept */
static uint64_t kiosk_failures[2];	/* 1:1, 1:N */
static uint64_t kiosk_locks, template_updates;
/* batches: requests per batch (1, 2, 3-4, ..., 129-256), windows */
#define BATCH_BUCKETS 9
static uint64_t batch_req[BATCH_BUCKETS];
static uint64_t batches, batch_windows, batch_requests;
static double stage_sum[STAGE_COUNT];
static uint64_t stage_count[STAGE_COUNT];

static const char *const stage_names[STAGE_COUNT] = {
	"tls", "signature", "body", "digest", "admit", "parse", "queue",
	"preprocess", "network", "match", "audit", "lockout", "answer"
};

static void
histo_add(struct histo *h, double v)
{
	size_t i;

	for (i = 0; i < NBUCKETS; i++)
		if (v <= buckets[i]) {
			h->le[i]++;
			break;
		}
	h->count++;
	h->sum += v;
}

void
metrics_request(enum dmn_route route, int status, double seconds)
{
	if (route >= ROUTE_COUNT)
		route = ROUTE_OTHER;
	if (status < 0 || status >= STATUS_MAX)
		status = 0;
	pthread_mutex_lock(&mlock);
	requests[route][status]++;
	histo_add(&latency[route], seconds);
	pthread_mutex_unlock(&mlock);
}

void
metrics_kiosk_failure(bool one_to_n)
{
	pthread_mutex_lock(&mlock);
	kiosk_failures[one_to_n ? 1 : 0]++;
	pthread_mutex_unlock(&mlock);
}

void
metrics_template_update(void)
{
	pthread_mutex_lock(&mlock);
	template_updates++;
	pthread_mutex_unlock(&mlock);
}

void
metrics_kiosk_lock(void)
{
	pthread_mutex_lock(&mlock);
	kiosk_locks++;
	pthread_mutex_unlock(&mlock);
}

void
metrics_inference(double seconds)
{
	pthread_mutex_lock(&mlock);
	histo_add(&inference, seconds);
	pthread_mutex_unlock(&mlock);
}

void
metrics_windows(size_t w)
{
	pthread_mutex_lock(&mlock);
	batch_windows += w;
	pthread_mutex_unlock(&mlock);
}

void
metrics_batch(int n)
{
	int b = 0;

	while (b < BATCH_BUCKETS - 1 && n > (1 << b))
		b++;
	pthread_mutex_lock(&mlock);
	batch_req[b]++;
	batches++;
	batch_requests += (uint64_t)n;
	pthread_mutex_unlock(&mlock);
}

void
metrics_stages(const struct dmn_req *r)
{
	int i;

	pthread_mutex_lock(&mlock);
	for (i = 0; i < STAGE_COUNT; i++)
		if (r->stage[i] >= 0) {
			stage_sum[i] += r->stage[i];
			stage_count[i]++;
		}
	pthread_mutex_unlock(&mlock);
}

void
metrics_decision(bool accept)
{
	pthread_mutex_lock(&mlock);
	decisions[accept ? 1 : 0]++;
	pthread_mutex_unlock(&mlock);
}

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *np;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		if ((np = realloc(b->p, b->cap * 2 + (size_t)n)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

static void
histo_render(struct buf *b, const char *name, const char *labels,
    const struct histo *h)
{
	uint64_t cum = 0;
	size_t i;
	const char *sep = labels[0] != '\0' ? "," : "";

	for (i = 0; i < NBUCKETS; i++) {
		cum += h->le[i];
		bprintf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
		    buckets[i], (unsigned long long)cum);
	}
	bprintf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
	    (unsigned long long)h->count);
	if (labels[0] != '\0') {
		bprintf(b, "%s_sum{%s} %.6f\n", name, labels, h->sum);
		bprintf(b, "%s_count{%s} %llu\n", name, labels,
		    (unsigned long long)h->count);
	} else {
		bprintf(b, "%s_sum %.6f\n", name, h->sum);
		bprintf(b, "%s_count %llu\n", name,
		    (unsigned long long)h->count);
	}
}

char *
metrics_render(struct dmn_gen *g, size_t *len)
{
	struct buf b = { NULL, 0, 8192, false };
	struct match_stats st;
	char labels[64];
	uint64_t trips, write_tx;
	int r, s;

	if ((b.p = malloc(b.cap)) == NULL)
		return NULL;
	b.p[0] = '\0';
	match_index_stats(g->index, &st);

	pthread_mutex_lock(&mlock);
	bprintf(&b, "# HELP dt4ecg_http_requests_total HTTP requests by "
	    "route and status.\n# TYPE dt4ecg_http_requests_total counter\n");
	for (r = 0; r < ROUTE_COUNT; r++)
		for (s = 0; s < STATUS_MAX; s++)
			if (requests[r][s] != 0)
				bprintf(&b, "dt4ecg_http_requests_total{route="
				    "\"%s\",status=\"%d\"} %llu\n",
				    dmn_route_name(r), s,
				    (unsigned long long)requests[r][s]);
	bprintf(&b, "# HELP dt4ecg_http_request_duration_seconds Request "
	    "latency by route.\n"
	    "# TYPE dt4ecg_http_request_duration_seconds histogram\n");
	for (r = 0; r < ROUTE_COUNT; r++) {
		snprintf(labels, sizeof(labels), "route=\"%s\"",
		    dmn_route_name(r));
		histo_render(&b, "dt4ecg_http_request_duration_seconds",
		    labels, &latency[r]);
	}
	bprintf(&b, "# HELP dt4ecg_inference_duration_seconds Preprocessing "
	    "and network time per authentication.\n"
	    "# TYPE dt4ecg_inference_duration_seconds histogram\n");
	histo_render(&b, "dt4ecg_inference_duration_seconds", "", &inference);
	bprintf(&b, "# HELP dt4ecg_inference_batch_requests Requests per "
	    "network batch (dynamic batching).\n"
	    "# TYPE dt4ecg_inference_batch_requests histogram\n");
	{
		uint64_t cum = 0;

		for (s = 0; s < BATCH_BUCKETS - 1; s++) {
			cum += batch_req[s];
			bprintf(&b, "dt4ecg_inference_batch_requests_bucket"
			    "{le=\"%d\"} %llu\n", 1 << s,
			    (unsigned long long)cum);
		}
		bprintf(&b, "dt4ecg_inference_batch_requests_bucket"
		    "{le=\"+Inf\"} %llu\n"
		    "dt4ecg_inference_batch_requests_sum %llu\n"
		    "dt4ecg_inference_batch_requests_count %llu\n",
		    (unsigned long long)batches,
		    (unsigned long long)batch_requests,
		    (unsigned long long)batches);
	}
	bprintf(&b, "# HELP dt4ecg_inference_batch_windows_total Windows run "
	    "by the network.\n"
	    "# TYPE dt4ecg_inference_batch_windows_total counter\n"
	    "dt4ecg_inference_batch_windows_total %llu\n",
	    (unsigned long long)batch_windows);
	bprintf(&b, "# HELP dt4ecg_authenticate_stage_seconds Where "
	    "POST /v1/authenticate spends its time, by stage.\n"
	    "# TYPE dt4ecg_authenticate_stage_seconds summary\n");
	for (r = 0; r < STAGE_COUNT; r++)
		bprintf(&b, "dt4ecg_authenticate_stage_seconds_sum{stage="
		    "\"%s\"} %.6f\n"
		    "dt4ecg_authenticate_stage_seconds_count{stage=\"%s\"} "
		    "%llu\n", stage_names[r], stage_sum[r], stage_names[r],
		    (unsigned long long)stage_count[r]);
	bprintf(&b, "# HELP dt4ecg_decisions_total Authentication decisions."
	    "\n# TYPE dt4ecg_decisions_total counter\n"
	    "dt4ecg_decisions_total{decision=\"accept\"} %llu\n"
	    "dt4ecg_decisions_total{decision=\"reject\"} %llu\n",
	    (unsigned long long)decisions[1], (unsigned long long)decisions[0]);
	bprintf(&b, "# HELP dt4ecg_kiosk_failed_decisions_total Rejects that "
	    "count towards a kiosk's lock.\n"
	    "# TYPE dt4ecg_kiosk_failed_decisions_total counter\n"
	    "dt4ecg_kiosk_failed_decisions_total{mode=\"1:1\"} %llu\n"
	    "dt4ecg_kiosk_failed_decisions_total{mode=\"1:N\"} %llu\n",
	    (unsigned long long)kiosk_failures[0],
	    (unsigned long long)kiosk_failures[1]);
	bprintf(&b, "# HELP dt4ecg_kiosk_locks_total Kiosks locked after "
	    "kiosk_lockout_failures failed decisions.\n"
	    "# TYPE dt4ecg_kiosk_locks_total counter\n"
	    "dt4ecg_kiosk_locks_total %llu\n", (unsigned long long)kiosk_locks);
	bprintf(&b, "# HELP dt4ecg_template_updates_total Probes added as "
	    "templates of the member they matched well above the threshold.\n"
	    "# TYPE dt4ecg_template_updates_total counter\n"
	    "dt4ecg_template_updates_total %llu\n",
	    (unsigned long long)template_updates);
	pthread_mutex_unlock(&mlock);

	store_io_counts(&trips, &write_tx);
	bprintf(&b, "# HELP dt4ecg_store_round_trips_total Statements sent "
	    "to the store (SQLite or PostgreSQL), background work included.\n"
	    "# TYPE dt4ecg_store_round_trips_total counter\n"
	    "dt4ecg_store_round_trips_total %llu\n"
	    "# HELP dt4ecg_store_write_transactions_total Transactions that "
	    "wrote to the store.\n"
	    "# TYPE dt4ecg_store_write_transactions_total counter\n"
	    "dt4ecg_store_write_transactions_total %llu\n",
	    (unsigned long long)trips, (unsigned long long)write_tx);
	bprintf(&b, "# HELP dt4ecg_enrolled_members Members with a template "
	    "for the active model.\n# TYPE dt4ecg_enrolled_members gauge\n"
	    "dt4ecg_enrolled_members %zu\n", st.members);
	bprintf(&b, "# HELP dt4ecg_templates Templates of the active model in "
	    "the match index.\n# TYPE dt4ecg_templates gauge\n"
	    "dt4ecg_templates %zu\n", st.templates);
	bprintf(&b, "# HELP dt4ecg_model_info The active model (value 1).\n"
	    "# TYPE dt4ecg_model_info gauge\n"
	    "dt4ecg_model_info{model=\"%s\",dim=\"%d\"} %d\n", st.model,
	    st.dim, st.model[0] != '\0');
	bprintf(&b, "# HELP dt4ecg_replay_cache_entries Nonces remembered.\n"
	    "# TYPE dt4ecg_replay_cache_entries gauge\n"
	    "dt4ecg_replay_cache_entries %zu\n", replay_count(g->replay));
	bprintf(&b, "# HELP dt4ecg_inference_queue Requests waiting for or "
	    "in inference.\n# TYPE dt4ecg_inference_queue gauge\n"
	    "dt4ecg_inference_queue %zu\n", queue_length());
	bprintf(&b, "# HELP dt4ecg_config_generation Configuration "
	    "generation (1 + successful reloads).\n"
	    "# TYPE dt4ecg_config_generation gauge\n"
	    "dt4ecg_config_generation %llu\n", (unsigned long long)g->id);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

int
h_metrics(struct dmn_req *r)
{
	size_t len;
	char *text;
	int ret;

	if ((text = metrics_render(r->gen, &len)) == NULL)
		return reply_problem(r, PROBLEM_INTERNAL, "out of memory");
	ret = reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    text, len);
	free(text);
	return ret;
}

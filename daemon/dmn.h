/*
 * daemon/dmn.h — what the parts of dt4ecgd share: the serving generation
 * (configuration and everything built from it, swapped whole on SIGHUP),
 * the HTTP server, per-thread workers, metrics, lockout and sd_notify.
 *
 * Generations.  Everything a request reads that a reload may change lives in
 * one immutable, reference-counted struct dmn_gen.  A request takes a
 * reference when it starts (dmn_gen_get) and drops it when it completes, so
 * a reload builds the new generation beside the old one, publishes it with
 * one pointer swap and the old one is freed by the last request that used
 * it.  The replay cache is process-wide: a reload must not forget nonces.
 */
#ifndef DT_DAEMON_DMN_H
#define DT_DAEMON_DMN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/cfg.h"
#include "proto/problem.h"
#include "util/error.h"

struct MHD_Connection;
struct MHD_Response;
struct body_auth;
struct match_index;
struct ratelimit;
struct replay;
struct store;
struct store_key;

#define DMN_REQUEST_ID_LEN 32	/* hex characters */

/* A reference-counted token bucket table, shared by generations whose rate
 * parameters agree (so a reload does not refill every kiosk's bucket). */
struct dmn_rl {
	int refs;		/* under dmn_gen_lock */
	double rate, burst;
	struct ratelimit *rl;
};

struct dmn_gen {
	int refs;			/* under dmn_gen_lock */
	uint64_t id;			/* 1, 2, ... */
	struct cfg cfg;
	char *tls_cert;			/* PEM, NUL-terminated */
	char *tls_key;			/* PEM, sodium_malloc'd, wiped */
	size_t tls_key_len;
	struct store_key *store_key;
	struct match_index *index;	/* templates of the active model */
	struct dmn_rl *rl;
	struct replay *replay;		/* borrowed: process-wide */
	unsigned lockout_failures, lockout_s;
};

/* --- gen.c ---------------------------------------------------------------- */
/*
 * Builds a generation from the configuration file: reads the TLS certificate
 * and key (the key from $CREDENTIALS_DIRECTORY/tls.key when that is set),
 * the store key ($CREDENTIALS_DIRECTORY/store.key, else cfg store_key), opens
 * the store once to check that it opens with that key and to fill the match
 * index.  PREV (may be NULL) lends its rate-limit table when the rates agree.
 */
int dmn_gen_build(const char *conf_path, const struct dmn_gen *prev,
    struct replay *replay, struct dmn_gen **out, struct dt_error *err);
/* Publishes G (takes the caller's reference) and drops the old one. */
void dmn_gen_publish(struct dmn_gen *g);
/* A new reference to the current generation (never NULL once published). */
struct dmn_gen *dmn_gen_get(void);
void dmn_gen_put(struct dmn_gen *g);
/* Another reference to G. */
void dmn_gen_ref(struct dmn_gen *g);
/* Opens the store of G (one connection; the caller's thread owns it). */
int dmn_gen_open_store(const struct dmn_gen *g, struct store **out,
    struct dt_error *err);

/* --- worker.c: per-thread context, built lazily in the thread ------------ */
struct worker;
/* The calling thread's worker, created on first use; NULL when out of
 * memory.  Freed when the thread exits. */
struct worker *worker_self(void);
/*
 * Brings the worker up to date with G: its own store connection (reopened
 * when the generation changed), the shared match index refreshed, and its
 * embedder rebuilt when the active model changed.  PROBLEM_OK,
 * PROBLEM_NO_MODEL (no active model), PROBLEM_INTERNAL / UNAVAILABLE.
 */
enum problem_kind worker_prepare(struct worker *w, struct dmn_gen *g,
    bool need_model, struct dt_error *err);
/* Only the store connection of G (no index refresh, no model): what the
 * checks before the queue need. */
enum problem_kind worker_prepare_store(struct worker *w, struct dmn_gen *g,
    struct dt_error *err);
struct store *worker_store(struct worker *w);
struct embedder *worker_embedder(struct worker *w);
const char *worker_model_id(const struct worker *w);
int worker_embedding_dim(const struct worker *w);
int worker_n_activities(const struct worker *w);
const char *worker_activity_name(const struct worker *w, int i);
/* The answer's activity label: the top calibrated class, or "unknown" below
 * the model's activity.unknown_below (pipeline/activity.h). */
const char *worker_activity_label(const struct worker *w,
    const float *activity);
/* Stops the pthread key (after every server thread has exited). */
void worker_shutdown(void);
int worker_init(struct dt_error *err);

/* --- server.c ------------------------------------------------------------- */
/* The routes (server.c's route table has one row each). */
enum dmn_route {
	ROUTE_AUTHENTICATE,
	ROUTE_HEALTH,
	ROUTE_READY,
	ROUTE_METRICS,
	ROUTE_OTHER,
	ROUTE_COUNT
};

/* Where a POST /v1/authenticate spends its time (GET /metrics,
 * dt4ecg_authenticate_stage_seconds); -1 for a stage not reached. */
enum dmn_stage {
	STAGE_TLS,		/* accept, TLS handshake, headers (new conn) */
	STAGE_SIGNATURE,	/* kiosk lookup, RFC 9421 verification */
	STAGE_BODY,		/* reading the body */
	STAGE_DIGEST,		/* Content-Digest over the body */
	STAGE_ADMIT,		/* rate limit, locks, nonce (cache + store) */
	STAGE_PARSE,		/* JSON body and its samples */
	STAGE_QUEUE,		/* waiting for an inference thread + batch */
	STAGE_PREPROCESS,	/* signal check, resampling, filter, windows */
	STAGE_NETWORK,		/* the batch's network pass */
	STAGE_MATCH,		/* the decision over the match index */
	STAGE_AUDIT,		/* the audit entry (the group's commit) */
	STAGE_LOCKOUT,		/* failure counters after the decision */
	STAGE_ANSWER,		/* encoded answer to response sent */
	STAGE_COUNT
};

/* What a handler needs of its request. */
struct dmn_req {
	struct MHD_Connection *conn;
	struct dmn_gen *gen;		/* reference held for the request */
	enum dmn_route route;
	const char *method;
	const char *path;
	char *body;			/* malloc'd, NUL-terminated */
	size_t body_len;
	bool too_large;
	char request_id[DMN_REQUEST_ID_LEN + 1];
	int status;			/* for the log line and metrics */
	double t0;			/* monotonic seconds */
	double t_conn;			/* when the connection was accepted */
	char peer[64];
	/* POST /v1/authenticate, filled on the way */
	bool sig_checked;		/* signature verified from the headers */
	char kiosk[256];
	char nonce[256];
	int64_t created;
	struct body_auth *auth;		/* parsed body, for the queue */
	/* A reply made on the inference queue: queued by the MHD thread
	 * when the connection is resumed. */
	bool deferred;
	bool suspended;			/* until MHD calls us back */
	struct MHD_Response *resp;
	unsigned resp_status;
	/* timing (dmn_now_mono) */
	bool expected;			/* counted by queue_expect_begin */
	double t_body;			/* headers accepted */
	double t_queued, t_answer;
	double stage[STAGE_COUNT];
};

struct server;
/* Starts an MHD daemon for G (TLS, limits, thread pool).  RUNNING: the
 * generation of the server being replaced by a reload (NULL at start-up):
 * only then, and on the same address, may the port be shared.  0 / -1. */
int server_start(struct dmn_gen *g, const struct dmn_gen *running,
    struct server **out, struct dt_error *err);
/* Stops accepting (the listening socket is closed) but keeps serving the
 * requests in flight. */
void server_quiesce(struct server *s);
/* Waits (at most wait_s) for the requests in flight, then stops. */
void server_stop(struct server *s, double wait_s);

/* Reply helpers (return the MHD_Result of MHD_queue_response). */
int reply_json(struct dmn_req *r, int status, const char *text, size_t len);
int reply_problem(struct dmn_req *r, enum problem_kind kind,
    const char *detail);
/* Retry-After of a 503 while the store is unreachable (PostgreSQL
 * restarting or failing over; SQLite busy): the store reconnects by
 * itself on the next request. */
#define DMN_STORE_RETRY_S 2
int reply_problem_retry(struct dmn_req *r, enum problem_kind kind,
    const char *detail, unsigned retry_after_s);
int reply_text(struct dmn_req *r, int status, const char *ctype,
    const char *text, size_t len);

double dmn_now_mono(void);
/* The route's label in the metrics ("other" when none). */
const char *dmn_route_name(enum dmn_route route);

/* --- handlers ------------------------------------------------------------- */
#define H_AUTH_QUEUE 0x7fff	/* h_authenticate: run r on the queue */
/* On the headers, before the body is read: the signature (401s).
 * MHD_YES to go on reading the body, else the reply's result. */
int h_auth_headers(struct dmn_req *r);
/* Once the body is in: the checks up to the inference; H_AUTH_QUEUE to
 * run h_auth_run() on the inference queue, else the reply's result. */
int h_authenticate(struct dmn_req *r);
/* On an inference thread: the N requests of a batch (queue.c) —
 * preprocessing, one network pass over all their windows, decisions, the
 * audit entries in one commit, replies (deferred). */
void h_auth_run_batch(struct dmn_req **rs, int n);
int h_health(struct dmn_req *r);
int h_ready(struct dmn_req *r);
int h_metrics(struct dmn_req *r);

/* --- metrics.c ------------------------------------------------------------ */
void metrics_request(enum dmn_route route, int status, double seconds);
void metrics_inference(double seconds);
/* A batch of N requests gathered by the inference queue; W windows run
 * through the network. */
void metrics_batch(int n);
void metrics_windows(size_t w);
/* The stages R reached (POST /v1/authenticate, when it completes). */
void metrics_stages(const struct dmn_req *r);
void metrics_decision(bool accept);
void metrics_kiosk_failure(bool one_to_n);
void metrics_kiosk_lock(void);
void metrics_template_update(void);
/* Prometheus text exposition into a malloc'd buffer; NULL if out of memory. */
char *metrics_render(struct dmn_gen *g, size_t *len);

/* --- queue.c: the bounded inference queue -------------------------------- */
/*
 * NTHREADS threads run h_auth_run_batch() for at most CAPACITY requests at
 * once (waiting or running), in batches of at most batch_max windows
 * gathered for at most batch_wait_ms (see queue.c).  queue_reserve() takes
 * a place (false when full: answer 503 with Retry-After); the caller then
 * suspends the connection and calls queue_push(), which cannot fail.  When
 * a batch is done its connections are resumed.  Process-wide: it outlives
 * reloads.
 */
int queue_start(unsigned nthreads, unsigned capacity, struct dt_error *err);
void queue_set_capacity(unsigned capacity);
void queue_set_batch(unsigned max_windows, double wait_s);
/* The active model's rate and window (to count a request's windows). */
void queue_set_geometry(int fs_hz, int window);
/* R is on its way to the queue (its signed headers were accepted): a
 * gathering batch may wait for it.  queue_expect_end() when it is pushed or
 * answered otherwise; both idempotent. */
void queue_expect_begin(struct dmn_req *r);
void queue_expect_end(struct dmn_req *r);
bool queue_reserve(void);
void queue_push(struct dmn_req *r);
/* Waits until no job is waiting or running. */
void queue_wait_idle(void);
/* Stops the threads once every job is done. */
void queue_stop(void);
size_t queue_length(void);

/* --- anchor.c ------------------------------------------------------------- */
/* Writes the audit anchor (file and log line) when audit_anchor_s has
 * passed and the log grew, or now with FORCE. */
void anchor_tick(bool force);
/* STEP, or audit_anchor_s when that is shorter (the main loop's wake-up). */
double anchor_step(double step);

/* --- sdnotify.c ----------------------------------------------------------- */
/* Sends STATE to $NOTIFY_SOCKET; a no-op (0) when not set.  0 / -1. */
int sdnotify(const char *state);
/* Half of $WATCHDOG_USEC in seconds (when it names this process), or 0. */
double sdnotify_watchdog_interval(void);

#endif /* DT_DAEMON_DMN_H */

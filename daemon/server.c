/*
 * daemon/server.c — libmicrohttpd glue: TLS 1.2/1.3 only, every limit from
 * the configuration, a thread pool, the three-phase upload with our own
 * body cap, the route table, reply helpers, and one log line plus metrics
 * per request in the completion callback.
 *
 * Reload: MHD cannot change its certificate live, so a reload starts a new
 * MHD daemon on the same address with SO_REUSEPORT
 * (MHD_OPTION_LISTENING_ADDRESS_REUSE), then quiesces the old one (its
 * listening socket closes; requests in flight finish) and stops it once its
 * in-flight count is zero.  Only that overlap shares the port: at start-up
 * (and when a reload moves to another address) the address is first bound
 * without SO_REUSEPORT, so a port that another process holds fails with
 * "address already in use".
 *
 * POST /v1/authenticate: the signature is verified from the headers before
 * any body is read; the body is read within body_timeout_s of the
 * connection (headers within header_timeout_s: a sweeper thread per server
 * shuts down connections past their deadline, whatever their idle time);
 * a chunked body past max_body is answered 413 and the connection closed
 * at once; then the request is suspended and runs on the inference queue.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "daemon/body.h"
#include "daemon/dmn.h"
#include "util/log.h"

/* TLS 1.3, and TLS 1.2 with ECDHE and AEAD ciphers only: no CBC, no
 * SHA-1 MACs, no static RSA or finite-field DHE key exchange. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-CIPHER-ALL:+AES-256-GCM:" \
	"+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD"
#define CONN_MEMORY_LIMIT (64 * 1024)	/* headers; the body is ours */
#define MAX_OPTS 16

/* One accepted connection, for the deadlines. */
struct conn {
	struct conn *prev, *next;
	int fd;
	double t;		/* accepted, or the last request's end */
	bool in_request;	/* headers in: the body deadline applies */
	bool idle;		/* suspended or answered: no deadline */
	bool cut;		/* shut down by the sweeper */
	bool served;		/* a request began on it */
};

struct server {
	struct MHD_Daemon *d;
	struct dmn_gen *gen;		/* reference: TLS buffers, limits */
	atomic_int in_flight;
	atomic_int suspended;		/* connections MHD has not resumed */
	bool quiesced;
	pthread_mutex_t clock;		/* conns */
	struct conn conns;		/* list head */
	pthread_t sweeper;
	bool sweeping;
	atomic_bool stop_sweep;
};

/*
 * The routes, one row each: route_of(), dispatch(), the Allow header of a
 * 405 and the metrics label (dmn_route_name) all read this table.  A route
 * with a body gets the Content-Type and Content-Length checks and its
 * `headers` check before a byte of the body is read; a handler answering
 * H_AUTH_QUEUE has the request run on the inference queue.  A new route is
 * one enum dmn_route value (dmn.h) and one row here.
 */
static const struct route {
	const char *path;	/* NULL: not a route (404) */
	const char *name;	/* the metrics label */
	const char *allow;	/* its methods, as the Allow header lists them */
	bool body;		/* takes a JSON body */
	int (*headers)(struct dmn_req *r);
	int (*handler)(struct dmn_req *r);
} routes[ROUTE_COUNT] = {
	[ROUTE_AUTHENTICATE] = { .path = "/v1/authenticate",
	    .name = "authenticate", .allow = "POST", .body = true,
	    .headers = h_auth_headers, .handler = h_authenticate },
	[ROUTE_HEALTH] = { .path = "/v1/health", .name = "health",
	    .allow = "GET, HEAD", .handler = h_health },
	[ROUTE_READY] = { .path = "/v1/ready", .name = "ready",
	    .allow = "GET, HEAD", .handler = h_ready },
	[ROUTE_METRICS] = { .path = "/metrics", .name = "metrics",
	    .allow = "GET, HEAD", .handler = h_metrics },
	[ROUTE_OTHER] = { .name = "other" },
};

double
dmn_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_warnx("libmicrohttpd: %s", line);
}

/* --- replies -------------------------------------------------------------- */
static int
queue(struct dmn_req *r, int status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	if (r->deferred) {
		/* on the inference queue: the MHD thread queues it */
		if (r->resp != NULL)
			MHD_destroy_response(r->resp);
		r->resp = resp;
		r->resp_status = (unsigned)status;
		return MHD_YES;
	}
	ret = MHD_queue_response(r->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		r->status = status;
	return ret;
}

int
reply_text(struct dmn_req *r, int status, const char *ctype,
    const char *text, size_t len)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)text,
	    MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return queue(r, status, resp);
}

int
reply_json(struct dmn_req *r, int status, const char *text, size_t len)
{
	return reply_text(r, status, "application/json", text, len);
}

int
reply_problem_retry(struct dmn_req *r, enum problem_kind kind,
    const char *detail, unsigned retry_after_s)
{
	struct MHD_Response *resp;
	char *text, num[32];
	size_t len;

	if ((text = problem_dumps(kind, detail, &len)) == NULL)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(len, text,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    PROBLEM_CONTENT_TYPE);
	if (retry_after_s > 0) {
		snprintf(num, sizeof(num), "%u", retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	if (kind == PROBLEM_METHOD_NOT_ALLOWED &&
	    routes[r->route].allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    routes[r->route].allow);
	return queue(r, problem_status(kind), resp);
}

int
reply_problem(struct dmn_req *r, enum problem_kind kind, const char *detail)
{
	return reply_problem_retry(r, kind, detail, 0);
}

/* --- requests ------------------------------------------------------------- */
static enum dmn_route
route_of(const char *url)
{
	int i;

	for (i = 0; i < ROUTE_COUNT; i++)
		if (routes[i].path != NULL && strcmp(url, routes[i].path) == 0)
			return (enum dmn_route)i;
	return ROUTE_OTHER;
}

/* Whether METHOD is one of the route's (its Allow list). */
static bool
method_allowed(const struct route *rt, const char *method)
{
	const char *p = rt->allow;
	size_t n = strlen(method), k;

	while (p != NULL && *p != '\0') {
		k = strcspn(p, ",");
		if (k == n && strncmp(p, method, n) == 0)
			return true;
		p += k;
		p += strspn(p, ", ");
	}
	return false;
}

const char *
dmn_route_name(enum dmn_route route)
{
	return (unsigned)route < ROUTE_COUNT ? routes[route].name :
	    routes[ROUTE_OTHER].name;
}

static void
peer_of(struct MHD_Connection *conn, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(buf, size, "-");
	ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    buf, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    buf, (socklen_t)size);
}

/* True if the media type of a Content-Type value is application/json. */
static bool
is_json(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Content-Length, or -1 when absent or not a plain number. */
static long long
content_length(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	long long n;

	if (v == NULL || *v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return n;
}

/* The deadline state of CONN (NULL if none). */
static struct conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

static void
conn_phase(struct server *srv, struct MHD_Connection *conn, bool in_request,
    bool idle)
{
	struct conn *c = conn_of(conn);

	if (c == NULL)
		return;
	pthread_mutex_lock(&srv->clock);
	c->in_request = in_request;
	c->idle = idle;
	if (!in_request && !idle)	/* between requests: a new deadline */
		c->t = dmn_now_mono();
	pthread_mutex_unlock(&srv->clock);
}

static void
notify_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct server *srv = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *c;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return;
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = ci != NULL ? ci->connect_fd : -1;
		c->t = dmn_now_mono();
		pthread_mutex_lock(&srv->clock);
		c->next = srv->conns.next;
		c->prev = &srv->conns;
		c->next->prev = c;
		srv->conns.next = c;
		pthread_mutex_unlock(&srv->clock);
		*socket_ctx = c;
		return;
	}
	if ((c = *socket_ctx) == NULL)
		return;
	/* Before MHD closes the socket: the sweeper no longer sees it. */
	pthread_mutex_lock(&srv->clock);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	pthread_mutex_unlock(&srv->clock);
	free(c);
	*socket_ctx = NULL;
}

/* Shuts down connections past their header or body deadline (an idle
 * timeout alone lets a client trickle a byte at a time for ever). */
static void *
sweeper(void *arg)
{
	struct server *srv = arg;
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	struct conn *c;
	double now, hdr, body;

	while (!atomic_load(&srv->stop_sweep)) {
		nanosleep(&ts, NULL);
		now = dmn_now_mono();
		hdr = srv->gen->cfg.header_timeout_s;
		body = srv->gen->cfg.body_timeout_s;
		pthread_mutex_lock(&srv->clock);
		for (c = srv->conns.next; c != &srv->conns; c = c->next) {
			if (c->idle || c->cut || c->fd < 0)
				continue;
			if (now - c->t > (c->in_request ? body : hdr)) {
				shutdown(c->fd, SHUT_RDWR);
				c->cut = true;
				log_info("connection cut: %s not complete within "
				    "%.0f s", c->in_request ? "body" :
				    "headers", c->in_request ? body : hdr);
			}
		}
		pthread_mutex_unlock(&srv->clock);
	}
	return NULL;
}

static enum MHD_Result
first_call(struct server *srv, struct MHD_Connection *conn, const char *url,
    const char *method, void **con_cls)
{
	struct dmn_req *r;
	unsigned char rnd[DMN_REQUEST_ID_LEN / 2];
	struct conn *c;
	long long cl;
	int i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MHD_NO;
	r->conn = conn;
	r->t0 = dmn_now_mono();
	for (i = 0; i < STAGE_COUNT; i++)
		r->stage[i] = -1;
	if ((c = conn_of(conn)) != NULL) {
		/* a new connection: accept, handshake and headers */
		pthread_mutex_lock(&srv->clock);
		if (!c->served)
			r->stage[STAGE_TLS] = r->t0 - c->t;
		c->served = true;
		pthread_mutex_unlock(&srv->clock);
	}
	r->method = method;
	r->path = url;
	r->route = route_of(url);
	r->gen = dmn_gen_get();
	peer_of(conn, r->peer, sizeof(r->peer));
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(r->request_id, sizeof(r->request_id), rnd,
	    sizeof(rnd));
	atomic_fetch_add(&srv->in_flight, 1);
	*con_cls = r;
	conn_phase(srv, conn, true, false);

	/* Answers known before the body: refuse to read it. */
	if (routes[r->route].body && method_allowed(&routes[r->route],
	    method)) {
		if (!is_json(MHD_lookup_connection_value(conn,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
			return reply_problem(r, PROBLEM_UNSUPPORTED_MEDIA,
			    "Content-Type must be application/json");
		cl = content_length(conn);
		if (cl > (long long)r->gen->cfg.max_body) {
			char d[128];

			snprintf(d, sizeof(d), "Content-Length %lld exceeds "
			    "the limit of %u bytes", cl, r->gen->cfg.max_body);
			return reply_problem(r, PROBLEM_TOO_LARGE, d);
		}
		/* The signature covers Content-Digest, not the body: check
		 * it before reading a byte of the body. */
		if (routes[r->route].headers != NULL &&
		    (routes[r->route].headers(r) != MHD_YES || r->status != 0))
			return MHD_YES;
		queue_expect_begin(r);	/* a batch may wait for it */
		r->t_body = dmn_now_mono();
		if (cl > 0 && (r->body = malloc((size_t)cl + 1)) == NULL)
			return MHD_NO;
	}
	return MHD_YES;
}

/* false: close the connection at once. */
static bool
append_body(struct dmn_req *r, const char *data, size_t n)
{
	size_t cap = r->gen->cfg.max_body;
	long long cl;
	char *nb;

	if (r->too_large)
		return false;
	if (n > cap - r->body_len) {
		char d[96];

		/* chunked (a Content-Length over the cap was refused
		 * before): answer and cut, do not read on */
		r->too_large = true;
		snprintf(d, sizeof(d), "the body exceeds the limit of %zu bytes",
		    cap);
		return reply_problem(r, PROBLEM_TOO_LARGE, d) == MHD_YES;
	}
	cl = content_length(r->conn);
	if (cl < 0 || r->body == NULL) {
		/* chunked: grow geometrically, bounded by max_body; the old
		 * buffer holds ECG, so it is wiped, not realloc'd */
		size_t want = r->body_len + n + 1, sz = 4096;

		while (sz < want)
			sz *= 2;
		if ((nb = malloc(sz)) == NULL)
			return false;
		if (r->body != NULL) {
			memcpy(nb, r->body, r->body_len);
			sodium_memzero(r->body, r->body_len);
			free(r->body);
		}
		r->body = nb;
	} else if (r->body_len + n > (size_t)cl) {
		return false;	/* MHD enforces Content-Length */
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return true;
}

static enum MHD_Result
dispatch(struct server *srv, struct dmn_req *r)
{
	const struct route *rt = &routes[r->route];
	int ret;

	if (rt->handler == NULL)
		return reply_problem(r, PROBLEM_NOT_FOUND, NULL);
	if (!method_allowed(rt, r->method))
		return reply_problem(r, PROBLEM_METHOD_NOT_ALLOWED, NULL);
	if ((ret = rt->handler(r)) != H_AUTH_QUEUE) {
		queue_expect_end(r);	/* no batch waits for it */
		return ret;
	}
	if (!queue_reserve()) {
		queue_expect_end(r);
		return reply_problem_retry(r, PROBLEM_UNAVAILABLE,
		    "the inference queue is full (queue_max)", 1);
	}
	conn_phase(srv, r->conn, true, true);
	r->suspended = true;
	atomic_fetch_add(&srv->suspended, 1);
	MHD_suspend_connection(r->conn);
	queue_push(r);
	return MHD_YES;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct dmn_req *r = *con_cls;
	enum MHD_Result ret;

	if (r == NULL)
		return first_call(srv, conn, url, method, con_cls);
	if (r->suspended) {
		r->suspended = false;
		atomic_fetch_sub(&srv->suspended, 1);
	}
	if (r->resp != NULL) {
		/* back from the inference queue */
		r->deferred = false;
		ret = MHD_queue_response(conn, r->resp_status, r->resp);
		MHD_destroy_response(r->resp);
		r->resp = NULL;
		if (ret == MHD_YES)
			r->status = (int)r->resp_status;
		return ret;
	}
	if (r->status != 0) {
		/* answered early: drop whatever comes */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (routes[r->route].body &&
		    !append_body(r, upload_data, *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;	/* past max_body: 413 queued */
		return MHD_YES;
	}
	return dispatch(srv, r);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct dmn_req *r = *con_cls;
	double secs;

	if (r == NULL)
		return;
	*con_cls = NULL;
	if (r->suspended)
		atomic_fetch_sub(&srv->suspended, 1);
	queue_expect_end(r);
	conn_phase(srv, conn, false, false);
	secs = dmn_now_mono() - r->t0;
	if (r->t_answer > 0)
		r->stage[STAGE_ANSWER] = dmn_now_mono() - r->t_answer;
	if (r->route == ROUTE_AUTHENTICATE)
		metrics_stages(r);
	if (r->status == 0)
		log_info("%s %s aborted (%d) %.1f ms %s", r->method, r->path,
		    (int)toe, secs * 1e3, r->peer);
	else
		log_info("%s %s %d %.1f ms %s id=%s", r->method, r->path,
		    r->status, secs * 1e3, r->peer, r->request_id);
	metrics_request(r->route, r->status, secs);
	if (r->body != NULL) {
		sodium_memzero(r->body, r->body_len);	/* holds ECG */
		free(r->body);
	}
	if (r->resp != NULL)
		MHD_destroy_response(r->resp);
	body_free(r->auth);
	dmn_gen_put(r->gen);
	free(r);
	atomic_fetch_sub(&srv->in_flight, 1);
}

/* Binds the address once without SO_REUSEPORT: EADDRINUSE means another
 * process (another dt4ecgd?) serves this port. */
static int
port_free(const struct sockaddr_storage *ss, const struct cfg *c,
    struct dt_error *err)
{
	socklen_t len = ss->ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd, one = 1, rc = 0, e;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;	/* MHD will say */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) != 0) {
		e = errno;
		rc = dt_error_set(err, e == EADDRINUSE ? DT_E_BUSY : DT_E_IO,
		    "cannot listen on %s port %u: %s%s", c->listen, c->port,
		    e == EADDRINUSE ? "address already in use" : strerror(e),
		    e == EADDRINUSE ? " (is another dt4ecgd running?)" : "");
	}
	close(fd);
	return rc;
}

/* --- the MHD daemon ------------------------------------------------------- */
int
server_start(struct dmn_gen *g, const struct dmn_gen *running,
    struct server **out, struct dt_error *err)
{
	struct MHD_OptionItem opts[MAX_OPTS];
	struct sockaddr_storage ss;
	struct addrinfo hints, *ai = NULL;
	struct server *srv;
	unsigned flags, threads;
	char port[16];
	int n = 0, rc;

	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return dt_error_set(err, DT_E_UNSUPPORTED,
		    "libmicrohttpd was built without TLS");
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", g->cfg.port);
	if ((rc = getaddrinfo(g->cfg.listen, port, &hints, &ai)) != 0)
		return dt_error_set(err, DT_E_INVALID, "listen %s: %s",
		    g->cfg.listen, gai_strerror(rc));
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	/* Only our own reload on the same address may share the port. */
	if ((running == NULL || running->cfg.port != g->cfg.port ||
	    strcmp(running->cfg.listen, g->cfg.listen) != 0) &&
	    port_free(&ss, &g->cfg, err) != 0)
		return -1;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	atomic_init(&srv->in_flight, 0);
	atomic_init(&srv->suspended, 0);
	atomic_init(&srv->stop_sweep, false);
	srv->gen = g;
	srv->conns.next = srv->conns.prev = &srv->conns;
	pthread_mutex_init(&srv->clock, NULL);

	flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	threads = cfg_threads(&g->cfg);
#define OPT(o, v, p) opts[n++] = (struct MHD_OptionItem){ (o), (v), (p) }
	OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, g->tls_key);
	OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, g->tls_cert);
	OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)TLS_PRIORITIES);
	OPT(MHD_OPTION_SOCK_ADDR, 0, &ss);
	OPT(MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, g->cfg.connection_limit, NULL);
	if (g->cfg.per_ip_limit > 0)
		OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, g->cfg.per_ip_limit,
		    NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, g->cfg.timeout_s, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY_LIMIT, NULL);
	if (threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)(void (*)(void))completed,
	    srv);
	OPT(MHD_OPTION_NOTIFY_CONNECTION,
	    (intptr_t)(void (*)(void))notify_connection, srv);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	/* the logger first of all options, or MHD warns that it is not */
	srv->d = MHD_start_daemon(flags, (uint16_t)g->cfg.port, NULL, NULL,
	    access_handler, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (srv->d == NULL) {
		pthread_mutex_destroy(&srv->clock);
		free(srv);
		return dt_error_set(err, DT_E_IO, "cannot start the HTTPS "
		    "server on %s port %u (see the libmicrohttpd message "
		    "above)", g->cfg.listen, g->cfg.port);
	}
	if (pthread_create(&srv->sweeper, NULL, sweeper, srv) == 0)
		srv->sweeping = true;
	else
		log_warnx("no sweeper thread: only the idle timeout applies");
	dmn_gen_ref(g);
	*out = srv;
	return 0;
}

void
server_quiesce(struct server *s)
{
	MHD_socket fd;

	if (s == NULL || s->quiesced)
		return;
	fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	s->quiesced = true;
}

void
server_stop(struct server *s, double wait_s)
{
	double until, wd = sdnotify_watchdog_interval(), ping;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	if (s == NULL)
		return;
	server_quiesce(s);
	until = dmn_now_mono() + wait_s;
	ping = dmn_now_mono() + wd;
	while (atomic_load(&s->in_flight) > 0 && dmn_now_mono() < until) {
		nanosleep(&ts, NULL);
		/* draining may take up to timeout_s: keep the watchdog fed */
		if (wd > 0 && dmn_now_mono() >= ping) {
			sdnotify("WATCHDOG=1");
			ping = dmn_now_mono() + wd;
		}
	}
	if (atomic_load(&s->in_flight) > 0)
		log_warnx("stopping with %d request(s) still in flight",
		    atomic_load(&s->in_flight));
	/* A job still on the queue resumes its connection: not on a
	 * stopped daemon.  Then MHD must have taken every resumed
	 * connection back (it aborts when stopped with one suspended):
	 * that takes one turn of its loop. */
	queue_wait_idle();
	until = dmn_now_mono() + 30;
	while (atomic_load(&s->suspended) > 0 && dmn_now_mono() < until)
		nanosleep(&ts, NULL);
	if (atomic_load(&s->suspended) > 0)
		log_warnx("%d connection(s) still suspended at stop",
		    atomic_load(&s->suspended));
	if (s->sweeping) {
		atomic_store(&s->stop_sweep, true);
		pthread_join(s->sweeper, NULL);
	}
	MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->clock);
	dmn_gen_put(s->gen);
	free(s);
}

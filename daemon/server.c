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
 * in-flight count is zero.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
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

#include "daemon/dmn.h"
#include "util/log.h"

#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define CONN_MEMORY_LIMIT (64 * 1024)	/* headers; the body is ours */
#define MAX_OPTS 16

struct server {
	struct MHD_Daemon *d;
	struct dmn_gen *gen;		/* reference: TLS buffers, limits */
	atomic_int in_flight;
	bool quiesced;
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
	if (kind == PROBLEM_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    r->route == ROUTE_AUTHENTICATE ? "POST" : "GET, HEAD");
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
	if (strcmp(url, "/v1/authenticate") == 0)
		return ROUTE_AUTHENTICATE;
	if (strcmp(url, "/v1/health") == 0)
		return ROUTE_HEALTH;
	if (strcmp(url, "/v1/ready") == 0)
		return ROUTE_READY;
	if (strcmp(url, "/metrics") == 0)
		return ROUTE_METRICS;
	return ROUTE_OTHER;
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

static enum MHD_Result
first_call(struct server *srv, struct MHD_Connection *conn, const char *url,
    const char *method, void **con_cls)
{
	struct dmn_req *r;
	unsigned char rnd[DMN_REQUEST_ID_LEN / 2];
	long long cl;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MHD_NO;
	r->conn = conn;
	r->t0 = dmn_now_mono();
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

	/* Answers known before the body: refuse to read it. */
	if (r->route == ROUTE_AUTHENTICATE && strcmp(method, "POST") == 0) {
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
		if (cl > 0 && (r->body = malloc((size_t)cl + 1)) == NULL)
			return MHD_NO;
	}
	return MHD_YES;
}

static bool
append_body(struct dmn_req *r, const char *data, size_t n)
{
	size_t cap = r->gen->cfg.max_body;
	long long cl;
	char *nb;

	if (r->too_large)
		return true;
	if (n > cap - r->body_len) {
		r->too_large = true;
		return true;
	}
	cl = content_length(r->conn);
	if (cl < 0 || r->body == NULL) {
		/* chunked: grow geometrically, bounded by max_body */
		size_t want = r->body_len + n + 1, sz = 4096;

		while (sz < want)
			sz *= 2;
		if ((nb = realloc(r->body, sz)) == NULL)
			return false;
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
dispatch(struct dmn_req *r)
{
	bool get = strcmp(r->method, "GET") == 0 ||
	    strcmp(r->method, "HEAD") == 0;

	switch (r->route) {
	case ROUTE_AUTHENTICATE:
		if (strcmp(r->method, "POST") != 0)
			break;
		if (r->too_large) {
			char d[96];

			snprintf(d, sizeof(d), "the body exceeds the limit of "
			    "%u bytes", r->gen->cfg.max_body);
			return reply_problem(r, PROBLEM_TOO_LARGE, d);
		}
		return h_authenticate(r);
	case ROUTE_HEALTH:
		if (get)
			return h_health(r);
		break;
	case ROUTE_READY:
		if (get)
			return h_ready(r);
		break;
	case ROUTE_METRICS:
		if (get)
			return h_metrics(r);
		break;
	default:
		return reply_problem(r, PROBLEM_NOT_FOUND, NULL);
	}
	return reply_problem(r, PROBLEM_METHOD_NOT_ALLOWED, NULL);
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct dmn_req *r = *con_cls;

	if (r == NULL)
		return first_call(srv, conn, url, method, con_cls);
	if (r->status != 0) {
		/* answered early: drop whatever comes */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (r->route == ROUTE_AUTHENTICATE &&
		    !append_body(r, upload_data, *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	return dispatch(r);
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
	secs = dmn_now_mono() - r->t0;
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
	dmn_gen_put(r->gen);
	free(r);
	atomic_fetch_sub(&srv->in_flight, 1);
}

/* --- the MHD daemon ------------------------------------------------------- */
int
server_start(struct dmn_gen *g, struct server **out, struct dt_error *err)
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

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	atomic_init(&srv->in_flight, 0);
	srv->gen = g;

	flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_EPOLL;
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
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	/* the logger first of all options, or MHD warns that it is not */
	srv->d = MHD_start_daemon(flags, (uint16_t)g->cfg.port, NULL, NULL,
	    access_handler, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (srv->d == NULL) {
		free(srv);
		return dt_error_set(err, DT_E_IO, "cannot start the HTTPS "
		    "server on %s port %u (see the libmicrohttpd message "
		    "above)", g->cfg.listen, g->cfg.port);
	}
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
	double until;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	if (s == NULL)
		return;
	server_quiesce(s);
	until = dmn_now_mono() + wait_s;
	while (atomic_load(&s->in_flight) > 0 && dmn_now_mono() < until)
		nanosleep(&ts, NULL);
	if (atomic_load(&s->in_flight) > 0)
		log_warnx("stopping with %d request(s) still in flight",
		    atomic_load(&s->in_flight));
	MHD_stop_daemon(s->d);
	dmn_gen_put(s->gen);
	free(s);
}

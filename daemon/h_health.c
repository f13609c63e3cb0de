/*
 * daemon/h_health.c — GET /v1/health (liveness: the process answers) and
 * GET /v1/ready (the store opens, it has an active model, and this thread's
 * network for it is built: 503 otherwise).
 */
#include "config.h"

#include <stdio.h>

#include <microhttpd.h>

#include "daemon/dmn.h"
#include "store/store.h"
#include "util/log.h"

int
h_health(struct dmn_req *r)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	return reply_json(r, MHD_HTTP_OK, ok, sizeof(ok) - 1);
}

int
h_ready(struct dmn_req *r)
{
	struct dt_error err = { 0 };
	struct worker *w;
	enum problem_kind k;
	char buf[160];
	int n;

	if ((w = worker_self()) == NULL)
		return reply_problem(r, PROBLEM_INTERNAL, "out of memory");
	if ((k = worker_prepare(w, r->gen, true, &err)) != PROBLEM_OK) {
		if (k == PROBLEM_INTERNAL)
			log_warnx("ready: %s", err.msg);
		/* the detail says why (the store's own message: say, the
		 * PostgreSQL server refusing connections) */
		return reply_problem_retry(r, k == PROBLEM_INTERNAL ?
		    PROBLEM_UNAVAILABLE : k, err.msg, err.code == DT_E_BUSY ?
		    DMN_STORE_RETRY_S : 0);
	}
	/* the index needs no round trip when nothing changed: ask the
	 * store itself whether it answers (a PostgreSQL server down) */
	if (store_ping(worker_store(w), &err) != 0)
		return reply_problem_retry(r, PROBLEM_UNAVAILABLE, err.msg,
		    DMN_STORE_RETRY_S);
	n = snprintf(buf, sizeof(buf),
	    "{\"status\":\"ready\",\"model\":{\"id\":\"%s\"}}",
	    worker_model_id(w));	/* ids are [A-Za-z0-9._@:-] */
	return reply_json(r, MHD_HTTP_OK, buf, (size_t)n);
}

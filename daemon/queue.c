/*
 * daemon/queue.c — the bounded inference queue; see dmn.h.  The network
 * runs here, off the libmicrohttpd threads, so /v1/health, /v1/ready and
 * /metrics answer at once however busy inference is.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include <microhttpd.h>

#include "daemon/dmn.h"
#include "util/log.h"

#define QUEUE_THREADS_MAX 256

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t qidle = PTHREAD_COND_INITIALIZER;
static struct dmn_req **ring;		/* capacity QUEUE_RING */
static size_t ring_size, head, waiting;
static size_t reserved;			/* waiting + running + reserved */
static size_t cap;
static bool stopping;
static pthread_t threads[QUEUE_THREADS_MAX];
static unsigned nthr;

static void *
run(void *arg)
{
	struct dmn_req *r;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&qlock);
		while (waiting == 0 && !stopping)
			pthread_cond_wait(&qcond, &qlock);
		if (waiting == 0) {
			pthread_mutex_unlock(&qlock);
			return NULL;
		}
		r = ring[head];
		head = (head + 1) % ring_size;
		waiting--;
		pthread_mutex_unlock(&qlock);

		r->deferred = true;
		h_auth_run(r);
		if (r->resp == NULL) {	/* no reply could be made */
			r->resp = MHD_create_response_from_buffer(0, NULL,
			    MHD_RESPMEM_PERSISTENT);
			r->resp_status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		}
		/* r belongs to the MHD thread again once resumed. */
		MHD_resume_connection(r->conn);

		pthread_mutex_lock(&qlock);
		if (--reserved == 0)
			pthread_cond_broadcast(&qidle);
		pthread_mutex_unlock(&qlock);
	}
}

int
queue_start(unsigned n, unsigned capacity, struct dt_error *err)
{
	unsigned i;

	if (n > QUEUE_THREADS_MAX)
		n = QUEUE_THREADS_MAX;
	ring_size = 65536;	/* the largest queue_max */
	if ((ring = calloc(ring_size, sizeof(*ring))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	cap = capacity;
	for (i = 0; i < n; i++) {
		if (pthread_create(&threads[i], NULL, run, NULL) != 0) {
			queue_stop();
			return dt_error_set(err, DT_E_INTERNAL, "cannot start "
			    "inference thread %u", i + 1);
		}
		nthr++;
	}
	return 0;
}

void
queue_set_capacity(unsigned capacity)
{
	pthread_mutex_lock(&qlock);
	cap = capacity;
	pthread_mutex_unlock(&qlock);
}

bool
queue_reserve(void)
{
	bool ok;

	pthread_mutex_lock(&qlock);
	ok = reserved < cap && !stopping;
	if (ok)
		reserved++;
	pthread_mutex_unlock(&qlock);
	return ok;
}

void
queue_push(struct dmn_req *r)
{
	pthread_mutex_lock(&qlock);
	ring[(head + waiting) % ring_size] = r;
	waiting++;
	pthread_cond_signal(&qcond);
	pthread_mutex_unlock(&qlock);
}

void
queue_wait_idle(void)
{
	pthread_mutex_lock(&qlock);
	while (reserved > 0)
		pthread_cond_wait(&qidle, &qlock);
	pthread_mutex_unlock(&qlock);
}

void
queue_stop(void)
{
	unsigned i;

	pthread_mutex_lock(&qlock);
	stopping = true;
	pthread_cond_broadcast(&qcond);
	pthread_mutex_unlock(&qlock);
	for (i = 0; i < nthr; i++)
		pthread_join(threads[i], NULL);
	nthr = 0;
	free(ring);
	ring = NULL;
}

size_t
queue_length(void)
{
	size_t n;

	pthread_mutex_lock(&qlock);
	n = reserved;
	pthread_mutex_unlock(&qlock);
	return n;
}

/*
 * daemon/queue.c — the bounded inference queue with dynamic batching; see
 * dmn.h.  The network runs here, off the libmicrohttpd threads, so
 * /v1/health, /v1/ready and /metrics answer at once however busy inference
 * is.
 *
 * Batching.  One inference thread at a time gathers: it takes the requests
 * waiting (in order, up to batch_max windows, at least one) and, while
 * other authentication requests are on their way — signed headers
 * accepted, body or checks not done yet (queue_expect) — and the batch is
 * not full, waits for them at most batch_wait_ms.  Then it hands the
 * gathering over and runs the batch (h_auth_run_batch: one network pass
 * over the windows of every request in it).  A request that arrives at an
 * idle daemon has nothing on its way behind it, so it runs at once, alone:
 * batch-1 latency.  Under load the batches fill while the other threads
 * run theirs.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon/body.h"
#include "daemon/dmn.h"
#include "util/log.h"

#define QUEUE_THREADS_MAX 256
#define GATHER_MAX 256		/* requests in one batch */
#define QUEUE_NICE 5		/* the inference threads' nice above the rest */

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;	/* idle threads */
static pthread_cond_t gcond;		/* the gatherer (monotonic) */
static pthread_cond_t qidle = PTHREAD_COND_INITIALIZER;
static struct dmn_req **ring;		/* capacity QUEUE_RING */
static size_t ring_size, head, waiting;
static size_t reserved;			/* waiting + running + reserved */
static size_t expected;			/* on their way (queue_expect) */
static size_t cap;
static unsigned batch_max = 64;		/* windows */
static double batch_wait = 0.002;	/* seconds */
static int geo_fs = 250, geo_window = 512;	/* the model's, for estimates */
static bool gathering;
static bool stopping;
static pthread_t threads[QUEUE_THREADS_MAX];
static unsigned nthr;

/* The windows request R will give (the network needs at least one). */
static unsigned
windows_of(const struct dmn_req *r)
{
	double n;

	if (r->auth == NULL || r->auth->fs_hz <= 0 || geo_window < 2)
		return 1;
	n = (double)r->auth->nsamples * geo_fs / r->auth->fs_hz;
	if (n < geo_window)
		return 1;
	return (unsigned)((n - geo_window) / (geo_window / 2)) + 1;
}

/* Takes waiting requests into b while they fit; under qlock. */
static void
take(struct dmn_req **b, int *nb, unsigned *nw)
{
	unsigned k;

	while (waiting > 0 && *nb < GATHER_MAX) {
		k = windows_of(ring[head]);
		if (*nb > 0 && *nw + k > batch_max)
			break;
		b[(*nb)++] = ring[head];
		head = (head + 1) % ring_size;
		waiting--;
		*nw += k;
	}
}

static void
deadline_of(double s, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)s;
	ts->tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * The calling inference thread yields the CPU to the daemon's other
 * threads: when inference saturates the cores, the HTTP threads still get
 * them at once, so health, ready, metrics, the refusals made from the
 * headers and "503, the queue is full" answer in milliseconds instead of
 * waiting behind the network.  Without contention nice changes nothing.
 * Linux: setpriority() on a thread id sets that thread only.
 */
static void
yield_to_http(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int nice;

	(void)pthread_setname_np(pthread_self(), "dt4ecgd-infer");
	errno = 0;
	nice = getpriority(PRIO_PROCESS, (id_t)tid);
	if (nice == -1 && errno != 0) {
		log_warn("inference thread: getpriority");
		return;
	}
	if (nice + QUEUE_NICE > 19)
		nice = 19 - QUEUE_NICE;
	if (setpriority(PRIO_PROCESS, (id_t)tid, nice + QUEUE_NICE) != 0)
		log_warn("inference thread: setpriority");
}

static void *
run(void *arg)
{
	struct dmn_req *b[GATHER_MAX];
	struct timespec until;
	unsigned nw;
	int nb, i;
	double t;

	(void)arg;
	yield_to_http();
	for (;;) {
		pthread_mutex_lock(&qlock);
		while ((waiting == 0 || gathering) && !stopping)
			pthread_cond_wait(&qcond, &qlock);
		if (waiting == 0) {
			pthread_mutex_unlock(&qlock);
			return NULL;
		}
		gathering = true;
		nb = 0;
		nw = 0;
		take(b, &nb, &nw);
		if (expected > 0 && nw < batch_max && batch_wait > 0 &&
		    nb < GATHER_MAX && !stopping) {
			deadline_of(batch_wait, &until);
			while (expected > 0 && !stopping) {
				if (waiting > 0) {
					take(b, &nb, &nw);
					if (waiting > 0 || nw >= batch_max ||
					    nb == GATHER_MAX)
						break;	/* full */
					continue;
				}
				if (pthread_cond_timedwait(&gcond, &qlock,
				    &until) == ETIMEDOUT) {
					take(b, &nb, &nw);
					break;
				}
			}
		}
		gathering = false;
		if (waiting > 0)
			pthread_cond_signal(&qcond);
		pthread_mutex_unlock(&qlock);

		t = dmn_now_mono();
		for (i = 0; i < nb; i++) {
			b[i]->deferred = true;
			b[i]->stage[STAGE_QUEUE] = t - b[i]->t_queued;
		}
		metrics_batch(nb);
		h_auth_run_batch(b, nb);
		for (i = 0; i < nb; i++) {
			struct dmn_req *r = b[i];

			if (r->resp == NULL) {	/* no reply could be made */
				r->resp = MHD_create_response_from_buffer(0,
				    NULL, MHD_RESPMEM_PERSISTENT);
				r->resp_status =
				    MHD_HTTP_INTERNAL_SERVER_ERROR;
			}
			r->t_answer = dmn_now_mono();
			/* r belongs to the MHD thread again once resumed */
			MHD_resume_connection(r->conn);
		}

		pthread_mutex_lock(&qlock);
		reserved -= (size_t)nb;
		if (reserved == 0)
			pthread_cond_broadcast(&qidle);
		pthread_mutex_unlock(&qlock);
	}
}

int
queue_start(unsigned n, unsigned capacity, struct dt_error *err)
{
	pthread_condattr_t ca;
	unsigned i;

	if (n > QUEUE_THREADS_MAX)
		n = QUEUE_THREADS_MAX;
	ring_size = 65536;	/* the largest queue_max */
	if ((ring = calloc(ring_size, sizeof(*ring))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	/* the gathering deadline is on the monotonic clock */
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&gcond, &ca) != 0) {
		free(ring);
		ring = NULL;
		return dt_error_set(err, DT_E_INTERNAL, "cannot make the "
		    "queue's condition variable");
	}
	pthread_condattr_destroy(&ca);
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

void
queue_set_batch(unsigned max_windows, double wait_s)
{
	pthread_mutex_lock(&qlock);
	batch_max = max_windows > 0 ? max_windows : 1;
	batch_wait = wait_s > 0 ? wait_s : 0;
	pthread_mutex_unlock(&qlock);
}

void
queue_set_geometry(int fs_hz, int window)
{
	pthread_mutex_lock(&qlock);
	geo_fs = fs_hz;
	geo_window = window;
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
queue_expect_begin(struct dmn_req *r)
{
	pthread_mutex_lock(&qlock);
	if (!r->expected) {
		r->expected = true;
		expected++;
	}
	pthread_mutex_unlock(&qlock);
}

/* under qlock */
static void
expect_end(struct dmn_req *r)
{
	if (!r->expected)
		return;
	r->expected = false;
	if (--expected == 0)
		pthread_cond_signal(&gcond);	/* nothing more to wait for */
}

void
queue_expect_end(struct dmn_req *r)
{
	pthread_mutex_lock(&qlock);
	expect_end(r);
	pthread_mutex_unlock(&qlock);
}

void
queue_push(struct dmn_req *r)
{
	pthread_mutex_lock(&qlock);
	r->t_queued = dmn_now_mono();
	ring[(head + waiting) % ring_size] = r;
	waiting++;
	expect_end(r);
	if (gathering)
		pthread_cond_signal(&gcond);
	else
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
	pthread_cond_broadcast(&gcond);
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

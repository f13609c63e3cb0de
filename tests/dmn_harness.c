/*
 * tests/dmn_harness.c — see dmn_harness.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "proto/digest.h"
#include "proto/httpsig.h"
#include "ecg/load.h"
#include "nn/model.h"
#include "pipeline/embed.h"
#include "store/store.h"
#include "tests/dmn_harness.h"
#include "tests/support.h"
#include "util/file.h"

static const char *const acts[] = { "rest", "walk", "run" };

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
run(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "harness: '%s' failed (%d)\n", cmd, rc);
	return rc == 0 ? 0 : -1;
}

/*
 * A loopback port free now, below Linux's ephemeral range (32768-60999 by
 * default): a port from that range can be taken by any outgoing connection
 * of a test running beside this one between this check and the daemon's
 * bind.  dh_start still retries on another port if the bind fails.
 */
static unsigned
free_port(void)
{
	struct sockaddr_in sa;
	unsigned port = 0;
	int fd, tries;

	for (tries = 0; tries < 64 && port == 0; tries++) {
		unsigned p = 20000 + randombytes_uniform(32768 - 20000);

		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return 0;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = htons((uint16_t)p);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			port = p;
		close(fd);
	}
	return port;
}

/* Whether the daemon's log says its listening socket could not be bound. */
static bool
log_says_in_use(const char *log)
{
	char line[1024];
	bool in_use = false;
	FILE *f = fopen(log, "r");

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "in use") != NULL ||
		    strstr(line, "EADDRINUSE") != NULL)
			in_use = true;
	fclose(f);
	return in_use;
}

/* The last lines of the daemon's log on stderr, so a test's own log shows
 * why dt4ecgd stopped. */
static void
print_log_tail(const char *log)
{
	char line[1024], tail[20][1024];
	int n = 0, i;
	FILE *f = fopen(log, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		memcpy(tail[n++ % 20], line, sizeof(line));
	fclose(f);
	fprintf(stderr, "harness: the end of %s:\n", log);
	for (i = n > 20 ? n - 20 : 0; i < n; i++)
		fprintf(stderr, "  | %s", tail[i % 20]);
}

int
dh_write_conf(struct dh *h, const char *extra)
{
	FILE *f;

	if (extra != h->extra) {
		free(h->extra);
		if ((h->extra = strdup(extra != NULL ? extra : "")) == NULL)
			return -1;
	}
	if ((f = fopen(h->conf, "w")) == NULL)
		return -1;
	fprintf(f, "# written by tests/dmn_harness.c\n"
	    "listen = 127.0.0.1\nport = %u\n"
	    "tls_cert = %s/tls.crt\ntls_key = %s/tls.key\n"
	    "store = %s\nstore_key = %s/store.key\n"
	    "audit_anchor_file = %s/audit.anchor\n%s",
	    h->port, h->dir, h->dir, h->store, h->dir, h->dir, h->extra);
	return fclose(f) == 0 ? 0 : -1;
}

int
dh_init(struct dh *h, const char *extra_conf)
{
	return dh_init_at(h, extra_conf, NULL);
}

int
dh_init_at(struct dh *h, const char *extra_conf, const char *store)
{
	struct dt_error err = { 0 };
	char cmd[8 * DH_PATH_MAX], path[DH_PATH_MAX + 32];
	const char *bd = getenv("DT4ECG_BUILDDIR");
	FILE *f;
	int k;

	memset(h, 0, sizeof(*h));
	h->notify_fd = -1;
	if (sodium_init() < 0)
		return -1;
	snprintf(h->dir, sizeof(h->dir), "/tmp/dt4ecgd-test.XXXXXX");
	if (mkdtemp(h->dir) == NULL)
		return -1;
	snprintf(h->conf, sizeof(h->conf), "%s/dt4ecgd.conf", h->dir);
	snprintf(h->cert, sizeof(h->cert), "%s/tls.crt", h->dir);
	snprintf(h->notify, sizeof(h->notify), "%s/notify", h->dir);
	snprintf(h->daemon_log, sizeof(h->daemon_log), "%s/dt4ecgd.log",
	    h->dir);
	snprintf(h->bin, sizeof(h->bin), "%s/daemon/dt4ecgd",
	    bd != NULL ? bd : ".");

	/* certificate: ECDSA P-256, self-signed, for 127.0.0.1/localhost */
	snprintf(path, sizeof(path), "%s/cert.tmpl", h->dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "cn = \"localhost\"\nexpiration_days = 2\n"
	    "dns_name = \"localhost\"\nip_address = \"127.0.0.1\"\n"
	    "ca\ncert_signing_key\nsigning_key\nencryption_key\n"
	    "tls_www_server\n");
	fclose(f);
	snprintf(cmd, sizeof(cmd), "certtool --generate-privkey "
	    "--key-type=ecdsa --outfile %s/tls.key >/dev/null 2>&1 && "
	    "certtool --generate-self-signed --load-privkey %s/tls.key "
	    "--template %s --outfile %s >/dev/null 2>&1 && chmod 600 "
	    "%s/tls.key", h->dir, h->dir, path, h->cert, h->dir);
	if (run(cmd) != 0)
		return -1;

	snprintf(path, sizeof(path), "%s/store.key", h->dir);
	if (store_key_create_file(path, &err) != 0 ||
	    store_key_load_file(path, &h->key, &err) != 0)
		goto fail;
	if (store == NULL)
		snprintf(h->store, sizeof(h->store), "%s/store.db", h->dir);
	else {
		snprintf(h->store, sizeof(h->store), "%s", store);
		/* never onto someone's store: only an empty database */
		if (store_open(store, h->key, 0, &h->s, &err) == 0 ||
		    err.code != DT_E_NOTFOUND) {
			store_close(h->s);
			h->s = NULL;
			fprintf(stderr, "harness: %s: %s: give an empty "
			    "database\n", store, err.msg[0] != '\0' ?
			    err.msg : "a store is there already");
			return -1;
		}
		memset(&err, 0, sizeof(err));
	}
	if (store_open(h->store, h->key, STORE_CREATE, &h->s, &err) != 0)
		goto fail;
	store_set_actor(h->s, "test");
	for (k = 0; k < DH_KIOSKS; k++) {
		unsigned char pk[32];

		snprintf(h->kiosk_id[k], sizeof(h->kiosk_id[k]), "kiosk-%d",
		    k + 1);
		crypto_sign_keypair(pk, h->sk[k]);
		if (store_kiosk_add(h->s, h->kiosk_id[k], pk, &err) != 0)
			goto fail;
	}
	if ((h->port = free_port()) == 0)
		return -1;
	return dh_write_conf(h, extra_conf);
fail:
	fprintf(stderr, "harness: %s\n", err.msg);
	return -1;
}

/*
 * A freshly initialised network maps every ECG to nearly the same
 * embedding: the pooled features are positive (ReLU) with a large common
 * part.  Centre each row of the identity projection (so that common part
 * cancels) and drop its bias, so different people get different
 * embeddings, as a trained model would give.
 */
static void
decollapse(struct nn_model *m)
{
	struct nn_tensor *w = nn_model_tensor_mut(m, "id_head.fc.weight");
	struct nn_tensor *b = nn_model_tensor_mut(m, "id_head.fc.bias");
	int64_t r, c;

	if (w != NULL && w->ndim == 2)
		for (r = 0; r < w->shape[0]; r++) {
			double mean = 0;

			for (c = 0; c < w->shape[1]; c++)
				mean += w->data[r * w->shape[1] + c];
			mean /= (double)w->shape[1];
			for (c = 0; c < w->shape[1]; c++)
				w->data[r * w->shape[1] + c] -= (float)mean;
		}
	if (b != NULL)
		memset(b->data, 0, b->numel * sizeof(float));
}

/* h->model and h->emb from h->model_bytes, as ID. */
static int
load_bytes(struct dh *h, const char *id, struct dt_error *err)
{
	if (nn_model_load_buffer(h->model_bytes, h->model_len, id, &h->model,
	    err) != 0 || embedder_create(h->model, 8, &h->emb, err) != 0)
		return -1;
	snprintf(h->model_id, sizeof(h->model_id), "%s", id);
	return 0;
}

int
dh_model(struct dh *h, const char *id, uint64_t seed)
{
	struct dt_error err = { 0 };
	struct nn_model *m = NULL;
	struct nn_hparams hp;

	nn_hparams_default(&hp);
	if (!h->full_model) {
		hp.stem_channels = 16;
		hp.stage_channels[0] = 16;
		hp.stage_channels[1] = 32;
		hp.stage_channels[2] = 64;
		hp.embedding_dim = 32;
	}
	if (nn_model_create(&hp, 8, 3, acts, seed, &m, &err) != 0)
		goto fail;
	decollapse(m);
	/* A random network's activity probabilities are near 1/3 each: with
	 * this threshold (pipeline/activity.h) every answer's label reads
	 * "unknown", as DESIGN.md section 5 allows. */
	if (nn_model_set_meta(m, "activity.unknown_below", "0.9", &err) != 0)
		goto fail;
	if (nn_model_save_buffer(m, &h->model_bytes, &h->model_len, &err) != 0)
		goto fail;
	nn_model_free(m);
	m = NULL;
	/* What the daemon will load: the bytes, not the in-memory model. */
	if (load_bytes(h, id, &err) != 0)
		goto fail;
	return 0;
fail:
	nn_model_free(m);
	fprintf(stderr, "harness: model: %s\n", err.msg);
	return -1;
}

int
dh_model_file(struct dh *h, const char *path, const char *id)
{
	struct dt_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;

	if (dt_file_read(path, (size_t)1 << 30, NULL, &buf, &len, NULL,
	    &err) != 0)
		goto fail;
	h->model_bytes = buf;
	h->model_len = len;
	if (load_bytes(h, id, &err) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "harness: model %s: %s\n", path, err.msg);
	return -1;
}

int
dh_replica(const struct dh *h, struct dh *r, int k)
{
	memset(r, 0, sizeof(*r));
	r->notify_fd = -1;
	r->replica = true;
	r->full_model = h->full_model;
	memcpy(r->dir, h->dir, sizeof(r->dir));
	memcpy(r->cert, h->cert, sizeof(r->cert));
	memcpy(r->bin, h->bin, sizeof(r->bin));
	memcpy(r->store, h->store, sizeof(r->store));
	memcpy(r->kiosk_id, h->kiosk_id, sizeof(r->kiosk_id));
	memcpy(r->sk, h->sk, sizeof(r->sk));
	snprintf(r->conf, sizeof(r->conf), "%s/dt4ecgd-%d.conf", h->dir, k);
	snprintf(r->notify, sizeof(r->notify), "%s/notify-%d", h->dir, k);
	snprintf(r->daemon_log, sizeof(r->daemon_log), "%s/dt4ecgd-%d.log",
	    h->dir, k);
	if ((r->port = free_port()) == 0)
		return -1;
	return dh_write_conf(r, h->extra);
}

static int
embed(struct dh *h, const float *x, size_t n, double fs, float *emb,
    struct dt_error *err)
{
	float act[8];
	struct embed_result r = { .embedding = emb, .activity = act };

	return embedder_run(h->emb, x, n, fs, &r, err);
}

int
dh_embed(struct dh *h, const float *x, size_t n, double fs, float *emb,
    float *act)
{
	struct dt_error err = { 0 };
	struct embed_result r = { .embedding = emb, .activity = act };

	if (embedder_run(h->emb, x, n, fs, &r, &err) != 0) {
		fprintf(stderr, "harness: embed: %s\n", err.msg);
		return -1;
	}
	return 0;
}

int
dh_member(struct dh *h, const char *id, const char *name, const char *rec,
    bool template)
{
	struct dt_error err = { 0 };
	float *x = NULL, emb[512];
	size_t n;
	double fs;
	int64_t rid;
	int rc = -1;

	if (tt_load_wfdb(rec, &x, &n, &fs) != 0)
		return -1;
	if (store_member_add(h->s, id, name, &err) != 0 ||
	    store_recording_add(h->s, id, x, n, fs, &rid, &err) != 0)
		goto out;
	if (template && (embed(h, x, n, fs, emb, &err) != 0 ||
	    store_template_add(h->s, id, h->model_id, emb,
	    h->model->hp.embedding_dim, rid, NULL, &err) != 0))
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "harness: member %s: %s\n", id, err.msg);
	ecg_samples_free(x, n);
	return rc;
}

static int
recompute(void *ctx, const char *member, const float *samples, size_t n,
    double fs, float *emb, int dim, struct dt_error *err)
{
	return embed(ctx, samples, n, fs, emb, err);
}

int
dh_activate(struct dh *h)
{
	struct dt_error err = { 0 };

	if (store_model_add(h->s, h->model_id, h->model_bytes, h->model_len,
	    h->model->hp.embedding_dim, NULL, &err) != 0 ||
	    store_model_activate(h->s, h->model_id, recompute, h, &err) != 0) {
		fprintf(stderr, "harness: activate: %s\n", err.msg);
		return -1;
	}
	return 0;
}

int
dh_wait_notify(struct dh *h, const char *what, double timeout_s)
{
	double until = now_mono() + timeout_s;
	char buf[512];
	ssize_t n;
	int status;

	while (now_mono() < until) {
		struct pollfd p = { h->notify_fd, POLLIN, 0 };

		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			fprintf(stderr, "harness: dt4ecgd exited (status "
			    "0x%x); see %s\n", status, h->daemon_log);
			h->pid = 0;
			return -1;
		}
		if (poll(&p, 1, 200) <= 0)
			continue;
		if ((n = recv(h->notify_fd, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, what) != NULL)
			return 0;
	}
	fprintf(stderr, "harness: no %s from dt4ecgd in %.0f s\n", what,
	    timeout_s);
	return -1;
}

static pid_t
spawn(struct dh *h, bool valgrind)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) != 0)
		return pid;
	if ((fd = open(h->daemon_log, O_WRONLY | O_CREAT | O_APPEND,
	    0600)) != -1) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	setenv("NOTIFY_SOCKET", h->notify, 1);
	setenv("OMP_NUM_THREADS", "1", 1);
	unsetenv("CREDENTIALS_DIRECTORY");
	unsetenv("JOURNAL_STREAM");
	if (valgrind)
		execlp("valgrind", "valgrind", "-q",
		    "--leak-check=full", "--show-leak-kinds=definite",
		    "--errors-for-leak-kinds=definite",
		    "--error-exitcode=1", "--num-callers=30",
		    h->bin, "-f", "-v", "-c", h->conf, (char *)NULL);
	else
		execl(h->bin, h->bin, "-f", "-v", "-c", h->conf, (char *)NULL);
	_exit(127);
}

int
dh_start(struct dh *h, bool valgrind, double timeout_s)
{
	struct sockaddr_un sa;
	int tries;

	if (h->notify_fd == -1) {
		if ((h->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC,
		    0)) == -1)
			return -1;
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		if (strlen(h->notify) >= sizeof(sa.sun_path))
			return -1;
		memcpy(sa.sun_path, h->notify, strlen(h->notify) + 1);
		unlink(h->notify);
		if (bind(h->notify_fd, (struct sockaddr *)&sa,
		    sizeof(sa)) != 0)
			return -1;
	}
	/* Another test may take the port between free_port and the
	 * daemon's bind: then the daemon stops at once, and a new port is
	 * tried (only then: any other early exit is the test's finding). */
	for (tries = 0; tries < 4; tries++) {
		if ((h->pid = spawn(h, valgrind)) == -1)
			return -1;
		if (dh_wait_notify(h, "READY=1", timeout_s) == 0)
			return 0;
		if (h->pid != 0 || !log_says_in_use(h->daemon_log))
			break;
		fprintf(stderr, "harness: port %u was taken; another\n",
		    h->port);
		if ((h->port = free_port()) == 0 ||
		    dh_write_conf(h, h->extra) != 0 ||
		    truncate(h->daemon_log, 0) != 0)
			return -1;
	}
	print_log_tail(h->daemon_log);
	return -1;
}

int
dh_stop(struct dh *h, double timeout_s, int *status)
{
	double until = now_mono() + timeout_s;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int st;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, SIGTERM);
	while (now_mono() < until) {
		if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
			h->pid = 0;
			*status = WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &st, 0);
	h->pid = 0;
	fprintf(stderr, "harness: dt4ecgd did not stop in %.0f s\n",
	    timeout_s);
	return -1;
}

void
dh_cleanup(struct dh *h)
{
	char cmd[DH_PATH_MAX + 32];
	int st;

	if (h->pid > 0)
		dh_stop(h, 30, &st);
	if (h->notify_fd != -1)
		close(h->notify_fd);
	if (h->replica) {	/* the rest is its parent's */
		free(h->extra);
		sodium_memzero(h->sk, sizeof(h->sk));
		memset(h, 0, sizeof(*h));
		h->notify_fd = -1;
		return;
	}
	embedder_free(h->emb);
	nn_model_free(h->model);
	free(h->model_bytes);
	store_close(h->s);
	store_key_free(h->key);
	sodium_memzero(h->sk, sizeof(h->sk));
	free(h->extra);
	if (h->dir[0] != '\0' && getenv("DT4ECG_KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "harness: could not remove %s\n",
			    h->dir);
	}
	memset(h, 0, sizeof(*h));
	h->notify_fd = -1;
}

int
dh_segment_bodies(const char *rel, double seg_s, double hop_s,
    const char *claimed, char **json, size_t *len, int max)
{
	float *x;
	size_t n, seg, hop, off;
	double fs;
	int k = 0;

	if (tt_load_wfdb(rel, &x, &n, &fs) != 0)
		return -1;
	seg = (size_t)(fs * seg_s);
	hop = (size_t)(fs * hop_s);
	for (off = 0; seg > 0 && hop > 0 && off + seg <= n && k < max;
	    off += hop) {
		if ((json[k] = dh_body(x + off, seg, fs, claimed, &len[k])) ==
		    NULL)
			break;
		k++;
	}
	ecg_samples_free(x, n);
	return k;
}

char *
dh_body(const float *x, size_t n, double fs, const char *claimed,
    size_t *len)
{
	size_t cap = 128 + n * 18 + (claimed ? strlen(claimed) : 0), p = 0;
	char *b = malloc(cap);
	size_t i;

	if (b == NULL)
		return NULL;
	p += (size_t)snprintf(b + p, cap - p, "{\"ecg\":{\"fs_hz\":%g,"
	    "\"units\":\"mV\",\"lead\":\"I\",\"samples\":[", fs);
	for (i = 0; i < n; i++)
		p += (size_t)snprintf(b + p, cap - p, "%s%.9g", i ? "," : "",
		    (double)x[i]);
	p += (size_t)snprintf(b + p, cap - p, "]}");
	if (claimed != NULL)
		p += (size_t)snprintf(b + p, cap - p, ",\"claimed_user\":"
		    "\"%s\"", claimed);
	p += (size_t)snprintf(b + p, cap - p, "}");
	*len = p;
	return b;
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct dh_resp *r = ud;
	size_t n = size * nmemb;
	char *nb;

	if (r->len + n > 16 * 1024 * 1024)
		return 0;
	if ((nb = realloc(r->body, r->len + n + 1)) == NULL)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct dh_resp *r = ud;
	size_t n = size * nmemb, nl, vl;
	const char *colon, *v;
	char *name, *val;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		r->nh = 0;	/* a new response (after a 1xx) */
		return n;
	}
	if ((colon = memchr(ptr, ':', n)) == NULL || r->nh >= DH_MAX_HDRS)
		return n;
	nl = (size_t)(colon - ptr);
	v = colon + 1;
	vl = n - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
	    v[vl - 1] == ' '))
		vl--;
	if (nl >= sizeof(r->hname[0]) || vl >= sizeof(r->hval[0]))
		return n;
	name = r->hname[r->nh];
	val = r->hval[r->nh];
	memcpy(name, ptr, nl);
	name[nl] = '\0';
	memcpy(val, v, vl);
	val[vl] = '\0';
	r->nh++;
	if (strcasecmp(name, "Content-Type") == 0)
		snprintf(r->content_type, sizeof(r->content_type), "%s", val);
	else if (strcasecmp(name, "Retry-After") == 0)
		snprintf(r->retry_after, sizeof(r->retry_after), "%s", val);
	else if (strcasecmp(name, "Allow") == 0)
		snprintf(r->allow, sizeof(r->allow), "%s", val);
	return n;
}

const char *
dh_resp_header(const struct dh_resp *r, const char *name)
{
	int i;

	for (i = 0; i < r->nh; i++)
		if (strcasecmp(r->hname[i], name) == 0)
			return r->hval[i];
	return NULL;
}

int
dh_request(struct dh *h, CURL *c, const char *method, const char *path,
    const char *const *headers, const char *body, size_t len,
    struct dh_resp *r)
{
	struct curl_slist *hl = NULL;
	char url[256];
	CURL *own = NULL;
	CURLcode cc;
	bool has_ctype = false;
	double t0;

	memset(r, 0, sizeof(*r));
	r->req_body = body;
	r->req_len = len;
	if (c == NULL && (c = own = curl_easy_init()) == NULL)
		return -1;
	curl_easy_reset(c);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", h->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, h->cert);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	/* A large body waits for "100 Continue", as a careful client's
	 * does: a refusal from the headers (413 for the size, 401) then
	 * arrives instead of the reset of a close while still sending
	 * (RFC 9112 section 9.6).  Small bodies go at once. */
	hl = curl_slist_append(hl, body != NULL && len >= DH_EXPECT_MIN ?
	    "Expect: 100-continue" : "Expect:");
	for (; headers != NULL && *headers != NULL; headers++) {
		const char *colon = strchr(*headers, ':');

		if (strncasecmp(*headers, "Content-Type:", 13) == 0)
			has_ctype = true;
		hl = curl_slist_append(hl, *headers);
		if (colon != NULL && r->nreq < 8 &&
		    (size_t)(colon - *headers) < sizeof(r->req_hname[0])) {
			memcpy(r->req_hname[r->nreq], *headers,
			    (size_t)(colon - *headers));
			r->req_hname[r->nreq][colon - *headers] = '\0';
			r->nreq++;
		}
	}
	/* no Content-Type: not libcurl's form default either */
	if (!has_ctype && strcmp(method, "POST") == 0)
		hl = curl_slist_append(hl, "Content-Type:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	t0 = now_mono();
	cc = curl_easy_perform(c);
	r->seconds = now_mono() - t0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		fprintf(stderr, "harness: %s %s: %s\n", method, path,
		    curl_easy_strerror(cc));
	curl_slist_free_all(hl);
	if (own != NULL)
		curl_easy_cleanup(own);
	if (r->body == NULL && (r->body = calloc(1, 1)) == NULL)
		return -1;
	return cc == CURLE_OK ? 0 : -1;
}

int
dh_post(struct dh *h, CURL *c, const char *ctype, const char *digest,
    const char *si, const char *sig, const char *body, size_t len,
    struct dh_resp *r)
{
	static const char *const names[4] = {
		"Content-Type", "Content-Digest", "Signature-Input", "Signature"
	};
	const char *vals[4] = { ctype, digest, si, sig };
	char hd[4][1400];
	const char *hl[5];
	int i, n = 0;

	for (i = 0; i < 4; i++) {
		if (vals[i] == NULL)
			continue;
		snprintf(hd[n], sizeof(hd[n]), "%s: %s", names[i], vals[i]);
		hl[n] = hd[n];
		n++;
	}
	hl[n] = NULL;
	return dh_request(h, c, "POST", "/v1/authenticate", hl, body, len, r);
}

int
dh_signed(struct dh *h, CURL *c, int k, const char *body, size_t len,
    int64_t skew, const char *nonce, struct dh_resp *r)
{
	struct dt_error err = { 0 };
	char digest[DIGEST_HEADER_BUF], si[1024], sig[256], n[32];

	if (nonce == NULL) {
		if (httpsig_nonce(n, sizeof(n)) != 0)
			return -1;
		nonce = n;
	}
	if (digest_header(DIGEST_SHA256, body, len, digest, sizeof(digest),
	    &err) != 0 ||
	    httpsig_sign_kiosk("POST", "/v1/authenticate", digest,
	    h->kiosk_id[k], (int64_t)time(NULL) + skew, nonce, h->sk[k], si,
	    sizeof(si), sig, sizeof(sig), &err) != 0) {
		fprintf(stderr, "harness: sign: %s\n", err.msg);
		return -1;
	}
	return dh_post(h, c, "application/json", digest, si, sig, body, len,
	    r);
}

void
dh_resp_free(struct dh_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/*
 * daemon/gen.c — serving generations: build from the configuration file,
 * publish with one pointer swap, reference counting (daemon/dmn.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/dmn.h"
#include "daemon/ratelimit.h"
#include "daemon/replay.h"
#include "nn/model.h"
#include "pipeline/embed.h"
#include "store/crypto.h"
#include "store/match.h"
#include "store/store.h"
#include "util/file.h"
#include "util/log.h"

#define PEM_MAX (1024 * 1024)
#define RL_MAX_KEYS 4096

static pthread_mutex_t dmn_gen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dmn_gen *current;
static uint64_t next_id = 1;

static void *
pem_alloc(size_t n)
{
	return sodium_malloc(n);
}

static const struct dt_file_mem pem_secret = { pem_alloc, sodium_free };

/* Reads a whole PEM file into a NUL-terminated buffer; secret ones go into
 * sodium_malloc'd memory. */
static int
read_pem(const char *path, bool secret, char **out, size_t *outlen,
    struct dt_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;

	if (dt_file_read(path, PEM_MAX, secret ? &pem_secret : NULL, &buf,
	    &len, &st, err) != 0)
		return -1;
	if (len == 0) {
		dt_error_set(err, DT_E_IO, "%s: not a regular file of 1..%d "
		    "bytes", path, PEM_MAX);
		goto fail;
	}
	/* refused, as the store key is (store/crypto.c) */
	if (secret && (st.st_mode & 0077) != 0) {
		dt_error_set(err, DT_E_CRYPTO, "TLS key %s is accessible by "
		    "group or others (mode %04o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	*out = buf;
	*outlen = len;
	return 0;
fail:
	if (secret)
		sodium_free(buf);
	else
		free(buf);
	return -1;
}

/* $CREDENTIALS_DIRECTORY/NAME if the credential exists, else FALLBACK. */
static const char *
credential_path(const char *name, const char *fallback, char *buf,
    size_t size)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");

	if (dir == NULL || *dir == '\0')
		return fallback;
	if ((size_t)snprintf(buf, size, "%s/%s", dir, name) >= size ||
	    access(buf, R_OK) != 0)
		return fallback;
	return buf;
}

/* The active model must load: a reload onto a broken one is refused. */
static int
check_model(struct store *s, const char *id, struct dt_error *err)
{
	struct store_model *sm = NULL;
	struct nn_model *m = NULL;
	int rc = -1;

	if (store_model_get(s, id, &sm, err) != 0)
		goto out;
	if (embed_model_load(sm->bytes, sm->n_bytes, id, sm->embedding_dim,
	    "the store", &m, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		dt_error_prefix(err, "active model");
	nn_model_free(m);
	store_model_free(sm);
	return rc;
}

static void
rl_put(struct dmn_rl *rl)
{
	if (rl == NULL)
		return;
	/* caller holds dmn_gen_lock */
	if (--rl->refs == 0) {
		ratelimit_free(rl->rl);
		free(rl);
	}
}

static void
gen_free(struct dmn_gen *g)
{
	if (g == NULL)
		return;
	free(g->tls_cert);
	if (g->tls_key != NULL)
		sodium_free(g->tls_key);	/* wipes */
	store_key_free(g->store_key);
	match_index_free(g->index);
	pthread_mutex_lock(&dmn_gen_lock);
	rl_put(g->rl);
	pthread_mutex_unlock(&dmn_gen_lock);
	free(g);
}

int
dmn_gen_open_store(const struct dmn_gen *g, struct store **out,
    struct dt_error *err)
{
	if (store_open(g->cfg.store, g->store_key, 0, out, err) != 0) {
		dt_error_prefix(err, "store %s", g->cfg.store);
		return -1;
	}
	store_set_actor(*out, "dt4ecgd");
	return 0;
}

int
dmn_gen_build(const char *conf_path, const struct dmn_gen *prev,
    struct replay *replay, struct dmn_gen **out, struct dt_error *err)
{
	struct dmn_gen *g;
	struct store *s = NULL;
	struct match_stats st;
	char cbuf[4096];
	const char *path;
	size_t len;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	g->refs = 1;
	g->replay = replay;
	if (cfg_load(conf_path, &g->cfg, err) != 0)
		goto fail;
	/* The live cache keeps the window it started with (a reload does
	 * not forget nonces): a skew it does not cover would reopen a
	 * replay window, so such a reload is refused. */
	if (replay != NULL &&
	    2 * (int64_t)g->cfg.clock_skew_s >= replay_window(replay)) {
		dt_error_set(err, DT_E_INVALID, "%s: clock_skew_s %u needs a "
		    "nonce window over %u s, the running nonce cache keeps "
		    "%lld s (replay_window_s takes effect at a restart)",
		    conf_path, g->cfg.clock_skew_s, 2 * g->cfg.clock_skew_s,
		    (long long)replay_window(replay));
		goto fail;
	}
	g->lockout_failures = g->cfg.lockout_failures;
	g->lockout_s = g->cfg.lockout_s;
	if (read_pem(g->cfg.tls_cert, false, &g->tls_cert, &len, err) != 0)
		goto fail;
	path = credential_path("tls.key", g->cfg.tls_key, cbuf, sizeof(cbuf));
	if (read_pem(path, true, &g->tls_key, &g->tls_key_len, err) != 0)
		goto fail;
	path = credential_path("store.key", g->cfg.store_key, cbuf,
	    sizeof(cbuf));
	if (store_key_load_file(path, &g->store_key, err) != 0)
		goto fail;

	/* The store must open with this key; fill the index once here so
	 * the first requests do not all pay for it. */
	if (match_index_create(&g->index, err) != 0 ||
	    dmn_gen_open_store(g, &s, err) != 0 ||
	    match_index_refresh(g->index, s, NULL, err) != 0)
		goto fail;
	match_index_stats(g->index, &st);
	if (st.model[0] != '\0' && check_model(s, st.model, err) != 0)
		goto fail;
	store_close(s);
	s = NULL;
	if (st.model[0] == '\0')
		log_warnx("store %s has no active model: /v1/ready and "
		    "/v1/authenticate answer 503 until one is activated",
		    g->cfg.store);

	pthread_mutex_lock(&dmn_gen_lock);
	if (prev != NULL && prev->rl != NULL &&
	    prev->rl->rate == cfg_kiosk_rate(&g->cfg) &&
	    prev->rl->burst == cfg_kiosk_burst(&g->cfg)) {
		g->rl = prev->rl;
		g->rl->refs++;
	}
	g->id = next_id++;
	pthread_mutex_unlock(&dmn_gen_lock);
	if (g->rl == NULL) {
		if ((g->rl = calloc(1, sizeof(*g->rl))) == NULL) {
			dt_error_set(err, DT_E_NOMEM, "out of memory");
			goto fail;
		}
		g->rl->refs = 1;
		g->rl->rate = cfg_kiosk_rate(&g->cfg);
		g->rl->burst = cfg_kiosk_burst(&g->cfg);
		if (ratelimit_create(g->rl->rate, g->rl->burst,
		    RL_MAX_KEYS, &g->rl->rl, err) != 0)
			goto fail;
	}
	*out = g;
	return 0;
fail:
	store_close(s);
	gen_free(g);
	return -1;
}

void
dmn_gen_publish(struct dmn_gen *g)
{
	struct dmn_gen *old;

	pthread_mutex_lock(&dmn_gen_lock);
	old = current;
	current = g;
	pthread_mutex_unlock(&dmn_gen_lock);
	dmn_gen_put(old);
}

struct dmn_gen *
dmn_gen_get(void)
{
	struct dmn_gen *g;

	pthread_mutex_lock(&dmn_gen_lock);
	if ((g = current) != NULL)
		g->refs++;
	pthread_mutex_unlock(&dmn_gen_lock);
	return g;
}

void
dmn_gen_put(struct dmn_gen *g)
{
	int left;

	if (g == NULL)
		return;
	pthread_mutex_lock(&dmn_gen_lock);
	left = --g->refs;
	pthread_mutex_unlock(&dmn_gen_lock);
	if (left == 0)
		gen_free(g);
}

void
dmn_gen_ref(struct dmn_gen *g)
{
	pthread_mutex_lock(&dmn_gen_lock);
	g->refs++;
	pthread_mutex_unlock(&dmn_gen_lock);
}

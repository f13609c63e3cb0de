/* daemon/ratelimit.c — per-kiosk token buckets; see ratelimit.h. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ratelimit.h"

struct bucket {
	char key[RATELIMIT_KEY_MAX];
	double tokens;
	double t;		/* time of the last refill */
	bool used;
};

struct ratelimit {
	pthread_mutex_t mu;
	double rate;
	double burst;
	size_t n;
	struct bucket *b;
};

int
ratelimit_create(double rate, double burst, size_t max_keys,
    struct ratelimit **out, struct dt_error *err)
{
	struct ratelimit *rl;

	if (!(rate > 0) || !(burst >= 1) || max_keys == 0 ||
	    max_keys > ((size_t)1 << 20))
		return dt_error_set(err, DT_E_INVALID, "rate limit: rate must "
		    "be > 0, burst >= 1 and 1..%zu keys", (size_t)1 << 20);
	if ((rl = calloc(1, sizeof(*rl))) == NULL ||
	    (rl->b = calloc(max_keys, sizeof(*rl->b))) == NULL) {
		free(rl);
		return dt_error_set(err, DT_E_NOMEM,
		    "rate limit: out of memory");
	}
	if (pthread_mutex_init(&rl->mu, NULL) != 0) {
		free(rl->b);
		free(rl);
		return dt_error_set(err, DT_E_INTERNAL,
		    "rate limit: mutex init failed");
	}
	rl->rate = rate;
	rl->burst = burst;
	rl->n = max_keys;
	*out = rl;
	return 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->b);
	free(rl);
}

static void
refill(const struct ratelimit *rl, struct bucket *b, double now)
{
	if (now > b->t) {
		b->tokens += (now - b->t) * rl->rate;
		if (b->tokens > rl->burst)
			b->tokens = rl->burst;
	}
	b->t = now;
}

bool
ratelimit_take(struct ratelimit *rl, const char *key, double now,
    unsigned *retry_after_s)
{
	struct bucket *b = NULL, *fresh = NULL;
	double wait;
	bool ok;
	size_t i;

	pthread_mutex_lock(&rl->mu);
	for (i = 0; i < rl->n; i++) {
		struct bucket *x = &rl->b[i];

		if (!x->used) {
			if (fresh == NULL)
				fresh = x;
			continue;
		}
		if (strncmp(x->key, key, sizeof(x->key) - 1) == 0) {
			b = x;
			break;
		}
		/* A full bucket can be given to another key. */
		if (fresh == NULL &&
		    x->tokens + (now - x->t) * rl->rate >= rl->burst)
			fresh = x;
	}
	if (b == NULL && fresh != NULL) {
		b = fresh;
		memset(b, 0, sizeof(*b));
		strncpy(b->key, key, sizeof(b->key) - 1);
		b->used = true;
		b->tokens = rl->burst;
		b->t = now;
	}
	if (b == NULL) {
		/* Table full of active kiosks: refuse, retry soon. */
		ok = false;
		wait = 1;
	} else {
		refill(rl, b, now);
		if (b->tokens >= 1) {
			b->tokens -= 1;
			ok = true;
			wait = 0;
		} else {
			ok = false;
			wait = (1 - b->tokens) / rl->rate;
		}
	}
	pthread_mutex_unlock(&rl->mu);
	if (!ok && retry_after_s != NULL) {
		wait = ceil(wait);
		*retry_after_s = wait < 1 ? 1 : wait > 86400 ? 86400 :
		    (unsigned)wait;
	}
	return ok;
}

/* end of ratelimit.c */

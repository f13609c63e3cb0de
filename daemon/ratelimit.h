/*
 * daemon/ratelimit.h — per-kiosk token buckets.
 *
 * Each key (a kiosk id) has a bucket of `burst` tokens refilled at `rate`
 * tokens per second; a request takes one.  The table holds at most
 * `max_keys` buckets allocated up front; when it is full, a bucket that has
 * refilled completely (indistinguishable from a new one) is reused, and if
 * there is none the request is refused (fail closed).  Thread-safe.
 * Time is a caller-supplied monotonic clock in seconds.
 */
#ifndef DT_DAEMON_RATELIMIT_H
#define DT_DAEMON_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define RATELIMIT_KEY_MAX 256	/* longer keys are truncated */

struct ratelimit;

/* rate > 0, burst >= 1, max_keys >= 1. */
int ratelimit_create(double rate, double burst, size_t max_keys,
    struct ratelimit **out, struct dt_error *err);
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes a token for key at time now.  Returns true if allowed; false if
 * limited, with *retry_after_s (if not NULL) set to the whole seconds after
 * which a token will be available (at least 1).
 */
bool ratelimit_take(struct ratelimit *rl, const char *key, double now,
    unsigned *retry_after_s);

#endif /* DT_DAEMON_RATELIMIT_H */

/*
 * daemon/replay.h — bounded nonce replay cache.
 *
 * Remembers each (keyid, nonce) pair for `window_s` seconds after it was
 * first seen, in at most `capacity` entries allocated up front.  Pairs are
 * stored as keyed BLAKE2b-128 hashes (random key per cache), so memory is
 * fixed and attacker-chosen nonces cannot aim at hash collisions.  When the
 * cache is full of pairs still inside their window it fails closed
 * (PROBLEM_UNAVAILABLE) rather than forget one.  Thread-safe.
 *
 * The window must cover the signature clock skew on both sides
 * (window_s > 2 * clock_skew_s: a pair seen at t is forgotten at
 * t + window_s, while its `created` is accepted from t - skew to
 * t + skew... up to t + 2 * skew inclusive), or an old nonce could come
 * back while its `created` is still accepted.  Time is the caller's
 * monotonic clock in whole seconds (never the wall clock, which can jump).
 *
 * Each keyid may hold at most `quota` live pairs (replay_set_quota; the
 * daemon sets what its rate limit lets one kiosk send within the window),
 * so one kiosk key cannot fill the cache for everyone: past its share it
 * is refused with PROBLEM_RATE_LIMITED and nothing is stored.
 */
#ifndef DT_DAEMON_REPLAY_H
#define DT_DAEMON_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/problem.h"
#include "util/error.h"

#define REPLAY_CAPACITY_MAX ((size_t)1 << 24)

struct replay;

/* capacity 1..REPLAY_CAPACITY_MAX, window_s >= 1.  Needs sodium_init(). */
int replay_create(size_t capacity, int64_t window_s, struct replay **out,
    struct dt_error *err);
void replay_free(struct replay *r);
/* At most PER_KEY live pairs per keyid (1..capacity; default capacity). */
void replay_set_quota(struct replay *r, size_t per_key);
/* The window the cache was created with. */
int64_t replay_window(const struct replay *r);

/*
 * Records (keyid, nonce) seen at `now` (monotonic seconds).  PROBLEM_OK if
 * it was not seen within the window, PROBLEM_REPLAY if it was,
 * PROBLEM_RATE_LIMITED if keyid holds its quota, PROBLEM_UNAVAILABLE if the
 * cache is full.
 */
enum problem_kind replay_check(struct replay *r, const char *keyid,
    const char *nonce, int64_t now, struct dt_error *err);

/* Entries currently held (for /metrics and tests). */
size_t replay_count(struct replay *r);

#endif /* DT_DAEMON_REPLAY_H */

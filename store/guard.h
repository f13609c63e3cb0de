/*
 * store/guard.h — what protects the door, kept in the store so that it
 * survives a restart and is shared by every daemon on one store (schema
 * migration 3): accepted request nonces (store/nonce.c), consecutive
 * failure counters of members and kiosks and the kiosk lock
 * (store/lockout.c).  These tables carry no row MAC and their writes are
 * not audited, so they are written without the store key; a member lock
 * or unlock is audited and renews the member row's MAC (rowmac.c), so it
 * needs the key, and so does the audited kiosk lock.
 */
#ifndef STORE_GUARD_H
#define STORE_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

struct store;

/* --- nonces (store/nonce.c) ---------------------------------------------- */
/*
 * Records the nonce of KEYID's signature created at CREATED (unix
 * seconds).  The store forgets nonces whose signatures the clock check
 * refuses anyway (created < now - skew_s) and remembers how far it has
 * forgotten (the horizon): a signature created at or before the horizon is
 * refused, whatever the skew is later (a reload, a restart with another
 * configuration, another daemon).  0 if fresh; -1 with DT_E_EXISTS when
 * already used, DT_E_INVALID when created at or before the horizon.
 * Inside the caller's transaction (store_begin) it runs there, with no
 * transaction of its own, and those two refusals leave it usable: dt4ecgd
 * records a decision's nonce and audit entry in one write transaction.
 */
int store_nonce_use(struct store *s, const char *keyid, const char *nonce,
    int64_t created, int64_t now, int64_t skew_s, struct dt_error *err);
/* Nonces currently held (for tests). */
int store_nonce_count(struct store *s, int64_t *n, struct dt_error *err);

/* --- lockout (store/lockout.c) ------------------------------------------- */
/*
 * One more consecutive failed verification of MEMBER (claimed through
 * KIOSK).  At MAX, the member is locked until now + LOCK_S, the counter is
 * reset and the lock is audited once ("member.lock", actor the store's);
 * *locked tells.  A missing member is not an error (nothing counted).
 */
int store_member_fail(struct store *s, const char *member, const char *kiosk,
    unsigned max, int64_t lock_s, int64_t now, bool *locked,
    struct dt_error *err);
/* An accepted verification: the member's counter back to 0. */
int store_member_fail_reset(struct store *s, const char *member,
    struct dt_error *err);
/* Consecutive failures of MEMBER so far (0 when none). */
int store_member_failures(struct store *s, const char *member,
    unsigned *fails, struct dt_error *err);
/* Staff lift a lock: locked_until 0, counter 0, the row's MAC renewed,
 * audited "member.unlock" (with "row_failed_mac": true when the row did not
 * authenticate before, e.g. a lock written into the file).  Needs the key.
 * DT_E_NOTFOUND for an unknown member. */
int store_member_unlock(struct store *s, const char *member,
    struct dt_error *err);

struct store_kiosk_guard {
	unsigned fails;		/* consecutive failed decisions */
	int64_t locked_until;	/* unix seconds, 0 = not locked */
};
/* One more failed decision (a 1:N or 1:1 reject below the threshold) by
 * KIOSK.  At MAX the kiosk is locked until now + LOCK_S, audited once
 * ("kiosk.lock"); *locked tells. */
int store_kiosk_fail(struct store *s, const char *kiosk, unsigned max,
    int64_t lock_s, int64_t now, bool *locked, struct dt_error *err);
/* An accepted decision by KIOSK: its counter back to 0 (no write when it
 * is already 0). */
int store_kiosk_fail_reset(struct store *s, const char *kiosk,
    struct dt_error *err);
/* The counter and lock of KIOSK (zeros when it never failed). */
int store_kiosk_guard_get(struct store *s, const char *kiosk,
    struct store_kiosk_guard *out, struct dt_error *err);

#endif /* STORE_GUARD_H */

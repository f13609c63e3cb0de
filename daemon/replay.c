/*
 * daemon/replay.c — bounded nonce replay cache; see replay.h.
 *
 * Entries live in a ring in insertion order, so the oldest is at the head
 * and expiry pops from there.  An open-addressing table (linear probing,
 * backward-shift deletion, load factor <= 1/2) maps hashes to ring slots.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "daemon/replay.h"

#define HASH_BYTES 16
#define EMPTY UINT32_MAX

struct entry {
	unsigned char h[HASH_BYTES];
	uint64_t kh;		/* keyed hash of the keyid alone */
	int64_t t;
};

/* Live entries per keyid (open addressing on kh, backward-shift
 * deletion; as many slots as the main table, so never full). */
struct kcount {
	uint64_t kh;
	uint32_t n;		/* 0 = empty slot */
};

struct replay {
	pthread_mutex_t mu;
	int64_t window_s;
	size_t capacity;
	struct entry *ring;
	size_t head, count;
	uint32_t *table;
	struct kcount *kc;
	size_t mask;
	size_t quota;		/* live entries per keyid */
	unsigned char key[crypto_generichash_KEYBYTES];
};

int
replay_create(size_t capacity, int64_t window_s, struct replay **out,
    struct dt_error *err)
{
	struct replay *r;
	size_t tsize = 2, i;

	if (capacity == 0 || capacity > REPLAY_CAPACITY_MAX || window_s < 1)
		return dt_error_set(err, DT_E_INVALID, "replay cache: capacity "
		    "must be 1..%zu and window at least 1 s",
		    REPLAY_CAPACITY_MAX);
	while (tsize < 2 * capacity)
		tsize *= 2;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->ring = calloc(capacity, sizeof(*r->ring));
	r->table = malloc(tsize * sizeof(*r->table));
	r->kc = calloc(tsize, sizeof(*r->kc));
	if (r->ring == NULL || r->table == NULL || r->kc == NULL) {
		free(r->ring);
		free(r->table);
		free(r->kc);
		free(r);
		goto nomem;
	}
	for (i = 0; i < tsize; i++)
		r->table[i] = EMPTY;
	r->mask = tsize - 1;
	r->capacity = capacity;
	r->quota = capacity;
	r->window_s = window_s;
	randombytes_buf(r->key, sizeof(r->key));
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r->ring);
		free(r->table);
		free(r->kc);
		free(r);
		return dt_error_set(err, DT_E_INTERNAL,
		    "replay cache: mutex init failed");
	}
	*out = r;
	return 0;
nomem:
	return dt_error_set(err, DT_E_NOMEM, "replay cache: out of memory");
}

void
replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->ring);
	free(r->table);
	free(r->kc);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

static size_t
home(const struct replay *r, const unsigned char *h)
{
	uint64_t v;

	memcpy(&v, h, sizeof(v));
	return (size_t)v & r->mask;
}

/* Table slot holding ring index idx (which must be present). */
static size_t
find_slot(const struct replay *r, uint32_t idx)
{
	size_t s = home(r, r->ring[idx].h);

	while (r->table[s] != idx)
		s = (s + 1) & r->mask;
	return s;
}

/* Backward-shift deletion of table slot s. */
static void
delete_slot(struct replay *r, size_t s)
{
	size_t j = s, k;

	for (;;) {
		j = (j + 1) & r->mask;
		if (r->table[j] == EMPTY)
			break;
		k = home(r, r->ring[r->table[j]].h);
		/* Move j to s unless k lies cyclically in (s, j]. */
		if (s <= j ? (s < k && k <= j) : (s < k || k <= j))
			continue;
		r->table[s] = r->table[j];
		s = j;
	}
	r->table[s] = EMPTY;
}

void
replay_set_quota(struct replay *r, size_t per_key)
{
	pthread_mutex_lock(&r->mu);
	r->quota = per_key < 1 ? 1 : per_key > r->capacity ? r->capacity :
	    per_key;
	pthread_mutex_unlock(&r->mu);
}

int64_t
replay_window(const struct replay *r)
{
	return r->window_s;
}

/* The count slot of kh: its own, or the empty slot where it would go. */
static size_t
kc_slot(const struct replay *r, uint64_t kh)
{
	size_t s = (size_t)kh & r->mask;

	while (r->kc[s].n != 0 && r->kc[s].kh != kh)
		s = (s + 1) & r->mask;
	return s;
}

static void
kc_dec(struct replay *r, uint64_t kh)
{
	size_t s = kc_slot(r, kh), j = s, k;

	if (r->kc[s].n == 0 || --r->kc[s].n > 0)
		return;
	for (;;) {	/* backward-shift deletion, as delete_slot() */
		j = (j + 1) & r->mask;
		if (r->kc[j].n == 0)
			break;
		k = (size_t)r->kc[j].kh & r->mask;
		if (s <= j ? (s < k && k <= j) : (s < k || k <= j))
			continue;
		r->kc[s] = r->kc[j];
		s = j;
	}
	r->kc[s].n = 0;
	r->kc[s].kh = 0;
}

static void
expire(struct replay *r, int64_t now)
{
	while (r->count > 0 && r->ring[r->head].t <= now - r->window_s) {
		kc_dec(r, r->ring[r->head].kh);
		delete_slot(r, find_slot(r, (uint32_t)r->head));
		r->head = (r->head + 1) % r->capacity;
		r->count--;
	}
}

enum problem_kind
replay_check(struct replay *r, const char *keyid, const char *nonce,
    int64_t now, struct dt_error *err)
{
	crypto_generichash_state st;
	unsigned char h[HASH_BYTES], kh8[HASH_BYTES];
	enum problem_kind pk;
	size_t s, idx, ks;
	uint64_t klen = strlen(keyid), kh;

	/* Length-prefix the keyid so (a, bc) and (ab, c) differ. */
	crypto_generichash_init(&st, r->key, sizeof(r->key), sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)&klen,
	    sizeof(klen));
	crypto_generichash_update(&st, (const unsigned char *)keyid, klen);
	crypto_generichash_update(&st, (const unsigned char *)nonce,
	    strlen(nonce));
	crypto_generichash_final(&st, h, sizeof(h));
	crypto_generichash(kh8, sizeof(kh8), (const unsigned char *)keyid,
	    klen, r->key, sizeof(r->key));
	memcpy(&kh, kh8, sizeof(kh));

	pthread_mutex_lock(&r->mu);
	expire(r, now);
	for (s = home(r, h); r->table[s] != EMPTY; s = (s + 1) & r->mask)
		if (memcmp(r->ring[r->table[s]].h, h, sizeof(h)) == 0) {
			dt_error_set(err, DT_E_EXISTS, "nonce \"%.64s\" of "
			    "%.64s already used", nonce, keyid);
			pk = PROBLEM_REPLAY;
			goto out;
		}
	if (r->count == r->capacity) {
		dt_error_set(err, DT_E_BUSY, "replay cache full (%zu nonces "
		    "within %lld s)", r->capacity, (long long)r->window_s);
		pk = PROBLEM_UNAVAILABLE;
		goto out;
	}
	ks = kc_slot(r, kh);
	if (r->kc[ks].n >= r->quota) {
		dt_error_set(err, DT_E_BUSY, "kiosk \"%.64s\" holds its share "
		    "of the replay cache (%zu nonces within %lld s)", keyid,
		    r->quota, (long long)r->window_s);
		pk = PROBLEM_RATE_LIMITED;
		goto out;
	}
	idx = (r->head + r->count) % r->capacity;
	memcpy(r->ring[idx].h, h, sizeof(h));
	r->ring[idx].kh = kh;
	r->ring[idx].t = now;
	r->kc[ks].kh = kh;
	r->kc[ks].n++;
	r->table[s] = (uint32_t)idx;
	r->count++;
	pk = PROBLEM_OK;
out:
	pthread_mutex_unlock(&r->mu);
	return pk;
}

size_t
replay_count(struct replay *r)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->count;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* end of replay.c */

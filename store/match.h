/*
 * store/match.h — the in-memory matching engine.
 *
 * Holds the templates of the active model (decrypted, in memory only) as one
 * contiguous, 64-byte aligned float32 matrix, one row per template, rows
 * padded to a multiple of 16 floats, plus the same rows quantised to int8
 * (one scale per row); a row maps to its member.  Templates are
 * L2-normalised, so cosine = dot product.
 *
 * A 1:N query is memory-bandwidth bound (512 bytes a template at E = 128), so
 * it streams the int8 codes (128 bytes a template) for approximate scores with
 * a proven error bound, keeps every row that could still be in the top k, and
 * rescores those few with the float rows: the result and its scores are
 * exactly those of a full float scan (tests/test_match.c checks this against
 * brute force).  Kernels: AVX2 (+FMA) when the CPU has it (runtime check),
 * else portable C.
 *
 * Threads: one index is shared by all worker threads.  match_identify() and
 * match_verify() take a read lock and run concurrently; match_index_refresh()
 * reads the store without any lock held on the index and then takes the write
 * lock only to apply the change, so queries are blocked for the copy only.
 * Concurrent refreshers are serialised.  The struct store passed to refresh
 * must not be used by another thread at the same time (store.h).
 *
 * Freshness: refresh is cheap when nothing changed (PRAGMA data_version of
 * the connection + this handle's own commit counter: no query at all), so
 * the daemon may call it before each request or from a timer.  When something
 * changed it reads only the members whose recordings/templates changed since
 * the last refresh (the `changes` table, a monotonic sequence per member);
 * a different active model means a full reload.
 */
#ifndef STORE_MATCH_H
#define STORE_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/error.h"

#define MATCH_K_MAX 64

struct match_index;

struct match_hit {
	char member[STORE_ID_MAX + 1];
	float score;		/* cosine, best over the member's templates */
};

struct match_stats {
	char model[STORE_ID_MAX + 1];	/* "" = no active model */
	int dim;
	size_t members;
	size_t templates;
	size_t bytes;			/* template matrix */
	uint64_t full_reloads;
	uint64_t incremental_reloads;
	uint64_t members_reloaded;	/* by incremental reloads */
	const char *kernel;		/* "avx2", "portable" */
};

int match_index_create(struct match_index **out, struct dt_error *err);
void match_index_free(struct match_index *ix);

/* Brings the index up to date with S; *CHANGED (may be NULL) = 1 if it
 * changed.  DT_E_CRYPTO if S has no key. */
int match_index_refresh(struct match_index *ix, struct store *s, int *changed,
    struct dt_error *err);

/* 1:N: the K best distinct members (K <= MATCH_K_MAX), best first.
 * DT_E_NOTFOUND when there is no active model; DT_E_INVALID on a dim
 * mismatch.  Q should be L2-normalised. */
int match_identify(struct match_index *ix, const float *q, int dim, size_t k,
    struct match_hit *hits, size_t *n_hits, struct dt_error *err);
/* 1:1: max cosine over MEMBER's templates; DT_E_NOTFOUND if MEMBER has none. */
int match_verify(struct match_index *ix, const char *member, const float *q,
    int dim, float *score, struct dt_error *err);

void match_index_stats(struct match_index *ix, struct match_stats *st);

/* For benchmarks and tests: an index not backed by a store.  DIM is fixed by
 * the first call; MEMBER_RID must be unique per member. */
int match_index_add(struct match_index *ix, const char *member,
    int64_t member_rid, const float *emb, int dim, struct dt_error *err);
/* Forces the portable kernel (1) or the best available (0). */
void match_index_force_portable(struct match_index *ix, int portable);
/* 1: scan the float rows only (no int8 stage); for tests and benchmarks. */
void match_index_float_scan(struct match_index *ix, int on);

#endif /* STORE_MATCH_H */

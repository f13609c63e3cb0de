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
 * from 64 k templates it streams 4-bit codes of the rows (64 bytes a template,
 * one scale and one error norm per row) for approximate scores with a proven
 * error bound, keeps every row that could still be in the top k, narrows
 * those down with int8 codes (128 bytes a template, read for the survivors
 * only) and rescores the rest with the float rows; a smaller index, which
 * stays in the caches, streams the int8 codes first.  Either way the result
 * and its scores are exactly those of a full float scan (tests/test_match.c
 * checks this against brute force).
 * Memory: 512 + 128 + 64 + 16 bytes a template at E = 128.  Kernels: AVX2
 * (+FMA) when the CPU has it (runtime check), else portable C.
 *
 * Parallel scan (opt-in): with match_index_set_threads(ix, N != 1), on an
 * index of 256 k rows or more, the first stage of one query is split over N
 * threads (0: one per online CPU) started for that query; below 256 k rows,
 * and by default, a query runs on its caller's thread only.  This buys
 * latency on an idle machine, not throughput: when the daemon's workers
 * already keep the cores busy with concurrent queries, the split only adds
 * thread starts and contention for cores and memory bandwidth (measured: on
 * a loaded 2-core host, 2 threads were slower than 1), so the daemon keeps
 * the default of 1.
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

/* The same, refused (DT_E_INVALID) unless the index holds the templates of
 * MODEL, the model that made Q (NULL: any): a probe is never compared with
 * the templates of another model, even of the same dimension. */
int match_identify_as(struct match_index *ix, const char *model,
    const float *q, int dim, size_t k, struct match_hit *hits,
    size_t *n_hits, struct dt_error *err);
int match_verify_as(struct match_index *ix, const char *model,
    const char *member, const float *q, int dim, float *score,
    struct dt_error *err);

void match_index_stats(struct match_index *ix, struct match_stats *st);

/* For benchmarks and tests: an index not backed by a store.  DIM is fixed by
 * the first call; MEMBER_RID must be unique per member. */
int match_index_add(struct match_index *ix, const char *member,
    int64_t member_rid, const float *emb, int dim, struct dt_error *err);
/* Forces the portable kernel (1) or the best available (0). */
void match_index_force_portable(struct match_index *ix, int portable);
/* Threads for one query's scan on a large index (>= 256 k rows): N >= 1
 * (default 1), or 0 = one per online CPU; at most 16. */
void match_index_set_threads(struct match_index *ix, int n);
/* The first stage's codes: 4 or 8 bits; 0 = by size (the default: 4-bit
 * from 64 k rows, where the index outgrows the caches; int8 below). */
void match_index_first_stage(struct match_index *ix, int bits);
/* 1: scan the float rows only (no int8 stage); for tests and benchmarks. */
void match_index_float_scan(struct match_index *ix, int on);

/* For benchmarks and tests: xorshift64 on *STATE (non-zero): a float in
 * [-0.5, 0.5), and a vector of DIM of them, L2-normalised. */
float match_rand_uniform(uint64_t *state);
void match_rand_unit(uint64_t *state, float *v, int dim);

#endif /* STORE_MATCH_H */

/* store/match.c — in-memory 1:N / 1:1 matching: the index, its SIMD
 * kernels and the search.  No SQL here: match_load.c fills the index from
 * the store through the store's backend seam.  See match.h. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#include <sodium.h>

#include "store/match.h"
#include "store/match_int.h"

#define BLOCK_ROWS 512
#define ALIGN 64
#define MATCH_PAR_ROWS 262144	/* below: one thread a query */
#define MATCH_THREADS_MAX 16
#define MATCH_Q4_ROWS 65536	/* below: the first stage reads int8 codes */
#define PF_AHEAD 4096		/* bytes: prefetch distance, 4-bit stream */

struct slot {
	char id[STORE_ID_MAX + 1];
	int64_t rid;
	uint32_t *rows;
	uint32_t nrows, caprows;
	int live;
};

/* The data one generation of the index holds. */
struct mdata {
	int dim, stride;
	float *rows;		/* n x stride, 64-byte aligned */
	int8_t *codes;		/* n x cstride: the rows quantised to int8 */
	float *cscale;		/* per row: x ~= cscale * code */
	float *cl1;		/* per row: cscale * sum |code| */
	float max_scale, max_l1;	/* over all rows ever added */
	uint8_t *codes4;	/* n x c4stride: the rows quantised to 4 bits */
	float *c4scale;		/* per row: x ~= c4scale * (nibble - 8) */
	float *c4err;		/* per row: >= |x - c4scale * (nibble - 8)|_2 */
	float max_n4;		/* >= |c4scale * (nibble - 8)|_2, all rows */
	float max_norm;		/* >= |x|_2, all rows */
	int cstride;
	int c4stride;		/* bytes a row: dim rounded up to 64, halved */
	size_t n, cap;
	uint32_t *row_slot;
	struct slot *slots;
	size_t nslots, capslots, live;
	uint32_t *h_rid, *h_id;	/* slot + 1; 0 empty; TOMB deleted */
	size_t hcap, hused;
};
#define TOMB UINT32_MAX

typedef void (*dots_fn)(const float *rows, size_t n, int stride,
    const float *q, float *out);
typedef void (*idots_fn)(const int8_t *codes, size_t n, int cstride,
    const int8_t *q, int32_t *out);
typedef void (*idots4_fn)(const uint8_t *codes, size_t n, int c4stride,
    const int8_t *q, int32_t *out);
/* The rows of a block whose upper bound reaches L: their indices and bounds;
 * returns how many. */
struct ubq {
	int32_t bias;
	float qs, qn, cq;
};
typedef size_t (*filt_fn)(const int32_t *isc, const float *sc,
    const float *er, size_t n, const struct ubq *u, float L, uint32_t *idx,
    float *ub);

struct match_index {
	pthread_rwlock_t lock;		/* guards d, model, stats */
	pthread_mutex_t refresh;	/* one refresher at a time */
	struct mdata *d;
	char model[STORE_ID_MAX + 1];
	int64_t model_rid;		/* 0 = none */
	struct match_sync sync;		/* the loader's (match_load.c) */
	uint64_t full_reloads, incr_reloads, members_reloaded;
	dots_fn dots;
	idots_fn idots;
	idots4_fn idots4;
	filt_fn filt;
	int first_bits;		/* 0: by size; 4 or 8: forced */
	int threads;		/* large indexes; 0 = one per CPU; default 1 */
	int float_scan;		/* 1: skip the int8 stage */
	const char *kernel;
};

/* ---- kernels ------------------------------------------------------------ */

static void
dots_portable(const float *rows, size_t n, int stride, const float *q,
    float *out)
{
	size_t r;
	int i, j;

	for (r = 0; r < n; r++) {
		const float *x = rows + r * (size_t)stride;
		float acc[8] = { 0 }, s = 0;
		for (i = 0; i < stride; i += 8)
			for (j = 0; j < 8; j++)
				acc[j] += x[i + j] * q[i + j];
		for (j = 0; j < 8; j++)
			s += acc[j];
		out[r] = s;
	}
}

static void
idots_portable(const int8_t *codes, size_t n, int cstride, const int8_t *q,
    int32_t *out)
{
	size_t r;
	int i;

	for (r = 0; r < n; r++) {
		const int8_t *c = codes + r * (size_t)cstride;
		int32_t s = 0;
		for (i = 0; i < cstride; i++)
			s += (int32_t)c[i] * q[i];
		out[r] = s;
	}
}

/*
 * 4-bit codes: byte j of a row holds element j in its low nibble and element
 * j + c4stride in its high nibble, each stored as code + 8 (1..15; padding
 * 8).  OUT gets sum (code + 8) * q: the caller subtracts 8 * sum q.
 */
static void
idots4_portable(const uint8_t *codes, size_t n, int c4stride, const int8_t *q,
    int32_t *out)
{
	size_t r;
	int j;

	for (r = 0; r < n; r++) {
		const uint8_t *c = codes + r * (size_t)c4stride;
		int32_t s = 0;
		for (j = 0; j < c4stride; j++)
			s += (int32_t)(c[j] & 15) * q[j] +
			    (int32_t)(c[j] >> 4) * q[j + c4stride];
		out[r] = s;
	}
}

static size_t
filt_portable(const int32_t *isc, const float *sc, const float *er, size_t n,
    const struct ubq *u, float L, uint32_t *idx, float *ub)
{
	size_t r, m = 0;
	float v;

	for (r = 0; r < n; r++) {
		v = (float)(isc[r] - u->bias) * (sc[r] * u->qs) +
		    (er[r] * u->qn + u->cq);
		if (v >= L) {
			idx[m] = (uint32_t)r;
			ub[m++] = v;
		}
	}
	return m;
}

#ifdef HAVE_X86
/* filt_portable eight rows a step (roundings differ by an ulp or so: inside
 * the bound's slack). */
__attribute__((target("avx2"))) static size_t
filt_avx2(const int32_t *isc, const float *sc, const float *er, size_t n,
    const struct ubq *u, float L, uint32_t *idx, float *ub)
{
	const __m256i bias = _mm256_set1_epi32(u->bias);
	const __m256 qs = _mm256_set1_ps(u->qs), qn = _mm256_set1_ps(u->qn);
	const __m256 cq = _mm256_set1_ps(u->cq), lv = _mm256_set1_ps(L);
	_Alignas(32) float t[8];
	size_t r = 0, m = 0;
	unsigned mask;
	int j;

	for (; r + 8 <= n; r += 8) {
		__m256 a = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(
		    _mm256_loadu_si256((const __m256i *)(isc + r)), bias)),
		    _mm256_mul_ps(_mm256_loadu_ps(sc + r), qs));
		__m256 v = _mm256_add_ps(a, _mm256_add_ps(_mm256_mul_ps(
		    _mm256_loadu_ps(er + r), qn), cq));
		mask = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, lv,
		    _CMP_GE_OQ));
		if (mask == 0)
			continue;
		_mm256_store_ps(t, v);
		for (; mask; mask &= mask - 1) {
			j = __builtin_ctz(mask);
			idx[m] = (uint32_t)(r + (size_t)j);
			ub[m++] = t[j];
		}
	}
	if (r < n) {
		size_t k = filt_portable(isc + r, sc + r, er + r, n - r, u, L,
		    idx + m, ub + m);
		for (j = 0; j < (int)k; j++)
			idx[m + (size_t)j] += (uint32_t)r;
		m += k;
	}
	return m;
}

/* 32 bytes of codes (64 elements) against the query: int16 sums of two
 * products, each at most 2 * 15 * 127 = 3810 (no saturation). */
__attribute__((target("avx2"))) static inline __m256i
dot4_step(const uint8_t *c, __m256i ql, __m256i qh)
{
	const __m256i m = _mm256_set1_epi8(15);
	__m256i v = _mm256_load_si256((const __m256i *)c);
	__m256i lo = _mm256_and_si256(v, m);
	__m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);

	return _mm256_add_epi16(_mm256_maddubs_epi16(lo, ql),
	    _mm256_maddubs_epi16(hi, qh));
}

/* Four rows a step, 64 bytes (two steps: int16 sums up to 4 * 3810 < 2^15)
 * between widenings; one horizontal reduction for the four rows. */
__attribute__((target("avx2"))) static void
idots4_avx2(const uint8_t *codes, size_t n, int c4stride, const int8_t *q,
    int32_t *out)
{
	const __m256i ones = _mm256_set1_epi16(1);
	size_t r = 0;
	int j;

	for (; r + 4 <= n; r += 4) {
		const uint8_t *c0 = codes + r * (size_t)c4stride;
		const uint8_t *c1 = c0 + c4stride, *c2 = c1 + c4stride;
		const uint8_t *c3 = c2 + c4stride;
		__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
		__m256i t;
		for (j = 0; j < 4 * c4stride; j += 64)
			_mm_prefetch((const char *)(c0 + PF_AHEAD + j),
			    _MM_HINT_T0);
		for (j = 0; j < c4stride; j += 64) {
			const int8_t *qj = q + j, *qk = q + c4stride + j;
			__m256i ql = _mm256_load_si256((const __m256i *)qj);
			__m256i qh = _mm256_load_si256((const __m256i *)qk);
			__m256i s0 = dot4_step(c0 + j, ql, qh);
			__m256i s1 = dot4_step(c1 + j, ql, qh);
			__m256i s2 = dot4_step(c2 + j, ql, qh);
			__m256i s3 = dot4_step(c3 + j, ql, qh);
			if (j + 32 < c4stride) {
				ql = _mm256_load_si256((const __m256i *)qj + 1);
				qh = _mm256_load_si256((const __m256i *)qk + 1);
				s0 = _mm256_add_epi16(s0, dot4_step(c0 + j + 32,
				    ql, qh));
				s1 = _mm256_add_epi16(s1, dot4_step(c1 + j + 32,
				    ql, qh));
				s2 = _mm256_add_epi16(s2, dot4_step(c2 + j + 32,
				    ql, qh));
				s3 = _mm256_add_epi16(s3, dot4_step(c3 + j + 32,
				    ql, qh));
			}
			a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(s0, ones));
			a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(s1, ones));
			a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(s2, ones));
			a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(s3, ones));
		}
		t = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1),
		    _mm256_hadd_epi32(a2, a3));
		_mm_storeu_si128((__m128i *)(out + r), _mm_add_epi32(
		    _mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1)));
	}
	if (r < n)
		idots4_portable(codes + r * (size_t)c4stride, n - r, c4stride,
		    q, out + r);
}

__attribute__((target("avx2"))) static inline int32_t
hsum256i(__m256i v)
{
	__m128i x = _mm_add_epi32(_mm256_castsi256_si128(v),
	    _mm256_extracti128_si256(v, 1));
	x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
	x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
	return _mm_cvtsi128_si32(x);
}

/* int8 x int8 dot products, 32 lanes a step: |c| * sign(q, c) with
 * maddubs (no saturation: codes are within -127..127), then madd to int32. */
__attribute__((target("avx2"))) static void
idots_avx2(const int8_t *codes, size_t n, int cstride, const int8_t *q,
    int32_t *out)
{
	const __m256i ones = _mm256_set1_epi16(1);
	size_t r = 0;
	int i;

	for (; r + 2 <= n; r += 2) {
		const int8_t *c0 = codes + r * (size_t)cstride, *c1 = c0 + cstride;
		__m256i a0 = _mm256_setzero_si256(), a1 = a0;
		for (i = 0; i < cstride; i += 32) {
			__m256i qv = _mm256_load_si256((const __m256i *)(q + i));
			__m256i x0 = _mm256_load_si256((const __m256i *)(c0 + i));
			__m256i x1 = _mm256_load_si256((const __m256i *)(c1 + i));
			a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(
			    _mm256_maddubs_epi16(_mm256_abs_epi8(x0),
			    _mm256_sign_epi8(qv, x0)), ones));
			a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(
			    _mm256_maddubs_epi16(_mm256_abs_epi8(x1),
			    _mm256_sign_epi8(qv, x1)), ones));
		}
		out[r] = hsum256i(a0);
		out[r + 1] = hsum256i(a1);
	}
	if (r < n) {	/* the last row; or the one row the second stage asks */
		const int8_t *c0 = codes + r * (size_t)cstride;
		__m256i a0 = _mm256_setzero_si256();
		for (i = 0; i < cstride; i += 32) {
			__m256i qv = _mm256_load_si256((const __m256i *)(q + i));
			__m256i x0 = _mm256_load_si256((const __m256i *)(c0 + i));
			a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(
			    _mm256_maddubs_epi16(_mm256_abs_epi8(x0),
			    _mm256_sign_epi8(qv, x0)), ones));
		}
		out[r] = hsum256i(a0);
	}
}

__attribute__((target("avx2,fma"))) static inline float
hsum256(__m256 v)
{
	__m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
	return _mm_cvtss_f32(lo);
}

/* Four rows at a time: four independent FMA chains, the query from L1. */
__attribute__((target("avx2,fma"))) static void
dots_avx2(const float *rows, size_t n, int stride, const float *q, float *out)
{
	size_t r = 0;
	int i;

	for (; r + 4 <= n; r += 4) {
		const float *x0 = rows + r * (size_t)stride;
		const float *x1 = x0 + stride, *x2 = x1 + stride, *x3 = x2 + stride;
		__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (i = 0; i < stride; i += 8) {
			__m256 qv = _mm256_load_ps(q + i);
			a0 = _mm256_fmadd_ps(_mm256_load_ps(x0 + i), qv, a0);
			a1 = _mm256_fmadd_ps(_mm256_load_ps(x1 + i), qv, a1);
			a2 = _mm256_fmadd_ps(_mm256_load_ps(x2 + i), qv, a2);
			a3 = _mm256_fmadd_ps(_mm256_load_ps(x3 + i), qv, a3);
		}
		out[r] = hsum256(a0);
		out[r + 1] = hsum256(a1);
		out[r + 2] = hsum256(a2);
		out[r + 3] = hsum256(a3);
	}
	for (; r < n; r++) {
		const float *x = rows + r * (size_t)stride;
		__m256 a = _mm256_setzero_ps();
		for (i = 0; i < stride; i += 8)
			a = _mm256_fmadd_ps(_mm256_load_ps(x + i),
			    _mm256_load_ps(q + i), a);
		out[r] = hsum256(a);
	}
}
#endif

static void
pick_kernel(struct match_index *ix, int portable)
{
	ix->dots = dots_portable;
	ix->idots = idots_portable;
	ix->idots4 = idots4_portable;
	ix->filt = filt_portable;
	ix->kernel = "portable";
#ifdef HAVE_X86
	if (!portable) {
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
			ix->dots = dots_avx2;
			ix->idots = idots_avx2;
			ix->idots4 = idots4_avx2;
			ix->filt = filt_avx2;
			ix->kernel = "avx2";
		}
	}
#endif
}

/* ---- the data ----------------------------------------------------------- */

static uint64_t
hash_rid(int64_t rid)
{
	uint64_t z = (uint64_t)rid + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
hash_id(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 0x100000001b3ULL;
	return h;
}

static void
md_free(struct mdata *d)
{
	size_t i;

	if (d == NULL)
		return;
	if (d->rows != NULL) {
		sodium_memzero(d->rows, d->cap * (size_t)d->stride * sizeof(float));
		free(d->rows);
	}
	if (d->codes != NULL) {
		sodium_memzero(d->codes, d->cap * (size_t)d->cstride);
		free(d->codes);
	}
	if (d->codes4 != NULL) {
		sodium_memzero(d->codes4, d->cap * (size_t)d->c4stride);
		free(d->codes4);
	}
	free(d->cscale);
	free(d->cl1);
	free(d->c4scale);
	free(d->c4err);
	for (i = 0; i < d->nslots; i++)
		free(d->slots[i].rows);
	free(d->slots);
	free(d->row_slot);
	free(d->h_rid);
	free(d->h_id);
	free(d);
}

static struct mdata *
md_new(int dim)
{
	struct mdata *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->dim = dim;
	d->stride = (dim + 15) & ~15;
	d->cstride = (dim + 31) & ~31;
	d->c4stride = ((dim + 63) & ~63) / 2;
	return d;
}

static long
md_find_rid(const struct mdata *d, int64_t rid)
{
	size_t i, m;
	uint32_t v;

	if (d->hcap == 0)
		return -1;
	m = d->hcap - 1;
	for (i = hash_rid(rid) & m; (v = d->h_rid[i]) != 0; i = (i + 1) & m)
		if (v != TOMB && d->slots[v - 1].rid == rid)
			return (long)(v - 1);
	return -1;
}

static long
md_find_id(const struct mdata *d, const char *id)
{
	size_t i, m;
	uint32_t v;

	if (d->hcap == 0)
		return -1;
	m = d->hcap - 1;
	for (i = hash_id(id) & m; (v = d->h_id[i]) != 0; i = (i + 1) & m)
		if (v != TOMB && strcmp(d->slots[v - 1].id, id) == 0)
			return (long)(v - 1);
	return -1;
}

static void
h_put(uint32_t *h, size_t cap, uint64_t hv, uint32_t slot)
{
	size_t i, m = cap - 1;

	for (i = hv & m; h[i] != 0 && h[i] != TOMB; i = (i + 1) & m)
		;
	h[i] = slot + 1;
}

static int
md_rehash(struct mdata *d, size_t want)
{
	size_t cap = 64, i;
	uint32_t *a, *b;

	while (cap < want * 2)
		cap *= 2;
	a = calloc(cap, sizeof(*a));
	b = calloc(cap, sizeof(*b));
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return -1;
	}
	for (i = 0; i < d->nslots; i++) {
		if (!d->slots[i].live)
			continue;
		h_put(a, cap, hash_rid(d->slots[i].rid), (uint32_t)i);
		h_put(b, cap, hash_id(d->slots[i].id), (uint32_t)i);
	}
	free(d->h_rid);
	free(d->h_id);
	d->h_rid = a;
	d->h_id = b;
	d->hcap = cap;
	d->hused = d->live;
	return 0;
}

static long
md_add_slot(struct mdata *d, const char *id, int64_t rid)
{
	struct slot *sl;

	if (d->nslots == d->capslots) {
		size_t cap = d->capslots ? d->capslots * 2 : 256;
		void *v = realloc(d->slots, cap * sizeof(*d->slots));
		if (v == NULL)
			return -1;
		d->slots = v;
		d->capslots = cap;
	}
	if ((d->hused + 1) * 2 > d->hcap && md_rehash(d, d->live + 1) == -1)
		return -1;
	sl = &d->slots[d->nslots];
	memset(sl, 0, sizeof(*sl));
	snprintf(sl->id, sizeof(sl->id), "%s", id);
	sl->rid = rid;
	sl->live = 1;
	h_put(d->h_rid, d->hcap, hash_rid(rid), (uint32_t)d->nslots);
	h_put(d->h_id, d->hcap, hash_id(id), (uint32_t)d->nslots);
	d->hused++;
	d->live++;
	return (long)d->nslots++;
}

/* Row R's int8 codes: x ~= scale * code, |x - scale * code| <= scale / 2. */
static void
quantise(struct mdata *d, size_t r, const float *x)
{
	int8_t *c = d->codes + r * (size_t)d->cstride;
	float mx = 0, sc;
	long v, l1 = 0;
	int i;

	for (i = 0; i < d->dim; i++)
		if (fabsf(x[i]) > mx)
			mx = fabsf(x[i]);
	sc = mx > 0 ? mx / 127.0f : 1.0f;
	memset(c, 0, (size_t)d->cstride);
	for (i = 0; i < d->dim; i++) {
		v = lrintf(x[i] / sc);
		v = v > 127 ? 127 : v < -127 ? -127 : v;
		c[i] = (int8_t)v;
		l1 += v < 0 ? -v : v;
	}
	d->cscale[r] = sc;
	d->cl1[r] = sc * (float)l1;
	if (sc > d->max_scale)
		d->max_scale = sc;
	if (d->cl1[r] > d->max_l1)
		d->max_l1 = d->cl1[r];
}

/* Row R's 4-bit codes (-7..7, stored + 8) and the L2 norm of their error,
 * rounded up: the first stage's bound is per row (Cauchy-Schwarz). */
static void
quantise4(struct mdata *d, size_t r, const float *x)
{
	uint8_t *c = d->codes4 + r * (size_t)d->c4stride;
	int half = d->c4stride, i;
	double e = 0, nn = 0, xn = 0, y;
	float mx = 0, sc;
	long v;

	for (i = 0; i < d->dim; i++)
		if (fabsf(x[i]) > mx)
			mx = fabsf(x[i]);
	sc = mx > 0 ? mx / 7.0f : 1.0f;
	memset(c, 0x88, (size_t)half);
	for (i = 0; i < d->dim; i++) {
		v = lrintf(x[i] / sc);
		v = v > 7 ? 7 : v < -7 ? -7 : v;
		if (i < half)
			c[i] = (uint8_t)((c[i] & 0xf0) | (uint8_t)(v + 8));
		else
			c[i - half] = (uint8_t)((c[i - half] & 0x0f) |
			    (uint8_t)((v + 8) << 4));
		y = (double)sc * (double)v;
		e += ((double)x[i] - y) * ((double)x[i] - y);
		nn += y * y;
		xn += (double)x[i] * x[i];
	}
	d->c4scale[r] = sc;
	d->c4err[r] = (float)(sqrt(e) * (1 + 1e-6)) + 1e-30f;
	if ((float)(sqrt(nn) * (1 + 1e-6)) > d->max_n4)
		d->max_n4 = (float)(sqrt(nn) * (1 + 1e-6));
	if ((float)(sqrt(xn) * (1 + 1e-6)) > d->max_norm)
		d->max_norm = (float)(sqrt(xn) * (1 + 1e-6));
}

static int
grow_plain(void **p, size_t cap, size_t w)
{
	void *v = realloc(*p, cap * w);

	if (v == NULL)
		return -1;
	*p = v;
	return 0;
}

static int
md_add_row(struct mdata *d, long slot, const float *emb)
{
	struct slot *sl = &d->slots[slot];
	float *row;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 1024;
		/* plain arrays first: only their capacity grows, so a
		 * failure leaves D consistent */
		if (grow_plain((void **)&d->row_slot, cap, sizeof(uint32_t)) ||
		    grow_plain((void **)&d->cscale, cap, sizeof(float)) ||
		    grow_plain((void **)&d->cl1, cap, sizeof(float)) ||
		    grow_plain((void **)&d->c4scale, cap, sizeof(float)) ||
		    grow_plain((void **)&d->c4err, cap, sizeof(float)))
			return -1;
		/* aligned ones: all or nothing */
		{
			float *r = aligned_alloc(ALIGN, cap * (size_t)d->stride *
			    sizeof(float));
			int8_t *c = aligned_alloc(ALIGN, cap * (size_t)d->cstride);
			uint8_t *c4 = aligned_alloc(ALIGN, cap *
			    (size_t)d->c4stride);
			if (r == NULL || c == NULL || c4 == NULL) {
				free(r);
				free(c);
				free(c4);
				return -1;
			}
			if (d->rows != NULL) {
				memcpy(r, d->rows, d->n * (size_t)d->stride *
				    sizeof(float));
				memcpy(c, d->codes, d->n * (size_t)d->cstride);
				memcpy(c4, d->codes4, d->n * (size_t)d->c4stride);
				sodium_memzero(d->rows, d->cap * (size_t)d->stride *
				    sizeof(float));
				sodium_memzero(d->codes, d->cap * (size_t)d->cstride);
				sodium_memzero(d->codes4, d->cap *
				    (size_t)d->c4stride);
				free(d->rows);
				free(d->codes);
				free(d->codes4);
			}
			d->rows = r;
			d->codes = c;
			d->codes4 = c4;
		}
		d->cap = cap;
	}
	if (sl->nrows == sl->caprows) {
		uint32_t cap = sl->caprows ? sl->caprows * 2 : 2;
		void *v = realloc(sl->rows, cap * sizeof(*sl->rows));
		if (v == NULL)
			return -1;
		sl->rows = v;
		sl->caprows = cap;
	}
	row = d->rows + d->n * (size_t)d->stride;
	memcpy(row, emb, (size_t)d->dim * sizeof(float));
	memset(row + d->dim, 0, (size_t)(d->stride - d->dim) * sizeof(float));
	quantise(d, d->n, emb);
	quantise4(d, d->n, emb);
	d->row_slot[d->n] = (uint32_t)slot;
	sl->rows[sl->nrows++] = (uint32_t)d->n;
	d->n++;
	return 0;
}

static int
cmp_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void
h_del(uint32_t *h, size_t cap, uint64_t hv, uint32_t slot)
{
	size_t i, m = cap - 1;

	for (i = hv & m; h[i] != 0; i = (i + 1) & m)
		if (h[i] == slot + 1) {
			h[i] = TOMB;
			return;
		}
}

/* Removes the member's rows (swap with the last row) and the member. */
static void
md_remove(struct mdata *d, long slot)
{
	struct slot *sl = &d->slots[slot], *mv;
	size_t stride = (size_t)d->stride;
	uint32_t i, j, r, last;

	qsort(sl->rows, sl->nrows, sizeof(*sl->rows), cmp_desc);
	for (i = 0; i < sl->nrows; i++) {
		r = sl->rows[i];
		last = (uint32_t)(d->n - 1);
		if (r != last) {
			memcpy(d->rows + r * stride, d->rows + last * stride,
			    stride * sizeof(float));
			memcpy(d->codes + r * (size_t)d->cstride, d->codes +
			    last * (size_t)d->cstride, (size_t)d->cstride);
			d->cscale[r] = d->cscale[last];
			d->cl1[r] = d->cl1[last];
			memcpy(d->codes4 + r * (size_t)d->c4stride, d->codes4 +
			    last * (size_t)d->c4stride, (size_t)d->c4stride);
			d->c4scale[r] = d->c4scale[last];
			d->c4err[r] = d->c4err[last];
			d->row_slot[r] = d->row_slot[last];
			mv = &d->slots[d->row_slot[r]];
			for (j = 0; j < mv->nrows; j++)
				if (mv->rows[j] == last)
					mv->rows[j] = r;
		}
		sodium_memzero(d->rows + last * stride, stride * sizeof(float));
		sodium_memzero(d->codes + last * (size_t)d->cstride,
		    (size_t)d->cstride);
		sodium_memzero(d->codes4 + last * (size_t)d->c4stride,
		    (size_t)d->c4stride);
		d->n--;
	}
	free(sl->rows);
	sl->rows = NULL;
	sl->nrows = sl->caprows = 0;
	h_del(d->h_rid, d->hcap, hash_rid(sl->rid), (uint32_t)slot);
	h_del(d->h_id, d->hcap, hash_id(sl->id), (uint32_t)slot);
	sl->live = 0;
	d->live--;
}

static int
md_add(struct mdata *d, const char *member, int64_t rid, const float *emb)
{
	long slot = md_find_rid(d, rid);

	if (slot < 0 && (slot = md_add_slot(d, member, rid)) < 0)
		return -1;
	return md_add_row(d, slot, emb);
}

/* ---- public ------------------------------------------------------------- */

int
match_index_create(struct match_index **out, struct dt_error *err)
{
	struct match_index *ix;

	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "match index: out of memory");
	if (pthread_rwlock_init(&ix->lock, NULL) != 0) {
		free(ix);
		return dt_error_set(err, DT_E_INTERNAL, "match index: rwlock");
	}
	pthread_mutex_init(&ix->sync.refresh, NULL);
	ix->threads = 1;
	pick_kernel(ix, 0);
	*out = ix;
	return 0;
}

void
match_index_free(struct match_index *ix)
{
	if (ix == NULL)
		return;
	md_free(ix->d);
	pthread_rwlock_destroy(&ix->lock);
	pthread_mutex_destroy(&ix->sync.refresh);
	free(ix);
}

void
match_index_force_portable(struct match_index *ix, int portable)
{
	pthread_rwlock_wrlock(&ix->lock);
	pick_kernel(ix, portable);
	pthread_rwlock_unlock(&ix->lock);
}

int
match_index_add(struct match_index *ix, const char *member, int64_t member_rid,
    const float *emb, int dim, struct dt_error *err)
{
	int rc = 0;

	if (dim <= 0 || dim > MATCH_DIM_MAX)
		return dt_error_set(err, DT_E_INVALID, "match: bad dim %d", dim);
	pthread_rwlock_wrlock(&ix->lock);
	if (ix->d == NULL) {
		if ((ix->d = md_new(dim)) == NULL)
			rc = -1;
		snprintf(ix->model, sizeof(ix->model), "(memory)");
		ix->model_rid = -1;
	} else if (ix->d->dim != dim) {
		pthread_rwlock_unlock(&ix->lock);
		return dt_error_set(err, DT_E_INVALID, "member %s: template of "
		    "dim %d, index has %d", member, dim, ix->d->dim);
	}
	if (rc == 0)
		rc = md_add(ix->d, member, member_rid, emb);
	pthread_rwlock_unlock(&ix->lock);
	if (rc == -1)
		return dt_error_set(err, DT_E_NOMEM, "member %s: out of memory",
		    member);
	return 0;
}

/* ---- what the loader (match_load.c) uses ------------------------------ */

struct match_sync *
match_index_sync(struct match_index *ix)
{
	return &ix->sync;
}

struct mdata *
match_md_new(int dim)
{
	return md_new(dim);
}

void
match_md_free(struct mdata *d)
{
	md_free(d);
}

int
match_md_dim(const struct mdata *d)
{
	return d->dim;
}

int
match_md_add(struct mdata *d, const char *member, int64_t rid,
    const float *emb)
{
	return md_add(d, member, rid, emb);
}

void
match_index_replace(struct match_index *ix, struct mdata **nd,
    const char *model, int64_t modrid)
{
	struct mdata *old;

	pthread_rwlock_wrlock(&ix->lock);
	old = ix->d;
	ix->d = *nd;
	*nd = old;
	snprintf(ix->model, sizeof(ix->model), "%s", model);
	ix->model_rid = modrid;
	ix->full_reloads++;
	pthread_rwlock_unlock(&ix->lock);
}

int
match_index_merge(struct match_index *ix, const int64_t *rids, size_t nrids,
    const struct mdata *nd, struct dt_error *err)
{
	size_t i;

	pthread_rwlock_wrlock(&ix->lock);
	for (i = 0; i < nrids; i++) {
		long sl = md_find_rid(ix->d, rids[i]);
		if (sl >= 0)
			md_remove(ix->d, sl);
	}
	for (i = 0; i < nd->nslots; i++) {
		const struct slot *ns = &nd->slots[i];
		uint32_t j;
		for (j = 0; j < ns->nrows; j++)
			if (md_add(ix->d, ns->id, ns->rid, nd->rows +
			    (size_t)ns->rows[j] * (size_t)nd->stride) == -1) {
				/* the index is now partial: reload fully */
				ix->sync.loaded = 0;
				pthread_rwlock_unlock(&ix->lock);
				return dt_error_set(err, DT_E_NOMEM,
				    "match: out of memory");
			}
	}
	ix->incr_reloads++;
	ix->members_reloaded += nrids;
	pthread_rwlock_unlock(&ix->lock);
	return 0;
}

/* ---- search ------------------------------------------------------------- */

static void
topk_push(float *hs, uint32_t *hslot, size_t *cnt, size_t k, float sc,
    uint32_t slot)
{
	size_t i, pos;

	for (i = 0; i < *cnt; i++)
		if (hslot[i] == slot) {
			if (sc <= hs[i])
				return;
			memmove(hs + i, hs + i + 1, (*cnt - i - 1) * sizeof(*hs));
			memmove(hslot + i, hslot + i + 1,
			    (*cnt - i - 1) * sizeof(*hslot));
			(*cnt)--;
			break;
		}
	if (*cnt == k) {
		if (sc <= hs[k - 1])
			return;
		(*cnt)--;
	}
	for (pos = *cnt; pos > 0 && hs[pos - 1] < sc; pos--) {
		hs[pos] = hs[pos - 1];
		hslot[pos] = hslot[pos - 1];
	}
	hs[pos] = sc;
	hslot[pos] = slot;
	(*cnt)++;
}

static int
check_query(struct match_index *ix, const char *model, const float *q,
    int dim, float *qb, struct dt_error *err)
{
	if (ix->d == NULL)
		return dt_error_set(err, DT_E_NOTFOUND, "no active model");
	if (model != NULL && strcmp(model, ix->model) != 0)
		return dt_error_set(err, DT_E_INVALID, "query made by model %s, "
		    "the index holds model %s", model, ix->model);
	if (dim != ix->d->dim)
		return dt_error_set(err, DT_E_INVALID, "query of dim %d, model %s "
		    "has %d", dim, ix->model, ix->d->dim);
	memcpy(qb, q, (size_t)dim * sizeof(float));
	memset(qb + dim, 0, (size_t)(ix->d->stride - dim) * sizeof(float));
	return 0;
}

/* The exact float scan: every row, one pass. */
static void
identify_float(struct match_index *ix, const float *qb, size_t k, float *hs,
    uint32_t *hslot, size_t *cnt)
{
	_Alignas(ALIGN) float sc[BLOCK_ROWS];
	const struct mdata *d = ix->d;
	size_t b, nb, r;

	for (b = 0; b < d->n; b += nb) {
		nb = d->n - b < BLOCK_ROWS ? d->n - b : BLOCK_ROWS;
		ix->dots(d->rows + b * (size_t)d->stride, nb, d->stride, qb, sc);
		for (r = 0; r < nb; r++)
			if (*cnt < k || sc[r] > hs[*cnt - 1])
				topk_push(hs, hslot, cnt, k, sc[r],
				    d->row_slot[b + r]);
	}
}

/*
 * Three stages, exact result.  Every stage scores a row approximately, a_r,
 * with a proven bound |a_r - dot_r| <= e_r (dot_r: the float kernel's score,
 * rounding included), so lb_r = a_r - e_r <= dot_r <= ub_r = a_r + e_r.  Let
 * L be the k-th largest, over distinct members, of the members' best lb: k
 * members score at least L, so the true k-th score T >= L, and a member of
 * the true top-k has a row with ub >= dot >= T >= L.  A row with ub < L can
 * therefore be dropped (L only grows during a scan, so testing against the
 * running L keeps a superset).
 *   (1) stream the 4-bit codes (64 bytes a row at E = 128: an eighth of the
 *       float bytes); e_r by Cauchy-Schwarz from the row's stored error norm
 *       and the query's;
 *   (2) the survivors again with their int8 codes (a tighter bound);
 *   (3) the survivors of that rescored with the float rows, in row order, as
 *       the float scan does: same top-k, same scores, same ties.
 * Stage (1) is split over threads for large indexes (match_index_set_threads).
 */
struct cand {
	uint32_t row;
	float ub;
};

struct scan {
	const struct match_index *ix;
	const int8_t *qc;
	struct ubq u;
	int bits;			/* 4: 4-bit codes; 8: int8 codes */
	size_t k, r0, r1;
	struct cand *cand;
	size_t ncand, capcand;
	float lbs[MATCH_K_MAX];
	uint32_t lslot[MATCH_K_MAX];
	size_t lcnt;
	int fail;
};

static void topk_push(float *, uint32_t *, size_t *, size_t, float, uint32_t);

static void *
scan4(void *arg)
{
	_Alignas(ALIGN) int32_t isc[BLOCK_ROWS];
	uint32_t idx[BLOCK_ROWS];
	float ub[BLOCK_ROWS];
	struct scan *w = arg;
	const struct mdata *d = w->ix->d;
	const float *sc = w->bits == 4 ? d->c4scale : d->cscale;
	const float *er = w->bits == 4 ? d->c4err : d->cscale;
	float L = -INFINITY, lb;
	size_t b, nb, r, m, i, k = w->k;
	struct cand *nc;

	for (b = w->r0; b < w->r1; b += nb) {
		nb = w->r1 - b < BLOCK_ROWS ? w->r1 - b : BLOCK_ROWS;
		if (w->bits == 4)
			w->ix->idots4(d->codes4 + b * (size_t)d->c4stride, nb,
			    d->c4stride, w->qc, isc);
		else
			w->ix->idots(d->codes + b * (size_t)d->cstride, nb,
			    d->cstride, w->qc, isc);
		m = w->ix->filt(isc, sc + b, er + b, nb, &w->u, L, idx, ub);
		for (i = 0; i < m; i++) {
			if (ub[i] < L)	/* L has grown within the block */
				continue;
			r = b + idx[i];
			if (w->ncand == w->capcand) {
				size_t cap = w->capcand ? w->capcand * 2 : 1024;
				if ((nc = realloc(w->cand, cap * sizeof(*nc))) ==
				    NULL) {
					w->fail = 1;
					return NULL;
				}
				w->cand = nc;
				w->capcand = cap;
			}
			w->cand[w->ncand].row = (uint32_t)r;
			w->cand[w->ncand++].ub = ub[i];
			/* a - e = ub - 2e: e recomputed as in filt, rounded
			 * the same way; lb only needs to be a lower bound, and
			 * e's rounding is inside the slack */
			lb = ub[i] - 2.0f * (er[r] * w->u.qn + w->u.cq);
			if (w->lcnt < k || lb > w->lbs[w->lcnt - 1]) {
				topk_push(w->lbs, w->lslot, &w->lcnt, k, lb,
				    d->row_slot[r]);
				if (w->lcnt == k)
					L = w->lbs[k - 1];
			}
		}
	}
	return NULL;
}

static int
scan_threads(const struct match_index *ix, size_t n)
{
	long nt = ix->threads;

	if (n < MATCH_PAR_ROWS)
		return 1;
	if (nt <= 0)
		nt = sysconf(_SC_NPROCESSORS_ONLN);
	if (nt > MATCH_THREADS_MAX)
		nt = MATCH_THREADS_MAX;
	if (nt < 1)
		nt = 1;
	while (nt > 1 && n / (size_t)nt < BLOCK_ROWS * 16)
		nt--;
	return (int)nt;
}

static int
identify_quant(struct match_index *ix, const float *qb, size_t k, float *hs,
    uint32_t *hslot, size_t *cnt)
{
	_Alignas(ALIGN) int8_t qc[2 * MATCH_DIM_MAX];
	struct scan w[MATCH_THREADS_MAX];
	pthread_t th[MATCH_THREADS_MAX];
	int started[MATCH_THREADS_MAX];
	float lbs[MATCH_K_MAX], qmax = 0, qs, ql1 = 0, e8, slack, L, L2, a, v;
	uint32_t lslot[MATCH_K_MAX];
	const struct mdata *d = ix->d;
	double qn = 0, eqn = 0, t;
	size_t lcnt = 0, chunk, r, j, m;
	int32_t qsum = 0, i8;
	int i, nt, bits, rc = -1;
	long c;

	for (i = 0; i < d->dim; i++) {
		if (fabsf(qb[i]) > qmax)
			qmax = fabsf(qb[i]);
		ql1 += fabsf(qb[i]);
		qn += (double)qb[i] * qb[i];
	}
	qn = sqrt(qn);
	qs = qmax > 0 ? qmax / 127.0f : 1.0f;
	memset(qc, 0, (size_t)d->c4stride * 2);
	for (i = 0; i < d->dim; i++) {
		c = lrintf(qb[i] / qs);
		qc[i] = (int8_t)(c > 127 ? 127 : c < -127 ? -127 : c);
		qsum += qc[i];
		t = (double)qb[i] - (double)qs * qc[i];
		eqn += t * t;
	}
	eqn = sqrt(eqn);
	/* float rounding: of the float kernel (stride / 8 + 8 additions a
	 * lane), of the approximate scores, of the bounds; generously */
	slack = (float)((double)(d->stride + 64) * 0x1p-20 *
	    ((double)d->max_norm + d->max_n4) * (qn + eqn)) + 1e-30f;
	/* |x.q - s c.(qs qc)| <= |x - s c|_2 |q|_2 + |s c|_2 |q - qs qc|_2 */
	nt = scan_threads(ix, d->n);
	chunk = (d->n + (size_t)nt - 1) / (size_t)nt;
	chunk = (chunk + BLOCK_ROWS - 1) / BLOCK_ROWS * BLOCK_ROWS;
	memset(w, 0, (size_t)nt * sizeof(w[0]));
	bits = ix->first_bits ? ix->first_bits : d->n >= MATCH_Q4_ROWS ? 4 : 8;
	for (i = 0; i < nt; i++) {
		w[i].ix = ix;
		w[i].qc = qc;
		w[i].bits = bits;
		w[i].u.qs = qs;
		if (bits == 4) {
			w[i].u.qn = (float)(qn * (1 + 1e-5));
			w[i].u.cq = (float)((double)d->max_n4 * eqn *
			    (1 + 1e-5)) + slack;
			w[i].u.bias = 8 * qsum;
		} else {
			/* |x.q - s c.(qs qc)| <= s/2 |q|_1 + qs/2 |s c|_1 */
			w[i].u.qn = 0.5f * ql1 * 1.001f;
			w[i].u.cq = 0.5f * qs * d->max_l1 * 1.001f + slack;
			w[i].u.bias = 0;
		}
		w[i].k = k;
		w[i].r0 = (size_t)i * chunk < d->n ? (size_t)i * chunk : d->n;
		w[i].r1 = w[i].r0 + chunk < d->n ? w[i].r0 + chunk : d->n;
		started[i] = 0;
	}
	for (i = 1; i < nt; i++)
		started[i] = pthread_create(&th[i], NULL, scan4, &w[i]) == 0;
	scan4(&w[0]);
	for (i = 1; i < nt; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			scan4(&w[i]);	/* no thread: do it here */
	}
	L = -INFINITY;
	for (i = 0; i < nt; i++) {
		if (w[i].fail)
			goto out;
		for (j = 0; j < w[i].lcnt; j++)
			topk_push(lbs, lslot, &lcnt, k, w[i].lbs[j],
			    w[i].lslot[j]);
	}
	if (lcnt == k)
		L = lbs[k - 1];
	if (bits == 8) {
		L2 = L;
		goto exact;
	}
	/* (2) int8, same query codes */
	e8 = (0.5f * d->max_scale * ql1 + 0.5f * qs * d->max_l1) * 1.001f +
	    slack;
	lcnt = 0;
	for (i = 0; i < nt; i++) {
		for (j = m = 0; j < w[i].ncand; j++) {
			struct cand cd = w[i].cand[j];
			if (j + 8 < w[i].ncand) {	/* random reads: overlap */
				const int8_t *pc = d->codes +
				    (size_t)w[i].cand[j + 8].row * (size_t)d->cstride;
				__builtin_prefetch(pc);
				__builtin_prefetch(pc + d->cstride - 1);
				r = w[i].cand[j + 8].row;
				__builtin_prefetch(d->cscale + r);
			}
			if (cd.ub < L)
				continue;
			ix->idots(d->codes + (size_t)cd.row * (size_t)d->cstride,
			    1, d->cstride, qc, &i8);
			a = (float)i8 * (d->cscale[cd.row] * qs);
			if (a + e8 < cd.ub)
				cd.ub = a + e8;
			if (cd.ub < L)
				continue;
			w[i].cand[m++] = cd;
			a -= e8;
			if (lcnt < k || a > lbs[lcnt - 1])
				topk_push(lbs, lslot, &lcnt, k, a,
				    d->row_slot[cd.row]);
		}
		w[i].ncand = m;
	}
	L2 = lcnt == k && lbs[k - 1] > L ? lbs[k - 1] : L;
exact:
	/* (3) exact, in row order */
	for (i = 0; i < nt; i++)
		for (j = 0; j < w[i].ncand; j++) {
			if (w[i].cand[j].ub < L2)
				continue;
			r = w[i].cand[j].row;
			ix->dots(d->rows + r * (size_t)d->stride, 1, d->stride,
			    qb, &v);
			if (*cnt < k || v > hs[*cnt - 1])
				topk_push(hs, hslot, cnt, k, v, d->row_slot[r]);
		}
	rc = 0;
out:
	for (i = 0; i < nt; i++)
		free(w[i].cand);
	sodium_memzero(qc, (size_t)d->c4stride * 2);
	return rc;
}

int
match_identify(struct match_index *ix, const float *q, int dim, size_t k,
    struct match_hit *hits, size_t *n_hits, struct dt_error *err)
{
	return match_identify_as(ix, NULL, q, dim, k, hits, n_hits, err);
}

int
match_identify_as(struct match_index *ix, const char *model, const float *q,
    int dim, size_t k, struct match_hit *hits, size_t *n_hits,
    struct dt_error *err)
{
	_Alignas(ALIGN) float qb[MATCH_DIM_MAX];
	float hs[MATCH_K_MAX];
	uint32_t hslot[MATCH_K_MAX];
	size_t cnt = 0, r;
	const struct mdata *d;

	if (k == 0 || k > MATCH_K_MAX)
		return dt_error_set(err, DT_E_INVALID, "match: k = %zu (1..%d)",
		    k, MATCH_K_MAX);
	pthread_rwlock_rdlock(&ix->lock);
	if (check_query(ix, model, q, dim, qb, err) == -1) {
		pthread_rwlock_unlock(&ix->lock);
		return -1;
	}
	d = ix->d;
	if (ix->float_scan || identify_quant(ix, qb, k, hs, hslot, &cnt) == -1) {
		cnt = 0;
		identify_float(ix, qb, k, hs, hslot, &cnt);
	}
	for (r = 0; r < cnt; r++) {
		memcpy(hits[r].member, d->slots[hslot[r]].id, sizeof(hits[r].member));
		hits[r].score = hs[r];
	}
	pthread_rwlock_unlock(&ix->lock);
	sodium_memzero(qb, sizeof(qb));
	*n_hits = cnt;
	return 0;
}

int
match_verify(struct match_index *ix, const char *member, const float *q,
    int dim, float *score, struct dt_error *err)
{
	return match_verify_as(ix, NULL, member, q, dim, score, err);
}

int
match_verify_as(struct match_index *ix, const char *model,
    const char *member, const float *q, int dim, float *score,
    struct dt_error *err)
{
	_Alignas(ALIGN) float qb[MATCH_DIM_MAX];
	const struct mdata *d;
	const struct slot *sl;
	float best = -INFINITY, v;
	long slot;
	uint32_t i;

	pthread_rwlock_rdlock(&ix->lock);
	if (check_query(ix, model, q, dim, qb, err) == -1) {
		pthread_rwlock_unlock(&ix->lock);
		return -1;
	}
	d = ix->d;
	if ((slot = md_find_id(d, member)) < 0 || d->slots[slot].nrows == 0) {
		pthread_rwlock_unlock(&ix->lock);
		return dt_error_set(err, DT_E_NOTFOUND, "member %s has no "
		    "template for model %s", member, ix->model);
	}
	sl = &d->slots[slot];
	for (i = 0; i < sl->nrows; i++) {
		ix->dots(d->rows + (size_t)sl->rows[i] * (size_t)d->stride, 1,
		    d->stride, qb, &v);
		if (v > best)
			best = v;
	}
	pthread_rwlock_unlock(&ix->lock);
	sodium_memzero(qb, sizeof(qb));
	*score = best;
	return 0;
}

void
match_index_set_threads(struct match_index *ix, int n)
{
	pthread_rwlock_wrlock(&ix->lock);
	ix->threads = n < 0 ? 0 : n;
	pthread_rwlock_unlock(&ix->lock);
}

void
match_index_first_stage(struct match_index *ix, int bits)
{
	pthread_rwlock_wrlock(&ix->lock);
	ix->first_bits = bits == 4 || bits == 8 ? bits : 0;
	pthread_rwlock_unlock(&ix->lock);
}

void
match_index_float_scan(struct match_index *ix, int on)
{
	pthread_rwlock_wrlock(&ix->lock);
	ix->float_scan = on;
	pthread_rwlock_unlock(&ix->lock);
}

void
match_index_stats(struct match_index *ix, struct match_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_rwlock_rdlock(&ix->lock);
	snprintf(st->model, sizeof(st->model), "%s", ix->model);
	if (ix->d != NULL) {
		st->dim = ix->d->dim;
		st->members = ix->d->live;
		st->templates = ix->d->n;
		st->bytes = ix->d->cap * (size_t)ix->d->stride * sizeof(float);
	}
	st->full_reloads = ix->full_reloads;
	st->incremental_reloads = ix->incr_reloads;
	st->members_reloaded = ix->members_reloaded;
	st->kernel = ix->kernel;
	pthread_rwlock_unlock(&ix->lock);
}

float
match_rand_uniform(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return (float)((x >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
}

void
match_rand_unit(uint64_t *state, float *v, int dim)
{
	double n = 0;
	int i;

	for (i = 0; i < dim; i++) {
		v[i] = match_rand_uniform(state);
		n += (double)v[i] * v[i];
	}
	for (i = 0; i < dim; i++)
		v[i] = (float)(v[i] / sqrt(n));
}

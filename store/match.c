/* store/match.c — in-memory 1:N / 1:1 matching.  See match.h. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#include <sodium.h>
#include <sqlite3.h>

#include "store/match.h"
#include "store/store_int.h"

#define MATCH_DIM_MAX 1024
#define BLOCK_ROWS 512
#define ALIGN 64

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
	int cstride;
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

struct match_index {
	pthread_rwlock_t lock;		/* guards d, model, stats */
	pthread_mutex_t refresh;	/* one refresher at a time */
	struct mdata *d;
	char model[STORE_ID_MAX + 1];
	int64_t model_rid;		/* 0 = none */
	int64_t seq;
	int loaded;
	sqlite3 *last_db;
	int64_t last_dv;
	uint64_t last_gen;
	uint64_t full_reloads, incr_reloads, members_reloaded;
	dots_fn dots;
	idots_fn idots;
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

#ifdef HAVE_X86
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
	if (r < n)
		idots_portable(codes + r * (size_t)cstride, n - r, cstride, q,
		    out + r);
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
	ix->kernel = "portable";
#ifdef HAVE_X86
	if (!portable) {
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
			ix->dots = dots_avx2;
			ix->idots = idots_avx2;
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
	free(d->cscale);
	free(d->cl1);
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

static int
md_add_row(struct mdata *d, long slot, const float *emb)
{
	struct slot *sl = &d->slots[slot];
	float *row;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 1024;
		size_t bytes = cap * (size_t)d->stride * sizeof(float);
		float *v = aligned_alloc(ALIGN, bytes), *f1, *f2;
		int8_t *cv = aligned_alloc(ALIGN, cap * (size_t)d->cstride);
		uint32_t *rs;
		if (v == NULL || cv == NULL) {
			free(v);
			free(cv);
			return -1;
		}
		if ((rs = realloc(d->row_slot, cap * sizeof(*rs))) == NULL) {
			free(v);
			free(cv);
			return -1;
		}
		d->row_slot = rs;
		if ((f1 = realloc(d->cscale, cap * sizeof(*f1))) != NULL)
			d->cscale = f1;
		if ((f2 = realloc(d->cl1, cap * sizeof(*f2))) != NULL)
			d->cl1 = f2;
		if (f1 == NULL || f2 == NULL) {
			free(v);
			free(cv);
			return -1;
		}
		if (d->codes != NULL) {
			memcpy(cv, d->codes, d->n * (size_t)d->cstride);
			sodium_memzero(d->codes, d->cap * (size_t)d->cstride);
			free(d->codes);
		}
		d->codes = cv;
		if (d->rows != NULL) {
			memcpy(v, d->rows, d->n * (size_t)d->stride * sizeof(float));
			sodium_memzero(d->rows, d->cap * (size_t)d->stride *
			    sizeof(float));
			free(d->rows);
		}
		d->rows = v;
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
			d->row_slot[r] = d->row_slot[last];
			mv = &d->slots[d->row_slot[r]];
			for (j = 0; j < mv->nrows; j++)
				if (mv->rows[j] == last)
					mv->rows[j] = r;
		}
		sodium_memzero(d->rows + last * stride, stride * sizeof(float));
		sodium_memzero(d->codes + last * (size_t)d->cstride,
		    (size_t)d->cstride);
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
	pthread_mutex_init(&ix->refresh, NULL);
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
	pthread_mutex_destroy(&ix->refresh);
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

/* Reads the templates of model MODRID (all members, or only those changed
 * after SINCE when SINCE >= 0) into D. */
static int
load(struct store *s, int64_t modrid, const char *model, int64_t since,
    struct mdata *d, struct dt_error *err)
{
	sqlite3_stmt *st;
	char ad[192];
	uint8_t *plain;
	size_t len;
	int q, rc = 0;

	if (store_prepare(s, since < 0 ?
	    "SELECT t.member, m.id, t.id, t.dim, t.sealed FROM templates t "
	    "JOIN members m ON m.rid = t.member WHERE t.model = ?1 "
	    "ORDER BY t.member, t.id" :
	    "SELECT t.member, m.id, t.id, t.dim, t.sealed FROM templates t "
	    "JOIN members m ON m.rid = t.member WHERE t.model = ?1 AND "
	    "t.member IN (SELECT member FROM changes WHERE seq > ?2) "
	    "ORDER BY t.member, t.id", &st, err) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, modrid);
	if (since >= 0)
		sqlite3_bind_int64(st, 2, since);
	while ((q = sqlite3_step(st)) == SQLITE_ROW) {
		const char *member = (const char *)sqlite3_column_text(st, 1);
		store_template_ad(ad, sizeof(ad), member, model,
		    sqlite3_column_int64(st, 2));
		if (sqlite3_column_int(st, 3) != d->dim) {
			rc = dt_error_set(err, DT_E_FORMAT, "%s: dim %d, model "
			    "has %d", ad, sqlite3_column_int(st, 3), d->dim);
			break;
		}
		if (store_unseal(store_key(s), ad, sqlite3_column_blob(st, 4),
		    (size_t)sqlite3_column_bytes(st, 4), &plain, &len, err)) {
			rc = -1;
			break;
		}
		if (len != (size_t)d->dim * sizeof(float))
			rc = dt_error_set(err, DT_E_FORMAT, "%s: bad length", ad);
		else if (md_add(d, member, sqlite3_column_int64(st, 0),
		    (const float *)(void *)plain) == -1)
			rc = dt_error_set(err, DT_E_NOMEM, "%s: out of memory", ad);
		sodium_memzero(plain, len);
		free(plain);
		if (rc != 0)
			break;
	}
	if (rc == 0 && q != SQLITE_DONE)
		rc = store_sql_error(s, err, "match: loading templates");
	sqlite3_finalize(st);
	return rc;
}

static int
query_i64(struct store *s, const char *sql, int64_t *v, struct dt_error *err)
{
	sqlite3_stmt *st;
	int q;

	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	if ((q = sqlite3_step(st)) == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return q == SQLITE_ROW ? 0 : store_sql_error(s, err, sql);
}

int
match_index_refresh(struct match_index *ix, struct store *s, int *changed,
    struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	struct mdata *nd = NULL, *old = NULL;
	int64_t dv, seq = 0, modrid = 0, *rids = NULL;
	size_t nrids = 0, caprids = 0, i;
	char model[STORE_ID_MAX + 1] = "";
	int dim = 0, q, rc = -1, own_tx, did = 0;

	if (store_key(s) == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "match index: the store was "
		    "opened without its key");
	pthread_mutex_lock(&ix->refresh);
	if (query_i64(s, "PRAGMA data_version", &dv, err) == -1)
		goto out;
	if (ix->loaded && ix->last_db == s->db && ix->last_dv == dv &&
	    ix->last_gen == s->write_gen) {
		rc = 0;
		goto out;
	}
	own_tx = sqlite3_get_autocommit(s->db);
	if (own_tx && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		store_sql_error(s, err, "match: begin");
		goto out;
	}
	if (store_prepare(s, "SELECT rid, id, embedding_dim FROM models WHERE "
	    "active = 1", &st, err) == -1)
		goto tx;
	if ((q = sqlite3_step(st)) == SQLITE_ROW) {
		modrid = sqlite3_column_int64(st, 0);
		snprintf(model, sizeof(model), "%s", sqlite3_column_text(st, 1));
		dim = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (q != SQLITE_ROW && q != SQLITE_DONE) {
		store_sql_error(s, err, "match: active model");
		goto tx;
	}
	if (dim > MATCH_DIM_MAX) {
		dt_error_set(err, DT_E_UNSUPPORTED, "model %s: embedding_dim %d "
		    "above %d", model, dim, MATCH_DIM_MAX);
		goto tx;
	}
	if (query_i64(s, "SELECT coalesce(max(seq), 0) FROM changes", &seq,
	    err) == -1)
		goto tx;
	if (!ix->loaded || modrid != ix->model_rid) {
		/* full reload: a new generation, swapped in below */
		if (modrid != 0) {
			if ((nd = md_new(dim)) == NULL) {
				dt_error_set(err, DT_E_NOMEM, "match: out of memory");
				goto tx;
			}
			if (load(s, modrid, model, -1, nd, err) == -1)
				goto tx;
		}
		pthread_rwlock_wrlock(&ix->lock);
		old = ix->d;
		ix->d = nd;
		nd = NULL;
		snprintf(ix->model, sizeof(ix->model), "%s", model);
		ix->model_rid = modrid;
		ix->full_reloads++;
		pthread_rwlock_unlock(&ix->lock);
		did = 1;
	} else if (seq != ix->seq && modrid != 0) {
		if (store_prepare(s, "SELECT member FROM changes WHERE seq > ?",
		    &st, err) == -1)
			goto tx;
		sqlite3_bind_int64(st, 1, ix->seq);
		while ((q = sqlite3_step(st)) == SQLITE_ROW) {
			if (nrids == caprids) {
				size_t cap = caprids ? caprids * 2 : 64;
				void *v = realloc(rids, cap * sizeof(*rids));
				if (v == NULL) {
					dt_error_set(err, DT_E_NOMEM, "match: "
					    "out of memory");
					goto tx;
				}
				rids = v;
				caprids = cap;
			}
			rids[nrids++] = sqlite3_column_int64(st, 0);
		}
		if (q != SQLITE_DONE) {
			store_sql_error(s, err, "match: changes");
			goto tx;
		}
		if ((nd = md_new(dim)) == NULL) {
			dt_error_set(err, DT_E_NOMEM, "match: out of memory");
			goto tx;
		}
		if (load(s, modrid, model, ix->seq, nd, err) == -1)
			goto tx;
		pthread_rwlock_wrlock(&ix->lock);
		for (i = 0; i < nrids; i++) {
			long sl = md_find_rid(ix->d, rids[i]);
			if (sl >= 0)
				md_remove(ix->d, sl);
		}
		for (i = 0; i < nd->nslots; i++) {
			struct slot *ns = &nd->slots[i];
			uint32_t j;
			for (j = 0; j < ns->nrows; j++)
				if (md_add(ix->d, ns->id, ns->rid, nd->rows +
				    (size_t)ns->rows[j] * (size_t)nd->stride) == -1) {
					/* the index is now partial: reload fully */
					ix->loaded = 0;
					pthread_rwlock_unlock(&ix->lock);
					dt_error_set(err, DT_E_NOMEM,
					    "match: out of memory");
					goto tx;
				}
		}
		ix->incr_reloads++;
		ix->members_reloaded += nrids;
		pthread_rwlock_unlock(&ix->lock);
		did = 1;
	}
	ix->seq = seq;
	ix->loaded = 1;
	ix->last_db = s->db;
	ix->last_dv = dv;
	ix->last_gen = s->write_gen;
	rc = 0;
tx:
	sqlite3_finalize(st);
	if (own_tx)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&ix->refresh);
	md_free(nd);
	md_free(old);
	free(rids);
	if (rc == 0 && changed)
		*changed = did;
	return rc;
}

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
check_query(struct match_index *ix, const float *q, int dim, float *qb,
    struct dt_error *err)
{
	if (ix->d == NULL)
		return dt_error_set(err, DT_E_NOTFOUND, "no active model");
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
 * Two stages, exact result: (1) stream the int8 codes (a quarter of the
 * bytes) for approximate scores a_r, |a_r - dot_r| <= E (E from the
 * quantisation steps of rows and query); keep the approximate top-k members,
 * k-th score A, and every row with a_r >= A - 2E (A only grows, so this is a
 * superset).  (2) Any member of the true top-k has a row with
 * dot >= A - E, hence a_r >= A - 2E: rescoring the surviving candidates with
 * the float rows gives the exact top-k and exact scores.
 */
static int
identify_quant(struct match_index *ix, const float *qb, size_t k, float *hs,
    uint32_t *hslot, size_t *cnt)
{
	_Alignas(ALIGN) int8_t qc[MATCH_DIM_MAX];
	_Alignas(ALIGN) int32_t isc[BLOCK_ROWS];
	uint32_t cbuf[1024], *cand = cbuf, *nc;
	float ahs[MATCH_K_MAX], qmax = 0, qs, ql1 = 0, e2, thr, a, v;
	uint32_t ahslot[MATCH_K_MAX];
	const struct mdata *d = ix->d;
	size_t acnt = 0, ncand = 0, capcand = 1024, b, nb, r;
	long c;
	int i;

	for (i = 0; i < d->dim; i++) {
		if (fabsf(qb[i]) > qmax)
			qmax = fabsf(qb[i]);
		ql1 += fabsf(qb[i]);
	}
	qs = qmax > 0 ? qmax / 127.0f : 1.0f;
	memset(qc, 0, (size_t)d->cstride);
	for (i = 0; i < d->dim; i++) {
		c = lrintf(qb[i] / qs);
		qc[i] = (int8_t)(c > 127 ? 127 : c < -127 ? -127 : c);
	}
	/* |x.q - sx sq c.d| <= sx/2 |q|_1 + sq/2 sx |c|_1 (+ float rounding) */
	e2 = 2.0f * (0.5f * d->max_scale * ql1 + 0.5f * qs * d->max_l1) *
	    1.001f + 1e-5f;
	thr = -INFINITY;
	for (b = 0; b < d->n; b += nb) {
		nb = d->n - b < BLOCK_ROWS ? d->n - b : BLOCK_ROWS;
		ix->idots(d->codes + b * (size_t)d->cstride, nb, d->cstride, qc,
		    isc);
		for (r = 0; r < nb; r++) {
			a = (float)isc[r] * d->cscale[b + r] * qs;
			if (a < thr)
				continue;
			if (ncand == capcand) {
				capcand *= 2;
				if (cand == cbuf) {
					if ((nc = malloc(capcand * sizeof(*nc))))
						memcpy(nc, cbuf, sizeof(cbuf));
				} else
					nc = realloc(cand, capcand * sizeof(*nc));
				if (nc == NULL) {
					if (cand != cbuf)
						free(cand);
					return -1;
				}
				cand = nc;
			}
			cand[ncand++] = (uint32_t)(b + r);
			if (acnt < k || a > ahs[acnt - 1]) {
				topk_push(ahs, ahslot, &acnt, k, a,
				    d->row_slot[b + r]);
				if (acnt == k)
					thr = ahs[k - 1] - e2;
			}
		}
	}
	for (r = 0; r < ncand; r++) {
		ix->dots(d->rows + (size_t)cand[r] * (size_t)d->stride, 1,
		    d->stride, qb, &v);
		if (*cnt < k || v > hs[*cnt - 1])
			topk_push(hs, hslot, cnt, k, v, d->row_slot[cand[r]]);
	}
	if (cand != cbuf)
		free(cand);
	return 0;
}

int
match_identify(struct match_index *ix, const float *q, int dim, size_t k,
    struct match_hit *hits, size_t *n_hits, struct dt_error *err)
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
	if (check_query(ix, q, dim, qb, err) == -1) {
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
	_Alignas(ALIGN) float qb[MATCH_DIM_MAX];
	const struct mdata *d;
	const struct slot *sl;
	float best = -INFINITY, v;
	long slot;
	uint32_t i;

	pthread_rwlock_rdlock(&ix->lock);
	if (check_query(ix, q, dim, qb, err) == -1) {
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

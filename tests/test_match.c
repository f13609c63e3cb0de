/* tests/test_match.c — the matching engine against a brute-force reference. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tests/cmocka_all.h"

#include "store/match.h"

static uint64_t rng = 88172645463325252ULL;

static float
frand(void)
{
	return match_rand_uniform(&rng);
}

static void
randvec(float *v, int dim)
{
	match_rand_unit(&rng, v, dim);
}

struct ref {
	int dim, n;
	float *t;	/* n x dim */
	int *member;
};

static int clustered;
static int spiky;	/* some templates with one large coordinate */
static int nthreads;	/* match_index_set_threads */
static float qscale = 1;	/* queries not normalised */
static int first_bits;		/* match_index_first_stage */

static struct match_index *
build(struct ref *r, int members, int dim)
{
	struct match_index *ix;
	struct dt_error err;
	char id[32];
	int m, j, k = 0;

	r->dim = dim;
	r->t = malloc((size_t)members * 3 * (size_t)dim * sizeof(float));
	r->member = malloc((size_t)members * 3 * sizeof(int));
	assert_int_equal(match_index_create(&ix, &err), 0);
	for (m = 0; m < members; m++) {
		snprintf(id, sizeof(id), "member-%d", m);
		for (j = 0; j <= m % 3; j++, k++) {
			randvec(r->t + (size_t)k * dim, dim);
			if (clustered) {
				/* everyone close to everyone: many candidates */
				float *v = r->t + (size_t)k * dim;
				double nn = 0;
				int d;
				for (d = 0; d < dim; d++) {
					v[d] = 0.02f * v[d] + (d == 0);
					nn += (double)v[d] * v[d];
				}
				for (d = 0; d < dim; d++)
					v[d] = (float)(v[d] / sqrt(nn));
			}
			if (spiky && k % 7 == 0) {
				/* one coordinate dominates: a coarse 4-bit
				 * scale for this row, a loose bound */
				float *v = r->t + (size_t)k * dim;
				double nn = 0;
				int d;
				v[k % dim] += 3.0f;
				for (d = 0; d < dim; d++)
					nn += (double)v[d] * v[d];
				for (d = 0; d < dim; d++)
					v[d] = (float)(v[d] / sqrt(nn));
			}
			r->member[k] = m;
			assert_int_equal(match_index_add(ix, id, m + 1,
			    r->t + (size_t)k * dim, dim, &err), 0);
		}
	}
	r->n = k;
	return ix;
}

static void
ref_free(struct ref *r)
{
	free(r->t);
	free(r->member);
}

/* best score per member, brute force in double */
static void
ref_topk(const struct ref *r, const float *q, int members, size_t k,
    int *best, double *bscore)
{
	double *per = malloc((size_t)members * sizeof(double));
	size_t i, j;
	int m, t, d;

	for (m = 0; m < members; m++)
		per[m] = -INFINITY;
	for (t = 0; t < r->n; t++) {
		double s = 0;
		for (d = 0; d < r->dim; d++)
			s += (double)r->t[(size_t)t * r->dim + d] * q[d];
		if (s > per[r->member[t]])
			per[r->member[t]] = s;
	}
	for (i = 0; i < k; i++) {
		best[i] = -1;
		for (m = 0; m < members; m++) {
			int taken = 0;
			for (j = 0; j < i; j++)
				taken |= best[j] == m;
			if (!taken && (best[i] < 0 || per[m] > per[best[i]]))
				best[i] = m;
		}
		bscore[i] = per[best[i]];
	}
	free(per);
}

static void
check_against_ref(int members, int dim, int portable, int float_scan)
{
	struct match_index *ix;
	struct match_hit hits[8], fh[8];
	struct dt_error err;
	struct match_stats st;
	struct ref r;
	float q[256];
	int best[8], trial, i;
	double bs[8];
	size_t nh, fnh;
	char id[32];

	ix = build(&r, members, dim);
	match_index_set_threads(ix, nthreads);
	match_index_first_stage(ix, first_bits);
	match_index_force_portable(ix, portable);
	match_index_float_scan(ix, float_scan);
	match_index_stats(ix, &st);
	assert_int_equal(st.members, (size_t)members);
	assert_int_equal(st.templates, (size_t)r.n);
	assert_int_equal(st.dim, dim);
	for (trial = 0; trial < 20; trial++) {
		if (trial % 2 == 0) {
			/* near a stored template */
			int t = (int)((rng >> 20) % (uint64_t)r.n);
			for (i = 0; i < dim; i++)
				q[i] = r.t[(size_t)t * dim + i] + 0.05f * frand();
		} else
			randvec(q, dim);
		for (i = 0; i < dim; i++)
			q[i] *= qscale;
		ref_topk(&r, q, members, 5, best, bs);
		assert_int_equal(match_identify(ix, q, dim, 5, hits, &nh, &err), 0);
		assert_int_equal(nh, 5);
		if (!float_scan) {
			/* bit for bit what the float scan gives */
			match_index_float_scan(ix, 1);
			assert_int_equal(match_identify(ix, q, dim, 5, fh, &fnh,
			    &err), 0);
			match_index_float_scan(ix, 0);
			assert_int_equal(fnh, nh);
			for (i = 0; i < 5; i++) {
				assert_string_equal(hits[i].member, fh[i].member);
				assert_true(hits[i].score == fh[i].score);
			}
		}
		for (i = 0; i < 5; i++) {
			snprintf(id, sizeof(id), "member-%d", best[i]);
			assert_true(fabs(hits[i].score - bs[i]) <
			    1e-4 * (qscale > 1 ? qscale : 1));
			if (i == 0 || bs[i] - bs[i - 1] < -1e-4)
				assert_string_equal(hits[i].member, id);
		}
		/* 1:1 = max over the member's templates */
		{
			float sc;
			assert_int_equal(match_verify(ix, hits[2].member, q, dim,
			    &sc, &err), 0);
			assert_true(fabs(sc - hits[2].score) <
			    1e-5 * (qscale > 1 ? qscale : 1));
		}
	}
	match_index_free(ix);
	ref_free(&r);
}

static void
test_identify_avx2(void **state)
{
	check_against_ref(3000, 128, 0, 0);
	check_against_ref(3000, 128, 0, 1);
}

static void
test_identify_clustered(void **state)
{
	clustered = 1;
	check_against_ref(3000, 128, 0, 0);
	check_against_ref(500, 128, 1, 0);
	clustered = 0;
}

static void
test_identify_portable(void **state)
{
	check_against_ref(1000, 128, 1, 0);
	check_against_ref(1000, 128, 1, 1);
}

static void
test_odd_dim(void **state)
{
	check_against_ref(500, 100, 0, 0);
	check_against_ref(37, 7, 1, 0);
}

/* dims whose 4-bit rows are 32, 64 or 96 bytes: the kernels' tails */
static void
test_dims_avx2(void **state)
{
	check_against_ref(300, 7, 0, 0);
	check_against_ref(300, 33, 0, 0);
	check_against_ref(300, 160, 0, 0);
	check_against_ref(300, 200, 1, 0);
}

/* rows with a coarse scale, and queries far from unit length */
static void
test_spiky_scaled(void **state)
{
	spiky = 1;
	check_against_ref(2000, 128, 0, 0);
	check_against_ref(500, 128, 1, 0);
	qscale = 37;
	check_against_ref(1000, 64, 0, 0);
	qscale = 0.01f;
	check_against_ref(1000, 64, 0, 0);
	qscale = 1;
	spiky = 0;
}

/* >= 256 k rows: the first stage split over threads (2 and an uneven 3),
 * and the same index on one thread */
static void
test_parallel(void **state)
{
	nthreads = 2;
	check_against_ref(140000, 16, 0, 0);
	nthreads = 3;
	clustered = 1;
	check_against_ref(140000, 16, 0, 0);
	clustered = 0;
	nthreads = 1;
	check_against_ref(140000, 16, 1, 0);
	nthreads = 0;
}

/* the small cases again with the 4-bit first stage (by size they take the
 * int8 one) */
static void
test_first_stage_4bit(void **state)
{
	first_bits = 4;
	test_identify_avx2(state);
	test_identify_portable(state);
	test_identify_clustered(state);
	test_odd_dim(state);
	test_dims_avx2(state);
	test_spiky_scaled(state);
	first_bits = 8;
	check_against_ref(2000, 128, 0, 0);
	check_against_ref(300, 7, 0, 0);
	first_bits = 0;
}

static void
test_errors(void **state)
{
	struct match_index *ix;
	struct match_hit hits[MATCH_K_MAX];
	struct dt_error err;
	float q[16] = { 1 }, sc;
	size_t nh;

	assert_int_equal(match_index_create(&ix, &err), 0);
	assert_int_equal(match_identify(ix, q, 16, 1, hits, &nh, &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	assert_int_equal(match_index_add(ix, "a", 1, q, 16, &err), 0);
	assert_int_equal(match_index_add(ix, "b", 2, q, 8, &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_equal(match_identify(ix, q, 8, 1, hits, &nh, &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_equal(match_identify(ix, q, 16, 0, hits, &nh, &err), -1);
	assert_int_equal(match_identify(ix, q, 16, MATCH_K_MAX + 1, hits, &nh,
	    &err), -1);
	/* fewer members than k */
	assert_int_equal(match_identify(ix, q, 16, 10, hits, &nh, &err), 0);
	assert_int_equal(nh, 1);
	assert_string_equal(hits[0].member, "a");
	assert_int_equal(match_verify(ix, "zz", q, 16, &sc, &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	match_index_free(ix);
}

struct thr {
	struct match_index *ix;
	int fails;
};

static void *
reader(void *arg)
{
	struct thr *t = arg;
	struct match_hit hits[3];
	struct dt_error err;
	float q[64];
	size_t nh;
	int i, j;

	for (i = 0; i < 300; i++) {
		for (j = 0; j < 64; j++)
			q[j] = (float)((i + j) % 7) / 7.0f;
		if (match_identify(t->ix, q, 64, 3, hits, &nh, &err) != 0)
			t->fails++;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct match_index *ix;
	struct dt_error err;
	struct thr t[4];
	pthread_t th[4];
	float v[64];
	char id[32];
	int i;

	assert_int_equal(match_index_create(&ix, &err), 0);
	randvec(v, 64);
	assert_int_equal(match_index_add(ix, "seed", 0, v, 64, &err), 0);
	for (i = 0; i < 4; i++) {
		t[i].ix = ix;
		t[i].fails = 0;
		pthread_create(&th[i], NULL, reader, &t[i]);
	}
	for (i = 1; i < 3000; i++) {
		snprintf(id, sizeof(id), "w%d", i);
		randvec(v, 64);
		assert_int_equal(match_index_add(ix, id, i, v, 64, &err), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].fails, 0);
	}
	match_index_free(ix);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify_avx2),
		cmocka_unit_test(test_identify_portable),
		cmocka_unit_test(test_identify_clustered),
		cmocka_unit_test(test_odd_dim),
		cmocka_unit_test(test_dims_avx2),
		cmocka_unit_test(test_spiky_scaled),
		cmocka_unit_test(test_parallel),
		cmocka_unit_test(test_first_stage_4bit),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_threads),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* util/rng.c — see rng.h. */
#include "config.h"

#include <math.h>

#include "util/rng.h"

void
dt_rng_seed(struct dt_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t
dt_rng_next(struct dt_rng *r)
{
	uint64_t z;

	z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

double
dt_rng_uniform(struct dt_rng *r)
{
	return (double)(dt_rng_next(r) >> 11) * 0x1.0p-53;
}

float
dt_rng_uniformf(struct dt_rng *r, float lo, float hi)
{
	double u = dt_rng_uniform(r);

	return (float)(lo + (hi - lo) * u);
}

double
dt_rng_normal(struct dt_rng *r)
{
	double u1, u2;

	/* log(0) is -inf: draw u1 again (one draw in 2^53) */
	do
		u1 = dt_rng_uniform(r);
	while (u1 <= 0.0);
	u2 = dt_rng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void
dt_rng_shuffle(size_t *idx, size_t n, struct dt_rng *r)
{
	size_t i, j, t;

	for (i = n; i > 1; i--) {
		j = (size_t)(dt_rng_next(r) % i);
		t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

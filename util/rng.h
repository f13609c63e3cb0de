/*
 * util/rng.h — the one seeded generator (splitmix64) of weight
 * initialisation, dropout, shuffling and augmentation.  Deterministic for
 * a seed on every platform; not for anything secret (libsodium is).
 */
#ifndef DT_UTIL_RNG_H
#define DT_UTIL_RNG_H

#include <stddef.h>
#include <stdint.h>

struct dt_rng {
	uint64_t s;
};

void dt_rng_seed(struct dt_rng *r, uint64_t seed);
uint64_t dt_rng_next(struct dt_rng *r);
/* Uniform in [0, 1), 53 bits. */
double dt_rng_uniform(struct dt_rng *r);
/* Uniform in [LO, HI), as a float. */
float dt_rng_uniformf(struct dt_rng *r, float lo, float hi);
/* Standard normal (Box-Muller). */
double dt_rng_normal(struct dt_rng *r);
/* Fisher-Yates shuffle of IDX[0..N). */
void dt_rng_shuffle(size_t *idx, size_t n, struct dt_rng *r);

#endif /* DT_UTIL_RNG_H */

/* tests/support.c — the network helpers of tests/support.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "nn/model.h"
#include "tests/support.h"
#include "util/rng.h"

void
tt_tiny_hp(struct nn_hparams *hp, int window, int act_hidden)
{
	nn_hparams_default(hp);
	hp->window = window;
	hp->stem_channels = 8;
	hp->stem_kernel = 5;
	hp->n_stages = 2;
	hp->stage_channels[0] = 8;
	hp->stage_channels[1] = 16;
	hp->kernel = 3;
	hp->sca_reduction = 4;
	hp->seq_kernel = 3;
	hp->embedding_dim = 8;
	hp->act_hidden = act_hidden;
}

float *
tt_random_windows(int n, int w, uint64_t seed)
{
	struct dt_rng r;
	float *x = malloc(sizeof(float) * (size_t)n * (size_t)w);
	int i;

	if (x == NULL) {
		fprintf(stderr, "tt_random_windows: out of memory\n");
		abort();
	}
	dt_rng_seed(&r, seed);
	for (i = 0; i < n * w; i++)
		x[i] = (float)dt_rng_normal(&r);
	return x;
}

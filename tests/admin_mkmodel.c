/*
 * tests/admin_mkmodel.c — writes a small random DT4ECG model for the admin
 * tool's tests: admin_mkmodel FILE SEED.  (Not installed.)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "nn/model.h"

int
main(int argc, char **argv)
{
	static const char *const acts[] = { "rest", "walk", "run" };
	struct dt_error err = { 0 };
	struct nn_hparams hp;
	struct nn_model *m = NULL;

	if (argc != 3) {
		fprintf(stderr, "usage: admin_mkmodel FILE SEED\n");
		return 2;
	}
	nn_hparams_default(&hp);
	/* small and quick: the tests check plumbing, not accuracy */
	hp.stem_channels = 16;
	hp.n_stages = 2;
	hp.stage_channels[0] = 16;
	hp.stage_channels[1] = 32;
	hp.embedding_dim = 32;
	hp.act_hidden = 16;
	if (nn_model_create(&hp, 8, 3, acts, strtoull(argv[2], NULL, 10), &m,
	    &err) != 0 || nn_model_save(m, argv[1], &err) != 0) {
		fprintf(stderr, "admin_mkmodel: %s\n", err.msg);
		nn_model_free(m);
		return 1;
	}
	nn_model_free(m);
	return 0;
}

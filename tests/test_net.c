/*
 * tests/test_net.c — the oneDNN network (nn/net.c) agrees with the plain-C
 * reference (nn/ref.c) to 1e-4, max abs, on random weights for several
 * hyperparameter sets: widths, kernels, window lengths (odd ones too) and stage
 * counts.  BN statistics are randomised so that folding BN into the
 * convolutions is really exercised.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cmocka_all.h"

#include "nn/model.h"
#include "nn/net.h"
#include "nn/ref.h"
#include "tests/support.h"

#define TOL 1e-4

static const char *const acts3[] = { "rest", "walk", "run" };
static const char *const acts5[] = { "rest", "arms", "walk", "run", "squat" };
static const char *const acts1[] = { "unlabelled" };

/* Random BN statistics and affine parameters, nonzero biases. */
static void
randomise_bn(struct nn_model *m, uint64_t seed)
{
	struct dt_rng r;
	size_t i, j;

	dt_rng_seed(&r, seed);
	for (i = 0; i < m->n_tensors; i++) {
		struct nn_tensor *t = &m->tensors[i];
		const char *n = t->name;
		size_t len = strlen(n);

#define ENDS(s) (len >= strlen(s) && strcmp(n + len - strlen(s), s) == 0)
		for (j = 0; j < t->numel; j++) {
			if (ENDS("running_mean"))
				t->data[j] = 0.2f * (float)dt_rng_normal(&r);
			else if (ENDS("running_var"))
				t->data[j] = dt_rng_uniformf(&r, 0.3f, 2.0f);
			else if (strstr(n, "bn") && ENDS(".weight"))
				t->data[j] = dt_rng_uniformf(&r, 0.5f, 1.5f);
			else if (ENDS(".bias"))
				t->data[j] = 0.1f * (float)dt_rng_normal(&r);
		}
#undef ENDS
	}
}

/* Runs both paths on n windows through a network built for `batch`. */
static void
compare(const struct nn_hparams *hp, int n_act, const char *const *acts,
    int n, int batch, uint64_t seed)
{
	struct dt_error err = { 0 };
	struct nn_model *m = NULL;
	struct nn_net *net = NULL;
	const int E = hp->embedding_dim;
	float *x, *e1, *e2, *a1, *a2;
	double de = 0, da = 0, norm;
	int i, j, done;

	assert_int_equal(nn_model_create(hp, 7, n_act, acts, seed, &m, &err), 0);
	randomise_bn(m, seed + 1);
	x = tt_random_windows(n, hp->window, seed + 2);
	e1 = calloc((size_t)n * E, sizeof(float));
	e2 = calloc((size_t)n * E, sizeof(float));
	a1 = calloc((size_t)n * n_act, sizeof(float));
	a2 = calloc((size_t)n * n_act, sizeof(float));
	assert_true(e1 && e2 && a1 && a2);

	assert_int_equal(nn_ref_forward(m, x, n, e1, a1, &err), 0);
	if (nn_net_create(m, batch, &net, &err) != 0)
		fail_msg("nn_net_create: %s", err.msg);
	for (done = 0; done < n; done += batch) {
		int k = n - done < batch ? n - done : batch;

		if (nn_net_run(net, x + (size_t)done * hp->window, k,
		    e2 + (size_t)done * E, a2 + (size_t)done * n_act, &err) != 0)
			fail_msg("nn_net_run: %s", err.msg);
	}
	for (i = 0; i < n; i++) {
		norm = 0;
		for (j = 0; j < E; j++) {
			double d = fabs((double)e1[i * E + j] - e2[i * E + j]);

			de = d > de ? d : de;
			norm += (double)e2[i * E + j] * e2[i * E + j];
		}
		assert_true(fabs(norm - 1.0) < 1e-5);
		for (j = 0; j < n_act; j++) {
			double d = fabs((double)a1[i * n_act + j] -
			    a2[i * n_act + j]);

			da = d > da ? d : da;
		}
	}
	print_message("window %d stages %d: max |d| embedding %.3g, "
	    "activity %.3g\n", hp->window, hp->n_stages, de, da);
	assert_true(de <= TOL);
	assert_true(da <= TOL);

	nn_net_free(net);
	nn_model_free(m);
	free(x);
	free(e1);
	free(e2);
	free(a1);
	free(a2);
}

/* The default network of DESIGN.md section 2, in batches of 3 (the last one
 * partial, so the padding path runs). */
static void
default_network_matches_reference(void **state)
{
	struct nn_hparams hp;

	(void)state;
	nn_hparams_default(&hp);
	compare(&hp, 5, acts5, 4, 3, 11);
}

/* A batch of 20 runs at f32 in chunks (8, 8, 4; nn/net.c): 19 windows, so
 * the last chunk is short as well. */
static void
default_network_in_chunks_matches_reference(void **state)
{
	struct nn_hparams hp;

	(void)state;
	nn_hparams_default(&hp);
	compare(&hp, 5, acts5, 19, 20, 71);
}

/* Narrow and short: two stages, window 256, small kernels, batch 1. */
static void
two_stages_w256_matches_reference(void **state)
{
	struct nn_hparams hp;

	(void)state;
	nn_hparams_default(&hp);
	hp.window = 256;
	hp.stem_channels = 16;
	hp.stem_kernel = 9;
	hp.n_stages = 2;
	hp.stage_channels[0] = 16;
	hp.stage_channels[1] = 32;
	hp.kernel = 5;
	hp.sca_reduction = 4;
	hp.seq_kernel = 3;
	hp.embedding_dim = 32;
	hp.act_hidden = 16;
	compare(&hp, 3, acts3, 3, 1, 21);
}

/* Four stages on an odd window: lengths 777 -> 388 -> 194 -> 97 -> 49 -> 25. */
static void
four_stages_odd_w777_matches_reference(void **state)
{
	struct nn_hparams hp;

	(void)state;
	nn_hparams_default(&hp);
	hp.window = 777;
	hp.stem_channels = 24;
	hp.stem_kernel = 13;
	hp.n_stages = 4;
	hp.stage_channels[0] = 40;
	hp.stage_channels[1] = 40;
	hp.stage_channels[2] = 80;
	hp.stage_channels[3] = 160;
	hp.kernel = 9;
	hp.sca_reduction = 5;
	hp.seq_kernel = 9;
	hp.embedding_dim = 96;
	hp.act_hidden = 48;
	compare(&hp, 5, acts5, 4, 4, 31);
}

/* One wide stage, long window, kernel 3, one activity (softmax of one = 1). */
static void
one_stage_w1000_matches_reference(void **state)
{
	struct nn_hparams hp;

	(void)state;
	nn_hparams_default(&hp);
	hp.window = 1000;
	hp.stem_channels = 8;
	hp.stem_kernel = 7;
	hp.n_stages = 1;
	hp.stage_channels[0] = 48;
	hp.kernel = 3;
	hp.sca_reduction = 4;
	hp.seq_kernel = 5;
	hp.embedding_dim = 16;
	hp.act_hidden = 8;
	compare(&hp, 1, acts1, 2, 2, 41);
}

/*
 * The int8 path (NN_PREC_INT8) beside f32 on the same random model:
 * calibrated with nn_net_calibrate on windows other than those compared,
 * every embedding within cosine 0.99 of f32's and the activity
 * probabilities within 0.05, through a batch that ends in a partial chunk.
 */
static void
int8_matches_f32(const struct nn_hparams *hp, int n_act,
    const char *const *acts, uint64_t seed)
{
	struct dt_error err = { 0 };
	struct nn_model *m = NULL;
	struct nn_net *net = NULL;
	const int E = hp->embedding_dim, n = 7, nc = 16;
	float amax[2 * NN_MAX_STAGES] = { 0 }, *xc, *x, *e1, *e2, *a1, *a2;
	char meta[256] = "";
	int i, j;

	assert_int_equal(nn_model_create(hp, 7, n_act, acts, seed, &m, &err), 0);
	randomise_bn(m, seed + 1);
	xc = tt_random_windows(nc, hp->window, seed + 2);
	x = tt_random_windows(n, hp->window, seed + 3);
	e1 = calloc((size_t)n * E, sizeof(float));
	e2 = calloc((size_t)n * E, sizeof(float));
	a1 = calloc((size_t)n * n_act, sizeof(float));
	a2 = calloc((size_t)n * n_act, sizeof(float));
	assert_true(e1 && e2 && a1 && a2);

	/* calibrate on an f32 network, then run the same windows at f32 */
	assert_int_equal(nn_net_create_prec(m, 8, NN_PREC_F32, &net, &err), 0);
	assert_int_equal(nn_net_calibrate(net, amax, &err), 0);
	for (i = 0; i < nc; i += 8)
		assert_int_equal(nn_net_run(net, xc + (size_t)i * hp->window,
		    8, NULL, NULL, &err), 0);
	for (j = 0; j < 2 * hp->n_stages; j++) {
		assert_true(amax[j] > 0.0f);
		snprintf(meta + strlen(meta), sizeof(meta) - strlen(meta),
		    "%s%.6g", j ? "," : "", (double)amax[j]);
	}
	assert_int_equal(nn_net_calibrate(net, NULL, &err), 0);
	assert_int_equal(nn_net_run(net, x, n, e1, a1, &err), 0);
	nn_net_free(net);
	net = NULL;

	assert_int_equal(nn_model_set_meta(m, NN_INT8_META_KEY, meta, &err), 0);
	if (nn_net_create_prec(m, n, NN_PREC_INT8, &net, &err) != 0)
		fail_msg("int8 network: %s", err.msg);
	assert_int_equal(nn_net_run(net, x, n, e2, a2, &err), 0);
	for (i = 0; i < n; i++) {
		double c = 0;

		for (j = 0; j < E; j++)
			c += (double)e1[i * E + j] * e2[i * E + j];
		if (c < 0.99)
			fail_msg("window %d: cosine int8/f32 %.4f", i, c);
		for (j = 0; j < n_act; j++)
			assert_true(fabs(a1[i * n_act + j] - a2[i * n_act + j]) <
			    0.05);
	}
	/* the int8 network refuses to calibrate */
	assert_int_equal(nn_net_calibrate(net, amax, &err), -1);
	nn_net_free(net);
	nn_model_free(m);
	free(xc);
	free(x);
	free(e1);
	free(e2);
	free(a1);
	free(a2);
}

static void
int8_default_network_matches_f32(void **state)
{
	struct nn_hparams hp;

	(void)state;
	nn_hparams_default(&hp);
	int8_matches_f32(&hp, 5, acts5, 51);
}

/* Odd lengths at every stage, channel counts not multiples of 16. */
static void
int8_four_stages_odd_w777_matches_f32(void **state)
{
	struct nn_hparams hp;

	(void)state;
	nn_hparams_default(&hp);
	hp.window = 777;
	hp.stem_channels = 24;
	hp.stem_kernel = 13;
	hp.n_stages = 4;
	hp.stage_channels[0] = 40;
	hp.stage_channels[1] = 40;
	hp.stage_channels[2] = 80;
	hp.stage_channels[3] = 160;
	hp.kernel = 9;
	hp.sca_reduction = 5;
	hp.seq_kernel = 9;
	hp.embedding_dim = 96;
	hp.act_hidden = 48;
	int8_matches_f32(&hp, 5, acts5, 61);
}

/* int8 without a calibration, or with a bad one, is refused by name. */
static void
int8_needs_calibration(void **state)
{
	static const char *const bad[] = { "1,2,3,4,5", "1,2,3,4,5,6,7",
		"1,2,3,4,5,nan", "1,2,3,4,5,0", "1,2,3,4,5,-6", "1;2;3;4;5;6",
		"1,2,3,4,5,6x", "" };
	struct dt_error err = { 0 };
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct nn_net *net = NULL;
	enum nn_precision p;
	size_t i;

	(void)state;
	nn_hparams_default(&hp);
	assert_int_equal(nn_model_create(&hp, 2, 5, acts5, 1, &m, &err), 0);
	assert_int_equal(nn_net_create_prec(m, 2, NN_PREC_INT8, &net, &err),
	    -1);
	assert_null(net);
	assert_non_null(strstr(err.msg, "calibration"));
	/* the process-wide int8 (the daemon's key) builds it at f32 */
	nn_set_precision(NN_PREC_INT8);
	assert_int_equal(nn_model_precision(m), NN_PREC_F32);
	assert_int_equal(nn_net_create(m, 2, &net, &err), 0);
	nn_net_free(net);
	net = NULL;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(nn_model_set_meta(m, NN_INT8_META_KEY, bad[i],
		    &err), 0);
		assert_int_equal(nn_net_create_prec(m, 2, NN_PREC_INT8, &net,
		    &err), -1);
		assert_non_null(strstr(err.msg, NN_INT8_META_KEY));
	}
	assert_int_equal(nn_model_set_meta(m, NN_INT8_META_KEY,
	    "1,2,3,4.5,5e-1,6", &err), 0);
	assert_int_equal(nn_net_create_prec(m, 2, NN_PREC_INT8, &net, &err), 0);
	nn_net_free(net);
	assert_int_equal(nn_model_precision(m), NN_PREC_INT8);
	nn_set_precision(NN_PREC_F32);
	assert_int_equal(nn_model_precision(m), NN_PREC_F32);
	nn_model_free(m);
	assert_int_equal(nn_precision_parse("int8", &p, &err), 0);
	assert_int_equal(p, NN_PREC_INT8);
	assert_string_equal(nn_precision_name(p), "int8");
	assert_int_equal(nn_precision_parse("f32", &p, &err), 0);
	assert_int_equal(p, NN_PREC_F32);
	assert_int_equal(nn_precision_parse("fp16", &p, &err), -1);
}

/* Bad arguments are refused with a message, not a crash. */
static void
bad_arguments_are_refused(void **state)
{
	struct dt_error err = { 0 };
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct nn_net *net = NULL;
	float x[256] = { 0 };

	(void)state;
	nn_hparams_default(&hp);
	hp.window = 256;
	hp.n_stages = 1;
	hp.stage_channels[0] = 16;
	hp.stem_channels = 8;
	assert_int_equal(nn_model_create(&hp, 2, 1, acts1, 1, &m, &err), 0);
	assert_int_equal(nn_net_create(m, 0, &net, &err), -1);
	assert_non_null(strstr(err.msg, "batch"));
	assert_int_equal(nn_net_create(m, 2, &net, &err), 0);
	assert_int_equal(nn_net_run(net, x, 3, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "batch"));
	assert_int_equal(nn_net_run(net, x, 1, NULL, NULL, &err), 0);
	nn_net_free(net);
	nn_model_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_network_matches_reference),
		cmocka_unit_test(default_network_in_chunks_matches_reference),
		cmocka_unit_test(two_stages_w256_matches_reference),
		cmocka_unit_test(four_stages_odd_w777_matches_reference),
		cmocka_unit_test(one_stage_w1000_matches_reference),
		cmocka_unit_test(bad_arguments_are_refused),
		cmocka_unit_test(int8_default_network_matches_f32),
		cmocka_unit_test(int8_four_stages_odd_w777_matches_f32),
		cmocka_unit_test(int8_needs_calibration),
	};

	return cmocka_run_group_tests_name("nn_net", tests, NULL, NULL);
}

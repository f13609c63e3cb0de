/*
 * tests/test_ref.c — nn/ref.c, the plain-C reference forward pass.
 *
 * Sanity checks only: its numerical agreement with PyTorch is measured by
 * ../shared/peer/parity.py, and tests/test_net.c checks oneDNN against it.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cmocka_all.h"

#include "nn/model.h"
#include "nn/ref.h"
#include "tests/support.h"

static const char *const ACTS[] = { "rest", "walk", "run" };

static struct nn_model *
model(int window, int n_stages, uint64_t seed)
{
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct dt_error err;

	nn_hparams_default(&hp);
	hp.window = window;
	hp.stem_channels = 8;
	hp.stem_kernel = 7;
	hp.n_stages = n_stages;
	hp.stage_channels[0] = 8;
	hp.stage_channels[1] = 16;
	hp.stage_channels[2] = 24;
	hp.kernel = 5;
	hp.sca_reduction = 4;
	hp.seq_kernel = 3;
	hp.embedding_dim = 12;
	hp.act_hidden = 6;
	if (nn_model_create(&hp, 4, 3, ACTS, seed, &m, &err) != 0)
		fail_msg("%s", err.msg);
	return m;
}

static void
check_outputs(const struct nn_model *m, const float *emb, const float *act,
    int n)
{
	int i, j, e = m->hp.embedding_dim, a = m->n_activities;

	for (i = 0; i < n; i++) {
		double nrm = 0, sum = 0;

		for (j = 0; j < e; j++) {
			assert_true(isfinite(emb[i * e + j]));
			nrm += (double)emb[i * e + j] * emb[i * e + j];
		}
		assert_true(fabs(sqrt(nrm) - 1.0) < 1e-5);
		for (j = 0; j < a; j++) {
			assert_true(act[i * a + j] >= 0 &&
			    act[i * a + j] <= 1);
			sum += act[i * a + j];
		}
		assert_true(fabs(sum - 1.0) < 1e-5);
	}
}

static void
test_norm_and_softmax(void **state)
{
	struct nn_model *m = model(128, 3, 1);
	float *x = tt_random_windows(3, 128, 2), emb[3 * 12], act[3 * 3];
	struct dt_error err;

	(void)state;
	if (nn_ref_forward(m, x, 3, emb, act, &err) != 0)
		fail_msg("%s", err.msg);
	check_outputs(m, emb, act, 3);
	/* different windows, different embeddings */
	assert_memory_not_equal(emb, emb + 12, 12 * sizeof(float));
	free(x);
	nn_model_free(m);
}

static void
test_odd_window(void **state)
{
	static const int lens[] = { 77, 129, 33, 45 };
	float emb[2 * 12], act[2 * 3];
	struct dt_error err;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		struct nn_model *m = model(lens[k], 2 + (int)(k % 2), k);
		float *x = tt_random_windows(2, lens[k], 10 + k);

		if (nn_ref_forward(m, x, 2, emb, act, &err) != 0)
			fail_msg("window %d: %s", lens[k], err.msg);
		check_outputs(m, emb, act, 2);
		free(x);
		nn_model_free(m);
	}
}

static void
test_batch_equals_single(void **state)
{
	struct nn_model *m = model(100, 3, 5);
	float *x = tt_random_windows(4, 100, 6);
	float emb[4 * 12], act[4 * 3], e1[12], a1[3];
	struct dt_error err;
	int i;

	(void)state;
	assert_int_equal(nn_ref_forward(m, x, 4, emb, act, &err), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(nn_ref_forward(m, x + i * 100, 1, e1, a1,
		    &err), 0);
		assert_memory_equal(e1, emb + i * 12, sizeof(e1));
		assert_memory_equal(a1, act + i * 3, sizeof(a1));
	}
	/* either output may be NULL */
	assert_int_equal(nn_ref_forward(m, x, 4, NULL, act, &err), 0);
	assert_int_equal(nn_ref_forward(m, x, 4, emb, NULL, &err), 0);
	assert_memory_equal(e1, emb + 3 * 12, sizeof(e1));
	assert_int_equal(nn_ref_forward(m, x, 0, emb, act, &err), 0);
	free(x);
	nn_model_free(m);
}

/* With every weight zero the network reduces to its head biases:
 * emb = normalise(BN(fc.bias)), act = softmax(fc2 relu(fc1.bias) + b2). */
static void
test_bias_only(void **state)
{
	struct nn_model *m = model(64, 2, 9);
	float *x = tt_random_windows(1, 64, 3), emb[12], act[3];
	const struct nn_tensor *fb, *h1, *w2, *b2;
	struct dt_error err;
	double e[12], nrm = 0, z[3], mx, sum = 0;
	size_t i;
	int j, k;

	(void)state;
	for (i = 0; i < m->n_tensors; i++) {
		struct nn_tensor *t = &m->tensors[i];

		if (strstr(t->name, "weight") != NULL &&
		    strstr(t->name, "bn") == NULL &&
		    strncmp(t->name, "act_head", 8) != 0)
			memset(t->data, 0, t->numel * sizeof(float));
	}
	fb = nn_model_tensor(m, "id_head.fc.bias");
	h1 = nn_model_tensor(m, "act_head.fc1.bias");
	w2 = nn_model_tensor(m, "act_head.fc2.weight");
	b2 = nn_model_tensor(m, "act_head.fc2.bias");
	nn_model_tensor_mut(m, "act_head.fc1.weight")->data[0] = 0;
	memset(nn_model_tensor_mut(m, "act_head.fc1.weight")->data, 0,
	    nn_model_tensor(m, "act_head.fc1.weight")->numel * 4);
	assert_int_equal(nn_ref_forward(m, x, 1, emb, act, &err), 0);
	for (j = 0; j < 12; j++) {
		e[j] = fb->data[j] / sqrt(1 + 1e-5);
		nrm += e[j] * e[j];
	}
	for (j = 0; j < 12; j++)
		assert_true(fabs(emb[j] - e[j] / sqrt(nrm)) < 1e-6);
	for (k = 0; k < 3; k++) {
		z[k] = b2->data[k];
		for (j = 0; j < 6; j++)
			z[k] += w2->data[k * 6 + j] *
			    (h1->data[j] > 0 ? h1->data[j] : 0);
	}
	mx = fmax(z[0], fmax(z[1], z[2]));
	for (k = 0; k < 3; k++)
		sum += exp(z[k] - mx);
	for (k = 0; k < 3; k++)
		assert_true(fabs(act[k] - exp(z[k] - mx) / sum) < 1e-6);
	free(x);
	nn_model_free(m);
}

static void
test_refusals(void **state)
{
	struct nn_model *m = model(64, 2, 1);
	float *x = tt_random_windows(2, 64, 1), emb[24], act[6];
	struct dt_error err;
	struct nn_tensor *t;

	(void)state;
	x[64 + 5] = NAN;
	assert_int_equal(nn_ref_forward(m, x, 2, emb, act, &err), -1);
	assert_non_null(strstr(err.msg, "window 1"));
	x[64 + 5] = 0;
	assert_int_equal(nn_ref_forward(m, NULL, 2, emb, act, &err), -1);
	/* a tensor missing from an in-memory model is named */
	t = nn_model_tensor_mut(m, "stages.1.sca.fc1.weight");
	t->name[0] = 'X';
	assert_int_equal(nn_ref_forward(m, x, 2, emb, act, &err), -1);
	assert_non_null(strstr(err.msg, "stages.1.sca.fc1.weight"));
	free(x);
	nn_model_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_norm_and_softmax),
		cmocka_unit_test(test_odd_window),
		cmocka_unit_test(test_batch_equals_single),
		cmocka_unit_test(test_bias_only),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/test_embed.c — the recording -> embedding pipeline on real ECG-ID
 * recordings: a unit-norm fused embedding, activity probabilities that sum to
 * one, window counts that add up, and the distinct refusals.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cmocka_all.h"

#include "ecg/load.h"
#include "nn/model.h"
#include "pipeline/activity.h"
#include "pipeline/embed.h"
#include "tests/support.h"

static const char *const acts[] = { "rest", "walk", "run" };

struct fixture {
	struct nn_model *m;
	struct embedder *e;
};

static int
setup(void **state)
{
	struct dt_error err = { 0 };
	struct fixture *f = calloc(1, sizeof(*f));
	struct nn_hparams hp;

	if (f == NULL)
		return -1;
	nn_hparams_default(&hp);
	hp.stem_channels = 16;
	hp.stage_channels[0] = 16;
	hp.stage_channels[1] = 32;
	hp.stage_channels[2] = 64;
	hp.embedding_dim = 32;
	if (nn_model_create(&hp, 4, 3, acts, 5, &f->m, &err) != 0 ||
	    embedder_create(f->m, 8, &f->e, &err) != 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	embedder_free(f->e);
	nn_model_free(f->m);
	free(f);
	return 0;
}

/* A 20 s ECG-ID recording: 18 windows of 512 at 250 Hz, hop 256; most of
 * them pass the identity gate; outputs are normalised. */
static void
real_recording_gives_unit_embedding(void **state)
{
	struct fixture *f = *state;
	struct dt_error err = { 0 };
	float emb[32], act[3], *mv;
	struct embed_result r = { .embedding = emb, .activity = act };
	double norm = 0, sum = 0;
	size_t n;
	double fs;
	int j;

	if (tt_load_wfdb("ecg-id/Person_01/rec_1", &mv, &n, &fs) != 0)
		skip();
	if (embedder_run(f->e, mv, n, fs, &r, &err) != 0)
		fail_msg("%s", err.msg);
	for (j = 0; j < 32; j++)
		norm += (double)emb[j] * emb[j];
	for (j = 0; j < 3; j++)
		sum += act[j];
	assert_true(fabs(norm - 1.0) < 1e-5);
	assert_true(fabs(sum - 1.0) < 1e-5);
	assert_int_equal(r.windows_used + r.windows_rejected, 18);
	assert_true(r.windows_used >= 14);
	assert_true(r.heart_rate_bpm > 40 && r.heart_rate_bpm < 120);
	ecg_samples_free(mv, n);
}

/* A flat line and a too-short signal are refused, each with its own code. */
static void
unusable_signals_are_refused(void **state)
{
	struct fixture *f = *state;
	struct dt_error err = { 0 };
	float emb[32], act[3];
	struct embed_result r = { .embedding = emb, .activity = act };
	float *x = calloc(5000, sizeof(float));
	int i;

	assert_non_null(x);
	assert_int_equal(embedder_run(f->e, x, 5000, 500, &r, &err), -1);
	assert_int_equal(err.code, DT_E_SIG_FLAT);
	assert_int_equal(embedder_run(f->e, x, 100, 500, &r, &err), -1);
	assert_int_equal(err.code, DT_E_SIG_TOO_SHORT);
	/* a 1 Hz wave of 10 mV: finite, not flat, not clipped, but not an
	 * ECG (ecg/sigcheck.h); past that check, every window is saturated
	 * for the identity gate (|x| > 5 mV) */
	for (i = 0; i < 5000; i++)
		x[i] = (float)(10.0 * sin(2 * M_PI * 1.0 * i / 500.0));
	act[0] = act[1] = act[2] = -1;
	r.windows_used = r.windows_rejected = -1;
	assert_int_equal(embedder_run(f->e, x, 5000, 500, &r, &err), -1);
	assert_int_equal(err.code, DT_E_SIG_NOT_ECG);
	embedder_set_sigcheck(f->e, false);
	assert_int_equal(embedder_run(f->e, x, 5000, 500, &r, &err), -1);
	embedder_set_sigcheck(f->e, true);
	assert_int_equal(err.code, DT_E_SIG_NO_USABLE_WINDOW);
	/* the activity is still answered (infer --fuse prints it) */
	assert_true(fabs(act[0] + act[1] + act[2] - 1.0) < 1e-5);
	assert_int_equal(r.windows_used, 0);
	assert_true(r.windows_rejected > 0);
	free(x);
}

/* Temperature scaling: T = 1 changes nothing, T > 1 flattens, T < 1
 * sharpens; the label is "unknown" below the threshold. */
static void
calibration_and_unknown(void **state)
{
	struct act_calib c = { 1.0, 0.0 };
	float p[3] = { 0.7f, 0.2f, 0.1f }, q[3];

	(void)state;
	memcpy(q, p, sizeof(p));
	act_calib_apply(&c, q, 3);
	assert_memory_equal(p, q, sizeof(p));
	c.temperature = 2.0;
	act_calib_apply(&c, q, 3);
	assert_true(q[0] < 0.7f && q[0] > q[1] && q[1] > q[2]);
	assert_float_equal(q[0] + q[1] + q[2], 1.0, 1e-6);
	/* p^(1/2) normalised */
	assert_float_equal(q[0], sqrt(0.7) / (sqrt(0.7) + sqrt(0.2) +
	    sqrt(0.1)), 1e-6);
	c.temperature = 0.5;
	memcpy(q, p, sizeof(p));
	act_calib_apply(&c, q, 3);
	assert_true(q[0] > 0.7f);
	c.unknown_below = 0.75;
	assert_int_equal(act_calib_label(&c, p, 3), -1);
	c.unknown_below = 0.6;
	assert_int_equal(act_calib_label(&c, p, 3), 0);
	assert_int_equal(act_top(p, 3), 0);
	/* NaN is never a label */
	q[0] = NAN;
	q[1] = NAN;
	q[2] = NAN;
	assert_int_equal(act_calib_label(&c, q, 3), -1);
}

/* An over-confident classifier (its probabilities the true ones to the
 * power 3) is fitted a temperature near 3, and its calibration error falls. */
static void
temperature_fit_undoes_overconfidence(void **state)
{
	enum { N = 4000, A = 3 };
	float *p = malloc(sizeof(float) * N * A), *q;
	int *y = malloc(sizeof(int) * N), i, k;
	uint64_t s = 12345;
	double T, e0, e1;
	struct act_calib c;

	(void)state;
	assert_non_null(p);
	assert_non_null(y);
	q = malloc(sizeof(float) * N * A);
	assert_non_null(q);
	for (i = 0; i < N; i++) {
		double t[A], sum = 0, u, acc = 0;

		for (k = 0; k < A; k++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			t[k] = 0.05 + (double)(s >> 11) / 9007199254740992.0;
			sum += t[k];
		}
		for (k = 0; k < A; k++)
			t[k] /= sum;
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		u = (double)(s >> 11) / 9007199254740992.0;
		for (y[i] = A - 1, k = 0; k < A; k++) {
			acc += t[k];
			if (u < acc) {
				y[i] = k;
				break;
			}
		}
		sum = 0;
		for (k = 0; k < A; k++)
			sum += pow(t[k], 3);
		for (k = 0; k < A; k++)
			p[i * A + k] = (float)(pow(t[k], 3) / sum);
	}
	T = act_fit_temperature(p, y, N, A);
	assert_true(T > 2.4 && T < 3.6);
	c.temperature = T;
	c.unknown_below = 0;
	memcpy(q, p, sizeof(float) * N * A);
	for (i = 0; i < N; i++)
		act_calib_apply(&c, q + i * A, A);
	e0 = act_ece(p, y, N, A, 15);
	e1 = act_ece(q, y, N, A, 15);
	assert_true(e1 < e0 / 2);
	assert_true(act_nll(p, y, N, A, T) < act_nll(p, y, N, A, 1.0));
	free(p);
	free(q);
	free(y);
}

/* A model is served with the identity gate it records (prep.id_gate);
 * without the key, DESIGN.md 4.6's. */
static void
the_gate_is_the_models(void **state)
{
	struct fixture *f = *state;
	struct dt_error err = { 0 };
	struct ecg_prep_params pp;
	struct embedder *e = NULL;
	float emb[32], act[3];
	struct embed_result r = { .embedding = emb, .activity = act };
	float *x = calloc(5000, sizeof(float));
	int i;

	assert_non_null(x);
	assert_int_equal(embed_prep_params(f->m, &pp, &err), 0);
	assert_int_equal(pp.id_gate, ECG_GATE_HR_SAT);
	assert_int_equal(pp.window, f->m->hp.window);
	assert_int_equal(nn_model_set_meta(f->m, "prep.id_gate", "sqi", &err),
	    0);
	assert_int_equal(embed_prep_params(f->m, &pp, &err), 0);
	assert_int_equal(pp.id_gate, ECG_GATE_SQI);
	/* mostly beyond 5 mV: more than half saturated, refused by it too */
	for (i = 0; i < 5000; i++)
		x[i] = (float)(10.0 * sin(2 * M_PI * 1.0 * i / 500.0));
	if (embedder_create(f->m, 8, &e, &err) != 0)
		fail_msg("%s", err.msg);
	embedder_set_sigcheck(e, false);	/* the gate alone */
	assert_int_equal(embedder_run(e, x, 5000, 500, &r, &err), -1);
	assert_int_equal(err.code, DT_E_SIG_NO_USABLE_WINDOW);
	embedder_free(e);
	assert_int_equal(nn_model_set_meta(f->m, "prep.id_gate", "bogus",
	    &err), 0);
	assert_int_equal(embed_prep_params(f->m, &pp, &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_equal(embedder_create(f->m, 8, &e, &err), -1);
	assert_int_equal(nn_model_set_meta(f->m, "prep.id_gate", "hr-sat",
	    &err), 0);
	free(x);
}

/* A stored model's bytes: loaded when the recorded dimension matches;
 * DT_E_FORMAT naming the model and the record when it does not; a
 * truncated file is the loader's format error. */
static void
stored_model_bytes(void **state)
{
	struct fixture *f = *state;
	struct dt_error err = { 0 };
	struct nn_model *m = NULL;
	void *buf = NULL;
	size_t len = 0;

	assert_int_equal(nn_model_save_buffer(f->m, &buf, &len, &err), 0);
	assert_int_equal(embed_model_load(buf, len, "m1", 32, "the store",
	    &m, &err), 0);
	assert_non_null(m);
	assert_int_equal(m->hp.embedding_dim, 32);
	nn_model_free(m);
	m = NULL;
	assert_int_equal(embed_model_load(buf, len, "m1", 64, "the index",
	    &m, &err), -1);
	assert_null(m);
	assert_int_equal(err.code, DT_E_FORMAT);
	assert_string_equal(err.msg,
	    "model m1: embedding_dim 32 in the file, 64 in the index");
	assert_int_equal(embed_model_load(buf, len / 2, "m1", 32, "the store",
	    &m, &err), -1);
	assert_null(m);
	assert_int_not_equal(err.code, DT_OK);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(real_recording_gives_unit_embedding),
		cmocka_unit_test(unusable_signals_are_refused),
		cmocka_unit_test(the_gate_is_the_models),
		cmocka_unit_test(calibration_and_unknown),
		cmocka_unit_test(temperature_fit_undoes_overconfidence),
		cmocka_unit_test(stored_model_bytes),
	};

	return cmocka_run_group_tests_name("pipeline_embed", tests, setup,
	    teardown);
}

/*
 * tests/test_protocol.c — data/protocol.c on synthetic embeddings (no data
 * set needed): the protocol names, templates and probes as the evaluation
 * protocols build them (identity gate, fallback, groups), open-set scores
 * (EER, rank-1, genuine and impostor pairs) and the activity confusion.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cmocka_all.h"

#include "data/protocol.h"

#define E 4

static void
test_names(void **state)
{
	static const char *const all[] = { "p1", "p2", "p3", "open", "all",
	    "p2+ptbxl", "p4", "xelectrode", "rest-other", "site", "adapt" };
	enum data_protocol p;
	size_t i;

	(void)state;
	assert_int_equal(sizeof(all) / sizeof(all[0]), DATA_PROTO_N);
	for (i = 0; i < DATA_PROTO_N; i++) {
		assert_int_equal(data_protocol_parse(all[i], &p), 0);
		assert_int_equal(p, (enum data_protocol)i);
		assert_string_equal(data_protocol_name(p), all[i]);
	}
	assert_int_equal(data_protocol_parse("P1", &p), -1);
	assert_int_equal(data_protocol_parse("p5", &p), -1);
	assert_int_equal(data_protocol_parse("", &p), -1);
	assert_int_equal(data_protocol_parse(NULL, &p), -1);
	assert_false(data_protocol_is_open_set(DATA_PROTO_P2));
	assert_false(data_protocol_is_open_set(DATA_PROTO_ALL));
	assert_true(data_protocol_is_open_set(DATA_PROTO_OPEN));
	assert_true(data_protocol_is_open_set(DATA_PROTO_P4));
	assert_true(data_protocol_is_open_set(DATA_PROTO_ADAPT));
}

/* A window set without signals: only the labels the scoring reads. */
static struct data_set *
set_of(size_t n)
{
	struct data_set *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->n = n;
	assert_non_null(s->w = calloc(n, sizeof(*s->w)));
	return s;
}

static void
set_free(struct data_set *s)
{
	free(s->w);
	free(s);
}

static void
win(struct data_set *s, size_t i, int subject, int group, bool id_ok,
    int activity)
{
	s->w[i].subject = subject;
	s->w[i].group = group;
	s->w[i].id_ok = id_ok;
	s->w[i].activity = activity;
}

static void
test_templates(void **state)
{
	/* subject 3: two gated windows along x, one ungated along y (left
	 * out); subject 5: no gated window, so all of its windows (y, z);
	 * subject 7 (not enrolled) is ignored */
	static const float emb[6 * E] = {
		1, 0, 0, 0,	2, 0, 0, 0,	0, 9, 0, 0,
		0, 1, 0, 0,	0, 0, 1, 0,	5, 5, 5, 5,
	};
	const int tid[2] = { 3, 5 };
	struct data_set *s = set_of(6);
	struct dt_error err;
	float t[3 * E];
	int cnt[3];
	const float h = (float)(1 / sqrt(2));

	(void)state;
	win(s, 0, 3, 0, true, -1);
	win(s, 1, 3, 0, true, -1);
	win(s, 2, 3, 0, false, -1);
	win(s, 3, 5, 1, false, -1);
	win(s, 4, 5, 1, false, -1);
	win(s, 5, 7, 2, true, -1);
	assert_int_equal(data_mean_embeddings(s, emb, E, DATA_BY_SUBJECT, tid,
	    2, true, t, cnt, &err), 0);
	assert_float_equal(t[0], 1, 1e-6);
	assert_float_equal(t[1], 0, 1e-6);
	assert_float_equal(t[E + 1], h, 1e-6);
	assert_float_equal(t[E + 2], h, 1e-6);
	assert_int_equal(cnt[0], 2);
	assert_int_equal(cnt[1], 0);
	/* without the fallback subject 5 has no template (zero) */
	assert_int_equal(data_mean_embeddings(s, emb, E, DATA_BY_SUBJECT, tid,
	    2, false, t, NULL, &err), 0);
	assert_float_equal(t[E + 1], 0, 0);
	assert_float_equal(t[E + 2], 0, 0);
	/* probes by group: gated windows only; group 1 has none */
	assert_int_equal(data_mean_embeddings(s, emb, E, DATA_BY_GROUP, NULL,
	    3, false, t, cnt, &err), 0);
	assert_int_equal(cnt[0], 2);
	assert_int_equal(cnt[1], 0);
	assert_int_equal(cnt[2], 1);
	assert_float_equal(t[0], 1, 1e-6);
	set_free(s);
}

/* Scores of probes along their subject's axis, with some noise. */
static void
test_open_set(void **state)
{
	/* templates: subjects 10, 11, 12 on axes 0, 1, 2 */
	float te[3 * E] = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 };
	const int tid[3] = { 10, 11, 12 };
	/* probes: two per subject near their axis, one of subject 12 that
	 * looks like 11 (a rank-1 miss) */
	float pe[7 * E] = {
		0.9f, 0.1f, 0, 0.1f,	0.8f, 0, 0.2f, 0,
		0.1f, 0.9f, 0, 0,	0, 0.95f, 0.1f, 0,
		0, 0.1f, 0.9f, 0,	0.2f, 0, 0.8f, 0,
		0, 0.9f, 0.3f, 0,
	};
	const int pid[7] = { 10, 10, 11, 11, 12, 12, 12 };
	struct data_open_set os;
	struct dt_error err;
	size_t i;
	int p;

	(void)state;
	for (p = 0; p < 7; p++)
		data_l2_normalise(pe + p * E, E);
	assert_int_equal(data_open_set_score(pe, pid, 7, te, tid, 3, E, &os,
	    &err), 0);
	assert_int_equal(os.n_gen, 7);		/* one per probe */
	assert_int_equal(os.n_imp, 14);		/* two per probe */
	assert_int_equal(os.n_probes, 7);
	assert_int_equal(os.n_enrolled, 3);
	assert_float_equal(os.rank1, 6.0 / 7.0, 1e-9);
	/* the genuine scores are the probes' cosines to their own axis */
	assert_float_equal(os.gen[0], pe[0], 1e-6);
	assert_float_equal(os.gen[6], pe[6 * E + 2], 1e-6);
	for (i = 0; i < os.n_gen; i++)
		assert_true(os.gen[i] > 0.3f);
	/* one genuine score (0.32) below the impostor 0.95 of that probe:
	 * not separable, EER above 0 but small */
	assert_true(os.v.eer > 0 && os.v.eer < 0.2);
	assert_int_equal(os.v.n_genuine, 7);
	assert_int_equal(os.v.n_impostor, 14);
	data_open_set_free(&os);
	/* separable once the look-alike probe goes: EER 0, rank-1 1 */
	assert_int_equal(data_open_set_score(pe, pid, 6, te, tid, 3, E, &os,
	    &err), 0);
	assert_float_equal(os.rank1, 1, 0);
	assert_float_equal(os.v.eer, 0, 1e-9);
	data_open_set_free(&os);
	/* no probe: an error, nothing allocated */
	assert_int_equal(data_open_set_score(pe, pid, 0, te, tid, 3, E, &os,
	    &err), -1);
	assert_null(os.gen);
}

static void
test_confusion(void **state)
{
	/* 3 activities; windows with labels 0, 1, 2, 2 and one unlabelled */
	static const float act[5 * 3] = {
		0.9f, 0.1f, 0,	0.2f, 0.7f, 0.1f,	0, 0.6f, 0.4f,
		0, 0.1f, 0.9f,	1, 0, 0,
	};
	struct data_set *s = set_of(5);
	long conf[9] = { 0 };

	(void)state;
	win(s, 0, 0, 0, true, 0);
	win(s, 1, 0, 0, true, 1);
	win(s, 2, 0, 0, true, 2);
	win(s, 3, 0, 0, true, 2);
	win(s, 4, 0, 0, true, -1);
	assert_int_equal(data_confusion_add(s, act, 3, conf), 4);
	assert_int_equal(conf[0 * 3 + 0], 1);
	assert_int_equal(conf[1 * 3 + 1], 1);
	assert_int_equal(conf[2 * 3 + 1], 1);	/* run taken for walk */
	assert_int_equal(conf[2 * 3 + 2], 1);
	assert_int_equal(conf[0 * 3 + 1] + conf[0 * 3 + 2] + conf[1 * 3 + 0] +
	    conf[1 * 3 + 2] + conf[2 * 3 + 0], 0);
	assert_int_equal(data_argmax(act + 3, 3), 1);
	set_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_open_set),
		cmocka_unit_test(test_confusion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

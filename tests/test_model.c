/*
 * tests/test_model.c — nn/model.c: the safetensors model file.
 *
 * Round trips, the peer's real model file, and one test per way a file can be
 * malformed: each malformed file is a valid buffer from nn_model_save_buffer
 * edited in memory, and each test checks both the refusal and that the
 * message names the tensor or field at fault.
 */
#include "config.h"

#include <endian.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/cmocka_all.h"

#include "nn/model.h"
#include "tests/support.h"

static const char *const ACTS[] = { "rest", "walk" };

static struct nn_model *
tiny_model(uint64_t seed)
{
	struct nn_hparams hp;
	struct nn_model *m = NULL;
	struct dt_error err;

	tt_tiny_hp(&hp, 64, 4);
	if (nn_model_create(&hp, 3, 2, ACTS, seed, &m, &err) != 0)
		fail_msg("create: %s", err.msg);
	return m;
}

/* A valid serialised tiny model. */
static void
tiny_buffer(uint8_t **buf, size_t *len)
{
	struct nn_model *m = tiny_model(1);
	struct dt_error err;
	void *b;

	assert_int_equal(nn_model_set_meta(m, "extra.key", "kept", &err), 0);
	if (nn_model_save_buffer(m, &b, len, &err) != 0)
		fail_msg("save: %s", err.msg);
	*buf = b;
	nn_model_free(m);
}

static void
assert_models_equal(const struct nn_model *a, const struct nn_model *b)
{
	size_t i;
	int d;

	assert_memory_equal(&a->hp, &b->hp, sizeof(a->hp));
	assert_int_equal(a->n_subjects, b->n_subjects);
	assert_int_equal(a->n_activities, b->n_activities);
	for (d = 0; d < a->n_activities; d++)
		assert_string_equal(a->activities[d], b->activities[d]);
	assert_int_equal(a->n_tensors, b->n_tensors);
	for (i = 0; i < a->n_tensors; i++) {
		const struct nn_tensor *t = &a->tensors[i];
		const struct nn_tensor *u = nn_model_tensor(b, t->name);

		assert_non_null(u);
		assert_int_equal(t->ndim, u->ndim);
		for (d = 0; d < t->ndim; d++)
			assert_int_equal(t->shape[d], u->shape[d]);
		assert_int_equal(t->numel, u->numel);
		assert_memory_equal(t->data, u->data, t->numel * sizeof(float));
	}
	assert_int_equal(a->n_meta, b->n_meta);
	for (i = 0; i < a->n_meta; i++) {
		const char *v = nn_model_meta(b, a->meta[i].key);

		assert_non_null(v);
		assert_string_equal(a->meta[i].value, v);
	}
}

/* ---------------------------------------------------------------------- */

static void
test_defaults_flops(void **state)
{
	struct nn_hparams hp;
	struct dt_error err;

	(void)state;
	nn_hparams_default(&hp);
	assert_int_equal(nn_hparams_check(&hp, &err), 0);
	assert_int_equal(nn_hparams_stem_len(&hp), 256);
	assert_int_equal(nn_hparams_stage_len(&hp, 0), 128);
	assert_int_equal(nn_hparams_stage_len(&hp, 2), 32);
	/* dt4ecg_ref.py count_flops: 86,108,416 for one activity */
	assert_true(fabs(nn_hparams_flops(&hp, 1) - 86108416.0) < 0.5);
	hp.window = 777;
	assert_int_equal(nn_hparams_stem_len(&hp), 388);
	hp.kernel = 4;
	assert_int_equal(nn_hparams_check(&hp, &err), -1);
	assert_non_null(strstr(err.msg, "kernel"));
	nn_hparams_default(&hp);
	hp.stage_channels[1] = 100;	/* not divisible by 8 */
	assert_int_equal(nn_hparams_check(&hp, &err), -1);
	assert_non_null(strstr(err.msg, "stage_channels"));
}

static void
test_create_deterministic(void **state)
{
	struct nn_model *a = tiny_model(7), *b = tiny_model(7), *c;
	const struct nn_tensor *t;

	(void)state;
	assert_models_equal(a, b);
	c = tiny_model(8);
	t = nn_model_tensor(c, "stem.conv.weight");
	assert_non_null(t);
	assert_memory_not_equal(t->data,
	    nn_model_tensor(a, "stem.conv.weight")->data, t->numel * 4);
	/* BN init and weight bound 1/sqrt(fan_in) */
	t = nn_model_tensor(a, "stages.1.bn2.running_var");
	assert_non_null(t);
	assert_true(t->data[0] == 1.0f);
	t = nn_model_tensor(a, "stages.1.conv2.weight");
	for (size_t i = 0; i < t->numel; i++)
		assert_true(fabsf(t->data[i]) <= 1.0f / sqrtf(16 * 3) + 1e-6f);
	assert_string_equal(nn_model_meta(a, "stage_channels"), "8,16");
	assert_string_equal(nn_model_meta(a, "activities"),
	    "[\"rest\",\"walk\"]");
	assert_string_equal(nn_model_meta(a, "dt4ecg.format"), "1");
	assert_null(nn_model_tensor(a, "no.such.tensor"));
	nn_model_free(a);
	nn_model_free(b);
	nn_model_free(c);
}

static void
test_round_trip_buffer(void **state)
{
	struct nn_model *a = tiny_model(3), *b = NULL;
	struct dt_error err;
	uint8_t *buf;
	size_t len;
	uint64_t hl;
	void *vb;

	(void)state;
	assert_int_equal(nn_model_set_meta(a, "subjects", "[1, \"x\"]", &err),
	    0);
	assert_int_equal(nn_model_set_meta(a, "other.program", "v\"q\\", &err),
	    0);
	assert_int_equal(nn_model_save_buffer(a, &vb, &len, &err), 0);
	buf = vb;
	memcpy(&hl, buf, 8);
	hl = le64toh(hl);
	assert_int_equal(hl % 8, 0);
	assert_true(8 + hl <= len);
	if (nn_model_load_buffer(buf, len, "mem", &b, &err) != 0)
		fail_msg("load: %s", err.msg);
	assert_models_equal(a, b);
	assert_models_equal(b, a);
	assert_string_equal(nn_model_meta(b, "other.program"), "v\"q\\");
	free(buf);
	nn_model_free(a);
	nn_model_free(b);
}

static void
test_round_trip_file(void **state)
{
	struct nn_model *a = tiny_model(4), *b = NULL;
	struct dt_error err;
	char path[] = "/tmp/dt4ecg-test-model-XXXXXX";
	char tmp[64];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	if (nn_model_save(a, path, &err) != 0)
		fail_msg("save: %s", err.msg);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	if (nn_model_load(path, &b, &err) != 0)
		fail_msg("load: %s", err.msg);
	assert_models_equal(a, b);
	unlink(path);
	assert_int_equal(nn_model_load(path, &b, &err), -1);
	assert_int_equal(err.code, DT_E_IO);
	assert_non_null(strstr(err.msg, path));
	nn_model_free(a);
	nn_model_free(b);
}

/* Changing hp through the struct rewrites the required metadata on save. */
static void
test_save_rewrites_required_meta(void **state)
{
	struct nn_model *a = tiny_model(5), *b = NULL;
	struct dt_error err;
	void *buf;
	size_t len;

	(void)state;
	assert_int_equal(nn_model_set_meta(a, "fs_hz", "500", &err), 0);
	assert_int_equal(nn_model_save_buffer(a, &buf, &len, &err), 0);
	assert_int_equal(nn_model_load_buffer(buf, len, "mem", &b, &err), 0);
	assert_int_equal(b->hp.fs_hz, 250);
	assert_string_equal(nn_model_meta(b, "fs_hz"), "250");
	free(buf);
	nn_model_free(a);
	nn_model_free(b);
}

static void
test_peer_file(void **state)
{
	const char *data = getenv("DT4ECG_DATA");
	struct nn_model *m = NULL, *m2 = NULL;
	struct dt_error err;
	char path[4096];
	void *buf;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path),
	    "%s/../peer/models/ecgid_p1.safetensors",
	    data != NULL ? data : "../shared/data");
	if (access(path, R_OK) != 0) {
		skip();
		return;
	}
	if (nn_model_load(path, &m, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(m->hp.window, 512);
	assert_int_equal(m->hp.n_stages, 3);
	assert_int_equal(m->hp.stage_channels[2], 256);
	assert_int_equal(m->n_subjects, 90);
	assert_int_equal(m->n_activities, 1);
	assert_string_equal(m->activities[0], "unlabelled");
	assert_non_null(nn_model_meta(m, "eval.p1"));
	assert_non_null(nn_model_meta(m, "cosface_s"));
	/* the peer's own strings survive a round trip */
	assert_int_equal(nn_model_save_buffer(m, &buf, &len, &err), 0);
	assert_int_equal(nn_model_load_buffer(buf, len, "mem", &m2, &err), 0);
	assert_models_equal(m, m2);
	assert_string_equal(nn_model_meta(m2, "activities"),
	    "[\"unlabelled\"]");
	free(buf);
	nn_model_free(m);
	nn_model_free(m2);
}

/* ---------------------------------------------------------------------- */
/* Malformed files. */

struct edit {
	json_t *root;
	uint8_t *data;
	size_t dlen;
};

static void
edit_open(struct edit *e)
{
	uint8_t *buf;
	size_t len;
	uint64_t hl;
	json_error_t jerr;

	tiny_buffer(&buf, &len);
	memcpy(&hl, buf, 8);
	hl = le64toh(hl);
	e->root = json_loadb((char *)buf + 8, hl, 0, &jerr);
	assert_non_null(e->root);
	e->dlen = len - 8 - hl;
	e->data = malloc(e->dlen + 16);
	assert_non_null(e->data);
	memcpy(e->data, buf + 8 + hl, e->dlen);
	free(buf);
}

static void
edit_build(struct edit *e, uint8_t **out, size_t *outlen)
{
	char *h = json_dumps(e->root, JSON_COMPACT);
	size_t hl;
	uint64_t v;

	assert_non_null(h);
	hl = strlen(h);
	*outlen = 8 + hl + e->dlen;
	*out = malloc(*outlen);
	assert_non_null(*out);
	v = htole64(hl);
	memcpy(*out, &v, 8);
	memcpy(*out + 8, h, hl);
	memcpy(*out + 8 + hl, e->data, e->dlen);
	free(h);
}

static void
edit_close(struct edit *e)
{
	json_decref(e->root);
	free(e->data);
}

static void
expect_refused(const uint8_t *buf, size_t len, const char *n1,
    const char *n2)
{
	struct nn_model *m = NULL;
	struct dt_error err;

	dt_error_clear(&err);
	if (nn_model_load_buffer(buf, len, "bad.safetensors", &m, &err) == 0)
		fail_msg("a malformed file was accepted (expected %s)", n1);
	assert_null(m);
	if (strstr(err.msg, n1) == NULL ||
	    (n2 != NULL && strstr(err.msg, n2) == NULL))
		fail_msg("message \"%s\" does not name %s %s", err.msg, n1,
		    n2 != NULL ? n2 : "");
	assert_non_null(strstr(err.msg, "bad.safetensors"));
}

/* Edit the header and expect a refusal naming n1 (and n2). */
static void
expect_edit_refused(void (*fn)(struct edit *), const char *n1,
    const char *n2)
{
	struct edit e;
	uint8_t *buf;
	size_t len;

	edit_open(&e);
	fn(&e);
	edit_build(&e, &buf, &len);
	expect_refused(buf, len, n1, n2);
	free(buf);
	edit_close(&e);
}

static json_t *
entry(struct edit *e, const char *name)
{
	json_t *t = json_object_get(e->root, name);

	assert_non_null(t);
	return t;
}

static size_t
data_begin(struct edit *e, const char *name)
{
	return (size_t)json_integer_value(json_array_get(json_object_get(
	    entry(e, name), "data_offsets"), 0));
}

static void
test_unedited_loads(void **state)
{
	struct edit e;
	struct nn_model *m = NULL;
	struct dt_error err;
	uint8_t *buf;
	size_t len;

	(void)state;
	/* the edit helpers themselves produce a loadable file */
	edit_open(&e);
	edit_build(&e, &buf, &len);
	if (nn_model_load_buffer(buf, len, "x", &m, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(nn_model_meta(m, "extra.key"), "kept");
	nn_model_free(m);
	free(buf);
	edit_close(&e);
}

static void
test_truncated(void **state)
{
	uint8_t *buf;
	size_t len;
	struct edit e;

	(void)state;
	tiny_buffer(&buf, &len);
	expect_refused(buf, 5, "truncated", NULL);
	expect_refused(buf, 0, "truncated", NULL);
	free(buf);
	/* cut inside the data: the last tensor runs past the end */
	edit_open(&e);
	edit_build(&e, &buf, &len);
	expect_refused(buf, len - 3, "stem.conv.weight", "out of range");
	free(buf);
	edit_close(&e);
}

static void
test_header_length_beyond_file(void **state)
{
	uint8_t *buf;
	size_t len;
	uint64_t v;

	(void)state;
	tiny_buffer(&buf, &len);
	v = htole64((uint64_t)len);
	memcpy(buf, &v, 8);
	expect_refused(buf, len, "header length", "exceeds");
	v = htole64(UINT64_MAX);
	memcpy(buf, &v, 8);
	expect_refused(buf, len, "header length", "exceeds");
	free(buf);
}

static void
test_header_not_json(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	tiny_buffer(&buf, &len);
	buf[8] = '[';
	buf[12] = '}';
	expect_refused(buf, len, "header", "not valid JSON");
	free(buf);
	tiny_buffer(&buf, &len);
	buf[8] = ' ';	/* { -> space: trailing garbage */
	expect_refused(buf, len, "header", "JSON");
	free(buf);
}

static void
ed_header_array(struct edit *e)
{
	json_decref(e->root);
	e->root = json_array();
}

static void
test_header_not_object(void **state)
{
	(void)state;
	expect_edit_refused(ed_header_array, "header", "object");
}

static void
ed_dtype_f16(struct edit *e)
{
	json_object_set_new(entry(e, "stages.1.conv2.weight"), "dtype",
	    json_string("F16"));
}

static void
ed_dtype_unknown(struct edit *e)
{
	json_object_set_new(entry(e, "id_head.bn.bias"), "dtype",
	    json_string("Q7"));
}

static void
ed_dtype_missing(struct edit *e)
{
	json_object_del(entry(e, "id_head.bn.bias"), "dtype");
}

static void
test_dtype(void **state)
{
	(void)state;
	expect_edit_refused(ed_dtype_f16, "stages.1.conv2.weight", "F16");
	expect_edit_refused(ed_dtype_unknown, "id_head.bn.bias", "Q7");
	expect_edit_refused(ed_dtype_missing, "id_head.bn.bias", "dtype");
}

static void
ed_shape_permuted(struct edit *e)
{
	/* same number of elements, wrong layout: [16,8,3] -> [16,3,8] */
	json_object_set_new(entry(e, "stages.1.conv1.weight"), "shape",
	    json_pack("[i,i,i]", 16, 3, 8));
}

static void
ed_shape_bytes(struct edit *e)
{
	/* shape disagrees with the byte count of data_offsets */
	json_object_set_new(entry(e, "act_head.fc1.bias"), "shape",
	    json_pack("[i]", 5));
}

static void
ed_shape_negative(struct edit *e)
{
	json_object_set_new(entry(e, "act_head.fc1.bias"), "shape",
	    json_pack("[i]", -4));
}

static void
ed_shape_huge(struct edit *e)
{
	json_object_set_new(entry(e, "act_head.fc1.bias"), "shape",
	    json_pack("[I,I,I]", (json_int_t)1 << 40, (json_int_t)1 << 40,
	    (json_int_t)1 << 40));
}

static void
test_wrong_shape(void **state)
{
	(void)state;
	expect_edit_refused(ed_shape_permuted, "stages.1.conv1.weight",
	    "shape");
	expect_edit_refused(ed_shape_bytes, "act_head.fc1.bias", "bytes");
	expect_edit_refused(ed_shape_negative, "act_head.fc1.bias", "shape");
	expect_edit_refused(ed_shape_huge, "act_head.fc1.bias", "shape");
}

static void
ed_missing_tensor(struct edit *e)
{
	json_object_del(e->root, "stages.0.sca.seq.bias");
}

static void
ed_missing_classifier(struct edit *e)
{
	json_object_del(e->root, "id_head.classifier.weight");
}

static void
test_missing_tensor(void **state)
{
	(void)state;
	expect_edit_refused(ed_missing_tensor, "stages.0.sca.seq.bias",
	    "missing");
	expect_edit_refused(ed_missing_classifier,
	    "id_head.classifier.weight", "missing");
}

static void
ed_unexpected(struct edit *e)
{
	json_object_set(e->root, "stages.0.extra.weight",
	    entry(e, "stages.0.sca.seq.bias"));
}

static void
test_unexpected_tensor(void **state)
{
	(void)state;
	expect_edit_refused(ed_unexpected, "stages.0.extra.weight",
	    "unexpected");
}

/* PyTorch's BN counters (I64 scalars) are accepted and dropped. */
static void
test_num_batches_tracked(void **state)
{
	struct edit e;
	struct nn_model *m = NULL;
	struct dt_error err;
	uint8_t *buf;
	size_t len;
	int64_t cnt = 42;

	(void)state;
	edit_open(&e);
	memcpy(e.data + e.dlen, &cnt, 8);
	json_object_set_new(e.root, "stem.bn.num_batches_tracked",
	    json_pack("{s:s,s:[],s:[I,I]}", "dtype", "I64", "shape",
	    "data_offsets", (json_int_t)e.dlen, (json_int_t)e.dlen + 8));
	e.dlen += 8;
	edit_build(&e, &buf, &len);
	if (nn_model_load_buffer(buf, len, "x", &m, &err) != 0)
		fail_msg("%s", err.msg);
	assert_null(nn_model_tensor(m, "stem.bn.num_batches_tracked"));
	nn_model_free(m);
	free(buf);
	/* but not on something that is not a batch norm */
	json_object_set(e.root, "stem.conv.num_batches_tracked",
	    json_object_get(e.root, "stem.bn.num_batches_tracked"));
	json_object_del(e.root, "stem.bn.num_batches_tracked");
	edit_build(&e, &buf, &len);
	expect_refused(buf, len, "stem.conv.num_batches_tracked",
	    "unexpected");
	free(buf);
	edit_close(&e);
}

static void
ed_overlap(struct edit *e)
{
	/* two [8] tensors on the same bytes */
	json_object_set(entry(e, "stages.0.bn1.bias"), "data_offsets",
	    json_object_get(entry(e, "stages.0.bn1.weight"), "data_offsets"));
}

static void
test_overlap(void **state)
{
	(void)state;
	expect_edit_refused(ed_overlap, "stages.0.bn1.bias", "overlap");
	expect_edit_refused(ed_overlap, "stages.0.bn1.weight", "overlap");
}

static void
ed_out_of_range(struct edit *e)
{
	json_object_set_new(entry(e, "stages.1.sca.seq.bias"), "data_offsets",
	    json_pack("[I,I]", (json_int_t)e->dlen, (json_int_t)e->dlen + 4));
}

static void
ed_reversed(struct edit *e)
{
	json_object_set_new(entry(e, "stages.1.sca.seq.bias"), "data_offsets",
	    json_pack("[I,I]", (json_int_t)8, (json_int_t)4));
}

static void
ed_offsets_huge(struct edit *e)
{
	json_object_set_new(entry(e, "stages.1.sca.seq.bias"), "data_offsets",
	    json_pack("[I,I]", (json_int_t)INT64_MAX - 2,
	    (json_int_t)INT64_MAX));
}

static void
ed_offsets_bad(struct edit *e)
{
	json_object_set_new(entry(e, "stages.1.sca.seq.bias"), "data_offsets",
	    json_pack("[i]", 0));
}

static void
test_out_of_range(void **state)
{
	(void)state;
	expect_edit_refused(ed_out_of_range, "stages.1.sca.seq.bias",
	    "out of range");
	expect_edit_refused(ed_reversed, "stages.1.sca.seq.bias",
	    "out of range");
	expect_edit_refused(ed_offsets_huge, "stages.1.sca.seq.bias",
	    "out of range");
	expect_edit_refused(ed_offsets_bad, "stages.1.sca.seq.bias",
	    "data_offsets");
}

static void
ed_nan(struct edit *e)
{
	float v = NAN;

	memcpy(e->data + data_begin(e, "stages.1.sca.fc2.weight") + 12, &v, 4);
}

static void
ed_inf(struct edit *e)
{
	float v = -INFINITY;

	memcpy(e->data + data_begin(e, "id_head.bn.running_var"), &v, 4);
}

static void
test_non_finite(void **state)
{
	(void)state;
	expect_edit_refused(ed_nan, "stages.1.sca.fc2.weight", "NaN");
	expect_edit_refused(ed_inf, "id_head.bn.running_var", "Inf");
}

static void
ed_meta_missing(struct edit *e)
{
	json_object_del(json_object_get(e->root, "__metadata__"),
	    "seq_kernel");
}

static void
ed_meta_all_missing(struct edit *e)
{
	json_object_del(e->root, "__metadata__");
}

static void
ed_meta_not_int(struct edit *e)
{
	json_object_set_new(json_object_get(e->root, "__metadata__"),
	    "embedding_dim", json_string("8.0"));
}

static void
ed_meta_not_string(struct edit *e)
{
	json_object_set_new(json_object_get(e->root, "__metadata__"),
	    "window", json_integer(64));
}

static void
ed_meta_format(struct edit *e)
{
	json_object_set_new(json_object_get(e->root, "__metadata__"),
	    "dt4ecg.format", json_string("2"));
}

static void
ed_meta_activities(struct edit *e)
{
	json_object_set_new(json_object_get(e->root, "__metadata__"),
	    "activities", json_string("rest,walk"));
}

static void
ed_meta_activities_count(struct edit *e)
{
	/* three activities, but act_head.fc2 has two rows */
	json_object_set_new(json_object_get(e->root, "__metadata__"),
	    "activities", json_string("[\"a\",\"b\",\"c\"]"));
}

static void
ed_meta_even_kernel(struct edit *e)
{
	json_object_set_new(json_object_get(e->root, "__metadata__"),
	    "kernel", json_string("4"));
}

static void
test_missing_metadata(void **state)
{
	(void)state;
	expect_edit_refused(ed_meta_missing, "seq_kernel", "missing");
	expect_edit_refused(ed_meta_all_missing, "dt4ecg.format", "missing");
	expect_edit_refused(ed_meta_not_int, "embedding_dim", "8.0");
	expect_edit_refused(ed_meta_not_string, "window", "not a string");
	expect_edit_refused(ed_meta_format, "dt4ecg.format", "\"2\"");
	expect_edit_refused(ed_meta_activities, "activities", "JSON array");
	expect_edit_refused(ed_meta_activities_count, "act_head.fc2.weight",
	    "shape");
	expect_edit_refused(ed_meta_even_kernel, "kernel", "odd");
}

static const char *stage_channels_value;

static void
ed_stage_channels(struct edit *e)
{
	json_object_set_new(json_object_get(e->root, "__metadata__"),
	    "stage_channels", json_string(stage_channels_value));
}

static void
test_bad_stage_channels(void **state)
{
	static const char *const bad[] = {
		"8,x", "8,,16", "8;16", "", "8,16,", "8,99999999999",
		"1,2,3,4,5,6,7,8,9", "8,18" /* not divisible by 4 */,
		"0,16",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		stage_channels_value = bad[i];
		expect_edit_refused(ed_stage_channels, "stage_channels", NULL);
	}
	/* well-formed but disagreeing with the tensors: names a tensor */
	stage_channels_value = "8,32";
	expect_edit_refused(ed_stage_channels, "stages.1", "shape");
	stage_channels_value = "8";
	expect_edit_refused(ed_stage_channels, "id_head.fc.weight", "shape");
}

static void
test_duplicate_key(void **state)
{
	static const char hdr[] =
	    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
	uint8_t buf[256];
	uint64_t v = htole64(sizeof(hdr) - 1);

	(void)state;
	memcpy(buf, &v, 8);
	memcpy(buf + 8, hdr, sizeof(hdr) - 1);
	memset(buf + 8 + sizeof(hdr) - 1, 0, 4);
	expect_refused(buf, 8 + sizeof(hdr) - 1 + 4, "duplicate", NULL);
}

static void
test_set_meta(void **state)
{
	struct nn_model *m = tiny_model(1);
	struct dt_error err;
	size_t n = m->n_meta;

	(void)state;
	assert_int_equal(nn_model_set_meta(m, "k", "v1", &err), 0);
	assert_int_equal(nn_model_set_meta(m, "k", "v2", &err), 0);
	assert_int_equal(m->n_meta, n + 1);
	assert_string_equal(nn_model_meta(m, "k"), "v2");
	assert_null(nn_model_meta(m, "nope"));
	/* what cannot be written is refused by name, not as out of memory */
	{
		void *buf = NULL;
		size_t len;

		assert_int_equal(nn_model_set_meta(m, "bad", "\xff\xfe", &err),
		    0);
		assert_int_equal(nn_model_save_buffer(m, &buf, &len, &err), -1);
		assert_non_null(strstr(err.msg, "bad"));
		assert_null(buf);
	}
	nn_model_free(m);
	nn_model_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_flops),
		cmocka_unit_test(test_create_deterministic),
		cmocka_unit_test(test_round_trip_buffer),
		cmocka_unit_test(test_round_trip_file),
		cmocka_unit_test(test_save_rewrites_required_meta),
		cmocka_unit_test(test_peer_file),
		cmocka_unit_test(test_unedited_loads),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_header_length_beyond_file),
		cmocka_unit_test(test_header_not_json),
		cmocka_unit_test(test_header_not_object),
		cmocka_unit_test(test_dtype),
		cmocka_unit_test(test_wrong_shape),
		cmocka_unit_test(test_missing_tensor),
		cmocka_unit_test(test_unexpected_tensor),
		cmocka_unit_test(test_num_batches_tracked),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_non_finite),
		cmocka_unit_test(test_missing_metadata),
		cmocka_unit_test(test_bad_stage_channels),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_set_meta),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

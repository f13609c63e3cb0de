/* tests/test_body.c — the /v1/authenticate JSON body and problem documents. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tests/cmocka_all.h"

#include "daemon/body.h"
#include "proto/problem.h"

static enum problem_kind
parse(const char *s, struct body_auth **out, struct dt_error *err)
{
	dt_error_clear(err);
	return body_parse(s, strlen(s), out, err);
}

static size_t json_allocs;

static void *
counting_malloc(size_t n)
{
	json_allocs++;
	return malloc(n);
}

/* Both parsers on TEXT: the same answer, message, fields and samples. */
static void
same_as_reference(const char *text)
{
	struct body_auth *a = NULL, *b = NULL;
	struct dt_error ea = { 0 }, eb = { 0 };
	enum problem_kind ka, kb;

	ka = body_parse(text, strlen(text), &a, &ea);
	kb = body_parse_jansson(text, strlen(text), &b, &eb);
	assert_int_equal(ka, kb);
	if (ka != PROBLEM_OK) {
		assert_string_equal(ea.msg, eb.msg);
		return;
	}
	assert_int_equal(a->nsamples, b->nsamples);
	assert_memory_equal(&a->fs_hz, &b->fs_hz, sizeof(a->fs_hz));
	assert_memory_equal(a->samples, b->samples,
	    a->nsamples * sizeof(*a->samples));
	assert_int_equal(a->has_claimed_user, b->has_claimed_user);
	assert_string_equal(a->claimed_user, b->claimed_user);
	body_free(a);
	body_free(b);
}

/* The fast path reads numbers exactly as jansson + strtod do (issue 17.2):
 * 20,000 random values printed every way a client may print them (%.9g,
 * %.17g, %e, integers, long fractions), and bodies of unusual shapes that
 * it leaves to jansson. */
static void
test_fast_path(void **state)
{
	static const char *const odd[] = {
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[-0,-0.0,1e-400,4.9e-324,1e23,12e-22]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[1,99999999999999999999]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[01]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[1.]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"m\\u0056\",\"lead\":"
		    "\"I\",\"samples\":[1]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[1]},\"claimed_user\":null}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[1],\"lead\":\"I\"}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[]}}",
		"{\"ecg\":{\"fs_hz\":25,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[1]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[1]}} x",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[3.5e38]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		    "\"samples\":[1]},\"claimed_user\":\"a b\"}",
	};
	enum { N = 500, ROUNDS = 40 };
	char *text;
	size_t cap = 64 * N + 256, len, i;
	int round, k;

	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		same_as_reference(odd[i]);
	assert_non_null(text = malloc(cap));
	/* the usual body makes no jansson value at all; the reference
	 * makes one per sample */
	json_set_alloc_funcs(counting_malloc, free);
	snprintf(text, cap, "{\"ecg\": {\"fs_hz\": 500, \"units\": \"mV\", "
	    "\"lead\": \"I\", \"samples\": [0.1, -0.25, 1, 2e-3]}, "
	    "\"claimed_user\": \"alice\"}");
	json_allocs = 0;
	same_as_reference(text);
	assert_true(json_allocs >= 4);
	{
		struct body_auth *b = NULL;
		struct dt_error err = { 0 };

		json_allocs = 0;
		assert_int_equal(body_parse(text, strlen(text), &b, &err),
		    PROBLEM_OK);
		assert_int_equal(json_allocs, 0);
		assert_int_equal(b->nsamples, 4);
		body_free(b);
	}
	body_wipe_json_allocs();
	srand(17);
	for (round = 0; round < ROUNDS; round++) {
		len = (size_t)snprintf(text, cap, "{\"ecg\":{\"fs_hz\":%d,"
		    "\"units\":\"mV\",\"lead\":\"I\",\"samples\":[",
		    100 + round);
		for (k = 0; k < N; k++) {
			double m = ((double)rand() / RAND_MAX - 0.5) *
			    pow(10, rand() % 12 - 6);

			switch ((round + k) % 5) {
			case 0:
				len += (size_t)snprintf(text + len, cap - len,
				    "%.9g,", m);
				break;
			case 1:
				len += (size_t)snprintf(text + len, cap - len,
				    "%.17g,", m);
				break;
			case 2:
				len += (size_t)snprintf(text + len, cap - len,
				    "%.12e,", m);
				break;
			case 3:
				len += (size_t)snprintf(text + len, cap - len,
				    "%d,", rand() - RAND_MAX / 2);
				break;
			default:
				len += (size_t)snprintf(text + len, cap - len,
				    "%.25f,", m);
				break;
			}
		}
		snprintf(text + len - 1, cap - len + 1, "]}%s}", round % 2 ?
		    ",\"claimed_user\":\"m01\"" : "");
		same_as_reference(text);
	}
	free(text);
}

static void
test_good(void **state)
{
	struct body_auth *b = NULL;
	struct dt_error err;

	assert_int_equal(parse("{\"ecg\": {\"fs_hz\": 250, \"units\": \"mV\", "
	    "\"lead\": \"I\", \"samples\": [0.1, -0.25, 1, 2e-3]}, "
	    "\"claimed_user\": \"alice.b-1@gym\"}", &b, &err), PROBLEM_OK);
	assert_non_null(b);
	assert_true(b->fs_hz == 250.0);
	assert_int_equal(b->nsamples, 4);
	assert_true(b->samples[1] == -0.25f);
	assert_true(b->samples[2] == 1.0f);
	assert_true(b->has_claimed_user);
	assert_string_equal(b->claimed_user, "alice.b-1@gym");
	body_free(b);

	b = NULL;
	assert_int_equal(parse("{\"ecg\": {\"samples\": [1], \"lead\": \"I\", "
	    "\"units\": \"mV\", \"fs_hz\": 360.5}, \"claimed_user\": null}", &b,
	    &err), PROBLEM_OK);
	assert_false(b->has_claimed_user);
	assert_true(b->fs_hz == 360.5);
	body_free(b);
	body_free(NULL);
}

struct bad {
	const char *json;
	enum problem_kind want;
	const char *field;	/* must appear in the message */
};

#define ECG(fs, units, lead, samples) \
	"{\"ecg\": {\"fs_hz\": " fs ", \"units\": " units ", \"lead\": " lead \
	", \"samples\": " samples "}}"
#define ECGOK(samples) ECG("250", "\"mV\"", "\"I\"", samples)

static void
test_bad(void **state)
{
	static const struct bad cases[] = {
		{ "", PROBLEM_BAD_JSON, "JSON" },
		{ "{", PROBLEM_BAD_JSON, "JSON" },
		{ "{\"ecg\": }", PROBLEM_BAD_JSON, "line 1" },
		{ "nul", PROBLEM_BAD_JSON, "JSON" },
		{ ECGOK("[1, 2,]"), PROBLEM_BAD_JSON, "JSON" },
		{ ECGOK("[NaN]"), PROBLEM_BAD_JSON, "JSON" },
		{ ECGOK("[Infinity]"), PROBLEM_BAD_JSON, "JSON" },
		{ ECGOK("[-Infinity]"), PROBLEM_BAD_JSON, "JSON" },
		{ ECGOK("[1e999]"), PROBLEM_BAD_JSON, "JSON" },
		{ ECGOK("[1] } trailing"), PROBLEM_BAD_JSON, "JSON" },
		{ "{\"ecg\": 1, \"ecg\": 2}", PROBLEM_BAD_JSON, "duplicate" },
		{ "[]", PROBLEM_BAD_FIELD, "body" },
		{ "\"x\"", PROBLEM_BAD_JSON, "JSON" },
		{ "{}", PROBLEM_BAD_FIELD, "ecg" },
		{ "{\"ecg\": []}", PROBLEM_BAD_FIELD, "ecg" },
		{ "{\"ecg\": null}", PROBLEM_BAD_FIELD, "ecg" },
		{ "{\"ecg\": {}}", PROBLEM_BAD_FIELD, "ecg.fs_hz" },
		{ "{\"claimed_usr\": \"a\", \"ecg\": {}}", PROBLEM_BAD_FIELD,
		    "claimed_usr" },
		{ "{\"ecg\": {\"fs_hz\": 250, \"units\": \"mV\", \"lead\": \"I\","
		    " \"samples\": [1], \"gain\": 2}}", PROBLEM_BAD_FIELD,
		    "ecg.gain" },
		{ ECG("\"250\"", "\"mV\"", "\"I\"", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.fs_hz" },
		{ ECG("true", "\"mV\"", "\"I\"", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.fs_hz" },
		{ ECG("49.9", "\"mV\"", "\"I\"", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.fs_hz" },
		{ ECG("2001", "\"mV\"", "\"I\"", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.fs_hz" },
		{ ECG("-250", "\"mV\"", "\"I\"", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.fs_hz" },
		{ ECG("250", "\"uV\"", "\"I\"", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.units" },
		{ ECG("250", "\"mv\"", "\"I\"", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.units" },
		{ ECG("250", "\"mV\\u0000\"", "\"I\"", "[1]"),
		    PROBLEM_BAD_JSON, "JSON" },	/* no JSON_ALLOW_NUL */
		{ ECG("250", "1", "\"I\"", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.units" },
		{ ECG("250", "\"mV\"", "\"II\"", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.lead" },
		{ ECG("250", "\"mV\"", "null", "[1]"), PROBLEM_BAD_FIELD,
		    "ecg.lead" },
		{ "{\"ecg\": {\"fs_hz\": 250, \"lead\": \"I\", \"samples\": [1]}}",
		    PROBLEM_BAD_FIELD, "ecg.units" },
		{ "{\"ecg\": {\"fs_hz\": 250, \"units\": \"mV\", \"samples\": "
		    "[1]}}", PROBLEM_BAD_FIELD, "ecg.lead" },
		{ "{\"ecg\": {\"fs_hz\": 250, \"units\": \"mV\", \"lead\": "
		    "\"I\"}}", PROBLEM_BAD_FIELD, "ecg.samples" },
		{ ECGOK("[]"), PROBLEM_BAD_FIELD, "ecg.samples" },
		{ ECGOK("{}"), PROBLEM_BAD_FIELD, "ecg.samples" },
		{ ECGOK("\"1,2,3\""), PROBLEM_BAD_FIELD, "ecg.samples" },
		{ ECGOK("[1, \"2\"]"), PROBLEM_BAD_FIELD, "ecg.samples[1]" },
		{ ECGOK("[1, 2, null]"), PROBLEM_BAD_FIELD, "ecg.samples[2]" },
		{ ECGOK("[[1]]"), PROBLEM_BAD_FIELD, "ecg.samples[0]" },
		{ ECGOK("[1, 1e300]"), PROBLEM_BAD_FIELD, "ecg.samples[1]" },
		{ ECGOK("[1, -4e38]"), PROBLEM_BAD_FIELD, "ecg.samples[1]" },
		{ "{\"ecg\": " ECGOK("[1]") "}", PROBLEM_BAD_FIELD, "ecg" },
		{ "{\"claimed_user\": 5, \"ecg\": {}}", PROBLEM_BAD_FIELD,
		    "claimed_user" },
		{ "{\"claimed_user\": \"\", \"ecg\": {}}", PROBLEM_BAD_FIELD,
		    "claimed_user" },
		{ "{\"claimed_user\": \"a b\", \"ecg\": {}}", PROBLEM_BAD_FIELD,
		    "claimed_user" },
		{ "{\"claimed_user\": \"a\\u0000b\", \"ecg\": {}}",
		    PROBLEM_BAD_JSON, "JSON" },
		{ "{\"claimed_user\": \"\\u00e9\", \"ecg\": {}}",
		    PROBLEM_BAD_FIELD, "claimed_user" },
		{ "{\"claimed_user\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaa\", \"ecg\": {}}",
		    PROBLEM_BAD_FIELD, "claimed_user" },
	};
	struct body_auth *b = NULL;
	struct dt_error err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum problem_kind got = parse(cases[i].json, &b, &err);

		if (got != cases[i].want || strstr(err.msg,
		    cases[i].field) == NULL)
			fail_msg("case %zu (%s): got %s \"%s\", want %s naming "
			    "%s", i, cases[i].json, problem_slug(got),
			    err.msg, problem_slug(cases[i].want),
			    cases[i].field);
		assert_null(b);
	}
}

/* Builds a body with n samples. */
static char *
big_body(size_t n)
{
	size_t cap = 128 + n * 2, pos, i;
	char *s = malloc(cap);

	assert_non_null(s);
	pos = (size_t)snprintf(s, cap, "{\"ecg\": {\"fs_hz\": 2000, \"units\": "
	    "\"mV\", \"lead\": \"I\", \"samples\": [");
	for (i = 0; i < n; i++) {
		s[pos++] = '0';
		s[pos++] = i + 1 < n ? ',' : ']';
	}
	snprintf(s + pos, cap - pos, "}}");
	return s;
}

static void
test_huge(void **state)
{
	struct body_auth *b = NULL;
	struct dt_error err;
	char *s;

	s = big_body(BODY_SAMPLES_MAX);
	assert_int_equal(parse(s, &b, &err), PROBLEM_OK);
	assert_int_equal(b->nsamples, BODY_SAMPLES_MAX);
	body_free(b);
	free(s);
	b = NULL;
	s = big_body(BODY_SAMPLES_MAX + 1);
	assert_int_equal(parse(s, &b, &err), PROBLEM_BAD_FIELD);
	assert_non_null(strstr(err.msg, "ecg.samples"));
	assert_null(b);
	free(s);
}

static void
test_problem_json(void **state)
{
	static const enum problem_kind statuses[] = {
		PROBLEM_BAD_JSON, PROBLEM_SIG_INVALID, PROBLEM_REPLAY,
		PROBLEM_TOO_LARGE, PROBLEM_UNSUPPORTED_MEDIA,
		PROBLEM_SIGNAL_UNUSABLE, PROBLEM_RATE_LIMITED, PROBLEM_NO_MODEL,
		PROBLEM_NOT_FOUND, PROBLEM_METHOD_NOT_ALLOWED, PROBLEM_INTERNAL,
	};
	static const int want[] = { 400, 401, 409, 413, 415, 422, 429, 503,
	    404, 405, 500 };
	json_t *o;
	char *s;
	size_t i, len;
	int k;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(problem_status(statuses[i]), want[i]);
	/* every kind has a distinct slug and a title */
	for (k = 1; k < PROBLEM_COUNT; k++) {
		int j;

		assert_true(strlen(problem_title((enum problem_kind)k)) > 0);
		for (j = 1; j < k; j++)
			assert_string_not_equal(problem_slug(
			    (enum problem_kind)j),
			    problem_slug((enum problem_kind)k));
	}
	o = problem_json(PROBLEM_DIGEST_MISMATCH, "sha-256 differs");
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "type")),
	    PROBLEM_TYPE_BASE "digest-mismatch");
	assert_int_equal(json_integer_value(json_object_get(o, "status")),
	    401);
	assert_string_equal(json_string_value(json_object_get(o, "detail")),
	    "sha-256 differs");
	assert_non_null(json_object_get(o, "title"));
	json_decref(o);
	o = problem_json(PROBLEM_INTERNAL, NULL);
	assert_null(json_object_get(o, "detail"));
	json_decref(o);
	o = problem_json(PROBLEM_BAD_FIELD, "bad \xff utf-8");
	assert_non_null(json_object_get(o, "detail"));
	json_decref(o);
	s = problem_dumps(PROBLEM_REPLAY, "nonce", &len);
	assert_non_null(s);
	assert_int_equal(len, strlen(s));
	assert_non_null(strstr(s, "\"status\":409"));
	free(s);
	assert_int_equal(problem_from_errc(DT_E_SIG_FLAT),
	    PROBLEM_SIGNAL_UNUSABLE);
	assert_int_equal(problem_from_errc(DT_E_BUSY), PROBLEM_UNAVAILABLE);
	assert_int_equal(problem_from_errc(DT_E_IO), PROBLEM_INTERNAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_fast_path),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_problem_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

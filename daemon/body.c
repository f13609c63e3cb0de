/* daemon/body.c — the /v1/authenticate body; see body.h. */
#include "config.h"

#include <float.h>
#include <math.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "daemon/body.h"

static enum problem_kind
bad(struct dt_error *err, const char *field, const char *what)
{
	dt_error_set(err, DT_E_INVALID, "%s: %s", field, what);
	return PROBLEM_BAD_FIELD;
}

/* Rejects any member of o not named in allowed (NULL-terminated). */
static enum problem_kind
only_known(json_t *o, const char *where, const char *const *allowed,
    struct dt_error *err)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(o, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			dt_error_set(err, DT_E_INVALID, "%s%s%.64s: unknown "
			    "member", where, where[0] ? "." : "", key);
			return PROBLEM_BAD_FIELD;
		}
	}
	return PROBLEM_OK;
}

static bool
user_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' ||
	    ch == '@';
}

enum problem_kind
body_parse(const void *buf, size_t len, struct body_auth **out,
    struct dt_error *err)
{
	static const char *const top_keys[] = { "ecg", "claimed_user", NULL };
	static const char *const ecg_keys[] = { "fs_hz", "units", "lead",
	    "samples", NULL };
	struct body_auth *b = NULL;
	json_error_t jerr;
	json_t *root = NULL, *ecg, *v, *samples, *x;
	enum problem_kind pk;
	const char *s;
	size_t i, n;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		dt_error_set(err, DT_E_FORMAT, "body is not valid JSON "
		    "(line %d, column %d): %s", jerr.line, jerr.column,
		    jerr.text);
		return PROBLEM_BAD_JSON;
	}
	if (!json_is_object(root)) {
		pk = bad(err, "body", "must be a JSON object");
		goto out;
	}
	if ((pk = only_known(root, "", top_keys, err)) != PROBLEM_OK)
		goto out;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		goto nomem;

	if ((v = json_object_get(root, "claimed_user")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_string(v)) {
			pk = bad(err, "claimed_user", "must be a string");
			goto out;
		}
		s = json_string_value(v);
		n = json_string_length(v);
		if (n == 0 || n > BODY_USER_MAX) {
			dt_error_set(err, DT_E_INVALID, "claimed_user: must be "
			    "1 to %d characters", BODY_USER_MAX);
			pk = PROBLEM_BAD_FIELD;
			goto out;
		}
		for (i = 0; i < n; i++)
			if (!user_char_ok(s[i])) {
				pk = bad(err, "claimed_user", "may hold only "
				    "letters, digits and . _ - @");
				goto out;
			}
		memcpy(b->claimed_user, s, n + 1);
		b->has_claimed_user = true;
	}

	if ((ecg = json_object_get(root, "ecg")) == NULL) {
		pk = bad(err, "ecg", "missing");
		goto out;
	}
	if (!json_is_object(ecg)) {
		pk = bad(err, "ecg", "must be an object");
		goto out;
	}
	if ((pk = only_known(ecg, "ecg", ecg_keys, err)) != PROBLEM_OK)
		goto out;

	if ((v = json_object_get(ecg, "fs_hz")) == NULL) {
		pk = bad(err, "ecg.fs_hz", "missing");
		goto out;
	}
	if (!json_is_number(v)) {
		pk = bad(err, "ecg.fs_hz", "must be a number");
		goto out;
	}
	b->fs_hz = json_number_value(v);
	if (!(b->fs_hz >= BODY_FS_MIN && b->fs_hz <= BODY_FS_MAX)) {
		dt_error_set(err, DT_E_INVALID, "ecg.fs_hz: %g Hz outside "
		    "%g..%g", b->fs_hz, BODY_FS_MIN, BODY_FS_MAX);
		pk = PROBLEM_BAD_FIELD;
		goto out;
	}

	if ((v = json_object_get(ecg, "units")) == NULL) {
		pk = bad(err, "ecg.units", "missing");
		goto out;
	}
	if (!json_is_string(v) || strcmp(json_string_value(v), "mV") != 0 ||
	    json_string_length(v) != 2) {
		pk = bad(err, "ecg.units", "must be \"mV\"");
		goto out;
	}

	if ((v = json_object_get(ecg, "lead")) == NULL) {
		pk = bad(err, "ecg.lead", "missing");
		goto out;
	}
	if (!json_is_string(v) || strcmp(json_string_value(v), "I") != 0 ||
	    json_string_length(v) != 1) {
		pk = bad(err, "ecg.lead", "must be \"I\"");
		goto out;
	}

	if ((samples = json_object_get(ecg, "samples")) == NULL) {
		pk = bad(err, "ecg.samples", "missing");
		goto out;
	}
	if (!json_is_array(samples)) {
		pk = bad(err, "ecg.samples", "must be an array of numbers");
		goto out;
	}
	n = json_array_size(samples);
	if (n == 0) {
		pk = bad(err, "ecg.samples", "is empty");
		goto out;
	}
	if (n > BODY_SAMPLES_MAX) {
		dt_error_set(err, DT_E_INVALID, "ecg.samples: %zu samples, at "
		    "most %zu (%d s at %g Hz)", n, BODY_SAMPLES_MAX,
		    BODY_SECONDS_MAX, BODY_FS_MAX);
		pk = PROBLEM_BAD_FIELD;
		goto out;
	}
	if ((b->samples = malloc(n * sizeof(*b->samples))) == NULL)
		goto nomem;
	b->nsamples = n;
	json_array_foreach(samples, i, x) {
		double d;

		if (!json_is_number(x)) {
			dt_error_set(err, DT_E_INVALID, "ecg.samples[%zu]: "
			    "must be a number", i);
			pk = PROBLEM_BAD_FIELD;
			goto out;
		}
		d = json_number_value(x);
		/* jansson turns 1e999 into an error, but 1e300 is finite as a
		 * double and not as a float32. */
		if (!isfinite(d) || fabs(d) > FLT_MAX) {
			dt_error_set(err, DT_E_INVALID, "ecg.samples[%zu]: "
			    "not a finite float32 value", i);
			pk = PROBLEM_BAD_FIELD;
			goto out;
		}
		b->samples[i] = (float)d;
	}
	*out = b;
	b = NULL;
	pk = PROBLEM_OK;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory parsing the body");
	pk = PROBLEM_INTERNAL;
out:
	body_free(b);
	json_decref(root);
	return pk;
}

void
body_free(struct body_auth *b)
{
	if (b == NULL)
		return;
	if (b->samples != NULL) {
		sodium_memzero(b->samples, b->nsamples * sizeof(*b->samples));
		free(b->samples);
	}
	sodium_memzero(b, sizeof(*b));
	free(b);
}

/* Plain malloc blocks (so that json_dumps' strings can still be given to
 * free()), wiped over their usable size when jansson frees them. */
void *
body_wipe_malloc(size_t n)
{
	return malloc(n);
}

void
body_wipe_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

void
body_wipe_json_allocs(void)
{
	json_set_alloc_funcs(body_wipe_malloc, body_wipe_free);
}

/* end of body.c */

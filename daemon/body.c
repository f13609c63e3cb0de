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
body_parse_jansson(const void *buf, size_t len, struct body_auth **out,
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

/* --- the fast path -------------------------------------------------------- */
/*
 * A body of the usual shape — an object of "ecg" (an object of "fs_hz",
 * "units", "lead", "samples") and an optional "claimed_user", every key once
 * and spelt plainly, strings of printable ASCII without escapes, numbers in
 * JSON's grammar — is read here without a jansson value per sample.  This
 * path answers only PROBLEM_OK: on anything else (another shape, a value out
 * of range, a number it would have to round differently from strtod, a
 * malformed document) it gives up and body_parse_jansson() reads the body,
 * so the answer and its message are the reference parser's in every case.
 */
struct fast {
	const char *p, *end;
};

static void
fws(struct fast *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\t' ||
	    *f->p == '\n' || *f->p == '\r'))
		f->p++;
}

static bool
fch(struct fast *f, char c)
{
	fws(f);
	if (f->p >= f->end || *f->p != c)
		return false;
	f->p++;
	return true;
}

/* A string of printable ASCII without escapes: [*s, *s + *n). */
static bool
fstr(struct fast *f, const char **s, size_t *n)
{
	const char *q;

	if (!fch(f, '"'))
		return false;
	for (q = f->p; q < f->end && *q != '"'; q++)
		if (*q < 0x20 || *q > 0x7e || *q == '\\')
			return false;
	if (q >= f->end)
		return false;
	*s = f->p;
	*n = (size_t)(q - f->p);
	f->p = q + 1;
	return true;
}

static bool
fkey(struct fast *f, const char *want, const char *s, size_t n)
{
	return strlen(want) == n && memcmp(want, s, n) == 0;
}

/*
 * A JSON number as jansson reads it: an integer (no fraction, no exponent)
 * as int64 then double, a real as strtod, exactly.  Integers of up to 18
 * digits, reals whose digits fit 2^53 with a power of ten within 1e+-22
 * (one correctly rounded operation: Clinger's fast path), other reals by
 * strtod on the token; false for what jansson would refuse (overflow) or
 * what is not JSON.
 */
static bool
fnum(struct fast *f, double *out)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
	    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
	    1e19, 1e20, 1e21, 1e22 };
	const char *q, *start;
	uint64_t m = 0;
	int nd = 0, fd = 0, e = 0, es = 1, ne = 0, e10;
	bool neg = false, real = false;
	char tok[64];
	double d;

	fws(f);
	q = start = f->p;
	if (q < f->end && *q == '-') {
		neg = true;
		q++;
	}
	if (q >= f->end || *q < '0' || *q > '9')
		return false;
	if (*q == '0') {
		q++;
	} else {
		for (; q < f->end && *q >= '0' && *q <= '9'; q++, nd++)
			if (nd < 19)
				m = m * 10 + (uint64_t)(*q - '0');
	}
	if (q < f->end && *q == '.') {
		real = true;
		q++;
		if (q >= f->end || *q < '0' || *q > '9')
			return false;
		for (; q < f->end && *q >= '0' && *q <= '9'; q++, fd++)
			if (nd + fd < 19)
				m = m * 10 + (uint64_t)(*q - '0');
	}
	if (q < f->end && (*q == 'e' || *q == 'E')) {
		real = true;
		q++;
		if (q < f->end && (*q == '+' || *q == '-'))
			es = *q++ == '-' ? -1 : 1;
		if (q >= f->end || *q < '0' || *q > '9')
			return false;
		for (; q < f->end && *q >= '0' && *q <= '9'; q++, ne++)
			if (ne < 6)
				e = e * 10 + (*q - '0');
	}
	f->p = q;
	if (!real) {
		if (nd > 18)
			return false;	/* jansson's int64 may overflow */
		/* "-0" is the integer 0: +0.0, as jansson has it */
		*out = (double)(neg ? -(int64_t)m : (int64_t)m);
		return true;
	}
	e10 = es * e - fd;
	if (nd + fd <= 19 && ne <= 5 && m <= (UINT64_C(1) << 53) &&
	    e10 >= -22 && e10 <= 22) {
		d = e10 < 0 ? (double)m / p10[-e10] : (double)m * p10[e10];
		*out = neg ? -d : d;
		return true;
	}
	if ((size_t)(q - start) >= sizeof(tok))
		return false;
	memcpy(tok, start, (size_t)(q - start));
	tok[q - start] = '\0';
	d = strtod(tok, NULL);
	if (!isfinite(d))
		return false;	/* jansson: real number overflow */
	*out = d;
	return true;
}

/* The "ecg" object into b. */
static bool
fecg(struct fast *f, struct body_auth *b)
{
	const char *k, *v;
	size_t kn, vn, cap = 0;
	unsigned seen = 0, bit;
	double d;
	float *ns;

	if (!fch(f, '{'))
		return false;
	do {
		if (!fstr(f, &k, &kn) || !fch(f, ':'))
			return false;
		if (fkey(f, "fs_hz", k, kn)) {
			bit = 1;
			if (!fnum(f, &b->fs_hz))
				return false;
		} else if (fkey(f, "units", k, kn)) {
			bit = 2;
			if (!fstr(f, &v, &vn) || vn != 2 ||
			    memcmp(v, "mV", 2) != 0)
				return false;
		} else if (fkey(f, "lead", k, kn)) {
			bit = 4;
			if (!fstr(f, &v, &vn) || vn != 1 || *v != 'I')
				return false;
		} else if (fkey(f, "samples", k, kn)) {
			bit = 8;
			if ((seen & bit) || !fch(f, '['))
				return false;
			do {
				if (!fnum(f, &d) || !(fabs(d) <= FLT_MAX) ||
				    b->nsamples >= BODY_SAMPLES_MAX)
					return false;
				if (b->nsamples == cap) {
					/* the old block holds ECG: wiped */
					cap = cap ? 2 * cap : 4096;
					if ((ns = malloc(cap *
					    sizeof(*ns))) == NULL)
						return false;
					if (b->samples != NULL) {
						memcpy(ns, b->samples,
						    b->nsamples * sizeof(*ns));
						sodium_memzero(b->samples,
						    b->nsamples * sizeof(*ns));
						free(b->samples);
					}
					b->samples = ns;
				}
				b->samples[b->nsamples++] = (float)d;
			} while (fch(f, ','));
			if (!fch(f, ']'))
				return false;
		} else
			return false;
		if (seen & bit)
			return false;	/* a duplicate: jansson says so */
		seen |= bit;
	} while (fch(f, ','));
	return fch(f, '}') && seen == 15 && b->fs_hz >= BODY_FS_MIN &&
	    b->fs_hz <= BODY_FS_MAX;
}

static bool
fbody(struct fast *f, struct body_auth *b)
{
	const char *k, *v;
	size_t kn, vn, i;
	unsigned seen = 0;

	if (!fch(f, '{'))
		return false;
	do {
		if (!fstr(f, &k, &kn) || !fch(f, ':'))
			return false;
		if (fkey(f, "ecg", k, kn)) {
			if ((seen & 1) || !fecg(f, b))
				return false;
			seen |= 1;
		} else if (fkey(f, "claimed_user", k, kn)) {
			if (seen & 2)
				return false;
			seen |= 2;
			fws(f);
			if (f->end - f->p >= 4 && memcmp(f->p, "null", 4) == 0) {
				f->p += 4;
				continue;
			}
			if (!fstr(f, &v, &vn) || vn == 0 || vn > BODY_USER_MAX)
				return false;
			for (i = 0; i < vn; i++)
				if (!user_char_ok(v[i]))
					return false;
			memcpy(b->claimed_user, v, vn);
			b->claimed_user[vn] = '\0';
			b->has_claimed_user = true;
		} else
			return false;
	} while (fch(f, ','));
	if (!fch(f, '}') || !(seen & 1))
		return false;
	fws(f);
	return f->p == f->end;
}

enum problem_kind
body_parse(const void *buf, size_t len, struct body_auth **out,
    struct dt_error *err)
{
	struct fast f = { buf, (const char *)buf + len };
	struct body_auth *b;

	if ((b = calloc(1, sizeof(*b))) != NULL && fbody(&f, b)) {
		*out = b;
		return PROBLEM_OK;
	}
	body_free(b);
	return body_parse_jansson(buf, len, out, err);
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

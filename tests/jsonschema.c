/*
 * tests/jsonschema.c — see jsonschema.h.
 */
#include "config.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/jsonschema.h"

#define DEPTH_MAX 64
#define PATH_MAX_LEN 256

struct ctx {
	json_t *root;
	char *err;
	size_t errsize;
};

static const char *const annotations[] = {
	"description", "title", "format", "example", "examples", "default",
	"deprecated", "readOnly", "writeOnly", "$comment", NULL
};
static const char *const keywords[] = {
	"$ref", "type", "enum", "const", "properties", "required",
	"additionalProperties", "items", "minItems", "maxItems", "minimum",
	"maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
	"maxLength", "pattern", "allOf", "anyOf", "oneOf", "not", NULL
};
static const char *const type_names[] = {
	"null", "boolean", "object", "array", "number", "integer", "string",
	NULL
};

static bool
in_list(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

static int
fail(struct ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct ctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->err == NULL || c->errsize == 0)
		return -1;
	n = snprintf(c->err, c->errsize, "%s: ", path[0] ? path : "(root)");
	if (n < 0 || (size_t)n >= c->errsize)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errsize - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* --- references ----------------------------------------------------------- */
json_t *
js_pointer(json_t *root, const char *ref)
{
	char tok[256];
	const char *p;
	json_t *node = root;
	size_t n;

	if (ref == NULL || ref[0] != '#')
		return NULL;
	p = ref + 1;
	while (*p != '\0') {
		if (*p != '/')
			return NULL;
		p++;
		n = 0;
		while (*p != '\0' && *p != '/') {
			char ch = *p++;

			if (ch == '~') {
				if (*p == '0')
					ch = '~';
				else if (*p == '1')
					ch = '/';
				else
					return NULL;
				p++;
			}
			if (n + 1 >= sizeof(tok))
				return NULL;
			tok[n++] = ch;
		}
		tok[n] = '\0';
		if (json_is_object(node)) {
			node = json_object_get(node, tok);
		} else if (json_is_array(node)) {
			char *end;
			unsigned long i = strtoul(tok, &end, 10);

			if (n == 0 || *end != '\0')
				return NULL;
			node = json_array_get(node, i);
		} else {
			return NULL;
		}
		if (node == NULL)
			return NULL;
	}
	return node;
}

json_t *
js_deref(json_t *root, json_t *node)
{
	int i;

	for (i = 0; i < DEPTH_MAX && json_is_object(node); i++) {
		json_t *ref = json_object_get(node, "$ref");

		if (ref == NULL)
			return node;
		if (!json_is_string(ref))
			return NULL;
		node = js_pointer(root, json_string_value(ref));
	}
	return i < DEPTH_MAX ? node : NULL;
}

/* --- helpers -------------------------------------------------------------- */
static bool
is_integral(const json_t *v)
{
	double d;

	if (json_is_integer(v))
		return true;
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	return isfinite(d) && floor(d) == d;
}

static bool
has_type(const json_t *v, const char *t)
{
	if (strcmp(t, "null") == 0)
		return json_is_null(v);
	if (strcmp(t, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(t, "object") == 0)
		return json_is_object(v);
	if (strcmp(t, "array") == 0)
		return json_is_array(v);
	if (strcmp(t, "string") == 0)
		return json_is_string(v);
	if (strcmp(t, "number") == 0)
		return json_is_number(v);
	if (strcmp(t, "integer") == 0)
		return is_integral(v);
	return false;
}

static const char *
type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

/* JSON equality with numbers compared by value (1 == 1.0). */
static bool
equal(json_t *a, json_t *b)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	}
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach(a, key, v) {
			json_t *w = json_object_get(b, key);

			if (w == NULL || !equal(v, w))
				return false;
		}
		return true;
	}
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	return json_equal(a, b) != 0;
}

static size_t
utf8_len(const json_t *s)
{
	const unsigned char *p = (const unsigned char *)json_string_value(s);
	size_t n = json_string_length(s), i, cp = 0;

	for (i = 0; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			cp++;
	return cp;
}

static void
child_path(char *out, const char *path, const char *seg)
{
	size_t n;

	snprintf(out, PATH_MAX_LEN, "%s/", path);
	n = strlen(out);
	/* JSON pointer escaping of the segment */
	for (; *seg != '\0' && n + 3 < PATH_MAX_LEN; seg++) {
		if (*seg == '~' || *seg == '/') {
			out[n++] = '~';
			out[n++] = *seg == '~' ? '0' : '1';
		} else {
			out[n++] = *seg;
		}
	}
	out[n] = '\0';
}

static bool
nonneg_int(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* --- schema check --------------------------------------------------------- */
static int check(struct ctx *c, json_t *s, const char *where, int depth);

static int
check_list(struct ctx *c, json_t *arr, const char *where, const char *kw,
    int depth)
{
	char p[PATH_MAX_LEN];
	json_t *v;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return fail(c, where, "%s must be a non-empty array", kw);
	json_array_foreach(arr, i, v) {
		snprintf(p, sizeof(p), "%s/%s/%zu", where, kw, i);
		if (check(c, v, p, depth + 1) != 0)
			return -1;
	}
	return 0;
}

static int
check(struct ctx *c, json_t *s, const char *where, int depth)
{
	char p[PATH_MAX_LEN];
	const char *key;
	json_t *v, *w;
	size_t i;

	if (depth > DEPTH_MAX)
		return fail(c, where, "schema nested too deeply (a $ref cycle?)");
	if (json_is_boolean(s))
		return 0;
	if (!json_is_object(s))
		return fail(c, where, "a schema must be an object or a boolean");
	json_object_foreach(s, key, v) {
		if (in_list(key, annotations))
			continue;
		if (!in_list(key, keywords))
			return fail(c, where, "unsupported keyword \"%s\"", key);
		if (strcmp(key, "$ref") == 0) {
			if (!json_is_string(v))
				return fail(c, where, "$ref must be a string");
			if ((w = js_pointer(c->root, json_string_value(v))) ==
			    NULL)
				return fail(c, where, "$ref %s does not resolve",
				    json_string_value(v));
			if (check(c, w, json_string_value(v), depth + 1) != 0)
				return -1;
		} else if (strcmp(key, "type") == 0) {
			if (json_is_string(v)) {
				if (!in_list(json_string_value(v), type_names))
					return fail(c, where, "unknown type "
					    "\"%s\"", json_string_value(v));
			} else if (json_is_array(v) && json_array_size(v) > 0) {
				json_array_foreach(v, i, w)
					if (!json_is_string(w) || !in_list(
					    json_string_value(w), type_names))
						return fail(c, where, "type[%zu] "
						    "is not a type name", i);
			} else {
				return fail(c, where, "type must be a name or "
				    "an array of names");
			}
		} else if (strcmp(key, "enum") == 0) {
			if (!json_is_array(v) || json_array_size(v) == 0)
				return fail(c, where, "enum must be a non-empty "
				    "array");
		} else if (strcmp(key, "properties") == 0) {
			const char *pk;

			if (!json_is_object(v))
				return fail(c, where, "properties must be an "
				    "object");
			json_object_foreach(v, pk, w) {
				snprintf(p, sizeof(p), "%s/properties/%s",
				    where, pk);
				if (check(c, w, p, depth + 1) != 0)
					return -1;
			}
		} else if (strcmp(key, "required") == 0) {
			if (!json_is_array(v))
				return fail(c, where, "required must be an "
				    "array");
			json_array_foreach(v, i, w)
				if (!json_is_string(w))
					return fail(c, where, "required[%zu] "
					    "is not a string", i);
		} else if (strcmp(key, "additionalProperties") == 0 ||
		    strcmp(key, "items") == 0 || strcmp(key, "not") == 0) {
			snprintf(p, sizeof(p), "%s/%s", where, key);
			if (check(c, v, p, depth + 1) != 0)
				return -1;
		} else if (strcmp(key, "allOf") == 0 ||
		    strcmp(key, "anyOf") == 0 || strcmp(key, "oneOf") == 0) {
			if (check_list(c, v, where, key, depth) != 0)
				return -1;
		} else if (strcmp(key, "minItems") == 0 ||
		    strcmp(key, "maxItems") == 0 ||
		    strcmp(key, "minLength") == 0 ||
		    strcmp(key, "maxLength") == 0) {
			if (!nonneg_int(v))
				return fail(c, where, "%s must be a "
				    "non-negative integer", key);
		} else if (strcmp(key, "minimum") == 0 ||
		    strcmp(key, "maximum") == 0 ||
		    strcmp(key, "exclusiveMinimum") == 0 ||
		    strcmp(key, "exclusiveMaximum") == 0) {
			if (!json_is_number(v))
				return fail(c, where, "%s must be a number",
				    key);
		} else if (strcmp(key, "pattern") == 0) {
			regex_t re;

			if (!json_is_string(v))
				return fail(c, where, "pattern must be a "
				    "string");
			if (regcomp(&re, json_string_value(v),
			    REG_EXTENDED | REG_NOSUB) != 0)
				return fail(c, where, "pattern /%s/ is not a "
				    "POSIX extended regular expression",
				    json_string_value(v));
			regfree(&re);
		}
		/* const: any value */
	}
	return 0;
}

int
js_check_schema(json_t *root, json_t *schema, char *err, size_t errsize)
{
	struct ctx c = { root, err, errsize };

	if (err != NULL && errsize > 0)
		err[0] = '\0';
	return check(&c, schema, "#", 0);
}

/* --- validation ----------------------------------------------------------- */
static int validate(struct ctx *c, json_t *s, json_t *x, const char *path,
    int depth);

/* Validates against one branch with errors into buf (not c->err). */
static int
branch(struct ctx *c, json_t *s, json_t *x, const char *path, int depth,
    char *buf, size_t size)
{
	struct ctx sub = { c->root, buf, size };

	buf[0] = '\0';
	return validate(&sub, s, x, path, depth);
}

static int
v_type(struct ctx *c, json_t *t, json_t *x, const char *path)
{
	json_t *w;
	size_t i;

	if (json_is_string(t)) {
		if (!has_type(x, json_string_value(t)))
			return fail(c, path, "%s is not of type %s",
			    type_of(x), json_string_value(t));
		return 0;
	}
	json_array_foreach(t, i, w)
		if (has_type(x, json_string_value(w)))
			return 0;
	return fail(c, path, "%s is none of the types allowed", type_of(x));
}

static int
v_object(struct ctx *c, json_t *s, json_t *x, const char *path, int depth)
{
	json_t *props = json_object_get(s, "properties");
	json_t *addl = json_object_get(s, "additionalProperties");
	json_t *req = json_object_get(s, "required");
	char p[PATH_MAX_LEN];
	const char *key;
	json_t *v, *ps;
	size_t i;

	json_array_foreach(req, i, v)
		if (json_object_get(x, json_string_value(v)) == NULL)
			return fail(c, path, "required member \"%s\" missing",
			    json_string_value(v));
	json_object_foreach(x, key, v) {
		child_path(p, path, key);
		ps = props != NULL ? json_object_get(props, key) : NULL;
		if (ps != NULL) {
			if (validate(c, ps, v, p, depth + 1) != 0)
				return -1;
		} else if (addl != NULL) {
			if (json_is_false(addl))
				return fail(c, path, "member \"%s\" not "
				    "allowed (additionalProperties false)",
				    key);
			if (validate(c, addl, v, p, depth + 1) != 0)
				return -1;
		}
	}
	return 0;
}

static int
v_number(struct ctx *c, json_t *s, json_t *x, const char *path)
{
	double d = json_number_value(x);
	json_t *v;

	if ((v = json_object_get(s, "minimum")) != NULL &&
	    !(d >= json_number_value(v)))
		return fail(c, path, "%.17g < minimum %.17g", d,
		    json_number_value(v));
	if ((v = json_object_get(s, "maximum")) != NULL &&
	    !(d <= json_number_value(v)))
		return fail(c, path, "%.17g > maximum %.17g", d,
		    json_number_value(v));
	if ((v = json_object_get(s, "exclusiveMinimum")) != NULL &&
	    !(d > json_number_value(v)))
		return fail(c, path, "%.17g <= exclusiveMinimum %.17g", d,
		    json_number_value(v));
	if ((v = json_object_get(s, "exclusiveMaximum")) != NULL &&
	    !(d < json_number_value(v)))
		return fail(c, path, "%.17g >= exclusiveMaximum %.17g", d,
		    json_number_value(v));
	return 0;
}

static int
v_string(struct ctx *c, json_t *s, json_t *x, const char *path)
{
	size_t n = utf8_len(x);
	json_t *v;
	regex_t re;
	int rc;

	if ((v = json_object_get(s, "minLength")) != NULL &&
	    n < (size_t)json_integer_value(v))
		return fail(c, path, "length %zu < minLength %lld", n,
		    (long long)json_integer_value(v));
	if ((v = json_object_get(s, "maxLength")) != NULL &&
	    n > (size_t)json_integer_value(v))
		return fail(c, path, "length %zu > maxLength %lld", n,
		    (long long)json_integer_value(v));
	if ((v = json_object_get(s, "pattern")) != NULL) {
		if (regcomp(&re, json_string_value(v),
		    REG_EXTENDED | REG_NOSUB) != 0)
			return fail(c, path, "bad pattern /%s/",
			    json_string_value(v));
		rc = regexec(&re, json_string_value(x), 0, NULL, 0);
		regfree(&re);
		if (rc != 0)
			return fail(c, path, "\"%.80s\" does not match /%s/",
			    json_string_value(x), json_string_value(v));
	}
	return 0;
}

static int
v_array(struct ctx *c, json_t *s, json_t *x, const char *path, int depth)
{
	size_t n = json_array_size(x), i;
	char p[PATH_MAX_LEN];
	json_t *v, *items;

	if ((v = json_object_get(s, "minItems")) != NULL &&
	    n < (size_t)json_integer_value(v))
		return fail(c, path, "%zu items < minItems %lld", n,
		    (long long)json_integer_value(v));
	if ((v = json_object_get(s, "maxItems")) != NULL &&
	    n > (size_t)json_integer_value(v))
		return fail(c, path, "%zu items > maxItems %lld", n,
		    (long long)json_integer_value(v));
	if ((items = json_object_get(s, "items")) != NULL)
		json_array_foreach(x, i, v) {
			snprintf(p, sizeof(p), "%s/%zu", path, i);
			if (validate(c, items, v, p, depth + 1) != 0)
				return -1;
		}
	return 0;
}

static int
v_combine(struct ctx *c, json_t *s, json_t *x, const char *path, int depth)
{
	char buf[JS_ERR_MAX], first[JS_ERR_MAX];
	json_t *list, *v;
	size_t i, ok;

	if ((list = json_object_get(s, "allOf")) != NULL)
		json_array_foreach(list, i, v)
			if (validate(c, v, x, path, depth + 1) != 0)
				return -1;
	if ((list = json_object_get(s, "anyOf")) != NULL) {
		first[0] = '\0';
		ok = 0;
		json_array_foreach(list, i, v) {
			if (branch(c, v, x, path, depth + 1, buf,
			    sizeof(buf)) == 0) {
				ok++;
				break;
			}
			if (i == 0)
				snprintf(first, sizeof(first), "%s", buf);
		}
		if (ok == 0)
			return fail(c, path, "matches no anyOf branch (first: "
			    "%s)", first);
	}
	if ((list = json_object_get(s, "oneOf")) != NULL) {
		char errs[JS_ERR_MAX] = "";

		ok = 0;
		json_array_foreach(list, i, v) {
			if (branch(c, v, x, path, depth + 1, buf,
			    sizeof(buf)) == 0)
				ok++;
			else
				snprintf(errs + strlen(errs), sizeof(errs) -
				    strlen(errs), "%s[%zu] %s", i ? "; " : "",
				    i, buf);
		}
		if (ok != 1)
			return fail(c, path, "matches %zu oneOf branches, "
			    "not 1 (%s)", ok, ok == 0 ? errs : "");
	}
	if ((v = json_object_get(s, "not")) != NULL &&
	    branch(c, v, x, path, depth + 1, buf, sizeof(buf)) == 0)
		return fail(c, path, "matches the \"not\" schema");
	return 0;
}

static int
validate(struct ctx *c, json_t *s, json_t *x, const char *path, int depth)
{
	const char *key;
	json_t *v;
	size_t i;
	bool found;

	if (depth > DEPTH_MAX)
		return fail(c, path, "schema nested too deeply (a $ref cycle?)");
	if (json_is_true(s))
		return 0;
	if (json_is_false(s))
		return fail(c, path, "no value is allowed here");
	if (!json_is_object(s))
		return fail(c, path, "schema is not an object");
	json_object_foreach(s, key, v)
		if (!in_list(key, annotations) && !in_list(key, keywords))
			return fail(c, path, "unsupported schema keyword "
			    "\"%s\"", key);

	if ((v = json_object_get(s, "$ref")) != NULL) {
		json_t *t = json_is_string(v) ?
		    js_pointer(c->root, json_string_value(v)) : NULL;

		if (t == NULL)
			return fail(c, path, "$ref does not resolve");
		if (validate(c, t, x, path, depth + 1) != 0)
			return -1;
	}
	if ((v = json_object_get(s, "type")) != NULL &&
	    v_type(c, v, x, path) != 0)
		return -1;
	if ((v = json_object_get(s, "const")) != NULL && !equal(v, x))
		return fail(c, path, "not the constant required");
	if ((v = json_object_get(s, "enum")) != NULL) {
		json_t *e;

		found = false;
		json_array_foreach(v, i, e)
			if (equal(e, x)) {
				found = true;
				break;
			}
		if (!found) {
			if (json_is_string(x))
				return fail(c, path, "\"%.80s\" not in enum",
				    json_string_value(x));
			return fail(c, path, "%s value not in enum",
			    type_of(x));
		}
	}
	if (json_is_object(x) && v_object(c, s, x, path, depth) != 0)
		return -1;
	if (json_is_array(x) && v_array(c, s, x, path, depth) != 0)
		return -1;
	if (json_is_number(x) && v_number(c, s, x, path) != 0)
		return -1;
	if (json_is_string(x) && v_string(c, s, x, path) != 0)
		return -1;
	return v_combine(c, s, x, path, depth);
}

int
js_validate(json_t *root, json_t *schema, json_t *instance, char *err,
    size_t errsize)
{
	struct ctx c = { root, err, errsize };

	if (err != NULL && errsize > 0)
		err[0] = '\0';
	if (schema == NULL || instance == NULL)
		return fail(&c, "", "no schema or no instance");
	return validate(&c, schema, instance, "", 0);
}

/* end of jsonschema.c */

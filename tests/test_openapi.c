/*
 * tests/test_openapi.c — docs/openapi.yaml against the real dt4ecgd.
 *
 * Loads the spec ($DT4ECG_SRCDIR/docs/openapi.yaml) with libyaml into a
 * jansson tree, checks it (OpenAPI 3.1.0, every $ref resolves, every schema
 * uses only what tests/jsonschema.c implements, every problem kind of
 * proto/problem.h fits the response declared for its status), self-tests
 * the validator on documents that must fail, then starts dt4ecgd on
 * 127.0.0.1 with a temporary store (tests/dmn_harness.c) and sends every
 * class of request: for each answer the status must be declared for the
 * operation (unknown paths: components/responses/NotFound; unlisted
 * methods: MethodNotAllowed), the required response headers must be present
 * and match their schemas, and the body must match the schema of its
 * Content-Type.  Request bodies are cross-checked too: a body answered 200,
 * 422 or 503 must match the request schema, one answered 400 must not.  At
 * the end every declared status other than 500 must have been seen.
 *
 * Every wait is bounded; the daemon listens on 127.0.0.1 only.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <yaml.h>

#include "tests/cmocka_all.h"

#include "proto/digest.h"
#include "proto/httpsig.h"
#include "proto/problem.h"
#include "store/store.h"
#include "tests/dmn_harness.h"
#include "tests/jsonschema.h"
#include "tests/support.h"

#define K_MAIN 0
#define K_REVOKE 1
#define K_FLOOD 2
#define K_BODY 3

#define MAX_SEEN 128

static json_t *spec;
static struct dh H;

static const char *const recs[] = {
	"ecg-id/Person_01/rec_1", "ecg-id/Person_02/rec_1",
	"ecg-id/Person_03/rec_1", "ecg-id/Person_04/rec_1",
};
static float *sig[4];
static size_t sig_n[4];
static double sig_fs[4];

/* (path template, method, status) answered so far */
static struct seen {
	char key[96];
} seen[MAX_SEEN];
static size_t nseen;
static int n_accept, n_reject;

/* --- YAML -> jansson ------------------------------------------------------ */
static bool
all_digits(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* YAML 1.2 core schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool
is_float(const char *s)
{
	bool digits = false;

	if (*s == '-' || *s == '+')
		s++;
	while (isdigit((unsigned char)*s))
		s++, digits = true;
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s))
			s++, digits = true;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

static json_t *
scalar(const yaml_node_t *n, char *err, size_t errsize)
{
	const char *s = (const char *)n->data.scalar.value;
	char *end;
	long long ll;
	double d;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, n->data.scalar.length);
	if (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0)
		return json_false();
	if (all_digits(s)) {
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_integer(ll);
	}
	if (is_float(s)) {
		d = strtod(s, &end);
		if (*end == '\0' && isfinite(d))
			return json_real(d);
	}
	if (strcasecmp(s, ".inf") == 0 || strcasecmp(s, "-.inf") == 0 ||
	    strcasecmp(s, ".nan") == 0) {
		snprintf(err, errsize, "line %lu: %s has no JSON value",
		    (unsigned long)n->start_mark.line + 1, s);
		return NULL;
	}
	return json_stringn(s, n->data.scalar.length);
}

static json_t *
convert(yaml_document_t *doc, yaml_node_t *n, int depth, char *err,
    size_t errsize)
{
	json_t *out = NULL, *v;
	yaml_node_item_t *it;
	yaml_node_pair_t *pr;

	if (n == NULL || depth > 64) {
		snprintf(err, errsize, "YAML nested too deeply or empty");
		return NULL;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar(n, err, errsize);
	case YAML_SEQUENCE_NODE:
		if ((out = json_array()) == NULL)
			return NULL;
		for (it = n->data.sequence.items.start;
		    it < n->data.sequence.items.top; it++) {
			v = convert(doc, yaml_document_get_node(doc, *it),
			    depth + 1, err, errsize);
			if (v == NULL || json_array_append_new(out, v) != 0)
				goto fail;
		}
		return out;
	case YAML_MAPPING_NODE:
		if ((out = json_object()) == NULL)
			return NULL;
		for (pr = n->data.mapping.pairs.start;
		    pr < n->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(doc, pr->key);
			const char *key;

			if (k == NULL || k->type != YAML_SCALAR_NODE) {
				snprintf(err, errsize, "line %lu: a mapping "
				    "key is not a scalar", n == NULL ? 0 :
				    (unsigned long)n->start_mark.line + 1);
				goto fail;
			}
			key = (const char *)k->data.scalar.value;
			if (json_object_get(out, key) != NULL) {
				snprintf(err, errsize, "line %lu: duplicate "
				    "key \"%s\"",
				    (unsigned long)k->start_mark.line + 1, key);
				goto fail;
			}
			v = convert(doc, yaml_document_get_node(doc,
			    pr->value), depth + 1, err, errsize);
			if (v == NULL || json_object_set_new(out, key, v) != 0)
				goto fail;
		}
		return out;
	default:
		snprintf(err, errsize, "empty YAML node");
		return NULL;
	}
fail:
	json_decref(out);
	return NULL;
}

/* The YAML file as a jansson tree, NULL with err. */
static json_t *
yaml_load_json(const char *path, char *err, size_t errsize)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f;
	json_t *j = NULL;

	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errsize, "%.300s: %s", path, strerror(errno));
		return NULL;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		snprintf(err, errsize, "yaml_parser_initialize failed");
		return NULL;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errsize, "%.300s:%lu:%lu: %s", path,
		    (unsigned long)parser.problem_mark.line + 1,
		    (unsigned long)parser.problem_mark.column + 1,
		    parser.problem != NULL ? parser.problem : "YAML error");
	} else {
		j = convert(&doc, yaml_document_get_root_node(&doc), 0, err,
		    errsize);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return j;
}

/* --- HTTP: the harness's client (tests/dmn_harness.c) ----------------------- */
/* One request to the daemon; HEADERS NULL-ended "Name: value" lines. */
static int
request(const char *method, const char *path, const char *const *headers,
    const char *body, size_t len, struct dh_resp *r)
{
	return dh_request(&H, NULL, method, path, headers, body, len, r);
}

/* POST /v1/authenticate, signed by kiosk K (created = now + skew). */
static int
post_signed(int k, const char *body, size_t len, int64_t skew,
    const char *nonce, struct dh_resp *r)
{
	return dh_signed(&H, NULL, k, body, len, skew, nonce, r);
}

/* --- conformance ---------------------------------------------------------- */
static json_t *
spec_at(const char *ref)
{
	char ptr[512];
	json_t *j;

	snprintf(ptr, sizeof(ptr), "#%s", ref);
	if ((j = js_pointer(spec, ptr)) == NULL)
		fail_msg("spec: %s missing", ref);
	return j;
}

/* "Type/Sub; a=b" -> "type/sub;a=b" (lower case, no blanks). */
static void
norm_media(char *out, size_t size, const char *in)
{
	size_t n = 0;

	for (; *in != '\0' && n + 1 < size; in++)
		if (*in != ' ' && *in != '\t')
			out[n++] = (char)tolower((unsigned char)*in);
	out[n] = '\0';
}

static bool
is_json_media(const char *m)
{
	size_t n = strcspn(m, ";");

	return (n == 16 && strncmp(m, "application/json", 16) == 0) ||
	    (n > 5 && strncmp(m + n - 5, "+json", 5) == 0);
}

static void
note_seen(const char *path, const char *method, long status)
{
	char key[96];
	size_t i;

	snprintf(key, sizeof(key), "%s %s %ld", method, path, status);
	for (i = 0; i < nseen; i++)
		if (strcmp(seen[i].key, key) == 0)
			return;
	if (nseen < MAX_SEEN)
		snprintf(seen[nseen++].key, sizeof(seen[0].key), "%s", key);
}

/* The request body matches the operation's request schema. */
static bool
request_valid(const char *body, size_t len, char *why, size_t size)
{
	json_t *schema = spec_at("/paths/~1v1~1authenticate/post/requestBody/"
	    "content/application~1json/schema");
	json_t *j;
	json_error_t je;
	bool ok;

	if ((j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		snprintf(why, size, "not JSON: %s", je.text);
		return false;
	}
	ok = js_validate(spec, schema, j, why, size) == 0;
	json_decref(j);
	return ok;
}

/* The value of a response header as the instance its schema sees. */
static json_t *
header_instance(json_t *schema, const char *value)
{
	json_t *s = js_deref(spec, schema), *t;
	char *end;
	long long v;

	t = s != NULL ? json_object_get(s, "type") : NULL;
	if (t != NULL && json_is_string(t) &&
	    strcmp(json_string_value(t), "integer") == 0) {
		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno == 0 && end != value && *end == '\0')
			return json_integer(v);
	}
	return json_string(value);
}

/*
 * The answer R to METHOD PATH (a path of the spec, or any other) conforms
 * to the spec; returns its parsed JSON body (caller json_decref()s) when
 * the body is JSON, else NULL.
 */
static json_t *
conform(const char *method, const char *path, const struct dh_resp *r)
{
	char lower[16], status[8], why[JS_ERR_MAX], ct[160], key[160];
	json_t *item, *op = NULL, *resp, *headers, *content, *media, *h, *j;
	const char *name, *mkey, *val;
	json_error_t je;
	size_t i;

	item = json_object_get(json_object_get(spec, "paths"), path);
	for (i = 0; method[i] != '\0' && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)method[i]);
	lower[i] = '\0';
	if (item != NULL)
		op = json_object_get(item, lower);
	if (item == NULL) {
		if (r->status != 404)
			fail_msg("%s %s (not in the spec): %ld, expected 404",
			    method, path, r->status);
		resp = spec_at("/components/responses/NotFound");
	} else if (op == NULL) {
		if (r->status != 405)
			fail_msg("%s %s (method not in the spec): %ld, "
			    "expected 405", method, path, r->status);
		resp = spec_at("/components/responses/MethodNotAllowed");
	} else {
		snprintf(status, sizeof(status), "%ld", r->status);
		resp = json_object_get(json_object_get(op, "responses"),
		    status);
		if (resp == NULL)
			fail_msg("%s %s: status %ld is not declared: %s",
			    method, path, r->status, r->body);
	}
	note_seen(path, method, r->status);
	if ((resp = js_deref(spec, resp)) == NULL)
		fail_msg("%s %s %ld: response $ref does not resolve", method,
		    path, r->status);

	/* headers */
	headers = json_object_get(resp, "headers");
	json_object_foreach(headers, name, h) {
		json_t *inst;

		h = js_deref(spec, h);
		assert_non_null(h);
		val = dh_resp_header(r, name);
		if (val == NULL) {
			if (json_is_true(json_object_get(h, "required")))
				fail_msg("%s %s %ld: required header %s "
				    "missing", method, path, r->status, name);
			continue;
		}
		inst = header_instance(json_object_get(h, "schema"), val);
		assert_non_null(inst);
		if (js_validate(spec, json_object_get(h, "schema"), inst, why,
		    sizeof(why)) != 0)
			fail_msg("%s %s %ld: header %s: %s: %s", method, path,
			    r->status, name, val, why);
		json_decref(inst);
	}

	/* body (a HEAD answer has none, whatever the GET answer has) */
	content = json_object_get(resp, "content");
	if (strcmp(method, "HEAD") == 0) {
		if (r->len != 0)
			fail_msg("HEAD %s %ld: a body", path, r->status);
		return NULL;
	}
	if (content == NULL) {
		if (r->len != 0)
			fail_msg("%s %s %ld: a body where the spec declares "
			    "none", method, path, r->status);
		return NULL;
	}
	if ((val = dh_resp_header(r, "Content-Type")) == NULL)
		fail_msg("%s %s %ld: no Content-Type", method, path,
		    r->status);
	norm_media(ct, sizeof(ct), val);
	media = NULL;
	json_object_foreach(content, mkey, h) {
		norm_media(key, sizeof(key), mkey);
		if (strcmp(key, ct) == 0) {
			media = h;
			break;
		}
	}
	if (media == NULL)
		fail_msg("%s %s %ld: Content-Type \"%s\" is not declared",
		    method, path, r->status, val);
	if (is_json_media(ct)) {
		j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je);
		if (j == NULL)
			fail_msg("%s %s %ld: body is not JSON (%s): %s",
			    method, path, r->status, je.text, r->body);
	} else {
		j = json_stringn(r->body, r->len);
		if (j == NULL)
			fail_msg("%s %s %ld: body is not UTF-8 text", method,
			    path, r->status);
	}
	if (js_validate(spec, json_object_get(media, "schema"), j, why,
	    sizeof(why)) != 0)
		fail_msg("%s %s %ld: body does not match the schema: %s\n"
		    "body: %.400s", method, path, r->status, why, r->body);

	/* the request side of /v1/authenticate */
	if (op != NULL && strcmp(path, "/v1/authenticate") == 0) {
		json_t *params = json_object_get(op, "parameters"), *p;
		bool req_ok = request_valid(r->req_body, r->req_len, why,
		    sizeof(why));
		int k;

		if ((r->status == 200 || r->status == 422 ||
		    r->status == 503) && !req_ok)
			fail_msg("answered %ld, but the request body does not "
			    "match the request schema: %s", r->status, why);
		if (r->status == 400 && req_ok)
			fail_msg("answered 400 (%s), but the request body "
			    "matches the request schema", r->body);
		if (r->status == 200) {
			json_array_foreach(params, i, p) {
				const char *pn;
				bool sent = false;

				p = js_deref(spec, p);
				if (!json_is_true(json_object_get(p,
				    "required")))
					continue;
				pn = json_string_value(json_object_get(p,
				    "name"));
				for (k = 0; k < r->nreq; k++)
					if (strcasecmp(r->req_hname[k], pn) ==
					    0)
						sent = true;
				if (!sent)
					fail_msg("answered 200 without the "
					    "required header %s", pn);
			}
		}
		if (r->status == 200) {
			const char *d = json_string_value(json_object_get(j,
			    "decision"));

			if (d != NULL && strcmp(d, "accept") == 0)
				n_accept++;
			else
				n_reject++;
		}
	}
	if (!json_is_object(j) && !json_is_array(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A request that must give STATUS, conforming; returns the JSON body. */
static json_t *
expect(const char *method, const char *path, const struct dh_resp *r,
    long status)
{
	json_t *j;

	if (r->status != status)
		fail_msg("%s %s: %ld, expected %ld: %s", method, path,
		    r->status, status, r->body);
	j = conform(method, path, r);
	return j;
}

static void
expect_slug(json_t *j, const char *slug)
{
	char type[160];

	snprintf(type, sizeof(type), "%s%s", PROBLEM_TYPE_BASE, slug);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	    type);
}

static void
get(const char *method, const char *path, long status)
{
	struct dh_resp r;

	assert_int_equal(request(method, path, NULL, NULL, 0, &r), 0);
	json_decref(expect(method, path, &r, status));
	dh_resp_free(&r);
}

/* A signed POST with this body that must give STATUS (and SLUG). */
static void
post(int k, const char *body, size_t len, long status, const char *slug)
{
	struct dh_resp r;
	json_t *j;

	assert_int_equal(post_signed(k, body, len, 0, NULL, &r), 0);
	j = expect("POST", "/v1/authenticate", &r, status);
	if (slug != NULL)
		expect_slug(j, slug);
	json_decref(j);
	dh_resp_free(&r);
}

static char *
ecg_body(int i, const char *claimed, size_t *len)
{
	char *b = dh_body(sig[i], sig_n[i], sig_fs[i], claimed, len);

	assert_non_null(b);
	return b;
}

/* --- group 1: the spec and the validator ---------------------------------- */
static int
load_spec(void **state)
{
	const char *src = getenv("DT4ECG_SRCDIR");
	char path[4096], err[512];

	snprintf(path, sizeof(path), "%s/docs/openapi.yaml",
	    src != NULL ? src : ".");
	if ((spec = yaml_load_json(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

/* Every "$ref" resolves and every "schema" passes js_check_schema. */
static void
walk(json_t *node, const char *where, int depth)
{
	char err[JS_ERR_MAX], p[512];
	const char *key;
	json_t *v;
	size_t i;

	assert_true(depth < 64);
	if (json_is_object(node)) {
		json_object_foreach(node, key, v) {
			snprintf(p, sizeof(p), "%s/%s", where, key);
			if (strcmp(key, "$ref") == 0) {
				if (!json_is_string(v) || js_pointer(spec,
				    json_string_value(v)) == NULL)
					fail_msg("%s does not resolve", p);
			} else if (strcmp(key, "schema") == 0) {
				if (js_check_schema(spec, v, err,
				    sizeof(err)) != 0)
					fail_msg("%s: %s", p, err);
			}
			walk(v, p, depth + 1);
		}
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, v) {
			snprintf(p, sizeof(p), "%s/%zu", where, i);
			walk(v, p, depth + 1);
		}
	}
}

static void
spec_shape(void **state)
{
	static const char *const hdrs[] = { "Content-Digest",
	    "Signature-Input", "Signature" };
	json_t *schemas, *v, *params, *p, *item, *op, *resp;
	char err[JS_ERR_MAX];
	const char *key, *path, *method, *st;
	size_t i, k;
	bool found;

	assert_string_equal(json_string_value(json_object_get(spec,
	    "openapi")), "3.1.0");
	assert_string_equal(json_string_value(spec_at("/servers/0/url")),
	    "https://localhost:8443");
	assert_non_null(spec_at("/components/securitySchemes/kioskSignature"));
	walk(spec, "#", 0);
	schemas = spec_at("/components/schemas");
	json_object_foreach(schemas, key, v)
		if (js_check_schema(spec, v, err, sizeof(err)) != 0)
			fail_msg("components/schemas/%s: %s", key, err);
	/* the signature headers: required header parameters */
	params = spec_at("/paths/~1v1~1authenticate/post/parameters");
	for (k = 0; k < 3; k++) {
		found = false;
		json_array_foreach(params, i, p) {
			p = js_deref(spec, p);
			if (strcmp(json_string_value(json_object_get(p,
			    "name")), hdrs[k]) == 0 &&
			    strcmp(json_string_value(json_object_get(p, "in")),
			    "header") == 0 &&
			    json_is_true(json_object_get(p, "required")))
				found = true;
		}
		if (!found)
			fail_msg("%s is not a required header parameter",
			    hdrs[k]);
	}
	/* every response of every operation: a description */
	json_object_foreach(spec_at("/paths"), path, item)
		json_object_foreach(item, method, op)
			json_object_foreach(json_object_get(op, "responses"),
			    st, resp) {
				resp = js_deref(spec, resp);
				if (!json_is_string(json_object_get(resp,
				    "description")))
					fail_msg("%s %s %s: no description",
					    method, path, st);
			}
}

/* Each problem kind the daemon can produce fits the response declared for
 * its status (on /v1/authenticate; 404/405 on the fallbacks). */
static void
problem_table(void **state)
{
	char ref[160], why[JS_ERR_MAX];
	json_t *resp, *schema, *doc;
	int kind, status;

	for (kind = PROBLEM_OK + 1; kind < PROBLEM_COUNT; kind++) {
		status = problem_status((enum problem_kind)kind);
		if (status == 404)
			snprintf(ref, sizeof(ref), "/components/responses/"
			    "NotFound");
		else if (status == 405)
			snprintf(ref, sizeof(ref), "/components/responses/"
			    "MethodNotAllowed");
		else
			snprintf(ref, sizeof(ref), "/paths/~1v1~1authenticate/"
			    "post/responses/%d", status);
		resp = js_deref(spec, spec_at(ref));
		assert_non_null(resp);
		schema = json_object_get(json_object_get(json_object_get(resp,
		    "content"), "application/problem+json"), "schema");
		assert_non_null(schema);
		doc = problem_json((enum problem_kind)kind,
		    status == 404 || status == 405 ? NULL : "a detail");
		assert_non_null(doc);
		if (js_validate(spec, schema, doc, why, sizeof(why)) != 0)
			fail_msg("problem %s (%d): %s",
			    problem_slug((enum problem_kind)kind), status, why);
		json_decref(doc);
	}
}

static void
must(json_t *schema, const char *doc, bool valid)
{
	char why[JS_ERR_MAX];
	json_error_t je;
	json_t *j = json_loads(doc, JSON_DECODE_ANY, &je);
	int rc;

	if (j == NULL)
		fail_msg("test document not JSON: %s: %s", doc, je.text);
	rc = js_validate(spec, schema, j, why, sizeof(why));
	if (valid && rc != 0)
		fail_msg("%s should be valid: %s", doc, why);
	if (!valid && rc == 0)
		fail_msg("%s should be invalid", doc);
	json_decref(j);
}

static void
must_inline(const char *schema, const char *doc, bool valid)
{
	json_t *s = json_loads(schema, JSON_DECODE_ANY, NULL);

	assert_non_null(s);
	must(s, doc, valid);
	json_decref(s);
}

#define GOOD_ACCEPT \
	"\"decision\":\"accept\",\"user\":{\"id\":\"p01\"," \
	"\"display_name\":\"P\"},\"score\":0.99,\"threshold\":0.7," \
	"\"activity\":{\"label\":\"rest\",\"probability\":0.5,\"scores\":" \
	"{\"rest\":0.5,\"walk\":0.5}},\"quality\":{\"windows_used\":3," \
	"\"windows_rejected\":0,\"heart_rate_bpm\":71.5},\"model\":{\"id\":" \
	"\"m1\"},\"request_id\":\"0123456789abcdef0123456789abcdef\""

static void
validator_negative(void **state)
{
	json_t *problem = spec_at("/components/schemas/Problem");
	json_t *dec = spec_at("/components/schemas/Decision");
	json_t *req = spec_at("/components/schemas/AuthenticateRequest");
	json_t *r401 = spec_at("/components/responses/Unauthorized/content/"
	    "application~1problem+json/schema");
	char why[JS_ERR_MAX];

	/* Problem */
	must(problem, "{\"type\":\"https://dt4ecg.example/problems/x\","
	    "\"title\":\"T\",\"status\":400,\"detail\":\"d\"}", true);
	must(problem, "{\"type\":\"https://dt4ecg.example/problems/x\","
	    "\"status\":400}", false);			/* no title */
	must(problem, "{\"type\":\"https://dt4ecg.example/problems/x\","
	    "\"title\":\"T\",\"status\":\"400\"}", false);	/* type */
	must(problem, "{\"type\":\"https://dt4ecg.example/problems/x\","
	    "\"title\":\"T\",\"status\":400,\"instance\":\"/\"}", false);
	must(problem, "{\"type\":\"https://example.org/x\",\"title\":\"T\","
	    "\"status\":400}", false);			/* pattern */
	must(problem, "[]", false);
	/* a 401 with another status or slug */
	must(r401, "{\"type\":\"https://dt4ecg.example/problems/kiosk-unknown"
	    "\",\"title\":\"T\",\"status\":401}", true);
	must(r401, "{\"type\":\"https://dt4ecg.example/problems/kiosk-unknown"
	    "\",\"title\":\"T\",\"status\":403}", false);
	must(r401, "{\"type\":\"https://dt4ecg.example/problems/bad-json\","
	    "\"title\":\"T\",\"status\":401}", false);

	/* Decision */
	must(dec, "{" GOOD_ACCEPT "}", true);
	must(dec, "{" GOOD_ACCEPT ",\"reason\":\"below-threshold\"}", false);
	must(dec, "{" GOOD_ACCEPT ",\"extra\":1}", false);
	must(dec, "{\"decision\":\"reject\",\"user\":null,\"score\":null,"
	    "\"threshold\":0.7,\"activity\":{\"label\":\"\",\"probability\":0,"
	    "\"scores\":{}},\"quality\":{\"windows_used\":1,"
	    "\"windows_rejected\":2,\"heart_rate_bpm\":0},\"model\":{\"id\":"
	    "\"m1\"},\"request_id\":\"0123456789abcdef0123456789abcdef\","
	    "\"reason\":\"no-match\"}", true);
	/* a reject with a score (no oracle: 13.5a) */
	must(dec, "{\"decision\":\"reject\",\"user\":null,\"score\":0.1,"
	    "\"threshold\":0.7,\"activity\":{\"label\":\"\",\"probability\":0,"
	    "\"scores\":{}},\"quality\":{\"windows_used\":1,"
	    "\"windows_rejected\":2,\"heart_rate_bpm\":0},\"model\":{\"id\":"
	    "\"m1\"},\"request_id\":\"0123456789abcdef0123456789abcdef\","
	    "\"reason\":\"below-threshold\"}", false);
	/* reject without reason; reject with a user; unknown reason */
	must(dec, "{\"decision\":\"reject\",\"user\":null,\"score\":0.1,"
	    "\"threshold\":0.7,\"activity\":{\"label\":\"\",\"probability\":0,"
	    "\"scores\":{}},\"quality\":{\"windows_used\":1,"
	    "\"windows_rejected\":2,\"heart_rate_bpm\":0},\"model\":{\"id\":"
	    "\"m1\"},\"request_id\":\"0123456789abcdef0123456789abcdef\"}",
	    false);
	must(dec, "{\"decision\":\"reject\",\"user\":{\"id\":\"a\","
	    "\"display_name\":\"\"},\"score\":0.1,"
	    "\"threshold\":0.7,\"activity\":{\"label\":\"\",\"probability\":0,"
	    "\"scores\":{}},\"quality\":{\"windows_used\":1,"
	    "\"windows_rejected\":2,\"heart_rate_bpm\":0},\"model\":{\"id\":"
	    "\"m1\"},\"request_id\":\"0123456789abcdef0123456789abcdef\","
	    "\"reason\":\"below-threshold\"}", false);
	must(dec, "{\"decision\":\"reject\",\"user\":null,\"score\":0.1,"
	    "\"threshold\":0.7,\"activity\":{\"label\":\"\",\"probability\":0,"
	    "\"scores\":{}},\"quality\":{\"windows_used\":1,"
	    "\"windows_rejected\":2,\"heart_rate_bpm\":0},\"model\":{\"id\":"
	    "\"m1\"},\"request_id\":\"0123456789abcdef0123456789abcdef\","
	    "\"reason\":\"bad-luck\"}", false);
	must(dec, "{\"decision\":\"maybe\"}", false);
	/* nested rules: windows_used 0, probability 1.5, request id case,
	 * a non-number activity score, a missing nested member */
	must(dec, "{\"decision\":\"accept\",\"user\":{\"id\":\"p01\","
	    "\"display_name\":\"P\"},\"score\":0.99,\"threshold\":0.7,"
	    "\"activity\":{\"label\":\"rest\",\"probability\":0.5,\"scores\":"
	    "{}},\"quality\":{\"windows_used\":0,\"windows_rejected\":0,"
	    "\"heart_rate_bpm\":71.5},\"model\":{\"id\":\"m1\"},"
	    "\"request_id\":\"0123456789abcdef0123456789abcdef\"}", false);
	must(dec, "{\"decision\":\"accept\",\"user\":{\"id\":\"p01\","
	    "\"display_name\":\"P\"},\"score\":0.99,\"threshold\":0.7,"
	    "\"activity\":{\"label\":\"rest\",\"probability\":1.5,\"scores\":"
	    "{}},\"quality\":{\"windows_used\":1,\"windows_rejected\":0,"
	    "\"heart_rate_bpm\":71.5},\"model\":{\"id\":\"m1\"},"
	    "\"request_id\":\"0123456789abcdef0123456789abcdef\"}", false);
	must(dec, "{\"decision\":\"accept\",\"user\":{\"id\":\"p01\","
	    "\"display_name\":\"P\"},\"score\":0.99,\"threshold\":0.7,"
	    "\"activity\":{\"label\":\"rest\",\"probability\":0.5,\"scores\":"
	    "{}},\"quality\":{\"windows_used\":1,\"windows_rejected\":0,"
	    "\"heart_rate_bpm\":71.5},\"model\":{\"id\":\"m1\"},"
	    "\"request_id\":\"0123456789ABCDEF0123456789abcdef\"}", false);
	must(dec, "{\"decision\":\"accept\",\"user\":{\"id\":\"p01\","
	    "\"display_name\":\"P\"},\"score\":0.99,\"threshold\":0.7,"
	    "\"activity\":{\"label\":\"rest\",\"probability\":0.5,\"scores\":"
	    "{\"rest\":\"high\"}},\"quality\":{\"windows_used\":1,"
	    "\"windows_rejected\":0,\"heart_rate_bpm\":71.5},\"model\":{\"id\":"
	    "\"m1\"},\"request_id\":\"0123456789abcdef0123456789abcdef\"}",
	    false);
	must(dec, "{\"decision\":\"accept\",\"user\":{\"id\":\"p01\"},"
	    "\"score\":0.99,\"threshold\":0.7,"
	    "\"activity\":{\"label\":\"rest\",\"probability\":0.5,\"scores\":"
	    "{}},\"quality\":{\"windows_used\":1,\"windows_rejected\":0,"
	    "\"heart_rate_bpm\":71.5},\"model\":{\"id\":\"m1\"},"
	    "\"request_id\":\"0123456789abcdef0123456789abcdef\"}", false);

	/* the request body */
	must(req, "{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
	    "\"samples\":[0.1,-0.2]},\"claimed_user\":\"a.b@c-d_e\"}", true);
	must(req, "{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
	    "\"samples\":[0.1]},\"claimed_user\":null}", true);
	must(req, "{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
	    "\"samples\":[0.1]},\"claimed_user\":\"a:b\"}", false);
	must(req, "{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
	    "\"samples\":[0.1]},\"claimed_user\":\"\"}", false);
	must(req, "{\"ecg\":{\"fs_hz\":2000.5,\"units\":\"mV\",\"lead\":\"I\","
	    "\"samples\":[0.1]}}", false);
	must(req, "{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"II\","
	    "\"samples\":[0.1]}}", false);
	must(req, "{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
	    "\"samples\":[0.1],\"gain\":1}}", false);

	/* each keyword on its own */
	must_inline("{\"type\":[\"string\",\"null\"]}", "null", true);
	must_inline("{\"type\":[\"string\",\"null\"]}", "3", false);
	must_inline("{\"type\":\"integer\"}", "2.0", true);
	must_inline("{\"type\":\"integer\"}", "2.5", false);
	must_inline("{\"type\":\"number\"}", "\"2\"", false);
	must_inline("{\"type\":\"boolean\"}", "0", false);
	must_inline("{\"const\":1}", "1.0", true);
	must_inline("{\"const\":\"a\"}", "\"b\"", false);
	must_inline("{\"enum\":[1,\"x\",null]}", "null", true);
	must_inline("{\"enum\":[1,\"x\"]}", "\"y\"", false);
	must_inline("{\"minimum\":1,\"maximum\":2}", "2", true);
	must_inline("{\"minimum\":1,\"maximum\":2}", "2.0001", false);
	must_inline("{\"minimum\":1}", "0.5", false);
	must_inline("{\"exclusiveMinimum\":1}", "1", false);
	must_inline("{\"exclusiveMaximum\":1}", "1", false);
	must_inline("{\"minLength\":2,\"maxLength\":2}", "\"\\u00e9\\u00e9\"",
	    true);
	must_inline("{\"maxLength\":1}", "\"ab\"", false);
	must_inline("{\"minLength\":1}", "\"\"", false);
	must_inline("{\"pattern\":\"^[a-z]+$\"}", "\"abc\"", true);
	must_inline("{\"pattern\":\"^[a-z]+$\"}", "\"abC\"", false);
	must_inline("{\"items\":{\"type\":\"number\"},\"minItems\":1,"
	    "\"maxItems\":2}", "[1,2]", true);
	must_inline("{\"items\":{\"type\":\"number\"}}", "[1,\"2\"]", false);
	must_inline("{\"minItems\":1}", "[]", false);
	must_inline("{\"maxItems\":1}", "[1,2]", false);
	must_inline("{\"required\":[\"a\"]}", "{\"b\":1}", false);
	must_inline("{\"properties\":{\"a\":{\"type\":\"string\"}}}",
	    "{\"a\":1}", false);
	must_inline("{\"additionalProperties\":{\"type\":\"number\"}}",
	    "{\"a\":\"x\"}", false);
	must_inline("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}",
	    "1", false);
	must_inline("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}",
	    "null", true);
	must_inline("{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}",
	    "1", false);				/* both match */
	must_inline("{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}",
	    "1.5", true);
	must_inline("{\"allOf\":[{\"type\":\"number\"},{\"minimum\":3}]}", "2",
	    false);
	must_inline("{\"not\":{\"required\":[\"detail\"]}}",
	    "{\"detail\":\"x\"}", false);
	must_inline("false", "1", false);
	/* what the validator does not implement is an error, not a pass */
	must_inline("{\"patternProperties\":{}}", "{}", false);
	must_inline("{\"$ref\":\"#/nowhere\"}", "1", false);
	{
		json_t *s = json_loads("{\"uniqueItems\":true}", 0, NULL);

		assert_non_null(s);
		assert_int_not_equal(js_check_schema(spec, s, why,
		    sizeof(why)), 0);
		json_decref(s);
	}
}

/* --- group 2: the real daemon --------------------------------------------- */
static int
daemon_setup(void **state)
{
	static const char conf[] =
	    "threads = 2\nthreshold = 0.999\nclock_skew_s = 60\n"
	    "replay_window_s = 180\nrate_per_kiosk = 0.2\nrate_burst = 60\n"
	    "max_body = 262144\ntimeout_s = 20\n";
	int i;

	if (dh_init(&H, conf) != 0 || dh_model(&H, "m-openapi", 7) != 0)
		return -1;
	for (i = 0; i < 4; i++)
		if (tt_load_wfdb(recs[i], &sig[i], &sig_n[i], &sig_fs[i]) != 0)
			return -1;
	/* p01..p03 enrolled (templates at activation); person 4 is not */
	if (dh_member(&H, "p01", "Person One", recs[0], false) != 0 ||
	    dh_member(&H, "p02", "Person Two", recs[1], false) != 0 ||
	    dh_member(&H, "p03", "Person Three", recs[2], false) != 0)
		return -1;
	if (dh_start(&H, false, 120) != 0)
		return -1;
	return 0;
}

static int
daemon_teardown(void **state)
{
	int i;

	for (i = 0; i < 4; i++)
		free(sig[i]);
	dh_cleanup(&H);
	return 0;
}

static void
no_model(void **state)
{
	struct dh_resp r;
	json_t *j;
	char *b;
	size_t len;

	get("GET", "/v1/health", 200);
	get("HEAD", "/v1/health", 200);
	assert_int_equal(request("GET", "/v1/ready", NULL, NULL, 0, &r), 0);
	j = expect("GET", "/v1/ready", &r, 503);
	expect_slug(j, "no-active-model");
	json_decref(j);
	dh_resp_free(&r);
	get("HEAD", "/v1/ready", 503);
	b = ecg_body(0, NULL, &len);
	post(K_MAIN, b, len, 503, "no-active-model");
	free(b);
}

static void
not_found_and_methods(void **state)
{
	get("GET", "/nope", 404);
	get("POST", "/v1/authenticate/", 404);
	get("GET", "/v1/authenticate", 405);
	get("HEAD", "/v1/authenticate", 405);
	get("DELETE", "/v1/health", 405);
	get("POST", "/v1/ready", 405);
	get("PUT", "/metrics", 405);
}

static void
ready(void **state)
{
	struct dh_resp r;
	json_t *j;
	int i;

	assert_int_equal(dh_activate(&H), 0);
	for (i = 0; i < 300; i++) {
		assert_int_equal(request("GET", "/v1/ready", NULL, NULL, 0,
		    &r), 0);
		if (r.status == 200)
			break;
		json_decref(conform("GET", "/v1/ready", &r));
		dh_resp_free(&r);
		usleep(100 * 1000);
	}
	j = expect("GET", "/v1/ready", &r, 200);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "model"), "id")), "m-openapi");
	json_decref(j);
	dh_resp_free(&r);
	get("HEAD", "/v1/ready", 200);
}

static void
decisions(void **state)
{
	static const struct {
		int rec;
		const char *claim;
	} cases[] = {
		{ 0, NULL },		/* 1:N, enrolled: accept */
		{ 1, "p02" },		/* 1:1, right member: accept */
		{ 3, NULL },		/* 1:N, stranger: reject */
		{ 2, "p01" },		/* 1:1, wrong member: reject */
		{ 3, "nobody" },	/* 1:1, unknown: reject, score null */
	};
	size_t i, len;
	char *b;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = ecg_body(cases[i].rec, cases[i].claim, &len);
		post(K_MAIN, b, len, 200, NULL);
		free(b);
	}
	/* both branches of Decision's oneOf were exercised */
	assert_true(n_accept >= 1);
	assert_true(n_reject >= 1);
}

static void
bad_requests_400(void **state)
{
	static const char *const bad_json[] = {
		"{", "", "{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":"
		"\"I\",\"samples\":[NaN]}}",
		"{\"ecg\":1,\"ecg\":2}",
	};
	static const char *const bad_field[] = {
		"[]", "{}", "{\"ecg\":[1]}",
		"{\"ecg\":{\"fs_hz\":\"250\",\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]}}",
		"{\"ecg\":{\"fs_hz\":49,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"uV\",\"lead\":\"I\","
		"\"samples\":[0.1]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"II\","
		"\"samples\":[0.1]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1,\"x\"]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1,1e39]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1],\"gain\":2}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]},\"claimed_usr\":\"p01\"}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]},\"claimed_user\":17}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]},\"claimed_user\":\"a:b\"}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]},\"claimed_user\":\"\"}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]},\"claimed_user\":\"0123456789012345678901"
		"2345678901234567890123456789012345678901234\"}",
	};
	size_t i, n = 120001, p = 0;
	char *huge;

	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++)
		post(K_BODY, bad_json[i], strlen(bad_json[i]), 400,
		    "bad-json");
	for (i = 0; i < sizeof(bad_field) / sizeof(bad_field[0]); i++)
		post(K_BODY, bad_field[i], strlen(bad_field[i]), 400,
		    "bad-field");
	/* more samples than 60 s at 2 kHz, under max_body */
	huge = malloc(n * 2 + 128);
	assert_non_null(huge);
	p += (size_t)sprintf(huge, "{\"ecg\":{\"fs_hz\":2000,\"units\":\"mV\","
	    "\"lead\":\"I\",\"samples\":[");
	for (i = 0; i < n; i++)
		p += (size_t)sprintf(huge + p, i ? ",0" : "0");
	p += (size_t)sprintf(huge + p, "]}}");
	post(K_BODY, huge, p, 400, "bad-field");
	free(huge);
}

/* POST with hand-made headers (NULL: header absent). */
static void
raw(const char *ctype, const char *digest, const char *si, const char *sg,
    const char *body, size_t len, long status, const char *slug)
{
	struct dh_resp r;
	json_t *j;

	assert_int_equal(dh_post(&H, NULL, ctype, digest, si, sg, body, len,
	    &r), 0);
	j = expect("POST", "/v1/authenticate", &r, status);
	if (slug != NULL)
		expect_slug(j, slug);
	json_decref(j);
	dh_resp_free(&r);
}

static void
sign_as(const char *keyid, const unsigned char *sk, const char *digest,
    int64_t created, char *si, char *sg)
{
	struct dt_error err = { 0 };
	char nonce[32];

	assert_int_equal(httpsig_nonce(nonce, sizeof(nonce)), 0);
	assert_int_equal(httpsig_sign_kiosk("POST", "/v1/authenticate", digest,
	    keyid, created, nonce, sk, si, 1024, sg, 256, &err), 0);
}

static void
unauthorized_401(void **state)
{
	struct dt_error err = { 0 };
	char digest[DIGEST_HEADER_BUF], other[DIGEST_HEADER_BUF];
	char si[1024], sg[256];
	int64_t now = (int64_t)time(NULL);
	size_t len;
	char *b = ecg_body(0, NULL, &len);

	assert_int_equal(digest_header(DIGEST_SHA256, b, len, digest,
	    sizeof(digest), &err), 0);
	assert_int_equal(digest_header(DIGEST_SHA256, "x", 1, other,
	    sizeof(other), &err), 0);
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], digest, now, si, sg);
	raw("application/json", NULL, si, sg, b, len, 401, "digest-missing");
	/* the signature covers Content-Digest: a header other than the
	 * signed one fails the signature; a bad one signed as it is, the
	 * digest check */
	raw("application/json", "sha-256=:!!!:", si, sg, b, len, 401,
	    "signature-invalid");
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], "sha-256=:!!!:", now, si,
	    sg);
	raw("application/json", "sha-256=:!!!:", si, sg, b, len, 401,
	    "digest-malformed");
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], "md5=:AAAA:", now, si, sg);
	raw("application/json", "md5=:AAAA:", si, sg, b, len, 401,
	    "digest-unsupported");
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], digest, now, si, sg);
	raw("application/json", digest, NULL, NULL, b, len, 401,
	    "signature-missing");
	raw("application/json", digest, "sig1=(", sg, b, len, 401,
	    "signature-malformed");
	/* a digest of another body, signed consistently */
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], other, now, si, sg);
	raw("application/json", other, si, sg, b, len, 401,
	    "digest-mismatch");
	/* kiosk-1's keyid, another kiosk's key */
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_BODY], digest, now, si, sg);
	raw("application/json", digest, si, sg, b, len, 401,
	    "signature-invalid");
	sign_as("kiosk-99", H.sk[K_MAIN], digest, now, si, sg);
	raw("application/json", digest, si, sg, b, len, 401, "kiosk-unknown");
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], digest, now - 3600, si, sg);
	raw("application/json", digest, si, sg, b, len, 401,
	    "signature-expired");
	/* a revoked kiosk (revoked while the daemon runs) */
	assert_int_equal(store_kiosk_revoke(H.s, H.kiosk_id[K_REVOKE], &err),
	    0);
	post(K_REVOKE, b, len, 401, "kiosk-revoked");
	free(b);
}

static void
replay_409(void **state)
{
	char nonce[32], *b;
	struct dh_resp r;
	json_t *j;
	size_t len;

	b = ecg_body(1, NULL, &len);
	assert_int_equal(httpsig_nonce(nonce, sizeof(nonce)), 0);
	assert_int_equal(post_signed(K_MAIN, b, len, 0, nonce, &r), 0);
	json_decref(expect("POST", "/v1/authenticate", &r, 200));
	dh_resp_free(&r);
	assert_int_equal(post_signed(K_MAIN, b, len, 0, nonce, &r), 0);
	j = expect("POST", "/v1/authenticate", &r, 409);
	expect_slug(j, "replayed-nonce");
	json_decref(j);
	dh_resp_free(&r);
	free(b);
}

static void
too_large_413_and_415(void **state)
{
	size_t n = 300 * 1024;
	char *big = malloc(n);

	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	post(K_MAIN, big, n, 413, "body-too-large");
	free(big);
	raw("text/plain", NULL, NULL, NULL, "{}", 2, 415,
	    "unsupported-media-type");
	raw(NULL, NULL, NULL, NULL, "{}", 2, 415, "unsupported-media-type");
	raw("application/jsonx", NULL, NULL, NULL, "{}", 2, 415,
	    "unsupported-media-type");
}

static void
unusable_422(void **state)
{
	float *flat = calloc(2000, sizeof(float));
	char *b;
	size_t len;

	assert_non_null(flat);
	b = dh_body(flat, 2000, 250, NULL, &len);	/* 8 s, flat */
	assert_non_null(b);
	post(K_MAIN, b, len, 422, "signal-unusable");
	free(b);
	b = dh_body(flat, 100, 250, "p01", &len);	/* too short */
	assert_non_null(b);
	post(K_MAIN, b, len, 422, "signal-unusable");
	free(b);
	free(flat);
}

static void
rate_limited_429(void **state)
{
	struct dh_resp r;
	json_t *j;
	int i, got = 0;

	for (i = 0; i < 300 && !got; i++) {
		assert_int_equal(post_signed(K_FLOOD, "{", 1, 0, NULL, &r), 0);
		if (r.status == 429) {
			j = expect("POST", "/v1/authenticate", &r, 429);
			expect_slug(j, "rate-limited");
			json_decref(j);
			assert_non_null(dh_resp_header(&r, "Retry-After"));
			got = 1;
		} else {
			json_decref(expect("POST", "/v1/authenticate", &r,
			    400));
		}
		dh_resp_free(&r);
	}
	assert_true(got);
}

static void
metrics(void **state)
{
	struct dh_resp r;

	assert_int_equal(request("GET", "/metrics", NULL, NULL, 0, &r), 0);
	json_decref(expect("GET", "/metrics", &r, 200));
	assert_non_null(strstr(r.body, "dt4ecg_model_info{model=\"m-openapi\""));
	dh_resp_free(&r);
	get("HEAD", "/metrics", 200);
}

static void
stop_exit_0(void **state)
{
	int status = -1;

	assert_int_equal(dh_stop(&H, 60, &status), 0);
	assert_int_equal(status, 0);
}

/* Every status the spec declares (but 500) was answered at least once. */
static void
coverage(void **state)
{
	const char *path, *method, *st;
	json_t *item, *op, *v;
	char key[96];
	size_t i;
	int missing = 0;

	json_object_foreach(spec_at("/paths"), path, item)
		json_object_foreach(item, method, op) {
			char up[16];

			for (i = 0; method[i] != '\0' && i + 1 < sizeof(up);
			    i++)
				up[i] = (char)toupper((unsigned char)method[i]);
			up[i] = '\0';
			json_object_foreach(json_object_get(op, "responses"),
			    st, v) {
				bool hit = false;

				if (strcmp(st, "500") == 0)
					continue;
				snprintf(key, sizeof(key), "%s %s %s", up,
				    path, st);
				for (i = 0; i < nseen; i++)
					if (strcmp(seen[i].key, key) == 0)
						hit = true;
				if (!hit) {
					fprintf(stderr, "not exercised: %s\n",
					    key);
					missing++;
				}
			}
		}
	assert_int_equal(missing, 0);
}

int
main(void)
{
	const struct CMUnitTest spec_tests[] = {
		cmocka_unit_test(spec_shape),
		cmocka_unit_test(problem_table),
		cmocka_unit_test(validator_negative),
	};
	const struct CMUnitTest daemon_tests[] = {
		cmocka_unit_test(no_model),
		cmocka_unit_test(not_found_and_methods),
		cmocka_unit_test(ready),
		cmocka_unit_test(decisions),
		cmocka_unit_test(bad_requests_400),
		cmocka_unit_test(unauthorized_401),
		cmocka_unit_test(replay_409),
		cmocka_unit_test(too_large_413_and_415),
		cmocka_unit_test(unusable_422),
		cmocka_unit_test(rate_limited_429),
		cmocka_unit_test(metrics),
		cmocka_unit_test(stop_exit_0),
		cmocka_unit_test(coverage),
	};
	const char *data = getenv("DT4ECG_DATA");
	char probe[4096];
	int rc;

	if (load_spec(NULL) != 0)
		return 1;
	rc = cmocka_run_group_tests_name("openapi-spec", spec_tests, NULL,
	    NULL);
	if (rc != 0)
		goto out;
	snprintf(probe, sizeof(probe), "%s/ecg-id/Person_01/rec_1.hea",
	    data != NULL ? data : "../shared/data");
	if (data == NULL || access(probe, R_OK) != 0) {
		fprintf(stderr, "SKIP: no ECG-ID data in $DT4ECG_DATA\n");
		rc = 77;
		goto out;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests_name("openapi-daemon", daemon_tests,
	    daemon_setup, daemon_teardown);
	curl_global_cleanup();
out:
	json_decref(spec);
	return rc;
}

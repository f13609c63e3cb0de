/* proto/httpsig.c — RFC 9421 HTTP Message Signatures; see httpsig.h. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "proto/httpsig.h"
#include "proto/sfv.h"

static const char *const param_names[HTTPSIG_P_COUNT] = {
	[HTTPSIG_P_CREATED] = "created",
	[HTTPSIG_P_EXPIRES] = "expires",
	[HTTPSIG_P_NONCE] = "nonce",
	[HTTPSIG_P_ALG] = "alg",
	[HTTPSIG_P_KEYID] = "keyid",
	[HTTPSIG_P_TAG] = "tag",
};

static const char *const kiosk_components[] = {
	"@method", "@path", "content-digest",
};

const struct httpsig_policy httpsig_kiosk_policy = {
	.components = kiosk_components,
	.ncomponents = sizeof(kiosk_components) / sizeof(kiosk_components[0]),
	.require = {
		[HTTPSIG_P_CREATED] = true,
		[HTTPSIG_P_NONCE] = true,
		[HTTPSIG_P_ALG] = true,
		[HTTPSIG_P_KEYID] = true,
	},
	.allow = {
		[HTTPSIG_P_CREATED] = true,
		[HTTPSIG_P_EXPIRES] = true,
		[HTTPSIG_P_NONCE] = true,
		[HTTPSIG_P_ALG] = true,
		[HTTPSIG_P_KEYID] = true,
	},
};

const char *
httpsig_param_name(enum httpsig_param param)
{
	if ((unsigned)param >= HTTPSIG_P_COUNT)
		return "?";
	return param_names[param];
}

static bool
derived_supported(const char *name)
{
	return strcmp(name, "@method") == 0 || strcmp(name, "@path") == 0 ||
	    strcmp(name, "@authority") == 0;
}

/* A lower-case HTTP field name (RFC 9110 token) or a supported derived
 * component. */
static bool
component_name_ok(const char *name)
{
	const char *s;

	if (name[0] == '\0')
		return false;
	if (name[0] == '@')
		return derived_supported(name);
	for (s = name; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			continue;
		if (strchr("!#$%&'*+-.^_`|~", ch) == NULL)
			return false;
	}
	return true;
}

static enum problem_kind
malformed(struct dt_error *err, const char *hdr, const char *what)
{
	dt_error_set(err, DT_E_FORMAT, "%s: %s", hdr, what);
	return PROBLEM_SIG_MALFORMED;
}

/* One Signature-Input member value: inner list of strings + parameters. */
static enum problem_kind
parse_inner_list(struct sfv_cur *c, struct httpsig_params *p,
    struct dt_error *err)
{
	static const char hdr[] = "Signature-Input";
	char name[SFV_KEY_MAX];
	size_t i;
	int ch;

	if (sfv_peek(c) != '(')
		return malformed(err, hdr, "member is not an inner list");
	c->p++;
	for (;;) {
		sfv_skip_sp(c);
		if ((ch = sfv_peek(c)) == ')') {
			c->p++;
			break;
		}
		if (ch != '"')
			return malformed(err, hdr,
			    "component is not a quoted string");
		if (p->ncomponents == HTTPSIG_MAX_COMPONENTS)
			return malformed(err, hdr, "too many components");
		if (sfv_string(c, p->components[p->ncomponents],
		    HTTPSIG_NAME_MAX) != 0)
			return malformed(err, hdr,
			    "component name malformed or too long");
		if (sfv_peek(c) == ';')
			return malformed(err, hdr,
			    "component parameters are not supported");
		if (!component_name_ok(p->components[p->ncomponents])) {
			dt_error_set(err, DT_E_FORMAT,
			    "Signature-Input: component \"%s\" is not a "
			    "lower-case field name or a supported derived "
			    "component", p->components[p->ncomponents]);
			return PROBLEM_SIG_MALFORMED;
		}
		for (i = 0; i < p->ncomponents; i++)
			if (strcmp(p->components[i],
			    p->components[p->ncomponents]) == 0) {
				dt_error_set(err, DT_E_FORMAT,
				    "Signature-Input: component \"%s\" "
				    "listed twice", p->components[i]);
				return PROBLEM_SIG_MALFORMED;
			}
		p->ncomponents++;
		ch = sfv_peek(c);
		if (ch != ' ' && ch != ')')
			return malformed(err, hdr,
			    "components must be separated by spaces");
	}
	/* parameters */
	while (sfv_peek(c) == ';') {
		enum httpsig_param which = HTTPSIG_P_COUNT;
		size_t k;

		c->p++;
		sfv_skip_sp(c);
		if (sfv_key(c, name, sizeof(name)) != 0)
			return malformed(err, hdr, "parameter name malformed");
		for (k = 0; k < HTTPSIG_P_COUNT; k++)
			if (strcmp(name, param_names[k]) == 0)
				which = (enum httpsig_param)k;
		if (which == HTTPSIG_P_COUNT) {
			dt_error_set(err, DT_E_INVALID,
			    "Signature-Input: unknown parameter \"%s\"", name);
			return PROBLEM_SIG_PARAMS;
		}
		if (p->has[which]) {
			dt_error_set(err, DT_E_FORMAT,
			    "Signature-Input: parameter %s given twice", name);
			return PROBLEM_SIG_MALFORMED;
		}
		if (sfv_peek(c) != '=') {
			dt_error_set(err, DT_E_FORMAT,
			    "Signature-Input: parameter %s has no value", name);
			return PROBLEM_SIG_MALFORMED;
		}
		c->p++;
		switch (which) {
		case HTTPSIG_P_CREATED:
		case HTTPSIG_P_EXPIRES:
			if (sfv_integer(c, which == HTTPSIG_P_CREATED ?
			    &p->created : &p->expires) != 0) {
				dt_error_set(err, DT_E_FORMAT,
				    "Signature-Input: parameter %s is not an "
				    "integer", name);
				return PROBLEM_SIG_MALFORMED;
			}
			break;
		default:
			if (sfv_string(c, which == HTTPSIG_P_NONCE ? p->nonce :
			    which == HTTPSIG_P_ALG ? p->alg :
			    which == HTTPSIG_P_KEYID ? p->keyid : p->tag,
			    HTTPSIG_VALUE_MAX) != 0) {
				dt_error_set(err, DT_E_FORMAT,
				    "Signature-Input: parameter %s is not a "
				    "string of at most %d characters", name,
				    HTTPSIG_VALUE_MAX - 1);
				return PROBLEM_SIG_MALFORMED;
			}
			break;
		}
		p->has[which] = true;
		p->order[p->nparams++] = which;
	}
	return PROBLEM_OK;
}

static bool
header_present(const char *h)
{
	return h != NULL && h[strspn(h, " \t")] != '\0';
}

enum problem_kind
httpsig_parse(const char *sig_input, const char *signature, const char *label,
    struct httpsig_sig *out, struct dt_error *err)
{
	struct httpsig_params tmp;
	struct httpsig_params *sel = NULL;
	char seen[HTTPSIG_MAX_MEMBERS][HTTPSIG_NAME_MAX];
	char key[HTTPSIG_NAME_MAX];
	unsigned char raw[HTTPSIG_HEADER_MAX];
	struct httpsig_params selected;
	const char *b64 = NULL;
	size_t b64len = 0, rawlen, nseen = 0, i, len;
	struct sfv_cur c;
	enum problem_kind pk;
	int r;

	if (!header_present(sig_input) || !header_present(signature)) {
		dt_error_set(err, DT_E_INVALID, "%s header missing",
		    header_present(sig_input) ? "Signature" :
		    "Signature-Input");
		return PROBLEM_SIG_MISSING;
	}

	/* Signature-Input: dictionary of inner lists. */
	if ((len = strlen(sig_input)) > HTTPSIG_HEADER_MAX) {
		pk = malformed(err, "Signature-Input", "header too long");
		goto out;
	}
	sfv_init(&c, sig_input, len);
	sfv_skip_sp(&c);
	for (;;) {
		if (sfv_key(&c, key, sizeof(key)) != 0) {
			pk = malformed(err, "Signature-Input",
			    "member label malformed");
			goto out;
		}
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], key) == 0) {
				dt_error_set(err, DT_E_FORMAT,
				    "Signature-Input: label %s given twice",
				    key);
				pk = PROBLEM_SIG_MALFORMED;
				goto out;
			}
		if (nseen == HTTPSIG_MAX_MEMBERS) {
			pk = malformed(err, "Signature-Input",
			    "too many signatures");
			goto out;
		}
		memcpy(seen[nseen++], key, sizeof(key));
		if (sfv_peek(&c) != '=') {
			pk = malformed(err, "Signature-Input",
			    "member has no value");
			goto out;
		}
		c.p++;
		memset(&tmp, 0, sizeof(tmp));
		if ((pk = parse_inner_list(&c, &tmp, err)) != PROBLEM_OK)
			goto out;
		memcpy(tmp.label, key, sizeof(key));
		if (sel == NULL && (label == NULL || strcmp(label, key) == 0)) {
			selected = tmp;
			sel = &selected;
		}
		if ((r = sfv_dict_next(&c)) < 0) {
			pk = malformed(err, "Signature-Input",
			    "junk after member");
			goto out;
		}
		if (r == 1)
			break;
	}
	if (sel == NULL) {
		dt_error_set(err, DT_E_INVALID,
		    "Signature-Input: no signature labelled %s", label);
		pk = PROBLEM_SIG_MISSING;
		goto out;
	}

	/* Signature: dictionary of byte sequences. */
	if ((len = strlen(signature)) > HTTPSIG_HEADER_MAX) {
		pk = malformed(err, "Signature", "header too long");
		goto out;
	}
	sfv_init(&c, signature, len);
	sfv_skip_sp(&c);
	nseen = 0;
	for (;;) {
		const char *v;
		size_t vlen;

		if (sfv_key(&c, key, sizeof(key)) != 0) {
			pk = malformed(err, "Signature",
			    "member label malformed");
			goto out;
		}
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], key) == 0) {
				dt_error_set(err, DT_E_FORMAT,
				    "Signature: label %s given twice", key);
				pk = PROBLEM_SIG_MALFORMED;
				goto out;
			}
		if (nseen == HTTPSIG_MAX_MEMBERS) {
			pk = malformed(err, "Signature", "too many signatures");
			goto out;
		}
		memcpy(seen[nseen++], key, sizeof(key));
		if (sfv_peek(&c) != '=' || (c.p++, sfv_peek(&c)) != ':') {
			pk = malformed(err, "Signature",
			    "member is not a byte sequence");
			goto out;
		}
		if (sfv_bytes(&c, &v, &vlen) != 0) {
			dt_error_set(err, DT_E_FORMAT, "Signature: %s: byte "
			    "sequence has a character outside base64 or no "
			    "closing colon", key);
			pk = PROBLEM_SIG_BASE64;
			goto out;
		}
		if (sfv_peek(&c) == ';') {
			pk = malformed(err, "Signature",
			    "member parameters are not allowed");
			goto out;
		}
		if (strcmp(key, sel->label) == 0) {
			b64 = v;
			b64len = vlen;
		}
		if ((r = sfv_dict_next(&c)) < 0) {
			pk = malformed(err, "Signature", "junk after member");
			goto out;
		}
		if (r == 1)
			break;
	}
	if (b64 == NULL) {
		dt_error_set(err, DT_E_INVALID,
		    "Signature: no signature labelled %s", sel->label);
		pk = PROBLEM_SIG_MALFORMED;
		goto out;
	}
	if (sodium_base642bin(raw, sizeof(raw), b64, b64len, NULL, &rawlen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		dt_error_set(err, DT_E_FORMAT,
		    "Signature: %s: invalid base64", sel->label);
		pk = PROBLEM_SIG_BASE64;
		goto out;
	}
	if (rawlen != HTTPSIG_SIG_BYTES) {
		dt_error_set(err, DT_E_FORMAT, "Signature: %s: %zu bytes, an "
		    "Ed25519 signature has %d", sel->label, rawlen,
		    HTTPSIG_SIG_BYTES);
		pk = PROBLEM_SIG_MALFORMED;
		goto out;
	}
	out->params = *sel;
	memcpy(out->sig, raw, HTTPSIG_SIG_BYTES);
	pk = PROBLEM_OK;
out:
	return pk;
}

enum problem_kind
httpsig_check(const struct httpsig_params *p, const struct httpsig_policy *pol,
    int64_t now, int64_t skew_s, struct dt_error *err)
{
	size_t i, j;
	int k;

	for (i = 0; i < pol->ncomponents; i++) {
		for (j = 0; j < p->ncomponents; j++)
			if (strcmp(pol->components[i], p->components[j]) == 0)
				break;
		if (j == p->ncomponents) {
			dt_error_set(err, DT_E_INVALID, "Signature-Input: "
			    "required component \"%s\" is not covered",
			    pol->components[i]);
			return PROBLEM_SIG_COMPONENT;
		}
	}
	for (k = 0; k < HTTPSIG_P_COUNT; k++) {
		if (pol->require[k] && !p->has[k]) {
			dt_error_set(err, DT_E_INVALID, "Signature-Input: "
			    "required parameter %s missing", param_names[k]);
			return PROBLEM_SIG_PARAMS;
		}
		if (p->has[k] && !pol->allow[k]) {
			dt_error_set(err, DT_E_INVALID, "Signature-Input: "
			    "parameter %s not accepted", param_names[k]);
			return PROBLEM_SIG_PARAMS;
		}
	}
	if (p->has[HTTPSIG_P_ALG] && strcmp(p->alg, HTTPSIG_ALG) != 0) {
		dt_error_set(err, DT_E_UNSUPPORTED, "Signature-Input: alg "
		    "\"%s\" not accepted, only \"" HTTPSIG_ALG "\"", p->alg);
		return PROBLEM_SIG_ALG;
	}
	if (p->has[HTTPSIG_P_CREATED] && skew_s >= 0 &&
	    (p->created > now + skew_s || p->created < now - skew_s)) {
		dt_error_set(err, DT_E_INVALID, "Signature-Input: created %"
		    PRId64 " is %" PRId64 " s from the server clock, more "
		    "than the allowed %" PRId64 " s", p->created,
		    p->created - now, skew_s);
		return PROBLEM_SIG_CREATED;
	}
	if (p->has[HTTPSIG_P_EXPIRES] && p->expires <= now) {
		dt_error_set(err, DT_E_INVALID, "Signature-Input: expired at %"
		    PRId64, p->expires);
		return PROBLEM_SIG_CREATED;
	}
	return PROBLEM_OK;
}

int
httpsig_params_serialize(const struct httpsig_params *p, char *buf,
    size_t size, size_t *len)
{
	size_t pos = 0, i;
	int n;

	if (size < 2)
		return -1;
	buf[pos++] = '(';
	for (i = 0; i < p->ncomponents; i++) {
		if (i > 0) {
			if (pos + 1 >= size)
				return -1;
			buf[pos++] = ' ';
		}
		if (sfv_put_string(buf, size, &pos, p->components[i]) != 0)
			return -1;
	}
	if (pos + 1 >= size)
		return -1;
	buf[pos++] = ')';
	buf[pos] = '\0';
	for (i = 0; i < p->nparams; i++) {
		enum httpsig_param k = p->order[i];
		const char *s;

		n = snprintf(buf + pos, size - pos, ";%s=", param_names[k]);
		if (n < 0 || (size_t)n >= size - pos)
			return -1;
		pos += (size_t)n;
		switch (k) {
		case HTTPSIG_P_CREATED:
		case HTTPSIG_P_EXPIRES:
			n = snprintf(buf + pos, size - pos, "%" PRId64,
			    k == HTTPSIG_P_CREATED ? p->created : p->expires);
			if (n < 0 || (size_t)n >= size - pos)
				return -1;
			pos += (size_t)n;
			break;
		default:
			s = k == HTTPSIG_P_NONCE ? p->nonce :
			    k == HTTPSIG_P_ALG ? p->alg :
			    k == HTTPSIG_P_KEYID ? p->keyid : p->tag;
			if (sfv_put_string(buf, size, &pos, s) != 0)
				return -1;
			break;
		}
	}
	*len = pos;
	return 0;
}

/* Appends n bytes of s; -1 if they do not fit (with room for the NUL). */
static int
put(char *buf, size_t size, size_t *pos, const char *s, size_t n)
{
	if (n >= size - *pos)
		return -1;
	memcpy(buf + *pos, s, n);
	*pos += n;
	buf[*pos] = '\0';
	return 0;
}

/* A value may not hold CR, LF or NUL (nor other controls but HTAB). */
static bool
value_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

/* Appends the value of field `name`: every line trimmed, joined by ", ". */
static enum problem_kind
put_field(const struct httpsig_msg *msg, const char *name, char *buf,
    size_t size, size_t *pos, struct dt_error *err)
{
	size_t i, n, found = 0;

	for (i = 0; i < msg->nfields; i++) {
		const char *v, *e;

		if (msg->fields[i].name == NULL ||
		    strcasecmp(msg->fields[i].name, name) != 0)
			continue;
		v = msg->fields[i].value != NULL ? msg->fields[i].value : "";
		v += strspn(v, " \t");
		n = strlen(v);
		e = v + n;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		n = (size_t)(e - v);
		if (!value_ok(v, n)) {
			dt_error_set(err, DT_E_FORMAT, "header %s has a control "
			    "character", name);
			return PROBLEM_SIG_MALFORMED;
		}
		if ((found++ > 0 && put(buf, size, pos, ", ", 2) != 0) ||
		    put(buf, size, pos, v, n) != 0)
			goto toolong;
	}
	if (found == 0) {
		dt_error_set(err, DT_E_INVALID, "signed component \"%s\" is "
		    "not present in the request", name);
		return PROBLEM_SIG_COMPONENT;
	}
	return PROBLEM_OK;
toolong:
	dt_error_set(err, DT_E_FORMAT, "signature base longer than %zu bytes",
	    size);
	return PROBLEM_SIG_MALFORMED;
}

static enum problem_kind
put_derived(const struct httpsig_msg *msg, const char *name, char *buf,
    size_t size, size_t *pos, struct dt_error *err)
{
	const char *v;
	size_t n, start, i;

	if (strcmp(name, "@method") == 0)
		v = msg->method;
	else if (strcmp(name, "@path") == 0)
		v = msg->path != NULL && msg->path[0] == '\0' ? "/" :
		    msg->path;
	else if (strcmp(name, "@authority") == 0)
		v = msg->authority;
	else {
		dt_error_set(err, DT_E_UNSUPPORTED, "derived component \"%s\" "
		    "not supported", name);
		return PROBLEM_SIG_MALFORMED;
	}
	if (v == NULL || v[0] == '\0') {
		dt_error_set(err, DT_E_INVALID, "signed component \"%s\" is "
		    "not available for this request", name);
		return PROBLEM_SIG_COMPONENT;
	}
	n = strlen(v);
	if (!value_ok(v, n)) {
		dt_error_set(err, DT_E_FORMAT, "component %s has a control "
		    "character", name);
		return PROBLEM_SIG_MALFORMED;
	}
	start = *pos;
	if (put(buf, size, pos, v, n) != 0) {
		dt_error_set(err, DT_E_FORMAT, "signature base longer than "
		    "%zu bytes", size);
		return PROBLEM_SIG_MALFORMED;
	}
	/* RFC 9421 2.2.3: the authority is normalised to lower case. */
	if (strcmp(name, "@authority") == 0)
		for (i = start; i < *pos; i++)
			if (buf[i] >= 'A' && buf[i] <= 'Z')
				buf[i] = (char)(buf[i] - 'A' + 'a');
	return PROBLEM_OK;
}

enum problem_kind
httpsig_base(const struct httpsig_msg *msg, const struct httpsig_params *p,
    char *buf, size_t size, size_t *len, struct dt_error *err)
{
	static const char sp[] = "\"@signature-params\": ";
	size_t pos = 0, i, n, plen;
	enum problem_kind pk;

	if (size == 0)
		goto toolong;
	buf[0] = '\0';
	for (i = 0; i < p->ncomponents; i++) {
		const char *name = p->components[i];

		n = strlen(name);
		if (put(buf, size, &pos, "\"", 1) != 0 ||
		    put(buf, size, &pos, name, n) != 0 ||
		    put(buf, size, &pos, "\": ", 3) != 0)
			goto toolong;
		pk = name[0] == '@' ?
		    put_derived(msg, name, buf, size, &pos, err) :
		    put_field(msg, name, buf, size, &pos, err);
		if (pk != PROBLEM_OK)
			return pk;
		if (put(buf, size, &pos, "\n", 1) != 0)
			goto toolong;
	}
	if (put(buf, size, &pos, sp, sizeof(sp) - 1) != 0 ||
	    httpsig_params_serialize(p, buf + pos, size - pos, &plen) != 0)
		goto toolong;
	pos += plen;
	*len = pos;
	return PROBLEM_OK;
toolong:
	dt_error_set(err, DT_E_FORMAT, "signature base longer than %zu bytes "
	    "or a parameter not representable", size);
	return PROBLEM_SIG_MALFORMED;
}

enum problem_kind
httpsig_verify(const struct httpsig_msg *msg, const struct httpsig_sig *sig,
    const unsigned char pk[HTTPSIG_PK_BYTES], struct dt_error *err)
{
	char *base;
	size_t len;
	enum problem_kind r;

	if ((base = malloc(HTTPSIG_BASE_MAX)) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		return PROBLEM_INTERNAL;
	}
	r = httpsig_base(msg, &sig->params, base, HTTPSIG_BASE_MAX, &len, err);
	if (r == PROBLEM_OK && crypto_sign_verify_detached(sig->sig,
	    (const unsigned char *)base, len, pk) != 0) {
		dt_error_set(err, DT_E_CRYPTO, "signature %s does not verify "
		    "with the key of %s", sig->params.label,
		    sig->params.has[HTTPSIG_P_KEYID] ? sig->params.keyid :
		    "(no keyid)");
		r = PROBLEM_SIG_INVALID;
	}
	free(base);
	return r;
}

int
httpsig_sign(const struct httpsig_msg *msg, const struct httpsig_params *p,
    const unsigned char sk[HTTPSIG_SK_BYTES], char *sig_input,
    size_t sig_input_size, char *signature, size_t signature_size,
    struct dt_error *err)
{
	unsigned char sig[HTTPSIG_SIG_BYTES];
	char b64[sodium_base64_ENCODED_LEN(HTTPSIG_SIG_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	char *base = NULL;
	size_t len, plen, llen;
	int rc = -1, n;

	if (p->label[0] == '\0' || !sfv_string_ok(p->label)) {
		dt_error_set(err, DT_E_INVALID, "signature label missing");
		return -1;
	}
	if ((base = malloc(HTTPSIG_BASE_MAX)) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		return -1;
	}
	if (httpsig_base(msg, p, base, HTTPSIG_BASE_MAX, &len, err) !=
	    PROBLEM_OK)
		goto out;
	if (crypto_sign_detached(sig, NULL, (const unsigned char *)base, len,
	    sk) != 0) {
		dt_error_set(err, DT_E_CRYPTO, "Ed25519 signing failed");
		goto out;
	}
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	llen = strlen(p->label);
	if (llen + 2 > sig_input_size ||
	    httpsig_params_serialize(p, sig_input + llen + 1,
	    sig_input_size - llen - 1, &plen) != 0) {
		dt_error_set(err, DT_E_INVALID, "Signature-Input buffer of %zu "
		    "bytes too small", sig_input_size);
		goto out;
	}
	memcpy(sig_input, p->label, llen);
	sig_input[llen] = '=';
	n = snprintf(signature, signature_size, "%s=:%s:", p->label, b64);
	if (n < 0 || (size_t)n >= signature_size) {
		dt_error_set(err, DT_E_INVALID, "Signature buffer of %zu bytes "
		    "too small", signature_size);
		goto out;
	}
	rc = 0;
out:
	free(base);
	return rc;
}

static int
set_string(char *dst, const char *src, const char *what, struct dt_error *err)
{
	size_t n = strlen(src);

	if (n == 0 || n >= HTTPSIG_VALUE_MAX || !sfv_string_ok(src))
		return dt_error_set(err, DT_E_INVALID, "%s must be 1 to %d "
		    "printable ASCII characters", what, HTTPSIG_VALUE_MAX - 1);
	memcpy(dst, src, n + 1);
	return 0;
}

int
httpsig_sign_kiosk(const char *method, const char *path,
    const char *content_digest, const char *keyid, int64_t created,
    const char *nonce, const unsigned char sk[HTTPSIG_SK_BYTES],
    char *sig_input, size_t sig_input_size, char *signature,
    size_t signature_size, struct dt_error *err)
{
	struct httpsig_params p;
	struct httpsig_field f = { "content-digest", content_digest };
	struct httpsig_msg msg = { method, path, NULL, &f, 1 };
	size_t i;

	memset(&p, 0, sizeof(p));
	memcpy(p.label, HTTPSIG_KIOSK_LABEL, sizeof(HTTPSIG_KIOSK_LABEL));
	for (i = 0; i < httpsig_kiosk_policy.ncomponents; i++)
		snprintf(p.components[i], sizeof(p.components[i]), "%s",
		    httpsig_kiosk_policy.components[i]);
	p.ncomponents = httpsig_kiosk_policy.ncomponents;
	p.created = created;
	if (set_string(p.nonce, nonce, "nonce", err) != 0 ||
	    set_string(p.keyid, keyid, "keyid", err) != 0)
		return -1;
	memcpy(p.alg, HTTPSIG_ALG, sizeof(HTTPSIG_ALG));
	p.order[p.nparams++] = HTTPSIG_P_CREATED;
	p.order[p.nparams++] = HTTPSIG_P_NONCE;
	p.order[p.nparams++] = HTTPSIG_P_KEYID;
	p.order[p.nparams++] = HTTPSIG_P_ALG;
	p.has[HTTPSIG_P_CREATED] = p.has[HTTPSIG_P_NONCE] =
	    p.has[HTTPSIG_P_KEYID] = p.has[HTTPSIG_P_ALG] = true;
	return httpsig_sign(&msg, &p, sk, sig_input, sig_input_size,
	    signature, signature_size, err);
}

int
httpsig_nonce(char *buf, size_t size)
{
	unsigned char r[16];

	if (size < sodium_base64_ENCODED_LEN(sizeof(r),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return -1;
	randombytes_buf(r, sizeof(r));
	sodium_bin2base64(buf, size, r, sizeof(r),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

/* end of httpsig.c */

/* proto/digest.c — RFC 9530 Content-Digest; see digest.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "proto/digest.h"
#include "proto/sfv.h"

#define DIGEST_MAX_MEMBERS 8

void
digest_compute(enum digest_alg alg, const void *body, size_t len,
    unsigned char *out)
{
	if (alg == DIGEST_SHA512)
		crypto_hash_sha512(out, body, len);
	else
		crypto_hash_sha256(out, body, len);
}

int
digest_header(enum digest_alg alg, const void *body, size_t len, char *buf,
    size_t size, struct dt_error *err)
{
	unsigned char d[DIGEST_SHA512_BYTES];
	char b64[sodium_base64_ENCODED_LEN(DIGEST_SHA512_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	size_t n = alg == DIGEST_SHA512 ? DIGEST_SHA512_BYTES :
	    DIGEST_SHA256_BYTES;
	int r;

	digest_compute(alg, body, len, d);
	sodium_bin2base64(b64, sizeof(b64), d, n,
	    sodium_base64_VARIANT_ORIGINAL);
	r = snprintf(buf, size, "%s=:%s:",
	    alg == DIGEST_SHA512 ? "sha-512" : "sha-256", b64);
	if (r < 0 || (size_t)r >= size)
		return dt_error_set(err, DT_E_INVALID, "Content-Digest buffer "
		    "of %zu bytes too small", size);
	return 0;
}

static enum problem_kind
malformed(struct dt_error *err, const char *what, const char *key)
{
	dt_error_set(err, DT_E_FORMAT, "Content-Digest: %s%s%s", key ? key : "",
	    key ? ": " : "", what);
	return PROBLEM_DIGEST_MALFORMED;
}

enum problem_kind
digest_parse(const char *hdr, struct digest_set *out, struct dt_error *err)
{
	struct digest_set set;
	char seen[DIGEST_MAX_MEMBERS][SFV_KEY_MAX];
	char key[SFV_KEY_MAX];
	unsigned char raw[DIGEST_HEADER_MAX];
	struct sfv_cur c;
	size_t nseen = 0, len, i, b64len, rawlen;
	const char *b64;
	int r;

	if (hdr == NULL || hdr[strspn(hdr, " \t")] == '\0') {
		dt_error_set(err, DT_E_INVALID, "Content-Digest header missing");
		return PROBLEM_DIGEST_MISSING;
	}
	if ((len = strlen(hdr)) > DIGEST_HEADER_MAX)
		return malformed(err, "header too long", NULL);
	memset(&set, 0, sizeof(set));
	sfv_init(&c, hdr, len);
	sfv_skip_sp(&c);
	for (;;) {
		if (sfv_key(&c, key, sizeof(key)) != 0)
			return malformed(err, "algorithm name malformed", NULL);
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], key) == 0)
				return malformed(err, "given twice", key);
		if (nseen == DIGEST_MAX_MEMBERS)
			return malformed(err, "too many digests", NULL);
		memcpy(seen[nseen++], key, sizeof(key));
		if (sfv_peek(&c) != '=' || (c.p++, sfv_bytes(&c, &b64,
		    &b64len)) != 0)
			return malformed(err, "value is not a byte sequence",
			    key);
		if (sfv_peek(&c) == ';')
			return malformed(err, "parameters are not allowed",
			    key);
		if (strcmp(key, "sha-256") == 0 || strcmp(key, "sha-512") == 0) {
			bool is256 = key[4] == '2';
			size_t want = is256 ? DIGEST_SHA256_BYTES :
			    DIGEST_SHA512_BYTES;

			if (sodium_base642bin(raw, sizeof(raw), b64, b64len,
			    NULL, &rawlen, NULL,
			    sodium_base64_VARIANT_ORIGINAL) != 0)
				return malformed(err, "invalid base64", key);
			if (rawlen != want) {
				dt_error_set(err, DT_E_FORMAT, "Content-Digest: "
				    "%s: %zu bytes, expected %zu", key, rawlen,
				    want);
				return PROBLEM_DIGEST_MALFORMED;
			}
			if (is256) {
				memcpy(set.sha256, raw, want);
				set.has_sha256 = true;
			} else {
				memcpy(set.sha512, raw, want);
				set.has_sha512 = true;
			}
		}
		if ((r = sfv_dict_next(&c)) < 0)
			return malformed(err, "junk after a digest", key);
		if (r == 1)
			break;
	}
	if (!set.has_sha256 && !set.has_sha512) {
		dt_error_set(err, DT_E_UNSUPPORTED, "Content-Digest: no sha-256 "
		    "or sha-512 digest (only %s%s)", seen[0],
		    nseen > 1 ? ", ..." : "");
		return PROBLEM_DIGEST_UNSUPPORTED;
	}
	*out = set;
	return PROBLEM_OK;
}

enum problem_kind
digest_verify(const char *hdr, const void *body, size_t len,
    struct dt_error *err)
{
	struct digest_set set;
	unsigned char d[DIGEST_SHA512_BYTES];
	enum problem_kind pk;
	const char *bad = NULL;

	if ((pk = digest_parse(hdr, &set, err)) != PROBLEM_OK)
		return pk;
	if (set.has_sha256) {
		digest_compute(DIGEST_SHA256, body, len, d);
		if (sodium_memcmp(d, set.sha256, DIGEST_SHA256_BYTES) != 0)
			bad = "sha-256";
	}
	if (bad == NULL && set.has_sha512) {
		digest_compute(DIGEST_SHA512, body, len, d);
		if (sodium_memcmp(d, set.sha512, DIGEST_SHA512_BYTES) != 0)
			bad = "sha-512";
	}
	if (bad != NULL) {
		dt_error_set(err, DT_E_INVALID, "Content-Digest: %s does not "
		    "match the %zu-byte body", bad, len);
		return PROBLEM_DIGEST_MISMATCH;
	}
	return PROBLEM_OK;
}

/* end of digest.c */

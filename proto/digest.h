/*
 * proto/digest.h — RFC 9530 Content-Digest: sha-256 and sha-512.
 *
 * The header is a dictionary of byte sequences (sha-256=:base64:, possibly
 * several, possibly algorithms we do not know, which are ignored).  Every
 * supported digest present must match the body.  The verifying functions
 * return PROBLEM_OK (0) or a problem kind (proto/problem.h) and fill *err.
 */
#ifndef DT_DAEMON_DIGEST_H
#define DT_DAEMON_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/problem.h"
#include "util/error.h"

#define DIGEST_HEADER_MAX 1024	/* longest Content-Digest accepted */
#define DIGEST_SHA256_BYTES 32
#define DIGEST_SHA512_BYTES 64
/* Room for "sha-512=:<88 base64>:" and the NUL. */
#define DIGEST_HEADER_BUF 128

enum digest_alg {
	DIGEST_SHA256,
	DIGEST_SHA512,
};

struct digest_set {
	bool has_sha256;
	bool has_sha512;
	unsigned char sha256[DIGEST_SHA256_BYTES];
	unsigned char sha512[DIGEST_SHA512_BYTES];
};

/*
 * Parses a Content-Digest value.  DIGEST_MISSING (NULL or blank),
 * DIGEST_MALFORMED (syntax, bad base64, wrong length, duplicate key),
 * DIGEST_UNSUPPORTED (well formed but no sha-256 or sha-512).
 */
enum problem_kind digest_parse(const char *hdr, struct digest_set *out,
    struct dt_error *err);

/* digest_parse() and then DIGEST_MISMATCH unless every supported digest
 * present equals the body's. */
enum problem_kind digest_verify(const char *hdr, const void *body, size_t len,
    struct dt_error *err);

/* Computes the digest of body. */
void digest_compute(enum digest_alg alg, const void *body, size_t len,
    unsigned char *out);

/* Writes the header value "sha-256=:...:" (or sha-512) into buf; 0 / -1. */
int digest_header(enum digest_alg alg, const void *body, size_t len,
    char *buf, size_t size, struct dt_error *err);

#endif /* DT_DAEMON_DIGEST_H */

/*
 * proto/problem.h — RFC 9457 problem details: the one table of the
 * protocol errors dt4ecgd answers with.
 *
 * Every error the protocol layer can report is a `enum problem_kind`.  The
 * table (PROBLEM_TABLE, an X-macro) gives each kind its HTTP status, the slug
 * of its `type` URI (PROBLEM_TYPE_BASE followed by the slug) and its `title`.
 * PROBLEM_OK (0) means "no problem": the protocol modules (httpsig, digest,
 * body, replay) return a kind, 0 on success, and fill a struct dt_error with
 * the detail, which becomes the problem's `detail` member.
 *
 * This header does not include jansson; problem_json() returns a jansson
 * `json_t *` (declared here as `struct json_t`).
 */
#ifndef DT_DAEMON_PROBLEM_H
#define DT_DAEMON_PROBLEM_H

#include <stddef.h>

#include "util/error.h"

#define PROBLEM_TYPE_BASE "https://dt4ecg.example/problems/"
#define PROBLEM_CONTENT_TYPE "application/problem+json"

/* X(NAME, http status, slug, title) */
#define PROBLEM_TABLE(X) \
	X(BAD_JSON, 400, "bad-json", \
	    "Request body is not valid JSON") \
	X(BAD_FIELD, 400, "bad-field", \
	    "A field of the request is missing or invalid") \
	X(SIG_MISSING, 401, "signature-missing", \
	    "Signature or Signature-Input header missing") \
	X(SIG_MALFORMED, 401, "signature-malformed", \
	    "Signature or Signature-Input header malformed") \
	X(SIG_BASE64, 401, "signature-base64", \
	    "Signature is not valid base64") \
	X(SIG_COMPONENT, 401, "signature-component-missing", \
	    "A required message component is not signed or not present") \
	X(SIG_ALG, 401, "signature-algorithm", \
	    "Signature algorithm not accepted") \
	X(SIG_PARAMS, 401, "signature-parameters", \
	    "Signature parameters missing or unknown") \
	X(SIG_CREATED, 401, "signature-expired", \
	    "Signature creation time outside the allowed clock skew") \
	X(SIG_INVALID, 401, "signature-invalid", \
	    "Signature does not verify") \
	X(KIOSK_UNKNOWN, 401, "kiosk-unknown", \
	    "Signing key is not a registered kiosk") \
	X(KIOSK_REVOKED, 401, "kiosk-revoked", \
	    "Signing kiosk has been revoked") \
	X(DIGEST_MISSING, 401, "digest-missing", \
	    "Content-Digest header missing") \
	X(DIGEST_MALFORMED, 401, "digest-malformed", \
	    "Content-Digest header malformed") \
	X(DIGEST_UNSUPPORTED, 401, "digest-unsupported", \
	    "Content-Digest names no supported algorithm") \
	X(DIGEST_MISMATCH, 401, "digest-mismatch", \
	    "Content-Digest does not match the body") \
	X(NOT_FOUND, 404, "not-found", \
	    "No such resource") \
	X(METHOD_NOT_ALLOWED, 405, "method-not-allowed", \
	    "Method not allowed on this resource") \
	X(REPLAY, 409, "replayed-nonce", \
	    "Signature nonce already used") \
	X(TOO_LARGE, 413, "body-too-large", \
	    "Request body too large") \
	X(UNSUPPORTED_MEDIA, 415, "unsupported-media-type", \
	    "Request body must be application/json") \
	X(SIGNAL_UNUSABLE, 422, "signal-unusable", \
	    "ECG signal unusable") \
	X(RATE_LIMITED, 429, "rate-limited", \
	    "Too many requests from this kiosk") \
	X(INTERNAL, 500, "internal", \
	    "Internal server error") \
	X(NO_MODEL, 503, "no-active-model", \
	    "No active model") \
	X(UNAVAILABLE, 503, "unavailable", \
	    "Service temporarily unavailable")

enum problem_kind {
	PROBLEM_OK = 0,
#define PROBLEM_ENUM(name, status, slug, title) PROBLEM_##name,
	PROBLEM_TABLE(PROBLEM_ENUM)
#undef PROBLEM_ENUM
	PROBLEM_COUNT
};

struct json_t;

/* HTTP status of a kind (200 for PROBLEM_OK, 500 for an unknown kind). */
int problem_status(enum problem_kind kind);
/* Slug ("signature-invalid"); "ok" for PROBLEM_OK, "internal" if unknown. */
const char *problem_slug(enum problem_kind kind);
const char *problem_title(enum problem_kind kind);
/* Writes PROBLEM_TYPE_BASE + slug into buf (always NUL-terminated). */
void problem_type(enum problem_kind kind, char *buf, size_t size);

/*
 * The problem document {"type", "title", "status", "detail"} as a new jansson
 * object (caller json_decref()s it); detail may be NULL (then omitted).
 * Returns NULL only when out of memory.
 */
struct json_t *problem_json(enum problem_kind kind, const char *detail);

/*
 * The same document serialised (compact, malloc'd, NUL-terminated; caller
 * frees), *len set to its length.  NULL when out of memory.
 */
char *problem_dumps(enum problem_kind kind, const char *detail, size_t *len);

/*
 * The kind for an error code of the other modules (util/error.h): signal
 * quality codes become PROBLEM_SIGNAL_UNUSABLE, DT_E_BUSY PROBLEM_UNAVAILABLE,
 * everything else PROBLEM_INTERNAL.
 */
enum problem_kind problem_from_errc(enum dt_errc code);

#endif /* DT_DAEMON_PROBLEM_H */

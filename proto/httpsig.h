/*
 * proto/httpsig.h — RFC 9421 HTTP Message Signatures, alg "ed25519".
 *
 * Verifying side (dt4ecgd), in four steps so the caller can look the key up
 * between them and answer each failure with its own problem:
 *
 *	httpsig_parse()   Signature-Input + Signature headers -> struct httpsig_sig
 *	httpsig_check()   policy: covered components, required and known
 *	                  parameters, alg, created within the clock skew
 *	(caller)          keyid -> kiosk public key (unknown / revoked)
 *	httpsig_verify()  signature base (RFC 9421 section 2.5) + Ed25519
 *
 * Signing side (kiosk client, tests): httpsig_sign() for any covered set,
 * httpsig_sign_kiosk() for the dt4ecg profile
 * ("@method" "@path" "content-digest");created;nonce;keyid;alg="ed25519".
 *
 * The verifying functions return PROBLEM_OK (0) or the problem kind
 * (proto/problem.h) and fill *err with a detail naming the header, member,
 * component or parameter at fault; the signing functions return 0 / -1.
 *
 * Supported derived components: @method, @path, @authority; any header field
 * (lower-case name, values trimmed and multiple lines joined with ", ").
 * Component parameters (;sf, ;key, ;bs, ;req, ;tr, ;name) are not supported.
 */
#ifndef DT_DAEMON_HTTPSIG_H
#define DT_DAEMON_HTTPSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/problem.h"
#include "util/error.h"

#define HTTPSIG_HEADER_MAX 4096	/* longest header value accepted */
#define HTTPSIG_MAX_MEMBERS 8	/* signatures per header */
#define HTTPSIG_MAX_COMPONENTS 16
#define HTTPSIG_NAME_MAX 64	/* component name and label, incl. NUL */
#define HTTPSIG_VALUE_MAX 256	/* nonce, keyid, alg, tag, incl. NUL */
#define HTTPSIG_BASE_MAX 8192	/* longest signature base */
#define HTTPSIG_SIG_BYTES 64
#define HTTPSIG_PK_BYTES 32
#define HTTPSIG_SK_BYTES 64	/* libsodium secret key: seed + public */
#define HTTPSIG_ALG "ed25519"
#define HTTPSIG_KIOSK_LABEL "sig1"

/* The signature parameters of RFC 9421 section 2.3. */
enum httpsig_param {
	HTTPSIG_P_CREATED,
	HTTPSIG_P_EXPIRES,
	HTTPSIG_P_NONCE,
	HTTPSIG_P_ALG,
	HTTPSIG_P_KEYID,
	HTTPSIG_P_TAG,
	HTTPSIG_P_COUNT
};

struct httpsig_params {
	char label[HTTPSIG_NAME_MAX];
	size_t ncomponents;
	char components[HTTPSIG_MAX_COMPONENTS][HTTPSIG_NAME_MAX];
	/* parameters present, in the order they are serialised */
	size_t nparams;
	enum httpsig_param order[HTTPSIG_P_COUNT];
	bool has[HTTPSIG_P_COUNT];
	int64_t created;
	int64_t expires;
	char nonce[HTTPSIG_VALUE_MAX];
	char alg[HTTPSIG_VALUE_MAX];
	char keyid[HTTPSIG_VALUE_MAX];
	char tag[HTTPSIG_VALUE_MAX];
};

struct httpsig_sig {
	struct httpsig_params params;
	unsigned char sig[HTTPSIG_SIG_BYTES];
};

/* One header field line of the message (name in any case). */
struct httpsig_field {
	const char *name;
	const char *value;
};

/* The request as the signature base sees it. */
struct httpsig_msg {
	const char *method;	/* "POST" */
	const char *path;	/* "/v1/authenticate" (no query) */
	const char *authority;	/* "host[:port]", may be NULL if not covered */
	const struct httpsig_field *fields;
	size_t nfields;
};

struct httpsig_policy {
	const char *const *components;	/* must all be covered */
	size_t ncomponents;
	bool require[HTTPSIG_P_COUNT];	/* parameters that must be present */
	bool allow[HTTPSIG_P_COUNT];	/* parameters that may be present */
};

/*
 * The dt4ecg kiosk profile: covers "@method" "@path" "content-digest";
 * requires created, nonce, keyid and alg; allows expires too.
 */
extern const struct httpsig_policy httpsig_kiosk_policy;

/*
 * Parses both headers (NULL or empty: PROBLEM_SIG_MISSING).  Selects the
 * signature labelled `label`, or the first member of Signature-Input when
 * label is NULL; Signature must hold the same label.  Errors:
 * SIG_MISSING, SIG_MALFORMED (syntax, bounds, duplicate or unsupported
 * component, wrong parameter type, signature not 64 bytes), SIG_PARAMS
 * (unknown parameter), SIG_BASE64.
 */
enum problem_kind httpsig_parse(const char *sig_input, const char *signature,
    const char *label, struct httpsig_sig *out, struct dt_error *err);

/*
 * Checks parsed parameters against a policy at time `now` (unix seconds):
 * SIG_COMPONENT (a required component not covered), SIG_PARAMS (a required
 * parameter missing or one not allowed), SIG_ALG (alg other than "ed25519"),
 * SIG_CREATED (|now - created| > skew_s, or expires <= now).
 */
enum problem_kind httpsig_check(const struct httpsig_params *p,
    const struct httpsig_policy *pol, int64_t now, int64_t skew_s,
    struct dt_error *err);

/*
 * Serialises the inner list with its parameters, as in Signature-Input and
 * in the "@signature-params" line: ("a" "b");created=1;keyid="k".
 * Returns 0, or -1 if it does not fit (or a value is not an sf-string).
 */
int httpsig_params_serialize(const struct httpsig_params *p, char *buf,
    size_t size, size_t *len);

/*
 * The signature base of RFC 9421 section 2.5 into buf (NUL-terminated, *len
 * without the NUL).  SIG_COMPONENT if a covered component is absent from
 * the message, SIG_MALFORMED if a value cannot be represented or it does
 * not fit.
 */
enum problem_kind httpsig_base(const struct httpsig_msg *msg,
    const struct httpsig_params *p, char *buf, size_t size, size_t *len,
    struct dt_error *err);

/* Builds the base and verifies the Ed25519 signature: SIG_INVALID if it
 * does not verify (plus the errors of httpsig_base()). */
enum problem_kind httpsig_verify(const struct httpsig_msg *msg,
    const struct httpsig_sig *sig, const unsigned char pk[HTTPSIG_PK_BYTES],
    struct dt_error *err);

/*
 * Signs msg over p (label, components, parameters as given) with the
 * libsodium secret key sk; writes the Signature-Input value
 * `label=(...);...` and the Signature value `label=:base64:`.  0 / -1.
 */
int httpsig_sign(const struct httpsig_msg *msg,
    const struct httpsig_params *p, const unsigned char sk[HTTPSIG_SK_BYTES],
    char *sig_input, size_t sig_input_size, char *signature,
    size_t signature_size, struct dt_error *err);

/*
 * The dt4ecg kiosk profile: label "sig1", components ("@method" "@path"
 * "content-digest"), parameters created, nonce, keyid, alg="ed25519".
 */
int httpsig_sign_kiosk(const char *method, const char *path,
    const char *content_digest, const char *keyid, int64_t created,
    const char *nonce, const unsigned char sk[HTTPSIG_SK_BYTES],
    char *sig_input, size_t sig_input_size, char *signature,
    size_t signature_size, struct dt_error *err);

/* A fresh nonce: 16 random bytes, base64url without padding (22 chars).
 * size must be at least 23.  Needs sodium_init().  0 / -1. */
int httpsig_nonce(char *buf, size_t size);

/* The name of a parameter ("created", ...). */
const char *httpsig_param_name(enum httpsig_param param);

#endif /* DT_DAEMON_HTTPSIG_H */

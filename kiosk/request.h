/*
 * kiosk/request.h — what dt4ecg-kiosk sends, without the network: the kiosk
 * key file, the JSON body (DESIGN.md section 5), its Content-Digest
 * (RFC 9530) and the RFC 9421 signature of the dt4ecg kiosk profile.
 * Separate from kiosk.c so tests/test_kiosk.c can check it offline.
 */
#ifndef KIOSK_REQUEST_H
#define KIOSK_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/digest.h"
#include "proto/httpsig.h"
#include "util/error.h"

#define KIOSK_PATH "/v1/authenticate"
#define KIOSK_KEY_FILE_MAX 4096

/*
 * Reads a kiosk key file: the 64-byte Ed25519 secret key (seed || public
 * key, as libsodium stores it) base64-encoded on one line.  *SK is
 * sodium_malloc'd (free it with kiosk_key_free(), which wipes it).
 * *LOOSE_MODE is set when the file is readable or writable by group or
 * others.  A key whose public half does not match its seed is refused.
 * Needs sodium_init().
 */
int kiosk_key_load(const char *path, unsigned char **sk, bool *loose_mode,
    struct dt_error *err);
void kiosk_key_free(unsigned char *sk);

/*
 * The part of a recording that is sent: from OFFSET_S seconds, at most
 * SECONDS seconds (0 = to the end).  DT_E_INVALID when the offset is past
 * the end.
 */
int kiosk_segment(size_t n, double fs_hz, double offset_s, double seconds,
    size_t *start, size_t *count, struct dt_error *err);

/*
 * {"ecg":{"fs_hz":F,"units":"mV","lead":"I","samples":[...]},
 *  "claimed_user":"..."} (claimed_user only when CLAIMED is not NULL).
 * *BODY is malloc'd and NUL-terminated; it holds biometric data: wipe it
 * (sodium_memzero) before free.  Non-finite samples are refused.
 */
int kiosk_body(const float *mv, size_t n, double fs_hz, const char *claimed,
    char **body, size_t *len, struct dt_error *err);

struct kiosk_sig {
	char content_digest[DIGEST_HEADER_BUF];
	char signature_input[HTTPSIG_HEADER_MAX];
	char signature[HTTPSIG_HEADER_MAX];
	char nonce[HTTPSIG_VALUE_MAX];
};

/*
 * Content-Digest (sha-256) of BODY and the signature over
 * ("@method" "@path" "content-digest");created;nonce;keyid;alg="ed25519"
 * for POST PATH.  NONCE NULL = a fresh random one.
 */
int kiosk_sign(const char *path, const char *keyid, const unsigned char *sk,
    const char *body, size_t len, int64_t created, const char *nonce,
    struct kiosk_sig *out, struct dt_error *err);

#endif /* KIOSK_REQUEST_H */

/*
 * store/crypto.h — the store key and sealing of biometric data.
 *
 * The store key is 32 random bytes kept OUTSIDE the database:
 *   - a key file, created by store_key_create_file() with mode 0600; it holds
 *     the key base64-encoded (RFC 4648 standard alphabet, with padding) on one
 *     line.  For convenience a file of exactly 32 bytes is read as the raw key.
 *     A key file readable by group or others is refused.
 *   - or a systemd credential: $CREDENTIALS_DIRECTORY/<name> (LoadCredential=
 *     or LoadCredentialEncrypted= in the unit), same format as the key file.
 * In memory the key lives in sodium_malloc'd, read-only (sodium_mprotect_readonly)
 * memory and is wiped by store_key_free().
 *
 * Sealing: XChaCha20-Poly1305 (crypto_aead_xchacha20poly1305_ietf), a random
 * 24-byte nonce per seal; sealed blob = nonce || ciphertext || 16-byte tag.
 * The associated data is the identity of the row that holds the blob
 * ("recording:<member>:<id>", "template:<member>:<model>:<id>"), so a blob
 * copied into another row does not open.  A failed open is DT_E_CRYPTO; no
 * plaintext is ever returned for a blob that does not authenticate.
 */
#ifndef STORE_CRYPTO_H
#define STORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define STORE_KEY_BYTES 32
#define STORE_SEAL_OVERHEAD (24 + 16)	/* nonce + tag */

struct store_key;

/* Creates a new random key file (fails with DT_E_EXISTS if PATH exists). */
int store_key_create_file(const char *path, struct dt_error *err);
/* Loads a key file (base64 line, or exactly 32 raw bytes). */
int store_key_load_file(const char *path, struct store_key **out,
    struct dt_error *err);
/* Loads $CREDENTIALS_DIRECTORY/NAME (DT_E_NOTFOUND when not run by systemd
 * with that credential). */
int store_key_load_credential(const char *name, struct store_key **out,
    struct dt_error *err);
int store_key_from_bytes(const uint8_t raw[STORE_KEY_BYTES],
    struct store_key **out, struct dt_error *err);
int store_key_dup(const struct store_key *key, struct store_key **out,
    struct dt_error *err);
void store_key_free(struct store_key *key);

/* Seals LEN bytes; *OUT (malloc'd, LEN + STORE_SEAL_OVERHEAD bytes). */
int store_seal(const struct store_key *key, const char *ad, const void *plain,
    size_t len, uint8_t **out, size_t *outlen, struct dt_error *err);
/* Opens a sealed blob into a malloc'd buffer; the caller wipes it
 * (sodium_memzero) before free. */
int store_unseal(const struct store_key *key, const char *ad,
    const uint8_t *sealed, size_t sealedlen, uint8_t **out, size_t *outlen,
    struct dt_error *err);
/* A 32-byte subkey of KEY for CONTEXT (8 chars; crypto_kdf): the caller
 * wipes it (sodium_memzero). */
int store_key_derive(const struct store_key *key, const char *context,
    uint8_t out[32], struct dt_error *err);
/* Keyed BLAKE2b-256 of MSG under a subkey derived from KEY for CONTEXT (8 chars). */
int store_key_hash(const struct store_key *key, const char *context,
    const void *msg, size_t len, uint8_t out[32], struct dt_error *err);

#endif /* STORE_CRYPTO_H */

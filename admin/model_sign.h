/*
 * admin/model_sign.h — release signatures of model files.
 *
 * Whoever releases models holds an Ed25519 key (`model keygen`: the secret
 * key as a kiosk key is kept, base64 on one line, mode 0600); its public key
 * (base64, one line) is what operators pin.  `model sign FILE --key KEY`
 * writes FILE.sig: base64 of the Ed25519 signature of
 *
 *     "dt4ecg-model-v1\n" + lowercase hex SHA-256 of FILE + "\n"
 *
 * `model import FILE --release-key PUB` verifies FILE.sig (or --signature)
 * against the pinned key; `--require-signed` refuses a file without a valid
 * signature.  The store records which key signed the model (model show).
 */
#ifndef ADMIN_MODEL_SIGN_H
#define ADMIN_MODEL_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define MODEL_SIG_CONTEXT "dt4ecg-model-v1\n"

/* The message signed for a file of LEN bytes; MSG has room for 96. */
void model_sig_message(const uint8_t *buf, size_t len, char *msg);

/* A public key: base64 on the command line, or a file holding it. */
int model_sig_read_pub(const char *arg, uint8_t pk[32], struct dt_error *err);

/* Verifies SIG_PATH (base64) over BUF with PK; DT_E_CRYPTO when wrong. */
int model_sig_verify(const uint8_t *buf, size_t len, const char *sig_path,
    const uint8_t pk[32], struct dt_error *err);

/* "ed25519:" and the base64 public key (OUT: 64 bytes). */
void model_sig_key_name(const uint8_t pk[32], char *out, size_t size);

#endif /* ADMIN_MODEL_SIGN_H */

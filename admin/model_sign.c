/* admin/model_sign.c — release signatures of model files (model_sign.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin/common.h"
#include "admin/model_sign.h"

void
model_sig_message(const uint8_t *buf, size_t len, char *msg)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];

	crypto_hash_sha256(h, buf, len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(msg, 96, "%s%s\n", MODEL_SIG_CONTEXT, hex);
}

/* One line of base64 decoding to exactly N bytes. */
static int
b64_exact(const char *s, size_t slen, uint8_t *out, size_t n)
{
	size_t got = 0;

	while (slen > 0 && (s[slen - 1] == '\n' || s[slen - 1] == '\r' ||
	    s[slen - 1] == ' '))
		slen--;
	return sodium_base642bin(out, n, s, slen, NULL, &got, NULL,
	    sodium_base64_VARIANT_ORIGINAL) == 0 && got == n ? 0 : -1;
}

int
model_sig_read_pub(const char *arg, uint8_t pk[32], struct dt_error *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (b64_exact(arg, strlen(arg), pk, 32) == 0)
		return 0;
	if (adm_read_file(arg, 4096, &buf, &len, err) != 0) {
		dt_error_prefix(err, "release key (base64 or a file holding "
		    "it)");
		return -1;
	}
	rc = b64_exact((const char *)buf, len, pk, 32);
	free(buf);
	if (rc != 0)
		return dt_error_set(err, DT_E_FORMAT, "%s: not an Ed25519 "
		    "public key (base64 of 32 bytes on one line)", arg);
	return 0;
}

int
model_sig_verify(const uint8_t *buf, size_t len, const char *sig_path,
    const uint8_t pk[32], struct dt_error *err)
{
	uint8_t *sb = NULL, sig[crypto_sign_BYTES];
	size_t sl = 0;
	char msg[96];
	int bad;

	if (adm_read_file(sig_path, 4096, &sb, &sl, err) != 0)
		return -1;
	bad = b64_exact((const char *)sb, sl, sig, sizeof(sig));
	free(sb);
	if (bad)
		return dt_error_set(err, DT_E_FORMAT, "%s: not a signature "
		    "(base64 of 64 bytes on one line)", sig_path);
	model_sig_message(buf, len, msg);
	if (crypto_sign_verify_detached(sig, (const unsigned char *)msg,
	    strlen(msg), pk) != 0)
		return dt_error_set(err, DT_E_CRYPTO, "%s: the signature does "
		    "not verify with the release key: the file is not the one "
		    "that was signed, or another key signed it", sig_path);
	return 0;
}

void
model_sig_key_name(const uint8_t pk[32], char *out, size_t size)
{
	char b64[sodium_base64_ENCODED_LEN(32,
	    sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(b64, sizeof(b64), pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, size, "ed25519:%s", b64);
}

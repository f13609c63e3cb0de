/* store/crypto.c — see crypto.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store/crypto.h"
#include "util/file.h"

struct store_key {
	uint8_t *bytes;		/* sodium_malloc'd, read-only */
};

static int
crypto_init(struct dt_error *err)
{
	if (sodium_init() < 0)
		return dt_error_set(err, DT_E_CRYPTO, "libsodium failed to initialise");
	return 0;
}

int
store_key_from_bytes(const uint8_t raw[STORE_KEY_BYTES], struct store_key **out,
    struct dt_error *err)
{
	struct store_key *k;

	if (crypto_init(err) == -1)
		return -1;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "store key: out of memory");
	if ((k->bytes = sodium_malloc(STORE_KEY_BYTES)) == NULL) {
		free(k);
		return dt_error_set(err, DT_E_NOMEM, "store key: sodium_malloc failed");
	}
	memcpy(k->bytes, raw, STORE_KEY_BYTES);
	sodium_mprotect_readonly(k->bytes);
	*out = k;
	return 0;
}

int
store_key_dup(const struct store_key *key, struct store_key **out,
    struct dt_error *err)
{
	return store_key_from_bytes(key->bytes, out, err);
}

void
store_key_free(struct store_key *key)
{
	if (key == NULL)
		return;
	sodium_free(key->bytes);	/* wipes */
	free(key);
}

int
store_key_create_file(const char *path, struct dt_error *err)
{
	uint8_t raw[STORE_KEY_BYTES];
	char b64[sodium_base64_ENCODED_LEN(STORE_KEY_BYTES,
	    sodium_base64_VARIANT_ORIGINAL) + 1];
	size_t len;
	int rc = -1;

	if (crypto_init(err) == -1)
		return -1;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(b64, sizeof(b64) - 1, raw, sizeof(raw),
	    sodium_base64_VARIANT_ORIGINAL);
	len = strlen(b64);
	b64[len++] = '\n';
	/* exclusive, 0600 whatever the umask, file and directory fsynced */
	if ((rc = dt_file_create(path, b64, len, 0600, err)) != 0 &&
	    err != NULL && err->code == DT_E_EXISTS)
		dt_error_set(err, DT_E_EXISTS, "key file %s already exists: "
		    "refusing to overwrite it", path);
	else if (rc != 0)
		dt_error_prefix(err, "key file");
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(b64, sizeof(b64));
	return rc;
}

int
store_key_load_file(const char *path, struct store_key **out,
    struct dt_error *err)
{
	uint8_t buf[256], raw[STORE_KEY_BYTES];
	struct stat st;
	size_t n = 0, rawlen = 0;
	ssize_t r;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return dt_error_set(err, errno == ENOENT ? DT_E_NOTFOUND : DT_E_IO,
		    "key file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1) {
		dt_error_set(err, DT_E_IO, "key file %s: %s", path, strerror(errno));
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		dt_error_set(err, DT_E_CRYPTO,
		    "key file %s is accessible by group or others (mode %04o): "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			dt_error_set(err, DT_E_IO, "key file %s: %s", path,
			    strerror(errno));
			goto out;
		}
		n += (size_t)r;
	}
	if (n == STORE_KEY_BYTES) {
		memcpy(raw, buf, STORE_KEY_BYTES);
	} else {
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
		    buf[n - 1] == ' '))
			n--;
		if (n == sizeof(buf) || sodium_base642bin(raw, sizeof(raw),
		    (const char *)buf, n, NULL, &rawlen, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    rawlen != STORE_KEY_BYTES) {
			dt_error_set(err, DT_E_FORMAT,
			    "key file %s: not a %d-byte key (expected one base64 "
			    "line or %d raw bytes)", path, STORE_KEY_BYTES,
			    STORE_KEY_BYTES);
			goto out;
		}
	}
	rc = store_key_from_bytes(raw, out, err);
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(raw, sizeof(raw));
	close(fd);
	return rc;
}

int
store_key_load_credential(const char *name, struct store_key **out,
    struct dt_error *err)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];

	if (dir == NULL || *dir == '\0')
		return dt_error_set(err, DT_E_NOTFOUND,
		    "credential %s: $CREDENTIALS_DIRECTORY is not set (not "
		    "started by systemd with LoadCredential=)", name);
	if (strchr(name, '/') != NULL)
		return dt_error_set(err, DT_E_INVALID,
		    "credential name %s contains '/'", name);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return dt_error_set(err, DT_E_INVALID, "credential %s: path too long",
		    name);
	return store_key_load_file(path, out, err);
}

int
store_seal(const struct store_key *key, const char *ad, const void *plain,
    size_t len, uint8_t **out, size_t *outlen, struct dt_error *err)
{
	uint8_t *buf;
	unsigned long long clen;

	if (key == NULL)
		return dt_error_set(err, DT_E_CRYPTO,
		    "%s: the store was opened without its key", ad);
	if ((buf = malloc(len + STORE_SEAL_OVERHEAD)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "%s: out of memory", ad);
	randombytes_buf(buf, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    buf + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
	    plain, len, (const uint8_t *)ad, strlen(ad), NULL, buf, key->bytes);
	*out = buf;
	*outlen = clen + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	return 0;
}

int
store_unseal(const struct store_key *key, const char *ad, const uint8_t *sealed,
    size_t sealedlen, uint8_t **out, size_t *outlen, struct dt_error *err)
{
	uint8_t *buf;
	unsigned long long mlen;
	size_t cap;

	if (key == NULL)
		return dt_error_set(err, DT_E_CRYPTO,
		    "%s: the store was opened without its key", ad);
	if (sealed == NULL || sealedlen < STORE_SEAL_OVERHEAD)
		return dt_error_set(err, DT_E_CRYPTO,
		    "%s: sealed data is truncated", ad);
	cap = sealedlen - STORE_SEAL_OVERHEAD;
	if ((buf = malloc(cap ? cap : 1)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "%s: out of memory", ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &mlen, NULL,
	    sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    sealedlen - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    (const uint8_t *)ad, strlen(ad), sealed, key->bytes) != 0) {
		sodium_memzero(buf, cap ? cap : 1);
		free(buf);
		return dt_error_set(err, DT_E_CRYPTO,
		    "%s: does not open (wrong store key, or data moved from "
		    "another row or altered)", ad);
	}
	*out = buf;
	*outlen = mlen;
	return 0;
}

int
store_key_derive(const struct store_key *key, const char *context,
    uint8_t out[32], struct dt_error *err)
{
	if (key == NULL)
		return dt_error_set(err, DT_E_CRYPTO,
		    "%.8s: the store was opened without its key", context);
	crypto_kdf_derive_from_key(out, 32, 1, context, key->bytes);
	return 0;
}

int
store_key_hash(const struct store_key *key, const char *context,
    const void *msg, size_t len, uint8_t out[32], struct dt_error *err)
{
	uint8_t sub[crypto_generichash_KEYBYTES];

	if (key == NULL)
		return dt_error_set(err, DT_E_CRYPTO,
		    "keyed hash: the store was opened without its key");
	crypto_kdf_derive_from_key(sub, sizeof(sub), 1, context, key->bytes);
	crypto_generichash(out, 32, msg, len, sub, sizeof(sub));
	sodium_memzero(sub, sizeof(sub));
	return 0;
}

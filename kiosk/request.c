/*
 * kiosk/request.c — the kiosk's request, built offline (request.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "kiosk/request.h"
#include "util/file.h"

static void *
key_alloc(size_t n)
{
	return sodium_malloc(n);
}

static const struct dt_file_mem key_mem = { key_alloc, sodium_free };

int
kiosk_key_load(const char *path, unsigned char **sk, bool *loose_mode,
    struct dt_error *err)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char *key = NULL, *seed = NULL, *check = NULL;
	char *text = NULL;
	struct stat sb;
	size_t got = 0, binlen = 0;
	const char *end;
	int rc = -1;

	if (dt_file_read(path, KIOSK_KEY_FILE_MAX, &key_mem, &text, &got,
	    &sb, err) != 0) {
		if (err != NULL) {
			char m[DT_ERROR_MSG_MAX];

			memcpy(m, err->msg, sizeof(m));
			dt_error_set(err, err->code, "key file %s", m);
		}
		return -1;
	}
	*loose_mode = (sb.st_mode & (S_IRWXG | S_IRWXO)) != 0;
	key = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	seed = sodium_malloc(crypto_sign_SEEDBYTES);
	check = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (key == NULL || seed == NULL || check == NULL) {
		dt_error_set(err, DT_E_NOMEM, "key file %s: out of memory",
		    path);
		goto out;
	}
	if (sodium_base642bin(key, crypto_sign_SECRETKEYBYTES, text, got,
	    " \t\r\n", &binlen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    binlen != crypto_sign_SECRETKEYBYTES || *end != '\0') {
		dt_error_set(err, DT_E_FORMAT, "key file %s: expected the "
		    "64-byte Ed25519 secret key in base64 on one line (as "
		    "written by dt4ecg-admin kiosk add)", path);
		goto out;
	}
	/* the public half must be the one of the seed */
	crypto_sign_ed25519_sk_to_seed(seed, key);
	crypto_sign_seed_keypair(pk, check, seed);
	if (sodium_memcmp(pk, key + crypto_sign_SEEDBYTES, sizeof(pk)) != 0) {
		dt_error_set(err, DT_E_FORMAT, "key file %s: the public key "
		    "does not match the seed (corrupt key file)", path);
		goto out;
	}
	*sk = key;
	key = NULL;
	rc = 0;
out:
	sodium_free(text);
	sodium_free(seed);
	sodium_free(check);
	sodium_free(key);
	return rc;
}

void
kiosk_key_free(unsigned char *sk)
{
	sodium_free(sk);
}

int
kiosk_segment(size_t n, double fs_hz, double offset_s, double seconds,
    size_t *start, size_t *count, struct dt_error *err)
{
	double s0 = offset_s * fs_hz, c;

	if (!(fs_hz > 0) || !(offset_s >= 0) || !(seconds >= 0))
		return dt_error_set(err, DT_E_INVALID, "bad segment");
	if (s0 >= (double)n)
		return dt_error_set(err, DT_E_INVALID, "offset %g s is past "
		    "the end of the recording (%.1f s)", offset_s,
		    (double)n / fs_hz);
	*start = (size_t)s0;
	c = seconds > 0 ? floor(seconds * fs_hz + 0.5) : (double)n;
	*count = c > (double)(n - *start) ? n - *start : (size_t)c;
	if (*count == 0)
		return dt_error_set(err, DT_E_INVALID, "empty segment");
	return 0;
}

struct buf {
	char *p;
	size_t len, cap;
};

static int
buf_grow(struct buf *b, size_t more)
{
	char *np;
	size_t cap;

	if (b->len + more + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	if ((np = malloc(cap)) == NULL)
		return -1;
	/* copy, then wipe the old buffer: it holds samples */
	if (b->p != NULL) {
		memcpy(np, b->p, b->len);
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	b->p = np;
	b->cap = cap;
	return 0;
}

static int
buf_add(struct buf *b, const char *s, size_t n)
{
	if (buf_grow(b, n) != 0)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
kiosk_body(const float *mv, size_t n, double fs_hz, const char *claimed,
    char **body, size_t *len, struct dt_error *err)
{
	struct buf b = { 0 };
	char num[64], *q = NULL;
	json_t *js;
	size_t i;
	int k;

	if (!(fs_hz > 0) || !isfinite(fs_hz) || n == 0)
		return dt_error_set(err, DT_E_INVALID, "no samples to send");
	k = snprintf(num, sizeof(num), "{\"ecg\":{\"fs_hz\":%.17g,\"units\":"
	    "\"mV\",\"lead\":\"I\",\"samples\":[", fs_hz);
	if (buf_grow(&b, n * 10 + 256) != 0 || buf_add(&b, num, (size_t)k))
		goto nomem;
	for (i = 0; i < n; i++) {
		if (!isfinite(mv[i])) {
			dt_error_set(err, DT_E_SIG_NONFINITE, "sample %zu is "
			    "not a finite number", i);
			goto fail;
		}
		k = snprintf(num, sizeof(num), i ? ",%.6g" : "%.6g",
		    (double)mv[i]);
		if (buf_add(&b, num, (size_t)k) != 0)
			goto nomem;
	}
	if (buf_add(&b, "]}", 2) != 0)
		goto nomem;
	if (claimed != NULL) {
		if ((js = json_string(claimed)) == NULL) {
			dt_error_set(err, DT_E_INVALID, "claimed user: not "
			    "valid UTF-8");
			goto fail;
		}
		q = json_dumps(js, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		json_decref(js);
		if (q == NULL || buf_add(&b, ",\"claimed_user\":", 16) != 0 ||
		    buf_add(&b, q, strlen(q)) != 0)
			goto nomem;
		free(q);
		q = NULL;
	}
	if (buf_add(&b, "}", 1) != 0)
		goto nomem;
	*body = b.p;
	*len = b.len;
	return 0;
nomem:
	dt_error_set(err, DT_E_NOMEM, "request body: out of memory");
fail:
	free(q);
	if (b.p != NULL) {
		sodium_memzero(b.p, b.cap);
		free(b.p);
	}
	return -1;
}

int
kiosk_sign(const char *path, const char *keyid, const unsigned char *sk,
    const char *body, size_t len, int64_t created, const char *nonce,
    struct kiosk_sig *out, struct dt_error *err)
{
	memset(out, 0, sizeof(*out));
	if (nonce != NULL)
		snprintf(out->nonce, sizeof(out->nonce), "%s", nonce);
	else if (httpsig_nonce(out->nonce, sizeof(out->nonce)) != 0)
		return dt_error_set(err, DT_E_INTERNAL, "nonce");
	if (digest_header(DIGEST_SHA256, body, len, out->content_digest,
	    sizeof(out->content_digest), err) != 0)
		return -1;
	return httpsig_sign_kiosk("POST", path, out->content_digest, keyid,
	    created, out->nonce, sk, out->signature_input,
	    sizeof(out->signature_input), out->signature,
	    sizeof(out->signature), err);
}

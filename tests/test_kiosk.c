/*
 * tests/test_kiosk.c — the kiosk client's request, offline: the JSON body,
 * the segment cut from a recording, Content-Digest, the RFC 9421 signature
 * checked with the daemon's own verifier, and the key file.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "tests/cmocka_all.h"

#include "proto/digest.h"
#include "proto/httpsig.h"
#include "kiosk/request.h"

static void
test_body(void **state)
{
	struct dt_error err = { 0 };
	float mv[5] = { 0.0f, -1.25f, 2.5e-3f, 1.0f / 3.0f, 1000.0f };
	json_t *j, *ecg, *samples;
	char *body = NULL;
	size_t len = 0, i;

	(void)state;
	assert_int_equal(kiosk_body(mv, 5, 500, "al\"ice", &body, &len,
	    &err), 0);
	assert_int_equal(strlen(body), len);
	j = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	ecg = json_object_get(j, "ecg");
	assert_true(json_is_object(ecg));
	assert_true(json_number_value(json_object_get(ecg, "fs_hz")) == 500);
	assert_string_equal(json_string_value(json_object_get(ecg, "units")),
	    "mV");
	assert_string_equal(json_string_value(json_object_get(ecg, "lead")),
	    "I");
	samples = json_object_get(ecg, "samples");
	assert_int_equal(json_array_size(samples), 5);
	for (i = 0; i < 5; i++)
		assert_true(fabs(json_number_value(json_array_get(samples, i)) -
		    mv[i]) <= 1e-5 * (1 + fabs(mv[i])));
	assert_string_equal(json_string_value(json_object_get(j,
	    "claimed_user")), "al\"ice");
	assert_int_equal(json_object_size(j), 2);
	json_decref(j);
	free(body);

	/* without a claim: 1:N, no claimed_user member */
	assert_int_equal(kiosk_body(mv, 5, 128.5, NULL, &body, &len, &err), 0);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	assert_null(json_object_get(j, "claimed_user"));
	assert_true(json_number_value(json_object_get(json_object_get(j,
	    "ecg"), "fs_hz")) == 128.5);
	json_decref(j);
	free(body);
}

static void
test_body_refuses(void **state)
{
	struct dt_error err = { 0 };
	float mv[3] = { 0.0f, NAN, 1.0f };
	char *body = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(kiosk_body(mv, 3, 500, NULL, &body, &len, &err), -1);
	assert_int_equal(err.code, DT_E_SIG_NONFINITE);
	assert_non_null(strstr(err.msg, "sample 1"));
	assert_null(body);
	assert_int_equal(kiosk_body(mv, 0, 500, NULL, &body, &len, &err), -1);
	assert_int_equal(kiosk_body(mv, 1, 0, NULL, &body, &len, &err), -1);
}

static void
test_segment(void **state)
{
	struct dt_error err = { 0 };
	size_t start, count;

	(void)state;
	/* 20 s at 500 Hz: the first 8 s */
	assert_int_equal(kiosk_segment(10000, 500, 0, 8, &start, &count,
	    &err), 0);
	assert_int_equal(start, 0);
	assert_int_equal(count, 4000);
	/* from 15 s: only 5 s are left */
	assert_int_equal(kiosk_segment(10000, 500, 15, 8, &start, &count,
	    &err), 0);
	assert_int_equal(start, 7500);
	assert_int_equal(count, 2500);
	/* 0 = everything */
	assert_int_equal(kiosk_segment(10000, 500, 0, 0, &start, &count,
	    &err), 0);
	assert_int_equal(count, 10000);
	/* past the end */
	assert_int_equal(kiosk_segment(10000, 500, 20, 8, &start, &count,
	    &err), -1);
	assert_non_null(strstr(err.msg, "past the end"));
}

static void
test_sign_verify(void **state)
{
	struct dt_error err = { 0 };
	unsigned char pk[32], sk[64], other_pk[32], other_sk[64];
	float mv[600];
	struct kiosk_sig s1, s2;
	struct httpsig_sig parsed;
	struct httpsig_field fields[2];
	struct httpsig_msg msg;
	char *body = NULL;
	size_t len, i;
	int64_t now = (int64_t)time(NULL);

	(void)state;
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(other_pk, other_sk);
	for (i = 0; i < 600; i++)
		mv[i] = (float)sin((double)i / 20.0);
	assert_int_equal(kiosk_body(mv, 600, 250, "alice", &body, &len, &err),
	    0);
	assert_int_equal(kiosk_sign(KIOSK_PATH, "lobby-1", sk, body, len, now,
	    NULL, &s1, &err), 0);

	/* Content-Digest: RFC 9530 sha-256 of exactly these bytes */
	assert_int_equal(strncmp(s1.content_digest, "sha-256=:", 9), 0);
	assert_int_equal(digest_verify(s1.content_digest, body, len, &err),
	    PROBLEM_OK);

	/* the daemon's four steps */
	assert_int_equal(strncmp(s1.signature_input, "sig1=(\"@method\" "
	    "\"@path\" \"content-digest\");created=", 50), 0);
	assert_int_equal(httpsig_parse(s1.signature_input, s1.signature, NULL,
	    &parsed, &err), PROBLEM_OK);
	assert_int_equal(httpsig_check(&parsed.params, &httpsig_kiosk_policy,
	    now, 60, &err), PROBLEM_OK);
	assert_string_equal(parsed.params.keyid, "lobby-1");
	assert_string_equal(parsed.params.alg, "ed25519");
	assert_string_equal(parsed.params.nonce, s1.nonce);
	assert_int_equal(strlen(s1.nonce), 22);
	assert_true(parsed.params.created == now);
	fields[0].name = "Content-Type";
	fields[0].value = "application/json";
	fields[1].name = "Content-Digest";
	fields[1].value = s1.content_digest;
	msg.method = "POST";
	msg.path = KIOSK_PATH;
	msg.authority = NULL;
	msg.fields = fields;
	msg.nfields = 2;
	assert_int_equal(httpsig_verify(&msg, &parsed, pk, &err), PROBLEM_OK);
	/* another kiosk's key does not verify it */
	assert_int_equal(httpsig_verify(&msg, &parsed, other_pk, &err),
	    PROBLEM_SIG_INVALID);
	/* another path does not either */
	msg.path = "/v1/other";
	assert_int_equal(httpsig_verify(&msg, &parsed, pk, &err),
	    PROBLEM_SIG_INVALID);
	msg.path = KIOSK_PATH;
	/* a changed body no longer matches the signed digest */
	body[len - 3] ^= 1;
	assert_int_not_equal(digest_verify(s1.content_digest, body, len, &err),
	    PROBLEM_OK);
	/* every request gets a fresh nonce */
	assert_int_equal(kiosk_sign(KIOSK_PATH, "lobby-1", sk, body, len, now,
	    NULL, &s2, &err), 0);
	assert_string_not_equal(s1.nonce, s2.nonce);
	/* a given nonce is used as is */
	assert_int_equal(kiosk_sign(KIOSK_PATH, "lobby-1", sk, body, len, now,
	    "fixed-nonce", &s2, &err), 0);
	assert_string_equal(s2.nonce, "fixed-nonce");
	assert_non_null(strstr(s2.signature_input, "nonce=\"fixed-nonce\""));
	free(body);
}

static void
write_key(const char *path, const unsigned char *sk, int mode)
{
	char b64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
	FILE *f;

	sodium_bin2base64(b64, sizeof(b64), sk, 64,
	    sodium_base64_VARIANT_ORIGINAL);
	unlink(path);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "%s\n", b64);
	fclose(f);
	assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static void
test_key_file(void **state)
{
	struct dt_error err = { 0 };
	unsigned char pk[32], sk[64], *got = NULL;
	char dir[] = "/tmp/test_kiosk.XXXXXX", path[64];
	bool loose = true;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.key", dir);
	crypto_sign_keypair(pk, sk);

	write_key(path, sk, 0600);
	assert_int_equal(kiosk_key_load(path, &got, &loose, &err), 0);
	assert_false(loose);
	assert_memory_equal(got, sk, 64);
	kiosk_key_free(got);
	got = NULL;

	/* group-readable: loaded, with a warning flag */
	write_key(path, sk, 0640);
	assert_int_equal(kiosk_key_load(path, &got, &loose, &err), 0);
	assert_true(loose);
	kiosk_key_free(got);
	got = NULL;

	/* a public half that is not the seed's: refused */
	sk[40] ^= 1;
	write_key(path, sk, 0600);
	assert_int_equal(kiosk_key_load(path, &got, &loose, &err), -1);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "does not match"));

	/* not base64 / wrong length */
	assert_non_null(f = fopen(path, "w"));
	fputs("not a key\n", f);
	fclose(f);
	assert_int_equal(kiosk_key_load(path, &got, &loose, &err), -1);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(f = fopen(path, "w"));
	fputs("AAAA\n", f);
	fclose(f);
	assert_int_equal(kiosk_key_load(path, &got, &loose, &err), -1);
	assert_null(got);

	unlink(path);
	assert_int_equal(kiosk_key_load(path, &got, &loose, &err), -1);
	assert_non_null(strstr(err.msg, path));
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_body_refuses),
		cmocka_unit_test(test_segment),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_key_file),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/test_httpsig.c — RFC 9421 signatures: the RFC's own Ed25519 example
 * (Appendix B.2.6) byte for byte, the kiosk profile round trip, and every
 * malformed-header case with its distinct problem.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "tests/cmocka_all.h"

#include "proto/httpsig.h"

/* RFC 9421 Appendix B.1.4, test-key-ed25519 (JWK "d" and "x"). */
static const char rfc_seed_hex[] =
    "9f8362f87a484a954e6e740c5b4c0e84229139a20aa8ab56ff66586f6a7d29c5";
static const char rfc_pk_hex[] =
    "26b40b8f93fff3d897112f7ebc582b232dbd72517d082fe83cfb30ddce43d1bb";

/* RFC 9421 Appendix B.2.6. */
static const char rfc_sig_input[] =
    "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" "
    "\"content-type\" \"content-length\");created=1618884473"
    ";keyid=\"test-key-ed25519\"";
static const char rfc_signature[] =
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
    "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";
static const char rfc_base[] =
    "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
    "\"@method\": POST\n"
    "\"@path\": /foo\n"
    "\"@authority\": example.com\n"
    "\"content-type\": application/json\n"
    "\"content-length\": 18\n"
    "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" "
    "\"content-type\" \"content-length\");created=1618884473"
    ";keyid=\"test-key-ed25519\"";

/* The test-request of RFC 9421 Appendix B.2 (POST /foo?param=Value&Pet=dog). */
static const struct httpsig_field rfc_fields[] = {
	{ "Host", "example.com" },
	{ "Date", "Tue, 20 Apr 2021 02:07:55 GMT" },
	{ "Content-Type", "application/json" },
	{ "Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2"
	    "svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:" },
	{ "Content-Length", "18" },
};
static const struct httpsig_msg rfc_msg = {
	"POST", "/foo", "example.com", rfc_fields,
	sizeof(rfc_fields) / sizeof(rfc_fields[0]),
};

static unsigned char rfc_pk[32], rfc_sk[64];

/* A kiosk key pair and a signed request of the dt4ecg profile. */
static unsigned char kiosk_pk[32], kiosk_sk[64];
static const char kiosk_digest[] =
    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
#define NOW ((int64_t)1700000000)

static int
setup(void **state)
{
	unsigned char seed[32];
	size_t n;

	if (sodium_init() < 0)
		return -1;
	if (sodium_hex2bin(seed, sizeof(seed), rfc_seed_hex,
	    strlen(rfc_seed_hex), NULL, &n, NULL) != 0 || n != 32)
		return -1;
	crypto_sign_seed_keypair(rfc_pk, rfc_sk, seed);
	crypto_sign_keypair(kiosk_pk, kiosk_sk);
	return 0;
}

static void
test_rfc_b26_kat(void **state)
{
	struct httpsig_sig sig;
	struct dt_error err;
	unsigned char pk[32];
	char base[HTTPSIG_BASE_MAX], si[1024], sg[256];
	size_t n, len;

	/* The RFC's public key is the one derived from its private key. */
	assert_int_equal(sodium_hex2bin(pk, sizeof(pk), rfc_pk_hex,
	    strlen(rfc_pk_hex), NULL, &n, NULL), 0);
	assert_memory_equal(pk, rfc_pk, 32);

	assert_int_equal(httpsig_parse(rfc_sig_input, rfc_signature, NULL,
	    &sig, &err), PROBLEM_OK);
	assert_string_equal(sig.params.label, "sig-b26");
	assert_int_equal(sig.params.ncomponents, 6);
	assert_true(sig.params.has[HTTPSIG_P_CREATED]);
	assert_int_equal(sig.params.created, 1618884473);
	assert_string_equal(sig.params.keyid, "test-key-ed25519");

	/* The signature base, byte for byte. */
	assert_int_equal(httpsig_base(&rfc_msg, &sig.params, base,
	    sizeof(base), &len, &err), PROBLEM_OK);
	assert_int_equal(len, strlen(rfc_base));
	assert_string_equal(base, rfc_base);

	/* The RFC's signature verifies with the RFC's public key. */
	assert_int_equal(httpsig_verify(&rfc_msg, &sig, pk, &err), PROBLEM_OK);

	/* Ed25519 is deterministic: signing reproduces both headers. */
	assert_int_equal(httpsig_sign(&rfc_msg, &sig.params, rfc_sk, si,
	    sizeof(si), sg, sizeof(sg), &err), 0);
	assert_string_equal(si, rfc_sig_input);
	assert_string_equal(sg, rfc_signature);

	/* Selecting by label works too; another label is missing. */
	assert_int_equal(httpsig_parse(rfc_sig_input, rfc_signature,
	    "sig-b26", &sig, &err), PROBLEM_OK);
	assert_int_equal(httpsig_parse(rfc_sig_input, rfc_signature, "sig1",
	    &sig, &err), PROBLEM_SIG_MISSING);

	/* The RFC example does not satisfy the kiosk profile. */
	assert_int_equal(httpsig_check(&sig.params, &httpsig_kiosk_policy,
	    1618884473, 60, &err), PROBLEM_SIG_COMPONENT);
}

static void
test_rfc_b26_tampered(void **state)
{
	struct httpsig_field f[5];
	struct httpsig_msg m = rfc_msg;
	struct httpsig_sig sig;
	struct dt_error err;

	assert_int_equal(httpsig_parse(rfc_sig_input, rfc_signature, NULL,
	    &sig, &err), PROBLEM_OK);
	memcpy(f, rfc_fields, sizeof(f));
	f[4].value = "19";
	m.fields = f;
	assert_int_equal(httpsig_verify(&m, &sig, rfc_pk, &err),
	    PROBLEM_SIG_INVALID);
	m = rfc_msg;
	m.authority = "EXAMPLE.COM";	/* normalised: still verifies */
	assert_int_equal(httpsig_verify(&m, &sig, rfc_pk, &err), PROBLEM_OK);
	m.authority = "example.org";
	assert_int_equal(httpsig_verify(&m, &sig, rfc_pk, &err),
	    PROBLEM_SIG_INVALID);
	m = rfc_msg;
	m.nfields = 2;			/* content-type gone */
	assert_int_equal(httpsig_verify(&m, &sig, rfc_pk, &err),
	    PROBLEM_SIG_COMPONENT);
	assert_non_null(strstr(err.msg, "content-type"));
	m = rfc_msg;
	m.authority = NULL;
	assert_int_equal(httpsig_verify(&m, &sig, rfc_pk, &err),
	    PROBLEM_SIG_COMPONENT);
}

static void
sign_kiosk(int64_t created, const char *nonce, char *si, size_t sisz,
    char *sg, size_t sgsz)
{
	struct dt_error err;

	assert_int_equal(httpsig_sign_kiosk("POST", "/v1/authenticate",
	    kiosk_digest, "kiosk-7", created, nonce, kiosk_sk, si, sisz, sg,
	    sgsz, &err), 0);
}

static struct httpsig_msg
kiosk_msg(struct httpsig_field *f, const char *digest)
{
	struct httpsig_msg m = { "POST", "/v1/authenticate", "dt4ecg.local",
	    f, 2 };

	f[0].name = "Content-Type";
	f[0].value = "application/json";
	f[1].name = "Content-Digest";
	f[1].value = digest;
	return m;
}

static void
test_kiosk_roundtrip(void **state)
{
	char si[1024], sg[256], nonce[32], nonce2[32];
	struct httpsig_field f[2];
	struct httpsig_msg m = kiosk_msg(f, kiosk_digest);
	struct httpsig_sig sig;
	struct dt_error err;
	unsigned char other_pk[32], other_sk[64];

	assert_int_equal(httpsig_nonce(nonce, sizeof(nonce)), 0);
	assert_int_equal(strlen(nonce), 22);
	assert_int_equal(httpsig_nonce(nonce2, sizeof(nonce2)), 0);
	assert_string_not_equal(nonce, nonce2);
	assert_int_equal(httpsig_nonce(nonce2, 10), -1);

	sign_kiosk(NOW, nonce, si, sizeof(si), sg, sizeof(sg));
	assert_memory_equal(si, "sig1=(\"@method\" \"@path\" "
	    "\"content-digest\");created=1700000000;nonce=\"", 62);
	assert_non_null(strstr(si, ";keyid=\"kiosk-7\";alg=\"ed25519\""));
	assert_int_equal(httpsig_parse(si, sg, NULL, &sig, &err), PROBLEM_OK);
	assert_string_equal(sig.params.nonce, nonce);
	assert_int_equal(httpsig_check(&sig.params, &httpsig_kiosk_policy,
	    NOW + 59, 60, &err), PROBLEM_OK);
	assert_int_equal(httpsig_verify(&m, &sig, kiosk_pk, &err), PROBLEM_OK);

	/* Any change of a covered component breaks it. */
	m.method = "PUT";
	assert_int_equal(httpsig_verify(&m, &sig, kiosk_pk, &err),
	    PROBLEM_SIG_INVALID);
	m.method = "POST";
	m.path = "/v1/authenticatE";
	assert_int_equal(httpsig_verify(&m, &sig, kiosk_pk, &err),
	    PROBLEM_SIG_INVALID);
	m = kiosk_msg(f, "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:");
	assert_int_equal(httpsig_verify(&m, &sig, kiosk_pk, &err),
	    PROBLEM_SIG_INVALID);
	/* A header that is not covered does not matter. */
	m = kiosk_msg(f, kiosk_digest);
	f[0].value = "text/plain";
	assert_int_equal(httpsig_verify(&m, &sig, kiosk_pk, &err), PROBLEM_OK);
	/* Another key does not verify it. */
	crypto_sign_keypair(other_pk, other_sk);
	assert_int_equal(httpsig_verify(&m, &sig, other_pk, &err),
	    PROBLEM_SIG_INVALID);
	assert_non_null(strstr(err.msg, "kiosk-7"));
	/* A flipped signature bit does not verify. */
	sig.sig[10] ^= 1;
	assert_int_equal(httpsig_verify(&m, &sig, kiosk_pk, &err),
	    PROBLEM_SIG_INVALID);

	/* Signing refuses values that cannot be sf-strings. */
	assert_int_equal(httpsig_sign_kiosk("POST", "/", kiosk_digest,
	    "bad\"\x01", NOW, nonce, kiosk_sk, si, sizeof(si), sg, sizeof(sg),
	    &err), -1);
	assert_int_equal(httpsig_sign_kiosk("POST", "/", kiosk_digest,
	    "k", NOW, nonce, kiosk_sk, si, 20, sg, sizeof(sg), &err), -1);
}

static void
test_missing(void **state)
{
	struct httpsig_sig sig;
	struct dt_error err;
	const char *si = "sig1=(\"@method\");created=1";
	const char *sg = "sig1=:AAAA:";

	assert_int_equal(httpsig_parse(NULL, sg, NULL, &sig, &err),
	    PROBLEM_SIG_MISSING);
	assert_non_null(strstr(err.msg, "Signature-Input"));
	assert_int_equal(httpsig_parse(si, NULL, NULL, &sig, &err),
	    PROBLEM_SIG_MISSING);
	assert_int_equal(httpsig_parse("  ", sg, NULL, &sig, &err),
	    PROBLEM_SIG_MISSING);
	assert_int_equal(httpsig_parse(si, "", NULL, &sig, &err),
	    PROBLEM_SIG_MISSING);
}

struct bad_case {
	const char *si;
	const char *sg;
	enum problem_kind want;
};

static void
test_malformed(void **state)
{
	static char longhdr[HTTPSIG_HEADER_MAX + 16];
	static char many[1024];
	static char longkeyid[512];
	const char *good_sg = "sig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDn"
	    "QCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";
	const char *good_si = "sig1=(\"@method\");created=1";
	struct bad_case cases[] = {
		/* Signature-Input syntax */
		{ "sig1", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=", NULL, PROBLEM_SIG_MALFORMED },
		{ "=(\"@method\")", NULL, PROBLEM_SIG_MALFORMED },
		{ "Sig1=(\"@method\")", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=\"@method\"", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\"", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(@method)", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\"\"@path\")", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\" \"@path)", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");created=abc", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");created=1.5", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");created=1234567890123456", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");created", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");created=\"1\"", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");nonce=abc", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");nonce=\"a\\nb\"", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");nonce=\"a\";nonce=\"b\"", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");Created=1", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\"),", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\") x", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\"), sig1=(\"@path\")", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@Method\")", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"Content-Digest\")", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"content digest\")", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"\")", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@query\")", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@target-uri\")", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\" \"@method\")", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"content-digest\";sf)", NULL, PROBLEM_SIG_MALFORMED },
		{ "sig1=(\"@method\");created=1;keyid=\"\xc3\xa9\"", NULL,
		    PROBLEM_SIG_MALFORMED },
		{ longhdr, NULL, PROBLEM_SIG_MALFORMED },
		{ many, NULL, PROBLEM_SIG_MALFORMED },
		{ longkeyid, NULL, PROBLEM_SIG_MALFORMED },
		/* unknown parameter */
		{ "sig1=(\"@method\");foo=1", NULL, PROBLEM_SIG_PARAMS },
		{ "sig1=(\"@method\");created=1;x-nonce=\"a\"", NULL,
		    PROBLEM_SIG_PARAMS },
		/* Signature syntax and base64 */
		{ NULL, "sig1", PROBLEM_SIG_MALFORMED },
		{ NULL, "sig1=abc", PROBLEM_SIG_MALFORMED },
		{ NULL, "sig1=\"abc\"", PROBLEM_SIG_MALFORMED },
		{ NULL, "sig2=:AAAA:", PROBLEM_SIG_MALFORMED },
		{ NULL, "sig1=:AAAA:, sig1=:AAAA:", PROBLEM_SIG_MALFORMED },
		{ NULL, "sig1=:AAAA:;x=1", PROBLEM_SIG_MALFORMED },
		{ NULL, "sig1=:AAAA: junk", PROBLEM_SIG_MALFORMED },
		{ NULL, "sig1=:AAAA:", PROBLEM_SIG_MALFORMED },	/* 3 bytes */
		{ NULL, "sig1=:AAAA", PROBLEM_SIG_BASE64 },
		{ NULL, "sig1=:AA!A:", PROBLEM_SIG_BASE64 },
		{ NULL, "sig1=:AAAAA:", PROBLEM_SIG_BASE64 },
		{ NULL, "sig1=:AA=A:", PROBLEM_SIG_BASE64 },
		{ NULL, "sig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
		    "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw:",
		    PROBLEM_SIG_BASE64 },	/* padding missing */
		{ NULL, "sig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
		    "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==", /* no colon */
		    PROBLEM_SIG_BASE64 },
		{ NULL, "sig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
		    "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRC_==:",
		    PROBLEM_SIG_BASE64 },	/* base64url character */
	};
	struct httpsig_sig sig;
	struct dt_error err;
	size_t i, pos;

	memset(longhdr, 0, sizeof(longhdr));
	memcpy(longhdr, "sig1=(\"@method\");nonce=\"", 24);
	memset(longhdr + 24, 'a', HTTPSIG_HEADER_MAX - 20);
	pos = (size_t)snprintf(many, sizeof(many), "sig1=(");
	for (i = 0; i <= HTTPSIG_MAX_COMPONENTS; i++)
		pos += (size_t)snprintf(many + pos, sizeof(many) - pos,
		    "%s\"h%zu\"", i ? " " : "", i);
	snprintf(many + pos, sizeof(many) - pos, ")");
	pos = (size_t)snprintf(longkeyid, sizeof(longkeyid),
	    "sig1=(\"@method\");keyid=\"");
	memset(longkeyid + pos, 'k', 300);
	memcpy(longkeyid + pos + 300, "\"", 2);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum problem_kind got;

		dt_error_clear(&err);
		got = httpsig_parse(cases[i].si ? cases[i].si : good_si,
		    cases[i].sg ? cases[i].sg : good_sg, NULL, &sig, &err);
		if (got != cases[i].want)
			fail_msg("case %zu (%.60s | %.60s): got %s, want %s",
			    i, cases[i].si ? cases[i].si : "-",
			    cases[i].sg ? cases[i].sg : "-",
			    problem_slug(got), problem_slug(cases[i].want));
		assert_true(err.msg[0] != '\0');
	}
}

static void
test_lenient_syntax(void **state)
{
	struct httpsig_sig sig;
	struct dt_error err;
	const char *sg = "sig2=:AAAA:,\tsig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEF"
	    "N2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:  ";
	char buf[256];
	size_t len;

	/* Several signatures, OWS around commas, extra spaces in lists,
	 * SP after ";", escapes in strings: all RFC 8941. */
	assert_int_equal(httpsig_parse("  sig1=( \"@method\"  \"@path\" );"
	    " created=5;keyid=\"a\\\"b\\\\c\" , sig2=()", sg, NULL, &sig,
	    &err), PROBLEM_OK);
	assert_string_equal(sig.params.label, "sig1");
	assert_int_equal(sig.params.ncomponents, 2);
	assert_string_equal(sig.params.keyid, "a\"b\\c");
	/* Re-serialised canonically, escapes restored. */
	assert_int_equal(httpsig_params_serialize(&sig.params, buf,
	    sizeof(buf), &len), 0);
	assert_string_equal(buf,
	    "(\"@method\" \"@path\");created=5;keyid=\"a\\\"b\\\\c\"");
	assert_int_equal(len, strlen(buf));
	assert_int_equal(httpsig_params_serialize(&sig.params, buf, 10, &len),
	    -1);
	/* The second member by label (the Signature for sig2 is 3 bytes). */
	assert_int_equal(httpsig_parse("sig1=(\"@method\"), sig2=()", sg,
	    "sig2", &sig, &err), PROBLEM_SIG_MALFORMED);
	/* Negative created parses (and is then far outside the skew). */
	assert_int_equal(httpsig_parse("sig1=();created=-5", sg, NULL, &sig,
	    &err), PROBLEM_OK);
	assert_int_equal(sig.params.created, -5);
}

static void
check_one(const char *si, int64_t now, enum problem_kind want)
{
	const char *sg = "sig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
	    "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";
	struct httpsig_sig sig;
	struct dt_error err;
	enum problem_kind got;

	assert_int_equal(httpsig_parse(si, sg, NULL, &sig, &err), PROBLEM_OK);
	dt_error_clear(&err);
	got = httpsig_check(&sig.params, &httpsig_kiosk_policy, now, 60, &err);
	if (got != want)
		fail_msg("%s: got %s (%s), want %s", si, problem_slug(got),
		    err.msg, problem_slug(want));
}

#define KIOSK_SI(params) \
	"sig1=(\"@method\" \"@path\" \"content-digest\")" params

static void
test_policy(void **state)
{
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";keyid=\"k\";"
	    "alg=\"ed25519\""), 1000, PROBLEM_OK);
	/* order of parameters and of components is the signer's choice */
	check_one("sig1=(\"content-digest\" \"@path\" \"@method\");alg="
	    "\"ed25519\";keyid=\"k\";nonce=\"n\";created=1000", 1000,
	    PROBLEM_OK);
	/* wrong alg */
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";keyid=\"k\";"
	    "alg=\"rsa-pss-sha512\""), 1000, PROBLEM_SIG_ALG);
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";keyid=\"k\";"
	    "alg=\"Ed25519\""), 1000, PROBLEM_SIG_ALG);
	/* required parameters */
	check_one(KIOSK_SI(";created=1000;keyid=\"k\";alg=\"ed25519\""), 1000,
	    PROBLEM_SIG_PARAMS);
	check_one(KIOSK_SI(";nonce=\"n\";keyid=\"k\";alg=\"ed25519\""), 1000,
	    PROBLEM_SIG_PARAMS);
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";alg=\"ed25519\""), 1000,
	    PROBLEM_SIG_PARAMS);
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";keyid=\"k\""), 1000,
	    PROBLEM_SIG_PARAMS);
	/* known to RFC 9421 but not accepted by the profile */
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";keyid=\"k\";"
	    "alg=\"ed25519\";tag=\"t\""), 1000, PROBLEM_SIG_PARAMS);
	/* components */
	check_one("sig1=(\"@method\" \"@path\");created=1000;nonce=\"n\";"
	    "keyid=\"k\";alg=\"ed25519\"", 1000, PROBLEM_SIG_COMPONENT);
	check_one("sig1=(\"@method\" \"content-digest\");created=1000;"
	    "nonce=\"n\";keyid=\"k\";alg=\"ed25519\"", 1000,
	    PROBLEM_SIG_COMPONENT);
	/* created within the skew, on both sides */
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";keyid=\"k\";"
	    "alg=\"ed25519\""), 1060, PROBLEM_OK);
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";keyid=\"k\";"
	    "alg=\"ed25519\""), 940, PROBLEM_OK);
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";keyid=\"k\";"
	    "alg=\"ed25519\""), 1061, PROBLEM_SIG_CREATED);
	check_one(KIOSK_SI(";created=1000;nonce=\"n\";keyid=\"k\";"
	    "alg=\"ed25519\""), 939, PROBLEM_SIG_CREATED);
	check_one(KIOSK_SI(";created=-999999999999999;nonce=\"n\";keyid=\"k\";"
	    "alg=\"ed25519\""), 1000, PROBLEM_SIG_CREATED);
	/* expires */
	check_one(KIOSK_SI(";created=1000;expires=1010;nonce=\"n\";"
	    "keyid=\"k\";alg=\"ed25519\""), 1005, PROBLEM_OK);
	check_one(KIOSK_SI(";created=1000;expires=1010;nonce=\"n\";"
	    "keyid=\"k\";alg=\"ed25519\""), 1010, PROBLEM_SIG_CREATED);
}

static void
test_base_fields(void **state)
{
	struct httpsig_field f[] = {
		{ "X-Multi", "  a  " },
		{ "Content-Type", "application/json" },
		{ "x-multi", "b\t" },
		{ "X-Bad", "a\r\nb" },
		{ "X-Empty", "" },
	};
	struct httpsig_msg m = { "POST", "", NULL, f, 5 };
	struct httpsig_sig sig;
	struct dt_error err;
	char base[512];
	size_t len;

	assert_int_equal(httpsig_parse("sig1=(\"x-multi\" \"@path\" "
	    "\"x-empty\")", "sig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDn"
	    "QCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:", NULL, &sig,
	    &err), PROBLEM_OK);
	assert_int_equal(httpsig_base(&m, &sig.params, base, sizeof(base),
	    &len, &err), PROBLEM_OK);
	assert_string_equal(base, "\"x-multi\": a, b\n\"@path\": /\n"
	    "\"x-empty\": \n\"@signature-params\": (\"x-multi\" \"@path\" "
	    "\"x-empty\")");
	/* too small a buffer */
	assert_int_equal(httpsig_base(&m, &sig.params, base, 20, &len, &err),
	    PROBLEM_SIG_MALFORMED);
	/* a control character in a covered value */
	assert_int_equal(httpsig_parse("sig1=(\"x-bad\")", "sig1=:wqcAqbmYJ2j"
	    "i2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5l"
	    "Ip5WPpBKRCw==:", NULL, &sig, &err), PROBLEM_OK);
	assert_int_equal(httpsig_base(&m, &sig.params, base, sizeof(base),
	    &len, &err), PROBLEM_SIG_MALFORMED);
	/* @method missing from the message */
	m.method = NULL;
	assert_int_equal(httpsig_parse("sig1=(\"@method\")", "sig1=:wqcAqbmYJ"
	    "2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv"
	    "5lIp5WPpBKRCw==:", NULL, &sig, &err), PROBLEM_OK);
	assert_int_equal(httpsig_base(&m, &sig.params, base, sizeof(base),
	    &len, &err), PROBLEM_SIG_COMPONENT);
}

static void
test_problem_table(void **state)
{
	char t[128];

	assert_int_equal(problem_status(PROBLEM_SIG_INVALID), 401);
	assert_int_equal(problem_status(PROBLEM_REPLAY), 409);
	assert_int_equal(problem_status((enum problem_kind)9999), 500);
	problem_type(PROBLEM_SIG_CREATED, t, sizeof(t));
	assert_string_equal(t, PROBLEM_TYPE_BASE "signature-expired");
	assert_string_equal(httpsig_param_name(HTTPSIG_P_KEYID), "keyid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_b26_kat),
		cmocka_unit_test(test_rfc_b26_tampered),
		cmocka_unit_test(test_kiosk_roundtrip),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_lenient_syntax),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_base_fields),
		cmocka_unit_test(test_problem_table),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}

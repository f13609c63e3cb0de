/* tests/test_digest.c — RFC 9530 Content-Digest. */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "tests/cmocka_all.h"

#include "proto/digest.h"

/* RFC 9530 section 2 / RFC 9421 Appendix B.2: {"hello": "world"} */
static const char body[] = "{\"hello\": \"world\"}";
static const char rfc_sha256[] =
    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
static const char rfc_sha512[] =
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu"
    "7BNNyealdVLvRwEmTHWXvJwew==:";

static int
setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

static void
test_kat(void **state)
{
	char buf[DIGEST_HEADER_BUF];
	struct dt_error err;

	assert_int_equal(digest_header(DIGEST_SHA256, body, strlen(body), buf,
	    sizeof(buf), &err), 0);
	assert_string_equal(buf, rfc_sha256);
	assert_int_equal(digest_header(DIGEST_SHA512, body, strlen(body), buf,
	    sizeof(buf), &err), 0);
	assert_string_equal(buf, rfc_sha512);
	assert_int_equal(digest_header(DIGEST_SHA512, body, strlen(body), buf,
	    20, &err), -1);
	assert_int_equal(digest_verify(rfc_sha256, body, strlen(body), &err),
	    PROBLEM_OK);
	assert_int_equal(digest_verify(rfc_sha512, body, strlen(body), &err),
	    PROBLEM_OK);
}

static void
test_several(void **state)
{
	char hdr[512];
	struct digest_set set;
	struct dt_error err;

	snprintf(hdr, sizeof(hdr), "%s, %s", rfc_sha512, rfc_sha256);
	assert_int_equal(digest_parse(hdr, &set, &err), PROBLEM_OK);
	assert_true(set.has_sha256 && set.has_sha512);
	assert_int_equal(digest_verify(hdr, body, strlen(body), &err),
	    PROBLEM_OK);
	/* unknown algorithms are ignored beside a known one */
	snprintf(hdr, sizeof(hdr), "md5=:AAAA:,unixsum=:AAAA:, %s", rfc_sha256);
	assert_int_equal(digest_verify(hdr, body, strlen(body), &err),
	    PROBLEM_OK);
	/* one good, one bad: mismatch */
	snprintf(hdr, sizeof(hdr), "%s, sha-512=:%s:", rfc_sha256,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAA==");
	assert_int_equal(digest_verify(hdr, body, strlen(body), &err),
	    PROBLEM_DIGEST_MISMATCH);
	assert_non_null(strstr(err.msg, "sha-512"));
}

static void
test_errors(void **state)
{
	static const struct {
		const char *hdr;
		enum problem_kind want;
	} cases[] = {
		{ NULL, PROBLEM_DIGEST_MISSING },
		{ "", PROBLEM_DIGEST_MISSING },
		{ " \t ", PROBLEM_DIGEST_MISSING },
		{ "sha-256", PROBLEM_DIGEST_MALFORMED },
		{ "sha-256=", PROBLEM_DIGEST_MALFORMED },
		{ "sha-256=abc", PROBLEM_DIGEST_MALFORMED },
		{ "sha-256=\"X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\"",
		    PROBLEM_DIGEST_MALFORMED },
		{ "SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
		    PROBLEM_DIGEST_MALFORMED },
		{ "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:",
		    PROBLEM_DIGEST_MALFORMED },	/* padding */
		{ "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
		    PROBLEM_DIGEST_MALFORMED },	/* colon */
		{ "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDU:",
		    PROBLEM_DIGEST_MALFORMED },	/* length */
		{ "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;a=1",
		    PROBLEM_DIGEST_MALFORMED },
		{ "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,",
		    PROBLEM_DIGEST_MALFORMED },
		{ "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, "
		  "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
		    PROBLEM_DIGEST_MALFORMED },
		{ "md5=:AAAA:", PROBLEM_DIGEST_UNSUPPORTED },
		{ "sha=:AAAA:, adler=:AAAA:", PROBLEM_DIGEST_UNSUPPORTED },
		{ "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:",
		    PROBLEM_DIGEST_MISMATCH },
	};
	struct dt_error err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum problem_kind got;

		dt_error_clear(&err);
		got = digest_verify(cases[i].hdr, body, strlen(body), &err);
		if (got != cases[i].want)
			fail_msg("case %zu (%s): got %s want %s", i,
			    cases[i].hdr ? cases[i].hdr : "NULL",
			    problem_slug(got), problem_slug(cases[i].want));
		assert_true(err.msg[0] != '\0');
	}
	/* a one-byte change of the body */
	assert_int_equal(digest_verify(rfc_sha256, "{\"hello\": \"World\"}",
	    strlen(body), &err), PROBLEM_DIGEST_MISMATCH);
	/* empty body */
	assert_int_equal(digest_verify("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5"
	    "NMpJWZG3hSuFU=:", "", 0, &err), PROBLEM_OK);
	assert_int_equal(problem_status(PROBLEM_DIGEST_MISMATCH), 401);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}

/* tests/test_config.c — dt4ecgd.conf parsing (daemon/cfg.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cmocka_all.h"

#include "daemon/cfg.h"

static int
parse(const char *text, struct cfg *c, struct dt_error *err)
{
	dt_error_clear(err);
	return cfg_parse("t.conf", text, strlen(text), c, err);
}

static void
test_defaults(void **state)
{
	struct cfg c;
	struct dt_error err;

	cfg_defaults(&c);
	assert_int_equal(c.port, 8443);
	assert_int_equal(c.max_body, 1048576);
	assert_int_equal(c.lockout_failures, 5);
	assert_int_equal(c.threads, 0);
	assert_true(cfg_threads(&c) >= 1);
	assert_string_equal(c.listen, "0.0.0.0");
	assert_string_equal(c.precision, "f32");
	/* an empty file and a comments-only file give the defaults */
	assert_int_equal(parse("", &c, &err), 0);
	assert_int_equal(c.port, 8443);
	assert_int_equal(parse("# nothing\n\n   # indented\n\t\n", &c, &err),
	    0);
	assert_int_equal(c.clock_skew_s, 60);
}

static void
test_values(void **state)
{
	struct cfg c;
	struct dt_error err;

	assert_int_equal(parse("port=9000\r\n  listen =  ::1  \n"
	    "threshold = -0.25   # comment\nthreads = 3\n"
	    "tls_cert = /a b/c#d.pem\nrate_per_kiosk = 0.5\n"
	    "rate_burst=20\nprecision = int8", &c, &err), 0);
	assert_string_equal(c.precision, "int8");
	assert_int_equal(c.port, 9000);
	assert_string_equal(c.listen, "::1");
	assert_true(c.threshold == -0.25);
	assert_int_equal(cfg_threads(&c), 3);
	assert_string_equal(c.tls_cert, "/a b/c#d.pem");
	assert_true(c.rate_per_kiosk == 0.5);
	assert_true(c.rate_burst == 20);
	assert_int_equal(c.chain_replicas, 1);
	assert_true(cfg_kiosk_rate(&c) == c.rate_per_kiosk);
	assert_true(cfg_kiosk_burst(&c) == 20);
	/* a chain of 4: each replica a quarter, the burst at least 1 */
	assert_int_equal(parse("rate_per_kiosk = 2\nrate_burst = 2\n"
	    "chain_replicas = 4\n", &c, &err), 0);
	assert_true(cfg_kiosk_rate(&c) == 0.5);
	assert_true(cfg_kiosk_burst(&c) == 1);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "bogus = 1\n", "t.conf:1: unknown key \"bogus\"" },
		{ "\nport = 0\n", "t.conf:2: port: 0 outside 1..65535" },
		{ "port = 65536", "t.conf:1: port: 65536 outside" },
		{ "port = -1", "t.conf:1: port: \"-1\" is not a whole number" },
		{ "port = 12ab", "not a whole number" },
		{ "chain_replicas = 0", "chain_replicas: 0 outside 1..64" },
		{ "port = 99999999999999999999", "not a whole number" },
		{ "port =", "t.conf:1: port: \"\" is not a whole number" },
		{ "port 8443", "t.conf:1: expected \"key = value\"" },
		{ "= 8443", "t.conf:1: expected" },
		{ "Port = 8443", "t.conf:1: expected" },
		{ "port = 1\nport = 2", "t.conf:2: port set twice" },
		{ "threshold = 1.5", "t.conf:1: threshold: 1.5 outside" },
		{ "threshold = nan", "not a number" },
		{ "threshold = inf", "not a number" },
		{ "threshold = 0x1p-1", "not a number" },
		{ "threshold = 0.5x", "not a number" },
		{ "max_body = 100", "max_body: 100 outside" },
		{ "listen = ", "t.conf:1: listen: must be 1" },
		{ "rate_per_kiosk = 0", "rate_per_kiosk: 0 outside" },
		{ "clock_skew_s = 120", "replay_window_s (180) must be more "
		    "than twice clock_skew_s (120)" },
		/* equal leaves a one-second hole (issue 13.2c) */
		{ "clock_skew_s = 90", "replay_window_s (180) must be more "
		    "than twice clock_skew_s (90)" },
		{ "max_duration_s = 0", "max_duration_s: 0 outside" },
		{ "queue_max = 0", "queue_max: 0 outside" },
		{ "precision = int4", "t.conf: precision \"int4\": f32 or int8" },
		{ "precision = F32", "precision \"F32\": f32 or int8" },
		{ "a\0b", "NUL" },
	};
	struct cfg c;
	struct dt_error err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);

		if (i == sizeof(cases) / sizeof(cases[0]) - 1)
			len = 3;
		dt_error_clear(&err);
		c.port = 4242;
		if (cfg_parse("t.conf", cases[i].text, len, &c, &err) != -1 ||
		    strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: \"%s\": want \"%s\"", i, err.msg,
			    cases[i].msg);
		/* out-parameter untouched on failure */
		assert_int_equal(c.port, 4242);
	}
}

static void
test_long_line(void **state)
{
	char *s = malloc(CFG_LINE_MAX + 32);
	struct cfg c;
	struct dt_error err;

	assert_non_null(s);
	memcpy(s, "store = /", 9);
	memset(s + 9, 'x', CFG_LINE_MAX);
	s[CFG_LINE_MAX + 9] = '\0';
	assert_int_equal(parse(s, &c, &err), -1);
	assert_non_null(strstr(err.msg, "line longer"));
	/* a value longer than a string member holds */
	s[CFG_STR_MAX + 20] = '\0';
	assert_int_equal(parse(s, &c, &err), -1);
	assert_non_null(strstr(err.msg, "store: must be 1 to"));
	free(s);
}

/* The shipped etc/dt4ecgd.conf parses and states exactly the defaults. */
static void
test_shipped_file(void **state)
{
	const char *src = getenv("DT4ECG_SRCDIR");
	char path[4096];
	struct cfg c, d;
	struct dt_error err;

	snprintf(path, sizeof(path), "%s/etc/dt4ecgd.conf",
	    src != NULL ? src : "..");
	if (cfg_load(path, &c, &err) != 0)
		fail_msg("%s", err.msg);
	cfg_defaults(&d);
	assert_memory_equal(&c, &d, sizeof(c));
	assert_int_equal(cfg_load("/nonexistent/dt4ecgd.conf", &c, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/dt4ecgd.conf"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_shipped_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

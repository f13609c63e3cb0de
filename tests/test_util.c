/* tests/test_util.c — util/: log lines cannot be forged, errno messages,
 * UTF-8 validation. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cmocka_all.h"

#include "util/log.h"
#include "util/text.h"

/* Runs FN with stderr sent to a file; returns what it wrote (malloc'd). */
static char *
capture(void (*fn)(void))
{
	char path[] = "/tmp/dt4ecg-log-XXXXXX", *buf;
	int fd, saved;
	long n;
	FILE *f;

	assert_true((fd = mkstemp(path)) != -1);
	fflush(stderr);
	saved = dup(2);
	assert_true(dup2(fd, 2) != -1);
	fn();
	fflush(stderr);
	assert_true(dup2(saved, 2) != -1);
	close(saved);
	close(fd);
	assert_non_null(f = fopen(path, "r"));
	buf = calloc(1, 65536);
	assert_non_null(buf);
	n = (long)fread(buf, 1, 65535, f);
	assert_true(n >= 0);
	fclose(f);
	unlink(path);
	return buf;
}

static void
forged_request_line(void)
{
	/* what the daemon logs for GET /x%0a<0>anything */
	log_info("GET %s 404 0.1 ms %s", "/x\n<0>anything\r\x1b[2J\xff",
	    "127.0.0.1");
}

static void
test_log_escapes(void **state)
{
	char *out;

	log_init("t", true);	/* journald: "<6>" prefixes */
	out = capture(forged_request_line);
	/* one line, one priority prefix, no raw control or 8-bit byte */
	assert_string_equal(out, "<6>GET /x\\x0a<0>anything\\x0d\\x1b[2J\\xff "
	    "404 0.1 ms 127.0.0.1\n");
	free(out);
}

static void
warn_enoent(void)
{
	errno = ENOENT;
	log_warn("open %s", "x.conf");
}

static void
test_log_errno_message(void **state)
{
	char buf[64], *out;

	log_init("t", false);
	out = capture(warn_enoent);
	assert_string_equal(out, "t: open x.conf: No such file or directory\n");
	free(out);
	assert_string_equal(log_errstr(EACCES, buf, sizeof(buf)),
	    "Permission denied");
	/* an unknown code still says something */
	assert_non_null(strstr(log_errstr(99999, buf, sizeof(buf)), "99999"));
}

static void
test_utf8(void **state)
{
	static const char *const good[] = {
		"", "Anna", "Zoë", "渡辺", "\xf0\x9f\x98\x80",
	};
	static const char *const bad[] = {
		"\xff", "Zo\xeb", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\xe6\xb8", "\xc3",
	};
	size_t i;
	char e[32];

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(dt_utf8_valid(good[i], strlen(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(dt_utf8_valid(bad[i], strlen(bad[i])));
	assert_true(dt_has_control("a\tb"));
	assert_true(dt_has_control("\x7f"));
	assert_false(dt_has_control("Zoë"));
	/* escaping truncates on a whole escape */
	assert_string_equal(dt_escape(e, 7, "ab\ncd"), "ab\\x0a");
	assert_string_equal(dt_escape(e, sizeof(e), "a\\b"), "a\\x5cb");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_escapes),
		cmocka_unit_test(test_log_errno_message),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

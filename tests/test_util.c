/* tests/test_util.c — util/: log lines cannot be forged, errno messages,
 * UTF-8 validation, the capped file read, atomic replace and exclusive
 * create, the number parser and the seeded generator. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cmocka_all.h"

#include <math.h>
#include <sys/stat.h>

#include "util/file.h"
#include "util/log.h"
#include "util/num.h"
#include "util/rng.h"
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

/* A fresh directory under /tmp, removed with its files by rmtree(). */
static void
tmpdir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/dt4ecg-util-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void
rmfile(const char *dir, const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	(void)unlink(p);
}

static void
test_file_read(void **state)
{
	struct dt_error err;
	struct stat st;
	char dir[64], p[128], *buf = NULL;
	size_t len = 99;

	(void)state;
	tmpdir(dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/f", dir);
	assert_int_equal(dt_file_replace(p, "hello", 5, 0600, &err), 0);
	/* whole, NUL-terminated, with its stat */
	assert_int_equal(dt_file_read(p, 5, NULL, &buf, &len, &st, &err), 0);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	assert_int_equal(st.st_size, 5);
	free(buf);
	/* one byte over the cap: refused, naming the file */
	buf = NULL;
	assert_int_equal(dt_file_read(p, 4, NULL, &buf, &len, NULL, &err),
	    -1);
	assert_int_equal(err.code, DT_E_FORMAT);
	assert_non_null(strstr(err.msg, p));
	assert_null(buf);
	/* not a regular file; missing */
	assert_int_equal(dt_file_read(dir, 1 << 20, NULL, &buf, &len, NULL,
	    &err), -1);
	assert_int_equal(err.code, DT_E_IO);
	assert_non_null(strstr(err.msg, "not a regular file"));
	rmfile(dir, "f");
	assert_int_equal(dt_file_read(p, 10, NULL, &buf, &len, NULL, &err),
	    -1);
	assert_int_equal(err.code, DT_E_IO);
	/* empty is fine here (callers that need bytes say so) */
	assert_int_equal(dt_file_replace(p, "", 0, 0600, &err), 0);
	assert_int_equal(dt_file_read(p, 10, NULL, &buf, &len, NULL, &err),
	    0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	rmfile(dir, "f");
	assert_int_equal(rmdir(dir), 0);
}

static void
test_file_replace_create(void **state)
{
	struct dt_error err;
	struct stat st;
	struct dt_file_out f;
	char dir[64], p[128], t[160], *buf;
	size_t len;
	mode_t old = umask(022);

	(void)state;
	tmpdir(dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/f", dir);
	snprintf(t, sizeof(t), "%s.tmp", p);
	assert_int_equal(dt_file_replace(p, "one", 3, 0644, &err), 0);
	assert_int_equal(dt_file_replace(p, "second", 6, 0644, &err), 0);
	assert_int_equal(dt_file_read(p, 64, NULL, &buf, &len, NULL, &err),
	    0);
	assert_string_equal(buf, "second");
	free(buf);
	assert_int_equal(access(t, F_OK), -1);	/* no temporary left */
	/* an aborted replace leaves the old file whole and no temporary */
	assert_int_equal(dt_file_open(&f, p, DT_FILE_REPLACE, 0644, &err), 0);
	assert_int_equal(dt_file_write(&f, "partial", 7, &err), 0);
	assert_int_equal(access(t, F_OK), 0);
	dt_file_abort(&f);
	assert_int_equal(access(t, F_OK), -1);
	assert_int_equal(dt_file_read(p, 64, NULL, &buf, &len, NULL, &err),
	    0);
	assert_string_equal(buf, "second");
	free(buf);
	/* exclusive create: refuses an existing file and leaves it alone */
	assert_int_equal(dt_file_create(p, "x", 1, 0600, &err), -1);
	assert_int_equal(err.code, DT_E_EXISTS);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_int_equal(dt_file_read(p, 64, NULL, &buf, &len, NULL, &err),
	    0);
	assert_string_equal(buf, "second");
	free(buf);
	/* the mode asked for, whatever the umask */
	rmfile(dir, "f");
	umask(077);
	assert_int_equal(dt_file_create(p, "k\n", 2, 0640, &err), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	/* never through a symlink */
	rmfile(dir, "f");
	assert_int_equal(symlink("/tmp/dt4ecg-util-nowhere", p), 0);
	assert_int_equal(dt_file_create(p, "x", 1, 0600, &err), -1);
	assert_int_equal(access("/tmp/dt4ecg-util-nowhere", F_OK), -1);
	rmfile(dir, "f");
	/* a directory that is not there: an error naming the file */
	snprintf(p, sizeof(p), "%s/no/f", dir);
	assert_int_equal(dt_file_replace(p, "x", 1, 0644, &err), -1);
	assert_int_equal(err.code, DT_E_IO);
	assert_non_null(strstr(err.msg, p));
	assert_int_equal(rmdir(dir), 0);
	umask(old);
}

static void
test_num(void **state)
{
	int i = 7;
	int64_t l = 7;
	double d = 7;
	float f = 7;

	(void)state;
	assert_int_equal(dt_parse_int("42", 0, 100, &i), 0);
	assert_int_equal(i, 42);
	assert_int_equal(dt_parse_int("-5", -10, 10, &i), 0);
	assert_int_equal(i, -5);
	/* out of range, trailing text, empty, overflow: refused, untouched */
	i = 7;
	assert_int_equal(dt_parse_int("101", 0, 100, &i), -1);
	assert_int_equal(dt_parse_int("-1", 0, 100, &i), -1);
	assert_int_equal(dt_parse_int("4x", 0, 100, &i), -1);
	assert_int_equal(dt_parse_int("", 0, 100, &i), -1);
	assert_int_equal(dt_parse_int(" ", 0, 100, &i), -1);
	assert_int_equal(dt_parse_int("4.5", 0, 100, &i), -1);
	assert_int_equal(dt_parse_int("99999999999999999999", 0, 100, &i),
	    -1);
	assert_int_equal(dt_parse_int(NULL, 0, 100, &i), -1);
	assert_int_equal(i, 7);
	assert_int_equal(dt_parse_i64("9223372036854775807", 0, INT64_MAX,
	    &l), 0);
	assert_true(l == INT64_MAX);
	assert_int_equal(dt_parse_i64("9223372036854775808", 0, INT64_MAX,
	    &l), -1);
	assert_int_equal(dt_parse_double("0.25", 0, 1, &d), 0);
	assert_true(d == 0.25);
	d = 7;
	assert_int_equal(dt_parse_double("nan", -1e300, 1e300, &d), -1);
	assert_int_equal(dt_parse_double("inf", 0, 1e300, &d), -1);
	assert_int_equal(dt_parse_double("1e999", 0, 1e300, &d), -1);
	assert_int_equal(dt_parse_double("1.5", 0, 1, &d), -1);
	assert_int_equal(dt_parse_double("0.5s", 0, 1, &d), -1);
	assert_true(d == 7);
	assert_int_equal(dt_parse_float("1e-7", 1e-7, 1, &f), 0);
	assert_true(f == 1e-7f);
}

static void
test_rng(void **state)
{
	struct dt_rng a, b;
	size_t idx[50], seen[50] = { 0 }, i;
	double s = 0, s2 = 0, x;

	(void)state;
	/* splitmix64's published outputs for seed 0 */
	dt_rng_seed(&a, 0);
	assert_true(dt_rng_next(&a) == UINT64_C(0xe220a8397b1dcdaf));
	assert_true(dt_rng_next(&a) == UINT64_C(0x6e789e6aa1b965f4));
	/* same seed, same stream; uniform in [0, 1); normal ~ N(0, 1) */
	dt_rng_seed(&a, 123);
	dt_rng_seed(&b, 123);
	for (i = 0; i < 20000; i++) {
		x = dt_rng_uniform(&a);
		assert_true(x == dt_rng_uniform(&b));
		assert_true(x >= 0 && x < 1);
		x = dt_rng_normal(&a);
		(void)dt_rng_normal(&b);
		s += x;
		s2 += x * x;
	}
	assert_true(fabs(s / 20000) < 0.05);
	assert_true(fabs(s2 / 20000 - 1) < 0.05);
	x = dt_rng_uniformf(&a, -2.0f, -1.0f);
	assert_true(x >= -2 && x < -1);
	/* a shuffle is a permutation */
	for (i = 0; i < 50; i++)
		idx[i] = i;
	dt_rng_shuffle(idx, 50, &a);
	for (i = 0; i < 50; i++)
		seen[idx[i]]++;
	for (i = 0; i < 50; i++)
		assert_int_equal(seen[i], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_escapes),
		cmocka_unit_test(test_log_errno_message),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_file_read),
		cmocka_unit_test(test_file_replace_create),
		cmocka_unit_test(test_num),
		cmocka_unit_test(test_rng),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/test_record.c — WFDB and CSV readers on the public data sets and on
 * broken files.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cmocka_all.h"

#include "ecg/record.h"

static const char *quirky[] = {
	"Person_13/rec_2", "Person_15/rec_1", "Person_24/rec_5",
	"Person_25/rec_4", "Person_26/rec_3", "Person_27/rec_3",
	"Person_28/rec_4", "Person_32/rec_6", "Person_44/rec_1",
	"Person_72/rec_3", "Person_83/rec_1",
};

static char tmpdir[256];

/* $DT4ECG_DATA/<rel>, or skip() when the data is not there. */
static void
data_path(char *buf, size_t len, const char *rel)
{
	const char *d = getenv("DT4ECG_DATA");

	if (d == NULL || *d == '\0')
		skip();
	snprintf(buf, len, "%s/%s", d, rel);
}

static void
test_ecgid_all(void **state)
{
	char path[1024], line[256];
	FILE *f;
	int n = 0, nq = 0;

	data_path(path, sizeof(path), "ecg-id/RECORDS");
	if ((f = fopen(path, "r")) == NULL)
		skip();
	while (fgets(line, sizeof(line), f) != NULL) {
		struct ecg_record *r = NULL;
		struct dt_error err;
		char rec[1024];
		size_t i;
		int q = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		for (i = 0; i < sizeof(quirky) / sizeof(quirky[0]); i++)
			q |= strcmp(line, quirky[i]) == 0;
		data_path(rec, sizeof(rec), "ecg-id");
		strncat(rec, "/", sizeof(rec) - strlen(rec) - 1);
		strncat(rec, line, sizeof(rec) - strlen(rec) - 1);
		if (ecg_read_wfdb(rec, &r, &err) != 0)
			fail_msg("%s: %s", rec, err.msg);
		assert_int_equal(r->n_signals, 2);
		assert_int_equal(r->n_samples, 10000);
		assert_true(r->fs_hz == 500.0);
		assert_non_null(r->description[0]);
		assert_string_equal(r->description[0], "ECG I");
		assert_string_equal(r->description[1], "ECG I filtered");
		if (r->checksum_ok[0] != !q || r->checksum_ok[1] != !q)
			fail_msg("%s: checksum_ok %d %d, expected %d", line,
			    r->checksum_ok[0], r->checksum_ok[1], !q);
		ecg_record_free(r);
		n++;
		nq += q;
	}
	fclose(f);
	assert_int_equal(n, 310);
	assert_int_equal(nq, 11);
}

static void
test_nstdb_212(void **state)
{
	const char *names[] = { "nstdb/bw", "nstdb/ma" };
	/* first values from the headers (adu, gain 0 -> 200) */
	const int first[2][2] = { { -29, 25 }, { -18, 3 } };
	char path[1024], hea[1100];
	int i;

	for (i = 0; i < 2; i++) {
		struct ecg_record *r = NULL;
		struct dt_error err;

		data_path(path, sizeof(path), names[i]);
		snprintf(hea, sizeof(hea), "%s.hea", path);
		if (access(hea, R_OK) != 0)
			skip();
		if (ecg_read_wfdb(path, &r, &err) != 0)
			fail_msg("%s: %s", path, err.msg);
		assert_int_equal(r->n_signals, 2);
		assert_int_equal(r->n_samples, 650000);
		assert_true(r->fs_hz == 360.0);
		assert_int_equal(r->checksum_ok[0], 1);
		assert_int_equal(r->checksum_ok[1], 1);
		assert_float_equal(r->samples[0][0], first[i][0] / 200.0, 1e-6);
		assert_float_equal(r->samples[1][0], first[i][1] / 200.0, 1e-6);
		assert_string_equal(r->description[1], "noise2");
		ecg_record_free(r);
	}
}

static void
test_activity_csv(void **state)
{
	struct ecg_record *r = NULL;
	struct dt_error err;
	char path[1024];

	data_path(path, sizeof(path), "ecg-activity/raw/01_01_klud.csv");
	if (access(path, R_OK) != 0)
		skip();
	if (ecg_read_csv(path, 500.0, -1, 1.0, &r, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(r->n_signals, 1);
	assert_int_equal(r->n_samples, 32245);
	assert_float_equal(r->samples[0][0], 2175.0, 0);
	assert_float_equal(r->samples[0][1], 2171.0, 0);
	assert_int_equal(r->checksum_ok[0], -1);
	ecg_record_free(r);
	/* Column 0 is the timestamp: refused, with the line. */
	assert_int_equal(ecg_read_csv(path, 500.0, 0, 1.0, &r, &err), -1);
	assert_int_equal(err.code, DT_E_FORMAT);
	assert_non_null(strstr(err.msg, "line 1"));
	assert_non_null(strstr(err.msg, "01_01_klud.csv"));
}

/* ---------------------------------------------------------- memory forms */

static void
test_parse_wfdb_memory(void **state)
{
	/* format 16, baseline in the gain field, fs with counter frequency */
	const char hea[] = "t 1 500/1000(0) 3 12:00:00\n"
	    "# comment\n"
	    "t.dat 16 100(10)/mV 16 0 20 30 0 lead  II \n";
	const unsigned char dat[] = { 20, 0, 0xf6, 0xff, 20, 0 };
	/* format 212, three samples (odd: the last takes two bytes) */
	const char hea212[] = "u 1 360 3\nu.dat 212 0 12 5\n";
	const unsigned char d212[] = { 0x05, 0xf0, 0xff, 0x07, 0x00 };
	struct ecg_record *r = NULL;
	struct dt_error err;

	if (ecg_parse_wfdb(hea, strlen(hea), dat, sizeof(dat), "t", &r,
	    &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(r->fs_hz == 500.0);
	assert_int_equal(r->n_samples, 3);
	assert_float_equal(r->samples[0][0], 0.1, 1e-6);
	assert_float_equal(r->samples[0][1], -0.2, 1e-6);
	assert_int_equal(r->checksum_ok[0], 1);	/* 20 - 10 + 20 = 30 */
	assert_string_equal(r->description[0], "lead  II");
	ecg_record_free(r);

	if (ecg_parse_wfdb(hea212, strlen(hea212), d212, sizeof(d212), "u",
	    &r, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(r->n_samples, 3);
	/* 0x005 - 5, 0xfff = -1 - 5, 0x007 - 5; gain 0 -> 200 */
	assert_float_equal(r->samples[0][0], 0.0, 1e-6);
	assert_float_equal(r->samples[0][1], -6 / 200.0, 1e-6);
	assert_float_equal(r->samples[0][2], 2 / 200.0, 1e-6);
	assert_int_equal(r->checksum_ok[0], -1);
	ecg_record_free(r);

	/* units: uV and V become mV; anything else (PTB-XL's z-scored "sd")
	 * is kept as stored and marked relative */
	{
		const char hu[] = "t 1 500 3\nt.dat 16 1000(0)/uV 16 0 20 30 0 I\n",
		    hs[] = "t 1 500 3\nt.dat 16 1000(0)/sd 16 0 20 30 0 I\n",
		    hv[] = "t 1 500 3\nt.dat 16 1000(0)/V 16 0 20 30 0 I\n";
		const unsigned char d3[] = { 20, 0, 0xf6, 0xff, 20, 0 };

		assert_int_equal(ecg_parse_wfdb(hu, strlen(hu), d3,
		    sizeof(d3), "t", &r, &err), 0);
		assert_float_equal(r->samples[0][0], 0.02e-3, 1e-9);
		assert_int_equal(r->units[0], ECG_UNITS_MV);
		ecg_record_free(r);
		assert_int_equal(ecg_parse_wfdb(hv, strlen(hv), d3,
		    sizeof(d3), "t", &r, &err), 0);
		assert_float_equal(r->samples[0][0], 20.0, 1e-5);
		assert_int_equal(r->units[0], ECG_UNITS_MV);
		ecg_record_free(r);
		assert_int_equal(ecg_parse_wfdb(hs, strlen(hs), d3,
		    sizeof(d3), "t", &r, &err), 0);
		assert_float_equal(r->samples[0][1], -0.01, 1e-7);
		assert_int_equal(r->units[0], ECG_UNITS_RELATIVE);
		ecg_record_free(r);
	}

	/* 212 with two bytes short of the third sample */
	assert_int_equal(ecg_parse_wfdb(hea212, strlen(hea212), d212, 3, "u",
	    &r, &err), -1);
	assert_int_equal(err.code, DT_E_FORMAT);
	assert_non_null(strstr(err.msg, "5 bytes expected"));
	assert_non_null(strstr(err.msg, "3 found"));
}

static void
test_parse_csv_memory(void **state)
{
	const char ok[] = "# made up\ntime\tecg\n0\t0.5\r\n1\t-1e-1\n\n2\t+.25\n";
	struct ecg_record *r = NULL;
	struct dt_error err;

	if (ecg_parse_csv(ok, strlen(ok), "m", 250, 1, 2.0, &r, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(r->n_samples, 3);
	assert_float_equal(r->samples[0][0], 1.0, 1e-6);
	assert_float_equal(r->samples[0][1], -0.2, 1e-6);
	assert_float_equal(r->samples[0][2], 0.5, 1e-6);
	ecg_record_free(r);

	assert_int_equal(ecg_parse_csv(ok, strlen(ok), "m", 0, 1, 1.0, &r,
	    &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_equal(ecg_parse_csv(ok, strlen(ok), "m", 250, 2, 1.0, &r,
	    &err), -1);
	assert_int_equal(err.code, DT_E_FORMAT);
	assert_non_null(strstr(err.msg, "m line 3"));
	assert_int_equal(ecg_parse_csv("1\nnan\n", 6, "m", 250, 0, 1.0, &r,
	    &err), -1);
	assert_non_null(strstr(err.msg, "m line 2"));
}

/* ----------------------------------------------------------- broken files */

static void
put(const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
puts_file(const char *name, const char *text)
{
	put(name, text, strlen(text));
}

/* Expects the record `rec` (in tmpdir) refused with `code` and a message
 * holding every one of the NULL-terminated strings. */
static void
expect_wfdb(const char *rec, enum dt_errc code, ...)
{
	struct ecg_record *r = NULL;
	struct dt_error err;
	char path[512];
	const char *s;
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rec);
	assert_int_equal(ecg_read_wfdb(path, &r, &err), -1);
	assert_null(r);
	if (err.code != code)
		fail_msg("%s: code %s, expected %s (%s)", rec,
		    dt_errc_name(err.code), dt_errc_name(code), err.msg);
	va_start(ap, code);
	while ((s = va_arg(ap, const char *)) != NULL)
		if (strstr(err.msg, s) == NULL)
			fail_msg("%s: '%s' lacks '%s'", rec, err.msg, s);
	va_end(ap);
}

static void
expect_csv(const char *name, int column, enum dt_errc code, const char *s1,
    const char *s2)
{
	struct ecg_record *r = NULL;
	struct dt_error err;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(ecg_read_csv(path, 500, column, 1.0, &r, &err), -1);
	assert_null(r);
	if (err.code != code || strstr(err.msg, s1) == NULL ||
	    (s2 != NULL && strstr(err.msg, s2) == NULL))
		fail_msg("%s: %s '%s'", name, dt_errc_name(err.code), err.msg);
}

static void
test_broken(void **state)
{
	static const unsigned char ten[10];

	puts_file("garbled.hea", "garbled two 500 10\ng.dat 16 200\n");
	expect_wfdb("garbled", DT_E_FORMAT, "garbled.hea line 1",
	    "signal count 'two'", NULL);
	expect_wfdb("missing", DT_E_IO, "missing.hea", NULL);

	puts_file("fmt80.hea", "fmt80 1 500 5\nfmt80.dat 80 200 8 0\n");
	put("fmt80.dat", ten, 5);
	expect_wfdb("fmt80", DT_E_UNSUPPORTED, "fmt80.hea line 2",
	    "format 80", NULL);

	puts_file("short.hea", "short 2 500 100\nshort.dat 16 200\n"
	    "short.dat 16 200\n");
	put("short.dat", ten, sizeof(ten));
	expect_wfdb("short", DT_E_FORMAT, "short.dat", "400 bytes expected",
	    "10 found", NULL);

	puts_file("nodat.hea", "nodat 1 500 10\nnodat.dat 16 200\n");
	expect_wfdb("nodat", DT_E_IO, "nodat.dat", NULL);

	puts_file("nsig0.hea", "nsig0 0 500 10\n");
	expect_wfdb("nsig0", DT_E_FORMAT, "nsig0.hea", "outside 1..32", NULL);
	puts_file("nsig99.hea", "nsig99 99 500 10\n");
	expect_wfdb("nsig99", DT_E_FORMAT, "signal count 99", NULL);

	puts_file("neg.hea", "neg 1 500 -10\nneg.dat 16 200\n");
	expect_wfdb("neg", DT_E_FORMAT, "neg.hea line 1",
	    "negative sample count", NULL);

	puts_file("huge.hea", "huge 2 500 999999999999\nhuge.dat 16\n"
	    "huge.dat 16\n");
	put("huge.dat", ten, sizeof(ten));
	expect_wfdb("huge", DT_E_FORMAT, "huge.hea", "exceeds the limit",
	    NULL);

	puts_file("fs.hea", "fs 1 -500 10\nfs.dat 16\n");
	expect_wfdb("fs", DT_E_FORMAT, "fs.hea line 1",
	    "sampling frequency '-500'", NULL);

	puts_file("gain.hea", "gain 1 500 5\ngain.dat 16 2x0(0)/mV\n");
	put("gain.dat", ten, sizeof(ten));
	expect_wfdb("gain", DT_E_FORMAT, "gain.hea line 2", "gain field",
	    NULL);

	puts_file("lines.hea", "lines 2 500 5\nlines.dat 16 200\n");
	expect_wfdb("lines", DT_E_FORMAT, "2 signal lines announced, 1 found",
	    NULL);

	puts_file("nofmt.hea", "nofmt 1 500 5\nnofmt.dat\n");
	expect_wfdb("nofmt", DT_E_FORMAT, "nofmt.hea line 2", NULL);

	puts_file("empty.hea", "# only a comment\n");
	expect_wfdb("empty", DT_E_FORMAT, "no record line", NULL);

	puts_file("dotdot.hea", "dotdot 1 500 5\n../x.dat 16\n");
	expect_wfdb("dotdot", DT_E_UNSUPPORTED, "../x.dat", NULL);

	puts_file("cell.csv", "1.0\n2.0\nabc\n");
	expect_csv("cell.csv", 0, DT_E_FORMAT, "cell.csv line 3", "'abc'");
	puts_file("empty.csv", "");
	expect_csv("empty.csv", 0, DT_E_FORMAT, "empty.csv", "no samples");
	puts_file("hdr.csv", "a,b\n");
	expect_csv("hdr.csv", 0, DT_E_FORMAT, "hdr.csv", "no samples");
	puts_file("cols.csv", "1,2\n3\n");
	expect_csv("cols.csv", 1, DT_E_FORMAT, "cols.csv line 2", "column 1");
	put("nul.csv", "1\n\0\n", 4);
	expect_csv("nul.csv", 0, DT_E_FORMAT, "nul.csv", "NUL");
	expect_csv("absent.csv", 0, DT_E_IO, "absent.csv", NULL);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_record.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	return nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecgid_all),
		cmocka_unit_test(test_nstdb_212),
		cmocka_unit_test(test_activity_csv),
		cmocka_unit_test(test_parse_wfdb_memory),
		cmocka_unit_test(test_parse_csv_memory),
		cmocka_unit_test(test_broken),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

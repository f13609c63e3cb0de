/*
 * tests/test_data.c — data/: manifests (valid and malformed), the ADC
 * reader, P1 (no window crosses the cut), P2 and P3 membership, seeded
 * augmentation, per-activity window counts with run/squat windows present.
 * Reads a few recordings of $DT4ECG_DATA (never copies them).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cmocka_all.h"

#include "data/dataset.h"
#include "data/manifest.h"
#include "data/split.h"

static const char *
data_dir(void)
{
	static char abs[4096];
	const char *d = getenv("DT4ECG_DATA");

	if (d == NULL || *d == '\0')
		d = "../shared/data";
	/* the manifests below are written in /tmp: absolute paths */
	if (realpath(d, abs) == NULL)
		return d;
	return abs;
}

#define HDR "path,format,subject,activity,session,fs_hz,lead\n"

static void
test_manifest_valid(void **state)
{
	static const char txt[] = "# a comment\r\n" HDR "\n"
	    "Person_01/rec_1,wfdb,ecgid:01,,1,,0\r\n"
	    "/abs/x.csv,csv,s2,walk,morning,250,3\n"
	    "raw/01_01_beh.csv,adc-ts,ecgact:01,run,01,,\n";
	struct data_manifest *m = NULL;
	struct dt_error err;

	(void)state;
	assert_int_equal(data_manifest_parse(txt, strlen(txt),
	    "/data/sets/demo.csv", &m, &err), 0);
	assert_string_equal(m->name, "demo");
	assert_int_equal(m->n, 3);
	assert_string_equal(m->e[0].path, "/data/sets/Person_01/rec_1");
	assert_int_equal(m->e[0].format, DATA_FMT_WFDB);
	assert_null(m->e[0].activity);
	assert_string_equal(m->e[0].session, "1");
	assert_true(m->e[0].fs_hz == 0);
	assert_string_equal(m->e[1].path, "/abs/x.csv");
	assert_string_equal(m->e[1].activity, "walk");
	assert_true(m->e[1].fs_hz == 250);
	assert_int_equal(m->e[1].lead, 3);
	assert_int_equal(m->e[2].format, DATA_FMT_ADC_TS);
	assert_int_equal(m->e[2].lead, 0);
	assert_int_equal(m->e[2].line, 6);
	data_manifest_free(m);
}

static void
expect_error(const char *txt, const char *needle)
{
	struct data_manifest *m = NULL;
	struct dt_error err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(data_manifest_parse(txt, strlen(txt), "m.csv", &m,
	    &err), -1);
	assert_null(m);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", txt, err.msg, needle);
}

static void
test_manifest_malformed(void **state)
{
	(void)state;
	expect_error("", "no header");
	expect_error("path,format,subject\n", "m.csv:1: expected the header");
	expect_error(HDR, "no recordings");
	expect_error(HDR "a,wfdb,s,,1,,0,9\n", "m.csv:2: more than 7");
	expect_error(HDR "a,wfdb,s,,1,\n", "m.csv:2: 6 fields");
	expect_error(HDR ",wfdb,s,,1,,0\n", "m.csv:2: empty path");
	expect_error(HDR "a,edf,s,,1,,0\n", "m.csv:2: format 'edf'");
	expect_error(HDR "a,wfdb,,,1,,0\n", "m.csv:2: empty subject");
	expect_error(HDR "a,csv,s,,1,,0\n", "m.csv:2: fs_hz is required");
	expect_error(HDR "a,wfdb,s,,1,10,0\n", "m.csv:2: fs_hz '10'");
	expect_error(HDR "a,wfdb,s,,1,abc,0\n", "m.csv:2: fs_hz 'abc'");
	expect_error(HDR "a,wfdb,s,,1,,-1\n", "m.csv:2: lead '-1'");
	expect_error(HDR "a,wfdb,s,,1,,x\n", "m.csv:2: lead 'x'");
	expect_error(HDR "a,wfdb,s,\"q\",1,,0\n", "m.csv:2: field 4");
	expect_error(HDR "a,wfdb,s,,1,,0\n\nb,wfdb,s,,1,,0\na,wfdb,t,,2,,0\n",
	    "m.csv:5: same path and lead as line 2");
}

static char *
write_tmp(const char *txt)
{
	char *p = strdup("/tmp/test_data_XXXXXX");
	int fd = mkstemp(p);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, txt, strlen(txt)), (ssize_t)strlen(txt));
	close(fd);
	return p;
}

static void
test_adc_reader(void **state)
{
	/* 30 s at 500 Hz, a 1 s gap, 5 s more (dropped: < 10 s), a gap, 12 s */
	FILE *f;
	char *p = strdup("/tmp/test_adc_XXXXXX");
	int fd = mkstemp(p), i, np = 0, nd = 0;
	uint16_t **pc = NULL;
	size_t *pl = NULL;
	double *fs = NULL, t = 0;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	for (i = 0; i < 15000; i++, t += 0.002)
		fprintf(f, "2024-03-26 23:59:%09.6f ; %d\n", fmod(t, 60) +
		    0 * 0, 2000 + i % 7);
	fclose(f);
	f = fopen(p, "w");
	t = 30;
	for (i = 0; i < 15000; i++)
		fprintf(f, "2024-03-26 23:59:%09.6f ; 2000\n", i * 0.002 + 10);
	for (i = 0; i < 2500; i++)
		fprintf(f, "2024-03-26 23:59:%09.6f ; 2001\n", i * 0.002 + 41);
	/* 12 s across midnight */
	for (i = 0; i < 6000; i++) {
		double s = 50 + i * 0.002;

		if (s < 60)
			fprintf(f, "2024-03-26 23:59:%09.6f ; 4095\n", s);
		else
			fprintf(f, "2024-03-27 00:00:%09.6f ; 0\n", s - 60);
	}
	fclose(f);
	assert_int_equal(data_read_adc_ts(p, DATA_GAP_S, DATA_MIN_PIECE_S, &pc,
	    &pl, &fs, &np, &nd, NULL), 0);
	assert_int_equal(np, 2);
	assert_int_equal(nd, 1);
	assert_int_equal(pl[0], 15000);
	assert_int_equal(pl[1], 6000);
	assert_true(fabs(fs[0] - 500) < 0.01);
	assert_true(fabs(fs[1] - 500) < 0.01);
	assert_int_equal(pc[1][0], 4095);
	assert_int_equal(pc[1][5999], 0);
	for (i = 0; i < np; i++)
		free(pc[i]);
	free(pc);
	free(pl);
	free(fs);
	f = fopen(p, "w");
	fprintf(f, "2024-03-26 10:00:00.000 ; 12\nnot a line\n");
	fclose(f);
	{
		struct dt_error err;

		assert_int_equal(data_read_adc_ts(p, DATA_GAP_S, 1, &pc, &pl,
		    &fs, &np, &nd, &err), -1);
		assert_non_null(strstr(err.msg, ":2:"));
	}
	unlink(p);
	free(p);
}

/* A small real corpus: 3 ECG-ID records of 2 persons, rest/run/squats of
 * one ecg-activity subject (its files are ~60 s each). */
static struct data_corpus *
small_corpus(void)
{
	char txt[16384], *p;
	const char *d = data_dir();
	struct data_manifest *m[2] = { NULL, NULL };
	struct data_corpus *c = NULL;
	struct dt_error err;

	snprintf(txt, sizeof(txt), HDR
	    "%s/ecg-id/Person_01/rec_1,wfdb,ecgid:01,,1,,0\n"
	    "%s/ecg-id/Person_01/rec_2,wfdb,ecgid:01,,2,,0\n"
	    "%s/ecg-id/Person_02/rec_1,wfdb,ecgid:02,,1,,0\n", d, d, d);
	p = write_tmp(txt);
	if (data_manifest_read(p, &m[0], &err) != 0)
		fail_msg("%s", err.msg);
	unlink(p);
	free(p);
	snprintf(txt, sizeof(txt), HDR
	    "%s/ecg-activity/raw/01_01_klud.csv,adc-ts,ecgact:01,rest,01,,0\n"
	    "%s/ecg-activity/raw/01_01_beh.csv,adc-ts,ecgact:01,run,01,,0\n"
	    "%s/ecg-activity/raw/01_01_drepy.csv,adc-ts,ecgact:01,squats,01,,"
	    "0\n", d, d, d);
	p = write_tmp(txt);
	if (data_manifest_read(p, &m[1], &err) != 0)
		fail_msg("%s", err.msg);
	unlink(p);
	free(p);
	if (data_corpus_load(m, 2, NULL, 0, &c, &err) != 0)
		fail_msg("%s", err.msg);
	data_manifest_free(m[0]);
	data_manifest_free(m[1]);
	return c;
}

static int
setup(void **state)
{
	*state = small_corpus();
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	data_corpus_free(*state);
	return 0;
}

static void
test_corpus(void **state)
{
	struct data_corpus *c = *state;

	assert_int_equal(c->n_recs, 6);
	assert_int_equal(c->n_subjects, 3);
	assert_int_equal(c->n_activities, 3);
	assert_string_equal(c->activities[1], "run");
	assert_int_equal(c->recs[0].activity, -1);
	assert_null(c->recs[0].adc);
	assert_true(c->recs[0].fs == 500);
	assert_int_equal(c->recs[0].n, 10000);
	assert_non_null(c->recs[4].adc);
	assert_true(c->recs[4].fs > 490 && c->recs[4].fs < 505);
	assert_int_equal(c->recs[1].session, 2);
	assert_int_equal(data_subject_number("ecgid:07"), 7);
	assert_int_equal(data_subject_number("abc"), -1);
}

static void
test_p1_no_crossing(void **state)
{
	struct data_corpus *c = *state;
	struct data_ranges tr = { 0 }, va = { 0 }, te = { 0 };
	struct ecg_prep_params pp;
	struct data_set *st = NULL, *ss = NULL;
	size_t i;
	int r;

	ecg_prep_params_default(&pp, 250, 512);
	pp.hop = 64;
	assert_int_equal(data_split_p1(c, 0.8, 0.15, NULL, &tr, &va, &te,
	    NULL), 0);
	assert_int_equal(tr.n, c->n_recs);
	assert_int_equal(te.n, c->n_recs);
	for (r = 0; r < c->n_recs; r++) {
		size_t cut = (size_t)llround(0.8 * (double)c->recs[r].n);

		assert_int_equal(tr.r[r].r0, 0);
		assert_true(tr.r[r].r1 <= cut);
		assert_int_equal(va.r[r].r1, cut);
		assert_int_equal(va.r[r].r0, tr.r[r].r1);
		assert_int_equal(te.r[r].r0, cut);
		assert_int_equal(te.r[r].r1, c->recs[r].n);
	}
	assert_int_equal(data_set_build(c, tr.r, tr.n, &pp, &st, NULL), 0);
	pp.hop = 256;
	assert_int_equal(data_set_build(c, te.r, te.n, &pp, &ss, NULL), 0);
	assert_true(st->n > 0 && ss->n > 0);
	/* every window's raw span lies inside its own part */
	for (i = 0; i < st->n; i++) {
		const struct data_win *w = &st->w[i];
		const struct data_part *p = &st->parts[w->part];
		double ratio = c->recs[p->rec].fs / 250.0;
		size_t cut = (size_t)llround(0.8 * (double)c->recs[p->rec].n);

		assert_true((size_t)w->start + 512 <= p->len);
		assert_true(p->r0 + (size_t)ceil((w->start + 512) * ratio) <=
		    cut + 2);
		assert_true(p->r1 <= cut);
	}
	for (i = 0; i < ss->n; i++) {
		const struct data_part *p = &ss->parts[ss->w[i].part];
		size_t cut = (size_t)llround(0.8 * (double)c->recs[p->rec].n);

		assert_true(p->r0 >= cut);
	}
	data_set_free(st);
	data_set_free(ss);
	data_ranges_free(&tr);
	data_ranges_free(&va);
	data_ranges_free(&te);
}

/* A corpus made by hand: subjects 1..5, no samples needed for splits. */
static struct data_corpus *
fake_corpus(void)
{
	static const struct {
		const char *s;
		int sess, act;
	} r[] = {
		{ "ecgid:01", 1, -1 }, { "ecgid:01", 2, -1 },
		{ "ecgid:02", 1, -1 },
		{ "ecgid:03", 3, -1 }, { "ecgid:03", 1, -1 },
		{ "ecgid:03", 2, -1 },
		{ "ecgid:04", 1, -1 },
		{ "ecgid:05", 2, -1 }, { "ecgid:05", 5, -1 },
		{ "act:01", 1, 0 }, { "act:02", 1, 1 }, { "act:03", 1, 0 },
		{ "act:04", 1, 1 }, { "act:05", 1, 0 },
		/* hold-outs of the open protocol */
		{ "ecgid:61", 1, -1 }, { "ptbxl:00010", 1, -1 },
	};
	struct data_corpus *c = calloc(1, sizeof(*c));
	int i, j;

	c->n_recs = (int)(sizeof(r) / sizeof(r[0]));
	c->recs = calloc((size_t)c->n_recs, sizeof(*c->recs));
	c->subjects = calloc(16, sizeof(char *));
	c->n_activities = 2;
	c->activities = calloc(2, sizeof(char *));
	c->activities[0] = strdup("rest");
	c->activities[1] = strdup("run");
	for (i = 0; i < c->n_recs; i++) {
		for (j = 0; j < c->n_subjects; j++)
			if (strcmp(c->subjects[j], r[i].s) == 0)
				break;
		if (j == c->n_subjects)
			c->subjects[c->n_subjects++] = strdup(r[i].s);
		c->recs[i].subject = j;
		c->recs[i].session = r[i].sess;
		c->recs[i].activity = r[i].act;
		c->recs[i].manifest = r[i].act < 0 ? 0 : 1;
		c->recs[i].n = 1000;
	}
	return c;
}

static void
test_p2_membership(void **state)
{
	struct data_corpus *c = fake_corpus();
	struct data_p2 p2;
	int i;

	(void)state;
	assert_int_equal(data_split_p2(c, 0, 2, &p2, NULL), 0);
	/* persons 1, 2 train (3 recordings) */
	assert_int_equal(p2.train.n, 3);
	for (i = 0; i < p2.train.n; i++)
		assert_true(data_subject_number(
		    c->subjects[c->recs[p2.train.r[i].rec].subject]) <= 2);
	assert_int_equal(p2.n_train_subjects, 2);
	/* 3 and 5 have >= 2 recordings; 4 has one and is left out */
	assert_int_equal(p2.n_enrolled, 2);
	assert_int_equal(p2.enroll.n, 2);
	assert_int_equal(p2.enroll.r[0].rec, 4);	/* person 3, session 1 */
	assert_int_equal(p2.enroll.r[1].rec, 7);	/* person 5, session 2 */
	assert_int_equal(p2.probe.n, 3);
	assert_int_equal(p2.probe.r[0].rec, 3);
	assert_int_equal(p2.probe.r[1].rec, 5);
	assert_int_equal(p2.probe.r[2].rec, 8);
	for (i = 0; i < p2.probe.n; i++)
		assert_int_not_equal(c->recs[p2.probe.r[i].rec].subject, 3);
	data_p2_free(&p2);
	data_corpus_free(c);
}

static void
test_holdouts(void **state)
{
	(void)state;
	assert_true(data_subject_held_out("ecgid:61"));
	assert_true(data_subject_held_out("ecgid:90"));
	assert_false(data_subject_held_out("ecgid:60"));
	assert_false(data_subject_held_out("ecgid:01"));
	assert_true(data_subject_held_out("ptbxl:00010"));
	assert_true(data_subject_held_out("ptbxl:21830"));
	assert_false(data_subject_held_out("ptbxl:00009"));
	assert_false(data_subject_held_out("ptbxl:21832"));
	assert_false(data_subject_held_out("ecgact:05"));
	assert_false(data_subject_held_out("x:65"));
}

/* The open protocol trains on no hold-out, on every other recording. */
static void
test_open_split(void **state)
{
	struct data_corpus *c = fake_corpus();
	struct data_ranges tr = { 0 };
	int i, n_out = 0;

	(void)state;
	assert_int_equal(data_split_open(c, &tr, NULL), 0);
	for (i = 0; i < tr.n; i++)
		assert_false(data_subject_held_out(
		    c->subjects[c->recs[tr.r[i].rec].subject]));
	for (i = 0; i < c->n_recs; i++)
		n_out += data_subject_held_out(c->subjects[c->recs[i].subject]);
	assert_int_equal(tr.n + n_out, c->n_recs);
	data_ranges_free(&tr);
	data_corpus_free(c);
}

/* PTB-XL lead I is z-scored (units sd): read as it is, and the mV
 * saturation rule (|x| > 5 mV) does not fail its identity windows. */
static void
test_ptbxl_relative_units(void **state)
{
	char path[8192];
	struct data_manifest *mf = NULL;
	struct data_corpus *c = NULL;
	struct data_ranges all = { 0 };
	struct ecg_prep_params pp;
	struct data_set *s = NULL;
	struct dt_error err;
	size_t k, ok = 0;
	char text[16384];
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "path,format,subject,activity,"
	    "session,fs_hz,lead\n");
	/* records 00009 .. whose R waves reach 5+ sd */
	snprintf(path, sizeof(path), "%s/ptbxl-lead1/records/00009.hea",
	    data_dir());
	if (access(path, R_OK) != 0)
		skip();
	n += snprintf(text + n, sizeof(text) - (size_t)n,
	    "%s/ptbxl-lead1/records/00009,wfdb,ptbxl:00009,,1,,0\n"
	    "%s/ptbxl-lead1/records/00024,wfdb,ptbxl:00024,,1,,0\n",
	    data_dir(), data_dir());
	if (data_manifest_parse(text, (size_t)n, "ptbxl.csv", &mf, &err) != 0)
		fail_msg("%s", err.msg);
	if (data_corpus_load(&mf, 1, NULL, 0, &c, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(c->n_recs, 2);
	assert_true(c->recs[0].relative);
	assert_int_equal(c->recs[0].n, 5000);
	ecg_prep_params_default(&pp, 250, 512);
	pp.hop = 256;
	for (n = 0; n < 2; n++)
		assert_int_equal(data_ranges_add(&all, n, 0, c->recs[n].n, n),
		    0);
	if (data_set_build(c, all.r, all.n, &pp, &s, &err) != 0)
		fail_msg("%s", err.msg);
	for (k = 0; k < s->n; k++)
		ok += s->w[k].id_ok;
	assert_true(s->n >= 14);
	assert_true(ok * 10 >= s->n * 9);
	data_set_free(s);
	data_ranges_free(&all);
	data_corpus_free(c);
	data_manifest_free(mf);
}

static void
test_p3_folds(void **state)
{
	struct data_corpus *c = fake_corpus();
	int fold, *held = NULL, nh = 0, i, seen[16] = { 0 };
	bool *tr = NULL, *te = NULL;

	(void)state;
	for (fold = 0; fold < 5; fold++) {
		assert_int_equal(data_split_p3(c, fold, 5, false, &tr, &te,
		    &held, &nh, NULL), 0);
		assert_int_equal(nh, 1);
		seen[held[0]]++;
		for (i = 0; i < c->n_recs; i++) {
			assert_false(tr[i] && te[i]);
			if (c->recs[i].activity < 0)
				assert_false(tr[i] || te[i]);
			else
				assert_true(te[i] == (c->recs[i].subject ==
				    held[0]));
		}
		free(tr);
		free(te);
		free(held);
	}
	for (i = 0; i < c->n_subjects; i++)
		if (strncmp(c->subjects[i], "act:", 4) == 0)
			assert_int_equal(seen[i], 1);
	assert_int_equal(data_split_p3(c, 0, 5, true, &tr, &te, &held, &nh,
	    NULL), 0);
	assert_true(tr[0]);
	free(tr);
	free(te);
	free(held);
	data_corpus_free(c);
}

static void
test_activity_kept(void **state)
{
	struct data_corpus *c = *state;
	struct data_ranges all = { 0 };
	struct ecg_prep_params pp;
	struct data_set *s = NULL;
	struct data_act_stats st[4];
	int r, run = -1, sq = -1, k;
	size_t expect[4] = { 0 };

	ecg_prep_params_default(&pp, 250, 512);
	pp.hop = 256;
	for (r = 0; r < c->n_recs; r++)
		assert_int_equal(data_ranges_add(&all, r, 0, c->recs[r].n, r),
		    0);
	assert_int_equal(data_set_build(c, all.r, all.n, &pp, &s, NULL), 0);
	data_set_activity_stats(s, st);
	for (k = 0; k < c->n_activities; k++) {
		if (strcmp(c->activities[k], "run") == 0)
			run = k;
		if (strcmp(c->activities[k], "squats") == 0)
			sq = k;
	}
	assert_true(run >= 0 && sq >= 0);
	/* every window cut from a run or squat recording reaches the
	 * network (only flat ones would not), whatever the identity gate */
	for (r = 0; r < c->n_recs; r++) {
		if (c->recs[r].activity < 0)
			continue;
		expect[c->recs[r].activity] += (size_t)((llround(
		    (double)c->recs[r].n * 250.0 / c->recs[r].fs) - 512) / 256
		    + 1);
	}
	for (k = 0; k < c->n_activities; k++) {
		assert_true(st[k].n_windows > 0);
		assert_true(st[k].n_windows + 2 >= expect[k]);
		assert_true(st[k].n_id_ok <= st[k].n_windows);
		fprintf(stderr, "# %s: %zu windows, %.1f %% pass the identity "
		    "gate\n", c->activities[k], st[k].n_windows, 100.0 *
		    (double)st[k].n_id_ok / (double)st[k].n_windows);
	}
	assert_true(st[run].n_windows > 50);
	assert_true(st[sq].n_windows > 50);
	/* rest is mostly usable for identity */
	assert_true(st[0].n_id_ok * 2 > st[0].n_windows);
	assert_true(st[3].n_windows > 0);	/* unlabelled: the ECG-ID windows */
	data_set_free(s);
	data_ranges_free(&all);
}

/* The windows of the corpus's first three recordings (hop 128) in *s, and
 * the nstdb noise record `noise` in *nz. */
static void
aug_fixture(const struct data_corpus *c, const char *noise,
    struct data_ranges *all, struct data_set **s, struct data_noise **nz)
{
	struct ecg_prep_params pp;
	char path[8192];
	const char *recs[1] = { path };
	struct dt_error err;
	int r;

	ecg_prep_params_default(&pp, 250, 512);
	pp.hop = 128;
	for (r = 0; r < 3; r++)
		assert_int_equal(data_ranges_add(all, r, 0, c->recs[r].n, r),
		    0);
	assert_int_equal(data_set_build(c, all->r, all->n, &pp, s, NULL), 0);
	assert_true((*s)->n > 50);
	snprintf(path, sizeof(path), "%s/nstdb/%s", data_dir(), noise);
	if (data_noise_load(recs, 1, &pp, nz, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal((*nz)->n, 2);
}

static void
test_augmentation_seeded(void **state)
{
	struct data_corpus *c = *state;
	struct data_ranges all = { 0 };
	struct data_set *s = NULL;
	struct data_aug aug;
	struct data_noise *nz = NULL;
	struct dt_rng r1, r2, r3;
	size_t idx[8] = { 0, 3, 7, 11, 20, 30, 40, 50 };
	float *a = calloc(8 * 512, sizeof(float)),
	    *b = calloc(8 * 512, sizeof(float)),
	    *z = calloc(8 * 512, sizeof(float));
	int i, k;

	aug_fixture(c, "bw", &all, &s, &nz);
	data_aug_default(&aug);
	/* off: the plain windows */
	dt_rng_seed(&r1, 5 ^ DATA_SEED_SALT);
	data_set_batch(s, idx, 8, &aug, &r1, a);
	for (k = 0; k < 8; k++) {
		data_set_window(s, idx[k], z + k * 512);
	}
	assert_memory_equal(a, z, 8 * 512 * sizeof(float));
	aug.scale = aug.wander = aug.shift = aug.noise = true;
	aug.band = aug.hum = aug.stretch = true;
	aug.noise_p = 1;
	aug.nz = nz;
	dt_rng_seed(&r1, 42 ^ DATA_SEED_SALT);
	dt_rng_seed(&r2, 42 ^ DATA_SEED_SALT);
	dt_rng_seed(&r3, 43 ^ DATA_SEED_SALT);
	data_set_batch(s, idx, 8, &aug, &r1, a);
	data_set_batch(s, idx, 8, &aug, &r2, b);
	assert_memory_equal(a, b, 8 * 512 * sizeof(float));
	data_set_batch(s, idx, 8, &aug, &r3, b);
	assert_memory_not_equal(a, b, 8 * 512 * sizeof(float));
	assert_memory_not_equal(a, z, 8 * 512 * sizeof(float));
	for (i = 0; i < 8 * 512; i++)
		assert_true(isfinite(a[i]) && fabsf(a[i]) < 50);
	/* shuffles are seeded too */
	{
		size_t p1[100], p2[100];

		for (i = 0; i < 100; i++)
			p1[i] = p2[i] = (size_t)i;
		dt_rng_seed(&r1, 9 ^ DATA_SEED_SALT);
		dt_rng_seed(&r2, 9 ^ DATA_SEED_SALT);
		dt_rng_shuffle(p1, 100, &r1);
		dt_rng_shuffle(p2, 100, &r2);
		assert_memory_equal(p1, p2, sizeof(p1));
	}
	free(a);
	free(b);
	free(z);
	data_noise_free(nz);
	data_set_free(s);
	data_ranges_free(&all);
}

/* Pearson correlation of a[0..n) and b[0..n) */
static double
corr(const float *a, const float *b, int n)
{
	double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
	int i;

	for (i = 0; i < n; i++) {
		ma += a[i];
		mb += b[i];
	}
	ma /= n;
	mb /= n;
	for (i = 0; i < n; i++) {
		sab += (a[i] - ma) * (b[i] - mb);
		saa += (a[i] - ma) * (a[i] - ma);
		sbb += (b[i] - mb) * (b[i] - mb);
	}
	return sab / sqrt(saa * sbb);
}

/* The lowest and highest correlation of n clean windows with their noisy
 * selves. */
static void
corr_range(const float *clean, const float *noisy, int n, double *lo,
    double *hi)
{
	int k;

	*lo = 2;
	*hi = -2;
	for (k = 0; k < n; k++) {
		double r = corr(clean + k * 512, noisy + k * 512, 512);

		*lo = fmin(*lo, r);
		*hi = fmax(*hi, r);
	}
}

/* n windows spread over the first three recordings, clean and to be
 * augmented */
struct aug_case {
	struct data_ranges all;
	struct data_set *s;
	struct data_noise *nz;
	size_t idx[40];
	float *clean, *noisy;
	int n;
};

static void
aug_case_init(struct aug_case *t, const struct data_corpus *c, int n)
{
	int k;

	memset(t, 0, sizeof(*t));
	assert_true(n <= 40);
	t->n = n;
	aug_fixture(c, "ma", &t->all, &t->s, &t->nz);
	assert_true(t->s->n >= (size_t)n);
	assert_non_null(t->clean = calloc((size_t)n * 512, sizeof(float)));
	assert_non_null(t->noisy = calloc((size_t)n * 512, sizeof(float)));
	for (k = 0; k < n; k++) {
		t->idx[k] = (size_t)k * (t->s->n / (size_t)n);
		data_set_window(t->s, t->idx[k], t->clean + k * 512);
	}
}

static void
aug_case_free(struct aug_case *t)
{
	free(t->clean);
	free(t->noisy);
	data_noise_free(t->nz);
	data_set_free(t->s);
	data_ranges_free(&t->all);
}

/* Noise at a fixed SNR leaves every window as correlated with its clean
 * self (1 / sqrt(1 + 10^(-SNR/10))); an SNR drawn from a range spreads
 * them over the range's correlations. */
static void
test_noise_snr_drawn(void **state)
{
	struct aug_case t;
	struct data_aug aug;
	struct dt_rng rng;
	double lo, hi;

	aug_case_init(&t, *state, 40);
	data_aug_default(&aug);
	aug.noise = true;
	aug.noise_p = 1;
	aug.nz = t.nz;
	/* fixed 12 dB: correlation 0.970 */
	dt_rng_seed(&rng, 7 ^ DATA_SEED_SALT);
	data_set_batch(t.s, t.idx, t.n, &aug, &rng, t.noisy);
	corr_range(t.clean, t.noisy, t.n, &lo, &hi);
	assert_true(lo > 0.94 && hi < 0.995);
	/* drawn from 0..18 dB: correlations from 0.707 to 0.992 */
	aug.snr_db = 0;
	aug.snr_hi = 18;
	dt_rng_seed(&rng, 7 ^ DATA_SEED_SALT);
	data_set_batch(t.s, t.idx, t.n, &aug, &rng, t.noisy);
	corr_range(t.clean, t.noisy, t.n, &lo, &hi);
	assert_true(lo > 0.6 && lo < 0.85);
	assert_true(hi > 0.97);
	aug_case_free(&t);
}

/* Fraction of x's power (mean removed) between lo and hi Hz (plain DFT). */
static double
band_fraction(const float *x, int n, double fs, double lo, double hi)
{
	double mean = 0, in = 0, all = 0;
	int i, k;

	for (i = 0; i < n; i++)
		mean += x[i];
	mean /= n;
	for (k = 1; k <= n / 2; k++) {
		double re = 0, im = 0, f = k * fs / n, p;

		for (i = 0; i < n; i++) {
			re += (x[i] - mean) * cos(2 * M_PI * k * i / n);
			im -= (x[i] - mean) * sin(2 * M_PI * k * i / n);
		}
		p = re * re + im * im;
		all += p;
		if (f >= lo && f <= hi)
			in += p;
	}
	return all > 0 ? in / all : 0;
}

/* Electrode motion: half the windows get it, at the SNR asked for, and
 * what is added lies in the motion band (0.5-12 Hz, one-pole edges). */
static void
test_motion_aug(void **state)
{
	struct aug_case t;
	struct data_aug aug;
	struct dt_rng rng;
	float add[512];
	/* 6 dB: correlation 1 / sqrt(1 + 10^-0.6) */
	double want = 1 / sqrt(1 + pow(10, -0.6));
	int k, i, n_moved = 0, n_kept = 0;

	aug_case_init(&t, *state, 24);
	data_aug_default(&aug);
	aug.motion = true;
	aug.motion_snr_lo = aug.motion_snr_hi = 6;
	dt_rng_seed(&rng, 11 ^ DATA_SEED_SALT);
	data_set_batch(t.s, t.idx, t.n, &aug, &rng, t.noisy);
	for (k = 0; k < t.n; k++) {
		const float *x = t.clean + k * 512, *y = t.noisy + k * 512;
		double r = corr(x, y, 512);

		if (r > 0.9999) {
			n_kept++;
			continue;
		}
		n_moved++;
		assert_true(fabs(r - want) < 0.03);
		/* y = (x + g m) r: what was added is y / r - x */
		for (i = 0; i < 512; i++)
			add[i] = (float)(y[i] / r - x[i]);
		assert_true(band_fraction(add, 512, 250, 0.3, 25) > 0.9);
	}
	assert_true(n_moved >= 4 && n_kept >= 4);
	aug_case_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_valid),
		cmocka_unit_test(test_manifest_malformed),
		cmocka_unit_test(test_adc_reader),
		cmocka_unit_test(test_p2_membership),
		cmocka_unit_test(test_p3_folds),
		cmocka_unit_test(test_holdouts),
		cmocka_unit_test(test_open_split),
		cmocka_unit_test(test_ptbxl_relative_units),
		cmocka_unit_test_setup_teardown(test_corpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_p1_no_crossing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_activity_kept, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_augmentation_seeded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_noise_snr_drawn, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_motion_aug, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/test_eval.c — data/eval.c: EER, FRR at FAR, rank-1 and DET on
 * hand-made score sets whose answers are known; the HTML report is written
 * and well formed.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cmocka_all.h"

#include "data/eval.h"

static void
test_separated(void **state)
{
	const float gen[] = { 0.9f, 0.8f, 0.7f, 0.6f };
	const float imp[] = { 0.1f, 0.2f, 0.3f, 0.4f };
	struct data_verif v;

	(void)state;
	assert_int_equal(data_verif_metrics(gen, 4, imp, 4, &v, NULL), 0);
	assert_true(v.eer == 0);
	assert_true(v.frr_at_far1 == 0);
	assert_true(v.frr_at_far01 == 0);
	/* the lowest threshold with FAR 0 is the lowest genuine score */
	assert_true(v.thr_far1 == 0.6f);
	assert_int_equal(v.n_genuine, 4);
	assert_int_equal(v.n_impostor, 4);
}

static void
test_overlap(void **state)
{
	/* t = 0.55: FAR = 1/4 (0.55 accepted), FRR = 1/4 (0.5 rejected) */
	const float gen[] = { 0.5f, 0.6f, 0.7f, 0.8f };
	const float imp[] = { 0.1f, 0.2f, 0.3f, 0.55f };
	struct data_verif v;

	(void)state;
	assert_int_equal(data_verif_metrics(gen, 4, imp, 4, &v, NULL), 0);
	assert_true(fabs(v.eer - 0.25) < 1e-12);
	assert_true(v.eer_threshold == 0.55f);
	/* FAR <= 1 % first at t = 0.6, where FRR = 1/4 */
	assert_true(fabs(v.frr_at_far1 - 0.25) < 1e-12);
	assert_true(v.thr_far1 == 0.6f);
}

static void
test_imbalanced(void **state)
{
	/* 1000 impostors 0..0.999, 10 genuine: 5 at 0.9995 and 5 at 0.5 +
	 * 0.0001k.  FAR 1 % needs t > 0.989 -> FRR 1/2; FAR 0.1 % needs
	 * t > 0.998 -> still 1/2. */
	float imp[1000], gen[10];
	struct data_verif v;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		imp[i] = (float)i / 1000.0f;
	for (i = 0; i < 5; i++) {
		gen[i] = 0.9995f;
		gen[5 + i] = 0.5f + 0.0001f * (float)i;
	}
	assert_int_equal(data_verif_metrics(gen, 10, imp, 1000, &v, NULL), 0);
	assert_true(fabs(v.frr_at_far1 - 0.5) < 1e-12);
	assert_true(fabs(v.frr_at_far01 - 0.5) < 1e-12);
	/* FAR at 0.5 is 0.5, FRR 0: the EER sits near FAR = FRR */
	assert_true(v.eer > 0.2 && v.eer < 0.5);
	/* errors */
	assert_int_equal(data_verif_metrics(gen, 0, imp, 1000, &v, NULL), -1);
	gen[0] = NAN;
	assert_int_equal(data_verif_metrics(gen, 10, imp, 1000, &v, NULL), -1);
}

static void
test_rank1(void **state)
{
	/* 3 probes x 2 templates (ids 7, 9) */
	const float s[] = { 0.9f, 0.1f,	/* probe id 7: right */
	    0.4f, 0.3f,			/* probe id 9: wrong */
	    0.2f, 0.8f };		/* probe id 9: right */
	const int pid[] = { 7, 9, 9 }, tid[] = { 7, 9 };

	(void)state;
	assert_true(fabs(data_rank1(s, 3, 2, pid, tid) - 2.0 / 3.0) < 1e-12);
}

static void
test_det_probit(void **state)
{
	const float gen[] = { 0.5f, 0.6f, 0.7f, 0.8f };
	const float imp[] = { 0.1f, 0.2f, 0.3f, 0.55f };
	double far[16], frr[16];
	size_t n, i;

	(void)state;
	assert_true(fabs(data_probit(0.5)) < 1e-9);
	assert_true(fabs(data_probit(0.975) - 1.959964) < 1e-5);
	assert_true(fabs(data_probit(0.001) + 3.090232) < 1e-5);
	n = data_det_curve(gen, 4, imp, 4, far, frr, 16);
	assert_int_equal(n, 8);
	for (i = 1; i < n; i++) {
		assert_true(far[i] <= far[i - 1]);
		assert_true(frr[i] >= frr[i - 1]);
	}
}

static int
count(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s++;
	}
	return n;
}

static void
test_report(void **state)
{
	float gen[200], imp[2000];
	long conf[9] = { 50, 2, 0, 3, 40, 1, 0, 5, 45 };
	char *names[3] = { "rest", "walk", "run <fast>" };
	char dir[] = "/tmp/test_eval_XXXXXX", path[256], *buf;
	struct data_report r;
	struct dt_error err;
	FILE *f;
	long len;
	int i;

	(void)state;
	for (i = 0; i < 200; i++)
		gen[i] = 0.6f + 0.3f * (float)(i % 37) / 37.0f;
	for (i = 0; i < 2000; i++)
		imp[i] = -0.2f + 0.7f * (float)(i % 101) / 101.0f;
	assert_non_null(mkdtemp(dir));
	memset(&r, 0, sizeof(r));
	r.title = "test & <report>";
	r.summary_json = "{\"eer\": 0.01}";
	r.gen = gen;
	r.imp = imp;
	r.n_gen = 200;
	r.n_imp = 2000;
	r.n_act = 3;
	r.act_names = names;
	r.confusion = conf;
	r.curves_json = "[{\"epoch\":1,\"loss_id\":5.0,\"loss_act\":1.2,"
	    "\"val_id_acc\":0.5,\"w_id\":1.0,\"w_act\":1.0},{\"epoch\":2,"
	    "\"loss_id\":3.0,\"loss_act\":0.7,\"val_id_acc\":0.8,\"w_id\":0.9,"
	    "\"w_act\":1.1}]";
	if (data_report_write(dir, &r, &err) != 0)
		fail_msg("%s", err.msg);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	assert_true(strncmp(buf, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(buf, "</html>"));
	/* DET, histogram, confusion, 3 training curves */
	assert_int_equal(count(buf, "<svg "), 6);
	assert_int_equal(count(buf, "</svg>"), 6);
	assert_int_equal(count(buf, "<figure>"), count(buf, "</figure>"));
	assert_int_equal(count(buf, "<text"), count(buf, "</text>"));
	assert_int_equal(count(buf, "<polyline"), count(buf, "\"/>\n<text") +
	    count(buf, "<polyline") - count(buf, "\"/>\n<text"));
	assert_null(strstr(buf, "nan"));
	assert_null(strstr(buf, "inf\""));
	/* text is escaped */
	assert_non_null(strstr(buf, "test &amp; &lt;report&gt;"));
	assert_non_null(strstr(buf, "run &lt;fast&gt;"));
	assert_null(strstr(buf, "<report>"));
	assert_non_null(strstr(buf, "DET curve"));
	free(buf);
	unlink(path);
	rmdir(dir);
	/* nothing to draw: still a page */
	assert_non_null(mkdtemp(strcpy(dir, "/tmp/test_eval_XXXXXX")));
	memset(&r, 0, sizeof(r));
	r.title = "empty";
	assert_int_equal(data_report_write(dir, &r, NULL), 0);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	assert_int_equal(access(path, R_OK), 0);
	unlink(path);
	rmdir(dir);
}

/* Reads DIR/report.html into a malloc'd string. */
static char *
slurp_report(const char *dir)
{
	char path[256], *buf;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/report.html", dir);
	assert_non_null(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(path);
	return buf;
}

/*
 * The operator's report: the summary first, the threshold and the EER
 * marked on the DET curve and the histogram with their rates, the
 * caption saying what the scores are, the histogram's y axis with values,
 * every bar inside the plot, and no two texts drawn at one spot (legends
 * do not overlap each other).
 */
static void
test_report_marks(void **state)
{
	float gen[300], imp[3000];
	char dir[] = "/tmp/test_eval_XXXXXX", *buf, *p;
	struct data_report r;
	struct dt_error err;
	double xs[400], ys[400];
	int i, j, nt = 0, nbar = 0;

	(void)state;
	for (i = 0; i < 300; i++)
		gen[i] = 0.5f + 0.5f * (float)(i % 41) / 41.0f;
	for (i = 0; i < 3000; i++)
		imp[i] = -0.3f + 0.9f * (float)(i % 97) / 97.0f;
	assert_non_null(mkdtemp(dir));
	memset(&r, 0, sizeof(r));
	r.title = "marks";
	r.gen = gen;
	r.imp = imp;
	r.n_gen = 300;
	r.n_imp = 3000;
	r.summary_html = "<section class=\"op\"><h2>Operator summary</h2>"
	    "</section>";
	r.score_caption = "Scores: cosine similarity of 8 s probes";
	r.threshold = 0.65;
	r.has_threshold = 1;
	if (data_report_write(dir, &r, &err) != 0)
		fail_msg("%s", err.msg);
	buf = slurp_report(dir);
	rmdir(dir);
	assert_non_null(p = strstr(buf, "Operator summary"));
	assert_true(p < strstr(buf, "<h2>Verification"));
	assert_int_equal(count(buf, "threshold 0.650: FAR "), 2);
	assert_int_equal(count(buf, ">EER "), 2);
	assert_non_null(strstr(buf, "<figcaption>Scores: cosine similarity"));
	assert_non_null(strstr(buf, "text-anchor=\"end\">0.00</text>"));
	for (p = buf; (p = strstr(p, "<rect x=\"")) != NULL; p++) {
		double x, y, w, h;

		if (sscanf(p, "<rect x=\"%lf\" y=\"%lf\" width=\"%lf\" "
		    "height=\"%lf\"", &x, &y, &w, &h) != 4 ||
		    strncmp(strstr(p, "fill=") + 6, "#2ca02c", 7) != 0 ||
		    w == 14)	/* the legend's swatch */
			continue;
		nbar++;
		assert_true(y >= 30 - 0.05 && y + h <= 410 - 100 + 0.05);
		assert_true(x >= 60 - 0.05 && x + w <= 480 - 20 + 0.05);
	}
	assert_true(nbar > 0);
	/* within each figure */
	for (p = strstr(buf, "<svg "); p != NULL; ) {
		char *end = strstr(p, "</svg>"), *q;

		assert_non_null(end);
		nt = 0;
		for (q = p; (q = strstr(q, "<text x=\"")) != NULL && q < end &&
		    nt < 400; q++)
			if (sscanf(q, "<text x=\"%lf\" y=\"%lf\"", &xs[nt],
			    &ys[nt]) == 2)
				nt++;
		for (i = 0; i < nt; i++)
			for (j = i + 1; j < nt; j++)
				if (fabs(xs[i] - xs[j]) < 1 &&
				    fabs(ys[i] - ys[j]) < 1)
					fail_msg("two texts at %.1f,%.1f",
					    xs[i], ys[i]);
		p = strstr(end, "<svg ");
	}
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_separated),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_imbalanced),
		cmocka_unit_test(test_rank1),
		cmocka_unit_test(test_det_probit),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_report_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

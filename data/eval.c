/*
 * data/eval.c — verification metrics and the HTML/SVG report (see eval.h).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "data/eval.h"
#include "util/file.h"

static int
cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* Sorted copies; NULL on failure. */
static float *
sorted_copy(const float *v, size_t n)
{
	float *s = malloc((n ? n : 1) * sizeof(float));

	if (s == NULL)
		return NULL;
	if (n)
		memcpy(s, v, n * sizeof(float));
	qsort(s, n, sizeof(float), cmp_float);
	return s;
}

/*
 * Walks the distinct thresholds in ascending order; calls fn with FAR and
 * FRR at each.  Returns the number of thresholds.
 */
typedef void (*thr_fn)(void *ctx, size_t k, float t, double far, double frr);

static size_t
walk(const float *g, size_t ng, const float *im, size_t ni, thr_fn fn,
    void *ctx)
{
	size_t i = 0, j = 0, k = 0;

	while (i < ng || j < ni) {
		float t;

		if (j >= ni || (i < ng && g[i] <= im[j]))
			t = g[i];
		else
			t = im[j];
		/* i = #gen < t, j = #imp < t */
		if (fn != NULL)
			fn(ctx, k, t, 1.0 - (double)j / (double)ni,
			    (double)i / (double)ng);
		k++;
		while (i < ng && g[i] == t)
			i++;
		while (j < ni && im[j] == t)
			j++;
	}
	return k;
}

struct verif_ctx {
	double best;
	struct data_verif *v;
	int have1, have01;
};

static void
verif_fn(void *p, size_t k, float t, double far, double frr)
{
	struct verif_ctx *c = p;
	double d = fabs(far - frr);

	(void)k;
	if (d < c->best) {
		c->best = d;
		c->v->eer = (far + frr) / 2;
		c->v->eer_threshold = t;
	}
	if (!c->have1 && far <= 0.01) {
		c->have1 = 1;
		c->v->frr_at_far1 = frr;
		c->v->thr_far1 = t;
	}
	if (!c->have01 && far <= 0.001) {
		c->have01 = 1;
		c->v->frr_at_far01 = frr;
		c->v->thr_far01 = t;
	}
}

int
data_verif_metrics(const float *gen, size_t ng, const float *imp,
    size_t ni, struct data_verif *out, struct dt_error *err)
{
	struct data_verif v;
	struct verif_ctx c;
	float *g, *im;
	size_t i;

	if (ng == 0 || ni == 0)
		return dt_error_set(err, DT_E_INVALID, "verification: %zu "
		    "genuine and %zu impostor scores: need both", ng, ni);
	for (i = 0; i < ng; i++)
		if (!isfinite(gen[i]))
			return dt_error_set(err, DT_E_INVALID, "genuine score "
			    "%zu is not finite", i);
	for (i = 0; i < ni; i++)
		if (!isfinite(imp[i]))
			return dt_error_set(err, DT_E_INVALID, "impostor score "
			    "%zu is not finite", i);
	g = sorted_copy(gen, ng);
	im = sorted_copy(imp, ni);
	if (g == NULL || im == NULL) {
		free(g);
		free(im);
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	memset(&v, 0, sizeof(v));
	memset(&c, 0, sizeof(c));
	c.best = INFINITY;
	c.v = &v;
	walk(g, ng, im, ni, verif_fn, &c);
	/* Above every score nothing is accepted: FAR 0, FRR 1. */
	if (!c.have1) {
		v.frr_at_far1 = 1.0;
		v.thr_far1 = g[ng - 1] > im[ni - 1] ? g[ng - 1] : im[ni - 1];
	}
	if (!c.have01) {
		v.frr_at_far01 = 1.0;
		v.thr_far01 = g[ng - 1] > im[ni - 1] ? g[ng - 1] : im[ni - 1];
	}
	v.n_genuine = ng;
	v.n_impostor = ni;
	free(g);
	free(im);
	*out = v;
	return 0;
}

double
data_rank1(const float *scores, int P, int T, const int *probe_id,
    const int *tmpl_id)
{
	int p, t, ok = 0;

	if (P <= 0 || T <= 0)
		return 0;
	for (p = 0; p < P; p++) {
		const float *s = scores + (size_t)p * T;
		int best = 0;

		for (t = 1; t < T; t++)
			if (s[t] > s[best])
				best = t;
		ok += tmpl_id[best] == probe_id[p];
	}
	return (double)ok / P;
}

struct det_ctx {
	double *far, *frr;
	size_t every, n, max;
};

static void
det_fn(void *p, size_t k, float t, double far, double frr)
{
	struct det_ctx *c = p;

	(void)t;
	if (k % c->every == 0 && c->n < c->max) {
		c->far[c->n] = far;
		c->frr[c->n] = frr;
		c->n++;
	}
}

size_t
data_det_curve(const float *gen, size_t ng, const float *imp, size_t ni,
    double *far, double *frr, size_t max_pts)
{
	struct det_ctx c;
	float *g, *im;
	size_t nt;

	if (ng == 0 || ni == 0 || max_pts < 2)
		return 0;
	g = sorted_copy(gen, ng);
	im = sorted_copy(imp, ni);
	if (g == NULL || im == NULL) {
		free(g);
		free(im);
		return 0;
	}
	nt = walk(g, ng, im, ni, NULL, NULL);
	c.far = far;
	c.frr = frr;
	c.n = 0;
	c.max = max_pts;
	c.every = nt / (max_pts - 1) + 1;
	walk(g, ng, im, ni, det_fn, &c);
	free(g);
	free(im);
	return c.n;
}

/* Acklam's rational approximation (relative error < 1.2e-9). */
double
data_probit(double p)
{
	static const double a[] = { -3.969683028665376e+01,
	    2.209460984245205e+02, -2.759285104469687e+02,
	    1.383577518672690e+02, -3.066479806614716e+01,
	    2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01,
	    1.615858368580409e+02, -1.556989798598866e+02,
	    6.680131188771972e+01, -1.328068155288572e+01 };
	static const double c[] = { -7.784894002430293e-03,
	    -3.223964580411365e-01, -2.400758277161838e+00,
	    -2.549732539343734e+00, 4.374664141464968e+00,
	    2.938163982698783e+00 };
	static const double d[] = { 7.784695709041462e-03,
	    3.224671290700398e-01, 2.445134137142996e+00,
	    3.754408661907416e+00 };
	double q, r;

	if (p <= 0)
		return -INFINITY;
	if (p >= 1)
		return INFINITY;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q +
		    c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q +
		    d[3]) * q + 1);
	}
	if (p > 1 - 0.02425) {
		q = sqrt(-2 * log(1 - p));
		return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q +
		    c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q +
		    d[3]) * q + 1);
	}
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r +
	    a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r +
	    b[4]) * r + 1);
}

/* --------------------------------------------------------------- report */

void
data_html_esc(FILE *f, const char *s)
{
	for (; s != NULL && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

#define esc data_html_esc

#define SW 480
#define SH 410
#define ML 60
#define MR 20
#define MT 30
#define MB 100		/* tick values, axis label, two rows of legend */

static void
svg_open(FILE *f, const char *title)
{
	fprintf(f, "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	    "font-family=\"sans-serif\" font-size=\"11\">\n"
	    "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
	    "<text x=\"%d\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">",
	    SW, SH, SW, SH, SW, SH, SW / 2);
	esc(f, title);
	fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	    "fill=\"none\" stroke=\"black\"/>\n", ML, MT, SW - ML - MR,
	    SH - MT - MB);
}

static void
svg_close(FILE *f, const char *caption)
{
	fprintf(f, "</svg><figcaption>");
	esc(f, caption);
	fprintf(f, "</figcaption></figure>\n");
}

static double
px(double v, double lo, double hi)
{
	return ML + (v - lo) / (hi - lo) * (SW - ML - MR);
}

static double
py(double v, double lo, double hi)
{
	return SH - MB - (v - lo) / (hi - lo) * (SH - MT - MB);
}

/*
 * Legend item in slot k below the plot (two slots per row; a long item
 * takes an even slot and leaves the next one empty): STYLE 'b' a bar swatch,
 * '-' a line, ':' a dotted line, '=' a dashed line, 'o' a point.
 */
static void
legend(FILE *f, int k, const char *color, char style, const char *text)
{
	double x = ML + (k % 2) * (SW - ML - MR) / 2.0;
	double y = SH - MB + 58 + (k / 2) * 16;

	if (style == 'b')
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" "
		    "height=\"9\" fill=\"%s\" fill-opacity=\"0.5\"/>", x,
		    y - 8, color);
	else if (style == 'o')
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
		    "fill=\"%s\"/>", x + 7, y - 4, color);
	else
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>", x,
		    y - 4, x + 14, y - 4, color, style == ':' ?
		    " stroke-dasharray=\"2 2\"" : style == '=' ?
		    " stroke-dasharray=\"6 3\"" : "");
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x + 20, y);
	esc(f, text);
	fprintf(f, "</text>\n");
}

static void
axis_labels(FILE *f, const char *xl, const char *yl)
{
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + SW -
	    MR) / 2, SH - MB + 34);
	esc(f, xl);
	fprintf(f, "</text>\n<text x=\"14\" y=\"%d\" text-anchor=\"middle\" "
	    "transform=\"rotate(-90 14 %d)\">", (MT + SH - MB) / 2,
	    (MT + SH - MB) / 2);
	esc(f, yl);
	fprintf(f, "</text>\n");
}

/* FAR and FRR when scores >= t are accepted. */
static void
rates_at(const struct data_report *r, double t, double *far, double *frr)
{
	size_t i, a = 0, b = 0;

	for (i = 0; i < r->n_imp; i++)
		a += r->imp[i] >= t;
	for (i = 0; i < r->n_gen; i++)
		b += r->gen[i] < t;
	*far = r->n_imp ? (double)a / (double)r->n_imp : 0;
	*frr = r->n_gen ? (double)b / (double)r->n_gen : 0;
}

static const char *
thr_text(double t, double far, double frr)
{
	static char buf[96];

	snprintf(buf, sizeof(buf), "threshold %.3f: FAR %.2f %%, FRR %.2f %%",
	    t, 100 * far, 100 * frr);
	return buf;
}

/* A point of the DET plot at (far, frr), clamped into its axes. */
static void
det_point(FILE *f, double far, double frr, double lo, double hi,
    const char *color)
{
	far = far < 0.0005 ? 0.0005 : far > 0.5 ? 0.5 : far;
	frr = frr < 0.0005 ? 0.0005 : frr > 0.5 ? 0.5 : frr;
	fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n",
	    px(data_probit(far), lo, hi), py(data_probit(frr), lo, hi), color);
}

static void
det_svg(FILE *f, const struct data_report *r)
{
	static const double ticks[] = { 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
	    0.1, 0.2, 0.4 };
	double far[400], frr[400], lo = data_probit(0.0005),
	    hi = data_probit(0.5);
	size_t n, i;
	int k, started = 0;

	n = data_det_curve(r->gen, r->n_gen, r->imp, r->n_imp, far, frr, 400);
	svg_open(f, "DET curve (normal-deviate axes)");
	for (k = 0; k < (int)(sizeof(ticks) / sizeof(ticks[0])); k++) {
		double x = px(data_probit(ticks[k]), lo, hi);
		double y = py(data_probit(ticks[k]), lo, hi);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
		    "stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%d\" "
		    "text-anchor=\"middle\">%g</text>\n", x, MT, x, SH - MB, x,
		    SH - MB + 14, ticks[k] * 100);
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
		    "stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\">%g</text>\n", ML, y, SW - MR, y, ML - 4,
		    y + 4, ticks[k] * 100);
	}
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	    "stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>\n", px(lo, lo, hi),
	    py(lo, lo, hi), px(hi, lo, hi), py(hi, lo, hi));
	fprintf(f, "<polyline fill=\"none\" stroke=\"#1f77b4\" "
	    "stroke-width=\"2\" points=\"");
	for (i = 0; i < n; i++) {
		double a = far[i], b = frr[i], x, y;

		if (a < 0.0005)
			a = 0.0005;
		if (b < 0.0005)
			b = 0.0005;
		if (a > 0.5 || b > 0.5)
			continue;
		x = px(data_probit(a), lo, hi);
		y = py(data_probit(b), lo, hi);
		fprintf(f, "%s%.1f,%.1f", started ? " " : "", x, y);
		started = 1;
	}
	fprintf(f, "\"/>\n");
	legend(f, 0, "#1f77b4", '-', "FRR against FAR");
	legend(f, 1, "#aaa", '=', "FAR = FRR");
	k = 2;
	if (r->has_threshold) {
		double a, b;

		rates_at(r, r->threshold, &a, &b);
		det_point(f, a, b, lo, hi, "black");
		legend(f, k, "black", 'o', thr_text(r->threshold, a, b));
		k += 2;
	}
	{
		struct data_verif v;

		if (data_verif_metrics(r->gen, r->n_gen, r->imp, r->n_imp, &v,
		    NULL) == 0) {
			char t[96];

			det_point(f, v.eer, v.eer, lo, hi, "#ff7f0e");
			snprintf(t, sizeof(t), "EER %.2f %% (threshold %.3f)",
			    100 * v.eer, v.eer_threshold);
			legend(f, k++, "#ff7f0e", 'o', t);
		}
	}
	axis_labels(f, "false accept rate (%)", "false reject rate (%)");
	svg_close(f, "DET: the false reject rate against the false accept "
	    "rate over every threshold (normal-deviate axes, rates in %); "
	    "the dashed diagonal is FAR = FRR, where the EER lies.");
}

static void
hist_svg(FILE *f, const struct data_report *r)
{
	enum { NB = 50 };
	long hg[NB] = { 0 }, hi_[NB] = { 0 };
	double lo = 1, hi = -1, mg = 0, mi = 0, w;
	size_t i;
	int b;

	for (i = 0; i < r->n_gen; i++) {
		lo = fmin(lo, r->gen[i]);
		hi = fmax(hi, r->gen[i]);
	}
	for (i = 0; i < r->n_imp; i++) {
		lo = fmin(lo, r->imp[i]);
		hi = fmax(hi, r->imp[i]);
	}
	if (r->has_threshold) {
		lo = fmin(lo, r->threshold);
		hi = fmax(hi, r->threshold);
	}
	if (!(hi > lo)) {
		lo -= 1;
		hi += 1;
	}
	w = (hi - lo) / NB;
	for (i = 0; i < r->n_gen; i++) {
		b = (int)((r->gen[i] - lo) / w);
		hg[b >= NB ? NB - 1 : b < 0 ? 0 : b]++;
	}
	for (i = 0; i < r->n_imp; i++) {
		b = (int)((r->imp[i] - lo) / w);
		hi_[b >= NB ? NB - 1 : b < 0 ? 0 : b]++;
	}
	for (b = 0; b < NB; b++) {
		mg = fmax(mg, (double)hg[b] / (double)r->n_gen);
		mi = fmax(mi, (double)hi_[b] / (double)r->n_imp);
	}
	mg = fmax(mg, mi);
	svg_open(f, "Score distributions (fraction per bin)");
	for (b = 0; b < NB; b++) {
		double x0 = px(lo + b * w, lo, hi), x1 = px(lo + (b + 1) * w, lo,
		    hi);
		double yi = py((double)hi_[b] / (double)r->n_imp, 0, mg);
		double yg = py((double)hg[b] / (double)r->n_gen, 0, mg);

		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#d62728\" fill-opacity=\"0.5\"/>\n",
		    x0, yi, x1 - x0, SH - MB - yi);
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#2ca02c\" fill-opacity=\"0.5\"/>\n",
		    x0, yg, x1 - x0, SH - MB - yg);
	}
	for (b = 0; b <= 4; b++) {
		double v = lo + (hi - lo) * b / 4;

		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
		    "%.2f</text>\n", px(v, lo, hi), SH - MB + 14, v);
	}
	for (b = 0; b <= 2; b++)
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">"
		    "%.2f</text>\n", ML - 4, py(mg * b / 2, 0, mg) + 4,
		    mg * b / 2);
	{
		char t[96];
		struct data_verif v;

		snprintf(t, sizeof(t), "genuine (%zu scores)", r->n_gen);
		legend(f, 0, "#2ca02c", 'b', t);
		snprintf(t, sizeof(t), "impostor (%zu scores)", r->n_imp);
		legend(f, 1, "#d62728", 'b', t);
		if (r->has_threshold) {
			double a, c;

			rates_at(r, r->threshold, &a, &c);
			fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
			    "y2=\"%d\" stroke=\"black\" stroke-width=\"2\"/>\n",
			    px(r->threshold, lo, hi), MT, px(r->threshold, lo,
			    hi), SH - MB);
			legend(f, 2, "black", '-', thr_text(r->threshold, a,
			    c));	/* a whole row */
		}
		if (data_verif_metrics(r->gen, r->n_gen, r->imp, r->n_imp,
		    &v, NULL) == 0 && v.eer_threshold >= lo &&
		    v.eer_threshold <= hi) {
			fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
			    "y2=\"%d\" stroke=\"#ff7f0e\" stroke-width=\"2\" "
			    "stroke-dasharray=\"2 2\"/>\n", px(v.eer_threshold,
			    lo, hi), MT, px(v.eer_threshold, lo, hi), SH - MB);
			snprintf(t, sizeof(t), "EER %.2f %% at %.3f",
			    100 * v.eer, v.eer_threshold);
			legend(f, r->has_threshold ? 4 : 2, "#ff7f0e", ':', t);
		}
	}
	axis_labels(f, "cosine score", "fraction of its kind per bin");
	svg_close(f, r->score_caption != NULL ? r->score_caption :
	    "Genuine (green) and impostor (red) cosine scores.");
}

static void
confusion_svg(FILE *f, const struct data_report *r)
{
	int K = r->n_act, i, j;
	double cw = (double)(SW - ML - MR) / K, ch = (double)(SH - MT - MB) / K;

	svg_open(f, "Activity confusion (rows: true, columns: predicted)");
	for (i = 0; i < K; i++) {
		long tot = 0;

		for (j = 0; j < K; j++)
			tot += r->confusion[i * K + j];
		for (j = 0; j < K; j++) {
			long v = r->confusion[i * K + j];
			double fr = tot ? (double)v / (double)tot : 0;
			int shade = 255 - (int)(fr * 200);

			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			    "height=\"%.1f\" fill=\"rgb(%d,%d,255)\" "
			    "stroke=\"white\"/><text x=\"%.1f\" y=\"%.1f\" "
			    "text-anchor=\"middle\">%ld</text>\n", ML + j * cw,
			    MT + i * ch, cw, ch, shade, shade, ML + (j + 0.5) *
			    cw, MT + (i + 0.5) * ch + 4, v);
		}
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
		    ML - 4, MT + (i + 0.5) * ch + 4);
		esc(f, r->act_names[i]);
		fprintf(f, "</text><text x=\"%.1f\" y=\"%d\" "
		    "text-anchor=\"middle\">", ML + (i + 0.5) * cw, SH - MB + 14);
		esc(f, r->act_names[i]);
		fprintf(f, "</text>\n");
	}
	svg_close(f, "Counts of 8 s probes or windows, as the summary says.");
}

/* One training curve: values of `key` per epoch. */
static void
curve_svg(FILE *f, json_t *arr, const char *const *keys, int nk,
    const char *title, const char *ylabel)
{
	static const char *col[] = { "#1f77b4", "#ff7f0e", "#2ca02c",
	    "#d62728" };
	size_t n = json_array_size(arr), i;
	double lo = INFINITY, hi = -INFINITY;
	int k;

	for (k = 0; k < nk; k++)
		for (i = 0; i < n; i++) {
			json_t *v = json_object_get(json_array_get(arr, i),
			    keys[k]);

			if (json_is_number(v)) {
				lo = fmin(lo, json_number_value(v));
				hi = fmax(hi, json_number_value(v));
			}
		}
	if (!isfinite(lo))
		return;
	if (!(hi > lo)) {
		lo -= 0.5;
		hi += 0.5;
	}
	svg_open(f, title);
	for (k = 0; k < nk; k++) {
		int started = 0;

		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
		    "stroke-width=\"2\" points=\"", col[k % 4]);
		for (i = 0; i < n; i++) {
			json_t *v = json_object_get(json_array_get(arr, i),
			    keys[k]);

			if (!json_is_number(v))
				continue;
			fprintf(f, "%s%.1f,%.1f", started ? " " : "",
			    px(n > 1 ? (double)i : 0.5, 0, n > 1 ?
			    (double)(n - 1) : 1.0),
			    py(json_number_value(v), lo, hi));
			started = 1;
		}
		fprintf(f, "\"/>\n");
		legend(f, k, col[k % 4], '-', keys[k]);
	}
	fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>"
	    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n",
	    ML - 4, py(hi, lo, hi) + 4, hi, ML - 4, py(lo, lo, hi) + 4, lo);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"start\">1</text>"
	    "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%zu</text>\n", ML,
	    SH - MB + 14, SW - MR, SH - MB + 14, n);
	axis_labels(f, "epoch", ylabel);
	svg_close(f, title);
}

int
data_report_write(const char *dir, const struct data_report *r,
    struct dt_error *err)
{
	char *path = NULL, *text = NULL;
	size_t len = 0;
	FILE *f = NULL;
	json_t *curves = NULL;
	int rc = -1;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return dt_error_set(err, DT_E_IO, "%s: %s", dir,
		    strerror(errno));
	if (asprintf(&path, "%s/report.html", dir) < 0) {
		path = NULL;
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	/* built in memory, then replaced atomically (util/file.h) */
	if ((f = open_memstream(&text, &len)) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	    "charset=\"utf-8\"><title>");
	esc(f, r->title);
	fprintf(f, "</title>\n<style>body{font-family:sans-serif;margin:2em}"
	    "figure{display:inline-block;margin:1em;vertical-align:top}"
	    "figcaption{max-width:480px;font-size:90%%}pre{background:#f6f6f6;"
	    "padding:1em;overflow:auto}section.op{background:#f3f7fb;"
	    "padding:0.5em 1.5em 1em;max-width:60em}table.op{border-collapse:"
	    "collapse}table.op th,table.op td{text-align:left;padding:0.2em "
	    "0.8em;border-bottom:1px solid #ddd;vertical-align:top}"
	    "</style></head><body>\n<h1>");
	esc(f, r->title);
	fprintf(f, "</h1>\n");
	if (r->summary_html != NULL)
		fputs(r->summary_html, f);
	if (r->gen != NULL && r->imp != NULL && r->n_gen > 0 && r->n_imp > 0) {
		fprintf(f, "<h2>Verification</h2>\n");
		det_svg(f, r);
		hist_svg(f, r);
	}
	if (r->confusion != NULL && r->n_act > 0) {
		fprintf(f, "<h2>Activity</h2>\n");
		confusion_svg(f, r);
	}
	if (r->curves_json != NULL &&
	    (curves = json_loads(r->curves_json, 0, NULL)) != NULL &&
	    json_is_array(curves) && json_array_size(curves) > 0) {
		static const char *const lk[] = { "loss_id", "loss_act" };
		static const char *const ak[] = { "val_id_acc", "val_act_acc",
		    "train_id_acc", "train_act_acc" };
		static const char *const wk[] = { "w_id", "w_act" };

		fprintf(f, "<h2>Training (from the model's metadata)</h2>\n");
		curve_svg(f, curves, lk, 2, "Training losses", "loss");
		curve_svg(f, curves, ak, 4, "Accuracy", "accuracy");
		curve_svg(f, curves, wk, 2, "GradNorm task weights", "weight");
	}
	if (r->notes_title != NULL && r->notes_text != NULL) {
		fprintf(f, "<h2>");
		esc(f, r->notes_title);
		fprintf(f, "</h2>\n<pre>");
		esc(f, r->notes_text);
		fprintf(f, "</pre>\n");
	}
	if (r->summary_json != NULL) {
		fprintf(f, "<h2>Figures</h2>\n<pre>");
		esc(f, r->summary_json);
		fprintf(f, "</pre>\n");
	}
	fprintf(f, "</body></html>\n");
	if (ferror(f)) {
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	f = NULL;
	rc = dt_file_replace(path, text, len, 0644, err);
out:
	if (f != NULL)
		fclose(f);
	json_decref(curves);
	free(path);
	free(text);
	return rc;
}

/*
 * data/eval.h — accuracy figures of DESIGN.md section 8 and the HTML report.
 *
 * Scores are similarities (higher = same person).  At threshold t a genuine
 * score is rejected when < t and an impostor accepted when >= t; thresholds
 * are the distinct scores.  EER is (FAR + FRR) / 2 where |FAR - FRR| is
 * smallest; FRR at FAR x is taken at the lowest threshold whose FAR <= x.
 */
#ifndef DATA_EVAL_H
#define DATA_EVAL_H

#include <stddef.h>
#include <stdio.h>

#include "util/error.h"

struct data_verif {
	double eer, eer_threshold;
	double frr_at_far1, thr_far1;		/* FAR 1 % */
	double frr_at_far01, thr_far01;		/* FAR 0.1 % */
	size_t n_genuine, n_impostor;
};

int data_verif_metrics(const float *gen, size_t ng, const float *imp,
    size_t ni, struct data_verif *out, struct dt_error *err);

/* scores: P x T (probe-major); rank-1 = fraction of probes whose best
 * template has their id. */
double data_rank1(const float *scores, int P, int T, const int *probe_id,
    const int *tmpl_id);

/* DET points (FAR, FRR), at most max_pts of them, evenly spread over the
 * thresholds; returns the count (0 on failure). */
size_t data_det_curve(const float *gen, size_t ng, const float *imp,
    size_t ni, double *far, double *frr, size_t max_pts);

/* Inverse standard normal CDF (probit), for DET axes. */
double data_probit(double p);

struct data_report {
	const char *title;
	const char *summary_json;	/* printed as is in a <pre> */
	const float *gen, *imp;		/* may be NULL */
	size_t n_gen, n_imp;
	int n_act;
	char *const *act_names;
	const long *confusion;		/* n_act x n_act, rows true; may be NULL */
	const char *curves_json;	/* [{"epoch":..,"loss_id":..,..},..]; may be NULL */
	const char *notes_title;	/* a section of preformatted text; */
	const char *notes_text;		/* both may be NULL */
	const char *summary_html;	/* operator summary, first; may be NULL */
	const char *score_caption;	/* what the scores are; may be NULL */
	double threshold;		/* marked on the histogram and DET */
	int has_threshold;
};

/* Writes S to F with < > & " escaped for HTML. */
void data_html_esc(FILE *f, const char *s);

/* Writes DIR/report.html (creating DIR) with inline SVG figures. */
int data_report_write(const char *dir, const struct data_report *r,
    struct dt_error *err);

#endif /* DATA_EVAL_H */

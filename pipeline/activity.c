/* pipeline/activity.c — calibrated activity probabilities (activity.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/activity.h"
#include "util/num.h"

static int
meta_double(const struct nn_model *m, const char *key, double lo, double hi,
    double *out, struct dt_error *err)
{
	const char *s = nn_model_meta(m, key);

	if (s == NULL)
		return 0;
	if (dt_parse_double(s, lo, hi, out) != 0)
		return dt_error_set(err, DT_E_FORMAT, "model metadata %s "
		    "\"%.32s\": expected a number in [%g, %g]", key, s, lo,
		    hi);
	return 0;
}

int
act_calib_from_model(const struct nn_model *m, struct act_calib *c,
    struct dt_error *err)
{
	c->temperature = 1.0;
	c->unknown_below = 0.0;
	if (meta_double(m, "activity.temperature", 0.01, 100.0,
	    &c->temperature, err) != 0 || meta_double(m,
	    "activity.unknown_below", 0.0, 0.999, &c->unknown_below, err) != 0)
		return -1;
	return 0;
}

/* p^(1/T) renormalised, in logs so that small p do not underflow. */
static void
scale(const float *p, float *out, int A, double T)
{
	double mx = -INFINITY, s = 0;
	int i;

	for (i = 0; i < A; i++) {
		double l = log(p[i] > 1e-30f ? p[i] : 1e-30) / T;

		if (l > mx)
			mx = l;
	}
	for (i = 0; i < A; i++) {
		double l = log(p[i] > 1e-30f ? p[i] : 1e-30) / T;

		out[i] = (float)exp(l - mx);
		s += out[i];
	}
	for (i = 0; i < A; i++)
		out[i] = (float)(out[i] / s);
}

void
act_calib_apply(const struct act_calib *c, float *p, int A)
{
	if (c->temperature != 1.0)
		scale(p, p, A, c->temperature);
}

int
act_top(const float *p, int A)
{
	int i, best = 0;

	if (A < 1)
		return -1;
	for (i = 1; i < A; i++)
		if (p[i] > p[best])
			best = i;
	return best;
}

int
act_calib_label(const struct act_calib *c, const float *p, int A)
{
	int best = act_top(p, A);

	if (best < 0 || !(p[best] >= c->unknown_below))
		return -1;
	return best;
}

const char *
act_label_name(const struct nn_model *m, int label)
{
	return label >= 0 && label < m->n_activities ? m->activities[label] :
	    ACT_UNKNOWN_LABEL;
}

double
act_ece(const float *p, const int *y, size_t n, int A, int bins)
{
	double *conf, *acc, e = 0;
	size_t *cnt, i;
	int b;

	if (n == 0 || bins < 1)
		return NAN;
	conf = calloc((size_t)bins, sizeof(double));
	acc = calloc((size_t)bins, sizeof(double));
	cnt = calloc((size_t)bins, sizeof(size_t));
	if (conf == NULL || acc == NULL || cnt == NULL) {
		e = NAN;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const float *r = p + i * (size_t)A;
		int k, top = 0;

		for (k = 1; k < A; k++)
			if (r[k] > r[top])
				top = k;
		b = (int)(r[top] * bins);
		if (b >= bins)
			b = bins - 1;
		if (b < 0)
			b = 0;
		conf[b] += r[top];
		acc[b] += top == y[i];
		cnt[b]++;
	}
	for (b = 0; b < bins; b++)
		if (cnt[b] > 0)
			e += fabs(acc[b] - conf[b]) / (double)n;
out:
	free(conf);
	free(acc);
	free(cnt);
	return e;
}

double
act_nll(const float *p, const int *y, size_t n, int A, double T)
{
	float *q;
	double s = 0;
	size_t i;

	if (n == 0 || (q = malloc(sizeof(float) * (size_t)A)) == NULL)
		return NAN;
	for (i = 0; i < n; i++) {
		scale(p + i * (size_t)A, q, A, T);
		s -= log(q[y[i]] > 1e-30f ? q[y[i]] : 1e-30);
	}
	free(q);
	return s / (double)n;
}

double
act_fit_temperature(const float *p, const int *y, size_t n, int A)
{
	const double g = (sqrt(5.0) - 1) / 2;
	double a = log(0.05), b = log(20.0), c, d, fc, fd;
	int it;

	c = b - g * (b - a);
	d = a + g * (b - a);
	fc = act_nll(p, y, n, A, exp(c));
	fd = act_nll(p, y, n, A, exp(d));
	for (it = 0; it < 60; it++) {
		if (fc < fd) {
			b = d;
			d = c;
			fd = fc;
			c = b - g * (b - a);
			fc = act_nll(p, y, n, A, exp(c));
		} else {
			a = c;
			c = d;
			fc = fd;
			d = a + g * (b - a);
			fd = act_nll(p, y, n, A, exp(d));
		}
	}
	return exp((a + b) / 2);
}

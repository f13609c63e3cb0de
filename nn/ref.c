/*
 * nn/ref.c — the plain-C reference forward pass of DESIGN.md section 2, in
 * inference mode.  Naive loops in double precision, batch norm applied from
 * the running statistics exactly as written (not folded), so it is an
 * independent check of the oneDNN network.  Clarity over speed.
 *
 * Activations are [C][L] row-major, one window at a time.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ref.h"

#define BN_EPS 1e-5

/* A tensor of the model with the expected number of elements. */
static const float *
tensor(const struct nn_model *m, size_t numel, struct dt_error *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static const float *
tensor(const struct nn_model *m, size_t numel, struct dt_error *err,
    const char *fmt, ...)
{
	const struct nn_tensor *t;
	char name[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	t = nn_model_tensor(m, name);
	if (t == NULL) {
		dt_error_set(err, DT_E_INVALID, "tensor %s: missing", name);
		return NULL;
	}
	if (t->numel != numel) {
		dt_error_set(err, DT_E_INVALID,
		    "tensor %s: %zu elements, expected %zu", name, t->numel,
		    numel);
		return NULL;
	}
	return t->data;
}

static int
out_len(int len, int k, int stride, int pad)
{
	return (len + 2 * pad - k) / stride + 1;
}

/* y[co][t] = sum_ci sum_k w[co][ci][k] x[ci][t*stride + k - pad] (+ b[co]),
 * zero padding. */
static void
conv1d(const double *x, int cin, int lin, const float *w, const float *b,
    int cout, int k, int stride, int pad, double *y, int lout)
{
	int co, ci, t, j;

	for (co = 0; co < cout; co++) {
		for (t = 0; t < lout; t++) {
			double s = b != NULL ? b[co] : 0.0;

			for (ci = 0; ci < cin; ci++) {
				const float *wr = w + ((size_t)co * cin + ci) * k;
				const double *xr = x + (size_t)ci * lin;

				for (j = 0; j < k; j++) {
					int at = t * stride + j - pad;

					if (at >= 0 && at < lin)
						s += wr[j] * xr[at];
				}
			}
			y[(size_t)co * lout + t] = s;
		}
	}
}

/* Batch norm with running statistics, in place over [c][len]. */
struct bn {
	const float *w, *b, *mean, *var;
};

static int
get_bn(const struct nn_model *m, const char *prefix, int c, struct bn *bn,
    struct dt_error *err)
{
	if ((bn->w = tensor(m, (size_t)c, err, "%s.weight", prefix)) == NULL ||
	    (bn->b = tensor(m, (size_t)c, err, "%s.bias", prefix)) == NULL ||
	    (bn->mean = tensor(m, (size_t)c, err, "%s.running_mean",
	    prefix)) == NULL ||
	    (bn->var = tensor(m, (size_t)c, err, "%s.running_var",
	    prefix)) == NULL)
		return -1;
	return 0;
}

static void
batchnorm(double *x, int c, int len, const struct bn *bn)
{
	int i, t;

	for (i = 0; i < c; i++) {
		double inv = 1.0 / sqrt((double)bn->var[i] + BN_EPS);

		for (t = 0; t < len; t++) {
			double *v = &x[(size_t)i * len + t];

			*v = (*v - bn->mean[i]) * inv * bn->w[i] + bn->b[i];
		}
	}
}

static void
relu(double *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (x[i] < 0)
			x[i] = 0;
}

static double
sigmoid(double v)
{
	return 1.0 / (1.0 + exp(-v));
}

/* y[o] = b[o] + sum_i w[o][i] x[i] */
static void
linear(const double *x, int in, const float *w, const float *b, int out,
    double *y)
{
	int o, i;

	for (o = 0; o < out; o++) {
		double s = b != NULL ? b[o] : 0.0;

		for (i = 0; i < in; i++)
			s += (double)w[(size_t)o * in + i] * x[i];
		y[o] = s;
	}
}

struct work {
	double *a, *b, *c, *d;	/* max C*L each */
	double *v1, *v2, *h;	/* max C each */
};

/* Stage i: x [cin][lin] -> out [c][lout] (out may not alias x). */
static int
stage(const struct nn_model *m, int i, const double *x, int cin, int lin,
    double *out, double *tmp, double *sc, struct work *w,
    struct dt_error *err)
{
	const struct nn_hparams *hp = &m->hp;
	int c = hp->stage_channels[i], k = hp->kernel, kq = hp->seq_kernel;
	int cr = c / hp->sca_reduction;
	int lout = out_len(lin, k, 2, k / 2), ch, t, j, q;
	const float *w1, *w2, *wd, *f1w, *f1b, *f2w, *f2b, *sqw, *sqb;
	struct bn bn1, bn2, bnd;
	char p[64];

	if ((w1 = tensor(m, (size_t)c * cin * k, err,
	    "stages.%d.conv1.weight", i)) == NULL ||
	    (w2 = tensor(m, (size_t)c * c * k, err,
	    "stages.%d.conv2.weight", i)) == NULL ||
	    (wd = tensor(m, (size_t)c * cin, err,
	    "stages.%d.down.conv.weight", i)) == NULL ||
	    (f1w = tensor(m, (size_t)cr * c, err,
	    "stages.%d.sca.fc1.weight", i)) == NULL ||
	    (f1b = tensor(m, (size_t)cr, err,
	    "stages.%d.sca.fc1.bias", i)) == NULL ||
	    (f2w = tensor(m, (size_t)c * cr, err,
	    "stages.%d.sca.fc2.weight", i)) == NULL ||
	    (f2b = tensor(m, (size_t)c, err,
	    "stages.%d.sca.fc2.bias", i)) == NULL ||
	    (sqw = tensor(m, (size_t)2 * kq, err,
	    "stages.%d.sca.seq.weight", i)) == NULL ||
	    (sqb = tensor(m, 1, err, "stages.%d.sca.seq.bias", i)) == NULL)
		return -1;
	snprintf(p, sizeof(p), "stages.%d.bn1", i);
	if (get_bn(m, p, c, &bn1, err) != 0)
		return -1;
	snprintf(p, sizeof(p), "stages.%d.bn2", i);
	if (get_bn(m, p, c, &bn2, err) != 0)
		return -1;
	snprintf(p, sizeof(p), "stages.%d.down.bn", i);
	if (get_bn(m, p, c, &bnd, err) != 0)
		return -1;

	/* residual block */
	conv1d(x, cin, lin, w1, NULL, c, k, 2, k / 2, tmp, lout);
	batchnorm(tmp, c, lout, &bn1);
	relu(tmp, (size_t)c * lout);
	conv1d(tmp, c, lout, w2, NULL, c, k, 1, k / 2, out, lout);
	batchnorm(out, c, lout, &bn2);
	conv1d(x, cin, lin, wd, NULL, c, 1, 2, 0, sc, out_len(lin, 1, 2, 0));
	batchnorm(sc, c, lout, &bnd);
	for (j = 0; j < c * lout; j++)
		out[j] = out[j] + sc[j] > 0 ? out[j] + sc[j] : 0;

	/* SCA, channel part: a = sigmoid(MLP(avg) + MLP(max)) */
	for (ch = 0; ch < c; ch++) {
		const double *r = out + (size_t)ch * lout;
		double s = 0, mx = r[0];

		for (t = 0; t < lout; t++) {
			s += r[t];
			if (r[t] > mx)
				mx = r[t];
		}
		w->v1[ch] = s / lout;
		w->v2[ch] = mx;
	}
	{
		double *ha = w->h, *hb = w->h + cr;
		double *oa = tmp, *ob = tmp + c;

		linear(w->v1, c, f1w, f1b, cr, ha);
		relu(ha, (size_t)cr);
		linear(ha, cr, f2w, f2b, c, oa);
		linear(w->v2, c, f1w, f1b, cr, hb);
		relu(hb, (size_t)cr);
		linear(hb, cr, f2w, f2b, c, ob);
		for (ch = 0; ch < c; ch++) {
			double a = sigmoid(oa[ch] + ob[ch]);

			for (t = 0; t < lout; t++)
				out[(size_t)ch * lout + t] *= a;
		}
	}

	/* SCA, sequence part: m = sigmoid(conv(concat(mean_c, max_c))) */
	{
		double *s = tmp, *mk = tmp + 2 * (size_t)lout;

		for (t = 0; t < lout; t++) {
			double sum = 0, mx = out[t];

			for (ch = 0; ch < c; ch++) {
				double v = out[(size_t)ch * lout + t];

				sum += v;
				if (v > mx)
					mx = v;
			}
			s[t] = sum / c;
			s[lout + t] = mx;
		}
		for (t = 0; t < lout; t++) {
			double acc = sqb[0];

			for (q = 0; q < 2; q++)
				for (j = 0; j < kq; j++) {
					int at = t + j - kq / 2;

					if (at >= 0 && at < lout)
						acc += (double)sqw[q * kq + j] *
						    s[(size_t)q * lout + at];
				}
			mk[t] = sigmoid(acc);
		}
		for (ch = 0; ch < c; ch++)
			for (t = 0; t < lout; t++)
				out[(size_t)ch * lout + t] *= mk[t];
	}
	return 0;
}

static void
work_free(struct work *w)
{
	free(w->a);
	free(w->b);
	free(w->c);
	free(w->d);
	free(w->v1);
	free(w->v2);
	free(w->h);
}

int
nn_ref_forward(const struct nn_model *m, const float *windows, int n,
    float *emb, float *act, struct dt_error *err)
{
	const struct nn_hparams *hp;
	struct work w;
	const float *stem_w, *fcw, *fcb, *a1w, *a1b, *a2w, *a2b;
	struct bn stem_bn, id_bn;
	size_t maxcl, maxc;
	int i, s, win, c0, ks, len, cin, lin, e_dim, h_dim, na, ch, t;
	int rc = -1;

	memset(&w, 0, sizeof(w));
	if (m == NULL || n < 0 || (n > 0 && windows == NULL))
		return dt_error_set(err, DT_E_INVALID,
		    "reference forward: bad arguments");
	hp = &m->hp;
	if (nn_hparams_check(hp, err) != 0)
		return -1;
	win = hp->window;
	c0 = hp->stem_channels;
	ks = hp->stem_kernel;
	e_dim = hp->embedding_dim;
	h_dim = hp->act_hidden;
	na = m->n_activities;
	if (na < 1)
		return dt_error_set(err, DT_E_INVALID, "model has no activities");
	cin = hp->stage_channels[hp->n_stages - 1];
	if ((stem_w = tensor(m, (size_t)c0 * ks, err,
	    "stem.conv.weight")) == NULL ||
	    get_bn(m, "stem.bn", c0, &stem_bn, err) != 0 ||
	    (fcw = tensor(m, (size_t)e_dim * cin, err,
	    "id_head.fc.weight")) == NULL ||
	    (fcb = tensor(m, (size_t)e_dim, err, "id_head.fc.bias")) == NULL ||
	    get_bn(m, "id_head.bn", e_dim, &id_bn, err) != 0 ||
	    (a1w = tensor(m, (size_t)h_dim * cin, err,
	    "act_head.fc1.weight")) == NULL ||
	    (a1b = tensor(m, (size_t)h_dim, err, "act_head.fc1.bias")) == NULL ||
	    (a2w = tensor(m, (size_t)na * h_dim, err,
	    "act_head.fc2.weight")) == NULL ||
	    (a2b = tensor(m, (size_t)na, err, "act_head.fc2.bias")) == NULL)
		return -1;

	/* Work buffers: the largest [C][L] of any layer (stem conv at full
	 * length included), and the largest C. */
	maxcl = (size_t)c0 * win;
	maxc = (size_t)c0;
	for (s = 0; s < hp->n_stages; s++) {
		size_t c = (size_t)hp->stage_channels[s];

		if (c * (size_t)nn_hparams_stage_len(hp, s) > maxcl)
			maxcl = c * (size_t)nn_hparams_stage_len(hp, s);
		if (c > maxc)
			maxc = c;
	}
	if ((size_t)e_dim > maxc)
		maxc = (size_t)e_dim;
	if ((size_t)h_dim > maxc)
		maxc = (size_t)h_dim;
	if ((size_t)na > maxc)
		maxc = (size_t)na;
	if (3 * (size_t)win > maxcl)	/* SCA sequence scratch */
		maxcl = 3 * (size_t)win;
	if (2 * maxc > maxcl)		/* SCA channel scratch */
		maxcl = 2 * maxc;
	if ((w.a = calloc(maxcl, sizeof(double))) == NULL ||
	    (w.b = calloc(maxcl, sizeof(double))) == NULL ||
	    (w.c = calloc(maxcl, sizeof(double))) == NULL ||
	    (w.d = calloc(maxcl, sizeof(double))) == NULL ||
	    (w.v1 = calloc(maxc, sizeof(double))) == NULL ||
	    (w.v2 = calloc(maxc, sizeof(double))) == NULL ||
	    (w.h = calloc(2 * maxc, sizeof(double))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "reference forward: out of memory");
		goto out;
	}

	for (i = 0; i < n; i++) {
		const float *xw = windows + (size_t)i * win;
		double *x = w.a, *y = w.b, *tmp;
		double norm;

		for (t = 0; t < win; t++) {
			if (!isfinite(xw[t])) {
				dt_error_set(err, DT_E_INVALID,
				    "reference forward: window %d sample %d is "
				    "not finite", i, t);
				goto out;
			}
			w.d[t] = xw[t];
		}
		/* stem: conv -> BN -> ReLU -> maxpool(2, 2) */
		len = out_len(win, ks, 1, ks / 2);
		conv1d(w.d, 1, win, stem_w, NULL, c0, ks, 1, ks / 2, y, len);
		batchnorm(y, c0, len, &stem_bn);
		relu(y, (size_t)c0 * len);
		lin = out_len(len, 2, 2, 0);
		for (ch = 0; ch < c0; ch++)
			for (t = 0; t < lin; t++) {
				double p = y[(size_t)ch * len + 2 * t];
				double q = y[(size_t)ch * len + 2 * t + 1];

				x[(size_t)ch * lin + t] = p > q ? p : q;
			}
		cin = c0;
		for (s = 0; s < hp->n_stages; s++) {
			if (stage(m, s, x, cin, lin, y, w.c, w.d, &w,
			    err) != 0)
				goto out;
			cin = hp->stage_channels[s];
			lin = out_len(lin, hp->kernel, 2, hp->kernel / 2);
			tmp = x;
			x = y;
			y = tmp;
		}
		/* global average pool -> f (in w.v1) */
		for (ch = 0; ch < cin; ch++) {
			double sum = 0;

			for (t = 0; t < lin; t++)
				sum += x[(size_t)ch * lin + t];
			w.v1[ch] = sum / lin;
		}
		/* identity head: fc -> BN -> L2 normalise */
		linear(w.v1, cin, fcw, fcb, e_dim, w.v2);
		batchnorm(w.v2, e_dim, 1, &id_bn);
		norm = 0;
		for (t = 0; t < e_dim; t++)
			norm += w.v2[t] * w.v2[t];
		norm = sqrt(norm);
		if (norm < 1e-12)
			norm = 1e-12;
		if (emb != NULL)
			for (t = 0; t < e_dim; t++)
				emb[(size_t)i * e_dim + t] =
				    (float)(w.v2[t] / norm);
		/* activity head: fc1 -> ReLU -> fc2 -> softmax */
		if (act != NULL) {
			double mx, sum = 0;

			linear(w.v1, cin, a1w, a1b, h_dim, w.h);
			relu(w.h, (size_t)h_dim);
			linear(w.h, h_dim, a2w, a2b, na, w.v2);
			mx = w.v2[0];
			for (t = 1; t < na; t++)
				if (w.v2[t] > mx)
					mx = w.v2[t];
			for (t = 0; t < na; t++) {
				w.v2[t] = exp(w.v2[t] - mx);
				sum += w.v2[t];
			}
			for (t = 0; t < na; t++)
				act[(size_t)i * na + t] = (float)(w.v2[t] / sum);
		}
	}
	rc = 0;
out:
	if (w.d != NULL)
		explicit_bzero(w.d, sizeof(double) * (size_t)win);
	work_free(&w);
	return rc;
}

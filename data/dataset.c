/*
 * data/dataset.c — corpus loading, windows, augmentation (see dataset.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "ecg/load.h"
#include "ecg/record.h"

static void
wipe_free(void *p, size_t n)
{
	if (p != NULL) {
		explicit_bzero(p, n);
		free(p);
	}
}

static void
rec_clear(struct data_rec *r)
{
	free(r->name);
	if (r->mv != NULL)
		wipe_free(r->mv, r->n * sizeof(float));
	if (r->adc != NULL)
		wipe_free(r->adc, r->n * sizeof(uint16_t));
	memset(r, 0, sizeof(*r));
}

static void
free_names(char **v, int n)
{
	int i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
data_corpus_label_unlabelled(struct data_corpus *c, const char *name,
    struct dt_error *err)
{
	int a, i;

	for (a = 0; a < c->n_activities; a++)
		if (strcmp(c->activities[a], name) == 0)
			break;
	if (a == c->n_activities)
		return dt_error_set(err, DT_E_INVALID, "--unlabelled-as %s: "
		    "not one of the data's activities", name);
	for (i = 0; i < c->n_recs; i++)
		if (c->recs[i].activity < 0)
			c->recs[i].activity = a;
	return 0;
}

void
data_corpus_free(struct data_corpus *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_recs; i++)
		rec_clear(&c->recs[i]);
	free(c->recs);
	free_names(c->manifests, c->n_manifests);
	free_names(c->subjects, c->n_subjects);
	free_names(c->activities, c->n_activities);
	free(c);
}

int
data_subject_number(const char *name)
{
	size_t n = strlen(name), i = n;
	long v;

	while (i > 0 && isdigit((unsigned char)name[i - 1]))
		i--;
	if (i == n || n - i > 9)
		return -1;
	v = strtol(name + i, NULL, 10);
	return (int)v;
}

/* Index of `s` in the vocabulary; adds it when `add`. -1 if absent. */
static int
vocab(char ***v, int *n, const char *s, int add)
{
	char **nv;
	int i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return i;
	if (!add)
		return -1;
	if ((nv = realloc(*v, sizeof(char *) * (size_t)(*n + 1))) == NULL)
		return -2;
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return -2;
	return (*n)++;
}

/* Days from 1970-01-01 (Howard Hinnant's days_from_civil). */
static long
days_from_civil(long y, unsigned m, unsigned d)
{
	long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

static int
cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

int
data_read_adc_ts(const char *path, double gap_s, double min_piece_s,
    uint16_t ***pieces_out, size_t **lens_out, double **fs_out,
    int *n_out, int *dropped_out, struct dt_error *err)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0, lineno = 0, n = 0, alloc = 0, i, a;
	ssize_t len;
	double *t = NULL, *fs = NULL;
	uint16_t *v = NULL, **pc = NULL;
	size_t *pl = NULL;
	int np = 0, nd = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL)
		return dt_error_set(err, DT_E_IO, "%s: %s", path,
		    strerror(errno));
	while ((len = getline(&line, &cap, f)) != -1) {
		int Y, M, D, h, mi, used = 0;
		double sec;
		long cnt;
		char *p, *ep;

		lineno++;
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (sscanf(p, "%4d-%2d-%2d %2d:%2d:%n", &Y, &M, &D, &h, &mi,
		    &used) != 5 || used == 0 || M < 1 || M > 12 || D < 1 ||
		    D > 31 || h > 23 || mi > 59 || h < 0 || mi < 0) {
			dt_error_set(err, DT_E_FORMAT, "%s:%zu: expected "
			    "'YYYY-MM-DD HH:MM:SS.ffffff ; count'", path, lineno);
			goto out;
		}
		p += used;
		errno = 0;
		sec = strtod(p, &ep);
		if (ep == p || errno || !(sec >= 0 && sec < 61)) {
			dt_error_set(err, DT_E_FORMAT, "%s:%zu: bad seconds",
			    path, lineno);
			goto out;
		}
		p = ep;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ';') {
			dt_error_set(err, DT_E_FORMAT, "%s:%zu: expected ';'",
			    path, lineno);
			goto out;
		}
		p++;
		errno = 0;
		cnt = strtol(p, &ep, 10);
		if (ep == p || errno || cnt < 0 || cnt > DATA_ADC_FULL) {
			dt_error_set(err, DT_E_FORMAT, "%s:%zu: ADC count not "
			    "in 0..%d", path, lineno, DATA_ADC_FULL);
			goto out;
		}
		while (*ep == ' ' || *ep == '\t' || *ep == '\r' || *ep == '\n')
			ep++;
		if (*ep != '\0') {
			dt_error_set(err, DT_E_FORMAT, "%s:%zu: trailing text",
			    path, lineno);
			goto out;
		}
		if (n == alloc) {
			double *nt;
			uint16_t *nv;

			alloc = alloc ? alloc * 2 : 65536;
			if (alloc > ECG_MAX_TOTAL_SAMPLES) {
				dt_error_set(err, DT_E_FORMAT, "%s: too many "
				    "samples", path);
				goto out;
			}
			if ((nt = realloc(t, alloc * sizeof(*t))) == NULL) {
				dt_error_set(err, DT_E_NOMEM, "out of memory");
				goto out;
			}
			t = nt;
			if ((nv = realloc(v, alloc * sizeof(*v))) == NULL) {
				dt_error_set(err, DT_E_NOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		t[n] = (double)days_from_civil(Y, (unsigned)M, (unsigned)D) *
		    86400.0 + h * 3600.0 + mi * 60.0 + sec;
		v[n] = (uint16_t)cnt;
		n++;
	}
	if (ferror(f)) {
		dt_error_set(err, DT_E_IO, "%s: read error", path);
		goto out;
	}
	if (n == 0) {
		dt_error_set(err, DT_E_FORMAT, "%s: no samples", path);
		goto out;
	}
	if ((pc = calloc(n, sizeof(*pc))) == NULL ||
	    (pl = calloc(n, sizeof(*pl))) == NULL ||
	    (fs = calloc(n, sizeof(*fs))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	for (a = 0, i = 1; i <= n; i++) {
		double dur;

		if (i < n && t[i] - t[i - 1] <= gap_s && t[i] >= t[i - 1])
			continue;
		dur = t[i - 1] - t[a];
		if (dur < min_piece_s || i - a < 2) {
			nd++;
		} else {
			if ((pc[np] = malloc((i - a) * sizeof(uint16_t))) ==
			    NULL) {
				dt_error_set(err, DT_E_NOMEM, "out of memory");
				goto out;
			}
			memcpy(pc[np], v + a, (i - a) * sizeof(uint16_t));
			pl[np] = i - a;
			fs[np] = (double)(i - a - 1) / dur;
			np++;
		}
		a = i;
	}
	*pieces_out = pc;
	*lens_out = pl;
	*fs_out = fs;
	*n_out = np;
	*dropped_out = nd;
	pc = NULL;
	pl = NULL;
	fs = NULL;
	rc = 0;
out:
	if (pc != NULL) {
		for (i = 0; i < (size_t)np; i++)
			free(pc[i]);
		free(pc);
	}
	free(pl);
	free(fs);
	free(t);
	if (v != NULL)
		wipe_free(v, alloc * sizeof(*v));
	free(line);
	fclose(f);
	return rc;
}

static int
add_rec(struct data_corpus *c, int *cap, struct data_rec *r)
{
	if (c->n_recs == *cap) {
		int nc = *cap ? *cap * 2 : 256;
		struct data_rec *nr = realloc(c->recs, sizeof(*nr) *
		    (size_t)nc);

		if (nr == NULL)
			return -1;
		c->recs = nr;
		*cap = nc;
	}
	c->recs[c->n_recs++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

int
data_corpus_add_samples(struct data_corpus *c, const char *source,
    const char *name, const char *subject, int activity, int session,
    double fs, float *mv, size_t n, struct dt_error *err)
{
	struct data_rec *nr, r;
	char **nm;
	int k, subj;

	if (activity >= c->n_activities || !(fs > 0) || n == 0) {
		wipe_free(mv, n * sizeof(float));
		return dt_error_set(err, DT_E_INVALID, "%s: activity %d, %g Hz, "
		    "%zu samples", name, activity, fs, n);
	}
	for (k = 0; k < c->n_manifests; k++)
		if (strcmp(c->manifests[k], source) == 0)
			break;
	if (k == c->n_manifests) {
		if ((nm = realloc(c->manifests, sizeof(char *) *
		    ((size_t)c->n_manifests + 1))) == NULL)
			goto nomem;
		c->manifests = nm;
		if ((nm[k] = strdup(source)) == NULL)
			goto nomem;
		c->n_manifests++;
	}
	if ((subj = vocab(&c->subjects, &c->n_subjects, subject, 1)) < 0)
		goto nomem;
	if ((nr = realloc(c->recs, sizeof(*nr) * ((size_t)c->n_recs + 1))) ==
	    NULL)
		goto nomem;
	c->recs = nr;
	memset(&r, 0, sizeof(r));
	if ((r.name = strdup(name)) == NULL)
		goto nomem;
	r.manifest = k;
	r.subject = subj;
	r.activity = activity;
	r.session = session;
	r.fs = fs;
	r.n = n;
	r.mv = mv;
	c->recs[c->n_recs++] = r;
	return 0;
nomem:
	wipe_free(mv, n * sizeof(float));
	return dt_error_set(err, DT_E_NOMEM, "out of memory");
}

static int
session_number(const char *s, int fallback)
{
	int v = data_subject_number(s);

	return v >= 0 ? v : fallback;
}

int
data_corpus_load(struct data_manifest *const *mf, int n_mf,
    char *const *activities, int n_activities, struct data_corpus **out,
    struct dt_error *err)
{
	struct data_corpus *c;
	struct data_rec r;
	enum ecg_units units;
	int k, cap = 0, rc = -1, i;
	size_t j;

	memset(&r, 0, sizeof(r));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	if ((c->manifests = calloc((size_t)n_mf + 1, sizeof(char *))) == NULL)
		goto nomem;
	for (k = 0; k < n_activities; k++)
		if (vocab(&c->activities, &c->n_activities, activities[k],
		    1) < 0)
			goto nomem;
	for (k = 0; k < n_mf; k++) {
		const struct data_manifest *m = mf[k];

		if ((c->manifests[k] = strdup(m->name)) == NULL)
			goto nomem;
		c->n_manifests++;
		for (j = 0; j < m->n; j++) {
			const struct data_entry *e = &m->e[j];
			int subj, act = -1;

			if ((subj = vocab(&c->subjects, &c->n_subjects,
			    e->subject, 1)) < 0)
				goto nomem;
			if (e->activity != NULL) {
				act = vocab(&c->activities, &c->n_activities,
				    e->activity, activities == NULL);
				if (act == -2)
					goto nomem;
				if (act < 0) {
					dt_error_set(err, DT_E_INVALID, "%s:%zu: "
					    "activity '%s' is not one of the "
					    "model's", m->file, e->line,
					    e->activity);
					goto out;
				}
			}
			if (e->format == DATA_FMT_ADC_TS) {
				uint16_t **pc = NULL;
				size_t *pl = NULL, q;
				double *fs = NULL;
				int np = 0, nd = 0, p, bad = 0;

				if (data_read_adc_ts(e->path, DATA_GAP_S,
				    DATA_MIN_PIECE_S, &pc, &pl, &fs, &np, &nd,
				    err) != 0) {
					dt_error_prefix(err, "%s:%zu", m->file,
					    e->line);
					goto out;
				}
				c->n_dropped_pieces += nd;
				for (p = 0; p < np; p++) {
					uint16_t *sorted;
					double med;
					char nm[64];

					r.manifest = k;
					r.subject = subj;
					r.activity = act;
					r.session = session_number(e->session,
					    (int)j);
					r.piece = p;
					r.fs = e->fs_hz > 0 ? e->fs_hz : fs[p];
					r.n = pl[p];
					r.adc = pc[p];
					r.relative = false;
					pc[p] = NULL;
					snprintf(nm, sizeof(nm), "[%d]", p);
					r.name = malloc(strlen(e->path) +
					    strlen(nm) + 1);
					r.mv = malloc(r.n * sizeof(float));
					sorted = malloc(r.n * sizeof(uint16_t));
					if (r.name == NULL || r.mv == NULL ||
					    sorted == NULL) {
						free(sorted);
						bad = 1;
						break;
					}
					strcpy(r.name, e->path);
					strcat(r.name, nm);
					memcpy(sorted, r.adc, r.n *
					    sizeof(uint16_t));
					qsort(sorted, r.n, sizeof(uint16_t),
					    cmp_u16);
					med = sorted[r.n / 2];
					wipe_free(sorted, r.n *
					    sizeof(uint16_t));
					for (q = 0; q < r.n; q++)
						r.mv[q] = (float)(((double)
						    r.adc[q] - med) /
						    DATA_ADC_GAIN);
					if (add_rec(c, &cap, &r) != 0) {
						bad = 1;
						break;
					}
				}
				for (p = 0; p < np; p++)
					free(pc[p]);
				free(pc);
				free(pl);
				free(fs);
				if (bad)
					goto nomem;
				continue;
			}
			r.manifest = k;
			r.subject = subj;
			r.activity = act;
			r.session = session_number(e->session, (int)j);
			if (ecg_load_signal_units(e->path, e->format ==
			    DATA_FMT_WFDB ? ECG_FORMAT_WFDB : ECG_FORMAT_CSV,
			    e->fs_hz, e->lead, &r.mv, &r.n, &r.fs, &units,
			    err) != 0) {
				dt_error_prefix(err, "%s:%zu", m->file, e->line);
				goto out;
			}
			r.relative = units == ECG_UNITS_RELATIVE;
			if ((r.name = strdup(e->path)) == NULL ||
			    add_rec(c, &cap, &r) != 0)
				goto nomem;
		}
	}
	*out = c;
	c = NULL;
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "loading recordings: out of memory");
out:
	rec_clear(&r);
	data_corpus_free(c);
	(void)i;
	return rc;
}

/* ------------------------------------------------------------ windows */

void
data_set_free(struct data_set *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_parts; i++)
		wipe_free(s->parts[i].filt, s->parts[i].len * sizeof(float));
	free(s->parts);
	free(s->w);
	free(s);
}

/* DESIGN.md 4.6's gate: >= DATA_ADC_RAIL_MIN samples on a rail; the
 * signal-quality gate: more than sat_max_frac of them. */
static int
rail_saturated(const uint16_t *adc, size_t a, size_t b,
    const struct ecg_prep_params *pp)
{
	double m = DATA_ADC_RAIL_FRAC * DATA_ADC_FULL, lim =
	    pp->id_gate == ECG_GATE_SQI ? pp->sat_max_frac * (double)(b - a) :
	    DATA_ADC_RAIL_MIN - 0.5;
	size_t i, cnt = 0;

	for (i = a; i < b; i++)
		if (adc[i] <= m || adc[i] >= DATA_ADC_FULL - m)
			if ((double)++cnt > lim)
				return 1;
	return 0;
}

static void
zscore(const float *src, int n, float *dst, double *sd_out)
{
	double mean = 0, var = 0, sd;
	int i;

	for (i = 0; i < n; i++)
		mean += src[i];
	mean /= n;
	for (i = 0; i < n; i++)
		var += (src[i] - mean) * (src[i] - mean);
	sd = sqrt(var / n);
	if (sd_out != NULL)
		*sd_out = sd;
	for (i = 0; i < n; i++)
		dst[i] = sd < 1e-8 ? 0.0f : (float)((src[i] - mean) / sd);
}

static int
is_sig_error(enum dt_errc c)
{
	return c == DT_E_SIG_NONFINITE || c == DT_E_SIG_RATE ||
	    c == DT_E_SIG_TOO_SHORT || c == DT_E_SIG_FLAT ||
	    c == DT_E_SIG_CLIPPED;
}

int
data_set_build(const struct data_corpus *c, const struct data_range *rg,
    int n_ranges, const struct ecg_prep_params *pp0, struct data_set **out,
    struct dt_error *err)
{
	struct data_set *s;
	struct ecg_prep_params pp = *pp0;
	struct ecg_windows wq;
	struct dt_error e2;
	size_t wcap = 0;
	float *tmp = NULL;
	int i, rc = -1;

	memset(&wq, 0, sizeof(wq));
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->parts = calloc((size_t)n_ranges + 1, sizeof(*s->parts))) ==
	    NULL || (tmp = malloc(sizeof(float) * (size_t)pp.window)) ==
	    NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	s->c = c;
	s->window = pp.window;
	s->hop = pp.hop;
	s->fs_hz = pp.fs_hz;
	for (i = 0; i < n_ranges; i++) {
		const struct data_range *r = &rg[i];
		const struct data_rec *rec;
		struct data_part *pt;
		double ratio, sd;
		bool clipped = false;
		int k;

		if (r->rec < 0 || r->rec >= c->n_recs) {
			dt_error_set(err, DT_E_INVALID, "range %d: no recording "
			    "%d", i, r->rec);
			goto out;
		}
		rec = &c->recs[r->rec];
		if (r->r0 >= r->r1 || r->r1 > rec->n) {
			dt_error_set(err, DT_E_INVALID, "%s: range %zu..%zu "
			    "outside 0..%zu", rec->name, r->r0, r->r1, rec->n);
			goto out;
		}
		pt = &s->parts[s->n_parts];
		pt->rec = r->rec;
		pt->group = r->group;
		pt->r0 = r->r0;
		pt->r1 = r->r1;
		/* Whole-signal clipping (DESIGN 4.1) fails identity for
		 * every window of an mV recording; adc-ts recordings use the
		 * per-window rail check.  Activity keeps them all. */
		pp.reject_clipped = rec->adc == NULL;
		/* No mV calibration for ADC counts: the rail check replaces
		 * the |x| > sat_abs_mv rule (R waves span 150-1200 counts
		 * between subjects, so no single gain makes it meaningful). */
		pp.sat_abs_mv = rec->adc != NULL || rec->relative ? 1e30 :
		    pp0->sat_abs_mv;
		if (ecg_prep_filter(rec->mv + r->r0, r->r1 - r->r0, rec->fs,
		    &pp, &pt->filt, &pt->len, &e2) != 0) {
			if (e2.code == DT_E_SIG_CLIPPED) {
				clipped = true;
				pp.reject_clipped = false;
				if (ecg_prep_filter(rec->mv + r->r0, r->r1 -
				    r->r0, rec->fs, &pp, &pt->filt, &pt->len,
				    &e2) != 0) {
					if (!is_sig_error(e2.code))
						goto fail2;
					s->n_ranges_failed++;
					continue;
				}
			} else if (is_sig_error(e2.code)) {
				s->n_ranges_failed++;
				continue;
			} else
				goto fail2;
		}
		if (ecg_prep_windows(pt->filt, pt->len, &pp, &wq, &e2) != 0) {
			if (!is_sig_error(e2.code))
				goto fail2;
			wipe_free(pt->filt, pt->len * sizeof(float));
			pt->filt = NULL;
			s->n_ranges_failed++;
			continue;
		}
		ratio = rec->fs / pp.fs_hz;
		for (k = 0; k < wq.n; k++) {
			struct data_win *w;
			size_t st = (size_t)k * (size_t)pp.hop, a, b;

			zscore(pt->filt + st, pp.window, tmp, &sd);
			if (sd < 1e-8) {
				s->n_flat++;
				continue;
			}
			if (s->n == wcap) {
				size_t nc = wcap ? wcap * 2 : 4096;
				struct data_win *nw = realloc(s->w,
				    nc * sizeof(*nw));

				if (nw == NULL) {
					dt_error_set(err, DT_E_NOMEM,
					    "out of memory");
					goto out;
				}
				s->w = nw;
				wcap = nc;
			}
			w = &s->w[s->n++];
			w->part = s->n_parts;
			w->start = (int)st;
			w->group = r->group;
			w->subject = rec->subject;
			w->activity = rec->activity;
			w->hr_bpm = wq.hr_bpm[k];
			w->sqi = wq.sqi[k];
			w->id_ok = wq.id_ok[k] && !clipped;
			if (w->id_ok && rec->adc != NULL) {
				a = r->r0 + (size_t)floor((double)st * ratio);
				b = r->r0 + (size_t)ceil((double)(st +
				    (size_t)pp.window) * ratio);
				if (b > r->r1)
					b = r->r1;
				if (a < b && rail_saturated(rec->adc, a, b,
				    &pp))
					w->id_ok = false;
			}
		}
		ecg_windows_free(&wq);
		s->n_parts++;
	}
	*out = s;
	s = NULL;
	rc = 0;
	goto out;
fail2:
	*err = e2;
out:
	ecg_windows_free(&wq);
	free(tmp);
	data_set_free(s);
	return rc;
}

void
data_set_window(const struct data_set *s, size_t i, float *dst)
{
	const struct data_win *w = &s->w[i];

	zscore(s->parts[w->part].filt + w->start, s->window, dst, NULL);
}

void
data_set_activity_stats(const struct data_set *s, struct data_act_stats *st)
{
	int na = s->c->n_activities, a;
	size_t i;

	memset(st, 0, sizeof(*st) * (size_t)(na + 1));
	for (i = 0; i < s->n; i++) {
		a = s->w[i].activity < 0 ? na : s->w[i].activity;
		st[a].n_windows++;
		st[a].n_id_ok += s->w[i].id_ok;
	}
}

/* -------------------------------------------------------- augmentation */

void
data_noise_free(struct data_noise *nz)
{
	int i;

	if (nz == NULL)
		return;
	for (i = 0; i < nz->n; i++) {
		free(nz->sig[i]);
		free(nz->name[i]);
	}
	free(nz);
}

int
data_noise_load(const char *const *records, int n_records,
    const struct ecg_prep_params *pp0, struct data_noise **out,
    struct dt_error *err)
{
	struct data_noise *nz;
	struct ecg_prep_params pp = *pp0;
	struct ecg_record *r = NULL;
	int i, k, rc = -1;

	pp.reject_clipped = false;
	if ((nz = calloc(1, sizeof(*nz))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	for (i = 0; i < n_records; i++) {
		if (ecg_read_wfdb(records[i], &r, err) != 0)
			goto out;
		for (k = 0; k < r->n_signals; k++) {
			char nm[32];

			if (nz->n == 8) {
				dt_error_set(err, DT_E_INVALID, "%s: more than 8 "
				    "noise signals", records[i]);
				goto out;
			}
			if (ecg_prep_filter(r->samples[k], r->n_samples, r->fs_hz,
			    &pp, &nz->sig[nz->n], &nz->len[nz->n], err) != 0) {
				dt_error_prefix(err, "%s signal %d", records[i],
				    k);
				goto out;
			}
			snprintf(nm, sizeof(nm), ":%d", k);
			if ((nz->name[nz->n] = malloc(strlen(records[i]) +
			    strlen(nm) + 1)) == NULL) {
				nz->n++;
				dt_error_set(err, DT_E_NOMEM, "out of memory");
				goto out;
			}
			strcpy(nz->name[nz->n], records[i]);
			strcat(nz->name[nz->n], nm);
			nz->n++;
		}
		ecg_record_free(r);
		r = NULL;
	}
	if (nz->n == 0) {
		dt_error_set(err, DT_E_INVALID, "no noise records");
		goto out;
	}
	*out = nz;
	nz = NULL;
	rc = 0;
out:
	ecg_record_free(r);
	data_noise_free(nz);
	return rc;
}

void
data_aug_default(struct data_aug *a)
{
	memset(a, 0, sizeof(*a));
	a->scale_lo = 0.8f;
	a->scale_hi = 1.2f;
	a->wander_amp = 0.3f;
	a->wander_hz = 0.5f;
	a->shift_max = 32;
	a->snr_db = 12.0f;
	a->snr_hi = 12.0f;
	a->noise_p = 0.5f;
	a->hum_amp = 0.15f;
	a->stretch_max = 0.08f;
	a->motion_snr_lo = 0.0f;
	a->motion_snr_hi = 20.0f;
}

/* y = one-pole low-pass of x at fc Hz, run forward then backward (zero
 * phase), in place. */
static void
lowpass_zero_phase(float *x, int n, double fc, double fs)
{
	double a = exp(-2 * M_PI * fc / fs), y;
	int i;

	y = x[0];
	for (i = 0; i < n; i++)
		x[i] = (float)(y = (1 - a) * x[i] + a * y);
	y = x[n - 1];
	for (i = n - 1; i >= 0; i--)
		x[i] = (float)(y = (1 - a) * x[i] + a * y);
}

/* y = one-pole high-pass of x at fc Hz, forward then backward, in place. */
static void
highpass_zero_phase(float *x, int n, double fc, double fs)
{
	double a = exp(-2 * M_PI * fc / fs), y = 0, xp;
	int i;

	xp = x[0];
	for (i = 0; i < n; i++) {
		y = a * (y + x[i] - xp);
		xp = x[i];
		x[i] = (float)y;
	}
	xp = x[n - 1];
	y = 0;
	for (i = n - 1; i >= 0; i--) {
		y = a * (y + x[i] - xp);
		xp = x[i];
		x[i] = (float)y;
	}
}

/* Another device's band limits: low-pass and/or high-pass with random
 * corners. */
static void
aug_band(float *x, int n, double fs, struct dt_rng *rng)
{
	if (dt_rng_uniform(rng) < 0.5)
		lowpass_zero_phase(x, n, 15 + 25 * dt_rng_uniform(rng), fs);
	if (dt_rng_uniform(rng) < 0.5)
		highpass_zero_phase(x, n, 0.5 + 3.5 * dt_rng_uniform(rng),
		    fs);
}

/* One pass of band-limited Gaussian noise (one-pole high-pass at hp, two
 * one-pole low-passes at lp, causal: its phase does not matter), started
 * 2 s early so the filters have settled; added to x times gain, or only
 * measured (x NULL).  Returns the noise's sum of squares. */
static double
motion_pass(float *x, int n, double fs, double hp, double lp, double gain,
    struct dt_rng *rng)
{
	double ah = exp(-2 * M_PI * hp / fs), al = exp(-2 * M_PI * lp / fs);
	double xp = 0, yh = 0, y1 = 0, y2 = 0, ss = 0;
	int i, warm = (int)(2 * fs);

	for (i = -warm; i < n; i++) {
		double w = dt_rng_normal(rng);

		yh = ah * (yh + w - xp);
		xp = w;
		y1 = (1 - al) * yh + al * y1;
		y2 = (1 - al) * y1 + al * y2;
		if (i < 0)
			continue;
		ss += y2 * y2;
		if (x != NULL)
			x[i] += (float)(gain * y2);
	}
	return ss;
}

/* Electrode motion at a random band and SNR on a unit-variance window:
 * the same noise twice from one rng state, measured, then added. */
static void
aug_motion(float *x, int n, double fs, const struct data_aug *aug,
    struct dt_rng *rng)
{
	double hp = 0.5 + 1.5 * dt_rng_uniform(rng);
	double lp = 3 + 9 * dt_rng_uniform(rng);
	double snr = aug->motion_snr_lo + (aug->motion_snr_hi -
	    aug->motion_snr_lo) * dt_rng_uniform(rng);
	struct dt_rng again = *rng;
	double ss = motion_pass(NULL, n, fs, hp, lp, 0, &again);

	if (ss <= 1e-12 * n)
		return;
	(void)motion_pass(x, n, fs, hp, lp, pow(10.0, -snr / 20.0) /
	    sqrt(ss / n), rng);
}

/* Reads about W * f samples of src[0..len) from *st on and resamples them
 * linearly to W: the heart rate changes by 1/f. */
static void
aug_stretch(const float *src, size_t len, long st, int W, double f,
    float *dst)
{
	long need = (long)ceil(W * f) + 1;
	int i;

	if (need > (long)len) {
		memcpy(dst, src + st, sizeof(float) * (size_t)W);
		return;
	}
	if (st + need > (long)len)
		st = (long)len - need;
	for (i = 0; i < W; i++) {
		double pos = i * f;
		long k = (long)pos;
		double fr = pos - (double)k;

		dst[i] = (float)(src[st + k] * (1 - fr) + src[st + k + 1] * fr);
	}
}

void
data_set_batch(const struct data_set *s, const size_t *idx, int n,
    const struct data_aug *aug, struct dt_rng *rng, float *x)
{
	int W = s->window, b, i;

	for (b = 0; b < n; b++) {
		const struct data_win *w = &s->w[idx[b]];
		const struct data_part *pt = &s->parts[w->part];
		float *dst = x + (size_t)b * W;
		long st = w->start;
		bool again = false;

		if (aug == NULL) {
			zscore(pt->filt + st, W, dst, NULL);
			continue;
		}
		if (aug->shift && aug->shift_max > 0) {
			long d = (long)(dt_rng_next(rng) %
			    (uint64_t)(2 * aug->shift_max + 1)) - aug->shift_max;

			st += d;
			if (st < 0)
				st = 0;
			if (st > (long)pt->len - W)
				st = (long)pt->len - W;
		}
		if (aug->stretch && aug->stretch_max > 0 &&
		    dt_rng_uniform(rng) < 0.5) {
			aug_stretch(pt->filt, pt->len, st, W, 1 +
			    aug->stretch_max * (2 * dt_rng_uniform(rng) - 1),
			    dst);
			zscore(dst, W, dst, NULL);
		} else
			zscore(pt->filt + st, W, dst, NULL);
		if (aug->band) {
			aug_band(dst, W, s->fs_hz, rng);
			again = true;
		}
		if (aug->hum && dt_rng_uniform(rng) < 0.5) {
			double a = aug->hum_amp * dt_rng_uniform(rng);
			double f = dt_rng_uniform(rng) < 0.5 ? 50 : 60;
			double ph = 2 * M_PI * dt_rng_uniform(rng);

			for (i = 0; i < W; i++)
				dst[i] += (float)(a * sin(2 * M_PI * f * i /
				    s->fs_hz + ph));
			again = true;
		}
		if (aug->wander) {
			double a = aug->wander_amp * dt_rng_uniform(rng);
			double f = 0.05 + (aug->wander_hz - 0.05) *
			    dt_rng_uniform(rng);
			double ph = 2 * M_PI * dt_rng_uniform(rng);

			for (i = 0; i < W; i++)
				dst[i] += (float)(a * sin(2 * M_PI * f * i /
				    s->fs_hz + ph));
			again = true;
		}
		if (aug->motion && dt_rng_uniform(rng) < 0.5) {
			aug_motion(dst, W, s->fs_hz, aug, rng);
			again = true;
		}
		if (aug->noise && aug->nz != NULL && aug->nz->n > 0 &&
		    dt_rng_uniform(rng) < aug->noise_p) {
			int k = (int)(dt_rng_next(rng) % (uint64_t)aug->nz->n);
			size_t off = (size_t)(dt_rng_next(rng) %
			    (uint64_t)(aug->nz->len[k] - (size_t)W));
			const float *ns = aug->nz->sig[k] + off;
			double mean = 0, var = 0, g, snr = aug->snr_db;

			for (i = 0; i < W; i++)
				mean += ns[i];
			mean /= W;
			for (i = 0; i < W; i++)
				var += (ns[i] - mean) * (ns[i] - mean);
			var /= W;
			/* a fixed SNR draws nothing: the same stream as before */
			if (aug->snr_hi > aug->snr_db)
				snr += (aug->snr_hi - aug->snr_db) *
				    dt_rng_uniform(rng);
			/* The window has unit variance: noise sd 10^(-SNR/20). */
			g = var > 1e-12 ? pow(10.0, -snr / 20.0) /
			    sqrt(var) : 0;
			for (i = 0; i < W; i++)
				dst[i] += (float)(g * (ns[i] - mean));
			again = true;
		}
		if (again)
			zscore(dst, W, dst, NULL);
		if (aug->scale) {
			double g = aug->scale_lo + (aug->scale_hi -
			    aug->scale_lo) * dt_rng_uniform(rng);

			for (i = 0; i < W; i++)
				dst[i] = (float)(dst[i] * g);
		}
	}
}

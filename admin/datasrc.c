/*
 * admin/datasrc.c — data sets on the command line, the network over a data
 * set, progress (see datasrc.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "admin/datasrc.h"
#include "nn/net.h"

const char *
admin_data_dir(void)
{
	const char *d = getenv("DT4ECG_DATA");

	return d != NULL && *d ? d : "../shared/data";
}

struct sbuf {
	char *s;
	size_t n, cap;
};

static int
sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0,
		    fmt, ap);
		va_end(ap);
		if (k < 0)
			return -1;
		if (b->s != NULL && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return 0;
		}
		b->cap = (b->cap + (size_t)k + 1) * 2;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			return -1;
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The manifest text of a built-in data set, as scripts/make-manifests.sh
 * writes it (paths relative to the data set's folder). */
static int
builtin(const char *name, const char *dir, struct sbuf *b,
    struct dt_error *err)
{
	static const char *const words[] = { "klud", "ruky", "chodza", "beh",
	    "drepy" };
	static const char *const acts[] = { "rest", "arms", "walk", "run",
	    "squats" };
	char path[4096];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;

	sb_add(b, "path,format,subject,activity,session,fs_hz,lead\n");
	if (strcmp(name, "ecg-id") == 0) {
		if (snprintf(path, sizeof(path), "%s/RECORDS", dir) >=
		    (int)sizeof(path))
			return dt_error_set(err, DT_E_INVALID, "%s: too long",
			    dir);
		if ((f = fopen(path, "r")) == NULL)
			return dt_error_set(err, DT_E_IO, "%s: %s", path,
			    strerror(errno));
		while (getline(&line, &cap, f) != -1) {
			char *p = strchr(line, '/'), *q;

			line[strcspn(line, "\r\n")] = '\0';
			if (p == NULL || strncmp(line, "Person_", 7) != 0 ||
			    (q = strstr(p, "rec_")) == NULL)
				continue;
			sb_add(b, "%s,wfdb,ecgid:%.*s,,%s,,0\n", line,
			    (int)(p - line - 7), line + 7, q + 4);
		}
		free(line);
		fclose(f);
		return 0;
	}
	if (strcmp(name, "ptbxl-lead1") == 0) {
		/* one person per record; lead I in units of sd (z-scored) */
		if (snprintf(path, sizeof(path), "%s/RECORDS", dir) >=
		    (int)sizeof(path))
			return dt_error_set(err, DT_E_INVALID, "%s: too long",
			    dir);
		if ((f = fopen(path, "r")) == NULL)
			return dt_error_set(err, DT_E_IO, "%s: %s", path,
			    strerror(errno));
		while (getline(&line, &cap, f) != -1) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] == '\0' || strspn(line, "0123456789") !=
			    strlen(line))
				continue;
			sb_add(b, "records/%s,wfdb,ptbxl:%s,,1,,0\n", line,
			    line);
		}
		free(line);
		fclose(f);
		return 0;
	}
	/* the same ten people with Ag/AgCl (type 01) and textile (type 03)
	 * electrodes: one subject name for both, the type as the session */
	if (strcmp(name, "ecg-activity") == 0 ||
	    strcmp(name, "ecg-activity-textile") == 0) {
		DIR *d;
		struct dirent *de;
		char **names = NULL;
		size_t n = 0, i;
		int a;

		if (snprintf(path, sizeof(path), "%s/raw", dir) >=
		    (int)sizeof(path))
			return dt_error_set(err, DT_E_INVALID, "%s: too long",
			    dir);
		if ((d = opendir(path)) == NULL)
			return dt_error_set(err, DT_E_IO, "%s: %s", path,
			    strerror(errno));
		while ((de = readdir(d)) != NULL) {
			char **nn;

			if (strlen(de->d_name) < 8 ||
			    strcmp(de->d_name + strlen(de->d_name) - 4,
			    ".csv") != 0)
				continue;
			if ((nn = realloc(names, (n + 1) * sizeof(*nn))) !=
			    NULL)
				names = nn;
			if (nn == NULL ||
			    (names[n] = strdup(de->d_name)) == NULL) {
				closedir(d);
				for (i = 0; i < n; i++)
					free(names[i]);
				free(names);
				return dt_error_set(err, DT_E_NOMEM, "oom");
			}
			n++;
		}
		closedir(d);
		if (n > 0)
			qsort(names, n, sizeof(*names), cmp_str);
		/* subject, then activity in the order rest..squats */
		for (i = 0; i < n; i++) {
			char *u1 = strchr(names[i], '_'), *u2;

			if (u1 == NULL || (u2 = strchr(u1 + 1, '_')) == NULL)
				continue;
			if (i > 0 && strncmp(names[i], names[i - 1],
			    (size_t)(u1 - names[i])) == 0)
				continue;	/* subject done */
			for (a = 0; a < 5; a++) {
				size_t j;

				for (j = i; j < n; j++) {
					char *v1 = strchr(names[j], '_'), *v2;
					size_t wl = strlen(words[a]);

					if (v1 == NULL || (size_t)(v1 -
					    names[j]) != (size_t)(u1 -
					    names[i]) || strncmp(names[j],
					    names[i], (size_t)(u1 -
					    names[i])) != 0)
						break;
					v2 = strchr(v1 + 1, '_');
					if (v2 == NULL ||
					    strncmp(v2 + 1, words[a], wl) != 0 ||
					    strcmp(v2 + 1 + wl, ".csv") != 0)
						continue;
					sb_add(b, "raw/%s,adc-ts,ecgact:%.*s,%s,"
					    "%.*s,,0\n", names[j],
					    (int)(v1 - names[j]), names[j],
					    acts[a], (int)(v2 - v1 - 1), v1 + 1);
				}
			}
		}
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return 0;
	}
	if (strcmp(name, "nstdb") == 0) {
		sb_add(b, "bw,wfdb,nstdb:bw,,1,,0\nma,wfdb,nstdb:ma,,1,,0\n");
		return 0;
	}
	return dt_error_set(err, DT_E_NOTFOUND, "%s: not a built-in data set",
	    name);
}

bool
admin_builtin_name(const char *name)
{
	static const char *const names[] = { "ecg-id", "ecg-activity",
	    "ecg-activity-textile", "ptbxl-lead1", "nstdb" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

int
admin_manifest(const char *name, struct data_manifest **out,
    struct dt_error *err)
{
	struct sbuf b = { 0 };
	char dir[4096], file[4200];
	int rc;

	if (!admin_builtin_name(name))
		return data_manifest_read(name, out, err);
	if (snprintf(dir, sizeof(dir), "%s/%s", admin_data_dir(), name) >=
	    (int)sizeof(dir) || snprintf(file, sizeof(file), "%s/%s.csv", dir,
	    name) >= (int)sizeof(file))
		return dt_error_set(err, DT_E_INVALID, "data folder name too "
		    "long");
	if (builtin(name, dir, &b, err) != 0 || b.s == NULL) {
		free(b.s);
		return -1;
	}
	rc = data_manifest_parse(b.s, b.n, file, out, err);
	free(b.s);
	return rc;
}

int
admin_corpus(char *const *names, int n, char *const *activities,
    int n_activities, struct data_corpus **out, struct dt_error *err)
{
	struct data_manifest **mf;
	int i, rc = -1;

	if ((mf = calloc((size_t)n + 1, sizeof(*mf))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	for (i = 0; i < n; i++)
		if (admin_manifest(names[i], &mf[i], err) != 0)
			goto out;
	rc = data_corpus_load(mf, n, activities, n_activities, out, err);
out:
	for (i = 0; i < n; i++)
		data_manifest_free(mf[i]);
	free(mf);
	return rc;
}

static int
number_key(const char *s)
{
	const char *c = strrchr(s, ':');

	return data_subject_number(c ? c + 1 : s);
}

int
admin_subject_rows(const struct nn_model *m, const struct data_corpus *c,
    int **rows_out, int *n_matched, struct dt_error *err)
{
	const char *js = nn_model_meta(m, "subjects");
	json_t *a = NULL;
	int *rows, i, prefixed = 0, matched = 0;
	size_t k;

	if ((rows = malloc(sizeof(int) * ((size_t)c->n_subjects + 1))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	for (i = 0; i < c->n_subjects; i++)
		rows[i] = -1;
	if (js == NULL || (a = json_loads(js, 0, NULL)) == NULL ||
	    !json_is_array(a) || json_array_size(a) != (size_t)m->n_subjects) {
		json_decref(a);
		free(rows);
		return dt_error_set(err, DT_E_FORMAT, "model: metadata "
		    "'subjects' is not a JSON array of its %d classifier rows",
		    m->n_subjects);
	}
	for (k = 0; k < json_array_size(a); k++) {
		json_t *v = json_array_get(a, k);

		if (json_is_string(v) && strchr(json_string_value(v), ':'))
			prefixed = 1;
	}
	for (k = 0; k < json_array_size(a); k++) {
		json_t *v = json_array_get(a, k);
		char buf[64];
		const char *s;

		if (json_is_integer(v)) {
			snprintf(buf, sizeof(buf), "%lld",
			    (long long)json_integer_value(v));
			s = buf;
		} else if (json_is_string(v))
			s = json_string_value(v);
		else
			continue;
		for (i = 0; i < c->n_subjects; i++) {
			if (strcmp(c->subjects[i], s) == 0 || (!prefixed &&
			    number_key(s) >= 0 &&
			    number_key(c->subjects[i]) == number_key(s))) {
				if (rows[i] < 0)
					matched++;
				rows[i] = (int)k;
			}
		}
	}
	json_decref(a);
	*rows_out = rows;
	*n_matched = matched;
	return 0;
}

float *
admin_classifier(const struct nn_model *m)
{
	const struct nn_tensor *t = nn_model_tensor(m, "id_head.classifier.weight");
	int E = m->hp.embedding_dim, r, j;
	float *w;

	if (t == NULL || (w = malloc(t->numel * sizeof(float))) == NULL)
		return NULL;
	for (r = 0; r < m->n_subjects; r++) {
		double n = 0;

		for (j = 0; j < E; j++)
			n += (double)t->data[r * E + j] * t->data[r * E + j];
		n = sqrt(n) + 1e-12;
		for (j = 0; j < E; j++)
			w[r * E + j] = (float)(t->data[r * E + j] / n);
	}
	return w;
}

double
admin_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void
admin_progress_start(struct admin_progress *p, const char *what)
{
	p->tty = isatty(STDERR_FILENO);
	p->t0 = admin_now();
	p->last = -1;
	p->what = what;
}

void
admin_progress(struct admin_progress *p, size_t done, size_t total)
{
	double t = admin_now(), el = t - p->t0, rate, eta;

	if (p->tty) {
		if (t - p->last < 0.25 && done < total)
			return;
	} else {
		/* plain lines at every 10 % */
		size_t step = total / 10 ? total / 10 : 1;

		if (done % step != 0 && done < total)
			return;
		if (p->last >= 0 && done < total &&
		    (size_t)p->last / step == done / step)
			return;
	}
	rate = el > 0 ? (double)done / el : 0;
	eta = rate > 0 ? (double)(total - done) / rate : 0;
	fprintf(stderr, "%s%s: %zu/%zu (%.0f/s, ETA %.0f s)%s", p->tty ? "\r" :
	    "", p->what, done, total, rate, eta, p->tty ? "\033[K" : "\n");
	p->last = p->tty ? t : (double)done;
}

void
admin_progress_end(struct admin_progress *p)
{
	if (p->tty)
		fputc('\n', stderr);
}

int
admin_run_set(const struct nn_model *m, int batch, const struct data_set *s,
    float *emb, float *act, const char *what, struct dt_error *err)
{
	return admin_run_windows(m, batch, s, NULL, s->n, emb, act, what, err);
}

int
admin_run_windows(const struct nn_model *m, int batch,
    const struct data_set *s, const size_t *which, size_t n, float *emb,
    float *act, const char *what, struct dt_error *err)
{
	struct nn_net *net = NULL;
	struct admin_progress pr;
	float *x = NULL;
	size_t i, done;
	int W = m->hp.window, E = m->hp.embedding_dim, A = m->n_activities, k,
	    rc = -1;

	if (n == 0)
		return 0;
	if (s->window != W)
		return dt_error_set(err, DT_E_INVALID, "data windows of %d, the "
		    "model's are %d", s->window, W);
	if ((x = malloc(sizeof(float) * (size_t)batch * W)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	if (nn_net_create(m, batch, &net, err) != 0)
		goto out;
	admin_progress_start(&pr, what);
	for (done = 0; done < n; done += (size_t)k) {
		k = n - done < (size_t)batch ? (int)(n - done) : batch;
		for (i = 0; i < (size_t)k; i++)
			data_set_window(s, which != NULL ? which[done + i] :
			    done + i, x + i * W);
		if (nn_net_run(net, x, k, emb ? emb + done * E : NULL,
		    act ? act + done * A : NULL, err) != 0)
			goto out;
		if (what != NULL)
			admin_progress(&pr, done + (size_t)k, n);
	}
	if (what != NULL)
		admin_progress_end(&pr);
	rc = 0;
out:
	if (x != NULL)
		explicit_bzero(x, sizeof(float) * (size_t)batch * W);
	free(x);
	nn_net_free(net);
	return rc;
}

int
admin_parse_aug(const char *s, struct data_aug *a)
{
	char buf[256], *tok, *save = NULL;

	a->scale = a->wander = a->shift = a->noise = false;
	a->band = a->hum = a->stretch = a->motion = false;
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if (strcmp(buf, "none") == 0)
		return 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "scale") == 0)
			a->scale = true;
		else if (strcmp(tok, "wander") == 0)
			a->wander = true;
		else if (strcmp(tok, "shift") == 0)
			a->shift = true;
		else if (strcmp(tok, "noise") == 0)
			a->noise = true;
		else if (strcmp(tok, "band") == 0)
			a->band = true;
		else if (strcmp(tok, "hum") == 0)
			a->hum = true;
		else if (strcmp(tok, "stretch") == 0)
			a->stretch = true;
		else if (strcmp(tok, "motion") == 0)
			a->motion = true;
		else if (strcmp(tok, "all") == 0)
			a->scale = a->wander = a->shift = a->noise = a->band =
			    a->hum = a->stretch = true;
		else
			return -1;
	}
	return 0;
}

int
admin_noise_load(const struct ecg_prep_params *pp, struct data_noise **out,
    struct dt_error *err)
{
	char p0[4200], p1[4200];
	const char *recs[2] = { p0, p1 };

	snprintf(p0, sizeof(p0), "%s/nstdb/bw", admin_data_dir());
	snprintf(p1, sizeof(p1), "%s/nstdb/ma", admin_data_dir());
	return data_noise_load(recs, 2, pp, out, err);
}

double
admin_dot(const float *a, const float *b, int n)
{
	double s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

json_t *
admin_jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *
admin_jfrac(size_t k, size_t n)
{
	return n ? json_real((double)k / (double)n) : json_null();
}

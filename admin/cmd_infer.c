/*
 * admin/cmd_infer.c — `dt4ecg-admin infer`: run the network on a recording
 * (preprocessed as DESIGN.md section 4 says) or on already-preprocessed
 * windows, and print one JSON object per window:
 *   {"window": i, "embedding": [...], "activity": {"name": p, ...}, ...}
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "ecg/load.h"
#include "ecg/prep.h"
#include "nn/model.h"
#include "nn/net.h"
#include "pipeline/activity.h"
#include "pipeline/embed.h"

struct infer_opts {
	const char *model;
	const char *input;
	const char *format;
	double fs;
	int signal;
	int batch;
	int threads;
	int no_preprocess;
	int fuse;
	enum nn_precision prec;
};

static const char usage[] =
	    "usage: dt4ecg-admin infer --model FILE --input FILE [--format wfdb|csv]\n"
	    "           [--fs HZ] [--signal N] [--no-preprocess] [--batch N] [--threads N]\n"
	    "           [--fuse] [--precision f32|int8]\n"
	    "  Prints one JSON object per window: its L2-normalised embedding and the\n"
	    "  activity probabilities.  With --no-preprocess, FILE holds one\n"
	    "  preprocessed window per line (`window` comma-separated numbers).\n"
	    "  With --fuse, one JSON object for the whole recording, fused as\n"
	    "  dt4ecgd fuses a request: {\"embedding\": [..] or null when no\n"
	    "  window passes the identity gate, \"activity\": {\"label\",\n"
	    "  \"probability\", \"scores\"}, \"quality\": {\"windows_used\",\n"
	    "  \"windows_rejected\", \"heart_rate_bpm\"}} (calibrated activity;\n"
	    "  label \"unknown\" below the model's activity.unknown_below).\n"
	    "  --precision int8 runs the residual blocks on int8 (the model must\n"
	    "  carry the calibration of `dt4ecg-admin quantize`); f32 by default.\n";

/* --fuse: the recording through the daemon's pipeline, one JSON object. */
static int
infer_fused(const struct nn_model *m, const float *mv, size_t n, double fs,
    int batch, struct dt_error *err)
{
	struct embedder *emb = NULL;
	struct embed_result r = { 0 };
	struct act_calib cal;
	struct dt_error e2 = { 0 };
	json_t *o = NULL, *ej = NULL, *sc = NULL;
	int rc = -1, i, label, top, ran;

	r.embedding = calloc((size_t)m->hp.embedding_dim, sizeof(float));
	r.activity = calloc((size_t)m->n_activities + 1, sizeof(float));
	if (r.embedding == NULL || r.activity == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	if (act_calib_from_model(m, &cal, err) != 0 ||
	    embedder_create(m, batch, &emb, err) != 0)
		goto out;
	ran = embedder_run(emb, mv, n, fs, &r, &e2);
	if (ran != 0 && e2.code != DT_E_SIG_NO_USABLE_WINDOW) {
		*err = e2;
		goto out;
	}
	if (ran == 0) {
		if ((ej = json_array()) == NULL)
			goto oom;
		for (i = 0; i < m->hp.embedding_dim; i++)
			if (json_array_append_new(ej,
			    json_real(r.embedding[i])) != 0)
				goto oom;
	} else
		ej = json_null();
	if ((sc = json_object()) == NULL)
		goto oom;
	for (i = 0; i < m->n_activities; i++)
		if (json_object_set_new(sc, m->activities[i],
		    json_real(r.activity[i])) != 0)
			goto oom;
	label = act_calib_label(&cal, r.activity, m->n_activities);
	top = act_top(r.activity, m->n_activities);
	o = json_pack("{s:o, s:{s:s, s:f, s:o}, s:{s:i, s:i, s:f}}",
	    "embedding", ej, "activity", "label", act_label_name(m, label),
	    "probability", top >= 0 ? (double)r.activity[top] : 0.0,
	    "scores", sc,
	    "quality", "windows_used", r.windows_used, "windows_rejected",
	    r.windows_rejected, "heart_rate_bpm", (double)r.heart_rate_bpm);
	ej = sc = NULL;		/* stolen by json_pack, also on failure */
	if (o == NULL)
		goto oom;
	if (json_dumpf(o, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF) {
		dt_error_set(err, DT_E_IO, "standard output: write error");
		goto out;
	}
	rc = 0;
	goto out;
oom:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	json_decref(o);
	json_decref(ej);
	json_decref(sc);
	if (r.embedding != NULL)
		explicit_bzero(r.embedding, sizeof(float) *
		    (size_t)m->hp.embedding_dim);
	free(r.embedding);
	free(r.activity);
	embedder_free(emb);
	return rc;
}

/*
 * Reads windows, one per line, `window` comma-separated floats each.  Every
 * fault names the file and line.
 */
static int
read_windows(const char *path, int window, float **out, int *n_out,
    struct dt_error *err)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	float *w = NULL;
	int n = 0, alloc = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL)
		return dt_error_set(err, DT_E_IO, "%s: %s", path,
		    strerror(errno));
	while ((len = getline(&line, &cap, f)) != -1) {
		char *p = line, *end;
		int k;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\r' || *p == '\0' || *p == '#')
			continue;
		if (n == alloc) {
			float *nw;

			alloc = alloc ? alloc * 2 : 64;
			if (alloc > (1 << 20) ||
			    (nw = realloc(w, sizeof(float) * (size_t)alloc *
			    window)) == NULL) {
				dt_error_set(err, DT_E_NOMEM,
				    "%s: too many windows", path);
				goto out;
			}
			w = nw;
		}
		for (k = 0; k < window; k++) {
			float v;

			errno = 0;
			v = strtof(p, &end);
			if (end == p || errno == ERANGE || !isfinite(v)) {
				dt_error_set(err, DT_E_FORMAT,
				    "%s:%zu: value %d: not a finite number", path,
				    lineno, k + 1);
				goto out;
			}
			w[(size_t)n * window + k] = v;
			p = end;
			while (*p == ' ' || *p == '\t')
				p++;
			if (k + 1 < window) {
				if (*p != ',') {
					dt_error_set(err, DT_E_FORMAT,
					    "%s:%zu: %d values, the model's "
					    "window is %d", path, lineno, k + 1,
					    window);
					goto out;
				}
				p++;
			}
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '\0') {
			dt_error_set(err, DT_E_FORMAT, "%s:%zu: more than %d "
			    "values (the model's window)", path, lineno,
			    window);
			goto out;
		}
		n++;
	}
	if (ferror(f)) {
		dt_error_set(err, DT_E_IO, "%s: read error", path);
		goto out;
	}
	if (n == 0) {
		dt_error_set(err, DT_E_FORMAT, "%s: no windows", path);
		goto out;
	}
	*out = w;
	*n_out = n;
	w = NULL;
	rc = 0;
out:
	free(line);
	free(w);
	fclose(f);
	return rc;
}

/* Names as JSON strings, escaped once. */
static char **
quoted_names(const struct nn_model *m)
{
	char **q = calloc((size_t)m->n_activities, sizeof(char *));
	int i;

	if (q == NULL)
		return NULL;
	for (i = 0; i < m->n_activities; i++) {
		json_t *s = json_string(m->activities[i]);

		q[i] = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		json_decref(s);
		if (q[i] == NULL) {
			while (i-- > 0)
				free(q[i]);
			free(q);
			return NULL;
		}
	}
	return q;
}

static void
print_window(int index, const float *e, int E, const float *a,
    char *const *names, int A, const struct ecg_windows *wq, int wi)
{
	int j;

	printf("{\"window\": %d, \"embedding\": [", index);
	for (j = 0; j < E; j++)
		printf(j ? ", %.9g" : "%.9g", e[j]);
	printf("], \"activity\": {");
	for (j = 0; j < A; j++)
		printf(j ? ", %s: %.9g" : "%s: %.9g", names[j], a[j]);
	printf("}");
	if (wq != NULL)
		printf(", \"quality\": {\"identity_usable\": %s, "
		    "\"heart_rate_bpm\": %.1f}", wq->id_ok[wi] ? "true" : "false",
		    wq->hr_bpm[wi]);
	printf("}\n");
}

/* --precision (adm_opts' ADM_CALL). */
static int
infer_set(void *vo, int id, const char *arg)
{
	struct infer_opts *o = vo;
	struct dt_error err = { 0 };

	(void)id;
	if (nn_precision_parse(arg, &o->prec, &err) != 0) {
		fprintf(stderr, "dt4ecg-admin infer: --%s\n", err.msg);
		return ADMIN_EXIT_USAGE;
	}
	return -1;
}

#define I struct infer_opts
static const struct adm_opt infer_table[] = {
	ADM_OPT_STR("model", 'm', I, model),
	ADM_OPT_STR("input", 'i', I, input),
	ADM_OPT_STR("format", 'F', I, format),
	ADM_OPT_DBL("fs", 'f', I, fs, 50, 2000,
	    "expected a rate of 50..2000 Hz"),
	ADM_OPT_INT("signal", 's', I, signal, 0, 1000, NULL),
	ADM_OPT_FLAG("no-preprocess", 'P', I, no_preprocess),
	ADM_OPT_FLAG("fuse", 'U', I, fuse),
	ADM_OPT_INT("batch", 'b', I, batch, 1, 4096, NULL),
	ADM_OPT_INT("threads", 't', I, threads, 1, 256, NULL),
	ADM_OPT_CALL("precision", 'p'),
	ADM_OPT_END,
};
#undef I
static const struct adm_options infer_options = { "infer", infer_table,
	infer_set };

int
cmd_infer(struct admin_ctx *ctx, int argc, char **argv)
{
	struct infer_opts o = { .signal = -1, .batch = 64, .threads = 1 };
	struct dt_error err = { 0 };
	struct nn_model *m = NULL;
	struct nn_net *net = NULL;
	struct ecg_windows wq = { 0 };
	enum ecg_format fmt;
	float *windows = NULL, *emb = NULL, *act = NULL, *mv = NULL;
	char **names = NULL;
	size_t n_mv = 0;
	double fs_in = 0;
	int n_win = 0, i, done, rc;

	(void)ctx;
	if ((rc = adm_opts(argc, argv, &infer_options, usage, NULL, &o, 0,
	    0)) >= 0)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	if (o.model == NULL || o.input == NULL) {
		fputs(usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (ecg_format_parse(o.format, &fmt) != 0) {
		fprintf(stderr, "dt4ecg-admin infer: --format %s: expected "
		    "wfdb or csv\n", o.format);
		return ADMIN_EXIT_USAGE;
	}

	if (o.fuse && o.no_preprocess) {
		fprintf(stderr, "dt4ecg-admin infer: --fuse needs a recording, "
		    "not --no-preprocess windows\n");
		return ADMIN_EXIT_USAGE;
	}
	if (nn_model_load(o.model, &m, &err) != 0)
		goto fail;
	nn_set_precision(o.prec);
	if (o.prec != nn_model_precision(m)) {
		dt_error_set(&err, DT_E_UNSUPPORTED, "%s: no int8 calibration "
		    "(metadata %s): run dt4ecg-admin quantize", o.model,
		    NN_INT8_META_KEY);
		goto fail;
	}
	if (o.fuse) {
		nn_set_threads(o.threads);
		if (ecg_load_signal(o.input, fmt, o.fs, o.signal, &mv, &n_mv,
		    &fs_in, &err) != 0 || infer_fused(m, mv, n_mv, fs_in,
		    o.batch, &err) != 0) {
			dt_error_prefix(&err, "%s", o.input);
			goto fail;
		}
		if (fflush(stdout) != 0 || ferror(stdout)) {
			dt_error_set(&err, DT_E_IO, "standard output: write "
			    "error");
			goto fail;
		}
		rc = ADMIN_EXIT_OK;
		goto out;
	}
	if (o.no_preprocess) {
		if (read_windows(o.input, m->hp.window, &windows, &n_win,
		    &err) != 0)
			goto fail;
	} else {
		struct ecg_prep_params pp;

		if (ecg_load_signal(o.input, fmt, o.fs, o.signal, &mv, &n_mv,
		    &fs_in, &err) != 0)
			goto fail;
		if (embed_prep_params(m, &pp, &err) != 0)
			goto fail;
		if (ecg_prep(mv, n_mv, fs_in, &pp, &wq, &err) != 0) {
			dt_error_prefix(&err, "%s", o.input);
			goto fail;
		}
		windows = wq.data;
		n_win = wq.n;
	}
	emb = malloc(sizeof(float) * (size_t)o.batch * m->hp.embedding_dim);
	act = malloc(sizeof(float) * (size_t)o.batch * m->n_activities);
	names = quoted_names(m);
	if (emb == NULL || act == NULL || names == NULL) {
		dt_error_set(&err, DT_E_NOMEM, "out of memory");
		goto fail;
	}
	nn_set_threads(o.threads);
	if (nn_net_create(m, o.batch < n_win ? o.batch : n_win, &net,
	    &err) != 0)
		goto fail;
	for (done = 0; done < n_win; done += nn_net_batch(net)) {
		int k = n_win - done;

		if (k > nn_net_batch(net))
			k = nn_net_batch(net);
		if (nn_net_run(net, windows + (size_t)done * m->hp.window, k,
		    emb, act, &err) != 0)
			goto fail;
		for (i = 0; i < k; i++)
			print_window(done + i,
			    emb + (size_t)i * m->hp.embedding_dim,
			    m->hp.embedding_dim,
			    act + (size_t)i * m->n_activities, names,
			    m->n_activities, o.no_preprocess ? NULL : &wq,
			    done + i);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		dt_error_set(&err, DT_E_IO, "standard output: write error");
		goto fail;
	}
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	fprintf(stderr, "dt4ecg-admin infer: %s\n", err.msg);
out:
	if (names != NULL) {
		for (i = 0; m != NULL && i < m->n_activities; i++)
			free(names[i]);
		free(names);
	}
	if (o.no_preprocess)
		free(windows);
	ecg_windows_free(&wq);
	ecg_samples_free(mv, n_mv);
	free(emb);
	free(act);
	nn_net_free(net);
	nn_model_free(m);
	return rc;
}

/*
 * admin/cmd_evaluate.c — `dt4ecg-admin evaluate`: the protocols of DESIGN.md
 * section 8 on a model, as JSON, with an optional HTML report.
 *
 *   P1  last 20 % of every recording (each part preprocessed alone).
 *       Identity per window (gated windows: argmax of the cosine to the
 *       classifier rows), per test part, per 8 s segment (mean cosine over its
 *       gated windows; a segment without one is a 422), closed-set
 *       verification of windows against the classifier rows; activity per
 *       window (every finite non-flat window) and per 8 s segment (mean
 *       probabilities), confusion, gate pass fraction per activity.
 *       Identity in motion: per activity, the 8 s probes, the fraction
 *       answered (a gated window, not 422), rank-1 of the answered ones and
 *       the window gate pass fraction (JSON, a table on stderr and in the
 *       report).
 *   P2  enrol/probe split of the first data set; template = normalised mean
 *       of the enrolment recording's gated window embeddings; probes = gated
 *       windows, and 8 s segments (normalised mean embedding); cosine scores
 *       of every probe against every template.  EER, FRR at FAR 1 % and
 *       0.1 %, rank-1.
 *   P3  activity on the held-out subjects of fold K, per window and per 8 s
 *       probe, with the confusion matrix.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "admin/contamination.h"
#include "admin/openset.h"
#include "admin/report_summary.h"
#include "admin/datasrc.h"
#include "data/eval.h"
#include "data/split.h"
#include "nn/model.h"
#include "nn/net.h"
#include "pipeline/embed.h"
#include "admin/eval_open.h"
#include "data/protocol.h"

#define SEG_S 8.0

struct ev {
	const struct nn_model *m;
	const struct data_corpus *c;
	struct ecg_prep_params pp;
	int *rows;		/* corpus subject -> classifier row */
	float *cls;		/* normalised classifier rows */
	int batch;
	bool progress;
	bool contaminated_ok;	/* --contaminated */
	json_t *out;
	/* report material, owned */
	float *gen, *imp;
	size_t ng, ni, gcap, icap;
	long *conf;
	const char *conf_what;
	char *motion;		/* P1 8 s probes by activity, a text table */
};

/* Runs the network; emb and act malloc'd (n x E, n x A). */
static int
run(struct ev *e, const struct data_set *s, float **emb, float **act,
    const char *what, struct dt_error *err)
{
	size_t n = s->n ? s->n : 1;

	*emb = malloc(n * sizeof(float) * (size_t)e->m->hp.embedding_dim);
	*act = malloc(n * sizeof(float) * (size_t)e->m->n_activities);
	if (*emb == NULL || *act == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	return admin_run_set(e->m, e->batch, s, *emb, *act,
	    e->progress ? what : NULL, err);
}

static int
build(struct ev *e, const struct data_ranges *r, struct data_set **s,
    struct dt_error *err)
{
	return data_set_build(e->c, r->r, r->n, &e->pp, s, err);
}

/* Confusion matrix and per-activity recall as JSON. */
static json_t *
act_summary(const struct ev *e, const long *cm)
{
	int K = e->m->n_activities, i, j;
	long ok = 0, tot = 0;
	json_t *o = json_object(), *rec = json_object(), *conf = json_array();

	for (i = 0; i < K; i++) {
		json_t *row = json_array();
		long rt = 0;

		for (j = 0; j < K; j++) {
			json_array_append_new(row, json_integer(cm[i * K + j]));
			rt += cm[i * K + j];
		}
		json_array_append_new(conf, row);
		ok += cm[i * K + i];
		tot += rt;
		json_object_set_new(rec, e->m->activities[i], rt ?
		    json_real((double)cm[i * K + i] / (double)rt) : json_null());
	}
	json_object_set_new(o, "acc", admin_jfrac((size_t)ok, (size_t)tot));
	json_object_set_new(o, "n", json_integer(tot));
	json_object_set_new(o, "recall", rec);
	json_object_set_new(o, "confusion", conf);
	return o;
}

/* Identity scores of one embedding against every classifier row. */
static void
cosines(const struct ev *e, const float *emb, float *cos)
{
	int E = e->m->hp.embedding_dim, r;

	for (r = 0; r < e->m->n_subjects; r++)
		cos[r] = (float)admin_dot(emb, e->cls + (size_t)r * E, E);
}

/* 8 s segments of the given ranges: activity and identity per segment. */
static int
segments(struct ev *e, const struct data_ranges *parts, double step_s,
    json_t *dst, const char *key, bool keep_conf, struct dt_error *err)
{
	struct data_ranges seg = { 0 };
	struct data_set *s = NULL;
	float *emb = NULL, *act = NULL, *pm = NULL, *cm = NULL, *cos = NULL;
	int K = e->m->n_activities, R = e->m->n_subjects, i, g = 0, ng, rc = -1;
	long *conf = NULL;
	size_t w, *cnt = NULL, *cnt_id = NULL;
	size_t *ans = NULL, *tot = NULL, *idok = NULL, *idn = NULL,
	    *wn = NULL, *wok = NULL;
	json_t *o = json_object(), *pa = json_object();

	for (i = 0; i < parts->n; i++) {
		const struct data_range *p = &parts->r[i];
		double fs = e->c->recs[p->rec].fs;
		size_t L = (size_t)llround(SEG_S * fs), st =
		    (size_t)llround(step_s * fs), a;

		for (a = p->r0; a + L <= p->r1; a += st)
			if (data_ranges_add(&seg, p->rec, a, a + L, g++) != 0)
				goto nomem;
	}
	ng = g;
	if (ng == 0) {
		rc = 0;
		goto out;
	}
	if (build(e, &seg, &s, err) != 0 || run(e, s, &emb, &act, key,
	    err) != 0)
		goto out;
	if ((pm = calloc((size_t)ng * K, sizeof(float))) == NULL ||
	    (cm = calloc((size_t)ng * R, sizeof(float))) == NULL ||
	    (cos = malloc(sizeof(float) * (size_t)R)) == NULL ||
	    (cnt = calloc((size_t)ng, sizeof(size_t))) == NULL ||
	    (cnt_id = calloc((size_t)ng, sizeof(size_t))) == NULL ||
	    (conf = calloc((size_t)K * K, sizeof(long))) == NULL ||
	    (ans = calloc((size_t)K + 1, sizeof(size_t))) == NULL ||
	    (tot = calloc((size_t)K + 1, sizeof(size_t))) == NULL ||
	    (idok = calloc((size_t)K + 1, sizeof(size_t))) == NULL ||
	    (idn = calloc((size_t)K + 1, sizeof(size_t))) == NULL ||
	    (wn = calloc((size_t)K + 1, sizeof(size_t))) == NULL ||
	    (wok = calloc((size_t)K + 1, sizeof(size_t))) == NULL)
		goto nomem;
	/*
	 * A probe's identity is the argmax over classifier rows of the sum of
	 * its gated windows' cosines: the dot product of the rows with the
	 * sum of the embeddings, so the same argmax as the normalised mean
	 * embedding the daemon fuses (pipeline/embed.c).
	 */
	for (w = 0; w < s->n; w++) {
		const struct data_win *wi = &s->w[w];
		int k, ws = wi->activity >= 0 && wi->activity < K ?
		    wi->activity : K;

		cnt[wi->group]++;
		wn[ws]++;
		wok[ws] += wi->id_ok;
		for (k = 0; k < K; k++)
			pm[(size_t)wi->group * K + k] += act[w * K + k];
		if (wi->id_ok) {
			cosines(e, emb + w * e->m->hp.embedding_dim, cos);
			for (k = 0; k < R; k++)
				cm[(size_t)wi->group * R + k] += cos[k];
			cnt_id[wi->group]++;
		}
	}
	{
		size_t n_seg = 0, n_id = 0, ok_id = 0, n422 = 0;

		for (g = 0; g < ng; g++) {
			const struct data_rec *r = &e->c->recs[seg.r[g].rec];
			int a = r->activity, row = e->rows[r->subject];
			int slot = a >= 0 && a < K ? a : K;

			if (cnt[g] == 0)
				continue;	/* nothing usable at all */
			n_seg++;
			tot[slot]++;
			if (a >= 0 && a < K)
				conf[a * K + data_argmax(pm + (size_t)g * K,
				    K)]++;
			if (cnt_id[g] == 0) {
				n422++;
				continue;
			}
			ans[slot]++;
			if (row >= 0) {
				n_id++;
				idn[slot]++;
				if (data_argmax(cm + (size_t)g * R, R) == row) {
					ok_id++;
					idok[slot]++;
				}
			}
		}
		json_object_set_new(o, "n_segments", json_integer((long)n_seg));
		json_object_set_new(o, "identity_acc", admin_jfrac(ok_id, n_id));
		json_object_set_new(o, "identity_n", json_integer((long)n_id));
		json_object_set_new(o, "identity_422_no_gated_window",
		    json_integer((long)n422));
		if (K > 1) {
			json_object_set_new(o, "activity", act_summary(e, conf));
			for (i = 0; i < K; i++) {
				json_t *x;

				if (tot[i] == 0)
					continue;
				x = json_object();
				json_object_set_new(x, "n", json_integer(
				    (long)tot[i]));
				json_object_set_new(x, "answered_frac",
				    admin_jfrac(ans[i], tot[i]));
				/* rank-1 of the answered probes whose
				 * subject the model knows */
				json_object_set_new(x, "identity_acc",
				    admin_jfrac(idok[i], idn[i]));
				json_object_set_new(x, "identity_n", json_integer(
				    (long)idn[i]));
				json_object_set_new(x, "window_gate_pass_frac",
				    admin_jfrac(wok[i], wn[i]));
				json_object_set_new(x, "n_windows", json_integer(
				    (long)wn[i]));
				json_object_set_new(pa, e->m->activities[i], x);
			}
			json_object_set_new(o, "by_activity", pa);
			pa = NULL;
			if (keep_conf && e->conf == NULL) {
				e->conf = conf;
				e->conf_what = key;
				conf = NULL;
			}
		}
	}
	json_object_set(dst, key, o);
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	json_decref(o);
	json_decref(pa);
	data_ranges_free(&seg);
	data_set_free(s);
	free(emb);
	free(act);
	free(pm);
	free(cm);
	free(cos);
	free(cnt);
	free(cnt_id);
	free(conf);
	free(ans);
	free(tot);
	free(idok);
	free(idn);
	free(wn);
	free(wok);
	return rc;
}

static void
pct(FILE *f, json_t *v)
{
	if (json_is_number(v))
		fprintf(f, " %6.1f %%", 100.0 * json_number_value(v));
	else
		fprintf(f, " %8s", "-");
}

/*
 * Identity in motion: per activity, the 8 s probes (consecutive, and sliding
 * by 1 s), the fraction answered (not 422), rank-1 of the answered ones and
 * the per-window gate pass fraction, as a text table in e->motion.
 */
static void
motion_table(struct ev *e, json_t *ac)
{
	json_t *a = json_object_get(json_object_get(ac, "segment_8s"),
	    "by_activity"), *b = json_object_get(json_object_get(ac,
	    "segment_8s_sliding_1s"), "by_activity");
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int i;

	if (a == NULL || (f = open_memstream(&buf, &len)) == NULL)
		return;
	fprintf(f, "identity in motion, P1 test parts: 8 s probes (answered ="
	    " not 422; rank-1 of the answered)\n"
	    "%-8s %6s %8s %8s | %-6s %8s %8s | %s\n", "activity", "probes",
	    "answered", "rank-1", "slid1s", "answered", "rank-1",
	    "window gate");
	for (i = 0; i < e->m->n_activities; i++) {
		json_t *x = json_object_get(a, e->m->activities[i]),
		    *y = json_object_get(b, e->m->activities[i]);

		if (x == NULL)
			continue;
		fprintf(f, "%-8s %6lld", e->m->activities[i],
		    (long long)json_integer_value(json_object_get(x, "n")));
		pct(f, json_object_get(x, "answered_frac"));
		pct(f, json_object_get(x, "identity_acc"));
		fprintf(f, " | %6lld", (long long)json_integer_value(
		    json_object_get(y, "n")));
		pct(f, json_object_get(y, "answered_frac"));
		pct(f, json_object_get(y, "identity_acc"));
		fprintf(f, " |");
		pct(f, json_object_get(x, "window_gate_pass_frac"));
		fprintf(f, "\n");
	}
	if (fclose(f) != 0) {
		free(buf);
		return;
	}
	free(e->motion);
	e->motion = buf;
}

static json_t *
verif_json(const struct data_verif *v)
{
	json_t *o = json_object();

	json_object_set_new(o, "eer", admin_jnum(v->eer));
	json_object_set_new(o, "threshold_at_eer", admin_jnum(v->eer_threshold));
	json_object_set_new(o, "frr_at_far_1pct", admin_jnum(v->frr_at_far1));
	json_object_set_new(o, "threshold_at_far_1pct", admin_jnum(v->thr_far1));
	json_object_set_new(o, "frr_at_far_0.1pct", admin_jnum(v->frr_at_far01));
	json_object_set_new(o, "threshold_at_far_0.1pct",
	    admin_jnum(v->thr_far01));
	json_object_set_new(o, "n_genuine", json_integer((long)v->n_genuine));
	json_object_set_new(o, "n_impostor", json_integer((long)v->n_impostor));
	return o;
}

static int
eval_p1(struct ev *e, struct dt_error *err)
{
	struct data_ranges test = { 0 };
	struct data_set *s = NULL;
	float *emb = NULL, *act = NULL, *cos = NULL, *pcos = NULL, *gen = NULL,
	    *imp = NULL;
	int K = e->m->n_activities, R = e->m->n_subjects,
	    E = e->m->hp.embedding_dim, d, rc = -1;
	size_t w, ngen = 0, nimp = 0, gc = 0, ic = 0;
	long *conf = NULL;
	json_t *id = json_object(), *ac = json_object();
	size_t all_ok = 0, all_n = 0, part_ok = 0, part_n = 0;

	if (data_split_p1(e->c, 0.8, 0, NULL, NULL, NULL, &test, err) != 0 ||
	    build(e, &test, &s, err) != 0 ||
	    run(e, s, &emb, &act, "evaluate p1 windows", err) != 0)
		goto out;
	if ((cos = malloc(sizeof(float) * (size_t)R)) == NULL ||
	    (pcos = calloc((size_t)e->c->n_recs * R, sizeof(float))) == NULL ||
	    (conf = calloc((size_t)K * K, sizeof(long))) == NULL)
		goto nomem;
	for (d = 0; d < e->c->n_manifests; d++) {
		size_t ok = 0, n = 0, fail = 0, pok = 0, pn = 0, pnone = 0;
		int *pcnt = calloc((size_t)e->c->n_recs, sizeof(int)), i;
		json_t *o;

		if (pcnt == NULL)
			goto nomem;
		memset(pcos, 0, sizeof(float) * (size_t)e->c->n_recs * R);
		for (w = 0; w < s->n; w++) {
			const struct data_win *wi = &s->w[w];
			const struct data_rec *r =
			    &e->c->recs[s->parts[wi->part].rec];
			int row = e->rows[wi->subject], k;

			if (r->manifest != d || row < 0)
				continue;
			if (!wi->id_ok) {
				fail++;
				continue;
			}
			cosines(e, emb + w * E, cos);
			n++;
			ok += data_argmax(cos, R) == row;
			for (k = 0; k < R; k++) {
				pcos[(size_t)s->parts[wi->part].rec * R + k] +=
				    cos[k];
				if (k == row) {
					if (data_push(&gen, &ngen, &gc, cos[k]))
						goto nomem2;
				} else if (data_push(&imp, &nimp, &ic, cos[k]))
					goto nomem2;
			}
			pcnt[s->parts[wi->part].rec]++;
		}
		for (i = 0; i < e->c->n_recs; i++) {
			const struct data_rec *r = &e->c->recs[i];

			if (r->manifest != d || e->rows[r->subject] < 0)
				continue;
			if (pcnt[i] == 0) {
				pnone++;
				continue;
			}
			pn++;
			pok += data_argmax(pcos + (size_t)i * R, R) ==
			    e->rows[r->subject];
		}
		free(pcnt);
		if (n + fail == 0)
			continue;
		o = json_object();
		json_object_set_new(o, "acc_window", admin_jfrac(ok, n));
		json_object_set_new(o, "n_windows", json_integer((long)n));
		json_object_set_new(o, "n_windows_failing_gate",
		    json_integer((long)fail));
		json_object_set_new(o, "acc_test_part", admin_jfrac(pok, pn));
		json_object_set_new(o, "n_test_parts", json_integer((long)pn));
		json_object_set_new(o, "n_test_parts_without_gated_window",
		    json_integer((long)pnone));
		json_object_set_new(id, e->c->manifests[d], o);
		all_ok += ok;
		all_n += n;
		part_ok += pok;
		part_n += pn;
		continue;
nomem2:
		free(pcnt);
		goto nomem;
	}
	json_object_set_new(e->out, "identity_acc_window", admin_jfrac(all_ok, all_n));
	json_object_set_new(e->out, "identity_acc_test_part",
	    admin_jfrac(part_ok, part_n));
	json_object_set_new(e->out, "identity", id);
	id = NULL;
	if (ngen > 0 && nimp > 0) {
		struct data_verif v;

		if (data_verif_metrics(gen, ngen, imp, nimp, &v, err) != 0)
			goto out;
		json_object_set_new(e->out, "verification_window_vs_classifier",
		    verif_json(&v));
		e->gen = gen;
		e->imp = imp;
		e->ng = ngen;
		e->ni = nimp;
		gen = imp = NULL;
	}
	if (K > 1) {
		struct data_act_stats *st = calloc((size_t)K + 1, sizeof(*st));
		json_t *gp = json_object();
		size_t has = 0;
		int k;

		if (st == NULL)
			goto nomem;
		has = data_confusion_add(s, act, K, conf);
		data_set_activity_stats(s, st);
		for (k = 0; k < K && k < e->c->n_activities; k++)
			if (st[k].n_windows)
				json_object_set_new(gp, e->m->activities[k],
				    json_real((double)st[k].n_id_ok /
				    (double)st[k].n_windows));
		free(st);
		if (has > 0) {
			json_t *sm = act_summary(e, conf);

			json_object_set(e->out, "activity_acc_window",
			    json_object_get(sm, "acc"));
			json_object_set_new(ac, "window_all", sm);
			json_object_set_new(ac, "identity_gate_pass_frac", gp);
			if (e->conf == NULL) {
				e->conf = conf;
				e->conf_what = "P1 test windows";
				conf = NULL;
			}
		} else
			json_decref(gp);
	}
	/* 8 s segments from every test part long enough. */
	if (segments(e, &test, SEG_S, ac, "segment_8s", false, err) != 0 ||
	    segments(e, &test, 1.0, ac, "segment_8s_sliding_1s", false,
	    err) != 0)
		goto out;
	{
		json_t *sg = json_object_get(ac, "segment_8s");

		json_object_set(e->out, "identity_acc_segment_8s",
		    json_object_get(sg, "identity_acc"));
		if (json_object_get(sg, "activity") != NULL)
			json_object_set(e->out, "activity_acc_segment_8s",
			    json_object_get(json_object_get(sg, "activity"),
			    "acc"));
		motion_table(e, ac);
	}
	json_object_set_new(e->out, "n_test_windows", json_integer((long)s->n));
	json_object_set_new(e->out, "n_test_ranges_refused",
	    json_integer(s->n_ranges_failed));
	json_object_set_new(e->out, "activity", ac);
	ac = NULL;
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	json_decref(id);
	json_decref(ac);
	data_ranges_free(&test);
	data_set_free(s);
	free(emb);
	free(act);
	free(cos);
	free(pcos);
	free(gen);
	free(imp);
	free(conf);
	return rc;
}

/* Open-set scores: probes (P x E) against templates (T x E)
 * (data/protocol.h), as JSON; KEEP: the scores go to the report. */
static int
open_set(struct ev *e, const float *pe, const int *pid, int P,
    const float *te, const int *tid, int T, json_t **out, bool keep,
    struct dt_error *err)
{
	struct data_open_set os;
	json_t *o;

	if (data_open_set_score(pe, pid, P, te, tid, T,
	    e->m->hp.embedding_dim, &os, err) != 0)
		return -1;
	o = verif_json(&os.v);
	json_object_set_new(o, "rank1", json_real(os.rank1));
	json_object_set_new(o, "n_probes", json_integer(P));
	json_object_set_new(o, "n_enrolled", json_integer(T));
	*out = o;
	if (keep) {
		free(e->gen);
		free(e->imp);
		e->gen = os.gen;
		e->imp = os.imp;
		e->ng = os.n_gen;
		e->ni = os.n_imp;
		os.gen = os.imp = NULL;
	}
	data_open_set_free(&os);
	return 0;
}

static int
eval_p2(struct ev *e, int train_max, struct dt_error *err)
{
	struct data_p2 p2;
	struct data_ranges seg = { 0 };
	struct data_set *se = NULL, *sp = NULL, *ss = NULL;
	float *emb = NULL, *act = NULL, *tmpl = NULL, *pe = NULL;
	int *tid = NULL, *pid = NULL, *cnt = NULL;
	int E = e->m->hp.embedding_dim, T, i, P, g, rc = -1, nrej = 0;
	size_t w;
	json_t *o = NULL;

	memset(&p2, 0, sizeof(p2));
	if (data_split_p2(e->c, 0, train_max, &p2, err) != 0)
		return -1;
	T = p2.n_enrolled;
	if (eval_contamination("P2", json_string_value(json_object_get(
	    e->out, "model")), e->c, e->rows, p2.enrolled, T,
	    e->contaminated_ok, e->out, err) != 0)
		goto out;
	if ((tmpl = calloc((size_t)T * E, sizeof(float))) == NULL ||
	    (tid = malloc(sizeof(int) * (size_t)T)) == NULL ||
	    (cnt = calloc((size_t)e->c->n_subjects, sizeof(int))) == NULL)
		goto nomem;
	for (i = 0; i < T; i++)
		tid[i] = p2.enrolled[i];
	if (build(e, &p2.enroll, &se, err) != 0 ||
	    run(e, se, &emb, &act, "evaluate p2 enrolment", err) != 0)
		goto out;
	/* a subject without a gated window: every window of it */
	if (data_mean_embeddings(se, emb, E, DATA_BY_SUBJECT, tid, T, true,
	    tmpl, NULL, err) != 0)
		goto out;
	free(emb);
	free(act);
	emb = act = NULL;
	/* per-window probes */
	if (build(e, &p2.probe, &sp, err) != 0 ||
	    run(e, sp, &emb, &act, "evaluate p2 probe windows", err) != 0)
		goto out;
	if ((pe = malloc(sizeof(float) * (sp->n + 1) * E)) == NULL ||
	    (pid = malloc(sizeof(int) * (sp->n + 1))) == NULL)
		goto nomem;
	for (P = 0, w = 0; w < sp->n; w++) {
		if (!sp->w[w].id_ok)
			continue;
		memcpy(pe + (size_t)P * E, emb + w * E, sizeof(float) * E);
		pid[P++] = sp->w[w].subject;
	}
	if (open_set(e, pe, pid, P, tmpl, tid, T, &o, false, err) != 0)
		goto out;
	json_object_set_new(e->out, "window", o);
	o = NULL;
	free(emb);
	free(act);
	free(pe);
	free(pid);
	emb = act = pe = NULL;
	pid = NULL;
	/* 8 s probes */
	for (g = 0, i = 0; i < p2.probe.n; i++) {
		const struct data_range *r = &p2.probe.r[i];

		if (data_segments(&seg, r->rec, r->r0, r->r1,
		    (size_t)llround(SEG_S * e->c->recs[r->rec].fs), &g) != 0)
			goto nomem;
	}
	if (build(e, &seg, &ss, err) != 0 ||
	    run(e, ss, &emb, &act, "evaluate p2 8 s probes", err) != 0)
		goto out;
	if ((pe = calloc((size_t)(g + 1) * E, sizeof(float))) == NULL ||
	    (pid = malloc(sizeof(int) * (size_t)(g + 1))) == NULL)
		goto nomem;
	free(cnt);
	if ((cnt = calloc((size_t)g + 1, sizeof(int))) == NULL)
		goto nomem;
	if (data_mean_embeddings(ss, emb, E, DATA_BY_GROUP, NULL, g, false, pe,
	    cnt, err) != 0)
		goto out;
	for (P = 0, i = 0; i < g; i++) {
		if (cnt[i] == 0) {
			nrej++;
			continue;
		}
		memmove(pe + (size_t)P * E, pe + (size_t)i * E,
		    sizeof(float) * E);
		pid[P++] = e->c->recs[seg.r[i].rec].subject;
	}
	if (open_set(e, pe, pid, P, tmpl, tid, T, &o, true, err) != 0)
		goto out;
	json_object_set_new(o, "rejected_segments_no_gated_window",
	    json_integer(nrej));
	json_object_set_new(e->out, "probe_8s", o);
	o = NULL;
	json_object_set_new(e->out, "n_train_subjects",
	    json_integer(p2.n_train_subjects));
	json_object_set_new(e->out, "train_max_subject", json_integer(train_max));
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	json_decref(o);
	data_p2_free(&p2);
	data_ranges_free(&seg);
	data_set_free(se);
	data_set_free(sp);
	data_set_free(ss);
	free(emb);
	free(act);
	free(tmpl);
	free(pe);
	free(tid);
	free(pid);
	free(cnt);
	return rc;
}

static int
eval_p3(struct ev *e, int fold, int n_folds, struct dt_error *err)
{
	struct data_ranges te = { 0 };
	struct data_set *s = NULL;
	bool *rtr = NULL, *rte = NULL;
	int *held = NULL, nh = 0, K = e->m->n_activities, i, rc = -1;
	float *emb = NULL, *act = NULL;
	long *conf = NULL;
	json_t *hj = json_array(), *sm;

	if (K < 2) {
		dt_error_set(err, DT_E_INVALID, "P3: the model has %d activity",
		    K);
		goto out;
	}
	if (data_split_p3(e->c, fold, n_folds, false, &rtr, &rte, &held, &nh,
	    err) != 0)
		goto out;
	for (i = 0; i < nh; i++)
		json_array_append_new(hj, json_string(e->c->subjects[held[i]]));
	for (i = 0; i < e->c->n_recs; i++)
		if (rte[i] && data_ranges_add(&te, i, 0, e->c->recs[i].n, i))
			goto nomem;
	if (build(e, &te, &s, err) != 0 ||
	    run(e, s, &emb, &act, "evaluate p3 windows", err) != 0)
		goto out;
	if ((conf = calloc((size_t)K * K, sizeof(long))) == NULL)
		goto nomem;
	(void)data_confusion_add(s, act, K, conf);
	sm = act_summary(e, conf);
	json_object_set(e->out, "activity_acc_window", json_object_get(sm,
	    "acc"));
	json_object_set_new(e->out, "window", sm);
	json_object_set_new(e->out, "fold", json_integer(fold));
	json_object_set_new(e->out, "held_out_subjects", hj);
	hj = NULL;
	if (segments(e, &te, SEG_S, e->out, "probe_8s", true, err) != 0)
		goto out;
	json_object_set(e->out, "activity_acc_segment_8s", json_object_get(
	    json_object_get(json_object_get(e->out, "probe_8s"), "activity"),
	    "acc"));
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	json_decref(hj);
	data_ranges_free(&te);
	data_set_free(s);
	free(emb);
	free(act);
	free(conf);
	free(rtr);
	free(rte);
	free(held);
	return rc;
}

static const char usage[] =
	    "usage: dt4ecg-admin evaluate --model FILE --protocol PROTOCOL\n"
	    "  PROTOCOL: p1, p2, p3 (DESIGN.md 8), or on people and devices no\n"
	    "  shipped model trains on: p2+ptbxl (P2 with the PTB-XL hold-out as\n"
	    "  impostors), p4 (PTB-XL hold-out, enrol 6 s, probe 4 s),\n"
	    "  xelectrode (enrol Ag/AgCl rest, probe textile 8 s), rest-other\n"
	    "  (activity of resting people on other devices), site (enrol textile\n"
	    "  rest, probe the other textile recordings), adapt (template updates\n"
	    "  between visits at --threshold T (0.7) + --adapt-margin M (0.1)),\n"
	    "  open (the first four;\n"
	    "  data ecg-id, ptbxl-lead1, ecg-activity, ecg-activity-textile)\n"
	    "       dt4ecg-admin evaluate --protocol p3 --model FOLD0 --model FOLD1 ...\n"
	    "           [--fold K] [--folds N] [--data NAME|MANIFEST]...\n"
	    "           [--report DIR [--threshold T]]\n"
	    "           [--json] [--threads N] [--train-max N]\n"
	    "           [--gate hr-sat|sqi] [--contaminated] [--save-metrics]\n"
	    "           [--precision f32|int8]\n"
	    "  DESIGN.md section 8.  --data defaults to what the model was\n"
	    "  trained on (metadata train.data), else ecg-id (p1, p2) or\n"
	    "  ecg-activity (p3).  Built-in names: ecg-id, ecg-activity (under\n"
	    "  $DT4ECG_DATA, default ../shared/data).  Prints JSON on stdout\n"
	    "  (indented unless --json); progress on stderr.  --gate: the\n"
	    "  identity gate (ecg/prep.h); default: the model's\n"
	    "  (prep.id_gate).  Several --model (P3 only): one per fold, each\n"
	    "  on the fold in its metadata; the held-out confusion matrices\n"
	    "  are summed over the folds.  --fold and --folds default to\n"
	    "  the model's (train.fold, train.folds), else 0 and 5; a model\n"
	    "  trained under P3 is refused on another split; P2 on a model\n"
	    "  that trained on probe persons is refused unless --contaminated\n"
	    "  (the result is then marked \"contaminated\").  --save-metrics\n"
	    "  (P2): the open-set figures an operator picks a threshold from\n"
	    "  (EER, FRR and threshold at FAR 1, 0.1, 0.01 %, a DET grid) into\n"
	    "  the model file's metadata (metrics.open_set.p2), for model import,\n"
	    "  model show and dt4ecg-admin threshold.  The report opens with an\n"
	    "  operator summary: FAR and FRR at --threshold T (the site's;\n"
	    "  default dt4ecgd's 0.7), marked on the figures with the EER.\n"
	    "  --precision int8: the network's int8 path (dt4ecg-admin quantize).\n";

/* The data names recorded in the model, when there are any. */
static int
model_data(const struct nn_model *m, char ***names, int *n)
{
	const char *js = nn_model_meta(m, "train.data");
	json_t *a;
	size_t i;

	*n = 0;
	*names = NULL;
	if (js == NULL || (a = json_loads(js, 0, NULL)) == NULL)
		return 0;
	if (json_is_array(a) && json_array_size(a) > 0 &&
	    (*names = calloc(json_array_size(a), sizeof(char *))) != NULL)
		for (i = 0; i < json_array_size(a); i++)
			if (json_is_string(json_array_get(a, i)))
				(*names)[(*n)++] = strdup(json_string_value(
				    json_array_get(a, i)));
	json_decref(a);
	return 0;
}

/* The P3 fold and number of folds a model was trained on, from its
 * metadata (train.fold, train.folds; older models: train.protocol "p3 fold
 * K of N"); -1 and 0 when it does not say. */
static void
model_fold(const struct nn_model *m, int *fold, int *folds)
{
	const char *f = nn_model_meta(m, "train.fold"),
	    *n = nn_model_meta(m, "train.folds"),
	    *p = nn_model_meta(m, "train.protocol");
	int k, nf;

	*fold = -1;
	*folds = 0;
	if (p != NULL && sscanf(p, "p3 fold %d of %d", &k, &nf) == 2 &&
	    k >= 0 && nf >= 2 && k < nf) {
		*fold = k;
		*folds = nf;
	}
	if (f != NULL && sscanf(f, "%d", &k) == 1 && k >= 0)
		*fold = k;
	if (n != NULL && sscanf(n, "%d", &nf) == 1 && nf >= 2)
		*folds = nf;
}

/* What one evaluation needs besides the model. */
struct eopts {
	const char *proto, *gate;
	enum data_protocol pr;	/* proto's */
	char *data[16];
	int nd, fold, folds, threads, train_max;
	bool folds_given;	/* --folds; else the model's (train.folds) */
	struct eo_adapt adapt;	/* --protocol adapt */
	bool contaminated;	/* --contaminated: P2 on training subjects */
	bool save_metrics;	/* --save-metrics: open-set figures to the file */
	double threshold;	/* --threshold: the site's, for the report */
	bool threshold_given;
	char *models[16];	/* --model */
	int nm;
	const char *report;	/* --report DIR */
	int compact;		/* --json */
};

/* Everything one model's evaluation owns; eval_free releases it. */
struct eval_run {
	struct ev e;
	struct nn_model *m;
	struct data_corpus *c;
	char **mdata;
	int nmd;
};

static void
eval_free(struct eval_run *r)
{
	int i;

	json_decref(r->e.out);
	free(r->e.rows);
	free(r->e.cls);
	free(r->e.gen);
	free(r->e.imp);
	free(r->e.conf);
	free(r->e.motion);
	for (i = 0; i < r->nmd; i++)
		free(r->mdata[i]);
	free(r->mdata);
	data_corpus_free(r->c);
	nn_model_free(r->m);
	memset(r, 0, sizeof(*r));
}

/* Evaluates one model under o; the JSON result is in r->e.out. */
static int
eval_model(const struct eopts *o, const char *model, struct eval_run *r,
    struct dt_error *err)
{
	char *data[16];
	unsigned which = 0;
	int nd = o->nd, fold = o->fold, folds = o->folds, matched = 0, i;
	bool from_model = false;
	struct ev *e = &r->e;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < nd; i++)
		data[i] = o->data[i];
	if (nn_model_load(model, &r->m, err) != 0)
		return -1;
	if (nn_model_precision(r->m) != nn_get_precision())
		return dt_error_set(err, DT_E_UNSUPPORTED, "%s: no int8 "
		    "calibration (metadata %s): run dt4ecg-admin quantize",
		    model, NN_INT8_META_KEY);
	if (o->pr == DATA_PROTO_P3) {
		/* the split the model was trained on (retrain --protocol p3):
		 * another fold or number of folds would hold out some of its
		 * training subjects */
		int mfold = -1, mfolds = 0;

		model_fold(r->m, &mfold, &mfolds);
		if (!o->folds_given && mfolds > 0)
			folds = mfolds;
		if (mfolds > 0 && folds != mfolds)
			return dt_error_set(err, DT_E_INVALID, "%s: trained "
			    "on fold %d of %d; --folds %d would test it on "
			    "some of its training subjects", model, mfold,
			    mfolds, folds);
		if (fold < 0)
			fold = mfold >= 0 ? mfold : 0;
		else if (mfold >= 0 && fold != mfold)
			return dt_error_set(err, DT_E_INVALID, "%s: trained "
			    "on fold %d of %d; --fold %d would test it on its "
			    "training subjects", model, mfold, mfolds, fold);
	}
	if (fold >= folds)
		return dt_error_set(err, DT_E_INVALID, "%s: fold %d: the "
		    "folds are 0..%d", model, fold, folds - 1);
	if (nd == 0 && eo_protocol_mask(o->pr) != 0) {
		/* people and devices no shipped model trains on */
		for (i = 0; i < 4; i++)
			data[nd++] = (char *)eo_data_names[i];
	} else if (nd == 0) {
		model_data(r->m, &r->mdata, &r->nmd);
		if (r->nmd > 0 && o->pr != DATA_PROTO_P2) {
			from_model = true;
			for (i = 0; i < r->nmd && i < 16; i++)
				data[nd++] = r->mdata[i];
		} else
			data[nd++] = o->pr == DATA_PROTO_P3 ?
			    "ecg-activity" : "ecg-id";
	}
	if (admin_corpus(data, nd, r->m->activities, r->m->n_activities,
	    &r->c, err) != 0) {
		/* a model whose activities the data do not use (the peer's
		 * "unlabelled"): load with the data's own and map by name */
		struct dt_error e2 = { 0 };

		if (r->m->n_activities > 1 ||
		    admin_corpus(data, nd, NULL, 0, &r->c, &e2) != 0) {
			/* the model records manifests by file name only */
			if (from_model)
				dt_error_prefix(err, "the data the model was "
				    "trained on (metadata train.data; give "
				    "--data)");
			return -1;
		}
	}
	e->m = r->m;
	e->c = r->c;
	e->batch = 64;
	e->progress = true;
	e->contaminated_ok = o->contaminated;
	/* the gate the model was trained with, unless --gate */
	if (embed_prep_params(r->m, &e->pp, err) != 0)
		return -1;
	e->pp.hop = r->m->hp.window / 2;
	if (o->gate != NULL)
		(void)ecg_prep_gate_parse(o->gate, &e->pp.id_gate);
	if (admin_subject_rows(r->m, r->c, &e->rows, &matched, err) != 0)
		return -1;
	if ((e->cls = admin_classifier(r->m)) == NULL ||
	    (e->out = json_object()) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	json_object_set_new(e->out, "protocol", json_string(o->proto));
	json_object_set_new(e->out, "model", json_string(model));
	{
		json_t *a = json_array();

		for (i = 0; i < nd; i++)
			json_array_append_new(a, json_string(data[i]));
		json_object_set_new(e->out, "data", a);
	}
	json_object_set_new(e->out, "identity_gate", json_string(
	    ecg_prep_gate_name(e->pp.id_gate)));
	json_object_set_new(e->out, "n_recordings", json_integer(
	    r->c->n_recs));
	json_object_set_new(e->out, "n_subjects_in_data",
	    json_integer(r->c->n_subjects));
	json_object_set_new(e->out, "n_subjects_matched_to_model",
	    json_integer(matched));
	if (o->pr == DATA_PROTO_P1)
		return eval_p1(e, err);
	if (o->pr == DATA_PROTO_P2)
		return eval_p2(e, o->train_max, err);
	if ((which = eo_protocol_mask(o->pr)) != 0) {
		struct eo_scores sc = { 0 };

		/* the hold-out people these protocols probe must not be among
		 * the model's training subjects */
		if (which & (EO_P2_PTBXL | EO_P4 | EO_REST_OTHER | EO_ADAPT)) {
			int *probes = malloc(sizeof(int) *
			    ((size_t)r->c->n_subjects + 1)), np = 0, rc2;

			if (probes == NULL)
				return dt_error_set(err, DT_E_NOMEM,
				    "out of memory");
			for (i = 0; i < r->c->n_subjects; i++)
				if (data_subject_held_out(r->c->subjects[i]))
					probes[np++] = i;
			rc2 = eval_contamination(o->proto, model, r->c, e->rows,
			    probes, np, o->contaminated, e->out, err);
			free(probes);
			if (rc2 != 0)
				return -1;
		}

		if (eo_evaluate(e->m, e->c, &e->pp, which, e->progress,
		    &o->adapt, e->out, &sc, err) != 0) {
			eo_scores_free(&sc);
			return -1;
		}
		e->gen = sc.gen;	/* for the report */
		e->imp = sc.imp;
		e->ng = sc.ng;
		e->ni = sc.ni;
		return 0;
	}
	json_object_set_new(e->out, "n_folds", json_integer(folds));
	return eval_p3(e, fold, folds, err);
}

/* Adds the K x K confusion matrix at JSON path a.b[.c] of o into sum. */
static int
add_confusion(json_t *o, const char *a, const char *b, const char *c,
    int K, long *sum)
{
	json_t *cm = json_object_get(json_object_get(o, a), b);
	int i, j;

	if (c != NULL)
		cm = json_object_get(cm, c);
	if (!json_is_array(cm) || (int)json_array_size(cm) != K)
		return -1;
	for (i = 0; i < K; i++) {
		json_t *row = json_array_get(cm, i);

		if (!json_is_array(row) || (int)json_array_size(row) != K)
			return -1;
		for (j = 0; j < K; j++)
			sum[i * K + j] += (long)json_integer_value(
			    json_array_get(row, j));
	}
	return 0;
}

/*
 * P3 cross-validation: one model per fold (each knows its fold from its
 * metadata), the held-out subjects' confusion matrices summed over folds.
 * first keeps the first model's run (its activities name the rows).
 */
static int
eval_p3_pooled(const struct eopts *o, char *const *models, int nm,
    struct eval_run *first, json_t **out, long **seg_conf,
    struct dt_error *err)
{
	struct eval_run r;
	json_t *res = NULL, *folds = NULL;
	long *win = NULL, *seg = NULL;
	int K = 0, i, k, rc = -1, fold[16], nf0 = 0;

	memset(&r, 0, sizeof(r));
	if ((res = json_object()) == NULL || (folds = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < nm; i++) {
		struct eval_run *cur = i == 0 ? first : &r;

		if (eval_model(o, models[i], cur, err) != 0) {
			dt_error_prefix(err, "%s", models[i]);
			goto out;
		}
		/* one model per fold, all of the same split */
		fold[i] = (int)json_integer_value(json_object_get(cur->e.out,
		    "fold"));
		k = (int)json_integer_value(json_object_get(cur->e.out,
		    "n_folds"));
		if (i == 0)
			nf0 = k;
		else if (k != nf0) {
			dt_error_set(err, DT_E_INVALID, "%s: fold %d of %d, "
			    "%s: fold %d of %d: not the same split", models[0],
			    fold[0], nf0, models[i], fold[i], k);
			goto out;
		}
		for (k = 0; k < i; k++)
			if (fold[k] == fold[i]) {
				dt_error_set(err, DT_E_INVALID, "%s and %s are "
				    "both fold %d: one model per fold",
				    models[k], models[i], fold[i]);
				goto out;
			}
		if (i == 0) {
			K = first->m->n_activities;
			if ((win = calloc((size_t)K * K, sizeof(long))) ==
			    NULL || (seg = calloc((size_t)K * K,
			    sizeof(long))) == NULL)
				goto nomem;
		} else {
			if (r.m->n_activities != K)
				goto mismatch;
			for (k = 0; k < K; k++)
				if (strcmp(r.m->activities[k],
				    first->m->activities[k]) != 0)
					goto mismatch;
		}
		if (add_confusion(cur->e.out, "window", "confusion", NULL, K,
		    win) != 0 || add_confusion(cur->e.out, "probe_8s",
		    "activity", "confusion", K, seg) != 0) {
			dt_error_set(err, DT_E_INTERNAL, "%s: no confusion "
			    "matrix in the P3 result", models[i]);
			goto out;
		}
		json_array_append(folds, cur->e.out);
		if (i > 0)
			eval_free(&r);
	}
	json_object_set_new(res, "protocol", json_string("p3"));
	json_object_set_new(res, "n_folds_evaluated", json_integer(nm));
	json_object_set_new(res, "n_folds", json_integer(nf0));
	json_object_set_new(res, "window", act_summary(&first->e, win));
	json_object_set_new(res, "probe_8s", act_summary(&first->e, seg));
	json_object_set(res, "activity_acc_window", json_object_get(
	    json_object_get(res, "window"), "acc"));
	json_object_set(res, "activity_acc_segment_8s", json_object_get(
	    json_object_get(res, "probe_8s"), "acc"));
	json_object_set_new(res, "folds", folds);
	folds = NULL;
	*out = res;
	res = NULL;
	*seg_conf = seg;
	seg = NULL;
	rc = 0;
	goto out;
mismatch:
	dt_error_set(err, DT_E_INVALID, "%s: its activities differ from "
	    "those of %s", models[i], models[0]);
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	eval_free(&r);
	json_decref(res);
	json_decref(folds);
	free(win);
	free(seg);
	return rc;
}

/* The options with rules of their own (adm_opts' ADM_CALL). */
static int
ev_set(void *vo, int id, const char *arg)
{
	struct eopts *o = vo;

	switch (id) {
	case 'm':
	case 'd':
		if ((id == 'm' ? o->nm : o->nd) == 16) {
			fprintf(stderr, "dt4ecg-admin evaluate: at most 16 "
			    "--%s\n", id == 'm' ? "model" : "data");
			return ADMIN_EXIT_USAGE;
		}
		if (id == 'm')
			o->models[o->nm++] = (char *)arg;
		else
			o->data[o->nd++] = (char *)arg;
		return -1;
	case 'H':
		if (dt_parse_double(arg, -1, 1, &o->threshold) != 0) {
			fprintf(stderr, "dt4ecg-admin evaluate: --threshold "
			    "%s: -1..1\n", arg);
			return ADMIN_EXIT_USAGE;
		}
		o->threshold_given = true;
		o->adapt.threshold = o->threshold;
		return -1;
	case 'q': {
		enum nn_precision prec;
		struct dt_error err = { 0 };

		if (nn_precision_parse(arg, &prec, &err) != 0) {
			fprintf(stderr, "dt4ecg-admin evaluate: --%s\n",
			    err.msg);
			return ADMIN_EXIT_USAGE;
		}
		nn_set_precision(prec);
		return -1;
	}
	}
	return -1;
}

#define O struct eopts
static const struct adm_opt ev_table[] = {
	ADM_OPT_CALL("model", 'm'),
	ADM_OPT_STR("protocol", 'p', O, proto),
	ADM_OPT_INT("fold", 'k', O, fold, 0, 99, NULL),
	ADM_OPT_INT("folds", 'K', O, folds, 2, 100, NULL),
	ADM_OPT_CALL("data", 'd'),
	ADM_OPT_STR("report", 'r', O, report),
	ADM_OPT_FLAG("json", 'j', O, compact),
	ADM_OPT_INT("threads", 't', O, threads, 1, 256, NULL),
	ADM_OPT_INT("train-max", 'T', O, train_max, 1, 1000000, NULL),
	ADM_OPT_STR("gate", 'g', O, gate),
	ADM_OPT_BOOL("contaminated", 'C', O, contaminated),
	ADM_OPT_BOOL("save-metrics", 'S', O, save_metrics),
	ADM_OPT_CALL("threshold", 'H'),
	ADM_OPT_DBL("adapt-margin", 'M', O, adapt.margin, 0, 1, "0..1"),
	ADM_OPT_CALL("precision", 'q'),
	ADM_OPT_END,
};
#undef O
static const struct adm_options ev_options = { "evaluate", ev_table,
	ev_set };

int
cmd_evaluate(struct admin_ctx *ctx, int argc, char **argv)
{
	struct eopts o;
	struct eval_run run;
	struct dt_error err = { 0 };
	char **models, *dump = NULL, *summary = NULL, title[256];
	const char *report = NULL;
	json_t *result = NULL;
	long *pooled = NULL;
	int nm, compact, rc;
	double t0 = admin_now();

	(void)ctx;
	memset(&o, 0, sizeof(o));
	memset(&run, 0, sizeof(run));
	o.fold = -1;
	o.folds = 0;	/* not given: 5, or the model's */
	o.threads = 1;
	o.train_max = 60;
	o.threshold = 0.7;	/* dt4ecgd's default (etc/dt4ecgd.conf) */
	o.adapt.threshold = o.threshold;
	o.adapt.margin = 0.1;
	o.adapt.cap = 5;
	if ((rc = adm_opts(argc, argv, &ev_options, usage, NULL, &o, 0,
	    0)) >= 0)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	o.folds_given = o.folds != 0;
	if (!o.folds_given)
		o.folds = 5;
	models = o.models;
	nm = o.nm;
	report = o.report;
	compact = o.compact;
	if (o.proto != NULL && (data_protocol_parse(o.proto, &o.pr) != 0 ||
	    o.pr == DATA_PROTO_ALL)) {
		fprintf(stderr, "dt4ecg-admin evaluate: --protocol %s: p1, p2, "
		    "p3, p4, p2+ptbxl, xelectrode, rest-other, site, adapt or open\n",
		    o.proto);
		return ADMIN_EXIT_USAGE;
	}
	if (optind != argc || nm == 0 || o.proto == NULL ||
	    o.threads < 1 || o.threads > 256 ||
	    o.folds < 2 || o.folds > 100 || o.train_max < 1 ||
	    (o.gate != NULL && strcmp(o.gate, "hr-sat") &&
	    strcmp(o.gate, "sqi"))) {
		fputs(usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (nm > 1 && (o.pr != DATA_PROTO_P3 || o.fold >= 0)) {
		fprintf(stderr, "dt4ecg-admin evaluate: several --model only "
		    "with --protocol p3 and without --fold (one model per "
		    "fold, each named by its metadata)\n");
		return ADMIN_EXIT_USAGE;
	}
	if (o.folds_given && o.fold >= o.folds) {
		fprintf(stderr, "dt4ecg-admin evaluate: --fold %d: 0..%d\n",
		    o.fold, o.folds - 1);
		return ADMIN_EXIT_USAGE;
	}
	nn_set_threads(o.threads);
	if (nm == 1) {
		if (eval_model(&o, models[0], &run, &err) != 0)
			goto fail;
		result = json_incref(run.e.out);
	} else if (eval_p3_pooled(&o, models, nm, &run, &result, &pooled,
	    &err) != 0)
		goto fail;
	if (o.save_metrics) {
		json_t *fig;

		if (nm != 1 || (o.pr != DATA_PROTO_P2 &&
		    o.pr != DATA_PROTO_P2_PTBXL && o.pr != DATA_PROTO_P4)) {
			dt_error_set(&err, DT_E_INVALID, "--save-metrics: P2, "
			    "P2+PTB-XL or P4 of one model only");
			goto fail;
		}
		if (json_is_true(json_object_get(result, "contaminated"))) {
			dt_error_set(&err, DT_E_INVALID, "--save-metrics: not "
			    "with contaminated figures");
			goto fail;
		}
		if ((fig = openset_json(run.e.gen, run.e.ng, run.e.imp,
		    run.e.ni, json_object_get(result, "data"), &err)) == NULL)
			goto fail;
		if (o.pr == DATA_PROTO_P4)
			json_object_set_new(fig, "scores", json_string("the "
			    "last 4 s of a PTB-XL hold-out record against the "
			    "templates of the first 6 s (cosine)"));
		else if (o.pr == DATA_PROTO_P2_PTBXL)
			json_object_set_new(fig, "scores", json_string("8 s "
			    "ECG-ID probes and 4 s PTB-XL probes against "
			    "enrolment templates (cosine), impostor pairs of "
			    "PTB-XL only"));
		json_object_set_new(result, "open_set", fig);
		if (openset_save(models[0], o.proto, fig, &err) != 0)
			goto fail;
		fprintf(stderr, "evaluate: open-set figures saved in %s "
		    "(metadata metrics.open_set.%s)\n", models[0], o.proto);
	}
	json_object_set_new(result, "seconds", json_real(admin_now() - t0));
	dump = json_dumps(result, (compact ? JSON_COMPACT : JSON_INDENT(2)) |
	    JSON_REAL_PRECISION(6) | JSON_PRESERVE_ORDER);
	if (dump == NULL) {
		dt_error_set(&err, DT_E_NOMEM, "out of memory");
		goto fail;
	}
	printf("%s\n", dump);
	if (run.e.motion != NULL)
		fputs(run.e.motion, stderr);
	if (report != NULL) {
		struct data_report r;

		memset(&r, 0, sizeof(r));
		if (nm > 1)
			snprintf(title, sizeof(title), "dt4ecg evaluate p3: "
			    "%d folds pooled (%s, ...)", nm, models[0]);
		else
			snprintf(title, sizeof(title), "dt4ecg evaluate %s: "
			    "%s", o.proto, models[0]);
		r.title = title;
		r.summary_json = dump;
		r.gen = run.e.gen;
		r.imp = run.e.imp;
		r.n_gen = run.e.ng;
		r.n_imp = run.e.ni;
		r.n_act = run.m->n_activities;
		r.act_names = run.m->activities;
		r.confusion = pooled != NULL ? pooled : run.e.conf;
		r.curves_json = nn_model_meta(run.m, "train.curves");
		r.notes_title = "Identity in motion";
		r.notes_text = run.e.motion;
		r.threshold = o.threshold;
		r.has_threshold = o.pr != DATA_PROTO_P3;
		r.score_caption = report_score_caption(result);
		if ((summary = report_summary_html(result, run.e.gen,
		    run.e.ng, run.e.imp, run.e.ni, o.threshold,
		    o.threshold_given)) == NULL) {
			dt_error_set(&err, DT_E_NOMEM, "out of memory");
			goto fail;
		}
		r.summary_html = summary;
		if (data_report_write(report, &r, &err) != 0)
			goto fail;
		fprintf(stderr, "evaluate: report in %s/report.html\n", report);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		dt_error_set(&err, DT_E_IO, "standard output: write error");
		goto fail;
	}
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	fprintf(stderr, "dt4ecg-admin evaluate: %s\n", err.msg);
out:
	free(summary);
	free(dump);
	free(pooled);
	json_decref(result);
	eval_free(&run);
	return rc;
}

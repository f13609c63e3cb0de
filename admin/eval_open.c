/*
 * admin/eval_open.c — protocols on people and devices a model never trained
 * on (see eval_open.h).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "admin/datasrc.h"
#include "admin/eval_open.h"
#include "data/eval.h"
#include "data/split.h"
#include "pipeline/activity.h"

#define PROBE_S		8.0	/* a kiosk probe */
#define P4_ENROL_S	6.0	/* PTB-XL: enrol the first 6 s ... */
#define P4_PROBE_S	4.0	/* ... probe the last 4 s */
#define SURE_P		0.9	/* "confidently wrong" */

const char *const eo_data_names[4] = { "ecg-id", "ptbxl-lead1",
    "ecg-activity", "ecg-activity-textile" };

struct ctx {
	const struct nn_model *m;
	const struct data_corpus *c;
	struct ecg_prep_params pp;
	struct act_calib cal;
	bool progress;
	int E, A;
	double thr, margin;	/* adapt */
	int cap;
};

/* Fused evidence per group of ranges (groups 0..n-1). */
struct probes {
	int n, E;
	float *emb;		/* n x E, normalised; zeros without gated window */
	float *act;		/* n x A, mean of calibrated windows */
	int *n_id;		/* windows that passed the identity gate */
	int *n_win;		/* windows */
};

static void
probes_free(struct probes *p)
{
	if (p->emb != NULL)
		explicit_bzero(p->emb, sizeof(float) * (size_t)p->n * p->E);
	free(p->emb);
	free(p->act);
	free(p->n_id);
	free(p->n_win);
	memset(p, 0, sizeof(*p));
}

static int
fuse(const struct ctx *x, const struct data_ranges *r, struct probes *p,
    const char *what, struct dt_error *err)
{
	struct data_set *s = NULL;
	float *emb = NULL, *act = NULL;
	size_t w, n;
	int i, j, rc = -1;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < r->n; i++)
		if (r->r[i].group >= p->n)
			p->n = r->r[i].group + 1;
	p->E = x->E;
	if ((p->emb = calloc((size_t)p->n * x->E + 1, sizeof(float))) == NULL ||
	    (p->act = calloc((size_t)p->n * x->A + 1, sizeof(float))) == NULL ||
	    (p->n_id = calloc((size_t)p->n + 1, sizeof(int))) == NULL ||
	    (p->n_win = calloc((size_t)p->n + 1, sizeof(int))) == NULL)
		goto nomem;
	if (data_set_build(x->c, r->r, r->n, &x->pp, &s, err) != 0)
		goto out;
	n = s->n ? s->n : 1;
	if ((emb = malloc(sizeof(float) * n * (size_t)x->E)) == NULL ||
	    (act = malloc(sizeof(float) * n * (size_t)x->A)) == NULL)
		goto nomem;
	if (admin_run_set(x->m, 64, s, emb, act, x->progress ? what : NULL,
	    err) != 0)
		goto out;
	for (w = 0; w < s->n; w++) {
		int g = s->w[w].group;
		float *a = act + w * (size_t)x->A;

		if (g < 0 || g >= p->n)
			continue;
		act_calib_apply(&x->cal, a, x->A);
		for (j = 0; j < x->A; j++)
			p->act[(size_t)g * x->A + j] += a[j];
		p->n_win[g]++;
		if (!s->w[w].id_ok)
			continue;
		for (j = 0; j < x->E; j++)
			p->emb[(size_t)g * x->E + j] += emb[w * x->E + j];
		p->n_id[g]++;
	}
	for (i = 0; i < p->n; i++) {
		double nn = 0;
		float *e = p->emb + (size_t)i * x->E;

		for (j = 0; j < x->E; j++)
			nn += (double)e[j] * e[j];
		nn = sqrt(nn);
		for (j = 0; j < x->E && nn > 0; j++)
			e[j] = (float)(e[j] / nn);
		for (j = 0; j < x->A && p->n_win[i] > 0; j++)
			p->act[(size_t)i * x->A + j] /= (float)p->n_win[i];
	}
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	if (emb != NULL)
		explicit_bzero(emb, sizeof(float) * (s ? s->n : 0) *
		    (size_t)x->E);
	free(emb);
	free(act);
	data_set_free(s);
	if (rc != 0)
		probes_free(p);
	return rc;
}

/*
 * Verification and rank-1 of probes (pid: identity; answered probes only)
 * against templates (tid).  Genuine pairs of a probe with gen_counts[p]
 * false are left out (same-session pairs in P2+PTB-XL); rank-1 is over the
 * probes whose genuine pairs count.
 */
static int
verify(const struct ctx *x, const struct probes *pr, const int *pid,
    const bool *gen_counts, const struct probes *tp, const int *tid,
    json_t *o, struct eo_scores *keep, struct dt_error *err)
{
	float *gen = NULL, *imp = NULL;
	size_t ng = 0, ni = 0, gc = 0, ic = 0, n_r1 = 0, ok_r1 = 0, n_ans = 0;
	struct data_verif v;
	int p, t;

	for (p = 0; p < pr->n; p++) {
		int best = -1;
		double bs = -2;

		if (pr->n_id[p] == 0)
			continue;
		n_ans++;
		for (t = 0; t < tp->n; t++) {
			double sc;

			if (tp->n_id[t] == 0)
				continue;
			sc = admin_dot(pr->emb + (size_t)p * x->E, tp->emb +
			    (size_t)t * x->E, x->E);
			if (sc > bs) {
				bs = sc;
				best = t;
			}
			if (pid[p] == tid[t]) {
				if (gen_counts[p] && data_push(&gen, &ng, &gc,
				    (float)sc) != 0)
					goto nomem;
			} else if (data_push(&imp, &ni, &ic, (float)sc) != 0)
				goto nomem;
		}
		if (gen_counts[p] && best >= 0) {
			n_r1++;
			ok_r1 += tid[best] == pid[p];
		}
	}
	if (data_verif_metrics(gen, ng, imp, ni, &v, err) != 0)
		goto fail;
	json_object_set_new(o, "eer", admin_jnum(v.eer));
	json_object_set_new(o, "threshold_at_eer", admin_jnum(v.eer_threshold));
	json_object_set_new(o, "frr_at_far_1pct", admin_jnum(v.frr_at_far1));
	json_object_set_new(o, "threshold_at_far_1pct", admin_jnum(v.thr_far1));
	json_object_set_new(o, "frr_at_far_0.1pct", admin_jnum(v.frr_at_far01));
	json_object_set_new(o, "threshold_at_far_0.1pct", admin_jnum(v.thr_far01));
	json_object_set_new(o, "n_genuine", json_integer((json_int_t)ng));
	json_object_set_new(o, "n_impostor", json_integer((json_int_t)ni));
	json_object_set_new(o, "rank1", admin_jfrac(ok_r1, n_r1));
	json_object_set_new(o, "rank1_n", json_integer((json_int_t)n_r1));
	json_object_set_new(o, "n_probes", json_integer(pr->n));
	json_object_set_new(o, "probes_answered", admin_jfrac(n_ans,
	    (size_t)pr->n));
	json_object_set_new(o, "n_templates", json_integer(tp->n));
	if (keep != NULL) {
		eo_scores_free(keep);
		keep->gen = gen;
		keep->imp = imp;
		keep->ng = ng;
		keep->ni = ni;
		gen = imp = NULL;
	}
	free(gen);
	free(imp);
	return 0;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
fail:
	free(gen);
	free(imp);
	return -1;
}

static bool
is_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static const char *
subj(const struct ctx *x, int rec)
{
	return x->c->subjects[x->c->recs[rec].subject];
}

static size_t
samples(const struct ctx *x, int rec, double sec)
{
	return (size_t)llround(sec * x->c->recs[rec].fs);
}

/* PTB-XL hold-out: templates [0, 6 s) and probes [6 s, 10 s), one each. */
static int
ptbxl_ranges(const struct ctx *x, struct data_ranges *tr,
    struct data_ranges *pr, int **ids, int *n)
{
	int i, k = 0;

	*n = 0;
	if ((*ids = malloc(sizeof(int) * ((size_t)x->c->n_recs + 1))) == NULL)
		return -1;
	for (i = 0; i < x->c->n_recs; i++) {
		size_t a = samples(x, i, P4_ENROL_S), b = samples(x, i,
		    P4_ENROL_S + P4_PROBE_S);

		if (!is_prefix(subj(x, i), "ptbxl:") ||
		    !data_subject_held_out(subj(x, i)) || x->c->recs[i].n < b)
			continue;
		if (data_ranges_add(tr, i, 0, a, k) != 0 ||
		    data_ranges_add(pr, i, a, b, k) != 0)
			return -1;
		(*ids)[k++] = x->c->recs[i].subject;
	}
	*n = k;
	return 0;
}

static int
need(const struct ctx *x, const char *prefix, const char *set,
    struct dt_error *err)
{
	int i;

	for (i = 0; i < x->c->n_subjects; i++)
		if (is_prefix(x->c->subjects[i], prefix))
			return 0;
	return dt_error_set(err, DT_E_INVALID, "this protocol needs the data "
	    "set %s (--data %s)", set, set);
}

static int
p4(const struct ctx *x, json_t *out, struct eo_scores *keep,
    struct dt_error *err)
{
	struct data_ranges tr = { 0 }, pr = { 0 };
	struct probes tp = { 0 }, pp = { 0 };
	int *ids = NULL, n = 0, i, rc = -1;
	bool *cnt = NULL;
	json_t *o = json_object();

	if (need(x, "ptbxl:", "ptbxl-lead1", err) != 0)
		goto out;
	if (ptbxl_ranges(x, &tr, &pr, &ids, &n) != 0 ||
	    (cnt = malloc(sizeof(bool) * ((size_t)n + 1))) == NULL || o == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		cnt[i] = true;
	if (fuse(x, &tr, &tp, "evaluate p4 enrolment (first 6 s)", err) != 0 ||
	    fuse(x, &pr, &pp, "evaluate p4 probes (last 4 s)", err) != 0 ||
	    verify(x, &pp, ids, cnt, &tp, ids, o, keep, err) != 0)
		goto out;
	json_object_set_new(o, "what", json_string("PTB-XL hold-out (records "
	    "divisible by 5), one session: enrolled from the first 6 s, probed "
	    "with the last 4 s"));
	json_object_set(out, "p4", o);
	rc = 0;
out:
	json_decref(o);
	data_ranges_free(&tr);
	data_ranges_free(&pr);
	probes_free(&tp);
	probes_free(&pp);
	free(ids);
	free(cnt);
	return rc;
}

static int
p2_ptbxl(const struct ctx *x, json_t *out, struct eo_scores *keep,
    struct dt_error *err)
{
	struct data_p2 p2;
	struct data_ranges tr = { 0 }, seg = { 0 }, ptr = { 0 }, ppr = { 0 };
	struct probes tp = { 0 }, pp = { 0 };
	int *tid = NULL, *pid = NULL, *pids = NULL, n_pt = 0, manifest = -1;
	int i, g = 0, rc = -1, n_ecg_probes;
	bool *cnt = NULL;
	json_t *o = json_object();

	memset(&p2, 0, sizeof(p2));
	if (need(x, "ecgid:", "ecg-id", err) != 0 ||
	    need(x, "ptbxl:", "ptbxl-lead1", err) != 0)
		goto out;
	for (i = 0; i < x->c->n_recs && manifest < 0; i++)
		if (is_prefix(subj(x, i), "ecgid:"))
			manifest = x->c->recs[i].manifest;
	if (data_split_p2(x->c, manifest, 60, &p2, err) != 0)
		goto out;
	/* templates: the enrolled ECG-ID persons (group = template index),
	 * then the PTB-XL hold-out's first 6 s */
	for (i = 0; i < p2.enroll.n; i++) {
		const struct data_range *r = &p2.enroll.r[i];
		int t;

		for (t = 0; t < p2.n_enrolled; t++)
			if (p2.enrolled[t] == r->group)
				break;
		if (data_ranges_add(&tr, r->rec, r->r0, r->r1, t) != 0)
			goto nomem;
	}
	for (i = 0; i < p2.probe.n; i++) {
		const struct data_range *r = &p2.probe.r[i];

		if (data_segments(&seg, r->rec, r->r0, r->r1, samples(x,
		    r->rec, PROBE_S), &g) != 0)
			goto nomem;
	}
	n_ecg_probes = seg.n;
	if (ptbxl_ranges(x, &ptr, &ppr, &pids, &n_pt) != 0)
		goto nomem;
	for (i = 0; i < ptr.n; i++)
		if (data_ranges_add(&tr, ptr.r[i].rec, ptr.r[i].r0,
		    ptr.r[i].r1, p2.n_enrolled + i) != 0)
			goto nomem;
	for (i = 0; i < ppr.n; i++)
		if (data_ranges_add(&seg, ppr.r[i].rec, ppr.r[i].r0,
		    ppr.r[i].r1, n_ecg_probes + i) != 0)
			goto nomem;
	if ((tid = malloc(sizeof(int) * ((size_t)tr.n + 1))) == NULL ||
	    (pid = malloc(sizeof(int) * ((size_t)seg.n + 1))) == NULL ||
	    (cnt = malloc(sizeof(bool) * ((size_t)seg.n + 1))) == NULL ||
	    o == NULL)
		goto nomem;
	for (i = 0; i < p2.n_enrolled; i++)
		tid[i] = p2.enrolled[i];
	for (i = 0; i < n_pt; i++)
		tid[p2.n_enrolled + i] = pids[i];
	for (i = 0; i < seg.n; i++) {
		pid[i] = x->c->recs[seg.r[i].rec].subject;
		cnt[i] = i < n_ecg_probes;
	}
	if (fuse(x, &tr, &tp, "evaluate p2+ptbxl templates", err) != 0 ||
	    fuse(x, &seg, &pp, "evaluate p2+ptbxl probes", err) != 0 ||
	    verify(x, &pp, pid, cnt, &tp, tid, o, keep, err) != 0)
		goto out;
	json_object_set_new(o, "what", json_string("P2 (ECG-ID 61-90 enrolled "
	    "from their lowest-numbered record, 8 s probes of the others) "
	    "with the PTB-XL hold-out as further members and probes: impostor "
	    "pairs only; rank-1 of the ECG-ID probes over every template"));
	json_object_set_new(o, "n_ecgid_probes", json_integer(n_ecg_probes));
	json_object_set_new(o, "n_ptbxl", json_integer(n_pt));
	json_object_set(out, "p2+ptbxl", o);
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	json_decref(o);
	data_p2_free(&p2);
	data_ranges_free(&tr);
	data_ranges_free(&seg);
	data_ranges_free(&ptr);
	data_ranges_free(&ppr);
	probes_free(&tp);
	probes_free(&pp);
	free(tid);
	free(pid);
	free(pids);
	free(cnt);
	return rc;
}

static int
activity_index(const struct nn_model *m, const char *name)
{
	int a;

	for (a = 0; a < m->n_activities; a++)
		if (strcmp(m->activities[a], name) == 0)
			return a;
	return -1;
}

/* e.labelled_as: the fraction of n probes the model called each of its
 * activities (the rest were unknown). */
static int
called_json(const struct ctx *x, const size_t *called, size_t n, json_t *e)
{
	json_t *c = json_object();
	int a;

	if (c == NULL)
		return -1;
	for (a = 0; a < x->A; a++)
		json_object_set_new(c, x->m->activities[a],
		    admin_jfrac(called[a], n));
	json_object_set_new(e, "labelled_as", c);
	return 0;
}

/* Enrol from the rest recording of electrode type `enrol` (1 Ag/AgCl, 3
 * textile), probe with 8 s of every recording of type `probe` but the
 * enrolment recordings themselves. */
static int
wearable(const struct ctx *x, int enrol, int probe, const char *key,
    json_t *out, struct dt_error *err)
{
	struct data_ranges tr = { 0 }, seg = { 0 };
	struct probes tp = { 0 }, pp = { 0 };
	int *tid = NULL, *slot = NULL, *amap = NULL, n_t = 0, i, g = 0, rc = -1;
	int rest = -1, K = x->c->n_activities, k, has_act = 0;
	size_t *n = NULL, *ans = NULL, *ok = NULL, *aok = NULL, *unk = NULL;
	size_t *called = NULL;	/* K x A: what each activity was called */
	json_t *o = json_object(), *by = json_object();

	if (need(x, "ecgact:", "ecg-activity", err) != 0)
		goto out;
	/* the data's activities; the model's labels are mapped by name */
	for (k = 0; k < K; k++)
		if (strcmp(x->c->activities[k], "rest") == 0)
			rest = k;
	if (rest < 0) {
		dt_error_set(err, DT_E_INVALID, "cross-electrode: the data have "
		    "no activity named rest");
		goto out;
	}
	if ((amap = malloc(sizeof(int) * ((size_t)x->A + 1))) == NULL)
		goto nomem;
	for (k = 0; k < x->A; k++) {
		amap[k] = -1;
		for (i = 0; i < K; i++)
			if (strcmp(x->m->activities[k], x->c->activities[i]) ==
			    0) {
				amap[k] = i;
				has_act = 1;
			}
	}
	if ((slot = malloc(sizeof(int) * ((size_t)x->c->n_subjects + 1))) ==
	    NULL || (tid = malloc(sizeof(int) * ((size_t)x->c->n_subjects +
	    1))) == NULL || o == NULL || by == NULL)
		goto nomem;
	for (i = 0; i < x->c->n_subjects; i++)
		slot[i] = -1;
	for (i = 0; i < x->c->n_recs; i++) {
		const struct data_rec *r = &x->c->recs[i];

		if (!is_prefix(subj(x, i), "ecgact:") || r->session != enrol ||
		    r->activity != rest)
			continue;
		if (slot[r->subject] < 0) {
			slot[r->subject] = n_t;
			tid[n_t++] = r->subject;
		}
		if (data_ranges_add(&tr, i, 0, r->n, slot[r->subject]) != 0)
			goto nomem;
	}
	for (i = 0; i < x->c->n_recs; i++) {
		const struct data_rec *r = &x->c->recs[i];

		if (!is_prefix(subj(x, i), "ecgact:") || r->session != probe ||
		    (enrol == probe && r->activity == rest))
			continue;
		if (data_segments(&seg, i, 0, r->n, samples(x, i, PROBE_S),
		    &g) != 0)
			goto nomem;
	}
	if (n_t < 2 || seg.n == 0) {
		dt_error_set(err, DT_E_INVALID, "cross-electrode: %d Ag/AgCl "
		    "rest templates and %d textile probes (needs --data "
		    "ecg-activity --data ecg-activity-textile)", n_t, seg.n);
		goto out;
	}
	if ((n = calloc((size_t)K, sizeof(size_t))) == NULL ||
	    (ans = calloc((size_t)K, sizeof(size_t))) == NULL ||
	    (ok = calloc((size_t)K, sizeof(size_t))) == NULL ||
	    (aok = calloc((size_t)K, sizeof(size_t))) == NULL ||
	    (unk = calloc((size_t)K, sizeof(size_t))) == NULL ||
	    (called = calloc((size_t)K * x->A + 1, sizeof(size_t))) == NULL)
		goto nomem;
	if (fuse(x, &tr, &tp, "evaluate xelectrode templates (Ag/AgCl rest)",
	    err) != 0 || fuse(x, &seg, &pp, "evaluate xelectrode probes "
	    "(textile, 8 s)", err) != 0)
		goto out;
	for (i = 0; i < seg.n; i++) {
		const struct data_rec *r = &x->c->recs[seg.r[i].rec];
		int a = r->activity, best = -1, t, label;
		double bs = -2;

		if (a < 0 || a >= K || pp.n_win[i] == 0)
			continue;
		n[a]++;
		label = act_calib_label(&x->cal, pp.act + (size_t)i * x->A,
		    x->A);
		aok[a] += label >= 0 && amap[label] == a;
		unk[a] += label < 0;
		if (label >= 0)
			called[(size_t)a * x->A + label]++;
		if (pp.n_id[i] == 0)
			continue;
		ans[a]++;
		for (t = 0; t < tp.n; t++) {
			double sc = admin_dot(pp.emb + (size_t)i * x->E, tp.emb +
			    (size_t)t * x->E, x->E);

			if (tp.n_id[t] > 0 && sc > bs) {
				bs = sc;
				best = t;
			}
		}
		ok[a] += best >= 0 && tid[best] == r->subject;
	}
	{
		size_t tn = 0, ta = 0, tok = 0, taok = 0;

		for (k = 0; k < K; k++) {
			json_t *e = json_object();

			if (n[k] == 0) {
				json_decref(e);
				continue;
			}
			json_object_set_new(e, "n_probes", json_integer(
			    (json_int_t)n[k]));
			json_object_set_new(e, "answered", admin_jfrac(ans[k], n[k]));
			json_object_set_new(e, "rank1", admin_jfrac(ok[k], ans[k]));
			if (has_act) {
				json_object_set_new(e, "activity_acc",
				    admin_jfrac(aok[k], n[k]));
				json_object_set_new(e, "activity_unknown",
				    admin_jfrac(unk[k], n[k]));
				if (called_json(x, called + (size_t)k * x->A,
				    n[k], e) != 0)
					goto nomem;
			}
			json_object_set_new(by, x->c->activities[k], e);
			tn += n[k];
			ta += ans[k];
			tok += ok[k];
			taok += aok[k];
		}
		json_object_set_new(o, "n_probes", json_integer((json_int_t)tn));
		json_object_set_new(o, "answered", admin_jfrac(ta, tn));
		json_object_set_new(o, "rank1", admin_jfrac(tok, ta));
		if (has_act)
			json_object_set_new(o, "activity_acc", admin_jfrac(taok, tn));
	}
	json_object_set_new(o, "n_templates", json_integer(n_t));
	json_object_set_new(o, "what", json_string(enrol != probe ?
	    "enrolled from the Ag/AgCl rest recording, probed with 8 s "
	    "segments of the textile recordings; activity per 8 s probe "
	    "(unknown counts as wrong)" : "enrolled from the textile rest "
	    "recording, probed with 8 s segments of the other textile "
	    "recordings (a site whose kiosks have textile electrodes)"));
	json_object_set(o, "by_activity", by);
	json_object_set(out, key, o);
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	json_decref(o);
	json_decref(by);
	data_ranges_free(&tr);
	data_ranges_free(&seg);
	probes_free(&tp);
	probes_free(&pp);
	free(tid);
	free(slot);
	free(amap);
	free(n);
	free(ans);
	free(ok);
	free(aok);
	free(unk);
	free(called);
	return rc;
}

/* Resting people on other devices: 8 s of ECG-ID 61-90 and the PTB-XL
 * hold-out. */
static int
rest_other(const struct ctx *x, json_t *out, bool alone, struct dt_error *err)
{
	static const char *const src[2] = { "ecgid:", "ptbxl:" };
	static const char *const key[2] = { "ecg-id 61-90", "ptbxl hold-out" };
	int rest = activity_index(x->m, "rest"), K = x->m->n_activities, s, i;
	int rc = -1;
	json_t *o = json_object();
	size_t T[4] = { 0 };	/* pooled n, rest, unknown, wrong >= 0.9 */

	if (rest < 0 || K < 1) {
		if (alone)
			return dt_error_set(err, DT_E_INVALID, "activity at "
			    "rest: the model has no activity named rest");
		json_object_set_new(out, "rest-other", json_pack("{s:s}",
		    "skipped", "the model has no activity named rest"));
		json_decref(o);
		return 0;
	}
	if (o == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	for (s = 0; s < 2; s++) {
		struct data_ranges seg = { 0 };
		struct probes pp = { 0 };
		size_t n = 0, nr = 0, nu = 0, nw = 0, nw9 = 0;
		int g = 0;
		json_t *e;

		for (i = 0; i < x->c->n_recs; i++) {
			const struct data_rec *r = &x->c->recs[i];
			size_t L = samples(x, i, PROBE_S);

			if (!is_prefix(subj(x, i), src[s]) ||
			    !data_subject_held_out(subj(x, i)))
				continue;
			/* PTB-XL: its first 8 s; ECG-ID: every 8 s */
			if (s == 1 ? r->n >= L && data_ranges_add(&seg, i, 0,
			    L, g++) != 0 : data_segments(&seg, i, 0, r->n, L,
			    &g) != 0) {
				data_ranges_free(&seg);
				json_decref(o);
				return dt_error_set(err, DT_E_NOMEM,
				    "out of memory");
			}
		}
		if (seg.n == 0) {
			data_ranges_free(&seg);
			continue;
		}
		if (fuse(x, &seg, &pp, s == 0 ? "evaluate rest-other ecg-id" :
		    "evaluate rest-other ptbxl", err) != 0) {
			data_ranges_free(&seg);
			goto out;
		}
		for (i = 0; i < pp.n; i++) {
			const float *p = pp.act + (size_t)i * K;
			int label = act_calib_label(&x->cal, p, K),
			    top = act_top(p, K);

			if (pp.n_win[i] == 0)
				continue;
			n++;
			if (label == rest)
				nr++;
			else if (label < 0)
				nu++;
			else {
				nw++;
				nw9 += p[top] >= SURE_P;
			}
		}
		e = json_object();
		json_object_set_new(e, "n_probes", json_integer((json_int_t)n));
		json_object_set_new(e, "rest", admin_jfrac(nr, n));
		json_object_set_new(e, "unknown", admin_jfrac(nu, n));
		json_object_set_new(e, "wrong", admin_jfrac(nw, n));
		json_object_set_new(e, "wrong_p_ge_0.9", admin_jfrac(nw9, n));
		json_object_set_new(o, key[s], e);
		T[0] += n;
		T[1] += nr;
		T[2] += nu;
		T[3] += nw9;
		probes_free(&pp);
		data_ranges_free(&seg);
	}
	if (T[0] == 0) {
		dt_error_set(err, DT_E_INVALID, "activity at rest: no probes "
		    "(needs --data ecg-id or --data ptbxl-lead1)");
		goto out;
	}
	json_object_set_new(o, "rest", admin_jfrac(T[1], T[0]));
	json_object_set_new(o, "unknown", admin_jfrac(T[2], T[0]));
	json_object_set_new(o, "wrong", admin_jfrac(T[0] - T[1] - T[2], T[0]));
	json_object_set_new(o, "wrong_p_ge_0.9", admin_jfrac(T[3], T[0]));
	json_object_set_new(o, "n_probes", json_integer((json_int_t)T[0]));
	json_object_set(out, "rest-other", o);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* Max cosine of e over the templates of each person: out[P]. */
static void
score_people(const float *e, int E, const float *tmpl, const int *owner,
    int n_tmpl, int n_people, float *out)
{
	int t, q;

	for (q = 0; q < n_people; q++)
		out[q] = -2;
	for (t = 0; t < n_tmpl; t++) {
		float sc = (float)admin_dot(e, tmpl + (size_t)t * E, E);

		if (sc > out[owner[t]])
			out[owner[t]] = sc;
	}
}

/*
 * Template updates (issue 12 point 9a): ECG-ID hold-out persons with three or
 * more records are enrolled from their first; the 8 s probes of their second
 * go through 1:N and, when the best score is at least threshold + margin,
 * add their embedding as a template of the member they matched (at most
 * `cap` per member, the oldest added one replaced); then a run of impostor
 * probes (the PTB-XL hold-out) goes through the same rule; the probes of the
 * third and later records are scored with and without the updates.
 */
static int
adapt(const struct ctx *x, double thr, double margin, int cap, json_t *out,
    struct dt_error *err)
{
	struct data_ranges en = { 0 }, up = { 0 }, te = { 0 }, im = { 0 };
	struct probes pe = { 0 }, pu = { 0 }, pt = { 0 }, pi = { 0 };
	int *first = NULL, *person = NULL, *owner = NULL, *added = NULL;
	int *rank = NULL, n_p = 0, i, j, g_u = 0, g_t = 0, g_i = 0, rc = -1;
	int E = x->E, n_tmpl, pass, ok_adds = 0, bad_adds = 0, imp_adds = 0;
	float *tmpl = NULL, *sc = NULL, *gen = NULL, *imp = NULL;
	size_t ng, ni, gcap, icap;
	json_t *o = json_object();

	if (need(x, "ecgid:", "ecg-id", err) != 0)
		goto out;
	if ((first = malloc(sizeof(int) * ((size_t)x->c->n_subjects + 1))) ==
	    NULL || (rank = calloc((size_t)x->c->n_recs + 1, sizeof(int))) ==
	    NULL || o == NULL)
		goto nomem;
	/* rank of each hold-out record among its person's (by session) */
	for (i = 0; i < x->c->n_subjects; i++)
		first[i] = 0;
	for (i = 0; i < x->c->n_recs; i++) {
		const struct data_rec *r = &x->c->recs[i];

		if (!is_prefix(subj(x, i), "ecgid:") ||
		    !data_subject_held_out(subj(x, i)))
			continue;
		for (j = 0; j < x->c->n_recs; j++)
			if (x->c->recs[j].subject == r->subject &&
			    x->c->recs[j].session < r->session)
				rank[i]++;
		if (rank[i] + 1 > first[r->subject])
			first[r->subject] = rank[i] + 1;
	}
	/* people with >= 3 records, numbered 0..n_p-1 */
	if ((person = malloc(sizeof(int) * ((size_t)x->c->n_subjects + 1))) ==
	    NULL)
		goto nomem;
	for (i = 0; i < x->c->n_subjects; i++)
		person[i] = first[i] >= 3 ? n_p++ : -1;
	if (n_p < 2) {
		dt_error_set(err, DT_E_INVALID, "adapt: %d hold-out persons with "
		    "three records", n_p);
		goto out;
	}
	for (i = 0; i < x->c->n_recs; i++) {
		const struct data_rec *r = &x->c->recs[i];
		int q = is_prefix(subj(x, i), "ecgid:") &&
		    data_subject_held_out(subj(x, i)) ? person[r->subject] : -1;

		if (q < 0)
			continue;
		if (rank[i] == 0 ? data_ranges_add(&en, i, 0, r->n, q) != 0 :
		    rank[i] == 1 ? data_segments(&up, i, 0, r->n, samples(x, i,
		    PROBE_S), &g_u) != 0 : data_segments(&te, i, 0, r->n,
		    samples(x, i, PROBE_S), &g_t) != 0)
			goto nomem;
	}
	for (i = 0; i < x->c->n_recs; i++)
		if (is_prefix(subj(x, i), "ptbxl:") &&
		    data_subject_held_out(subj(x, i)) && x->c->recs[i].n >=
		    samples(x, i, PROBE_S) && data_ranges_add(&im, i, 0,
		    samples(x, i, PROBE_S), g_i++) != 0)
			goto nomem;
	if (fuse(x, &en, &pe, "evaluate adapt: enrolment", err) != 0 ||
	    fuse(x, &up, &pu, "evaluate adapt: second records", err) != 0 ||
	    fuse(x, &te, &pt, "evaluate adapt: later records", err) != 0 ||
	    (im.n > 0 && fuse(x, &im, &pi, "evaluate adapt: impostors",
	    err) != 0))
		goto out;
	if ((tmpl = malloc(sizeof(float) * (size_t)E * (size_t)n_p *
	    (size_t)(cap + 1))) == NULL || (owner = malloc(sizeof(int) *
	    (size_t)n_p * (size_t)(cap + 1))) == NULL || (added =
	    calloc((size_t)n_p, sizeof(int))) == NULL || (sc =
	    malloc(sizeof(float) * (size_t)n_p)) == NULL)
		goto nomem;
	for (pass = 0; pass < 2; pass++) {	/* 0: without, 1: with updates */
		json_t *v = json_object();
		struct data_verif vm;
		size_t r1 = 0, r1n = 0;

		n_tmpl = 0;
		for (i = 0; i < n_p; i++) {
			memcpy(tmpl + (size_t)n_tmpl * E, pe.emb + (size_t)i * E,
			    sizeof(float) * E);
			owner[n_tmpl++] = i;
		}
		if (pass == 1) {
			int *slot = malloc(sizeof(int) * (size_t)n_p *
			    (size_t)cap);

			if (slot == NULL) {
				json_decref(v);
				goto nomem;
			}
			for (i = 0; i < pu.n + pi.n; i++) {
				bool impostor = i >= pu.n;
				const struct probes *pp = impostor ? &pi : &pu;
				int k = impostor ? i - pu.n : i, b = 0, q;

				if (pp->n_id[k] == 0)
					continue;
				score_people(pp->emb + (size_t)k * E, E, tmpl,
				    owner, n_tmpl, n_p, sc);
				for (q = 1; q < n_p; q++)
					if (sc[q] > sc[b])
						b = q;
				if (!(sc[b] >= thr + margin))
					continue;
				if (impostor)
					imp_adds++;
				else if (b == person[x->c->recs[
				    up.r[k].rec].subject])
					ok_adds++;
				else
					bad_adds++;
				/* a new template of b, or its oldest added */
				q = added[b] < cap ? n_tmpl++ :
				    slot[b * cap + added[b] % cap];
				if (added[b] < cap)
					slot[b * cap + added[b]] = q;
				added[b]++;
				memcpy(tmpl + (size_t)q * E, pp->emb +
				    (size_t)k * E, sizeof(float) * E);
				owner[q] = b;
			}
			free(slot);
		}
		ng = ni = gcap = icap = 0;
		gen = imp = NULL;
		for (i = 0; i < pt.n; i++) {
			int who = person[x->c->recs[te.r[i].rec].subject], b = 0;

			if (pt.n_id[i] == 0)
				continue;
			score_people(pt.emb + (size_t)i * E, E, tmpl, owner,
			    n_tmpl, n_p, sc);
			for (j = 0; j < n_p; j++) {
				if (sc[j] > sc[b])
					b = j;
				if (j == who ? data_push(&gen, &ng, &gcap, sc[j]) :
				    data_push(&imp, &ni, &icap, sc[j])) {
					json_decref(v);
					goto nomem;
				}
			}
			r1n++;
			r1 += b == who;
		}
		if (data_verif_metrics(gen, ng, imp, ni, &vm, err) != 0) {
			json_decref(v);
			goto out;
		}
		json_object_set_new(v, "eer", admin_jnum(vm.eer));
		json_object_set_new(v, "frr_at_far_1pct", admin_jnum(vm.frr_at_far1));
		json_object_set_new(v, "rank1", admin_jfrac(r1, r1n));
		json_object_set_new(v, "n_genuine", json_integer((json_int_t)ng));
		json_object_set_new(v, "n_impostor", json_integer((json_int_t)ni));
		json_object_set_new(v, "n_templates", json_integer(n_tmpl));
		json_object_set_new(o, pass ? "with_updates" : "without_updates",
		    v);
		free(gen);
		free(imp);
		gen = imp = NULL;
	}
	json_object_set_new(o, "persons", json_integer(n_p));
	json_object_set_new(o, "threshold", json_real(thr));
	json_object_set_new(o, "margin", json_real(margin));
	json_object_set_new(o, "cap_per_member", json_integer(cap));
	json_object_set_new(o, "templates_added_right", json_integer(ok_adds));
	json_object_set_new(o, "templates_added_wrong", json_integer(bad_adds));
	json_object_set_new(o, "impostor_probes", json_integer(pi.n));
	json_object_set_new(o, "templates_added_by_impostors",
	    json_integer(imp_adds));
	json_object_set_new(o, "what", json_string("ECG-ID hold-out persons "
	    "with >= 3 records: enrolled from the first, the second's 8 s probes "
	    "update through 1:N at score >= threshold + margin, then the PTB-XL "
	    "hold-out's 8 s as impostors through the same rule; the later "
	    "records' 8 s probes scored (max over a member's templates)"));
	json_object_set(out, "adapt", o);
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	json_decref(o);
	data_ranges_free(&en);
	data_ranges_free(&up);
	data_ranges_free(&te);
	data_ranges_free(&im);
	probes_free(&pe);
	probes_free(&pu);
	probes_free(&pt);
	probes_free(&pi);
	free(first);
	free(rank);
	free(person);
	free(owner);
	free(added);
	if (tmpl != NULL)
		explicit_bzero(tmpl, sizeof(float) * (size_t)E * (size_t)n_p *
		    (size_t)(cap + 1));
	free(tmpl);
	free(sc);
	free(gen);
	free(imp);
	return rc;
}

unsigned
eo_protocol_mask(enum data_protocol p)
{
	switch (p) {
	case DATA_PROTO_OPEN: return EO_ALL;
	case DATA_PROTO_P2_PTBXL: return EO_P2_PTBXL;
	case DATA_PROTO_P4: return EO_P4;
	case DATA_PROTO_XELECTRODE: return EO_XELECTRODE;
	case DATA_PROTO_REST_OTHER: return EO_REST_OTHER;
	case DATA_PROTO_SITE: return EO_SITE;
	case DATA_PROTO_ADAPT: return EO_ADAPT;
	default: return 0;
	}
}
int
eo_evaluate(const struct nn_model *m, const struct data_corpus *c,
    const struct ecg_prep_params *pp, unsigned which, bool progress,
    const struct eo_adapt *ad, json_t *out, struct eo_scores *keep,
    struct dt_error *err)
{
	struct ctx x;
	struct act_calib cal;

	if (act_calib_from_model(m, &cal, err) != 0)
		return -1;
	x.m = m;
	x.c = c;
	x.pp = *pp;
	x.pp.hop = m->hp.window / 2;	/* as the daemon cuts a request */
	x.cal = cal;
	x.progress = progress;
	x.E = m->hp.embedding_dim;
	x.A = m->n_activities;
	x.thr = ad != NULL ? ad->threshold : 0.7;
	x.margin = ad != NULL ? ad->margin : 0.1;
	x.cap = ad != NULL ? ad->cap : 5;
	json_object_set_new(out, "activity_temperature", json_real(
	    cal.temperature));
	json_object_set_new(out, "activity_unknown_below", json_real(
	    cal.unknown_below));
	if ((which & EO_P2_PTBXL) && p2_ptbxl(&x, out, keep, err) != 0)
		return -1;
	if ((which & EO_P4) && p4(&x, out, (which & EO_P2_PTBXL) ? NULL :
	    keep, err) != 0)
		return -1;
	if ((which & EO_XELECTRODE) && wearable(&x, 1, 3, "xelectrode", out,
	    err) != 0)
		return -1;
	if ((which & EO_SITE) && wearable(&x, 3, 3, "site", out, err) != 0)
		return -1;
	if ((which & EO_ADAPT) && adapt(&x, x.thr, x.margin, x.cap, out,
	    err) != 0)
		return -1;
	if ((which & EO_REST_OTHER) && rest_other(&x, out,
	    which == EO_REST_OTHER, err) != 0)
		return -1;
	return 0;
}

void
eo_scores_free(struct eo_scores *s)
{
	if (s == NULL)
		return;
	free(s->gen);
	free(s->imp);
	memset(s, 0, sizeof(*s));
}

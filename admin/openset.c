/* admin/openset.c — open-set figures in a model's metadata (openset.h). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/openset.h"
#include "data/eval.h"
#include "nn/model.h"

static const double far_targets[] = { 0.01, 0.001, 0.0001 };

void
openset_rates(const float *gen, size_t ng, const float *imp, size_t ni,
    double t, double *far, double *frr)
{
	size_t i, fa = 0, fr = 0;

	for (i = 0; i < ni; i++)
		fa += imp[i] >= t;
	for (i = 0; i < ng; i++)
		fr += gen[i] < t;
	*far = ni ? (double)fa / (double)ni : 0;
	*frr = ng ? (double)fr / (double)ng : 0;
}

static int
cmp_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x < y) - (x > y);
}

int
openset_at_far(const float *gen, size_t ng, const float *imp, size_t ni,
    double target, double *thr, double *frr, bool *measurable,
    struct dt_error *err)
{
	float *s;
	size_t k;
	double far;

	if (ni == 0 || ng == 0)
		return dt_error_set(err, DT_E_INVALID, "no genuine or no "
		    "impostor scores");
	if ((s = malloc(ni * sizeof(*s))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	memcpy(s, imp, ni * sizeof(*s));
	qsort(s, ni, sizeof(*s), cmp_desc);
	k = (size_t)floor(target * (double)ni + 1e-9);
	/* accept at most k impostors: just above the (k+1)-th highest */
	*thr = k < ni ? nextafterf(s[k], INFINITY) : s[ni - 1];
	free(s);
	openset_rates(gen, ng, imp, ni, *thr, &far, frr);
	*measurable = k >= 1;
	return 0;
}

json_t *
openset_json(const float *gen, size_t ng, const float *imp, size_t ni,
    json_t *data_names, struct dt_error *err)
{
	struct data_verif v;
	json_t *o = NULL, *af = NULL, *det = NULL;
	size_t i;
	int t;

	if (data_verif_metrics(gen, ng, imp, ni, &v, err) != 0)
		return NULL;
	if ((o = json_object()) == NULL || (af = json_array()) == NULL ||
	    (det = json_array()) == NULL)
		goto nomem;
	json_object_set_new(o, "scores", json_string("8 s probes against "
	    "enrolment templates (cosine), as dt4ecgd compares"));
	if (data_names != NULL)
		json_object_set(o, "data", data_names);
	json_object_set_new(o, "n_genuine", json_integer((json_int_t)ng));
	json_object_set_new(o, "n_impostor", json_integer((json_int_t)ni));
	json_object_set_new(o, "eer", json_real(v.eer));
	json_object_set_new(o, "threshold_at_eer", json_real(v.eer_threshold));
	for (i = 0; i < sizeof(far_targets) / sizeof(far_targets[0]); i++) {
		double thr, frr, far;
		bool ms;

		if (openset_at_far(gen, ng, imp, ni, far_targets[i], &thr, &frr,
		    &ms, err) != 0)
			goto fail;
		openset_rates(gen, ng, imp, ni, thr, &far, &frr);
		json_array_append_new(af, json_pack("{s:f, s:f, s:f, s:f, s:b}",
		    "far", far_targets[i], "far_measured", far, "frr", frr,
		    "threshold", thr, "measurable", ms));
	}
	for (t = 0; t <= 100; t++) {
		double far, frr;

		openset_rates(gen, ng, imp, ni, t / 100.0, &far, &frr);
		json_array_append_new(det, json_pack("[f, f, f]", t / 100.0,
		    far, frr));
	}
	json_object_set_new(o, "at_far", af);
	json_object_set_new(o, "det", det);
	return o;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
fail:
	json_decref(af);
	json_decref(det);
	json_decref(o);
	return NULL;
}

int
openset_save(const char *file, const char *protocol, json_t *figures,
    struct dt_error *err)
{
	struct nn_model *m = NULL;
	json_t *metrics = NULL, *os;
	const char *old;
	char *text = NULL;
	int rc = -1;

	if (nn_model_load(file, &m, err) != 0)
		return -1;
	old = nn_model_meta(m, "metrics");
	if (old == NULL || (metrics = json_loads(old, 0, NULL)) == NULL ||
	    !json_is_object(metrics)) {
		json_decref(metrics);
		metrics = json_object();
	}
	if (metrics == NULL)
		goto nomem;
	if (!json_is_object(os = json_object_get(metrics, "open_set"))) {
		os = json_object();
		json_object_set_new(metrics, "open_set", os);
	}
	json_object_set(os, protocol, figures);
	if ((text = json_dumps(metrics, JSON_COMPACT |
	    JSON_REAL_PRECISION(6))) == NULL)
		goto nomem;
	/* nn_model_save replaces the file atomically */
	if (nn_model_set_meta(m, "metrics", text, err) != 0 ||
	    nn_model_save(m, file, err) != 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	free(text);
	json_decref(metrics);
	nn_model_free(m);
	return rc;
}

int
openset_recommend(const char *metrics_json, double target,
    struct openset_pick *out, struct dt_error *err)
{
	/* cross-session with the most impostors first: what a gym sees */
	static const char *const protos[] = { "p2+ptbxl", "p2", "p4" };
	json_t *mj = NULL, *fig = NULL, *row;
	size_t i;
	int rc = -1, k;

	memset(out, 0, sizeof(*out));
	if (metrics_json != NULL)
		mj = json_loads(metrics_json, 0, NULL);
	for (k = 0; k < 3 && fig == NULL; k++) {
		fig = json_object_get(json_object_get(mj, "open_set"),
		    protos[k]);
		if (!json_is_object(fig))
			fig = NULL;
		else
			out->protocol = protos[k];
	}
	if (fig == NULL) {
		dt_error_set(err, DT_E_NOTFOUND, "the model holds no open-set "
		    "figures (metrics.open_set.p2 or .p4): measure them with "
		    "dt4ecg-admin evaluate --protocol p2 --model FILE "
		    "--save-metrics, then import the file again");
		goto out;
	}
	out->n_genuine = (long)json_integer_value(json_object_get(fig,
	    "n_genuine"));
	out->n_impostor = (long)json_integer_value(json_object_get(fig,
	    "n_impostor"));
	snprintf(out->scores, sizeof(out->scores), "%s",
	    json_string_value(json_object_get(fig, "scores")) ?
	    json_string_value(json_object_get(fig, "scores")) : "");
	out->measurable = target * (double)out->n_impostor >= 1;
	/* a stored FAR target, exactly */
	json_array_foreach(json_object_get(fig, "at_far"), i, row) {
		if (fabs(json_number_value(json_object_get(row, "far")) -
		    target) < 1e-12) {
			out->threshold = json_number_value(json_object_get(row,
			    "threshold"));
			out->frr = json_number_value(json_object_get(row,
			    "frr"));
			out->far = json_number_value(json_object_get(row,
			    "far_measured"));
			rc = 0;
			goto out;
		}
	}
	/* else the lowest threshold of the grid whose FAR <= target */
	json_array_foreach(json_object_get(fig, "det"), i, row) {
		double t = json_number_value(json_array_get(row, 0));
		double far = json_number_value(json_array_get(row, 1));

		if (far <= target) {
			out->threshold = t;
			out->far = far;
			out->frr = json_number_value(json_array_get(row, 2));
			rc = 0;
			goto out;
		}
	}
	dt_error_set(err, DT_E_NOTFOUND, "no threshold of 0.00..1.00 keeps "
	    "the %s FAR at or below %g", out->protocol, target);
out:
	json_decref(mj);
	return rc;
}

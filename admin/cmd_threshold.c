/*
 * admin/cmd_threshold.c — `dt4ecg-admin threshold --far F`: the threshold
 * for a target false-accept rate, from the open-set figures kept in the
 * model's metadata (admin/openset.h), and with --site how the site's own
 * members score against each other at it (admin/model_check.h).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin/common.h"
#include "admin/model_check.h"
#include "admin/openset.h"
#include "nn/model.h"

static const char usage[] =
    "usage: dt4ecg-admin [--db STORE] threshold --far F [--model ID|FILE]\n"
    "           [--site [--threshold T]] [--key-file FILE]\n"
    "  Recommends the dt4ecgd threshold for a target false-accept rate F\n"
    "  (0.001 = 0.1 %) from the open-set figures in the model's metadata\n"
    "  (evaluate --protocol p2 --save-metrics; P4 when present), for the\n"
    "  active model of STORE, model ID, or a model FILE.  --site (needs the\n"
    "  store and its key) also scores the site's enrolled members against\n"
    "  each other with that model: how often a member's recording reaches\n"
    "  the threshold (T, default the recommended one) on another member.\n";

struct topts {
	double far, thr;
	bool far_set, thr_set, site;
	const char *model, *key_file;
};

static int
num(const char *opt, const char *arg, double lo, double hi, double *out)
{
	if (dt_parse_double(arg, lo, hi, out) != 0) {
		fprintf(stderr, "dt4ecg-admin threshold: %s %s: expected a "
		    "number in %g..%g\n", opt, arg, lo, hi);
		return -1;
	}
	return 0;
}

static int
set(void *vo, int ch, const char *arg)
{
	struct topts *o = vo;

	switch (ch) {
	case 'F':
		if (num("--far", arg, 1e-9, 0.5, &o->far) != 0)
			return ADMIN_EXIT_USAGE;
		o->far_set = true;
		break;
	case 'T':
		if (num("--threshold", arg, -1, 1, &o->thr) != 0)
			return ADMIN_EXIT_USAGE;
		o->thr_set = true;
		break;
	}
	return -1;
}

static const struct adm_opt opts[] = {
	ADM_OPT_CALL("far", 'F'),
	ADM_OPT_CALL("threshold", 'T'),
	ADM_OPT_STR("model", 'm', struct topts, model),
	ADM_OPT_BOOL("site", 's', struct topts, site),
	ADM_OPT_STR("key-file", 'k', struct topts, key_file),
	ADM_OPT_END,
};
static const struct adm_options options = { "threshold", opts, set };

static bool
is_file(const char *p)
{
	struct stat st;

	return strchr(p, '/') != NULL || (stat(p, &st) == 0 &&
	    S_ISREG(st.st_mode));
}

int
cmd_threshold(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct topts o = { 0 };
	struct openset_pick pk;
	struct store *s = NULL;
	struct store_model *sm = NULL;
	struct nn_model *m = NULL;
	char name[STORE_ID_MAX + 1] = "";
	const char *metrics = NULL;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, usage, "FTmsk", &o, 0,
	    0)) >= 0)
		return rc;
	if (!o.far_set) {
		fprintf(stderr, "dt4ecg-admin threshold: --far F is required\n"
		    "%s", usage);
		return ADMIN_EXIT_USAGE;
	}
	if (o.thr_set && !o.site) {
		fprintf(stderr, "dt4ecg-admin threshold: --threshold goes "
		    "with --site\n");
		return ADMIN_EXIT_USAGE;
	}
	rc = ADMIN_EXIT_FAIL;
	if (o.model != NULL && is_file(o.model) && !o.site) {
		if (nn_model_load(o.model, &m, &err) != 0)
			goto fail;
		metrics = nn_model_meta(m, "metrics");
		snprintf(name, sizeof(name), "%.64s", o.model);
	} else {
		if (adm_open(ctx, "threshold", o.key_file, o.site ?
		    ADM_KEY_REQUIRED : ADM_KEY_NONE, 0, &s) != 0)
			return ADMIN_EXIT_FAIL;
		if (store_model_get(s, o.model, &sm, &err) != 0) {
			if (o.model == NULL && err.code == DT_E_NOTFOUND)
				dt_error_set(&err, DT_E_NOTFOUND, "the store "
				    "has no active model");
			goto fail;
		}
		metrics = sm->metrics_json;
		snprintf(name, sizeof(name), "%s", sm->id);
	}
	if (openset_recommend(metrics, o.far, &pk, &err) != 0) {
		dt_error_prefix(&err, "model %s", name);
		goto fail;
	}
	printf("model %s, %s: %ld genuine and %ld impostor scores (%s)\n",
	    name, pk.protocol, pk.n_genuine, pk.n_impostor, pk.scores);
	printf("recommended threshold %.3f for FAR <= %g %%: measured FAR "
	    "%.3g %%, FRR %.1f %%\n", pk.threshold, 100 * o.far,
	    100 * pk.far, 100 * pk.frr);
	if (!pk.measurable)
		printf("caution: FAR %g %% cannot be measured with %ld impostor "
		    "scores (at least %.0f are needed); the threshold only lies "
		    "above every impostor score seen\n", 100 * o.far,
		    pk.n_impostor, 1 / o.far);
	printf("set it in dt4ecgd.conf: threshold = %.3f\n", pk.threshold);
	if (o.site) {
		struct model_site st;
		double t = o.thr_set ? o.thr : pk.threshold;
		char got[STORE_ID_MAX + 1];
		int i;

		if (adm_load_model(s, "threshold", sm->id, &m, got) != 0)
			goto out;
		if (model_check_site(s, m, t, &st, &err) != 0)
			goto fail;
		printf("site: %d members, %zu recordings: %zu of %zu "
		    "comparisons of a member's recording with another "
		    "member's best template reach %.3f (%.2f %%)\n",
		    st.n_members, st.n_recordings, st.n_mistaken,
		    st.n_comparisons, t, st.n_comparisons ? 100.0 *
		    (double)st.n_mistaken / (double)st.n_comparisons : 0);
		for (i = 0; i < 3 && st.worst[i].a[0]; i++)
			printf("  closest: %s's recording scores %.3f on %s%s\n",
			    st.worst[i].a, st.worst[i].score, st.worst[i].b,
			    st.worst[i].score >= t ? " (would be mistaken)" :
			    "");
	}
	rc = adm_flush_stdout("threshold") ? ADMIN_EXIT_FAIL : ADMIN_EXIT_OK;
	goto out;
fail:
	adm_error("threshold", &err);
out:
	nn_model_free(m);
	store_model_free(sm);
	store_close(s);
	return rc;
}

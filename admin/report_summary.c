/* admin/report_summary.c — the operator summary of a report. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/openset.h"
#include "admin/report_summary.h"
#include "data/eval.h"
#include "data/protocol.h"

#define esc data_html_esc

/* The protocol a result is of; DATA_PROTO_N when it names none known. */
static enum data_protocol
proto(const json_t *r)
{
	enum data_protocol p;

	if (data_protocol_parse(json_string_value(json_object_get(r,
	    "protocol")), &p) != 0)
		return DATA_PROTO_N;
	return p;
}

const char *
report_score_caption(const json_t *result)
{
	if (proto(result) == DATA_PROTO_P1)
		return "Scores of P1: cosine similarity of each test window's "
		    "embedding with the classifier weights of every trained "
		    "person (genuine: its own person, impostor: the others). "
		    "This is not what dt4ecgd compares (a request against "
		    "enrolment templates): do not choose a threshold from it.";
	return "Scores: cosine similarity of each 8 s probe (the normalised "
	    "mean of its window embeddings, as dt4ecgd fuses a request) with "
	    "each enrolment template (genuine: the probe's own person, "
	    "impostor: every other enrolled person), as dt4ecgd compares.";
}

/* The device behind a data set name (built-in names; else the name). */
static const char *
device(const char *d)
{
	if (strcmp(d, "ecg-id") == 0)
		return "ECG-ID recorder, lead I, people at rest";
	if (strcmp(d, "ecg-activity") == 0)
		return "wearable sensor, Ag/AgCl electrodes, five activities";
	if (strcmp(d, "ecg-activity-textile") == 0)
		return "wearable sensor, textile electrodes, five activities";
	if (strcmp(d, "ptbxl-lead1") == 0)
		return "PTB-XL 12-lead recorder, lead I, patients at rest";
	return "data set named by a manifest";
}

static bool
has_activity_labels(const char *d)
{
	return strncmp(d, "ecg-activity", 12) == 0;
}

static void
pct(FILE *f, double v)
{
	fprintf(f, "%.2f&nbsp;%%", 100 * v);
}

char *
report_summary_html(const json_t *r, const float *gen, size_t ng,
    const float *imp, size_t ni, double thr, bool thr_given)
{
	enum data_protocol p = proto(r);
	const char *dn;
	json_t *data = json_object_get(r, "data"), *x;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	fprintf(f, "<section class=\"op\"><h2>Operator summary</h2>\n<p>");
	if (p == DATA_PROTO_P1)
		fprintf(f, "<b>P1, closed set: the people the model trained "
		    "on.</b> Each recording's first 80&nbsp;%% trained the "
		    "model; its last 20&nbsp;%% is tested. These are not new "
		    "people, and the scores are against the classifier's "
		    "weights, not enrolment templates: the figures below "
		    "flatter and do not say what a gym sees. Choose the "
		    "threshold from P2 (or P4), or with <code>dt4ecg-admin "
		    "threshold</code>.");
	else if (p == DATA_PROTO_P2) {
		x = json_object_get(r, "probe_8s");
		fprintf(f, "<b>P2, open set: people the model never trained "
		    "on.</b> %lld persons enrolled from one recording each, "
		    "probed with %lld segments of 8&nbsp;s of their other "
		    "recordings (the model trained on %lld other persons).",
		    (long long)json_integer_value(json_object_get(x,
		    "n_enrolled")), (long long)json_integer_value(
		    json_object_get(x, "n_probes")), (long long)
		    json_integer_value(json_object_get(r,
		    "n_train_subjects")));
		if (json_is_true(json_object_get(r, "contaminated")))
			fprintf(f, " <b>Contaminated:</b> some probe persons "
			    "were among the model's training subjects; the "
			    "figures flatter.");
	} else
		fprintf(f, "<b>P3: activity for people never seen</b> "
		    "(leave-subjects-out folds).");
	fprintf(f, " Data: ");
	json_array_foreach(data, i, x) {
		fprintf(f, "%s", i ? ", " : "");
		esc(f, json_string_value(x));
	}
	fprintf(f, ".</p>\n");
	if (gen != NULL && imp != NULL && ng > 0 && ni > 0) {
		struct data_verif v;
		double far, frr;

		openset_rates(gen, ng, imp, ni, thr, &far, &frr);
		fprintf(f, "<table class=\"op\"><tr><th>threshold %.3f%s</th>"
		    "<td>FAR ", thr, thr_given ? " (this site's)" :
		    " (dt4ecgd's default; pass --threshold for the site's)");
		pct(f, far);
		fprintf(f, " (%.0f of %zu impostor comparisons accepted), "
		    "FRR ", far * (double)ni, ni);
		pct(f, frr);
		fprintf(f, " (%.0f of %zu genuine comparisons rejected)</td>"
		    "</tr>\n", frr * (double)ng, ng);
		if (data_verif_metrics(gen, ng, imp, ni, &v, NULL) == 0) {
			fprintf(f, "<tr><th>equal error rate</th><td>");
			pct(f, v.eer);
			fprintf(f, " at threshold %.3f</td></tr>\n",
			    v.eer_threshold);
			fprintf(f, "<tr><th>FAR 1&nbsp;%% / 0.1&nbsp;%%</th>"
			    "<td>FRR ");
			pct(f, v.frr_at_far1);
			fprintf(f, " at threshold %.3f; FRR ", v.thr_far1);
			pct(f, v.frr_at_far01);
			fprintf(f, " at threshold %.3f%s</td></tr>\n",
			    v.thr_far01, ni < 1000 ? " (fewer than 1,000 "
			    "impostor comparisons: not measurable)" : "");
		}
		fprintf(f, "</table>\n<p>The threshold (solid) and the EER "
		    "(dotted) are marked on the score histogram and the DET "
		    "curve below.</p>\n");
	}
	fprintf(f, "<h3>Activity label, per device</h3>\n<table class=\"op\">"
	    "<tr><th>data</th><th>device</th><th>activity label</th></tr>\n");
	json_array_foreach(data, i, x) {
		dn = json_string_value(x);
		fprintf(f, "<tr><td>");
		esc(f, dn);
		fprintf(f, "</td><td>%s</td><td>", device(dn ? dn : ""));
		if (dn != NULL && has_activity_labels(dn)) {
			json_t *a = json_object_get(r, "activity");
			json_t *w = json_object_get(json_object_get(a,
			    "window_all"), "acc");
			json_t *s = json_object_get(json_object_get(
			    json_object_get(a, "segment_8s"), "activity"),
			    "acc");

			if (json_is_number(w)) {
				fprintf(f, "measured: ");
				pct(f, json_number_value(w));
				fprintf(f, " of windows");
				if (json_is_number(s)) {
					fprintf(f, ", ");
					pct(f, json_number_value(s));
					fprintf(f, " of 8&nbsp;s probes");
				}
				fprintf(f, " right%s", p == DATA_PROTO_P1 ?
				    " (P1: people it trained on; P3 says what "
				    "a new member gets)" : "");
			} else
				fprintf(f, "labelled, not measured by this "
				    "protocol");
		} else
			fprintf(f, "<b>not measured</b>: no activity labels "
			    "on this device; the model has seen activities "
			    "only from the wearable sensor, so do not trust "
			    "the label here");
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table></section>\n");
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

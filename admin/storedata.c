/*
 * admin/storedata.c — the store's enrolment recordings as training data
 * (retrain --data store): decrypted in memory only, never written out.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/common.h"
#include "admin/storedata.h"

struct walk {
	struct store *s;
	struct data_corpus *c;
	int activity, member, n_rec;
	struct dt_error *err;
};

static int
on_recording(void *ctx, const struct store_recording *r)
{
	struct walk *w = ctx;
	char subject[64], name[96];
	float *mv;

	/* a pseudonym: member ids do not enter the model's metadata */
	snprintf(subject, sizeof(subject), "site:%d", w->member);
	snprintf(name, sizeof(name), "store recording %d of %s", w->n_rec,
	    subject);
	if ((mv = malloc(sizeof(float) * (r->n_samples + 1))) == NULL) {
		dt_error_set(w->err, DT_E_NOMEM, "out of memory");
		return -1;
	}
	memcpy(mv, r->samples, sizeof(float) * r->n_samples);
	w->n_rec++;
	/* the corpus owns (and wipes) mv from here on, also on failure */
	return data_corpus_add_samples(w->c, "store", name, subject,
	    w->activity, w->n_rec, r->fs_hz, mv, r->n_samples, w->err);
}

static int
on_member(void *ctx, const struct store_member *m)
{
	struct walk *w = ctx;
	struct dt_error e2 = { 0 };

	w->member++;
	if (store_recording_foreach(w->s, m->id, on_recording, w, &e2) != 0) {
		if (w->err->code == DT_OK)
			*w->err = e2;
		return -1;
	}
	return 0;
}

int
admin_store_corpus(struct store *s, struct data_corpus *c, int activity,
    int *n_members, int *n_recordings, struct dt_error *err)
{
	struct walk w = { s, c, activity, 0, 0, err };

	memset(err, 0, sizeof(*err));
	if (store_member_list(s, on_member, &w, err) != 0) {
		if (err->code == DT_OK)
			dt_error_set(err, DT_E_INTERNAL, "store: reading the "
			    "enrolment recordings failed");
		return -1;
	}
	*n_members = w.member;
	*n_recordings = w.n_rec;
	return 0;
}

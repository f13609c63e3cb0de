/*
 * data/split.c — P1, P2 and P3 (see split.h).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/split.h"

void
data_ranges_free(struct data_ranges *r)
{
	free(r->r);
	memset(r, 0, sizeof(*r));
}

int
data_ranges_add(struct data_ranges *rs, int rec, size_t r0, size_t r1,
    int group)
{
	if (rs->n == rs->cap) {
		int nc = rs->cap ? rs->cap * 2 : 256;
		struct data_range *nr = realloc(rs->r, sizeof(*nr) *
		    (size_t)nc);

		if (nr == NULL)
			return -1;
		rs->r = nr;
		rs->cap = nc;
	}
	rs->r[rs->n].rec = rec;
	rs->r[rs->n].r0 = r0;
	rs->r[rs->n].r1 = r1;
	rs->r[rs->n].group = group;
	rs->n++;
	return 0;
}

int
data_split_p1(const struct data_corpus *c, double frac, double val_frac,
    const bool *rec_ok, struct data_ranges *train, struct data_ranges *val,
    struct data_ranges *test, struct dt_error *err)
{
	int i;

	if (!(frac > 0 && frac < 1) || !(val_frac >= 0 && val_frac < 1))
		return dt_error_set(err, DT_E_INVALID, "P1: bad fractions "
		    "%g / %g", frac, val_frac);
	for (i = 0; i < c->n_recs; i++) {
		size_t n = c->recs[i].n;
		size_t cut = (size_t)llround(frac * (double)n);
		size_t vcut = val_frac > 0 ? (size_t)llround((1 - val_frac) *
		    (double)cut) : cut;

		if (rec_ok != NULL && !rec_ok[i])
			continue;
		if ((train && vcut > 0 && data_ranges_add(train, i, 0, vcut,
		    i) != 0) ||
		    (val && vcut < cut && data_ranges_add(val, i, vcut, cut,
		    i) != 0) ||
		    (test && cut < n && data_ranges_add(test, i, cut, n,
		    i) != 0))
			return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	return 0;
}

int
data_segments(struct data_ranges *rs, int rec, size_t r0, size_t r1,
    size_t seg_len, int *next_group)
{
	size_t s;

	if (seg_len == 0)
		return -1;
	for (s = r0; s + seg_len <= r1; s += seg_len)
		if (data_ranges_add(rs, rec, s, s + seg_len,
		    (*next_group)++) != 0)
			return -1;
	return 0;
}

void
data_p2_free(struct data_p2 *p2)
{
	data_ranges_free(&p2->train);
	data_ranges_free(&p2->enroll);
	data_ranges_free(&p2->probe);
	free(p2->enrolled);
	memset(p2, 0, sizeof(*p2));
}

int
data_split_p2(const struct data_corpus *c, int manifest, int train_max,
    struct data_p2 *p2, struct dt_error *err)
{
	int *nrec = NULL, *first = NULL, *seen = NULL, i, s, rc = -1;

	memset(p2, 0, sizeof(*p2));
	if ((nrec = calloc((size_t)c->n_subjects + 1, sizeof(int))) == NULL ||
	    (first = malloc(sizeof(int) * ((size_t)c->n_subjects + 1))) ==
	    NULL || (seen = calloc((size_t)c->n_subjects + 1,
	    sizeof(int))) == NULL ||
	    (p2->enrolled = calloc((size_t)c->n_subjects + 1,
	    sizeof(int))) == NULL)
		goto nomem;
	for (s = 0; s < c->n_subjects; s++)
		first[s] = -1;
	for (i = 0; i < c->n_recs; i++) {
		const struct data_rec *r = &c->recs[i];

		if (manifest >= 0 && r->manifest != manifest)
			continue;
		nrec[r->subject]++;
		if (first[r->subject] < 0 ||
		    r->session < c->recs[first[r->subject]].session)
			first[r->subject] = i;
	}
	for (i = 0; i < c->n_recs; i++) {
		const struct data_rec *r = &c->recs[i];
		int num;

		if (manifest >= 0 && r->manifest != manifest)
			continue;
		num = data_subject_number(c->subjects[r->subject]);
		if (num >= 1 && num <= train_max) {
			if (data_ranges_add(&p2->train, i, 0, r->n,
			    r->subject) != 0)
				goto nomem;
			if (!seen[r->subject]) {
				seen[r->subject] = 1;
				p2->n_train_subjects++;
			}
			continue;
		}
		if (nrec[r->subject] < 2)
			continue;
		if (first[r->subject] == i) {
			if (data_ranges_add(&p2->enroll, i, 0, r->n,
			    r->subject) != 0)
				goto nomem;
			p2->enrolled[p2->n_enrolled++] = r->subject;
		} else if (data_ranges_add(&p2->probe, i, 0, r->n, i) != 0)
			goto nomem;
	}
	if (p2->n_enrolled < 2 || p2->train.n == 0) {
		dt_error_set(err, DT_E_INVALID, "P2: %d training recordings, %d "
		    "enrolled subjects: need some of each", p2->train.n,
		    p2->n_enrolled);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "out of memory");
out:
	if (rc != 0)
		data_p2_free(p2);
	free(nrec);
	free(first);
	free(seen);
	return rc;
}

static const struct data_corpus *sort_c;

static int
cmp_subj(const void *a, const void *b)
{
	return strcmp(sort_c->subjects[*(const int *)a],
	    sort_c->subjects[*(const int *)b]);
}

int
data_split_p3(const struct data_corpus *c, int fold, int n_folds,
    bool with_unlabelled, bool **rec_train, bool **rec_test, int **held,
    int *n_held, struct dt_error *err)
{
	int *subj = NULL, *has = NULL, ns = 0, i, lo, hi, rc = -1;
	bool *tr = NULL, *te = NULL, *isheld = NULL;

	if ((subj = malloc(sizeof(int) * ((size_t)c->n_subjects + 1))) ==
	    NULL || (has = calloc((size_t)c->n_subjects + 1, sizeof(int))) ==
	    NULL || (isheld = calloc((size_t)c->n_subjects + 1,
	    sizeof(bool))) == NULL ||
	    (tr = calloc((size_t)c->n_recs + 1, sizeof(bool))) == NULL ||
	    (te = calloc((size_t)c->n_recs + 1, sizeof(bool))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < c->n_recs; i++)
		if (c->recs[i].activity >= 0)
			has[c->recs[i].subject] = 1;
	for (i = 0; i < c->n_subjects; i++)
		if (has[i])
			subj[ns++] = i;
	if (n_folds < 2 || fold < 0 || fold >= n_folds || ns < n_folds) {
		dt_error_set(err, DT_E_INVALID, "P3: fold %d of %d with %d "
		    "activity-labelled subjects", fold, n_folds, ns);
		goto out;
	}
	sort_c = c;
	qsort(subj, (size_t)ns, sizeof(int), cmp_subj);
	lo = fold * ns / n_folds;
	hi = (fold + 1) * ns / n_folds;
	for (i = lo; i < hi; i++)
		isheld[subj[i]] = true;
	for (i = 0; i < c->n_recs; i++) {
		const struct data_rec *r = &c->recs[i];

		if (r->activity < 0)
			tr[i] = with_unlabelled;
		else if (isheld[r->subject])
			te[i] = true;
		else
			tr[i] = true;
	}
	for (i = 0; i < hi - lo; i++)
		subj[i] = subj[lo + i];
	*held = subj;
	*n_held = hi - lo;
	*rec_train = tr;
	*rec_test = te;
	subj = NULL;
	tr = te = NULL;
	rc = 0;
out:
	free(subj);
	free(has);
	free(isheld);
	free(tr);
	free(te);
	return rc;
}

bool
data_subject_held_out(const char *subject)
{
	int num = data_subject_number(subject);

	if (strncmp(subject, "ecgid:", 6) == 0)
		return num >= 61 && num <= 90;
	if (strncmp(subject, "ptbxl:", 6) == 0)
		return num >= 0 && num % 5 == 0;
	return false;
}

int
data_split_open(const struct data_corpus *c, struct data_ranges *train,
    struct dt_error *err)
{
	int i;

	for (i = 0; i < c->n_recs; i++) {
		const struct data_rec *r = &c->recs[i];

		if (data_subject_held_out(c->subjects[r->subject]))
			continue;
		if (data_ranges_add(train, i, 0, r->n, i) != 0)
			return dt_error_set(err, DT_E_NOMEM, "out of memory");
	}
	if (train->n == 0)
		return dt_error_set(err, DT_E_INVALID, "open protocol: every "
		    "recording is a hold-out");
	return 0;
}

int
data_split_tail(const struct data_ranges *in, double vf,
    struct data_ranges *tr, struct data_ranges *va)
{
	int i;

	for (i = 0; i < in->n; i++) {
		const struct data_range *r = &in->r[i];
		size_t cut = r->r0 + (size_t)llround((1 - vf) *
		    (double)(r->r1 - r->r0));

		if (vf <= 0)
			cut = r->r1;
		if (cut > r->r0 && data_ranges_add(tr, r->rec, r->r0, cut,
		    r->group) != 0)
			return -1;
		if (cut < r->r1 && data_ranges_add(va, r->rec, cut, r->r1,
		    r->group) != 0)
			return -1;
	}
	return 0;
}

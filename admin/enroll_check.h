/*
 * admin/enroll_check.h — what `user enroll` asks of a member's recordings
 * as a set, once each one is an ECG (ecg/sigcheck.h): none twice, and all of
 * one person.
 *
 * The set is the recordings being enrolled plus those the member already
 * has (decrypted and embedded with the same embedder).  A recording must not
 * be another one again (the same samples at the same rate), and each must
 * agree with the others: its template's mean cosine similarity with the
 * other recordings' templates at least a floor (`--min-agreement`,
 * ENROLL_MIN_AGREEMENT by default).  With two recordings that disagree
 * neither can be blamed, and both are named.
 */
#ifndef ADMIN_ENROLL_CHECK_H
#define ADMIN_ENROLL_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/embed.h"
#include "store/store.h"
#include "util/error.h"

/* With the shipped model, two recordings of one ECG-ID person agree at
 * 0.90-0.98 (p01, p05, p06, p12, p33, p61, p75), of two persons at -0.02
 * to 0.23 (p01/p12, p05/p12, p06/p07). */
#define ENROLL_MIN_AGREEMENT 0.4

struct enroll_rec {
	char name[256];		/* a path, or "recording #ID" (stored) */
	const float *mv;	/* borrowed for new ones; owned for stored */
	size_t n;
	double fs;
	float *emb;		/* [dim]; owned for stored ones */
	bool stored;
	double agreement;	/* filled by enroll_check_agreement */
};

/*
 * Appends the member's stored recordings to *recs (grown; *n updated),
 * each embedded by e (whose signal check is left as it was: the stored
 * recordings passed it when enrolled, and are embedded without it).
 */
int enroll_load_stored(struct store *s, const char *member,
    struct embedder *e, int dim, struct enroll_rec **recs, int *n,
    struct dt_error *err);

/* Frees what enroll_load_stored added (the first n_new are the caller's). */
void enroll_recs_free(struct enroll_rec *recs, int n, int n_new, int dim);

/* -1 (DT_E_EXISTS) naming the two when a new recording repeats another. */
int enroll_check_duplicates(const struct enroll_rec *recs, int n, int n_new,
    struct dt_error *err);

/*
 * Fills each recording's agreement (mean cosine with the others; 1 when
 * alone).  -1 (DT_E_INVALID) naming the outlier — the new recording that
 * agrees least, or both of two — when one is below min_agreement; *bad is
 * its index (-1 when two are named).
 */
int enroll_check_agreement(struct enroll_rec *recs, int n, int n_new,
    int dim, double min_agreement, int *bad, struct dt_error *err);

#endif /* ADMIN_ENROLL_CHECK_H */

/*
 * admin/storedata.h — the store's enrolment recordings as training data.
 */
#ifndef ADMIN_STOREDATA_H
#define ADMIN_STOREDATA_H

#include "data/dataset.h"
#include "store/store.h"
#include "util/error.h"

/*
 * Adds every enrolment recording of every member of s (opened with its key)
 * to c as data set "store": subject "site:K" (K-th member in id order, a
 * pseudonym), activity `activity` (-1 = none).  The samples live in memory
 * only and are wiped when the corpus is freed.
 */
int admin_store_corpus(struct store *s, struct data_corpus *c, int activity,
    int *n_members, int *n_recordings, struct dt_error *err);

#endif /* ADMIN_STOREDATA_H */

/* store/match_int.h — what the index (match.c) offers its loader
 * (match_load.c); not for other modules. */
#ifndef STORE_MATCH_INT_H
#define STORE_MATCH_INT_H

#include <pthread.h>
#include <stdint.h>

#include "store/match.h"
#include "util/error.h"

#define MATCH_DIM_MAX 1024

struct mdata;
struct sdb;

/* A connection through which the index was last found up to date: its
 * serial, data version and own commits then. */
struct match_seen {
	uint64_t conn;
	int64_t dv;
	uint64_t gen;
};
#define MATCH_SEEN 32		/* connections remembered (inference threads,
				 * the HTTP threads) */

/* What the loader keeps in the index between refreshes. */
struct match_sync {
	pthread_mutex_t refresh;	/* one refresher at a time */
	int64_t model_rid;		/* of the loaded data, 0 = none */
	int64_t seq;			/* changes seen up to */
	int loaded;
	struct match_seen seen[MATCH_SEEN];
	unsigned next_seen;
};

struct match_sync *match_index_sync(struct match_index *ix);
struct mdata *match_md_new(int dim);
void match_md_free(struct mdata *d);
int match_md_dim(const struct mdata *d);
int match_md_add(struct mdata *d, const char *member, int64_t rid,
    const float *emb);
/* Swaps *ND in as the index's data (a full reload); *ND gets the old. */
void match_index_replace(struct match_index *ix, struct mdata **nd,
    const char *model, int64_t modrid);
/* Drops the members RIDS and adds those of ND (an incremental reload). */
int match_index_merge(struct match_index *ix, const int64_t *rids,
    size_t nrids, const struct mdata *nd, struct dt_error *err);

#endif

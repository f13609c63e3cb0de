/* store/store_int.h — what the files of store/ share; not for other modules. */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <sqlite3.h>

#include "store/store.h"

struct store {
	sqlite3 *db;
	char *path;
	struct store_key *key;	/* own copy, may be NULL */
	char actor[STORE_ID_MAX + 16];
	int depth;		/* transaction nesting */
	int failed;		/* an inner savepoint failed */
	uint64_t write_gen;	/* commits made through this handle */
};

int store_sql_error(struct store *s, struct dt_error *err, const char *what);
int store_prepare(struct store *s, const char *sql, sqlite3_stmt **st,
    struct dt_error *err);
int store_tx_begin(struct store *s, struct dt_error *err);
int store_tx_end(struct store *s, int ok, struct dt_error *err);
int store_audit_append_tx(struct store *s, const char *actor,
    const char *action, const char *subject, const char *detail,
    struct dt_error *err);
/* "template:<member>:<model>:<id>" */
void store_template_ad(char *buf, size_t len, const char *member,
    const char *model, int64_t id);

#endif

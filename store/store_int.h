/* store/store_int.h — what the files of store/ share; not for other modules. */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <sodium.h>

#include "store/db.h"
#include "store/store.h"

struct store {
	struct sdb *db;		/* the backend connection (db.h) */
	char *path;
	struct store_key *key;	/* own copy, may be NULL */
	char actor[STORE_ID_MAX + 16];
	int depth;		/* transaction nesting */
	int failed;		/* an inner savepoint failed */
	uint64_t write_gen;	/* commits made through this handle */
};

/* store.c: the helpers the entity files share */
int store_sql_error(struct store *s, struct dt_error *err, const char *what);
int store_prepare(struct store *s, const char *sql, struct sdb_stmt **st,
    struct dt_error *err);
int store_exec(struct store *s, const char *sql, struct dt_error *err);
/* SQL with the text ID (when not NULL) / the row id RID bound to ?1. */
int store_prepare_id(struct store *s, const char *sql, const char *id,
    struct sdb_stmt **st, struct dt_error *err);
int store_prepare_rid(struct store *s, const char *sql, int64_t rid,
    struct sdb_stmt **st, struct dt_error *err);
int store_step_done(struct store *s, struct sdb_stmt *st, const char *op,
    struct dt_error *err);
int store_step_insert(struct store *s, struct sdb_stmt *st, const char *what,
    const char *id, struct dt_error *err);
/* Steps an INSERT ... RETURNING id: the new row's id in *ID. */
int store_step_returning(struct store *s, struct sdb_stmt *st, int64_t *id,
    const char *op, struct dt_error *err);
int store_rows_end(struct store *s, struct sdb_stmt *st, int rc, int q,
    const char *op, struct dt_error *err);
int store_exec_rid(struct store *s, const char *sql, int64_t rid,
    const char *op, struct dt_error *err);
int store_get_row(struct store *s, const char *sql, const char *what,
    const char *id, struct sdb_stmt **st, struct dt_error *err);
int store_get_row_rid(struct store *s, const char *sql, const char *what,
    int64_t id, struct sdb_stmt **st, struct dt_error *err);
/* The single integer of SQL's first row. */
int store_query_int(struct store *s, const char *sql, int *out,
    struct dt_error *err);
int store_count_where(struct store *s, const char *sql, int64_t rid,
    int64_t *n, struct dt_error *err);
int store_valid_id(const char *id);
int store_check_id(const char *what, const char *id, struct dt_error *err);
void store_copy_text(char *dst, size_t len, const char *src);
int store_op_end(struct store *s, int rc, struct dt_error *err);
int64_t store_now(void);
int64_t store_member_rid(struct store *s, const char *id, struct dt_error *err);
int64_t store_need_member(struct store *s, const char *id,
    struct dt_error *err);
int64_t store_model_rid(struct store *s, const char *id, int *dim,
    int *active, struct dt_error *err);

/* recording.c, for activation (model.c) */
#define REC_COLS "SELECT r.id, m.id, r.fs_hz, r.n_samples, r.sealed, " \
	"r.created, r.member FROM recordings r JOIN members m ON m.rid = r.member "
int store_recording_row(struct store *s, struct sdb_stmt *st,
    struct store_recording *r, struct dt_error *err);
/* CREATED: the row's time (store_now(), or the adaptation's own clock,
 * which its interval is measured against) */
int store_template_insert(struct store *s, int64_t mrid, const char *member,
    int64_t modrid, const char *model, const float *emb, int dim,
    int64_t recording, int64_t created, int64_t *id_out,
    struct dt_error *err);
int store_check_embedding(const char *member, const char *model,
    const float *emb, int dim, int want, struct dt_error *err);

/* The backend's connection (db.h), for the match loader. */
struct sdb *store_sdb(struct store *s);

/* db_pg.c: the PostgreSQL backend (libpq) */
int store_pg_open(const char *conninfo, struct sdb **out, char *msg,
    size_t msglen);
/* CONNINFO without its password, for messages (malloc'd; NULL: no memory). */
char *store_pg_redact(const char *conninfo);
int store_pg_data_version(struct store *s, int64_t *dv, struct dt_error *err);
/* migrate.c */
extern const char *const store_migrations_sqlite[];
extern const char *const store_migrations_pg[];
int store_tx_begin(struct store *s, struct dt_error *err);
int store_tx_end(struct store *s, int ok, struct dt_error *err);
/* A read snapshot (REPEATABLE READ on PostgreSQL); end with "ROLLBACK". */
int store_read_begin(struct store *s, struct dt_error *err);
/* The advisory lock key of a store's writers ("dt4ecg" in ASCII). */
#define STORE_PG_LOCK "110429130802503"
int store_audit_append_tx(struct store *s, const char *actor,
    const char *action, const char *subject, const char *detail,
    struct dt_error *err);
/* "template:<member>:<model>:<id>" */
void store_template_ad(char *buf, size_t len, const char *member,
    const char *model, int64_t id);


/* Length-prefixed fields into a BLAKE2b state (audit.c, rowmac.c). */
void store_hash_u64(crypto_generichash_state *h, uint64_t v);
void store_hash_bytes(crypto_generichash_state *h, const void *p, size_t n);
void store_hash_str(crypto_generichash_state *h, const char *str);

/* audit.c */
/* 1 when ACTION's subject is a member (member.*, recording.*, template.*,
 * auth.*): the log records the member's audit id instead. */
int store_audit_member_action(const char *action);
/* The keyed chain hash of E after PREV (needs the store key). */
int store_audit_hash(struct store *s, const uint8_t prev[32],
    const struct store_audit_entry *e, uint8_t out[32], struct dt_error *err);
/* Checks the chain of a store older than migration 4 (no key). */
int store_audit_verify_unkeyed(struct store *s, int64_t *first_bad,
    struct dt_error *err);

/* rowmac.c: MACs of kiosk, member and model rows (see there).  The *_ok
 * functions return 1 (authentic), 0 (not) or -1 (no key: not checked). */
int store_rowmac_member_update(struct store *s, const char *id,
    struct dt_error *err);
int store_rowmac_member_ok(struct store *s, const char *id,
    int64_t locked_until, const char *audit_id, const void *mac, int mac_len);
int store_rowmac_kiosk_update(struct store *s, const char *id,
    struct dt_error *err);
int store_rowmac_kiosk_ok(struct store *s, const struct store_kiosk *k,
    const void *mac, int mac_len);
int store_rowmac_models_update(struct store *s, struct dt_error *err);
int store_rowmac_model_ok(struct store *s, int64_t rid, const char *id,
    int dim, int active, const void *digest, int digest_len, const void *mac,
    int mac_len);
int store_rowmac_model_bytes_ok(const void *digest, int digest_len,
    const void *bytes, size_t n);
/* The C half of migration VERSION (after its SQL, same transaction). */
int store_migrate_c(struct store *s, int version, struct dt_error *err);

#endif

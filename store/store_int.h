/* store/store_int.h — what the files of store/ share; not for other modules. */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <sodium.h>
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

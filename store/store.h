/*
 * store/store.h — the dt4ecg store: members, their sealed enrollment
 * recordings and templates, kiosks, models and a hash-chained, append-only
 * audit log (DESIGN.md section 6, issue 5), on one of two backends chosen by
 * the `store` value: a file path is one SQLite file (WAL), a
 * "postgresql://" URI (libpq conninfo) is a PostgreSQL database shared by
 * several daemons (issue 15).  The SQL sits behind store/db.h; the files
 * store.c (open, transactions), migrate.c, member.c, recording.c, kiosk.c,
 * model.c, audit.c, rowmac.c, nonce.c and lockout.c are the same for both.
 *
 * Threads: a struct store (one SQLite connection) is used by one thread at a
 * time.  The daemon opens one per worker thread (cheap; WAL lets them read
 * concurrently) or serialises one behind a mutex.  The match index
 * (store/match.h) is the structure shared by all threads.
 *
 * Transactions: every write function is atomic on its own and appends its
 * audit entry in the same transaction.  To group several (member + recording +
 * template of one enrollment), wrap them in store_begin() / store_commit();
 * on any failure inside, call store_rollback().
 *
 * Durability: WAL with synchronous=NORMAL — a killed process never leaves a
 * half-written transaction; a power loss may lose the last commits but never
 * consistency.  secure_delete is on, so erased rows are zeroed in the file.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/crypto.h"
#include "util/error.h"

#define STORE_SCHEMA_VERSION 5	/* newest migration this code knows */
#define STORE_ID_MAX 64		/* member, kiosk, model ids: [A-Za-z0-9._@:-]{1,64} */
#define STORE_NAME_MAX 128	/* display names, bytes */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_AUDIT_ID_MAX 40	/* a member's audit id "m:<32 hex>" + NUL */

struct store;

/* store_open() flags */
#define STORE_CREATE	0x1	/* create the file if missing; a new store is migrated */
#define STORE_MIGRATE	0x2	/* apply pending migrations to an older store */
#define STORE_OLD_OK	0x4	/* open an older store as is (only for store_migrate) */

/*
 * Opens PATH: a file (SQLite) or a postgresql:// URI (PostgreSQL; error
 * messages name it without its password).  KEY may be NULL: then the store can be read (kiosks, models,
 * members and the audit log, their row MACs unchecked: row_ok -1) but
 * nothing audited can be written (every such write appends to the keyed
 * audit chain; only the unaudited guard tables of store/guard.h, nonces
 * and failure counters, are written without it) and sealing/opening fails
 * with DT_E_CRYPTO.  The store keeps its own copy of the key.  With a key,
 * a store whose key check does not open with it is refused (DT_E_CRYPTO).
 * A store written by a newer version is refused (DT_E_VERSION), as is an
 * older one unless STORE_MIGRATE (or STORE_OLD_OK) is given.
 */
int store_open(const char *path, const struct store_key *key, int flags,
    struct store **out, struct dt_error *err);
void store_close(struct store *s);
/* Applies migrations up to TARGET (0 = newest), each in its own transaction. */
int store_migrate(struct store *s, int target, struct dt_error *err);
int store_schema_version(struct store *s, int *version, struct dt_error *err);
/* Who the audit entries of this handle's admin changes name (default "admin"). */
void store_set_actor(struct store *s, const char *actor);
const struct store_key *store_key(const struct store *s);
/* The SQLite connection, for tests and backups only (NULL on PostgreSQL). */
struct sqlite3 *store_db(struct store *s);
/* A number that changes when another connection commits a change (SQLite:
 * PRAGMA data_version; PostgreSQL: NOTIFY dt4ecg_changes received, and
 * reconnections).  The match index uses it to skip unchanged refreshes. */
int store_data_version(struct store *s, int64_t *dv, struct dt_error *err);
/* One round trip to the store (PostgreSQL: reconnects a lost connection;
 * DT_E_BUSY when the server cannot be reached).  For readiness checks. */
int store_ping(struct store *s, struct dt_error *err);
/* 1 when the store is on PostgreSQL. */
int store_is_pg(const struct store *s);
/* Raw SQL on the store's connection, bypassing the store (for tests that
 * tamper with rows, and for tools): runs SQL; with OUT, *OUT is the first
 * column of its first row (0 when none). */
int store_sql(struct store *s, const char *sql, int64_t *out,
    struct dt_error *err);

int store_begin(struct store *s, struct dt_error *err);	/* BEGIN IMMEDIATE */
int store_commit(struct store *s, struct dt_error *err);
void store_rollback(struct store *s);
/* Checkpoints the WAL into the database file and truncates it (best effort:
 * DT_E_BUSY while another connection holds an old snapshot). */
int store_checkpoint(struct store *s, struct dt_error *err);
int store_integrity_check(struct store *s, struct dt_error *err);

/* --- members ------------------------------------------------------------ */
struct store_member {
	char id[STORE_ID_MAX + 1];
	char display_name[STORE_NAME_MAX + 1];
	int64_t created;	/* unix seconds */
	int64_t locked_until;	/* unix seconds, 0 = not locked */
	int n_recordings;
	int n_templates;	/* all models */
	char audit_id[STORE_AUDIT_ID_MAX];	/* the member in the audit log */
	int row_ok;		/* MAC: 1 authentic, 0 not, -1 not checked */
};
typedef int (*store_member_fn)(void *ctx, const struct store_member *m);

int store_member_add(struct store *s, const char *id, const char *display_name,
    struct dt_error *err);			/* DT_E_EXISTS */
/* DT_E_NOTFOUND; DT_E_CRYPTO when the row (its lock) does not authenticate. */
int store_member_get(struct store *s, const char *id, struct store_member *out,
    struct dt_error *err);
/* Calls FN for every member in id order; a non-zero return stops the walk
 * and is returned. */
int store_member_list(struct store *s, store_member_fn fn, void *ctx,
    struct dt_error *err);
int store_member_set_locked(struct store *s, const char *id,
    int64_t locked_until, struct dt_error *err);
/* The member's audit id (what the audit log names them by; DT_E_NOTFOUND). */
int store_member_audit_id(struct store *s, const char *id,
    char out[STORE_AUDIT_ID_MAX], struct dt_error *err);
/*
 * Erasure: removes the member, every recording and every template of theirs
 * in one transaction, then checkpoints.  The audit log never holds a member
 * id: its entries name the member by a random audit id kept only in the
 * member's row, so once the row is erased (secure_delete, checkpointed)
 * nothing in the file or its WAL links the log to the person.  The erasure's
 * own entry has no subject; display names never enter the audit log.
 */
int store_member_delete(struct store *s, const char *id, struct dt_error *err);

/* --- recordings (sealed; AD "recording:<member>:<id>") -------------------- */
struct store_recording {
	int64_t id;
	char member[STORE_ID_MAX + 1];
	double fs_hz;
	size_t n_samples;
	float *samples;		/* owned; wiped by store_recording_free() */
	int64_t created;
};
typedef int (*store_recording_fn)(void *ctx, const struct store_recording *r);

int store_recording_add(struct store *s, const char *member,
    const float *samples, size_t n_samples, double fs_hz, int64_t *id_out,
    struct dt_error *err);
int store_recording_get(struct store *s, int64_t id,
    struct store_recording **out, struct dt_error *err);
void store_recording_free(struct store_recording *r);
/* FN sees each recording of MEMBER (decrypted; wiped after FN returns). */
int store_recording_foreach(struct store *s, const char *member,
    store_recording_fn fn, void *ctx, struct dt_error *err);

/* --- templates (sealed; AD "template:<member>:<model>:<id>") -------------- */
/* A member may have several templates per model (one per recording, say).
 * EMB must have the model's embedding_dim floats (L2-normalised by the caller).
 * RECORDING_ID (0 = none) links the template to the recording it came from. */
int store_template_add(struct store *s, const char *member, const char *model,
    const float *emb, int dim, int64_t recording_id, int64_t *id_out,
    struct dt_error *err);
/* Reads the template ID into a malloc'd buffer (wipe with sodium_memzero). */
int store_template_get(struct store *s, int64_t id, float **emb, int *dim,
    struct dt_error *err);
int store_template_delete_member(struct store *s, const char *member,
    const char *model, struct dt_error *err);
/*
 * A template that follows the member (issue 12 point 9a): EMB, a probe's
 * embedding under MODEL that dt4ecgd accepted well above its threshold,
 * becomes a further template of MEMBER — one without a recording, so a
 * model change (which recomputes templates from recordings) leaves it with
 * the model that made it.  At most CAP such templates per member and
 * model, the oldest replaced; none while the member is locked or within
 * MIN_INTERVAL_S of the member's newest one, both on the caller's clock
 * NOW (the template is stamped with it).  Audited as template.adapt
 * (DETAIL: a JSON object's members without braces, e.g. the request id
 * and score, or NULL).  *ADDED says whether it was added.  Inside the
 * caller's transaction it runs under a savepoint: its failure is rolled
 * back alone and the caller's transaction stays usable.
 */
int store_template_adapt(struct store *s, const char *member,
    const char *model, const float *emb, int dim, unsigned cap,
    int64_t min_interval_s, int64_t now, const char *detail, bool *added,
    struct dt_error *err);

/* --- kiosks --------------------------------------------------------------- */
struct store_kiosk {
	char id[STORE_ID_MAX + 1];
	uint8_t public_key[32];	/* Ed25519 */
	int64_t created;
	int64_t revoked_at;	/* 0 = active */
	int row_ok;		/* MAC: 1 authentic, 0 not, -1 not checked */
};
typedef int (*store_kiosk_fn)(void *ctx, const struct store_kiosk *k);

int store_kiosk_add(struct store *s, const char *id, const uint8_t pk[32],
    struct dt_error *err);			/* DT_E_EXISTS */
/* DT_E_NOTFOUND; DT_E_CRYPTO when the row does not authenticate. */
int store_kiosk_get(struct store *s, const char *id, struct store_kiosk *out,
    struct dt_error *err);
/* DT_E_NOTFOUND, or DT_E_INVALID when already revoked.  Irreversible. */
int store_kiosk_revoke(struct store *s, const char *id, struct dt_error *err);
int store_kiosk_list(struct store *s, store_kiosk_fn fn, void *ctx,
    struct dt_error *err);

/* --- models --------------------------------------------------------------- */
struct store_model {
	char id[STORE_ID_MAX + 1];
	int embedding_dim;
	int active;
	int64_t created;
	int64_t n_templates;
	char *metrics_json;	/* owned, may be NULL */
	uint8_t sha256[32];	/* of the file, recorded at import */
	int has_sha256;		/* 0 for models stored before schema 5 */
	char signer[96];	/* release key that signed it, "" if none */
	uint8_t *bytes;		/* the safetensors file; NULL in lists */
	size_t n_bytes;
	int row_ok;		/* MAC: 1 authentic, 0 not, -1 not checked */
};
typedef int (*store_model_fn)(void *ctx, const struct store_model *m);

/* Adds an inactive model.  METRICS_JSON may be NULL. */
int store_model_add(struct store *s, const char *id, const void *bytes,
    size_t n_bytes, int embedding_dim, const char *metrics_json,
    struct dt_error *err);
/* Records the release key (its printed form) whose signature was verified
 * at import. */
int store_model_set_signer(struct store *s, const char *id,
    const char *signer, struct dt_error *err);
/* ID NULL = the active model (DT_E_NOTFOUND if none).  DT_E_CRYPTO when
 * the row (its active flag) or the bytes do not authenticate under the
 * store key, or the bytes differ from the SHA-256 recorded at import. */
int store_model_get(struct store *s, const char *id, struct store_model **out,
    struct dt_error *err);
void store_model_free(struct store_model *m);
int store_model_list(struct store *s, store_model_fn fn, void *ctx,
    struct dt_error *err);			/* without bytes */
int store_model_set_metrics(struct store *s, const char *id,
    const char *metrics_json, struct dt_error *err);
/* Refuses to delete the active model (DT_E_INVALID). */
int store_model_delete(struct store *s, const char *id, struct dt_error *err);

/*
 * The store does not know the network: for every stored recording this
 * callback turns (samples, fs) into an L2-normalised embedding of DIM floats
 * written to EMB.  Returns 0, or -1 with ERR set (a recording the new model
 * cannot use, say).
 */
typedef int (*store_recompute_fn)(void *ctx, const char *member,
    const float *samples, size_t n_samples, double fs_hz, float *emb, int dim,
    struct dt_error *err);

/*
 * Activates MODEL: recomputes the template of every recording of every member
 * through FN, replaces the model's templates with them and makes it the one
 * active model, all in ONE transaction.  The embeddings are computed first,
 * from a snapshot, without holding the write lock (so the daemon keeps
 * auditing); members changed meanwhile are recomputed under the lock.  On any
 * failure (FN fails for a member: the error names the member) nothing is
 * changed: the old model stays active with its templates.
 */
int store_model_activate(struct store *s, const char *model,
    store_recompute_fn fn, void *ctx, struct dt_error *err);

/* --- audit log ------------------------------------------------------------ */
/*
 * Entry i stores hash_i = BLAKE2b-256(hash_{i-1} || id || ts || actor ||
 * action || subject || detail) (each field length-prefixed, hash_0 = 32 zero
 * bytes), keyed with the subkey "dtaudit1" of the store key (migration 4
 * re-keyed older chains): whoever has the file but not the key cannot
 * rewrite an entry and recompute the chain.  Triggers abort any UPDATE or
 * DELETE on the table.  Deleting the newest entries is seen only against an
 * anchor (the count and the head hash, kept outside the store).
 *
 * For member.*, recording.*, template.* and auth.* entries SUBJECT is given
 * as the member id and recorded as the member's audit id (NULL when no such
 * member exists).
 */
struct store_audit_entry {
	int64_t id;
	int64_t ts;
	const char *actor;
	const char *action;
	const char *subject;	/* may be NULL */
	const char *detail;	/* JSON text, may be NULL */
};
typedef int (*store_audit_fn)(void *ctx, const struct store_audit_entry *e);

/* E.g. actor "kiosk:lobby-1", action "auth.accept", subject member id,
 * detail "{\"score\":0.91}".  Used by the daemon for every decision.  Needs
 * the key (DT_E_CRYPTO without). */
int store_audit_append(struct store *s, const char *actor, const char *action,
    const char *subject, const char *detail, struct dt_error *err);
int store_audit_list(struct store *s, int64_t after_id, store_audit_fn fn,
    void *ctx, struct dt_error *err);
/* *FIRST_BAD = id of the first entry whose hash or link is wrong (or the
 * first id missing), 0 if the whole chain verifies; *N = entries checked.
 * Needs the key. */
int store_audit_verify(struct store *s, int64_t *first_bad, int64_t *n,
    struct dt_error *err);

/* An anchor: the number of entries and the hash of the newest one. */
struct store_audit_anchor {
	int64_t count;
	uint8_t head[32];
	int64_t ts;		/* when it was taken, unix seconds */
};
#define STORE_ANCHOR_LINE_MAX 160
/* The log's anchor now. */
int store_audit_head(struct store *s, struct store_audit_anchor *out,
    struct dt_error *err);
/* 0 when entry A->count exists with hash A->head; DT_E_CRYPTO when entries
 * were deleted or rewritten since A was taken. */
int store_audit_check_anchor(struct store *s,
    const struct store_audit_anchor *a, struct dt_error *err);
/* "dt4ecg-audit-anchor 1 count=N head=<64 hex> time=T" (no newline). */
void store_anchor_format(const struct store_audit_anchor *a, char *buf,
    size_t len);
/* Parses every anchor line of TEXT (a file of one or more; text before
 * "dt4ecg-audit-anchor" on a line, as in a journal excerpt, is ignored;
 * blank lines are skipped): a malloc'd array in *OUT, *N >= 1.  NAME
 * prefixes errors ("NAME:LINE: ..."). */
int store_anchor_parse(const char *name, const char *text, size_t len,
    struct store_audit_anchor **out, size_t *n, struct dt_error *err);

/* --- moving a store to another backend (dt4ecg-admin migrate-store) ----- */
#define STORE_COPY_TABLES 9
struct store_copy_report {
	size_t ntables;
	char table[STORE_COPY_TABLES][24];
	int64_t rows[STORE_COPY_TABLES];	/* copied, per table */
};
/*
 * Copies every row of SRC into DST (a new, empty store at the current
 * schema, opened with the same key) in one transaction on DST, keeping row
 * ids: sealed rows, row MACs and the audit chain (verbatim) stay valid.
 * DT_E_EXISTS when DST is not empty.
 */
int store_copy(struct store *src, struct store *dst,
    struct store_copy_report *r, struct dt_error *err);
/* Opens (decrypts, then wipes) every recording and template of S: the
 * counts, or the first that does not open. */
int store_open_all(struct store *s, int64_t *recordings, int64_t *templates,
    struct dt_error *err);

/* What every store of this process has cost its backends so far: round
 * trips (statements sent) and write transactions (store/db_count.c). */
void store_io_counts(uint64_t *round_trips, uint64_t *write_transactions);

#endif /* STORE_STORE_H */

/*
 * store/store.h — the dt4ecg store: one SQLite file (WAL) holding members,
 * their sealed enrollment recordings and templates, kiosks, models and a
 * hash-chained, append-only audit log (DESIGN.md section 6, issue 5).
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

#include <stddef.h>
#include <stdint.h>

#include "store/crypto.h"
#include "util/error.h"

#define STORE_SCHEMA_VERSION 3	/* newest migration this code knows */
#define STORE_ID_MAX 64		/* member, kiosk, model ids: [A-Za-z0-9._@:-]{1,64} */
#define STORE_NAME_MAX 128	/* display names, bytes */
#define STORE_BUSY_TIMEOUT_MS 5000

struct store;

/* store_open() flags */
#define STORE_CREATE	0x1	/* create the file if missing; a new store is migrated */
#define STORE_MIGRATE	0x2	/* apply pending migrations to an older store */
#define STORE_OLD_OK	0x4	/* open an older store as is (only for store_migrate) */

/*
 * Opens PATH.  KEY may be NULL: then everything but the biometric data works
 * (kiosks, models, audit, member list and erasure) and sealing/opening fails
 * with DT_E_CRYPTO.  The store keeps its own copy of the key.  With a key, a
 * store whose key check does not open with it is refused (DT_E_CRYPTO).
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
/* The underlying connection, for tests and the match index only. */
struct sqlite3 *store_db(struct store *s);

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
};
typedef int (*store_member_fn)(void *ctx, const struct store_member *m);

int store_member_add(struct store *s, const char *id, const char *display_name,
    struct dt_error *err);			/* DT_E_EXISTS */
int store_member_get(struct store *s, const char *id, struct store_member *out,
    struct dt_error *err);			/* DT_E_NOTFOUND */
/* Calls FN for every member in id order; a non-zero return stops the walk
 * and is returned. */
int store_member_list(struct store *s, store_member_fn fn, void *ctx,
    struct dt_error *err);
int store_member_set_locked(struct store *s, const char *id,
    int64_t locked_until, struct dt_error *err);
/*
 * Erasure: removes the member, every recording and every template of theirs
 * in one transaction, then checkpoints.  The audit entry records only that an
 * erasure happened, with a keyed BLAKE2b of the id (so whoever holds the key
 * and the id can confirm it; the log alone does not name them).  Entries
 * written earlier (enrollment, decisions) keep the pseudonymous id: the log is
 * append-only; display names never enter the audit log.
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

/* --- kiosks --------------------------------------------------------------- */
struct store_kiosk {
	char id[STORE_ID_MAX + 1];
	uint8_t public_key[32];	/* Ed25519 */
	int64_t created;
	int64_t revoked_at;	/* 0 = active */
};
typedef int (*store_kiosk_fn)(void *ctx, const struct store_kiosk *k);

int store_kiosk_add(struct store *s, const char *id, const uint8_t pk[32],
    struct dt_error *err);			/* DT_E_EXISTS */
int store_kiosk_get(struct store *s, const char *id, struct store_kiosk *out,
    struct dt_error *err);			/* DT_E_NOTFOUND */
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
	uint8_t *bytes;		/* the safetensors file; NULL in lists */
	size_t n_bytes;
};
typedef int (*store_model_fn)(void *ctx, const struct store_model *m);

/* Adds an inactive model.  METRICS_JSON may be NULL. */
int store_model_add(struct store *s, const char *id, const void *bytes,
    size_t n_bytes, int embedding_dim, const char *metrics_json,
    struct dt_error *err);
/* ID NULL = the active model (DT_E_NOTFOUND if none). */
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
 * bytes).  Triggers abort any UPDATE or DELETE on the table.
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
 * detail "{\"score\":0.91}".  Used by the daemon for every decision. */
int store_audit_append(struct store *s, const char *actor, const char *action,
    const char *subject, const char *detail, struct dt_error *err);
int store_audit_list(struct store *s, int64_t after_id, store_audit_fn fn,
    void *ctx, struct dt_error *err);
/* *FIRST_BAD = id of the first entry whose hash or link is wrong, 0 if the
 * whole chain verifies; *N = entries checked. */
int store_audit_verify(struct store *s, int64_t *first_bad, int64_t *n,
    struct dt_error *err);

#endif /* STORE_STORE_H */

/* store/store.c — opening a store on its backend (SQLite file or
 * PostgreSQL), transactions and the helpers the entity files share
 * (member.c, recording.c, kiosk.c, model.c, migrate.c).  See store.h. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store/store.h"
#include "store/store_int.h"
#include "store/db_sqlite.h"
#include "util/text.h"

#define KEYCHECK_AD "dt4ecg-store-keycheck"

/* ---- helpers ------------------------------------------------------------ */

int
store_sql_error(struct store *s, struct dt_error *err, const char *what)
{
	enum dt_errc code = DT_E_INTERNAL;

	switch (sdb_errc(s->db)) {
	case SDB_E_BUSY:
	case SDB_E_CONN:
		code = DT_E_BUSY;
		break;
	case SDB_E_CONSTRAINT:
	case SDB_E_UNIQUE:
		code = DT_E_INVALID;
		break;
	case SDB_E_FORMAT:
		code = DT_E_FORMAT;
		break;
	case SDB_E_IO:
		code = DT_E_IO;
		break;
	case SDB_E_NOMEM:
		code = DT_E_NOMEM;
		break;
	default:
		break;
	}
	return dt_error_set(err, code, "%s: %s: %s", s->path, what,
	    sdb_errmsg(s->db));
}

int
store_prepare(struct store *s, const char *sql, struct sdb_stmt **st,
    struct dt_error *err)
{
	if (sdb_prepare(s->db, sql, st) == -1)
		return store_sql_error(s, err, "prepare");
	return 0;
}

int
store_exec(struct store *s, const char *sql, struct dt_error *err)
{
	if (sdb_exec(s->db, sql) == -1)
		return store_sql_error(s, err, sql);
	return 0;
}

/* Prepares SQL with the text ID (when not NULL) bound to ?1. */
int
store_prepare_id(struct store *s, const char *sql, const char *id,
    struct sdb_stmt **st, struct dt_error *err)
{
	if (store_prepare(s, sql, st, err) == -1)
		return -1;
	if (id != NULL)
		sdb_bind_text(*st, 1, id);
	return 0;
}

/* Prepares SQL with the row id RID bound to ?1. */
int
store_prepare_rid(struct store *s, const char *sql, int64_t rid, struct sdb_stmt **st,
    struct dt_error *err)
{
	if (store_prepare(s, sql, st, err) == -1)
		return -1;
	sdb_bind_int64(*st, 1, rid);
	return 0;
}

/* Steps ST, a statement without rows: the SQLite error of OP on failure. */
int
store_step_done(struct store *s, struct sdb_stmt *st, const char *op,
    struct dt_error *err)
{
	if (sdb_step(st) != SDB_DONE)
		return store_sql_error(s, err, op);
	return 0;
}

/* Steps ST, the INSERT of WHAT ID: DT_E_EXISTS "WHAT ID already exists"
 * when a unique key refuses it, else the SQL error of "WHAT add". */
int
store_step_insert(struct store *s, struct sdb_stmt *st, const char *what,
    const char *id, struct dt_error *err)
{
	char op[32];

	if (sdb_step(st) == SDB_DONE)
		return 0;
	if (sdb_errc(s->db) == SDB_E_UNIQUE)
		return dt_error_set(err, DT_E_EXISTS, "%s %s already exists",
		    what, id);
	snprintf(op, sizeof(op), "%s add", what);
	return store_sql_error(s, err, op);
}

int
store_step_returning(struct store *s, struct sdb_stmt *st, int64_t *id,
    const char *op, struct dt_error *err)
{
	if (sdb_step(st) != SDB_ROW)
		return store_sql_error(s, err, op);
	*id = sdb_column_int64(st, 0);
	if (sdb_step(st) != SDB_DONE)
		return store_sql_error(s, err, op);
	return 0;
}

/* Ends a loop over the rows of ST (finalized): RC, or the SQLite error of
 * OP when RC is 0 and the last step Q did not reach the end. */
int
store_rows_end(struct store *s, struct sdb_stmt *st, int rc, int q, const char *op,
    struct dt_error *err)
{
	if (rc == 0 && q != SDB_DONE)
		rc = store_sql_error(s, err, op);
	sdb_finalize(st);
	return rc;
}

/* Runs SQL (no rows) with RID bound to ?1: the SQLite error of OP. */
int
store_exec_rid(struct store *s, const char *sql, int64_t rid, const char *op,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (store_prepare_rid(s, sql, rid, &st, err) == -1)
		return -1;
	q = sdb_step(st);
	sdb_finalize(st);
	return q == SDB_DONE ? 0 : store_sql_error(s, err, op);
}

/*
 * Steps ST to the row of WHAT ID: 0 with ST on it, else -1 with ST
 * finalized and DT_E_NOTFOUND "WHAT ID not found" (ID NULL: "PATH: no
 * active WHAT"), or the SQLite error of "WHAT get".
 */
static int
first_row(struct store *s, struct sdb_stmt *st, const char *what,
    const char *id, struct dt_error *err)
{
	char op[32];
	int q;

	if ((q = sdb_step(st)) == SDB_ROW)
		return 0;
	if (q != SDB_DONE) {
		snprintf(op, sizeof(op), "%s get", what);
		store_sql_error(s, err, op);
	} else if (id != NULL)
		dt_error_set(err, DT_E_NOTFOUND, "%s %s not found", what, id);
	else
		dt_error_set(err, DT_E_NOTFOUND, "%s: no active %s", s->path,
		    what);
	sdb_finalize(st);
	return -1;
}

/* The row of WHAT ID (text, bound to ?1 of SQL; none when NULL). */
int
store_get_row(struct store *s, const char *sql, const char *what, const char *id,
    struct sdb_stmt **st, struct dt_error *err)
{
	if (store_prepare_id(s, sql, id, st, err) == -1)
		return -1;
	return first_row(s, *st, what, id, err);
}

/* The row of WHAT ID (a row id, bound to ?1 of SQL). */
int
store_get_row_rid(struct store *s, const char *sql, const char *what, int64_t id,
    struct sdb_stmt **st, struct dt_error *err)
{
	char num[24];

	if (store_prepare_rid(s, sql, id, st, err) == -1)
		return -1;
	snprintf(num, sizeof(num), "%lld", (long long)id);
	return first_row(s, *st, what, num, err);
}

int
store_valid_id(const char *id)
{
	size_t n;

	if (id == NULL || (n = strlen(id)) == 0 || n > STORE_ID_MAX)
		return 0;
	for (; *id != '\0'; id++)
		if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') ||
		    (*id >= '0' && *id <= '9') || strchr("._@:-", *id) != NULL))
			return 0;
	return 1;
}

int
store_check_id(const char *what, const char *id, struct dt_error *err)
{
	if (!store_valid_id(id))
		return dt_error_set(err, DT_E_INVALID,
		    "%s id \"%.80s\" is invalid (1-%d of A-Z a-z 0-9 . _ @ : -)",
		    what, id ? id : "(null)", STORE_ID_MAX);
	return 0;
}

void
store_copy_text(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

int
store_tx_begin(struct store *s, struct dt_error *err)
{
	if (s->depth == 0) {
		/* One writer at a time on either backend: SQLite's write lock;
		 * on PostgreSQL a transaction-scoped advisory lock, which also
		 * serialises the audit chain's appends across replicas. */
		if (store_exec(s, sdb_kind(s->db) == SDB_PG ? "BEGIN; SELECT "
		    "pg_advisory_xact_lock(" STORE_PG_LOCK ")" :
		    "BEGIN IMMEDIATE", err) == -1) {
			if (sdb_kind(s->db) == SDB_PG)
				sdb_exec(s->db, "ROLLBACK");
			return -1;
		}
		s->failed = 0;
	} else if (store_exec(s, "SAVEPOINT sp", err) == -1)
		return -1;
	s->depth++;
	return 0;
}

int
store_tx_end(struct store *s, int ok, struct dt_error *err)
{
	struct dt_error tmp;

	if (s->depth <= 0)
		return dt_error_set(err, DT_E_INTERNAL, "%s: no transaction",
		    s->path);
	s->depth--;
	if (s->depth > 0) {
		if (ok)
			return store_exec(s, "RELEASE sp", err);
		store_exec(s, "ROLLBACK TO sp", &tmp);
		store_exec(s, "RELEASE sp", &tmp);
		return -1;
	}
	if (ok && !s->failed) {
		if (store_exec(s, "COMMIT", err) == -1) {
			store_exec(s, "ROLLBACK", &tmp);
			return -1;
		}
		s->write_gen++;
		return 0;
	}
	store_exec(s, "ROLLBACK", &tmp);
	return -1;
}

int
store_read_begin(struct store *s, struct dt_error *err)
{
	return store_exec(s, sdb_kind(s->db) == SDB_PG ? "BEGIN ISOLATION LEVEL "
	    "REPEATABLE READ READ ONLY" : "BEGIN", err);
}

int
store_begin(struct store *s, struct dt_error *err)
{
	return store_tx_begin(s, err);
}

int
store_commit(struct store *s, struct dt_error *err)
{
	if (s->depth == 1 && s->failed) {
		store_tx_end(s, 0, err);
		return dt_error_set(err, DT_E_INVALID,
		    "%s: a change in this transaction failed: rolled back",
		    s->path);
	}
	return store_tx_end(s, 1, err);
}

void
store_rollback(struct store *s)
{
	if (s->depth > 0)
		store_tx_end(s, 0, NULL);
}

/* Ends an operation's own (sub)transaction; a failed inner operation marks
 * the enclosing transaction so store_commit() refuses it. */
int
store_op_end(struct store *s, int rc, struct dt_error *err)
{
	if (rc == 0)
		return store_tx_end(s, 1, err);
	if (s->depth > 1)
		s->failed = 1;
	store_tx_end(s, 0, NULL);
	return -1;
}

int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

/* Returns the rowid of member ID, 0 if absent, -1 on error. */
int64_t
store_member_rid(struct store *s, const char *id, struct dt_error *err)
{
	struct sdb_stmt *st;
	int64_t rid = 0;
	int rc;

	if (store_prepare_id(s, "SELECT rid FROM members WHERE id = ?", id, &st, err))
		return -1;
	rc = sdb_step(st);
	if (rc == SDB_ROW)
		rid = sdb_column_int64(st, 0);
	else if (rc != SDB_DONE)
		rid = store_sql_error(s, err, "member lookup");
	sdb_finalize(st);
	return rid;
}

int64_t
store_need_member(struct store *s, const char *id, struct dt_error *err)
{
	int64_t rid;

	if (store_check_id("member", id, err) == -1)
		return -1;
	if ((rid = store_member_rid(s, id, err)) == 0)
		return dt_error_set(err, DT_E_NOTFOUND, "member %s not found", id);
	return rid;
}

/* Model rowid and dim; 0 if absent. */
int64_t
store_model_rid(struct store *s, const char *id, int *dim, int *active,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	int64_t rid = 0;
	int rc;

	if (store_prepare_id(s, "SELECT rid, embedding_dim, active FROM models "
	    "WHERE id = ?", id, &st, err))
		return -1;
	rc = sdb_step(st);
	if (rc == SDB_ROW) {
		rid = sdb_column_int64(st, 0);
		if (dim)
			*dim = sdb_column_int(st, 1);
		if (active)
			*active = sdb_column_int(st, 2);
	} else if (rc != SDB_DONE)
		rid = store_sql_error(s, err, "model lookup");
	sdb_finalize(st);
	return rid;
}

static int
key_check(struct store *s, struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	uint8_t zero[32] = { 0 }, *blob = NULL, *plain = NULL;
	size_t bloblen, plainlen;
	int rc = -1, r;

	if (store_prepare(s, "SELECT value FROM meta WHERE key = 'keycheck'",
	    &st, err) == -1)
		return -1;
	r = sdb_step(st);
	if (r == SDB_ROW) {
		if (store_unseal(s->key, KEYCHECK_AD, sdb_column_blob(st, 0),
		    (size_t)sdb_column_bytes(st, 0), &plain, &plainlen,
		    err) == -1) {
			dt_error_set(err, DT_E_CRYPTO, "%s: the store key does not "
			    "open this store (wrong key file or credential?)",
			    s->path);
			goto out;
		}
		free(plain);
		rc = 0;
		goto out;
	}
	if (r != SDB_DONE) {
		store_sql_error(s, err, "key check");
		goto out;
	}
	sdb_finalize(st);
	st = NULL;
	if (store_seal(s->key, KEYCHECK_AD, zero, sizeof(zero), &blob, &bloblen,
	    err) == -1)
		goto out;
	if (store_prepare(s, "INSERT INTO meta(key, value) VALUES "
	    "('keycheck', ?) ON CONFLICT(key) DO NOTHING", &st, err) == -1)
		goto out;
	sdb_bind_blob(st, 1, blob, (int)bloblen);
	if (store_step_done(s, st, "key check", err) == -1)
		goto out;
	rc = 0;
out:
	sdb_finalize(st);
	free(blob);
	return rc;
}

/* SQLite: foreign keys, secure_delete, WAL with synchronous=NORMAL. */
static int
sqlite_setup(struct store *s, struct dt_error *err)
{
	struct sdb_stmt *st;
	int wal = 0;

	if (store_exec(s, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;", err))
		return -1;
	if (store_prepare(s, "PRAGMA journal_mode = WAL", &st, err) == -1)
		return -1;
	if (sdb_step(st) == SDB_ROW && sdb_column_text(st, 0) != NULL &&
	    strcmp(sdb_column_text(st, 0), "wal") == 0)
		wal = 1;
	sdb_finalize(st);
	if (!wal)
		return store_sql_error(s, err, "cannot switch to WAL mode");
	return store_exec(s, "PRAGMA synchronous = NORMAL", err);
}

/* Connects to the backend PATH names (a file or a postgresql:// URI). */
static int
connect_db(struct store *s, const char *path, int flags, struct dt_error *err)
{
	char msg[512];

	if (sdb_is_pg_uri(path)) {
		char *r;

		if ((r = store_pg_redact(path)) == NULL)
			return dt_error_set(err, DT_E_NOMEM, "out of memory");
		free(s->path);
		s->path = r;	/* messages never show a password */
		if (store_pg_open(path, &s->db, msg, sizeof(msg)) == -1)
			return dt_error_set(err, DT_E_BUSY, "store %s: %s",
			    s->path, msg);
		return 0;
	}
	if (sdb_sqlite_open(path, flags & STORE_CREATE, &s->db, msg,
	    sizeof(msg)) == -1)
		return dt_error_set(err, (flags & STORE_CREATE) ? DT_E_IO :
		    DT_E_NOTFOUND, "store %s: %s", path, msg);
	return sqlite_setup(s, err);
}

int
store_open(const char *path, const struct store_key *key, int flags,
    struct store **out, struct dt_error *err)
{
	struct store *s;
	int v, ntables = 0, n = STORE_SCHEMA_VERSION;

	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
	}
	snprintf(s->actor, sizeof(s->actor), "admin");
	if (key != NULL && store_key_dup(key, &s->key, err) == -1)
		goto fail;
	if (connect_db(s, path, flags, err) == -1 ||
	    store_schema_version(s, &v, err) == -1)
		goto fail;
	if (v > n) {
		dt_error_set(err, DT_E_VERSION,
		    "%s was written by a newer dt4ecg (schema version %d, this "
		    "program knows up to %d): upgrade dt4ecg to open it", s->path,
		    v, n);
		goto fail;
	}
	if (v == 0) {
		if (store_query_int(s, sdb_kind(s->db) == SDB_PG ?
		    "SELECT count(*) FROM information_schema.tables WHERE "
		    "table_schema = current_schema() AND table_name <> "
		    "'dt4ecg_schema'" : "SELECT count(*) FROM sqlite_master",
		    &ntables, err) == -1)
			goto fail;
		if (ntables > 0) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s is a database but not a dt4ecg store", s->path);
			goto fail;
		}
	}
	if (v < n) {
		if ((flags & STORE_MIGRATE) || (v == 0 && (flags & STORE_CREATE) &&
		    !(flags & STORE_OLD_OK))) {
			if (store_migrate(s, 0, err) == -1)
				goto fail;
			v = n;
		} else if (!(flags & STORE_OLD_OK)) {
			if (v == 0)
				dt_error_set(err, DT_E_NOTFOUND, "%s is not an "
				    "initialised store (run dt4ecg-admin init)",
				    s->path);
			else
				dt_error_set(err, DT_E_VERSION, "%s is at schema "
				    "version %d, this program needs %d: run "
				    "dt4ecg-admin migrate", s->path, v, n);
			goto fail;
		}
	}
	if (v >= 1 && s->key != NULL && key_check(s, err) == -1)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return -1;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->depth > 0 && s->db != NULL)
		sdb_exec(s->db, "ROLLBACK");
	sdb_close(s->db);
	store_key_free(s->key);
	free(s->path);
	free(s);
}

void
store_set_actor(struct store *s, const char *actor)
{
	snprintf(s->actor, sizeof(s->actor), "%s", actor ? actor : "admin");
}

const struct store_key *
store_key(const struct store *s)
{
	return s->key;
}

struct sqlite3 *
store_db(struct store *s)
{
	return sdb_sqlite_handle(s->db);
}

int
store_sql(struct store *s, const char *sql, int64_t *out,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (out == NULL)
		return store_exec(s, sql, err);
	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	*out = 0;
	if ((q = sdb_step(st)) == SDB_ROW)
		*out = sdb_column_int64(st, 0);
	sdb_finalize(st);
	return q == SDB_ROW || q == SDB_DONE ? 0 : store_sql_error(s, err, sql);
}

int
store_ping(struct store *s, struct dt_error *err)
{
	return store_exec(s, "SELECT 1", err);
}

int
store_is_pg(const struct store *s)
{
	return sdb_kind(s->db) == SDB_PG;
}

struct sdb *
store_sdb(struct store *s)
{
	return s->db;
}

int
store_data_version(struct store *s, int64_t *dv, struct dt_error *err)
{
	struct sdb_stmt *st;
	int q;

	if (sdb_kind(s->db) == SDB_PG)
		return store_pg_data_version(s, dv, err);
	if (store_prepare(s, "PRAGMA data_version", &st, err) == -1)
		return -1;
	if ((q = sdb_step(st)) == SDB_ROW)
		*dv = sdb_column_int64(st, 0);
	sdb_finalize(st);
	return q == SDB_ROW ? 0 : store_sql_error(s, err, "data version");
}

int
store_checkpoint(struct store *s, struct dt_error *err)
{
	if (sdb_kind(s->db) != SDB_SQLITE)	/* the server's own business */
		return 0;
	if (sdb_sqlite_checkpoint(s->db) == -1)
		return store_sql_error(s, err, "checkpoint");
	return 0;
}

int
store_integrity_check(struct store *s, struct dt_error *err)
{
	struct sdb_stmt *st;
	int rc = -1;

	if (sdb_kind(s->db) == SDB_PG)	/* the server checks its own pages */
		return store_query_int(s, "SELECT 0", &rc, err);
	if (store_prepare(s, "PRAGMA integrity_check", &st, err) == -1)
		return -1;
	if (sdb_step(st) == SDB_ROW) {
		const char *r = (const char *)sdb_column_text(st, 0);
		if (r != NULL && strcmp(r, "ok") == 0)
			rc = 0;
		else
			dt_error_set(err, DT_E_FORMAT, "%s: integrity check: %s",
			    s->path, r ? r : "?");
	} else
		store_sql_error(s, err, "integrity check");
	sdb_finalize(st);
	if (rc == 0 && store_query_int(s, "SELECT count(*) FROM pragma_foreign_key_check",
	    &rc, err) == 0 && rc != 0)
		return dt_error_set(err, DT_E_FORMAT, "%s: %d foreign key "
		    "violations", s->path, rc);
	return rc == 0 ? 0 : -1;
}


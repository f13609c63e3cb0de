/* store/store.c — schema, migrations, transactions, members, recordings,
 * templates, kiosks, models and activation.  See store.h. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/text.h"

/* Migration N brings the schema from version N-1 to N.  Append only. */
static const char *const migrations[] = {
	/* 1: the base schema */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
	"CREATE TABLE members("
	"  rid INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  display_name TEXT,"
	"  created INTEGER NOT NULL,"
	"  locked_until INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE recordings("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  member INTEGER NOT NULL REFERENCES members(rid) ON DELETE CASCADE,"
	"  fs_hz REAL NOT NULL CHECK (fs_hz > 0),"
	"  n_samples INTEGER NOT NULL CHECK (n_samples > 0),"
	"  sealed BLOB NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX recordings_member ON recordings(member);"
	"CREATE TABLE models("
	"  rid INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  bytes BLOB NOT NULL,"
	"  embedding_dim INTEGER NOT NULL CHECK (embedding_dim > 0),"
	"  metrics TEXT,"
	"  created INTEGER NOT NULL,"
	"  active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)));"
	"CREATE UNIQUE INDEX models_one_active ON models(active) WHERE active = 1;"
	"CREATE TRIGGER models_keep_active BEFORE DELETE ON models"
	"  WHEN old.active = 1 BEGIN"
	"  SELECT RAISE(ABORT, 'the active model cannot be deleted'); END;"
	"CREATE TABLE templates("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  member INTEGER NOT NULL REFERENCES members(rid) ON DELETE CASCADE,"
	"  model INTEGER NOT NULL REFERENCES models(rid) ON DELETE CASCADE,"
	"  recording INTEGER REFERENCES recordings(id) ON DELETE CASCADE,"
	"  dim INTEGER NOT NULL CHECK (dim > 0),"
	"  sealed BLOB NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX templates_member ON templates(member, model);"
	"CREATE INDEX templates_model ON templates(model);"
	"CREATE INDEX templates_recording ON templates(recording);"
	"CREATE TABLE kiosks("
	"  id TEXT PRIMARY KEY,"
	"  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
	"  created INTEGER NOT NULL,"
	"  revoked_at INTEGER);"
	"CREATE TRIGGER kiosks_stay_revoked BEFORE UPDATE ON kiosks"
	"  WHEN old.revoked_at IS NOT NULL BEGIN"
	"  SELECT RAISE(ABORT, 'a revoked kiosk stays revoked'); END;"
	"CREATE TABLE audit("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  subject TEXT,"
	"  detail TEXT,"
	"  prev_hash BLOB NOT NULL,"
	"  hash BLOB NOT NULL);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN"
	"  SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN"
	"  SELECT RAISE(ABORT, 'the audit log is append-only'); END;",

	/* 2: change tracking for the incremental reload of the match index:
	 * one row per member whose recordings/templates changed, with a
	 * monotonic sequence number (rowids only: no member id survives
	 * an erasure here). */
	"CREATE TABLE changes(member INTEGER PRIMARY KEY, seq INTEGER NOT NULL);"
	"CREATE INDEX changes_seq ON changes(seq);"
#define CHG(tbl, ev, who) \
	"CREATE TRIGGER " #tbl "_" #ev "_chg AFTER " #ev " ON " #tbl " BEGIN" \
	"  INSERT INTO changes(member, seq) VALUES (" who ","		\
	"    (SELECT coalesce(max(seq), 0) + 1 FROM changes))"		\
	"  ON CONFLICT(member) DO UPDATE SET seq = excluded.seq; END;"
	CHG(templates, INSERT, "new.member")
	CHG(templates, DELETE, "old.member")
	CHG(templates, UPDATE, "new.member")
	CHG(recordings, INSERT, "new.member")
	CHG(recordings, DELETE, "old.member")
	CHG(members, DELETE, "old.rid")
#undef CHG
	,

	/* 3: what guards the door across restarts and daemons sharing the
	 * store (store/guard.h): accepted nonces (hashed) with the horizon
	 * in meta, consecutive failures per member (by row id: erasure
	 * takes them) and per kiosk, and the kiosk lock. */
	"CREATE TABLE nonces(h BLOB PRIMARY KEY, created INTEGER NOT NULL)"
	"  WITHOUT ROWID;"
	"CREATE INDEX nonces_created ON nonces(created);"
	"CREATE TABLE member_failures("
	"  member INTEGER PRIMARY KEY REFERENCES members(rid) ON DELETE CASCADE,"
	"  fails INTEGER NOT NULL);"
	"CREATE TABLE kiosk_failures("
	"  kiosk TEXT PRIMARY KEY,"
	"  fails INTEGER NOT NULL DEFAULT 0,"
	"  locked_until INTEGER NOT NULL DEFAULT 0);",

	/* 4: row MACs and member audit ids (issue 13 point 7, issue 14
	 * point 5).  store_migrate_c() (rowmac.c) then computes the MACs,
	 * gives every member an audit id, re-keys the audit chain with
	 * pseudonymous subjects and puts audit_no_update back. */
	"ALTER TABLE members ADD COLUMN audit_id TEXT;"
	"ALTER TABLE members ADD COLUMN mac BLOB;"
	"CREATE UNIQUE INDEX members_audit_id ON members(audit_id);"
	"ALTER TABLE kiosks ADD COLUMN mac BLOB;"
	"ALTER TABLE models ADD COLUMN digest BLOB;"
	"ALTER TABLE models ADD COLUMN mac BLOB;"
	"DROP TRIGGER kiosks_stay_revoked;"
	"CREATE TRIGGER kiosks_stay_revoked BEFORE UPDATE OF id, public_key,"
	"  created, revoked_at ON kiosks WHEN old.revoked_at IS NOT NULL BEGIN"
	"  SELECT RAISE(ABORT, 'a revoked kiosk stays revoked'); END;"
	"DROP TRIGGER audit_no_update;",

	/* 5: a model's SHA-256, recorded at import and checked at every
	 * load (store_model_get), and the release key that signed it */
	"ALTER TABLE models ADD COLUMN sha256 BLOB"
	"  CHECK (sha256 IS NULL OR length(sha256) = 32);"
	"ALTER TABLE models ADD COLUMN signer TEXT;",
};

#define KEYCHECK_AD "dt4ecg-store-keycheck"

/* ---- helpers ------------------------------------------------------------ */

int
store_sql_error(struct store *s, struct dt_error *err, const char *what)
{
	int rc = sqlite3_errcode(s->db);
	enum dt_errc code = DT_E_INTERNAL;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = DT_E_BUSY;
		break;
	case SQLITE_CONSTRAINT:
		code = DT_E_INVALID;
		break;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		code = DT_E_FORMAT;
		break;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
	case SQLITE_READONLY:
		code = DT_E_IO;
		break;
	case SQLITE_NOMEM:
		code = DT_E_NOMEM;
		break;
	}
	return dt_error_set(err, code, "%s: %s: %s", s->path, what,
	    sqlite3_errmsg(s->db));
}

int
store_prepare(struct store *s, const char *sql, sqlite3_stmt **st,
    struct dt_error *err)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return store_sql_error(s, err, "prepare");
	return 0;
}

static int
exec(struct store *s, const char *sql, struct dt_error *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_sql_error(s, err, sql);
	return 0;
}

/* Prepares SQL with the text ID (when not NULL) bound to ?1. */
static int
prepare_id(struct store *s, const char *sql, const char *id,
    sqlite3_stmt **st, struct dt_error *err)
{
	if (store_prepare(s, sql, st, err) == -1)
		return -1;
	if (id != NULL)
		sqlite3_bind_text(*st, 1, id, -1, SQLITE_STATIC);
	return 0;
}

/* Prepares SQL with the row id RID bound to ?1. */
static int
prepare_rid(struct store *s, const char *sql, int64_t rid, sqlite3_stmt **st,
    struct dt_error *err)
{
	if (store_prepare(s, sql, st, err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, rid);
	return 0;
}

/* Steps ST, a statement without rows: the SQLite error of OP on failure. */
static int
step_done(struct store *s, sqlite3_stmt *st, const char *op,
    struct dt_error *err)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_error(s, err, op);
	return 0;
}

/* Steps ST, the INSERT of WHAT ID: DT_E_EXISTS "WHAT ID already exists"
 * when the extended result code is TAKEN, else the SQLite error of
 * "WHAT add". */
static int
step_insert(struct store *s, sqlite3_stmt *st, const char *what,
    const char *id, int taken, struct dt_error *err)
{
	char op[32];

	if (sqlite3_step(st) == SQLITE_DONE)
		return 0;
	if (sqlite3_extended_errcode(s->db) == taken)
		return dt_error_set(err, DT_E_EXISTS, "%s %s already exists",
		    what, id);
	snprintf(op, sizeof(op), "%s add", what);
	return store_sql_error(s, err, op);
}

/* Ends a loop over the rows of ST (finalized): RC, or the SQLite error of
 * OP when RC is 0 and the last step Q did not reach the end. */
static int
rows_end(struct store *s, sqlite3_stmt *st, int rc, int q, const char *op,
    struct dt_error *err)
{
	if (rc == 0 && q != SQLITE_DONE)
		rc = store_sql_error(s, err, op);
	sqlite3_finalize(st);
	return rc;
}

/* Runs SQL (no rows) with RID bound to ?1: the SQLite error of OP. */
static int
exec_rid(struct store *s, const char *sql, int64_t rid, const char *op,
    struct dt_error *err)
{
	sqlite3_stmt *st;
	int q;

	if (prepare_rid(s, sql, rid, &st, err) == -1)
		return -1;
	q = sqlite3_step(st);
	sqlite3_finalize(st);
	return q == SQLITE_DONE ? 0 : store_sql_error(s, err, op);
}

/*
 * Steps ST to the row of WHAT ID: 0 with ST on it, else -1 with ST
 * finalized and DT_E_NOTFOUND "WHAT ID not found" (ID NULL: "PATH: no
 * active WHAT"), or the SQLite error of "WHAT get".
 */
static int
first_row(struct store *s, sqlite3_stmt *st, const char *what,
    const char *id, struct dt_error *err)
{
	char op[32];
	int q;

	if ((q = sqlite3_step(st)) == SQLITE_ROW)
		return 0;
	if (q != SQLITE_DONE) {
		snprintf(op, sizeof(op), "%s get", what);
		store_sql_error(s, err, op);
	} else if (id != NULL)
		dt_error_set(err, DT_E_NOTFOUND, "%s %s not found", what, id);
	else
		dt_error_set(err, DT_E_NOTFOUND, "%s: no active %s", s->path,
		    what);
	sqlite3_finalize(st);
	return -1;
}

/* The row of WHAT ID (text, bound to ?1 of SQL; none when NULL). */
static int
get_row(struct store *s, const char *sql, const char *what, const char *id,
    sqlite3_stmt **st, struct dt_error *err)
{
	if (prepare_id(s, sql, id, st, err) == -1)
		return -1;
	return first_row(s, *st, what, id, err);
}

/* The row of WHAT ID (a row id, bound to ?1 of SQL). */
static int
get_row_rid(struct store *s, const char *sql, const char *what, int64_t id,
    sqlite3_stmt **st, struct dt_error *err)
{
	char num[24];

	if (prepare_rid(s, sql, id, st, err) == -1)
		return -1;
	snprintf(num, sizeof(num), "%lld", (long long)id);
	return first_row(s, *st, what, num, err);
}

static int
valid_id(const char *id)
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

static int
check_id(const char *what, const char *id, struct dt_error *err)
{
	if (!valid_id(id))
		return dt_error_set(err, DT_E_INVALID,
		    "%s id \"%.80s\" is invalid (1-%d of A-Z a-z 0-9 . _ @ : -)",
		    what, id ? id : "(null)", STORE_ID_MAX);
	return 0;
}

static void
copy_text(char *dst, size_t len, const unsigned char *src)
{
	snprintf(dst, len, "%s", src ? (const char *)src : "");
}

int
store_tx_begin(struct store *s, struct dt_error *err)
{
	if (s->depth == 0) {
		if (exec(s, "BEGIN IMMEDIATE", err) == -1)
			return -1;
		s->failed = 0;
	} else if (exec(s, "SAVEPOINT sp", err) == -1)
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
			return exec(s, "RELEASE sp", err);
		exec(s, "ROLLBACK TO sp", &tmp);
		exec(s, "RELEASE sp", &tmp);
		return -1;
	}
	if (ok && !s->failed) {
		if (exec(s, "COMMIT", err) == -1) {
			exec(s, "ROLLBACK", &tmp);
			return -1;
		}
		s->write_gen++;
		return 0;
	}
	exec(s, "ROLLBACK", &tmp);
	return -1;
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
static int
op_end(struct store *s, int rc, struct dt_error *err)
{
	if (rc == 0)
		return store_tx_end(s, 1, err);
	if (s->depth > 1)
		s->failed = 1;
	store_tx_end(s, 0, NULL);
	return -1;
}

static int64_t
now(void)
{
	return (int64_t)time(NULL);
}

/* Returns the rowid of member ID, 0 if absent, -1 on error. */
static int64_t
member_rid(struct store *s, const char *id, struct dt_error *err)
{
	sqlite3_stmt *st;
	int64_t rid = 0;
	int rc;

	if (prepare_id(s, "SELECT rid FROM members WHERE id = ?", id, &st, err))
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rid = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		rid = store_sql_error(s, err, "member lookup");
	sqlite3_finalize(st);
	return rid;
}

static int64_t
need_member(struct store *s, const char *id, struct dt_error *err)
{
	int64_t rid;

	if (check_id("member", id, err) == -1)
		return -1;
	if ((rid = member_rid(s, id, err)) == 0)
		return dt_error_set(err, DT_E_NOTFOUND, "member %s not found", id);
	return rid;
}

/* Model rowid and dim; 0 if absent. */
static int64_t
model_rid(struct store *s, const char *id, int *dim, int *active,
    struct dt_error *err)
{
	sqlite3_stmt *st;
	int64_t rid = 0;
	int rc;

	if (prepare_id(s, "SELECT rid, embedding_dim, active FROM models "
	    "WHERE id = ?", id, &st, err))
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rid = sqlite3_column_int64(st, 0);
		if (dim)
			*dim = sqlite3_column_int(st, 1);
		if (active)
			*active = sqlite3_column_int(st, 2);
	} else if (rc != SQLITE_DONE)
		rid = store_sql_error(s, err, "model lookup");
	sqlite3_finalize(st);
	return rid;
}

/* ---- open, migrate ------------------------------------------------------ */

static int
pragma_int(struct store *s, const char *sql, int *out, struct dt_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return store_sql_error(s, err, sql);
	return 0;
}

int
store_schema_version(struct store *s, int *version, struct dt_error *err)
{
	return pragma_int(s, "PRAGMA user_version", version, err);
}

int
store_migrate(struct store *s, int target, struct dt_error *err)
{
	char sql[64];
	int v, n = (int)(sizeof(migrations) / sizeof(migrations[0]));

	if (target == 0)
		target = n;
	if (target < 0 || target > n)
		return dt_error_set(err, DT_E_INVALID,
		    "%s: no migration to schema version %d (newest %d)",
		    s->path, target, n);
	for (;;) {
		if (store_tx_begin(s, err) == -1)
			return -1;
		/* re-read under the write lock: another process may migrate too */
		if (store_schema_version(s, &v, err) == -1)
			return store_tx_end(s, 0, NULL);
		if (v > n) {
			store_tx_end(s, 0, NULL);
			return dt_error_set(err, DT_E_VERSION,
			    "%s was written by a newer dt4ecg (schema version %d, "
			    "this program knows up to %d)", s->path, v, n);
		}
		if (v >= target) {
			if (store_tx_end(s, 1, err) == -1)
				return -1;
			if (s->depth == 0)	/* no old subject left in the WAL */
				(void)store_checkpoint(s, NULL);
			return 0;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(s, migrations[v], err) == -1 ||
		    store_migrate_c(s, v + 1, err) == -1 ||
		    exec(s, sql, err) == -1) {
			dt_error_prefix(err, "migration %d", v + 1);
			store_tx_end(s, 0, NULL);
			return -1;
		}
		if (store_tx_end(s, 1, err) == -1)
			return -1;
	}
}

static int
key_check(struct store *s, struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	uint8_t zero[32] = { 0 }, *blob = NULL, *plain = NULL;
	size_t bloblen, plainlen;
	int rc = -1, r;

	if (store_prepare(s, "SELECT value FROM meta WHERE key = 'keycheck'",
	    &st, err) == -1)
		return -1;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		if (store_unseal(s->key, KEYCHECK_AD, sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), &plain, &plainlen,
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
	if (r != SQLITE_DONE) {
		store_sql_error(s, err, "key check");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (store_seal(s->key, KEYCHECK_AD, zero, sizeof(zero), &blob, &bloblen,
	    err) == -1)
		goto out;
	if (store_prepare(s, "INSERT OR IGNORE INTO meta(key, value) "
	    "VALUES ('keycheck', ?)", &st, err) == -1)
		goto out;
	sqlite3_bind_blob(st, 1, blob, (int)bloblen, SQLITE_STATIC);
	if (step_done(s, st, "key check", err) == -1)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(st);
	free(blob);
	return rc;
}

int
store_open(const char *path, const struct store_key *key, int flags,
    struct store **out, struct dt_error *err)
{
	struct store *s;
	char *mode = NULL;
	sqlite3_stmt *st;
	int v, ntables = 0, n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
	}
	snprintf(s->actor, sizeof(s->actor), "admin");
	if (key != NULL && store_key_dup(key, &s->key, err) == -1)
		goto fail;
	if (flags & STORE_CREATE)
		oflags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
		if (s->db == NULL) {
			dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
			goto fail;
		}
		dt_error_set(err, (flags & STORE_CREATE) ? DT_E_IO : DT_E_NOTFOUND,
		    "store %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if (exec(s, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;", err))
		goto fail;
	if (store_prepare(s, "PRAGMA journal_mode = WAL", &st, err) == -1)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		mode = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		sqlite3_free(mode);
		store_sql_error(s, err, "cannot switch to WAL mode");
		goto fail;
	}
	sqlite3_free(mode);
	if (exec(s, "PRAGMA synchronous = NORMAL", err) == -1 ||
	    store_schema_version(s, &v, err) == -1)
		goto fail;
	if (v > n) {
		dt_error_set(err, DT_E_VERSION,
		    "%s was written by a newer dt4ecg (schema version %d, this "
		    "program knows up to %d): upgrade dt4ecg to open it", path, v, n);
		goto fail;
	}
	if (v == 0) {
		if (pragma_int(s, "SELECT count(*) FROM sqlite_master", &ntables,
		    err) == -1)
			goto fail;
		if (ntables > 0) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s is an SQLite database but not a dt4ecg store", path);
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
				    "initialised store (run dt4ecg-admin init)", path);
			else
				dt_error_set(err, DT_E_VERSION, "%s is at schema "
				    "version %d, this program needs %d: run "
				    "dt4ecg-admin migrate", path, v, n);
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
	if (s->depth > 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close_v2(s->db);
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
	return s->db;
}

int
store_checkpoint(struct store *s, struct dt_error *err)
{
	int log = 0, ckpt = 0;

	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    &log, &ckpt) != SQLITE_OK)
		return store_sql_error(s, err, "checkpoint");
	return 0;
}

int
store_integrity_check(struct store *s, struct dt_error *err)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (store_prepare(s, "PRAGMA integrity_check", &st, err) == -1)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		if (r != NULL && strcmp(r, "ok") == 0)
			rc = 0;
		else
			dt_error_set(err, DT_E_FORMAT, "%s: integrity check: %s",
			    s->path, r ? r : "?");
	} else
		store_sql_error(s, err, "integrity check");
	sqlite3_finalize(st);
	if (rc == 0 && pragma_int(s, "SELECT count(*) FROM pragma_foreign_key_check",
	    &rc, err) == 0 && rc != 0)
		return dt_error_set(err, DT_E_FORMAT, "%s: %d foreign key "
		    "violations", s->path, rc);
	return rc == 0 ? 0 : -1;
}

/* ---- members ------------------------------------------------------------ */

int
store_member_add(struct store *s, const char *id, const char *display_name,
    struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (check_id("member", id, err) == -1)
		return -1;
	if (display_name != NULL && strlen(display_name) > STORE_NAME_MAX)
		return dt_error_set(err, DT_E_INVALID, "member %s: display name "
		    "longer than %d bytes", id, STORE_NAME_MAX);
	/* It is sent to kiosks as JSON: UTF-8 without control characters. */
	if (display_name != NULL && (!dt_utf8_valid(display_name,
	    strlen(display_name)) || dt_has_control(display_name)))
		return dt_error_set(err, DT_E_INVALID, "member %s: display name "
		    "is not UTF-8 text (invalid byte sequence or control "
		    "character)", id);
	if (store_tx_begin(s, err) == -1)
		return -1;
	if (store_prepare(s, "INSERT INTO members(id, display_name, created) "
	    "VALUES (?, ?, ?)", &st, err) == -1)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, display_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now());
	if (step_insert(s, st, "member", id, SQLITE_CONSTRAINT_UNIQUE, err) ||
	    store_rowmac_member_update(s, id, err))
		goto out;
	rc = store_audit_append_tx(s, s->actor, "member.add", id, NULL, err);
out:
	sqlite3_finalize(st);
	return op_end(s, rc, err);
}

#define MEMBER_COLS "m.id, m.display_name, m.created, m.locked_until, " \
	"(SELECT count(*) FROM recordings WHERE member = m.rid), " \
	"(SELECT count(*) FROM templates WHERE member = m.rid), m.audit_id, " \
	"m.mac FROM members m "

static void
member_row(struct store *s, sqlite3_stmt *st, struct store_member *m)
{
	memset(m, 0, sizeof(*m));
	copy_text(m->id, sizeof(m->id), sqlite3_column_text(st, 0));
	copy_text(m->display_name, sizeof(m->display_name),
	    sqlite3_column_text(st, 1));
	m->created = sqlite3_column_int64(st, 2);
	m->locked_until = sqlite3_column_int64(st, 3);
	m->n_recordings = sqlite3_column_int(st, 4);
	m->n_templates = sqlite3_column_int(st, 5);
	copy_text(m->audit_id, sizeof(m->audit_id), sqlite3_column_text(st, 6));
	m->row_ok = store_rowmac_member_ok(s, m->id, m->locked_until,
	    sqlite3_column_type(st, 6) == SQLITE_NULL ? NULL : m->audit_id,
	    sqlite3_column_blob(st, 7), sqlite3_column_bytes(st, 7));
}

int
store_member_get(struct store *s, const char *id, struct store_member *out,
    struct dt_error *err)
{
	sqlite3_stmt *st;

	if (check_id("member", id, err) == -1 ||
	    get_row(s, "SELECT " MEMBER_COLS "WHERE m.id = ?", "member", id,
	    &st, err) == -1)
		return -1;
	member_row(s, st, out);
	sqlite3_finalize(st);
	if (out->row_ok == 0)
		return dt_error_set(err, DT_E_CRYPTO, "member %s: the row does "
		    "not authenticate under the store key (changed outside "
		    "dt4ecg?): refused", id);
	return 0;
}

int
store_member_list(struct store *s, store_member_fn fn, void *ctx,
    struct dt_error *err)
{
	struct store_member m;
	sqlite3_stmt *st;
	int rc = 0, r;

	if (store_prepare(s, "SELECT " MEMBER_COLS "ORDER BY m.id", &st, err))
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		member_row(s, st, &m);
		if ((rc = fn(ctx, &m)) != 0)
			break;
	}
	return rows_end(s, st, rc, r, "member list", err);
}

int
store_member_set_locked(struct store *s, const char *id, int64_t locked_until,
    struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	char detail[64];
	int rc = -1;

	if (store_tx_begin(s, err) == -1)
		return -1;
	if (need_member(s, id, err) == -1)
		goto out;
	if (store_prepare(s, "UPDATE members SET locked_until = ? WHERE id = ?",
	    &st, err) == -1)
		goto out;
	sqlite3_bind_int64(st, 1, locked_until);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (step_done(s, st, "member lock", err) == -1 ||
	    store_rowmac_member_update(s, id, err) == -1)
		goto out;
	snprintf(detail, sizeof(detail), "{\"locked_until\":%lld}",
	    (long long)locked_until);
	rc = store_audit_append_tx(s, s->actor, "member.lock", id, detail, err);
out:
	sqlite3_finalize(st);
	return op_end(s, rc, err);
}

static int
count_where(struct store *s, const char *sql, int64_t rid, int64_t *n,
    struct dt_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare_rid(s, sql, rid, &st, err) == -1)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_sql_error(s, err, sql);
}

int
store_member_delete(struct store *s, const char *id, struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	char detail[96];
	int64_t rid, nrec = 0, ntpl = 0;
	int rc = -1, outer = s->depth == 0;

	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((rid = need_member(s, id, err)) == -1)
		goto out;
	if (count_where(s, "SELECT count(*) FROM recordings WHERE member = ?",
	    rid, &nrec, err) == -1 || count_where(s, "SELECT count(*) FROM "
	    "templates WHERE member = ?", rid, &ntpl, err) == -1)
		goto out;
	/* templates first (they reference recordings), then the rest */
	if (prepare_rid(s, "DELETE FROM templates WHERE member = ?1; ", rid,
	    &st, err) || step_done(s, st, "erase templates", err))
		goto out;
	sqlite3_finalize(st);
	if (prepare_rid(s, "DELETE FROM members WHERE rid = ?", rid, &st, err))
		goto out;
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(s->db) != 1) {
		store_sql_error(s, err, "erase member");
		goto out;
	}
	/* nothing that names or links to the member: no subject, no hash */
	snprintf(detail, sizeof(detail), "{\"recordings\":%lld,"
	    "\"templates\":%lld}", (long long)nrec, (long long)ntpl);
	rc = store_audit_append_tx(s, s->actor, "member.erase", NULL, detail, err);
out:
	sqlite3_finalize(st);
	if (op_end(s, rc, err) == -1)
		return -1;
	if (outer)	/* move the zeroed pages into the file, empty the WAL */
		(void)store_checkpoint(s, NULL);
	return 0;
}

/* ---- recordings --------------------------------------------------------- */

static void
recording_ad(char *buf, size_t len, const char *member, int64_t id)
{
	snprintf(buf, len, "recording:%s:%lld", member, (long long)id);
}

void
store_template_ad(char *buf, size_t len, const char *member, const char *model,
    int64_t id)
{
	snprintf(buf, len, "template:%s:%s:%lld", member, model, (long long)id);
}

/* Seals PLAIN into row ID of TABLE (whose id is part of the AD). */
static int
seal_into(struct store *s, const char *table, int64_t id, const char *ad,
    const void *plain, size_t len, struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	uint8_t *blob = NULL;
	size_t bloblen;
	char sql[96];
	int rc = -1;

	if (store_seal(s->key, ad, plain, len, &blob, &bloblen, err) == -1)
		return -1;
	snprintf(sql, sizeof(sql), "UPDATE %s SET sealed = ? WHERE id = ?", table);
	if (store_prepare(s, sql, &st, err) == -1)
		goto out;
	sqlite3_bind_blob(st, 1, blob, (int)bloblen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if (step_done(s, st, "seal", err) == -1)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(st);
	free(blob);
	return rc;
}

int
store_recording_add(struct store *s, const char *member, const float *samples,
    size_t n, double fs_hz, int64_t *id_out, struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	char ad[128], detail[128];
	int64_t rid, id = 0;
	int rc = -1;

	if (s->key == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "recording of member %s: "
		    "the store was opened without its key", member);
	if (n == 0 || n > (size_t)(INT32_MAX / sizeof(float)) - 64 ||
	    !isfinite(fs_hz) || fs_hz <= 0)
		return dt_error_set(err, DT_E_INVALID, "recording of member %s: "
		    "bad length (%zu samples) or sample rate", member, n);
	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((rid = need_member(s, member, err)) == -1)
		goto out;
	if (store_prepare(s, "INSERT INTO recordings(member, fs_hz, n_samples, "
	    "sealed, created) VALUES (?, ?, ?, x'', ?)", &st, err) == -1)
		goto out;
	sqlite3_bind_int64(st, 1, rid);
	sqlite3_bind_double(st, 2, fs_hz);
	sqlite3_bind_int64(st, 3, (int64_t)n);
	sqlite3_bind_int64(st, 4, now());
	if (step_done(s, st, "recording add", err) == -1)
		goto out;
	id = sqlite3_last_insert_rowid(s->db);
	recording_ad(ad, sizeof(ad), member, id);
	if (seal_into(s, "recordings", id, ad, samples, n * sizeof(float), err))
		goto out;
	snprintf(detail, sizeof(detail), "{\"recording\":%lld,\"fs_hz\":%g,"
	    "\"n_samples\":%zu}", (long long)id, fs_hz, n);
	rc = store_audit_append_tx(s, s->actor, "recording.add", member, detail,
	    err);
out:
	sqlite3_finalize(st);
	if (op_end(s, rc, err) == -1)
		return -1;
	if (id_out)
		*id_out = id;
	return 0;
}

void
store_recording_free(struct store_recording *r)
{
	if (r == NULL)
		return;
	if (r->samples != NULL) {
		sodium_memzero(r->samples, r->n_samples * sizeof(float));
		free(r->samples);
	}
	free(r);
}

#define REC_COLS "SELECT r.id, m.id, r.fs_hz, r.n_samples, r.sealed, " \
	"r.created, r.member FROM recordings r JOIN members m ON m.rid = r.member "

/* Opens the recording of the current row into R (samples owned by R). */
static int
recording_row(struct store *s, sqlite3_stmt *st, struct store_recording *r,
    struct dt_error *err)
{
	char ad[128];
	uint8_t *plain;
	size_t len;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	copy_text(r->member, sizeof(r->member), sqlite3_column_text(st, 1));
	r->fs_hz = sqlite3_column_double(st, 2);
	r->n_samples = (size_t)sqlite3_column_int64(st, 3);
	r->created = sqlite3_column_int64(st, 5);
	recording_ad(ad, sizeof(ad), r->member, r->id);
	if (store_unseal(s->key, ad, sqlite3_column_blob(st, 4),
	    (size_t)sqlite3_column_bytes(st, 4), &plain, &len, err) == -1)
		return -1;
	if (len != r->n_samples * sizeof(float)) {
		sodium_memzero(plain, len);
		free(plain);
		return dt_error_set(err, DT_E_FORMAT, "%s: %zu bytes for %zu "
		    "samples", ad, len, r->n_samples);
	}
	r->samples = (float *)(void *)plain;
	return 0;
}

int
store_recording_get(struct store *s, int64_t id, struct store_recording **out,
    struct dt_error *err)
{
	struct store_recording *r;
	sqlite3_stmt *st;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "recording %lld: out of memory",
		    (long long)id);
	if (get_row_rid(s, REC_COLS "WHERE r.id = ?", "recording", id, &st,
	    err) == -1) {
		free(r);
		return -1;
	}
	rc = recording_row(s, st, r, err);
	sqlite3_finalize(st);
	if (rc == -1) {
		store_recording_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int
store_recording_foreach(struct store *s, const char *member,
    store_recording_fn fn, void *ctx, struct dt_error *err)
{
	struct store_recording r;
	sqlite3_stmt *st;
	int64_t rid;
	int rc = 0, q;

	if ((rid = need_member(s, member, err)) == -1)
		return -1;
	if (prepare_rid(s, REC_COLS "WHERE r.member = ? ORDER BY r.id", rid,
	    &st, err) == -1)
		return -1;
	while ((q = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = recording_row(s, st, &r, err)) == -1)
			break;
		rc = fn(ctx, &r);
		sodium_memzero(r.samples, r.n_samples * sizeof(float));
		free(r.samples);
		if (rc != 0)
			break;
	}
	return rows_end(s, st, rc, q, "recording list", err);
}

/* ---- templates ---------------------------------------------------------- */

/* Inserts a sealed template row (no audit); the caller holds a transaction. */
static int
template_insert(struct store *s, int64_t mrid, const char *member,
    int64_t modrid, const char *model, const float *emb, int dim,
    int64_t recording, int64_t *id_out, struct dt_error *err)
{
	sqlite3_stmt *st;
	char ad[192];
	int64_t id;

	if (store_prepare(s, "INSERT INTO templates(member, model, recording, "
	    "dim, sealed, created) VALUES (?, ?, ?, ?, x'', ?)", &st, err) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, mrid);
	sqlite3_bind_int64(st, 2, modrid);
	if (recording > 0)
		sqlite3_bind_int64(st, 3, recording);
	sqlite3_bind_int(st, 4, dim);
	sqlite3_bind_int64(st, 5, now());
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_sql_error(s, err, "template add");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	id = sqlite3_last_insert_rowid(s->db);
	store_template_ad(ad, sizeof(ad), member, model, id);
	if (seal_into(s, "templates", id, ad, emb, (size_t)dim * sizeof(float),
	    err) == -1)
		return -1;
	if (id_out)
		*id_out = id;
	return 0;
}

static int
check_embedding(const char *member, const char *model, const float *emb,
    int dim, int want, struct dt_error *err)
{
	int i;

	if (dim != want)
		return dt_error_set(err, DT_E_INVALID, "template of member %s: "
		    "%d values, model %s has embedding_dim %d", member, dim,
		    model, want);
	for (i = 0; i < dim; i++)
		if (!isfinite(emb[i]))
			return dt_error_set(err, DT_E_INVALID, "template of member "
			    "%s for model %s: non-finite value", member, model);
	return 0;
}

int
store_template_add(struct store *s, const char *member, const char *model,
    const float *emb, int dim, int64_t recording_id, int64_t *id_out,
    struct dt_error *err)
{
	char detail[128];
	int64_t mrid, modrid, id = 0;
	int want = 0, rc = -1;

	if (s->key == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "template of member %s: the "
		    "store was opened without its key", member);
	if (check_id("model", model, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((mrid = need_member(s, member, err)) == -1)
		goto out;
	if ((modrid = model_rid(s, model, &want, NULL, err)) <= 0) {
		if (modrid == 0)
			dt_error_set(err, DT_E_NOTFOUND, "model %s not found", model);
		goto out;
	}
	if (check_embedding(member, model, emb, dim, want, err) == -1)
		goto out;
	if (template_insert(s, mrid, member, modrid, model, emb, dim,
	    recording_id, &id, err) == -1)
		goto out;
	snprintf(detail, sizeof(detail), "{\"template\":%lld,\"model\":\"%s\"}",
	    (long long)id, model);
	rc = store_audit_append_tx(s, s->actor, "template.add", member, detail,
	    err);
out:
	if (op_end(s, rc, err) == -1)
		return -1;
	if (id_out)
		*id_out = id;
	return 0;
}

int
store_template_get(struct store *s, int64_t id, float **emb, int *dim,
    struct dt_error *err)
{
	sqlite3_stmt *st;
	char ad[192];
	uint8_t *plain;
	size_t len;
	int rc = -1, d;

	if (get_row_rid(s, "SELECT m.id, o.id, t.dim, t.sealed FROM templates t "
	    "JOIN members m ON m.rid = t.member JOIN models o ON o.rid = t.model "
	    "WHERE t.id = ?", "template", id, &st, err) == -1)
		return -1;
	store_template_ad(ad, sizeof(ad), (const char *)sqlite3_column_text(st, 0),
	    (const char *)sqlite3_column_text(st, 1), id);
	d = sqlite3_column_int(st, 2);
	if (store_unseal(s->key, ad, sqlite3_column_blob(st, 3),
	    (size_t)sqlite3_column_bytes(st, 3), &plain, &len, err) == 0) {
		if (len != (size_t)d * sizeof(float)) {
			sodium_memzero(plain, len);
			free(plain);
			dt_error_set(err, DT_E_FORMAT, "%s: bad length", ad);
		} else {
			*emb = (float *)(void *)plain;
			*dim = d;
			rc = 0;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_template_delete_member(struct store *s, const char *member,
    const char *model, struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	char detail[128];
	int64_t mrid, modrid;
	int rc = -1;

	if (check_id("model", model, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((mrid = need_member(s, member, err)) == -1)
		goto out;
	if ((modrid = model_rid(s, model, NULL, NULL, err)) <= 0) {
		if (modrid == 0)
			dt_error_set(err, DT_E_NOTFOUND, "model %s not found", model);
		goto out;
	}
	if (store_prepare(s, "DELETE FROM templates WHERE member = ? AND "
	    "model = ?", &st, err) == -1)
		goto out;
	sqlite3_bind_int64(st, 1, mrid);
	sqlite3_bind_int64(st, 2, modrid);
	if (step_done(s, st, "template delete", err) == -1)
		goto out;
	snprintf(detail, sizeof(detail), "{\"model\":\"%s\",\"templates\":%d}",
	    model, sqlite3_changes(s->db));
	rc = store_audit_append_tx(s, s->actor, "template.delete", member,
	    detail, err);
out:
	sqlite3_finalize(st);
	return op_end(s, rc, err);
}

/* ---- kiosks ------------------------------------------------------------- */

int
store_kiosk_add(struct store *s, const char *id, const uint8_t pk[32],
    struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	char hex[65], detail[96];
	int rc = -1;

	if (check_id("kiosk", id, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if (store_prepare(s, "INSERT INTO kiosks(id, public_key, created) "
	    "VALUES (?, ?, ?)", &st, err) == -1)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, pk, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now());
	if (step_insert(s, st, "kiosk", id, SQLITE_CONSTRAINT_PRIMARYKEY, err) ||
	    store_rowmac_kiosk_update(s, id, err))
		goto out;
	sodium_bin2hex(hex, sizeof(hex), pk, 32);
	snprintf(detail, sizeof(detail), "{\"public_key\":\"%s\"}", hex);
	rc = store_audit_append_tx(s, s->actor, "kiosk.add", id, detail, err);
out:
	sqlite3_finalize(st);
	return op_end(s, rc, err);
}

static void
kiosk_row(struct store *s, sqlite3_stmt *st, struct store_kiosk *k)
{
	memset(k, 0, sizeof(*k));
	copy_text(k->id, sizeof(k->id), sqlite3_column_text(st, 0));
	if (sqlite3_column_bytes(st, 1) == 32)
		memcpy(k->public_key, sqlite3_column_blob(st, 1), 32);
	k->created = sqlite3_column_int64(st, 2);
	k->revoked_at = sqlite3_column_int64(st, 3);
	k->row_ok = store_rowmac_kiosk_ok(s, k, sqlite3_column_blob(st, 4),
	    sqlite3_column_bytes(st, 4));
}

int
store_kiosk_get(struct store *s, const char *id, struct store_kiosk *out,
    struct dt_error *err)
{
	sqlite3_stmt *st;

	if (check_id("kiosk", id, err) == -1 ||
	    get_row(s, "SELECT id, public_key, created, revoked_at, mac FROM "
	    "kiosks WHERE id = ?", "kiosk", id, &st, err) == -1)
		return -1;
	kiosk_row(s, st, out);
	sqlite3_finalize(st);
	if (out->row_ok == 0)
		return dt_error_set(err, DT_E_CRYPTO, "kiosk %s: the row does "
		    "not authenticate under the store key (added or changed "
		    "outside dt4ecg?): refused", id);
	return 0;
}

int
store_kiosk_revoke(struct store *s, const char *id, struct dt_error *err)
{
	struct store_kiosk k;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (store_tx_begin(s, err) == -1)
		return -1;
	if (store_kiosk_get(s, id, &k, err) == -1)
		goto out;
	if (k.revoked_at != 0) {
		dt_error_set(err, DT_E_INVALID, "kiosk %s is already revoked", id);
		goto out;
	}
	if (store_prepare(s, "UPDATE kiosks SET revoked_at = ? WHERE id = ?",
	    &st, err) == -1)
		goto out;
	sqlite3_bind_int64(st, 1, now() > 0 ? now() : 1);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (step_done(s, st, "kiosk revoke", err) == -1 ||
	    store_rowmac_kiosk_update(s, id, err) == -1)
		goto out;
	rc = store_audit_append_tx(s, s->actor, "kiosk.revoke", id, NULL, err);
out:
	sqlite3_finalize(st);
	return op_end(s, rc, err);
}

int
store_kiosk_list(struct store *s, store_kiosk_fn fn, void *ctx,
    struct dt_error *err)
{
	struct store_kiosk k;
	sqlite3_stmt *st;
	int rc = 0, q;

	if (store_prepare(s, "SELECT id, public_key, created, revoked_at, mac "
	    "FROM kiosks ORDER BY id", &st, err) == -1)
		return -1;
	while ((q = sqlite3_step(st)) == SQLITE_ROW) {
		kiosk_row(s, st, &k);
		if ((rc = fn(ctx, &k)) != 0)
			break;
	}
	return rows_end(s, st, rc, q, "kiosk list", err);
}

/* ---- models ------------------------------------------------------------- */

int
store_model_add(struct store *s, const char *id, const void *bytes,
    size_t n_bytes, int embedding_dim, const char *metrics_json,
    struct dt_error *err)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	sqlite3_stmt *st = NULL;
	char detail[128];
	int rc = -1;

	if (check_id("model", id, err) == -1)
		return -1;
	if (embedding_dim <= 0 || n_bytes == 0 || n_bytes > INT32_MAX)
		return dt_error_set(err, DT_E_INVALID, "model %s: empty, too large "
		    "or bad embedding_dim %d", id, embedding_dim);
	if (store_tx_begin(s, err) == -1)
		return -1;
	crypto_hash_sha256(h, bytes, n_bytes);
	if (store_prepare(s, "INSERT INTO models(id, bytes, embedding_dim, "
	    "metrics, created, sha256) VALUES (?, ?, ?, ?, ?, ?)", &st,
	    err) == -1)
		goto out;
	sqlite3_bind_blob(st, 6, h, sizeof(h), SQLITE_STATIC);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, bytes, (int)n_bytes, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, embedding_dim);
	sqlite3_bind_text(st, 4, metrics_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now());
	if (step_insert(s, st, "model", id, SQLITE_CONSTRAINT_UNIQUE, err) ||
	    store_rowmac_models_update(s, err))
		goto out;
	snprintf(detail, sizeof(detail), "{\"bytes\":%zu,\"embedding_dim\":%d}",
	    n_bytes, embedding_dim);
	rc = store_audit_append_tx(s, s->actor, "model.add", id, detail, err);
out:
	sqlite3_finalize(st);
	return op_end(s, rc, err);
}

void
store_model_free(struct store_model *m)
{
	if (m == NULL)
		return;
	free(m->metrics_json);
	free(m->bytes);
	free(m);
}

#define MODEL_COLS "SELECT o.id, o.embedding_dim, o.active, o.created, " \
	"(SELECT count(*) FROM templates WHERE model = o.rid), o.metrics, " \
	"o.rid, o.digest, o.mac, o.sha256, o.signer "

static int
model_row(struct store *s, sqlite3_stmt *st, struct store_model *m,
    int with_bytes)
{
	const unsigned char *t;

	memset(m, 0, sizeof(*m));
	copy_text(m->id, sizeof(m->id), sqlite3_column_text(st, 0));
	m->embedding_dim = sqlite3_column_int(st, 1);
	m->active = sqlite3_column_int(st, 2);
	m->created = sqlite3_column_int64(st, 3);
	m->n_templates = sqlite3_column_int64(st, 4);
	m->row_ok = store_rowmac_model_ok(s, sqlite3_column_int64(st, 6),
	    m->id, m->embedding_dim, m->active, sqlite3_column_blob(st, 7),
	    sqlite3_column_bytes(st, 7), sqlite3_column_blob(st, 8),
	    sqlite3_column_bytes(st, 8));
	if ((t = sqlite3_column_text(st, 5)) != NULL &&
	    (m->metrics_json = strdup((const char *)t)) == NULL)
		return -1;
	if (sqlite3_column_bytes(st, 9) == (int)sizeof(m->sha256)) {
		memcpy(m->sha256, sqlite3_column_blob(st, 9),
		    sizeof(m->sha256));
		m->has_sha256 = 1;
	}
	copy_text(m->signer, sizeof(m->signer), sqlite3_column_text(st, 10));
	if (with_bytes) {
		m->n_bytes = (size_t)sqlite3_column_bytes(st, 11);
		if ((m->bytes = malloc(m->n_bytes ? m->n_bytes : 1)) == NULL)
			return -1;
		if (m->n_bytes)
			memcpy(m->bytes, sqlite3_column_blob(st, 11), m->n_bytes);
		if (m->row_ok == 1 && !store_rowmac_model_bytes_ok(
		    sqlite3_column_blob(st, 7), sqlite3_column_bytes(st, 7),
		    m->bytes, m->n_bytes))
			m->row_ok = 0;
	}
	return 0;
}

int
store_model_get(struct store *s, const char *id, struct store_model **out,
    struct dt_error *err)
{
	struct store_model *m;
	sqlite3_stmt *st;
	int rc = -1;

	if (id != NULL && check_id("model", id, err) == -1)
		return -1;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "model: out of memory");
	if (get_row(s, id ? MODEL_COLS ", o.bytes FROM models o WHERE o.id = ?"
	    : MODEL_COLS ", o.bytes FROM models o WHERE o.active = 1", "model",
	    id, &st, err) == -1) {
		store_model_free(m);
		return -1;
	}
	if (model_row(s, st, m, 1) == -1)
		dt_error_set(err, DT_E_NOMEM, "model: out of memory");
	else if (m->row_ok == 0)
		dt_error_set(err, DT_E_CRYPTO, "model %s: the row or its bytes do "
		    "not authenticate under the store key (changed outside "
		    "dt4ecg?): refused", m->id);
	else if (m->has_sha256) {
		unsigned char h[crypto_hash_sha256_BYTES];

		crypto_hash_sha256(h, m->bytes, m->n_bytes);
		if (sodium_memcmp(h, m->sha256, sizeof(h)) != 0)
			dt_error_set(err, DT_E_CRYPTO, "model %s: its bytes "
			    "in %s do not match the SHA-256 recorded at import: "
			    "the stored model was altered", m->id, s->path);
		else
			rc = 0;
	} else
		rc = 0;
	sqlite3_finalize(st);
	if (rc == -1) {
		store_model_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

int
store_model_set_signer(struct store *s, const char *id, const char *signer,
    struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (check_id("model", id, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if (store_prepare(s, "UPDATE models SET signer = ? WHERE id = ?", &st,
	    err) == -1)
		goto out;
	sqlite3_bind_text(st, 1, signer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_sql_error(s, err, "model signer");
		goto out;
	}
	if (sqlite3_changes(s->db) == 0) {
		dt_error_set(err, DT_E_NOTFOUND, "model %s: not found", id);
		goto out;
	}
	rc = store_audit_append_tx(s, s->actor, "model.signed", id, NULL,
	    err);
out:
	sqlite3_finalize(st);
	return op_end(s, rc, err);
}

int
store_model_list(struct store *s, store_model_fn fn, void *ctx,
    struct dt_error *err)
{
	struct store_model m;
	sqlite3_stmt *st;
	int rc = 0, q;

	if (store_prepare(s, MODEL_COLS "FROM models o ORDER BY o.created, o.id",
	    &st, err) == -1)
		return -1;
	while ((q = sqlite3_step(st)) == SQLITE_ROW) {
		if (model_row(s, st, &m, 0) == -1) {
			rc = dt_error_set(err, DT_E_NOMEM, "model: out of memory");
			break;
		}
		rc = fn(ctx, &m);
		free(m.metrics_json);
		if (rc != 0)
			break;
	}
	return rows_end(s, st, rc, q, "model list", err);
}

static int
model_simple(struct store *s, const char *id, const char *sql,
    const char *metrics, const char *action, struct dt_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, active = 0;
	int64_t rid;

	if (check_id("model", id, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if ((rid = model_rid(s, id, NULL, &active, err)) <= 0) {
		if (rid == 0)
			dt_error_set(err, DT_E_NOTFOUND, "model %s not found", id);
		goto out;
	}
	if (metrics == NULL && active) {
		dt_error_set(err, DT_E_INVALID, "model %s is the active model: "
		    "activate another one before deleting it", id);
		goto out;
	}
	if (prepare_rid(s, sql, rid, &st, err) == -1)
		goto out;
	if (metrics)
		sqlite3_bind_text(st, 2, metrics, -1, SQLITE_STATIC);
	if (step_done(s, st, action, err) == -1)
		goto out;
	rc = store_audit_append_tx(s, s->actor, action, id, NULL, err);
out:
	sqlite3_finalize(st);
	return op_end(s, rc, err);
}

int
store_model_set_metrics(struct store *s, const char *id,
    const char *metrics_json, struct dt_error *err)
{
	return model_simple(s, id, "UPDATE models SET metrics = ?2 WHERE rid = ?1",
	    metrics_json ? metrics_json : "", "model.metrics", err);
}

int
store_model_delete(struct store *s, const char *id, struct dt_error *err)
{
	return model_simple(s, id, "DELETE FROM models WHERE rid = ?1", NULL,
	    "model.delete", err);
}

/* ---- activation --------------------------------------------------------- */

struct pending {
	int64_t member_rid;
	int64_t recording;
	char member[STORE_ID_MAX + 1];
	float *emb;
};

struct pendings {
	struct pending *v;
	size_t n, cap;
	int dim;
};

static void
pendings_drop(struct pendings *p, size_t i)
{
	if (p->v[i].emb != NULL) {
		sodium_memzero(p->v[i].emb, (size_t)p->dim * sizeof(float));
		free(p->v[i].emb);
		p->v[i].emb = NULL;
	}
}

static void
pendings_free(struct pendings *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		pendings_drop(p, i);
	free(p->v);
}

/* Recomputes the embedding of every recording selected by ST (REC_COLS),
 * appending to P. */
static int
recompute(struct store *s, sqlite3_stmt *st, const char *model,
    store_recompute_fn fn, void *ctx, struct pendings *p, struct dt_error *err)
{
	struct store_recording r;
	struct pending *e;
	int q, rc = 0;

	while (rc == 0 && (q = sqlite3_step(st)) == SQLITE_ROW) {
		if (p->n == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 64;
			void *v = realloc(p->v, cap * sizeof(*p->v));
			if (v == NULL)
				return dt_error_set(err, DT_E_NOMEM,
				    "activate: out of memory");
			p->v = v;
			p->cap = cap;
		}
		if (recording_row(s, st, &r, err) == -1)
			return -1;
		e = &p->v[p->n];
		memset(e, 0, sizeof(*e));
		e->member_rid = sqlite3_column_int64(st, 6);
		e->recording = r.id;
		memcpy(e->member, r.member, sizeof(e->member));
		if ((e->emb = calloc((size_t)p->dim, sizeof(float))) == NULL)
			rc = dt_error_set(err, DT_E_NOMEM, "activate: out of memory");
		else {
			p->n++;
			if (fn(ctx, r.member, r.samples, r.n_samples, r.fs_hz,
			    e->emb, p->dim, err) != 0) {
				dt_error_prefix(err, "model %s: recomputing the "
				    "template of member %s (recording %lld)",
				    model, r.member, (long long)r.id);
				rc = -1;
			} else
				rc = check_embedding(r.member, model, e->emb,
				    p->dim, p->dim, err);
		}
		sodium_memzero(r.samples, r.n_samples * sizeof(float));
		free(r.samples);
	}
	if (rc == 0 && q != SQLITE_DONE)
		rc = store_sql_error(s, err, "activate: reading recordings");
	return rc;
}

static int
max_seq(struct store *s, int64_t *seq, struct dt_error *err)
{
	return count_where(s, "SELECT coalesce(max(seq), 0) + 0 * ? FROM changes",
	    0, seq, err);
}

int
store_model_activate(struct store *s, const char *model,
    store_recompute_fn fn, void *ctx, struct dt_error *err)
{
	struct pendings p = { 0 };
	sqlite3_stmt *st = NULL;
	char detail[192], prev[STORE_ID_MAX + 1] = "";
	int64_t modrid, snap = 0, cur, mrid;
	size_t i, j, ntpl = 0;
	int rc = -1, q;

	if (check_id("model", model, err) == -1)
		return -1;
	if (s->depth != 0)
		return dt_error_set(err, DT_E_INVALID, "activate model %s: not "
		    "inside a transaction", model);
	if (s->key == NULL)
		return dt_error_set(err, DT_E_CRYPTO, "activate model %s: the "
		    "store was opened without its key", model);
	/* phase 1: compute from a read snapshot, without the write lock */
	if (exec(s, "BEGIN", err) == -1)
		return -1;
	if ((modrid = model_rid(s, model, &p.dim, NULL, err)) <= 0) {
		if (modrid == 0)
			dt_error_set(err, DT_E_NOTFOUND, "model %s not found", model);
		exec(s, "ROLLBACK", NULL);
		return -1;
	}
	if (max_seq(s, &snap, err) == -1 ||
	    store_prepare(s, REC_COLS "ORDER BY r.member, r.id", &st, err) == -1 ||
	    recompute(s, st, model, fn, ctx, &p, err) == -1) {
		sqlite3_finalize(st);
		exec(s, "ROLLBACK", NULL);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	exec(s, "COMMIT", NULL);

	/* phase 2: under the write lock, catch up and switch */
	if (store_tx_begin(s, err) == -1)
		goto out;
	if (model_rid(s, model, NULL, NULL, err) != modrid) {
		dt_error_set(err, DT_E_NOTFOUND, "model %s was deleted meanwhile",
		    model);
		goto tx;
	}
	if (max_seq(s, &cur, err) == -1)
		goto tx;
	if (cur != snap) {
		/* members whose recordings changed since the snapshot */
		if (prepare_rid(s, "SELECT member FROM changes WHERE seq > ?",
		    snap, &st, err) == -1)
			goto tx;
		while ((q = sqlite3_step(st)) == SQLITE_ROW) {
			mrid = sqlite3_column_int64(st, 0);
			for (i = 0; i < p.n; i++)
				if (p.v[i].member_rid == mrid)
					pendings_drop(&p, i);
		}
		sqlite3_finalize(st);
		if (prepare_rid(s, REC_COLS "WHERE r.member IN (SELECT member "
		    "FROM changes WHERE seq > ?) ORDER BY r.member, r.id", snap,
		    &st, err) == -1)
			goto tx;
		if (recompute(s, st, model, fn, ctx, &p, err) == -1)
			goto tx;
		sqlite3_finalize(st);
		st = NULL;
	}
	if (store_prepare(s, "SELECT id FROM models WHERE active = 1", &st, err))
		goto tx;
	if (sqlite3_step(st) == SQLITE_ROW)
		copy_text(prev, sizeof(prev), sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (exec_rid(s, "DELETE FROM templates WHERE model = ?", modrid,
	    "activate: dropping old templates", err) == -1)
		goto tx;
	for (j = 0; j < p.n; j++) {
		if (p.v[j].emb == NULL)
			continue;
		if (template_insert(s, p.v[j].member_rid, p.v[j].member, modrid,
		    model, p.v[j].emb, p.dim, p.v[j].recording, NULL, err) == -1)
			goto tx;
		ntpl++;
	}
	if (exec(s, "UPDATE models SET active = 0 WHERE active = 1", err) == -1)
		goto tx;
	if (exec_rid(s, "UPDATE models SET active = 1 WHERE rid = ?", modrid,
	    "activate", err) == -1 || store_rowmac_models_update(s, err) == -1)
		goto tx;
	snprintf(detail, sizeof(detail), "{\"templates\":%zu,\"previous\":\"%s\"}",
	    ntpl, prev);
	rc = store_audit_append_tx(s, s->actor, "model.activate", model, detail,
	    err);
tx:
	sqlite3_finalize(st);
	rc = op_end(s, rc, err);
out:
	pendings_free(&p);
	return rc;
}

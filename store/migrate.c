/* store/migrate.c — the numbered migrations, one list per backend (SQLite,
 * PostgreSQL) with the same numbers and the same tables, and running them.
 * See store.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/text.h"

/* Migration N brings the schema from version N-1 to N.  Append only. */
const char *const store_migrations_sqlite[] = {
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

/*
 * The same migrations on PostgreSQL: bytea for BLOB, bigint identity
 * columns for AUTOINCREMENT, PL/pgSQL trigger functions for RAISE(ABORT),
 * and NOTIFY dt4ecg_changes from every table a replica caches (members,
 * recordings, templates, kiosks, models), so replicas reload at once; the
 * `changes` table stays the source of truth (a reconnecting replica catches
 * up from it).  The schema version is the row of dt4ecg_schema.
 */
const char *const store_migrations_pg[] = {
	/* 1 */
	"CREATE TABLE dt4ecg_schema(version integer NOT NULL);"
	"INSERT INTO dt4ecg_schema VALUES (0);"
	"CREATE FUNCTION dt4ecg_refuse() RETURNS trigger LANGUAGE plpgsql AS"
	"  $$BEGIN RAISE EXCEPTION '%', TG_ARGV[0]"
	"  USING ERRCODE = 'integrity_constraint_violation'; END$$;"
	"CREATE TABLE meta(key text PRIMARY KEY, value bytea);"
	"CREATE TABLE members("
	"  rid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  id text NOT NULL UNIQUE,"
	"  display_name text,"
	"  created bigint NOT NULL,"
	"  locked_until bigint NOT NULL DEFAULT 0);"
	"CREATE TABLE recordings("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  member bigint NOT NULL REFERENCES members(rid) ON DELETE CASCADE,"
	"  fs_hz double precision NOT NULL CHECK (fs_hz > 0),"
	"  n_samples bigint NOT NULL CHECK (n_samples > 0),"
	"  sealed bytea NOT NULL,"
	"  created bigint NOT NULL);"
	"CREATE INDEX recordings_member ON recordings(member);"
	"CREATE TABLE models("
	"  rid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  id text NOT NULL UNIQUE,"
	"  bytes bytea NOT NULL,"
	"  embedding_dim integer NOT NULL CHECK (embedding_dim > 0),"
	"  metrics text,"
	"  created bigint NOT NULL,"
	"  active integer NOT NULL DEFAULT 0 CHECK (active IN (0, 1)));"
	"CREATE UNIQUE INDEX models_one_active ON models(active) WHERE active = 1;"
	"CREATE TRIGGER models_keep_active BEFORE DELETE ON models FOR EACH ROW"
	"  WHEN (old.active = 1) EXECUTE FUNCTION"
	"  dt4ecg_refuse('the active model cannot be deleted');"
	"CREATE TABLE templates("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  member bigint NOT NULL REFERENCES members(rid) ON DELETE CASCADE,"
	"  model bigint NOT NULL REFERENCES models(rid) ON DELETE CASCADE,"
	"  recording bigint REFERENCES recordings(id) ON DELETE CASCADE,"
	"  dim integer NOT NULL CHECK (dim > 0),"
	"  sealed bytea NOT NULL,"
	"  created bigint NOT NULL);"
	"CREATE INDEX templates_member ON templates(member, model);"
	"CREATE INDEX templates_model ON templates(model);"
	"CREATE INDEX templates_recording ON templates(recording);"
	"CREATE TABLE kiosks("
	"  id text PRIMARY KEY,"
	"  public_key bytea NOT NULL CHECK (length(public_key) = 32),"
	"  created bigint NOT NULL,"
	"  revoked_at bigint);"
	"CREATE TRIGGER kiosks_stay_revoked BEFORE UPDATE ON kiosks FOR EACH ROW"
	"  WHEN (old.revoked_at IS NOT NULL) EXECUTE FUNCTION"
	"  dt4ecg_refuse('a revoked kiosk stays revoked');"
	"CREATE TABLE audit("
	"  id bigint PRIMARY KEY,"
	"  ts bigint NOT NULL,"
	"  actor text NOT NULL,"
	"  action text NOT NULL,"
	"  subject text,"
	"  detail text,"
	"  prev_hash bytea NOT NULL,"
	"  hash bytea NOT NULL);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW"
	"  EXECUTE FUNCTION dt4ecg_refuse('the audit log is append-only');"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW"
	"  EXECUTE FUNCTION dt4ecg_refuse('the audit log is append-only');"
	"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
	"  FOR EACH STATEMENT"
	"  EXECUTE FUNCTION dt4ecg_refuse('the audit log is append-only');",

	/* 2 */
	"CREATE TABLE changes(member bigint PRIMARY KEY, seq bigint NOT NULL);"
	"CREATE INDEX changes_seq ON changes(seq);"
	"CREATE FUNCTION dt4ecg_changed() RETURNS trigger LANGUAGE plpgsql AS"
	"  $$DECLARE m bigint; BEGIN"
	"  IF TG_OP = 'DELETE' THEN"
	"    m := (to_jsonb(old) ->> TG_ARGV[0])::bigint;"
	"  ELSE m := (to_jsonb(new) ->> TG_ARGV[0])::bigint; END IF;"
	"  INSERT INTO changes(member, seq) VALUES (m,"
	"    (SELECT coalesce(max(seq), 0) + 1 FROM changes))"
	"    ON CONFLICT(member) DO UPDATE SET seq = excluded.seq;"
	"  RETURN NULL; END$$;"
	"CREATE FUNCTION dt4ecg_notify() RETURNS trigger LANGUAGE plpgsql AS"
	"  $$BEGIN PERFORM pg_notify('dt4ecg_changes', TG_TABLE_NAME);"
	"  RETURN NULL; END$$;"
	"CREATE TRIGGER templates_chg AFTER INSERT OR UPDATE OR DELETE ON"
	"  templates FOR EACH ROW EXECUTE FUNCTION dt4ecg_changed('member');"
	"CREATE TRIGGER recordings_chg AFTER INSERT OR DELETE ON recordings"
	"  FOR EACH ROW EXECUTE FUNCTION dt4ecg_changed('member');"
	"CREATE TRIGGER members_chg AFTER DELETE ON members"
	"  FOR EACH ROW EXECUTE FUNCTION dt4ecg_changed('rid');"
	"CREATE TRIGGER members_ntf AFTER INSERT OR UPDATE OR DELETE ON members"
	"  FOR EACH STATEMENT EXECUTE FUNCTION dt4ecg_notify();"
	"CREATE TRIGGER changes_ntf AFTER INSERT OR UPDATE OR DELETE ON changes"
	"  FOR EACH STATEMENT EXECUTE FUNCTION dt4ecg_notify();"
	"CREATE TRIGGER kiosks_ntf AFTER INSERT OR UPDATE OR DELETE ON kiosks"
	"  FOR EACH STATEMENT EXECUTE FUNCTION dt4ecg_notify();"
	"CREATE TRIGGER models_ntf AFTER INSERT OR UPDATE OR DELETE ON models"
	"  FOR EACH STATEMENT EXECUTE FUNCTION dt4ecg_notify();",

	/* 3: the horizon lives in its own table (meta.value is bytea) */
	"CREATE TABLE nonces(h bytea PRIMARY KEY, created bigint NOT NULL);"
	"CREATE INDEX nonces_created ON nonces(created);"
	"CREATE TABLE nonce_horizon(one integer PRIMARY KEY CHECK (one = 1),"
	"  value bigint NOT NULL);"
	"CREATE TABLE member_failures("
	"  member bigint PRIMARY KEY REFERENCES members(rid) ON DELETE CASCADE,"
	"  fails integer NOT NULL);"
	"CREATE TABLE kiosk_failures("
	"  kiosk text PRIMARY KEY,"
	"  fails integer NOT NULL DEFAULT 0,"
	"  locked_until bigint NOT NULL DEFAULT 0);",

	/* 4 */
	"ALTER TABLE members ADD COLUMN audit_id text;"
	"ALTER TABLE members ADD COLUMN mac bytea;"
	"CREATE UNIQUE INDEX members_audit_id ON members(audit_id);"
	"ALTER TABLE kiosks ADD COLUMN mac bytea;"
	"ALTER TABLE models ADD COLUMN digest bytea;"
	"ALTER TABLE models ADD COLUMN mac bytea;"
	"DROP TRIGGER kiosks_stay_revoked ON kiosks;"
	"CREATE TRIGGER kiosks_stay_revoked BEFORE UPDATE OF id, public_key,"
	"  created, revoked_at ON kiosks FOR EACH ROW"
	"  WHEN (old.revoked_at IS NOT NULL) EXECUTE FUNCTION"
	"  dt4ecg_refuse('a revoked kiosk stays revoked');"
	"DROP TRIGGER audit_no_update ON audit;",

	/* 5 */
	"ALTER TABLE models ADD COLUMN sha256 bytea"
	"  CHECK (sha256 IS NULL OR length(sha256) = 32);"
	"ALTER TABLE models ADD COLUMN signer text;",
};

_Static_assert(sizeof(store_migrations_sqlite) /
    sizeof(store_migrations_sqlite[0]) == STORE_SCHEMA_VERSION,
    "one SQLite migration per schema version");
_Static_assert(sizeof(store_migrations_pg) / sizeof(store_migrations_pg[0]) ==
    STORE_SCHEMA_VERSION, "one PostgreSQL migration per schema version");

/* ---- running them ------------------------------------------------------- */

int
store_query_int(struct store *s, const char *sql, int *out,
    struct dt_error *err)
{
	struct sdb_stmt *st;
	int rc;

	if (store_prepare(s, sql, &st, err) == -1)
		return -1;
	rc = sdb_step(st);
	if (rc == SDB_ROW)
		*out = sdb_column_int(st, 0);
	sdb_finalize(st);
	if (rc != SDB_ROW)
		return store_sql_error(s, err, sql);
	return 0;
}

int
store_schema_version(struct store *s, int *version, struct dt_error *err)
{
	int present = 0;

	if (sdb_kind(s->db) == SDB_SQLITE)
		return store_query_int(s, "PRAGMA user_version", version, err);
	if (store_query_int(s, "SELECT count(*) FROM pg_catalog.pg_tables "
	    "WHERE schemaname = current_schema() AND tablename = "
	    "'dt4ecg_schema'", &present, err) == -1)
		return -1;
	if (!present) {
		*version = 0;
		return 0;
	}
	return store_query_int(s, "SELECT version FROM dt4ecg_schema", version,
	    err);
}

/*
 * SQLite: each migration in its own IMMEDIATE transaction.  PostgreSQL: all
 * pending ones in one transaction, under the store's advisory lock (taken by
 * store_tx_begin), so that two processes never migrate at once.
 */
int
store_migrate(struct store *s, int target, struct dt_error *err)
{
	const char *const *mig = sdb_kind(s->db) == SDB_PG ?
	    store_migrations_pg : store_migrations_sqlite;
	int one_tx = sdb_kind(s->db) == SDB_PG;
	char sql[64];
	int v, n = STORE_SCHEMA_VERSION, open = 0;

	if (target == 0)
		target = n;
	if (target < 0 || target > n)
		return dt_error_set(err, DT_E_INVALID,
		    "%s: no migration to schema version %d (newest %d)",
		    s->path, target, n);
	for (;;) {
		if (!open && store_tx_begin(s, err) == -1)
			return -1;
		open = 1;
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
		if (one_tx)
			snprintf(sql, sizeof(sql), "UPDATE dt4ecg_schema SET "
			    "version = %d", v + 1);
		else
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
			    v + 1);
		if (store_exec(s, mig[v], err) == -1 ||
		    store_migrate_c(s, v + 1, err) == -1 ||
		    store_exec(s, sql, err) == -1) {
			dt_error_prefix(err, "migration %d", v + 1);
			store_tx_end(s, 0, NULL);
			return -1;
		}
		if (!one_tx) {
			if (store_tx_end(s, 1, err) == -1)
				return -1;
			open = 0;
		}
	}
}

/* store/db_sqlite.c — the store's SQL seam (db.h) on an embedded SQLite
 * file: the default backend, one gym, one file in WAL mode. */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/db.h"
#include "store/db_sqlite.h"
#include "store/store.h"

struct lite {
	struct sdb base;
	sqlite3 *db;
};

struct lite_stmt {
	struct sdb_stmt base;
	sqlite3_stmt *st;
};

#define LDB(d) (((struct lite *)(void *)(d))->db)
#define LST(s) (((struct lite_stmt *)(void *)(s))->st)

static int
l_prepare(struct sdb *db, const char *sql, struct sdb_stmt **out)
{
	struct lite_stmt *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->base.db = db;
	if (sqlite3_prepare_v2(LDB(db), sql, -1, &s->st, NULL) != SQLITE_OK) {
		sqlite3_finalize(s->st);
		free(s);
		return -1;
	}
	*out = &s->base;
	return 0;
}

static void
l_bind_int64(struct sdb_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(LST(st), i, v);
}

static void
l_bind_double(struct sdb_stmt *st, int i, double v)
{
	sqlite3_bind_double(LST(st), i, v);
}

static void
l_bind_text(struct sdb_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(LST(st), i, v, -1, SQLITE_STATIC);
}

static void
l_bind_blob(struct sdb_stmt *st, int i, const void *p, size_t n)
{
	sqlite3_bind_blob(LST(st), i, p, (int)n, SQLITE_STATIC);
}

static void
l_bind_null(struct sdb_stmt *st, int i)
{
	sqlite3_bind_null(LST(st), i);
}

static int
l_step(struct sdb_stmt *st)
{
	switch (sqlite3_step(LST(st))) {
	case SQLITE_ROW:
		return SDB_ROW;
	case SQLITE_DONE:
		return SDB_DONE;
	default:
		return SDB_ERROR;
	}
}

static void
l_reset(struct sdb_stmt *st)
{
	sqlite3_reset(LST(st));
}

static void
l_finalize(struct sdb_stmt *st)
{
	sqlite3_finalize(LST(st));
	free(st);
}

static int64_t
l_column_int64(struct sdb_stmt *st, int i)
{
	return sqlite3_column_int64(LST(st), i);
}

static double
l_column_double(struct sdb_stmt *st, int i)
{
	return sqlite3_column_double(LST(st), i);
}

static const char *
l_column_text(struct sdb_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(LST(st), i);
}

static const void *
l_column_blob(struct sdb_stmt *st, int i)
{
	return sqlite3_column_blob(LST(st), i);
}

static size_t
l_column_bytes(struct sdb_stmt *st, int i)
{
	return (size_t)sqlite3_column_bytes(LST(st), i);
}

static int
l_column_null(struct sdb_stmt *st, int i)
{
	return sqlite3_column_type(LST(st), i) == SQLITE_NULL;
}

static int
l_exec(struct sdb *db, const char *sql)
{
	return sqlite3_exec(LDB(db), sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int64_t
l_changes(struct sdb *db)
{
	return sqlite3_changes(LDB(db));
}

static const char *
l_errmsg(struct sdb *db)
{
	return sqlite3_errmsg(LDB(db));
}

static enum sdb_errc
l_errc(struct sdb *db)
{
	int rc = sqlite3_extended_errcode(LDB(db));

	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return SDB_E_UNIQUE;
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return SDB_E_NONE;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return SDB_E_BUSY;
	case SQLITE_CONSTRAINT:
		return SDB_E_CONSTRAINT;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return SDB_E_FORMAT;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
	case SQLITE_READONLY:
		return SDB_E_IO;
	case SQLITE_NOMEM:
		return SDB_E_NOMEM;
	}
	return SDB_E_OTHER;
}

static void
l_close(struct sdb *db)
{
	sqlite3_close_v2(LDB(db));
	free(db);
}

static const struct sdb_ops lite_ops = {
	l_prepare, l_bind_int64, l_bind_double, l_bind_text, l_bind_blob,
	l_bind_null, l_step, l_reset, l_finalize, l_column_int64,
	l_column_double, l_column_text, l_column_blob, l_column_bytes,
	l_column_null, l_exec, l_changes, l_errmsg, l_errc, l_close,
};

int
sdb_sqlite_open(const char *path, int create, struct sdb **out, char *msg,
    size_t msglen)
{
	struct lite *l;
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	l->base.ops = &lite_ops;
	l->base.kind = SDB_SQLITE;
	l->base.serial = sdb_new_serial();
	if (create)
		oflags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &l->db, oflags, NULL) != SQLITE_OK) {
		snprintf(msg, msglen, "%s", l->db ? sqlite3_errmsg(l->db) :
		    "out of memory");
		sqlite3_close_v2(l->db);
		free(l);
		return -1;
	}
	sqlite3_extended_result_codes(l->db, 1);
	sqlite3_busy_timeout(l->db, STORE_BUSY_TIMEOUT_MS);
	*out = &l->base;
	return 0;
}

struct sqlite3 *
sdb_sqlite_handle(struct sdb *db)
{
	return db != NULL && db->kind == SDB_SQLITE ? LDB(db) : NULL;
}

int
sdb_sqlite_in_tx(struct sdb *db)
{
	return !sqlite3_get_autocommit(LDB(db));
}

int
sdb_sqlite_checkpoint(struct sdb *db)
{
	int log = 0, ckpt = 0;

	return sqlite3_wal_checkpoint_v2(LDB(db), NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, &log, &ckpt) == SQLITE_OK ? 0 : -1;
}

uint64_t
sdb_new_serial(void)
{
	static _Atomic uint64_t next = 1;

	return atomic_fetch_add(&next, 1);
}

int
sdb_is_pg_uri(const char *where)
{
	return where != NULL && (strncmp(where, "postgresql://", 13) == 0 ||
	    strncmp(where, "postgres://", 11) == 0);
}

/*
 * store/db.h — the seam between the store and its SQL backend (issue 15).
 *
 * The store's files (members, recordings, kiosks, models, audit, guards,
 * the match loader) speak SQL through these calls only; db_sqlite.c runs
 * them on an embedded SQLite file, db_pg.c on PostgreSQL through libpq.
 * The API follows SQLite's statement model: prepare, bind (1-based; a bound
 * text or blob must stay valid until the statement is stepped or reset),
 * step (SDB_ROW / SDB_DONE / SDB_ERROR), read columns (0-based; valid until
 * the next step), reset, finalize.  Placeholders are written "?" or "?N";
 * the PostgreSQL backend rewrites them as "$N".  SQL that differs between
 * the dialects is chosen with sdb_kind().
 */
#ifndef STORE_DB_H
#define STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDB_ROW		100
#define SDB_DONE	101
#define SDB_ERROR	1

enum sdb_kind {
	SDB_SQLITE,
	SDB_PG,
};

/* What went wrong with the last call on a connection. */
enum sdb_errc {
	SDB_E_NONE,
	SDB_E_OTHER,
	SDB_E_BUSY,		/* locked, timed out */
	SDB_E_CONSTRAINT,	/* a constraint or trigger refused */
	SDB_E_UNIQUE,		/* a unique or primary key constraint */
	SDB_E_FORMAT,		/* not a database, corrupt */
	SDB_E_IO,		/* I/O, full, read-only, cannot open */
	SDB_E_NOMEM,
	SDB_E_CONN,		/* the server is unreachable */
};

struct sdb;
struct sdb_stmt;

struct sdb_ops {
	int (*prepare)(struct sdb *, const char *, struct sdb_stmt **);
	void (*bind_int64)(struct sdb_stmt *, int, int64_t);
	void (*bind_double)(struct sdb_stmt *, int, double);
	void (*bind_text)(struct sdb_stmt *, int, const char *);
	void (*bind_blob)(struct sdb_stmt *, int, const void *, size_t);
	void (*bind_null)(struct sdb_stmt *, int);
	int (*step)(struct sdb_stmt *);
	void (*reset)(struct sdb_stmt *);
	void (*finalize)(struct sdb_stmt *);
	int64_t (*column_int64)(struct sdb_stmt *, int);
	double (*column_double)(struct sdb_stmt *, int);
	const char *(*column_text)(struct sdb_stmt *, int);
	const void *(*column_blob)(struct sdb_stmt *, int);
	size_t (*column_bytes)(struct sdb_stmt *, int);
	int (*column_null)(struct sdb_stmt *, int);
	int (*exec)(struct sdb *, const char *);
	int64_t (*changes)(struct sdb *);
	const char *(*errmsg)(struct sdb *);
	enum sdb_errc (*errc)(struct sdb *);
	void (*close)(struct sdb *);
};

/* Every backend's connection and statement begin with these. */
struct sdb {
	const struct sdb_ops *ops;
	enum sdb_kind kind;
	uint64_t serial;	/* unique in the process (sdb_new_serial) */
	bool tx_open, tx_wrote;	/* for sdb_count_* (db_count.c) */
};

/* A number no other connection of this process has had. */
uint64_t sdb_new_serial(void);

struct sdb_stmt {
	struct sdb *db;
	bool stepped;		/* sent since prepare or reset */
	bool writes;		/* INSERT, UPDATE or DELETE */
};

/*
 * What the store costs its backend (db_count.c), counted here at the seam
 * so both backends count alike: a round trip is a statement sent (its
 * first step, or one sdb_exec, which may hold several statements); a
 * write transaction is a COMMIT after a write, or a write outside an
 * explicit transaction (autocommit).  Process-wide; read with
 * store_io_counts().
 */
void sdb_count_statement(struct sdb *db, bool writes);
void sdb_count_exec(struct sdb *db, const char *sql);
bool sdb_sql_writes(const char *sql);

/* A `store` value naming PostgreSQL: "postgresql://..." or "postgres://..." */
int sdb_is_pg_uri(const char *where);

static inline enum sdb_kind
sdb_kind(const struct sdb *db)
{
	return db->kind;
}

/* 0, or -1 (see sdb_errmsg). *ST is NULL on failure. */
static inline int
sdb_prepare(struct sdb *db, const char *sql, struct sdb_stmt **st)
{
	if (db->ops->prepare(db, sql, st) != 0)
		return -1;
	(*st)->writes = sdb_sql_writes(sql);
	return 0;
}

static inline void
sdb_bind_int64(struct sdb_stmt *st, int i, int64_t v)
{
	st->db->ops->bind_int64(st, i, v);
}

static inline void
sdb_bind_int(struct sdb_stmt *st, int i, int v)
{
	st->db->ops->bind_int64(st, i, v);
}

static inline void
sdb_bind_double(struct sdb_stmt *st, int i, double v)
{
	st->db->ops->bind_double(st, i, v);
}

/* V NULL binds NULL. */
static inline void
sdb_bind_text(struct sdb_stmt *st, int i, const char *v)
{
	st->db->ops->bind_text(st, i, v);
}

static inline void
sdb_bind_blob(struct sdb_stmt *st, int i, const void *p, size_t n)
{
	st->db->ops->bind_blob(st, i, p, n);
}

static inline void
sdb_bind_null(struct sdb_stmt *st, int i)
{
	st->db->ops->bind_null(st, i);
}

static inline int
sdb_step(struct sdb_stmt *st)
{
	if (!st->stepped) {
		st->stepped = true;
		sdb_count_statement(st->db, st->writes);
	}
	return st->db->ops->step(st);
}

/* Back to before the first step; the bindings stay. */
static inline void
sdb_reset(struct sdb_stmt *st)
{
	st->stepped = false;
	st->db->ops->reset(st);
}

/* Accepts NULL. */
static inline void
sdb_finalize(struct sdb_stmt *st)
{
	if (st != NULL)
		st->db->ops->finalize(st);
}

static inline int64_t
sdb_column_int64(struct sdb_stmt *st, int i)
{
	return st->db->ops->column_int64(st, i);
}

static inline int
sdb_column_int(struct sdb_stmt *st, int i)
{
	return (int)st->db->ops->column_int64(st, i);
}

static inline double
sdb_column_double(struct sdb_stmt *st, int i)
{
	return st->db->ops->column_double(st, i);
}

/* NULL for SQL NULL. */
static inline const char *
sdb_column_text(struct sdb_stmt *st, int i)
{
	return st->db->ops->column_text(st, i);
}

static inline const void *
sdb_column_blob(struct sdb_stmt *st, int i)
{
	return st->db->ops->column_blob(st, i);
}

static inline size_t
sdb_column_bytes(struct sdb_stmt *st, int i)
{
	return st->db->ops->column_bytes(st, i);
}

static inline int
sdb_column_null(struct sdb_stmt *st, int i)
{
	return st->db->ops->column_null(st, i);
}

/* Runs one or more statements without rows: 0 or -1. */
static inline int
sdb_exec(struct sdb *db, const char *sql)
{
	sdb_count_exec(db, sql);
	return db->ops->exec(db, sql);
}

/* Rows changed by the last INSERT, UPDATE or DELETE. */
static inline int64_t
sdb_changes(struct sdb *db)
{
	return db->ops->changes(db);
}

static inline const char *
sdb_errmsg(struct sdb *db)
{
	return db->ops->errmsg(db);
}

static inline enum sdb_errc
sdb_errc(struct sdb *db)
{
	return db->ops->errc(db);
}

static inline void
sdb_close(struct sdb *db)
{
	if (db != NULL)
		db->ops->close(db);
}

#endif /* STORE_DB_H */

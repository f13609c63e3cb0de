/*
 * store/db_pg.c — the store's SQL seam (db.h) on PostgreSQL through libpq:
 * for a chain, several dt4ecgd replicas on one database (issue 15).
 *
 * Parameters go as text (integers, doubles, strings) or binary (bytea),
 * typed so that PostgreSQL needs no guess; results come back as text and
 * bytea columns are decoded from hex.  The connection LISTENs on
 * dt4ecg_changes (the migrations' triggers NOTIFY it): every notification
 * and every reconnection moves store_data_version(), which is how the match
 * index and the kiosk cache learn about another replica's change.
 *
 * A lost connection is re-established on the next statement outside a
 * transaction; inside one every statement fails (SDB_E_CONN) until the
 * store rolls back, so that nothing half-done is committed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store_int.h"

#ifdef HAVE_LIBPQ
#include <libpq-fe.h>

#define OID_BOOL	16
#define OID_BYTEA	17
#define OID_INT8	20
#define OID_TEXT	25
#define OID_FLOAT8	701

struct pgc {
	struct sdb base;
	PGconn *conn;
	char msg[512];
	enum sdb_errc errc;
	int64_t changes;
	int64_t dv;		/* notifications seen + reconnections */
	int lost_in_tx;		/* the connection broke inside a transaction */
};

struct pgp {			/* one parameter */
	const char *val;
	int len;
	int fmt;
	unsigned int type;
	char num[32];
};

struct pgs {
	struct sdb_stmt base;
	char *sql;
	int np;
	unsigned char ref[64];	/* $i+1 occurs in the SQL */
	struct pgp *p;
	PGresult *res;
	int row, nrows, ncols;
	unsigned char **blob;	/* decoded bytea of the current row */
	size_t *bloblen;
};

#define PC(d) ((struct pgc *)(void *)(d))
#define PS(s) ((struct pgs *)(void *)(s))

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void
set_err(struct pgc *c, enum sdb_errc code, const char *m)
{
	size_t n;

	c->errc = code;
	snprintf(c->msg, sizeof(c->msg), "%s", m ? m : "unknown error");
	n = strlen(c->msg);
	while (n > 0 && (c->msg[n - 1] == '\n' || c->msg[n - 1] == ' '))
		c->msg[--n] = '\0';
}

static enum sdb_errc
state_errc(struct pgc *c, const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(c->conn) != CONNECTION_OK)
		return SDB_E_CONN;
	if (st == NULL)
		return SDB_E_OTHER;
	if (strcmp(st, "23505") == 0)
		return SDB_E_UNIQUE;
	if (strncmp(st, "23", 2) == 0)
		return SDB_E_CONSTRAINT;
	if (strcmp(st, "55P03") == 0 || strcmp(st, "40P01") == 0 ||
	    strcmp(st, "40001") == 0 || strcmp(st, "57014") == 0)
		return SDB_E_BUSY;
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0)
		return SDB_E_CONN;
	if (strncmp(st, "53", 2) == 0 || strncmp(st, "58", 2) == 0)
		return SDB_E_IO;
	if (strncmp(st, "XX", 2) == 0)
		return SDB_E_FORMAT;
	return SDB_E_OTHER;
}

/* The session: LISTEN for the migrations' notifications; a writer waits
 * for the advisory lock as long as SQLite would for its write lock. */
static int
session(struct pgc *c)
{
	PGresult *r;
	int ok;

	r = PQexec(c->conn, "LISTEN dt4ecg_changes; SET lock_timeout = '5s'; "
	    "SET client_min_messages = warning");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		set_err(c, state_errc(c, r), PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

/* Before a statement: reconnects a lost connection when no transaction was
 * open (ROLLBACK ends one that was).  0 when the connection is usable. */
static int
usable(struct pgc *c, int is_rollback)
{
	if (PQstatus(c->conn) == CONNECTION_OK && !c->lost_in_tx)
		return 0;
	if (c->lost_in_tx && !is_rollback) {
		set_err(c, SDB_E_CONN, "the connection to PostgreSQL was lost "
		    "inside a transaction");
		return -1;
	}
	c->lost_in_tx = 0;
	PQreset(c->conn);
	c->dv++;		/* whatever happened meanwhile: look again */
	if (PQstatus(c->conn) != CONNECTION_OK) {
		set_err(c, SDB_E_CONN, PQerrorMessage(c->conn));
		return -1;
	}
	return session(c);
}

/* After a failed command: remembers a connection lost mid-transaction. */
static void
failed(struct pgc *c, PGresult *r, PGTransactionStatusType before)
{
	set_err(c, state_errc(c, r), r ? PQresultErrorMessage(r) :
	    PQerrorMessage(c->conn));
	if (c->errc == SDB_E_CONN && PQstatus(c->conn) != CONNECTION_OK &&
	    (before == PQTRANS_INTRANS || before == PQTRANS_INERROR ||
	    before == PQTRANS_ACTIVE))
		c->lost_in_tx = 1;
}

/*
 * After a failed command: a connection found broken while no transaction
 * was open (the server restarted or failed over since the last statement)
 * is re-established once, and the caller runs the statement again: it was
 * the first of its transaction, nothing is lost.  1 when reconnected.
 */
static int
stale(struct pgc *c, PGTransactionStatusType before)
{
	if (PQstatus(c->conn) == CONNECTION_OK || before != PQTRANS_IDLE)
		return 0;
	return usable(c, 0) == 0;
}

/* "?" and "?N" become "$N"; quoted text is left alone.  REF[i] says
 * whether $i+1 occurs (up to 64). */
static char *
translate(const char *sql, int *np, unsigned char *ref)
{
	size_t n = strlen(sql);
	char *out, *o;
	const char *p;
	int seq = 0, max = 0, q = 0;

	if ((out = malloc(n * 4 + 1)) == NULL)
		return NULL;
	for (p = sql, o = out; *p != '\0'; p++) {
		if (*p == '\'')
			q = !q;
		if (q || *p != '?') {
			*o++ = *p;
			continue;
		}
		if (p[1] >= '0' && p[1] <= '9') {
			int v = (int)strtol(p + 1, (char **)&p, 10);
			p--;
			seq = v;
		} else
			seq++;
		if (seq > max)
			max = seq;
		if (seq >= 1 && seq <= 64)
			ref[seq - 1] = 1;
		o += sprintf(o, "$%d", seq);
	}
	*o = '\0';
	*np = max;
	return out;
}

static int
g_prepare(struct sdb *db, const char *sql, struct sdb_stmt **out)
{
	struct pgc *c = PC(db);
	struct pgs *s;

	*out = NULL;
	if (usable(c, 0) == -1)
		return -1;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->sql = translate(sql, &s->np, s->ref)) == NULL ||
	    (s->p = calloc((size_t)s->np + 1, sizeof(*s->p))) == NULL) {
		if (s != NULL)
			free(s->sql);
		free(s);
		set_err(c, SDB_E_NOMEM, "out of memory");
		return -1;
	}
	s->base.db = db;
	s->row = -1;
	*out = &s->base;
	return 0;
}

static struct pgp *
param(struct sdb_stmt *st, int i)
{
	struct pgs *s = PS(st);

	if (i < 1 || i > s->np)
		return NULL;
	return &s->p[i - 1];
}

static void
g_bind_int64(struct sdb_stmt *st, int i, int64_t v)
{
	struct pgp *p;

	if ((p = param(st, i)) == NULL)
		return;
	snprintf(p->num, sizeof(p->num), "%lld", (long long)v);
	p->val = p->num;
	p->len = 0;
	p->fmt = 0;
	p->type = OID_INT8;
}

static void
g_bind_double(struct sdb_stmt *st, int i, double v)
{
	struct pgp *p;

	if ((p = param(st, i)) == NULL)
		return;
	snprintf(p->num, sizeof(p->num), "%.17g", v);
	p->val = p->num;
	p->len = 0;
	p->fmt = 0;
	p->type = OID_FLOAT8;
}

static void
g_bind_text(struct sdb_stmt *st, int i, const char *v)
{
	struct pgp *p;

	if ((p = param(st, i)) == NULL)
		return;
	p->val = v;
	p->len = 0;
	p->fmt = 0;
	p->type = OID_TEXT;
}

static void
g_bind_blob(struct sdb_stmt *st, int i, const void *v, size_t n)
{
	struct pgp *p;

	if ((p = param(st, i)) == NULL)
		return;
	p->val = v ? v : "";
	p->len = (int)n;
	p->fmt = 1;
	p->type = OID_BYTEA;
}

static void
g_bind_null(struct sdb_stmt *st, int i)
{
	struct pgp *p;

	if ((p = param(st, i)) != NULL)
		memset(p, 0, sizeof(*p));
}

static void
drop_row(struct pgs *s)
{
	int i;

	if (s->blob == NULL)
		return;
	for (i = 0; i < s->ncols; i++) {
		PQfreemem(s->blob[i]);
		s->blob[i] = NULL;
	}
}

static void
g_reset(struct sdb_stmt *st)
{
	struct pgs *s = PS(st);

	drop_row(s);
	free(s->blob);
	free(s->bloblen);
	s->blob = NULL;
	s->bloblen = NULL;
	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
	s->nrows = s->ncols = 0;
}

static int
g_step(struct sdb_stmt *st)
{
	struct pgs *s = PS(st);
	struct pgc *c = PC(st->db);
	const char *vals[64];
	int lens[64], fmts[64], i;
	unsigned int types[64];
	PGTransactionStatusType before;
	ExecStatusType es;

	if (s->res == NULL) {
		if (s->np > 64) {
			set_err(c, SDB_E_OTHER, "too many parameters");
			return SDB_ERROR;
		}
		if (usable(c, 0) == -1)
			return SDB_ERROR;
		for (i = 0; i < s->np; i++) {
			vals[i] = s->p[i].val;
			lens[i] = s->p[i].len;
			fmts[i] = s->p[i].fmt;
			/* a parameter the SQL does not use still needs a
			 * type; one it uses is typed by its context */
			types[i] = s->p[i].type != 0 || s->ref[i] ? s->p[i].type :
			    OID_TEXT;
		}
		before = PQtransactionStatus(c->conn);
		s->res = PQexecParams(c->conn, s->sql, s->np, types, vals, lens,
		    fmts, 0);
		es = PQresultStatus(s->res);
		if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK &&
		    stale(c, before)) {	/* the server restarted meanwhile */
			PQclear(s->res);
			s->res = PQexecParams(c->conn, s->sql, s->np, types,
			    vals, lens, fmts, 0);
			es = PQresultStatus(s->res);
		}
		if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
			failed(c, s->res, before);
			PQclear(s->res);
			s->res = NULL;
			return SDB_ERROR;
		}
		c->errc = SDB_E_NONE;
		c->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
		s->nrows = es == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
		s->ncols = es == PGRES_TUPLES_OK ? PQnfields(s->res) : 0;
		if (s->ncols > 0 && ((s->blob = calloc((size_t)s->ncols,
		    sizeof(*s->blob))) == NULL || (s->bloblen = calloc(
		    (size_t)s->ncols, sizeof(*s->bloblen))) == NULL)) {
			set_err(c, SDB_E_NOMEM, "out of memory");
			return SDB_ERROR;
		}
		s->row = -1;
	}
	drop_row(s);
	if (s->row + 1 >= s->nrows) {
		s->row = s->nrows;
		return SDB_DONE;
	}
	s->row++;
	return SDB_ROW;
}

static void
g_finalize(struct sdb_stmt *st)
{
	struct pgs *s = PS(st);

	g_reset(st);
	free(s->sql);
	free(s->p);
	free(s);
}

static const char *
cell(struct sdb_stmt *st, int i)
{
	struct pgs *s = PS(st);

	if (s->res == NULL || s->row < 0 || s->row >= s->nrows || i < 0 ||
	    i >= s->ncols || PQgetisnull(s->res, s->row, i))
		return NULL;
	return PQgetvalue(s->res, s->row, i);
}

static int64_t
g_column_int64(struct sdb_stmt *st, int i)
{
	const char *v = cell(st, i);

	if (v == NULL)
		return 0;
	if (v[0] == 't' && v[1] == '\0')
		return 1;
	return strtoll(v, NULL, 10);
}

static double
g_column_double(struct sdb_stmt *st, int i)
{
	const char *v = cell(st, i);

	return v ? strtod(v, NULL) : 0.0;
}

static const char *
g_column_text(struct sdb_stmt *st, int i)
{
	return cell(st, i);
}

/* The bytea of column I decoded (kept until the next step). */
static const void *
decoded(struct sdb_stmt *st, int i, size_t *n)
{
	struct pgs *s = PS(st);
	const char *v = cell(st, i);

	*n = 0;
	if (v == NULL)
		return NULL;
	if (PQftype(s->res, i) != OID_BYTEA) {
		*n = (size_t)PQgetlength(s->res, s->row, i);
		return v;
	}
	if (s->blob[i] == NULL) {
		s->blob[i] = PQunescapeBytea((const unsigned char *)v,
		    &s->bloblen[i]);
		if (s->blob[i] == NULL)
			return NULL;
	}
	*n = s->bloblen[i];
	return s->blob[i];
}

static const void *
g_column_blob(struct sdb_stmt *st, int i)
{
	size_t n;

	return decoded(st, i, &n);
}

static size_t
g_column_bytes(struct sdb_stmt *st, int i)
{
	size_t n;

	(void)decoded(st, i, &n);
	return n;
}

static int
g_column_null(struct sdb_stmt *st, int i)
{
	return cell(st, i) == NULL;
}

static int
g_exec(struct sdb *db, const char *sql)
{
	struct pgc *c = PC(db);
	PGTransactionStatusType before;
	PGresult *r;
	ExecStatusType es;
	int rb = strncmp(sql, "ROLLBACK", 8) == 0 && sql[8] == '\0';

	if (rb && c->lost_in_tx) {	/* the server rolled it back */
		c->lost_in_tx = 0;
		return usable(c, 1) == -1 ? -1 : 0;
	}
	if (usable(c, 0) == -1)
		return -1;
	before = PQtransactionStatus(c->conn);
	r = PQexec(c->conn, sql);
	es = PQresultStatus(r);
	if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK &&
	    stale(c, before)) {
		PQclear(r);
		r = PQexec(c->conn, sql);
		es = PQresultStatus(r);
	}
	if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
		failed(c, r, before);
		PQclear(r);
		return -1;
	}
	c->errc = SDB_E_NONE;
	c->changes = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

static int64_t
g_changes(struct sdb *db)
{
	return PC(db)->changes;
}

static const char *
g_errmsg(struct sdb *db)
{
	return PC(db)->msg;
}

static enum sdb_errc
g_errc(struct sdb *db)
{
	return PC(db)->errc;
}

static void
g_close(struct sdb *db)
{
	PQfinish(PC(db)->conn);
	free(db);
}

static const struct sdb_ops pg_ops = {
	g_prepare, g_bind_int64, g_bind_double, g_bind_text, g_bind_blob,
	g_bind_null, g_step, g_reset, g_finalize, g_column_int64,
	g_column_double, g_column_text, g_column_blob, g_column_bytes,
	g_column_null, g_exec, g_changes, g_errmsg, g_errc, g_close,
};

int
store_pg_open(const char *conninfo, struct sdb **out, char *msg,
    size_t msglen)
{
	struct pgc *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	c->base.ops = &pg_ops;
	c->base.kind = SDB_PG;
	c->base.serial = sdb_new_serial();
	c->conn = PQconnectdb(conninfo);
	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
		snprintf(msg, msglen, "%s", c->conn ? PQerrorMessage(c->conn) :
		    "out of memory");
		msg[strcspn(msg, "\n")] = '\0';
		PQfinish(c->conn);
		free(c);
		return -1;
	}
	PQsetNoticeProcessor(c->conn, quiet, NULL);
	if (session(c) == -1) {
		snprintf(msg, msglen, "%s", c->msg);
		PQfinish(c->conn);
		free(c);
		return -1;
	}
	*out = &c->base;
	return 0;
}

int
store_pg_data_version(struct store *s, int64_t *dv, struct dt_error *err)
{
	struct pgc *c = PC(s->db);
	PGnotify *n;

	if (s->depth == 0 && usable(c, 0) == -1)
		return store_sql_error(s, err, "data version");
	if (PQconsumeInput(c->conn) == 0) {
		set_err(c, SDB_E_CONN, PQerrorMessage(c->conn));
		return store_sql_error(s, err, "data version");
	}
	while ((n = PQnotifies(c->conn)) != NULL) {
		c->dv++;
		PQfreemem(n);
	}
	*dv = c->dv;
	return 0;
}

#else /* !HAVE_LIBPQ */

int
store_pg_open(const char *conninfo, struct sdb **out, char *msg,
    size_t msglen)
{
	(void)conninfo;
	*out = NULL;
	snprintf(msg, msglen, "this dt4ecg was built without PostgreSQL "
	    "support (configure found no libpq)");
	return -1;
}

int
store_pg_data_version(struct store *s, int64_t *dv, struct dt_error *err)
{
	(void)s;
	(void)dv;
	return dt_error_set(err, DT_E_UNSUPPORTED, "no PostgreSQL support");
}

#endif /* HAVE_LIBPQ */

/* Drops "password=..." (keyword form) and the ":secret@" of a URI. */
char *
store_pg_redact(const char *conninfo)
{
	char *r, *p, *at, *colon, *end;

	if ((r = strdup(conninfo)) == NULL)
		return NULL;
	if ((p = strstr(r, "://")) != NULL && (at = strchr(p + 3, '@')) !=
	    NULL && (colon = memchr(p + 3, ':', (size_t)(at - p - 3))) != NULL)
		memmove(colon, at, strlen(at) + 1);
	while ((p = strstr(r, "password=")) != NULL) {
		end = p + 9;
		while (*end != '\0' && *end != '&' && *end != ' ')
			end++;
		memmove(p, end, strlen(end) + 1);
	}
	return r;
}

/*
 * tests/fault.c — fault injection for tests/test_fault: linked into a copy
 * of dt4ecgd (tests/dt4ecgd-fault) with -Wl,--wrap= for sqlite3_step,
 * sqlite3_errcode, sqlite3_extended_errcode, sqlite3_errmsg and calloc, so
 * that every such call of the daemon's own code (and of the static
 * libraries it links) goes through here first.  The fault to inject is the first line of
 * the file $DT4ECG_FAULT_FILE, read at each call; no file, no fault:
 *
 *   step busy SQL      sqlite3_step of a statement whose SQL contains SQL
 *                      answers SQLITE_BUSY without running it
 *   step ioerr SQL     the same with SQLITE_IOERR
 *   calloc N SIZE      calloc(N, SIZE) answers NULL
 *
 * The connection's sqlite3_(extended_)errcode and errmsg then tell the
 * injected error, as SQLite would, until its next sqlite3_step.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

int __real_sqlite3_step(sqlite3_stmt *st);
int __real_sqlite3_errcode(sqlite3 *db);
int __real_sqlite3_extended_errcode(sqlite3 *db);
const char *__real_sqlite3_errmsg(sqlite3 *db);
void *__real_calloc(size_t n, size_t size);

int __wrap_sqlite3_step(sqlite3_stmt *st);
int __wrap_sqlite3_errcode(sqlite3 *db);
int __wrap_sqlite3_extended_errcode(sqlite3 *db);
const char *__wrap_sqlite3_errmsg(sqlite3 *db);
void *__wrap_calloc(size_t n, size_t size);

static _Thread_local sqlite3 *failed_db;
static _Thread_local int failed_rc;
static _Thread_local int in_fault;	/* fopen may calloc */

/* The fault line, or "" when there is none. */
static void
fault_line(char *buf, size_t size)
{
	const char *path = getenv("DT4ECG_FAULT_FILE");
	FILE *f;

	buf[0] = '\0';
	if (path == NULL || in_fault)
		return;
	in_fault = 1;
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, (int)size, f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	in_fault = 0;
}

int
__wrap_sqlite3_step(sqlite3_stmt *st)
{
	char line[256], kind[16];
	const char *sql;
	int off = 0, rc = 0;

	fault_line(line, sizeof(line));
	if (sscanf(line, "step %15s %n", kind, &off) == 1 && off > 0 &&
	    (sql = sqlite3_sql(st)) != NULL && strstr(sql, line + off) != NULL)
		rc = strcmp(kind, "busy") == 0 ? SQLITE_BUSY :
		    strcmp(kind, "ioerr") == 0 ? SQLITE_IOERR : 0;
	if (rc != 0) {
		failed_db = sqlite3_db_handle(st);
		failed_rc = rc;
		return rc;
	}
	failed_db = NULL;
	return __real_sqlite3_step(st);
}

int
__wrap_sqlite3_errcode(sqlite3 *db)
{
	return db != NULL && db == failed_db ? failed_rc :
	    __real_sqlite3_errcode(db);
}

int
__wrap_sqlite3_extended_errcode(sqlite3 *db)
{
	return db != NULL && db == failed_db ? failed_rc :
	    __real_sqlite3_extended_errcode(db);
}

const char *
__wrap_sqlite3_errmsg(sqlite3 *db)
{
	return db != NULL && db == failed_db ? sqlite3_errstr(failed_rc) :
	    __real_sqlite3_errmsg(db);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	char line[256];
	unsigned long fn, fs;

	fault_line(line, sizeof(line));
	if (sscanf(line, "calloc %lu %lu", &fn, &fs) == 2 && fn == n &&
	    fs == size)
		return NULL;
	return __real_calloc(n, size);
}

/* tests/pgtest.c — see pgtest.h.  Real databases on a real server: the
 * cluster is started by tests/store-pg.sh (initdb + pg_ctl, Unix socket). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cmocka_all.h"
#include "tests/pgtest.h"

#ifdef HAVE_LIBPQ
#include <libpq-fe.h>

static const char *
pg_host(void)
{
	const char *h = getenv("DT4ECG_TEST_PG_HOST");

	return h != NULL && *h != '\0' ? h : NULL;
}

static const char *
pg_user(void)
{
	const char *u = getenv("DT4ECG_TEST_PG_USER");

	return u != NULL && *u != '\0' ? u : "dt4ecg";
}

int
pgtest_enabled(void)
{
	return pg_host() != NULL;
}

static void
admin_sql(const char *sql)
{
	char ci[512];
	PGconn *c;
	PGresult *r;

	snprintf(ci, sizeof(ci), "host=%s user=%s dbname=postgres", pg_host(),
	    pg_user());
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("PostgreSQL at %s: %s", pg_host(), PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

void
pgtest_create(char *uri, size_t len)
{
	static unsigned n;
	char name[64], sql[128];

	snprintf(name, sizeof(name), "t%ld_%u", (long)getpid(), n++);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	admin_sql(sql);
	snprintf(uri, len, "postgresql://%s@/%s?host=%s", pg_user(), name,
	    pg_host());
}

void
pgtest_drop(const char *uri)
{
	const char *p = strrchr(uri, '/'), *q;
	char sql[160];

	if (p == NULL || (q = strchr(p, '?')) == NULL)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
	    (int)(q - p - 1), p + 1);
	admin_sql(sql);
}

#else /* !HAVE_LIBPQ: built without PostgreSQL, the tests run on SQLite */

int
pgtest_enabled(void)
{
	return 0;
}

void
pgtest_create(char *uri, size_t len)
{
	(void)uri;
	(void)len;
	fail_msg("built without libpq");
}

void
pgtest_drop(const char *uri)
{
	(void)uri;
}

#endif

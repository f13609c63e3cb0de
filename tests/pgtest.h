/* tests/pgtest.h — the store tests on PostgreSQL: when tests/store-pg.sh
 * has started a throwaway cluster (DT4ECG_TEST_PG_HOST = its socket
 * directory), each test gets a fresh database of its own. */
#ifndef TESTS_PGTEST_H
#define TESTS_PGTEST_H

#include <stddef.h>

/* 1 when the tests run on PostgreSQL. */
int pgtest_enabled(void);
/* Creates a database and writes its postgresql:// URI to URI. */
void pgtest_create(char *uri, size_t len);
/* Drops the database of URI (made by pgtest_create). */
void pgtest_drop(const char *uri);

#endif

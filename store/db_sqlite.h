/* store/db_sqlite.h — what only the SQLite backend has (db_sqlite.c). */
#ifndef STORE_DB_SQLITE_H
#define STORE_DB_SQLITE_H

#include <stddef.h>

#include "store/db.h"


struct sqlite3;

/* Opens PATH (CREATE: create it if missing); MSG gets the reason on -1. */
int sdb_sqlite_open(const char *path, int create, struct sdb **out, char *msg,
    size_t msglen);
/* The sqlite3 handle (NULL for another backend). */
struct sqlite3 *sdb_sqlite_handle(struct sdb *db);
int sdb_sqlite_in_tx(struct sdb *db);
/* Checkpoints the WAL into the file and truncates it. */
int sdb_sqlite_checkpoint(struct sdb *db);

#endif

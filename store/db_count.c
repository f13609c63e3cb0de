/*
 * store/db_count.c — what the store costs its backend: round trips and
 * write transactions, counted at the SQL seam (db.h) for both backends, so
 * dt4ecgd's /metrics and dt4ecg-bench can say what one decision costs
 * (issue 15: at most one write transaction per decision).
 */
#include "config.h"

#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "store/db.h"
#include "store/store.h"

static _Atomic uint64_t round_trips, write_transactions;

/* Whether SQL, after leading blanks, starts with the keyword WORD. */
static bool
starts_with(const char *sql, const char *word)
{
	size_t n = strlen(word);

	while (*sql == ' ' || *sql == '\t' || *sql == '\n')
		sql++;
	return strncasecmp(sql, word, n) == 0 &&
	    (sql[n] == '\0' || sql[n] == ' ' || sql[n] == ';' ||
	    sql[n] == '\n' || sql[n] == '\t' || sql[n] == '(');
}

bool
sdb_sql_writes(const char *sql)
{
	return starts_with(sql, "INSERT") || starts_with(sql, "UPDATE") ||
	    starts_with(sql, "DELETE") || starts_with(sql, "REPLACE");
}

void
sdb_count_statement(struct sdb *db, bool writes)
{
	atomic_fetch_add_explicit(&round_trips, 1, memory_order_relaxed);
	if (!writes)
		return;
	if (db->tx_open)
		db->tx_wrote = true;
	else
		atomic_fetch_add_explicit(&write_transactions, 1,
		    memory_order_relaxed);
}

void
sdb_count_exec(struct sdb *db, const char *sql)
{
	atomic_fetch_add_explicit(&round_trips, 1, memory_order_relaxed);
	if (starts_with(sql, "BEGIN")) {
		db->tx_open = true;
		db->tx_wrote = false;
	} else if (starts_with(sql, "COMMIT") || starts_with(sql, "END")) {
		if (db->tx_open && db->tx_wrote)
			atomic_fetch_add_explicit(&write_transactions, 1,
			    memory_order_relaxed);
		db->tx_open = db->tx_wrote = false;
	} else if (starts_with(sql, "ROLLBACK")) {
		db->tx_open = db->tx_wrote = false;
	} else
		sdb_count_statement(db, sdb_sql_writes(sql));
}

void
store_io_counts(uint64_t *trips, uint64_t *write_tx)
{
	*trips = atomic_load_explicit(&round_trips, memory_order_relaxed);
	*write_tx = atomic_load_explicit(&write_transactions,
	    memory_order_relaxed);
}

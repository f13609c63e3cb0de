/*
 * store/copy.c — copies one store into another, row for row: the path a
 * growing gym takes from its SQLite file to a chain's PostgreSQL
 * (`dt4ecg-admin migrate-store`).  Row ids are kept, so every sealed row's
 * associated data (which names them) and every row MAC still hold, and the
 * audit log is copied verbatim, hashes and all: the copy is the same store
 * on another backend.  The destination must be empty (freshly migrated);
 * the whole copy is one transaction there.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store.h"
#include "store/store_int.h"

/* One table: its name, columns, their kinds (i int, d double, t text,
 * b blob) and the ORDER BY that inserts parents before children. */
struct ctable {
	const char *name;
	const char *cols;
	const char *kinds;
	const char *order;
	const char *idcol;	/* an identity column to move past, or NULL */
};

static const struct ctable tables[] = {
	{ "members", "rid, id, display_name, created, locked_until, audit_id, "
	    "mac", "ittiitb", "rid", "rid" },
	{ "models", "rid, id, bytes, embedding_dim, metrics, created, active, "
	    "digest, mac, sha256, signer", "itbitiibbbt", "rid", "rid" },
	{ "recordings", "id, member, fs_hz, n_samples, sealed, created",
	    "iidibi", "id", "id" },
	{ "templates", "id, member, model, recording, dim, sealed, created",
	    "iiiiibi", "id", "id" },
	{ "kiosks", "id, public_key, created, revoked_at, mac", "tbiib", "id",
	    NULL },
	{ "audit", "id, ts, actor, action, subject, detail, prev_hash, hash",
	    "iittttbb", "id", NULL },
	{ "member_failures", "member, fails", "ii", "member", NULL },
	{ "kiosk_failures", "kiosk, fails, locked_until", "tii", "kiosk", NULL },
	{ "nonces", "h, created", "bi", "h", NULL },
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

static int
count(struct store *s, const char *table, int64_t *n, struct dt_error *err)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return store_sql(s, sql, n, err);
}

static int
copy_table(struct store *src, struct store *dst, const struct ctable *t,
    int64_t *rows, struct dt_error *err)
{
	struct sdb_stmt *rd = NULL, *wr = NULL;
	char sql[512], marks[64] = "";
	size_t i, n = strlen(t->kinds);
	int q, rc = -1;

	for (i = 0, q = 1; t->cols[i] != '\0'; i++)
		q += t->cols[i] == ',';
	if ((size_t)q != n || n > 16)
		return dt_error_set(err, DT_E_INTERNAL, "copy %s: %d columns, "
		    "%zu kinds", t->name, q, n);
	for (i = 0; i < n; i++)
		strcat(marks, i ? ", ?" : "?");
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY %s", t->cols,
	    t->name, t->order);
	if (store_prepare(src, sql, &rd, err) == -1)
		goto out;
	snprintf(sql, sizeof(sql), "INSERT INTO %s(%s) VALUES (%s)", t->name,
	    t->cols, marks);
	if (store_prepare(dst, sql, &wr, err) == -1)
		goto out;
	*rows = 0;
	while ((q = sdb_step(rd)) == SDB_ROW) {
		sdb_reset(wr);
		for (i = 0; i < n; i++) {
			int c = (int)i;

			if (sdb_column_null(rd, c)) {
				sdb_bind_null(wr, c + 1);
				continue;
			}
			switch (t->kinds[i]) {
			case 'i':
				sdb_bind_int64(wr, c + 1, sdb_column_int64(rd, c));
				break;
			case 'd':
				sdb_bind_double(wr, c + 1,
				    sdb_column_double(rd, c));
				break;
			case 't':
				sdb_bind_text(wr, c + 1, sdb_column_text(rd, c));
				break;
			default:
				sdb_bind_blob(wr, c + 1, sdb_column_blob(rd, c),
				    sdb_column_bytes(rd, c));
				break;
			}
		}
		if (sdb_step(wr) != SDB_DONE) {
			store_sql_error(dst, err, t->name);
			goto out;
		}
		(*rows)++;
	}
	if (q != SDB_DONE) {
		store_sql_error(src, err, t->name);
		goto out;
	}
	rc = 0;
out:
	sdb_finalize(rd);
	sdb_finalize(wr);
	return rc;
}

/* Identity columns continue after the copied ids (PostgreSQL). */
static int
move_identity(struct store *dst, const struct ctable *t, struct dt_error *err)
{
	char sql[256];

	if (t->idcol == NULL || sdb_kind(dst->db) != SDB_PG)
		return 0;
	snprintf(sql, sizeof(sql), "SELECT setval(pg_get_serial_sequence('%s', "
	    "'%s'), coalesce((SELECT max(%s) FROM %s), 0) + 1, false)", t->name,
	    t->idcol, t->idcol, t->name);
	return store_exec(dst, sql, err);
}

int
store_copy(struct store *src, struct store *dst, struct store_copy_report *r,
    struct dt_error *err)
{
	int64_t n, horizon = 0;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < NTABLES; i++) {
		if (count(dst, tables[i].name, &n, err) == -1)
			return -1;
		if (n != 0)
			return dt_error_set(err, DT_E_EXISTS, "%s: table %s is not "
			    "empty: migrate-store copies into a new store only",
			    dst->path, tables[i].name);
	}
	if (store_tx_begin(dst, err) == -1)
		return -1;
	for (i = 0; i < NTABLES; i++) {
		snprintf(r->table[i], sizeof(r->table[i]), "%s", tables[i].name);
		if (copy_table(src, dst, &tables[i], &r->rows[i], err) == -1 ||
		    move_identity(dst, &tables[i], err) == -1) {
			dt_error_prefix(err, "copying %s", tables[i].name);
			goto out;
		}
	}
	r->ntables = NTABLES;
	/* the nonce horizon: meta on SQLite, its own table on PostgreSQL */
	if (store_sql(src, sdb_kind(src->db) == SDB_PG ? "SELECT coalesce(max("
	    "value), 0) FROM nonce_horizon" : "SELECT coalesce(max(value), 0) "
	    "FROM meta WHERE key = 'nonce_horizon'", &horizon, err) == -1)
		goto out;
	if (horizon > 0) {
		char sql[160];

		snprintf(sql, sizeof(sql), sdb_kind(dst->db) == SDB_PG ?
		    "INSERT INTO nonce_horizon(one, value) VALUES (1, %lld)" :
		    "INSERT INTO meta(key, value) VALUES ('nonce_horizon', %lld)",
		    (long long)horizon);
		if (store_exec(dst, sql, err) == -1)
			goto out;
	}
	rc = 0;
out:
	return store_op_end(dst, rc, err);
}

static int
open_recording(void *ctx, const struct store_recording *rec)
{
	(void)rec;
	(*(int64_t *)ctx)++;
	return 0;
}

struct vctx {
	struct store *s;
	int64_t recordings;
	struct dt_error *err;
	int failed;
};

static int
each_member(void *ctx, const struct store_member *m)
{
	struct vctx *v = ctx;

	if (store_recording_foreach(v->s, m->id, open_recording,
	    &v->recordings, v->err) == -1) {
		v->failed = 1;
		return 1;
	}
	return 0;
}

int
store_open_all(struct store *s, int64_t *recordings, int64_t *templates,
    struct dt_error *err)
{
	struct vctx v = { s, 0, err, 0 };
	char sql[128];
	int64_t id = 0, next;
	float *e;
	int dim;

	*templates = 0;
	if (store_member_list(s, each_member, &v, err) != 0 || v.failed)
		return -1;
	*recordings = v.recordings;
	for (;;) {
		snprintf(sql, sizeof(sql), "SELECT coalesce(min(id), 0) FROM "
		    "templates WHERE id > %lld", (long long)id);
		if (store_sql(s, sql, &next, err) == -1)
			return -1;
		if (next == 0)
			break;
		if (store_template_get(s, next, &e, &dim, err) == -1)
			return -1;
		sodium_memzero(e, (size_t)dim * sizeof(float));
		free(e);
		(*templates)++;
		id = next;
	}
	return 0;
}

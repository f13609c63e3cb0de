/* tests/test_store.c — the store: schema, migrations, CRUD, kiosks, models,
 * sealing, erasure, audit chain, activation, incremental reload.  On SQLite
 * by default; on PostgreSQL when tests/store-pg.sh runs it (pgtest.h): the
 * same tests, minus what only a file has (PRAGMAs, bytes in the file, the
 * WAL, the pre-schema-4 chains of SQLite stores). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "tests/cmocka_all.h"

#include "store/crypto.h"
#include "store/match.h"
#include "store/store.h"
#include "tests/pgtest.h"

#define DIM 16

struct fx {
	char dir[64];
	char db[256];
	struct store_key *key;
	struct store *s;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t raw[32];
	struct dt_error err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/dt4ecg-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (pgtest_enabled())
		pgtest_create(f->db, sizeof(f->db));
	else
		snprintf(f->db, sizeof(f->db), "%s/store.db", f->dir);
	randombytes_buf(raw, sizeof(raw));
	assert_int_equal(store_key_from_bytes(raw, &f->key, &err), 0);
	assert_int_equal(store_open(f->db, f->key, STORE_CREATE, &f->s, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	store_close(f->s);
	store_key_free(f->key);
	if (pgtest_enabled())
		pgtest_drop(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int64_t
raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* SQL written for SQLite, as PostgreSQL says it when the tests run there. */
static const char *
dialect(const char *sql, char *buf, size_t len)
{
	static const char *const from[] = {
		"DROP TRIGGER kiosks_stay_revoked;",
		"DROP TRIGGER audit_no_update;",
		"DROP TRIGGER audit_no_delete;",
		"x'00112233'",
	}, *const to[] = {
		"ALTER TABLE kiosks DISABLE TRIGGER kiosks_stay_revoked;",
		"ALTER TABLE audit DISABLE TRIGGER audit_no_update;",
		"ALTER TABLE audit DISABLE TRIGGER audit_no_delete;",
		"'\\x00112233'::bytea",
	};
	size_t i, o = 0;
	const char *p = sql;

	if (!pgtest_enabled())
		return sql;
	while (*p != '\0' && o + 80 < len) {
		for (i = 0; i < sizeof(from) / sizeof(from[0]); i++)
			if (strncmp(p, from[i], strlen(from[i])) == 0)
				break;
		if (i < sizeof(from) / sizeof(from[0])) {
			o += (size_t)snprintf(buf + o, len - o, "%s", to[i]);
			p += strlen(from[i]);
		} else
			buf[o++] = *p++;
	}
	assert_true(*p == '\0');
	buf[o] = '\0';
	return buf;
}

/* Raw SQL on S's own connection, either backend: 0 or -1. */
static int
q_exec(struct store *s, const char *sql)
{
	struct dt_error err;
	char buf[1024];

	return store_sql(s, dialect(sql, buf, sizeof(buf)), NULL, &err);
}

static int64_t
q_int(struct store *s, const char *sql)
{
	struct dt_error err;
	int64_t v = -1;

	if (store_sql(s, sql, &v, &err) != 0)
		fail_msg("%s: %s", sql, err.msg);
	return v;
}

/*
 * On PostgreSQL another connection's change reaches S as a notification a
 * moment after that connection's commit: wait until S has seen one and no
 * more arrive (bounded: 5 s).  On SQLite data_version is exact: no wait.
 */
static void
settle(struct store *s)
{
	struct dt_error err;
	int64_t a, b;
	int i, moved = 0, quiet = 0;

	if (!pgtest_enabled())
		return;
	assert_int_equal(store_data_version(s, &a, &err), 0);
	for (i = 0; i < 250 && (!moved || quiet < 3); i++) {
		usleep(20000);
		assert_int_equal(store_data_version(s, &b, &err), 0);
		if (b != a) {
			moved = 1;
			quiet = 0;
			a = b;
		} else
			quiet++;
	}
}

static int
has_table(struct store *s, const char *name)
{
	char sql[256];

	snprintf(sql, sizeof(sql), pgtest_enabled() ? "SELECT count(*) FROM "
	    "pg_tables WHERE schemaname = current_schema() AND tablename = "
	    "'%s'" : "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
	    "AND name = '%s'", name);
	return (int)q_int(s, sql);
}

static void
emb(unsigned seed, float *v, int dim)
{
	double n = 0;
	int i;

	srand(seed);
	for (i = 0; i < dim; i++) {
		v[i] = (float)rand() / RAND_MAX - 0.5f;
		n += v[i] * v[i];
	}
	for (i = 0; i < dim; i++)
		v[i] = (float)(v[i] / sqrt(n));
}

static void
samples(unsigned seed, float *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = (float)sin((double)(i + seed) * 0.05) + (float)seed;
}

static void
enroll(struct store *s, const char *id, const char *name, const char *model,
    unsigned seed)
{
	struct dt_error err;
	float x[500], e[DIM];
	int64_t rec;

	samples(seed, x, 500);
	emb(seed, e, DIM);
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_member_add(s, id, name, &err), 0);
	assert_int_equal(store_recording_add(s, id, x, 500, 250, &rec, &err), 0);
	if (model != NULL)
		assert_int_equal(store_template_add(s, id, model, e, DIM, rec,
		    NULL, &err), 0);
	assert_int_equal(store_commit(s, &err), 0);
}

static void
add_model(struct store *s, const char *id)
{
	struct dt_error err;
	const char blob[] = "not really safetensors";

	assert_int_equal(store_model_add(s, id, blob, sizeof(blob), DIM,
	    "{\"eer\":0.05}", &err), 0);
}

/* a recompute callback: embedding from the samples; fails on member FAIL */
struct recomp {
	const char *fail;
	int calls;
};

static int
recompute_cb(void *ctx, const char *member, const float *x, size_t n,
    double fs, float *e, int dim, struct dt_error *err)
{
	struct recomp *rc = ctx;

	rc->calls++;
	if (rc->fail != NULL && strcmp(member, rc->fail) == 0)
		return dt_error_set(err, DT_E_SIG_FLAT, "flat signal");
	assert_true(n == 500 && fs == 250);
	emb((unsigned)x[0] + 1000, e, dim);
	return 0;
}

/* ------------------------------------------------------------------------ */

static void
test_schema(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store *s2;
	sqlite3 *db;
	int v;
	char path[256];

	assert_int_equal(store_schema_version(f->s, &v, &err), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	if (pgtest_enabled()) {
		const char *const t[] = { "members", "recordings", "templates",
		    "kiosks", "models", "audit", "changes", "nonces" };
		for (v = 0; v < 8; v++)
			assert_int_equal(has_table(f->s, t[v]), 1);
		assert_int_equal(store_integrity_check(f->s, &err), 0);
		assert_int_equal(store_open(f->db, NULL, 0, &s2, &err), 0);
		store_close(s2);
		/* a database that is not a store is not adopted */
		pgtest_create(path, sizeof(path));
		assert_int_equal(store_open(path, NULL, STORE_OLD_OK, &s2, &err),
		    0);
		assert_int_equal(q_exec(s2, "CREATE TABLE t(x int)"), 0);
		store_close(s2);
		assert_int_equal(store_open(path, f->key, STORE_CREATE, &s2,
		    &err), -1);
		assert_int_equal(err.code, DT_E_FORMAT);
		pgtest_drop(path);
		/* an unreachable server: DT_E_BUSY, the password not shown */
		assert_int_equal(store_open("postgresql://u:secret@/x?host="
		    "/nonexistent", f->key, 0, &s2, &err), -1);
		assert_int_equal(err.code, DT_E_BUSY);
		assert_null(strstr(err.msg, "secret"));
		return;
	}
	db = store_db(f->s);
	assert_int_equal(raw_int(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(raw_int(db, "PRAGMA secure_delete"), 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name IN ('members', 'recordings', 'templates', "
	    "'kiosks', 'models', 'audit', 'changes')"), 7);
	{
		sqlite3_stmt *st;
		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal(sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
	}
	assert_int_equal(store_integrity_check(f->s, &err), 0);

	/* a second open (without key: non-biometric use) works */
	assert_int_equal(store_open(f->db, NULL, 0, &s2, &err), 0);
	store_close(s2);

	/* missing file without STORE_CREATE */
	snprintf(path, sizeof(path), "%s/none.db", f->dir);
	assert_int_equal(store_open(path, f->key, 0, &s2, &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);

	/* a foreign SQLite database is not adopted */
	snprintf(path, sizeof(path), "%s/other.db", f->dir);
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, f->key, STORE_CREATE, &s2, &err), -1);
	assert_int_equal(err.code, DT_E_FORMAT);

	/* a file that is not a database */
	snprintf(path, sizeof(path), "%s/junk.db", f->dir);
	{
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		for (v = 0; v < 200; v++)
			fputs("this is not sqlite ", fp);
		fclose(fp);
	}
	assert_int_equal(store_open(path, f->key, STORE_CREATE, &s2, &err), -1);
}

static void
test_migrations(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store *s;
	struct store_member m;
	char path[256];
	int v;

	if (pgtest_enabled())
		pgtest_create(path, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/old.db", f->dir);
	assert_int_equal(store_open(path, f->key, STORE_CREATE | STORE_OLD_OK,
	    &s, &err), 0);
	assert_int_equal(store_schema_version(s, &v, &err), 0);
	assert_int_equal(v, 0);
	assert_int_equal(store_migrate(s, 1, &err), 0);
	assert_int_equal(store_schema_version(s, &v, &err), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_migrate(s, 99, &err), -1);
	assert_int_equal(q_exec(s, "INSERT INTO members(id, display_name,"
	    " created) VALUES ('old-timer', 'Old', 1)"), 0);
	assert_int_equal(has_table(s, "changes"), 0);
	store_close(s);

	/* older store: refused without STORE_MIGRATE, with a clear message */
	assert_int_equal(store_open(path, f->key, 0, &s, &err), -1);
	assert_int_equal(err.code, DT_E_VERSION);
	assert_non_null(strstr(err.msg, "migrate"));
	assert_int_equal(store_open(path, f->key, STORE_MIGRATE, &s, &err), 0);
	assert_int_equal(store_schema_version(s, &v, &err), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	assert_int_equal(store_member_get(s, "old-timer", &m, &err), 0);
	assert_string_equal(m.display_name, "Old");
	store_close(s);
	if (pgtest_enabled())
		pgtest_drop(path);
}

static void
test_newer_version(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store *s;

	assert_int_equal(q_exec(f->s, pgtest_enabled() ? "UPDATE dt4ecg_schema "
	    "SET version = 99" : "PRAGMA user_version = 99"), 0);
	assert_int_equal(store_open(f->db, f->key, STORE_MIGRATE, &s, &err), -1);
	assert_int_equal(err.code, DT_E_VERSION);
	assert_non_null(strstr(err.msg, "newer"));
	assert_non_null(strstr(err.msg, "99"));
}

static int
count_member(void *ctx, const struct store_member *m)
{
	(*(int *)ctx)++;
	return 0;
}

static void
test_members(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_member m;
	int n = 0;

	assert_int_equal(store_member_add(f->s, "alice", "Alice A.", &err), 0);
	assert_int_equal(store_member_add(f->s, "bob", NULL, &err), 0);
	assert_int_equal(store_member_add(f->s, "alice", "again", &err), -1);
	assert_int_equal(err.code, DT_E_EXISTS);
	assert_non_null(strstr(err.msg, "alice"));
	assert_int_equal(store_member_add(f->s, "bad id!", NULL, &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_equal(store_member_get(f->s, "alice", &m, &err), 0);
	assert_string_equal(m.display_name, "Alice A.");
	assert_true(m.created > 0);
	assert_int_equal(m.locked_until, 0);
	assert_int_equal(store_member_get(f->s, "carol", &m, &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "carol"));
	assert_int_equal(store_member_set_locked(f->s, "bob", 12345, &err), 0);
	assert_int_equal(store_member_get(f->s, "bob", &m, &err), 0);
	assert_int_equal(m.locked_until, 12345);
	assert_int_equal(store_member_list(f->s, count_member, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_member_delete(f->s, "carol", &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);

	/* a failed step inside a transaction rolls back the whole enrollment */
	assert_int_equal(store_begin(f->s, &err), 0);
	assert_int_equal(store_member_add(f->s, "dave", NULL, &err), 0);
	assert_int_equal(store_template_add(f->s, "dave", "no-such-model",
	    (float[DIM]){ 1 }, DIM, 0, NULL, &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	assert_int_equal(store_commit(f->s, &err), -1);
	assert_int_equal(store_member_get(f->s, "dave", &m, &err), -1);
}

static int
count_kiosk(void *ctx, const struct store_kiosk *k)
{
	(*(int *)ctx)++;
	return 0;
}

static void
test_kiosks(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_kiosk k;
	uint8_t pk[32], sk[64];
	int n = 0;

	crypto_sign_keypair(pk, sk);
	assert_int_equal(store_kiosk_add(f->s, "lobby-1", pk, &err), 0);
	assert_int_equal(store_kiosk_add(f->s, "lobby-2", pk, &err), 0);
	assert_int_equal(store_kiosk_add(f->s, "lobby-1", pk, &err), -1);
	assert_int_equal(err.code, DT_E_EXISTS);
	assert_int_equal(store_kiosk_get(f->s, "lobby-1", &k, &err), 0);
	assert_memory_equal(k.public_key, pk, 32);
	assert_int_equal(k.revoked_at, 0);
	assert_int_equal(store_kiosk_revoke(f->s, "lobby-1", &err), 0);
	assert_int_equal(store_kiosk_get(f->s, "lobby-1", &k, &err), 0);
	assert_true(k.revoked_at > 0);
	assert_int_equal(store_kiosk_revoke(f->s, "lobby-1", &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_equal(store_kiosk_revoke(f->s, "nowhere", &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "nowhere"));
	/* revocation cannot be undone behind the store's back */
	assert_int_not_equal(q_exec(f->s, "UPDATE kiosks SET "
	    "revoked_at = NULL WHERE id = 'lobby-1'"), 0);
	assert_int_equal(store_kiosk_list(f->s, count_kiosk, &n, &err), 0);
	assert_int_equal(n, 2);
	sodium_memzero(sk, sizeof(sk));
}

static void
test_models(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_model *m;
	struct recomp rc = { 0 };

	assert_int_equal(store_model_get(f->s, NULL, &m, &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	add_model(f->s, "m1");
	add_model(f->s, "m2");
	assert_int_equal(store_model_add(f->s, "m1", "x", 1, DIM, NULL, &err), -1);
	assert_int_equal(err.code, DT_E_EXISTS);
	assert_int_equal(store_model_activate(f->s, "m1", recompute_cb, &rc,
	    &err), 0);
	assert_int_equal(store_model_activate(f->s, "m2", recompute_cb, &rc,
	    &err), 0);
	assert_int_equal(store_model_activate(f->s, "m3", recompute_cb, &rc,
	    &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	assert_int_equal(store_model_get(f->s, NULL, &m, &err), 0);
	assert_string_equal(m->id, "m2");
	assert_int_equal(m->n_bytes, sizeof("not really safetensors"));
	assert_memory_equal(m->bytes, "not really safetensors", m->n_bytes);
	assert_string_equal(m->metrics_json, "{\"eer\":0.05}");
	store_model_free(m);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM models "
	    "WHERE active = 1"), 1);
	/* the partial unique index forbids a second active model */
	assert_int_not_equal(q_exec(f->s, "UPDATE models SET "
	    "active = 1"), 0);
	assert_int_equal(store_model_delete(f->s, "m2", &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_not_equal(q_exec(f->s, "DELETE FROM models "
	    "WHERE active = 1"), 0);
	assert_int_equal(store_model_set_metrics(f->s, "m1", "{\"eer\":0.1}",
	    &err), 0);
	assert_int_equal(store_model_delete(f->s, "m1", &err), 0);
	assert_int_equal(store_model_get(f->s, "m1", &m, &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
}

struct blob {
	uint8_t *p;
	size_t n;
};

static int
file_contains(const char *path, const void *needle, size_t n)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long len;
	int found;

	if (fp == NULL)
		return 0;
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	found = memmem(buf, (size_t)len, needle, n) != NULL;
	free(buf);
	return found;
}

static void
test_sealing(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_recording *r;
	struct store_key *k2;
	struct store *s2;
	float x[500], *e, want[DIM];
	uint8_t raw[32];
	int64_t r1, r2, t1;
	int dim;

	add_model(f->s, "m1");
	samples(7, x, 500);
	emb(7, want, DIM);
	assert_int_equal(store_member_add(f->s, "alice", NULL, &err), 0);
	assert_int_equal(store_member_add(f->s, "bob", NULL, &err), 0);
	assert_int_equal(store_recording_add(f->s, "alice", x, 500, 360, &r1,
	    &err), 0);
	assert_int_equal(store_recording_add(f->s, "bob", x, 10, 250, &r2,
	    &err), 0);
	assert_int_equal(store_template_add(f->s, "alice", "m1", want, DIM, r1,
	    &t1, &err), 0);
	assert_int_equal(store_template_add(f->s, "alice", "m1", want, DIM - 1,
	    r1, NULL, &err), -1);
	assert_int_equal(err.code, DT_E_INVALID);
	assert_int_equal(store_recording_get(f->s, r1, &r, &err), 0);
	assert_int_equal(r->n_samples, 500);
	assert_true(r->fs_hz == 360);
	assert_string_equal(r->member, "alice");
	assert_memory_equal(r->samples, x, sizeof(x));
	store_recording_free(r);
	assert_int_equal(store_template_get(f->s, t1, &e, &dim, &err), 0);
	assert_int_equal(dim, DIM);
	assert_memory_equal(e, want, sizeof(want));
	sodium_memzero(e, sizeof(want));
	free(e);

	/* no plaintext in the file: neither samples nor template appear */
	assert_int_equal(store_checkpoint(f->s, &err), 0);
	if (!pgtest_enabled()) {
		assert_false(file_contains(f->db, x + 100, 64));
		assert_false(file_contains(f->db, want, sizeof(want)));
	}

	/* a ciphertext moved to another row does not open */
	assert_int_equal(q_exec(f->s, "UPDATE recordings SET sealed = "
	    "(SELECT sealed FROM recordings WHERE member = (SELECT rid FROM "
	    "members WHERE id = 'alice')) WHERE member = (SELECT rid FROM "
	    "members WHERE id = 'bob')"), 0);
	assert_int_equal(store_recording_get(f->s, r2, &r, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	assert_non_null(strstr(err.msg, "recording:bob"));

	/* a wrong key is refused at open, clearly */
	randombytes_buf(raw, sizeof(raw));
	assert_int_equal(store_key_from_bytes(raw, &k2, &err), 0);
	assert_int_equal(store_open(f->db, k2, 0, &s2, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	assert_non_null(strstr(err.msg, "key"));
	store_key_free(k2);
	/* without a key: biometric reads fail with DT_E_CRYPTO, not garbage */
	assert_int_equal(store_open(f->db, NULL, 0, &s2, &err), 0);
	assert_int_equal(store_recording_get(s2, r1, &r, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	store_close(s2);
}

static void
test_key_files(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_key *k;
	struct stat st;
	char path[160], cred[160];
	uint8_t raw[32];
	int fd;

	snprintf(path, sizeof(path), "%s/store.key", f->dir);
	assert_int_equal(store_key_create_file(path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 45);	/* 44 base64 chars + newline */
	assert_int_equal(store_key_create_file(path, &err), -1);
	assert_int_equal(err.code, DT_E_EXISTS);
	assert_int_equal(store_key_load_file(path, &k, &err), 0);
	store_key_free(k);
	chmod(path, 0644);
	assert_int_equal(store_key_load_file(path, &k, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	assert_non_null(strstr(err.msg, "chmod"));

	/* a raw 32-byte key as a systemd credential */
	snprintf(cred, sizeof(cred), "%s/dt4ecg-store-key", f->dir);
	fd = open(cred, O_WRONLY | O_CREAT | O_EXCL, 0400);
	assert_true(fd >= 0);
	randombytes_buf(raw, sizeof(raw));
	assert_int_equal(write(fd, raw, 32), 32);
	close(fd);
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(store_key_load_credential("dt4ecg-store-key", &k, &err),
	    -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	setenv("CREDENTIALS_DIRECTORY", f->dir, 1);
	assert_int_equal(store_key_load_credential("dt4ecg-store-key", &k, &err),
	    0);
	store_key_free(k);
	unsetenv("CREDENTIALS_DIRECTORY");

	/* garbage */
	snprintf(path, sizeof(path), "%s/bad.key", f->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_int_equal(write(fd, "not base64 at all!\n", 19), 19);
	close(fd);
	assert_int_equal(store_key_load_file(path, &k, &err), -1);
	assert_int_equal(err.code, DT_E_FORMAT);
}

static int
find_erase(void *ctx, const struct store_audit_entry *e)
{
	if (e->subject != NULL)
		assert_null(strstr(e->subject, "zelda"));
	if (strcmp(e->action, "member.erase") == 0) {
		assert_null(e->subject);
		assert_null(strstr(e->detail, "zelda"));
		(*(int *)ctx)++;
	}
	return 0;
}

/* Adapted templates (issue 12.9a): capped with the oldest replaced, one per
 * interval, none while locked, audited; inside a transaction a failure
 * leaves it usable; erasure removes them with the member. */
static void
test_template_adapt(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	float e[DIM];
	bool added;
	/* the caller's clock 100 s behind the store's: the interval is
	 * measured on the caller's clock alone (the rows once took
	 * store_now(), and interval 0 refused whenever a second passed) */
	int64_t now = (int64_t)time(NULL) - 100, first;

	add_model(f->s, "m1");
	enroll(f->s, "ann", "Ann", "m1", 31);
#define ADAPTED "SELECT count(*) FROM templates WHERE recording IS NULL"
	emb(32, e, DIM);
	/* cap 0: off */
	assert_int_equal(store_template_adapt(f->s, "ann", "m1", e, DIM, 0, 0,
	    now, NULL, &added, &err), 0);
	assert_false(added);
	assert_int_equal(store_template_adapt(f->s, "ann", "m1", e, DIM, 2,
	    3600, now, "\"score\":0.95", &added, &err), 0);
	assert_true(added);
	assert_int_equal(q_int(f->s, ADAPTED), 1);
	first = q_int(f->s, "SELECT min(id) FROM templates WHERE recording IS "
	    "NULL");
	/* within the interval: nothing */
	assert_int_equal(store_template_adapt(f->s, "ann", "m1", e, DIM, 2,
	    3600, now, NULL, &added, &err), 0);
	assert_false(added);
	/* interval 0: up to the cap, then the oldest goes */
	assert_int_equal(store_template_adapt(f->s, "ann", "m1", e, DIM, 2, 0,
	    now, NULL, &added, &err), 0);
	assert_true(added);
	assert_int_equal(store_template_adapt(f->s, "ann", "m1", e, DIM, 2, 0,
	    now, NULL, &added, &err), 0);
	assert_true(added);
	assert_int_equal(q_int(f->s, ADAPTED), 2);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM templates WHERE "
	    "recording IS NOT NULL"), 1);	/* the enrolment's stays */
	assert_true(q_int(f->s, "SELECT min(id) FROM templates WHERE "
	    "recording IS NULL") > first);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM audit WHERE "
	    "action = 'template.adapt'"), 3);
	/* a locked member learns nothing */
	assert_int_equal(store_member_set_locked(f->s, "ann", now + 600, &err),
	    0);
	assert_int_equal(store_template_adapt(f->s, "ann", "m1", e, DIM, 2, 0,
	    now, NULL, &added, &err), 0);
	assert_false(added);
	assert_int_equal(store_member_set_locked(f->s, "ann", 0, &err), 0);
	/* in a transaction: a failing adaptation (unknown model) is rolled
	 * back alone and the transaction commits */
	assert_int_equal(store_begin(f->s, &err), 0);
	assert_int_equal(store_audit_append(f->s, "test", "test.before", NULL,
	    NULL, &err), 0);
	assert_int_equal(store_template_adapt(f->s, "ann", "nope", e, DIM, 2,
	    0, now, NULL, &added, &err), -1);
	assert_false(added);
	assert_int_equal(store_commit(f->s, &err), 0);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM audit WHERE "
	    "action = 'test.before'"), 1);
	/* erasure takes them */
	assert_int_equal(store_member_delete(f->s, "ann", &err), 0);
	assert_int_equal(q_int(f->s, ADAPTED), 0);
#undef ADAPTED
}

static void
test_erasure(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_member m;
	struct blob blobs[16];
	sqlite3_stmt *st;
	size_t nb = 0, i;
	char wal[300];
	const char *name = "Zelda Quintessence-Uniqueplume";
	int found = 0, j;
	int64_t bad;

	add_model(f->s, "m1");
	enroll(f->s, "zelda", name, "m1", 11);
	enroll(f->s, "other", "Someone Else", "m1", 12);
	for (j = 0; j < 2; j++) {
		float x[300], e[DIM];
		int64_t rec;
		samples(20 + j, x, 300);
		emb(20 + j, e, DIM);
		assert_int_equal(store_recording_add(f->s, "zelda", x, 300, 250,
		    &rec, &err), 0);
		assert_int_equal(store_template_add(f->s, "zelda", "m1", e, DIM,
		    rec, NULL, &err), 0);
	}
	/* her rows, then (SQLite) her ciphertexts */
	assert_int_equal(q_int(f->s, "SELECT (SELECT count(*) FROM recordings "
	    "WHERE member = (SELECT rid FROM members WHERE id = 'zelda')) + "
	    "(SELECT count(*) FROM templates WHERE member = (SELECT rid FROM "
	    "members WHERE id = 'zelda'))"), 6);
	assert_int_equal(q_exec(f->s, "CREATE TABLE zsealed AS SELECT sealed "
	    "FROM recordings WHERE member = (SELECT rid FROM members WHERE id = "
	    "'zelda') UNION ALL SELECT sealed FROM templates WHERE member = "
	    "(SELECT rid FROM members WHERE id = 'zelda')"), 0);
	if (pgtest_enabled()) {
		assert_int_equal(store_member_delete(f->s, "zelda", &err), 0);
		assert_int_equal(store_member_get(f->s, "zelda", &m, &err), -1);
		/* no table holds any of her ciphertexts or her id */
		assert_int_equal(q_int(f->s, "SELECT count(*) FROM zsealed z "
		    "WHERE EXISTS (SELECT 1 FROM recordings r WHERE r.sealed = "
		    "z.sealed) OR EXISTS (SELECT 1 FROM templates t WHERE "
		    "t.sealed = z.sealed)"), 0);
		assert_int_equal(q_int(f->s, "SELECT count(*) FROM recordings"),
		    1);
		assert_int_equal(q_int(f->s, "SELECT count(*) FROM templates"),
		    1);
		assert_int_equal(q_int(f->s, "SELECT count(*) FROM audit WHERE "
		    "subject = 'zelda' OR detail LIKE '%zelda%' OR detail LIKE "
		    "'%Zelda%'"), 0);
		assert_int_equal(q_int(f->s, "SELECT count(*) FROM members WHERE "
		    "id = 'zelda' OR display_name LIKE 'Zelda%'"), 0);
		assert_int_equal(store_audit_list(f->s, 0, find_erase, &found,
		    &err), 0);
		assert_int_equal(found, 1);
		assert_int_equal(store_audit_verify(f->s, &bad, NULL, &err), 0);
		assert_int_equal(bad, 0);
		return;
	}
	assert_int_equal(q_exec(f->s, "DROP TABLE zsealed"), 0);
	assert_int_equal(sqlite3_prepare_v2(store_db(f->s), "SELECT sealed FROM "
	    "recordings WHERE member = (SELECT rid FROM members WHERE id = "
	    "'zelda') UNION ALL SELECT sealed FROM templates WHERE member = "
	    "(SELECT rid FROM members WHERE id = 'zelda')", -1, &st, NULL),
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && nb < 16) {
		blobs[nb].n = (size_t)sqlite3_column_bytes(st, 0);
		blobs[nb].p = malloc(blobs[nb].n);
		memcpy(blobs[nb].p, sqlite3_column_blob(st, 0), blobs[nb].n);
		nb++;
	}
	sqlite3_finalize(st);
	assert_int_equal(nb, 6);
	/* sanity: before erasure the scan does find them */
	assert_int_equal(store_checkpoint(f->s, &err), 0);
	assert_true(file_contains(f->db, name, strlen(name)));
	assert_true(file_contains(f->db, blobs[0].p, 40));

	assert_int_equal(store_member_delete(f->s, "zelda", &err), 0);
	assert_int_equal(store_member_get(f->s, "zelda", &m, &err), -1);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM recordings"), 1);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM templates"), 1);
	assert_int_equal(store_audit_list(f->s, 0, find_erase, &found, &err), 0);
	assert_int_equal(found, 1);
	assert_int_equal(store_audit_verify(f->s, &bad, NULL, &err), 0);
	assert_int_equal(bad, 0);
	store_close(f->s);
	f->s = NULL;

	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	assert_false(file_contains(f->db, name, strlen(name)));
	assert_false(file_contains(wal, name, strlen(name)));
	/* nor her id (issue 14: the audit log named her in the clear) */
	assert_false(file_contains(f->db, "zelda", 5));
	assert_false(file_contains(wal, "zelda", 5));
	for (i = 0; i < nb; i++) {
		/* any 32-byte piece of any of her ciphertexts */
		size_t off;
		for (off = 0; off + 32 <= blobs[i].n; off += 32) {
			assert_false(file_contains(f->db, blobs[i].p + off, 32));
			assert_false(file_contains(wal, blobs[i].p + off, 32));
		}
		free(blobs[i].p);
	}
	/* the other member is intact */
	assert_true(file_contains(f->db, "Someone Else", 12));
}

static void
test_audit(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	int64_t bad, n;

	assert_int_equal(store_member_add(f->s, "a1", NULL, &err), 0);
	assert_int_equal(store_member_add(f->s, "a2", NULL, &err), 0);
	assert_int_equal(store_audit_append(f->s, "kiosk:lobby-1", "auth.accept",
	    "a1", "{\"score\":0.93}", &err), 0);
	assert_int_equal(store_audit_append(f->s, "kiosk:lobby-1", "auth.reject",
	    NULL, "{\"score\":0.2}", &err), 0);
	assert_int_equal(store_member_add(f->s, "a3", NULL, &err), 0);
	assert_int_equal(store_audit_verify(f->s, &bad, &n, &err), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(n, 5);

	/* append-only: the triggers abort UPDATE and DELETE */
	assert_int_not_equal(q_exec(f->s, "UPDATE audit SET detail = 'x' "
	    "WHERE id = 3"), 0);
	assert_int_not_equal(q_exec(f->s, "DELETE FROM audit WHERE id = 3"), 0);
	if (pgtest_enabled())	/* and TRUNCATE */
		assert_int_not_equal(q_exec(f->s, "TRUNCATE audit"), 0);
	/* a manual edit that drops the triggers is detected */
	assert_int_equal(q_exec(f->s, "DROP TRIGGER audit_no_update; "
	    "UPDATE audit SET detail = '{\"score\":0.99}' WHERE id = 4"), 0);
	assert_int_equal(store_audit_verify(f->s, &bad, &n, &err), 0);
	assert_int_equal(bad, 4);

	/* so is a deleted entry (restore entry 4 first: it cannot be, so
	 * check deletion on a fresh chain position) */
	assert_int_equal(q_exec(f->s, "DROP TRIGGER audit_no_delete; "
	    "DELETE FROM audit WHERE id = 2"), 0);
	assert_int_equal(store_audit_verify(f->s, &bad, &n, &err), 0);
	assert_int_equal(bad, 3);
}

static void
check_templates_open(struct store *s, const char *model, int64_t want)
{
	struct dt_error err;
	char sql[256];
	float *e;
	int dim;
	int64_t n = 0, id = 0;

	for (;;) {
		snprintf(sql, sizeof(sql), "SELECT coalesce(min(t.id), 0) FROM "
		    "templates t JOIN models o ON o.rid = t.model WHERE o.id = "
		    "'%s' AND t.id > %lld", model, (long long)id);
		if ((id = q_int(s, sql)) == 0)
			break;
		assert_int_equal(store_template_get(s, id, &e, &dim, &err), 0);
		free(e);
		n++;
	}
	assert_int_equal(n, want);
}

static void
test_activation(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_model *m;
	struct recomp rc = { 0 };
	struct match_index *ix;
	struct match_hit hits[3];
	size_t nh;
	float q[DIM];
	char id[16];
	int i;

	add_model(f->s, "old");
	assert_int_equal(store_model_activate(f->s, "old", recompute_cb, &rc,
	    &err), 0);
	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "m%d", i);
		enroll(f->s, id, NULL, "old", (unsigned)i + 1);
	}
	add_model(f->s, "new");
	/* the callback fails at the 4th member: nothing changes */
	rc.fail = "m3";
	assert_int_equal(store_model_activate(f->s, "new", recompute_cb, &rc,
	    &err), -1);
	assert_int_equal(err.code, DT_E_SIG_FLAT);
	assert_non_null(strstr(err.msg, "m3"));
	assert_non_null(strstr(err.msg, "new"));
	assert_int_equal(rc.calls, 4);
	assert_int_equal(store_model_get(f->s, NULL, &m, &err), 0);
	assert_string_equal(m->id, "old");
	store_model_free(m);
	check_templates_open(f->s, "old", 6);
	check_templates_open(f->s, "new", 0);
	/* and the old model keeps working for matching */
	assert_int_equal(match_index_create(&ix, &err), 0);
	assert_int_equal(match_index_refresh(ix, f->s, NULL, &err), 0);
	emb(3, q, DIM);
	assert_int_equal(match_identify(ix, q, DIM, 3, hits, &nh, &err), 0);
	assert_string_equal(hits[0].member, "m2");
	assert_true(hits[0].score > 0.999f);

	/* a working callback switches, templates recomputed */
	rc.fail = NULL;
	rc.calls = 0;
	assert_int_equal(store_model_activate(f->s, "new", recompute_cb, &rc,
	    &err), 0);
	assert_int_equal(rc.calls, 6);
	assert_int_equal(store_model_get(f->s, NULL, &m, &err), 0);
	assert_string_equal(m->id, "new");
	assert_int_equal(m->n_templates, 6);
	store_model_free(m);
	check_templates_open(f->s, "old", 6);
	check_templates_open(f->s, "new", 6);
	assert_int_equal(match_index_refresh(ix, f->s, NULL, &err), 0);
	{
		struct match_stats st;
		match_index_stats(ix, &st);
		assert_string_equal(st.model, "new");
		assert_int_equal(st.templates, 6);
		assert_int_equal(st.full_reloads, 2);
	}
	match_index_free(ix);
}

static void
test_incremental_reload(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store *s2;
	struct match_index *ix;
	struct match_stats st;
	struct match_hit hits[2];
	struct recomp rc = { 0 };
	size_t nh;
	float q[DIM], sc;
	int changed, i;
	char id[16];

	add_model(f->s, "m1");
	assert_int_equal(store_model_activate(f->s, "m1", recompute_cb, &rc,
	    &err), 0);
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "u%02d", i);
		enroll(f->s, id, NULL, "m1", (unsigned)i + 100);
	}
	assert_int_equal(match_index_create(&ix, &err), 0);
	assert_int_equal(match_index_refresh(ix, f->s, &changed, &err), 0);
	assert_int_equal(changed, 1);
	assert_int_equal(match_index_refresh(ix, f->s, &changed, &err), 0);
	assert_int_equal(changed, 0);

	/* the admin tool, another connection, enrolls one member */
	assert_int_equal(store_open(f->db, f->key, 0, &s2, &err), 0);
	enroll(s2, "newcomer", NULL, "m1", 999);
	settle(f->s);
	emb(999, q, DIM);
	assert_int_equal(match_index_refresh(ix, f->s, &changed, &err), 0);
	assert_int_equal(changed, 1);
	match_index_stats(ix, &st);
	assert_int_equal(st.full_reloads, 1);
	assert_int_equal(st.incremental_reloads, 1);
	assert_int_equal(st.members_reloaded, 1);
	assert_int_equal(st.members, 21);
	assert_int_equal(match_identify(ix, q, DIM, 2, hits, &nh, &err), 0);
	assert_string_equal(hits[0].member, "newcomer");
	assert_int_equal(match_verify(ix, "newcomer", q, DIM, &sc, &err), 0);
	assert_true(sc > 0.999f);

	/* a second template for an existing member, then an erasure */
	emb(5000, q, DIM);
	assert_int_equal(store_template_add(s2, "u03", "m1", q, DIM, 0, NULL,
	    &err), 0);
	assert_int_equal(store_member_delete(s2, "u07", &err), 0);
	settle(f->s);
	assert_int_equal(match_index_refresh(ix, f->s, &changed, &err), 0);
	assert_int_equal(changed, 1);
	match_index_stats(ix, &st);
	assert_int_equal(st.members_reloaded, 3);
	assert_int_equal(st.members, 20);
	assert_int_equal(st.templates, 21);
	assert_int_equal(match_identify(ix, q, DIM, 1, hits, &nh, &err), 0);
	assert_string_equal(hits[0].member, "u03");
	assert_int_equal(match_verify(ix, "u07", q, DIM, &sc, &err), -1);
	assert_int_equal(err.code, DT_E_NOTFOUND);
	store_close(s2);

	/* a change through the index's own connection is seen too */
	enroll(f->s, "own", NULL, "m1", 4242);
	assert_int_equal(match_index_refresh(ix, f->s, &changed, &err), 0);
	assert_int_equal(changed, 1);
	match_index_stats(ix, &st);
	assert_int_equal(st.members, 21);
	assert_int_equal(st.full_reloads, 1);
	match_index_free(ix);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * PostgreSQL: 100 enrolments by another connection (another replica), each
 * seen by this one through LISTEN/NOTIFY, then loaded by the incremental
 * reload from the changes table.  Prints the latency from the writer's
 * commit to the moment this connection's data version moved (p50, p99,
 * max); asserts only that every change arrived and was loaded.
 */
static void
test_notify_latency(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store *s2;
	struct match_index *ix;
	struct match_stats st;
	struct recomp rc = { 0 };
	double lat[100], t0;
	int64_t a, b;
	char id[16];
	int i, j, changed;

	if (!pgtest_enabled())	/* SQLite: data_version, tested above */
		skip();
	add_model(f->s, "m1");
	assert_int_equal(store_model_activate(f->s, "m1", recompute_cb, &rc,
	    &err), 0);
	assert_int_equal(match_index_create(&ix, &err), 0);
	assert_int_equal(match_index_refresh(ix, f->s, NULL, &err), 0);
	assert_int_equal(store_open(f->db, f->key, 0, &s2, &err), 0);
	for (i = 0; i < 100; i++) {
		assert_int_equal(store_data_version(f->s, &a, &err), 0);
		snprintf(id, sizeof(id), "n%03d", i);
		enroll(s2, id, NULL, "m1", (unsigned)i + 7000);
		t0 = mono_ms();
		for (j = 0; j < 50000; j++) {	/* bounded: about 5 s */
			assert_int_equal(store_data_version(f->s, &b, &err), 0);
			if (b != a)
				break;
			usleep(100);
		}
		lat[i] = mono_ms() - t0;
		assert_true(b != a);
		assert_int_equal(match_index_refresh(ix, f->s, &changed, &err),
		    0);
		assert_int_equal(changed, 1);
	}
	settle(f->s);
	assert_int_equal(match_index_refresh(ix, f->s, NULL, &err), 0);
	match_index_stats(ix, &st);
	assert_int_equal(st.members, 100);
	assert_int_equal(st.full_reloads, 1);
	qsort(lat, 100, sizeof(lat[0]), cmp_double);
	print_message("LISTEN/NOTIFY: commit to notification over 100 "
	    "enrolments: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", lat[49],
	    lat[98], lat[99]);
	store_close(s2);
	match_index_free(ix);
}

/* ---- keyed chain, anchors, row MACs, migration 4 (issue 13 point 7) ---- */

static void
h_u64(crypto_generichash_state *h, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(h, b, 8);
}

static void
h_str(crypto_generichash_state *h, const unsigned char *str)
{
	if (str == NULL) {
		h_u64(h, UINT64_MAX);
		return;
	}
	h_u64(h, strlen((const char *)str));
	crypto_generichash_update(h, str, strlen((const char *)str));
}

/*
 * What an attacker with write access to the file does after editing the
 * log: renumber the entries 1..n and recompute every link and hash, with
 * the chain key KEY (32 bytes: a malicious operator) or without (NULL: the
 * unkeyed chain of before).
 */
static void
rechain(const char *path, const uint8_t *key)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *st, *up;
	uint8_t prev[32] = { 0 }, hash[32];
	int64_t n = 0;

	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER IF EXISTS "
	    "audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; "
	    "CREATE TEMP TABLE a2 AS SELECT * FROM audit ORDER BY id; "
	    "DELETE FROM audit; BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT ts, actor, action, "
	    "subject, detail FROM a2 ORDER BY id", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO audit(id, ts, "
	    "actor, action, subject, detail, prev_hash, hash) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?)", -1, &up, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		crypto_generichash_state h;
		int c;

		n++;
		crypto_generichash_init(&h, key, key ? 32 : 0, 32);
		crypto_generichash_update(&h, prev, 32);
		h_u64(&h, (uint64_t)n);
		h_u64(&h, (uint64_t)sqlite3_column_int64(st, 0));
		for (c = 1; c <= 4; c++)
			h_str(&h, sqlite3_column_text(st, c));
		crypto_generichash_final(&h, hash, 32);
		sqlite3_reset(up);
		sqlite3_bind_int64(up, 1, n);
		sqlite3_bind_int64(up, 2, sqlite3_column_int64(st, 0));
		for (c = 1; c <= 4; c++)
			sqlite3_bind_value(up, c + 2, sqlite3_column_value(st, c));
		sqlite3_bind_blob(up, 7, prev, 32, SQLITE_TRANSIENT);
		sqlite3_bind_blob(up, 8, hash, 32, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(up), SQLITE_DONE);
		memcpy(prev, hash, 32);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	assert_int_equal(sqlite3_exec(db, "COMMIT; DROP TABLE a2", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
raw_exec(const char *path, const char *sql)
{
	struct dt_error err;
	struct store *s;
	sqlite3 *db;

	if (pgtest_enabled()) {	/* another connection, without the key */
		assert_int_equal(store_open(path, NULL, 0, &s, &err), 0);
		assert_int_equal(q_exec(s, sql), 0);
		store_close(s);
		return;
	}
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A store of 30 entries, a copy of its file, and its anchor. */
static void
thirty(struct fx *f, char *copy, size_t len, struct store_audit_anchor *a)
{
	struct dt_error err;
	char cmd[800], id[16];
	int i;

	for (i = 0; i < 30; i++) {
		snprintf(id, sizeof(id), "p%02d", i);
		assert_int_equal(i % 2 ? store_audit_append(f->s, "kiosk:k1",
		    "auth.reject", NULL, "{\"score\":0.1}", &err) :
		    store_member_add(f->s, id, NULL, &err), 0);
	}
	assert_int_equal(store_audit_head(f->s, a, &err), 0);
	assert_int_equal(a->count, 30);
	assert_int_equal(store_audit_check_anchor(f->s, a, &err), 0);
	assert_int_equal(store_checkpoint(f->s, &err), 0);
	store_close(f->s);
	f->s = NULL;
	snprintf(copy, len, "%s/copy.db", f->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", f->db, copy);
	assert_int_equal(system(cmd), 0);
}

/* Reopens F's store and returns the first bad entry of the chain. */
static int64_t
first_bad(struct fx *f)
{
	struct dt_error err;
	int64_t bad = -1, n;

	store_close(f->s);
	assert_int_equal(store_open(f->db, f->key, 0, &f->s, &err), 0);
	assert_int_equal(store_audit_verify(f->s, &bad, &n, &err), 0);
	return bad;
}

static void
restore(struct fx *f, const char *copy)
{
	char cmd[800];

	store_close(f->s);
	f->s = NULL;
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'",
	    copy, f->db, f->db, f->db);
	assert_int_equal(system(cmd), 0);
}

static void
test_audit_keyed(void **state)
{
	struct fx *f = *state;
	struct store_audit_anchor a;
	struct dt_error err;
	char copy[160];
	uint8_t chain_key[32];

	if (pgtest_enabled())	/* SQLite files only */
		skip();

	thirty(f, copy, sizeof(copy), &a);

	/* deleting entries 21-27 and recomputing the chain: detected */
	raw_exec(f->db, "DROP TRIGGER audit_no_delete; "
	    "DELETE FROM audit WHERE id BETWEEN 21 AND 27");
	rechain(f->db, NULL);
	assert_int_equal(first_bad(f), 1);

	/* rewriting entry 5 and recomputing the chain: detected */
	restore(f, copy);
	raw_exec(f->db, "DROP TRIGGER audit_no_update; UPDATE audit SET "
	    "actor = 'kiosk:elsewhere' WHERE id = 5");
	rechain(f->db, NULL);
	assert_int_equal(first_bad(f), 1);

	/* whoever holds the key can recompute the chain: the anchor, kept
	 * outside the store, still shows both edits */
	assert_int_equal(store_key_derive(f->key, "dtaudit1", chain_key, &err),
	    0);
	restore(f, copy);
	raw_exec(f->db, "DROP TRIGGER audit_no_delete; "
	    "DELETE FROM audit WHERE id BETWEEN 21 AND 27");
	rechain(f->db, chain_key);
	assert_int_equal(first_bad(f), 0);
	assert_int_equal(store_audit_check_anchor(f->s, &a, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	assert_non_null(strstr(err.msg, "deleted"));

	restore(f, copy);
	raw_exec(f->db, "DROP TRIGGER audit_no_update; UPDATE audit SET "
	    "actor = 'kiosk:elsewhere' WHERE id = 5");
	rechain(f->db, chain_key);
	assert_int_equal(first_bad(f), 0);
	assert_int_equal(store_audit_check_anchor(f->s, &a, &err), -1);
	assert_non_null(strstr(err.msg, "rewritten"));
	sodium_memzero(chain_key, sizeof(chain_key));

	/* the untouched copy verifies against its anchor */
	restore(f, copy);
	assert_int_equal(first_bad(f), 0);
	assert_int_equal(store_audit_check_anchor(f->s, &a, &err), 0);

	/* without the key the keyed chain cannot be checked (nor written) */
	{
		struct store *s2;
		int64_t bad, n;

		assert_int_equal(store_open(f->db, NULL, 0, &s2, &err), 0);
		assert_int_equal(store_audit_verify(s2, &bad, &n, &err), -1);
		assert_int_equal(err.code, DT_E_CRYPTO);
		assert_int_equal(store_member_add(s2, "x", NULL, &err), -1);
		assert_int_equal(err.code, DT_E_CRYPTO);
		store_close(s2);
	}
}

static void
test_anchor_text(void **state)
{
	struct store_audit_anchor a, *v = NULL;
	struct dt_error err;
	char line[STORE_ANCHOR_LINE_MAX], text[600];
	size_t n = 0;
	int i;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.count = 1234;
	a.ts = 1700000000;
	for (i = 0; i < 32; i++)
		a.head[i] = (uint8_t)(i * 7);
	store_anchor_format(&a, line, sizeof(line));
	assert_int_equal(strncmp(line, "dt4ecg-audit-anchor 1 count=1234 head=",
	    38), 0);
	/* a file of shipped journal lines, blank lines between */
	snprintf(text, sizeof(text), "Dec 01 10:00:00 host dt4ecgd[42]: audit "
	    "anchor: %s\n\n%s\r\n", line, line);
	assert_int_equal(store_anchor_parse("f", text, strlen(text), &v, &n,
	    &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].count, 1234);
	assert_int_equal(v[0].ts, 1700000000);
	assert_memory_equal(v[0].head, a.head, 32);
	free(v);
	/* refused: junk, a short head, trailing junk, empty */
	assert_int_equal(store_anchor_parse("f", "hello\n", 6, &v, &n, &err), -1);
	assert_non_null(strstr(err.msg, "f:1"));
	snprintf(text, sizeof(text), "%s\n%.60s\n", line, line);
	assert_int_equal(store_anchor_parse("f", text, strlen(text), &v, &n,
	    &err), -1);
	assert_non_null(strstr(err.msg, "f:2"));
	snprintf(text, sizeof(text), "%s x\n", line);
	assert_int_equal(store_anchor_parse("f", text, strlen(text), &v, &n,
	    &err), -1);
	assert_int_equal(store_anchor_parse("f", "\n\n", 2, &v, &n, &err), -1);
	assert_int_equal(err.code, DT_E_FORMAT);
}

static void
test_row_macs(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store_kiosk k;
	struct store_member m;
	struct store_model *sm;
	struct match_index *ix;
	uint8_t pk[32] = { 1, 2, 3 };
	char sql[512];

	assert_int_equal(store_kiosk_add(f->s, "good", pk, &err), 0);
	assert_int_equal(store_kiosk_add(f->s, "gone", pk, &err), 0);
	assert_int_equal(store_kiosk_revoke(f->s, "gone", &err), 0);
	assert_int_equal(store_member_add(f->s, "locked", NULL, &err), 0);
	assert_int_equal(store_member_set_locked(f->s, "locked",
	    (int64_t)time(NULL) + 3600, &err), 0);
	add_model(f->s, "m1");
	add_model(f->s, "m2");
	assert_int_equal(store_model_activate(f->s, "m1", recompute_cb,
	    &(struct recomp){ 0 }, &err), 0);
	assert_int_equal(store_kiosk_get(f->s, "good", &k, &err), 0);
	assert_int_equal(k.row_ok, 1);
	assert_int_equal(store_member_get(f->s, "locked", &m, &err), 0);
	assert_int_equal(m.row_ok, 1);
	assert_int_equal(store_model_get(f->s, NULL, &sm, &err), 0);
	assert_int_equal(sm->row_ok, 1);
	store_model_free(sm);

	/* a kiosk added by writing the file, even with a real row's MAC */
	raw_exec(f->db, "INSERT INTO kiosks(id, public_key, created, mac) "
	    "SELECT 'evil', public_key, created, mac FROM kiosks "
	    "WHERE id = 'good'");
	assert_int_equal(store_kiosk_get(f->s, "evil", &k, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	assert_non_null(strstr(err.msg, "kiosk evil"));
	/* a revocation lifted by writing the file */
	raw_exec(f->db, "DROP TRIGGER kiosks_stay_revoked; UPDATE kiosks SET "
	    "revoked_at = NULL WHERE id = 'gone'");
	assert_int_equal(store_kiosk_get(f->s, "gone", &k, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	/* a member unlocked by writing the file */
	raw_exec(f->db, "UPDATE members SET locked_until = 0 WHERE id = "
	    "'locked'");
	assert_int_equal(store_member_get(f->s, "locked", &m, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	/* the active model switched by writing the file */
	raw_exec(f->db, "UPDATE models SET active = 0 WHERE id = 'm1'; "
	    "UPDATE models SET active = 1 WHERE id = 'm2'");
	assert_int_equal(store_model_get(f->s, NULL, &sm, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	assert_int_equal(match_index_create(&ix, &err), 0);
	assert_int_equal(match_index_refresh(ix, f->s, NULL, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	match_index_free(ix);
	/* the active model's weights replaced by writing the file */
	raw_exec(f->db, "UPDATE models SET active = 0 WHERE id = 'm2'; "
	    "UPDATE models SET active = 1 WHERE id = 'm1'");
	assert_int_equal(store_model_get(f->s, NULL, &sm, &err), 0);
	store_model_free(sm);
	snprintf(sql, sizeof(sql), "UPDATE models SET bytes = x'00112233' "
	    "WHERE id = 'm1'");
	raw_exec(f->db, sql);
	assert_int_equal(store_model_get(f->s, "m1", &sm, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	/* the lists still show every row, marked */
	assert_int_equal(store_kiosk_get(f->s, "good", &k, &err), 0);
}

/* Entry rows of an older (schema 3) store, written as its code did. */
static void
test_migration4(void **state)
{
	struct fx *f = *state;
	struct dt_error err;
	struct store *s;
	struct store_member m;
	struct store_kiosk k;
	struct store_model *sm;
	char path[160], wal[170], aid[STORE_AUDIT_ID_MAX];
	int64_t bad = -1, n = 0;
	int v;
	sqlite3 *db;

	if (pgtest_enabled())	/* SQLite files only */
		skip();

	snprintf(path, sizeof(path), "%s/v3.db", f->dir);
	assert_int_equal(store_open(path, f->key, STORE_CREATE | STORE_OLD_OK,
	    &s, &err), 0);
	assert_int_equal(store_migrate(s, 3, &err), 0);
	store_close(s);
	raw_exec(path, "INSERT INTO members(id, display_name, created) VALUES "
	    "('alice', 'Alice', 1);"
	    "INSERT INTO kiosks(id, public_key, created) VALUES ('lobby', "
	    "zeroblob(32), 1);"
	    "INSERT INTO models(id, bytes, embedding_dim, created, active) "
	    "VALUES ('m1', x'0102', 16, 1, 1);"
	    "INSERT INTO audit VALUES (1, 1, 'admin', 'member.add', 'alice', "
	    "NULL, x'', x'');"
	    "INSERT INTO audit VALUES (2, 1, 'admin', 'member.add', "
	    "'bobby-erased', NULL, x'', x'');"
	    "INSERT INTO audit VALUES (3, 2, 'kiosk:lobby', 'auth.accept', "
	    "'bobby-erased', '{}', x'', x'');"
	    "INSERT INTO audit VALUES (4, 3, 'admin', 'kiosk.add', 'lobby', "
	    "NULL, x'', x'');"
	    "INSERT INTO audit VALUES (5, 4, 'admin', 'member.erase', NULL, "
	    "'{\"member_hash\":\"0a0b\",\"keyed\":false,\"recordings\":1,"
	    "\"templates\":2}', x'', x'');");
	rechain(path, NULL);	/* the unkeyed chain of schema 3 */
	raw_exec(path, "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
	    "BEGIN SELECT RAISE(ABORT, 'x'); END; CREATE TRIGGER "
	    "audit_no_delete BEFORE DELETE ON audit BEGIN SELECT "
	    "RAISE(ABORT, 'x'); END;");

	/* without the key migration 4 cannot authenticate anything */
	assert_int_equal(store_open(path, NULL, STORE_MIGRATE, &s, &err), -1);
	assert_int_equal(err.code, DT_E_CRYPTO);
	assert_non_null(strstr(err.msg, "migration 4"));

	assert_int_equal(store_open(path, f->key, STORE_MIGRATE, &s, &err), 0);
	assert_int_equal(store_schema_version(s, &v, &err), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	assert_int_equal(store_audit_verify(s, &bad, &n, &err), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(n, 6);	/* + store.migrate */
	assert_int_equal(store_member_get(s, "alice", &m, &err), 0);
	assert_int_equal(m.row_ok, 1);
	assert_int_equal(store_kiosk_get(s, "lobby", &k, &err), 0);
	assert_int_equal(store_model_get(s, NULL, &sm, &err), 0);
	store_model_free(sm);
	assert_int_equal(store_member_audit_id(s, "alice", aid, &err), 0);
	db = store_db(s);
	{
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(db, "SELECT subject FROM "
		    "audit ORDER BY id", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal(sqlite3_column_text(st, 0), aid);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_null(sqlite3_column_text(st, 0));	/* erased */
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_null(sqlite3_column_text(st, 0));
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal(sqlite3_column_text(st, 0), "lobby");
		sqlite3_finalize(st);
		/* an old erasure keeps its counts, not the hash of the id */
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT detail FROM "
		    "audit WHERE id = 5", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal(sqlite3_column_text(st, 0),
		    "{\"recordings\":1,\"templates\":2}");
		sqlite3_finalize(st);
	}
	/* the triggers are back */
	assert_int_not_equal(sqlite3_exec(db, "UPDATE audit SET ts = 0", NULL,
	    NULL, NULL), SQLITE_OK);
	store_close(s);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_false(file_contains(path, "bobby-erased", 12));
	assert_false(file_contains(wal, "bobby-erased", 12));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kiosks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_models, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_template_adapt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_erasure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_keyed, setup, teardown),
		cmocka_unit_test(test_anchor_text),
		cmocka_unit_test_setup_teardown(test_row_macs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_latency, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_incremental_reload, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

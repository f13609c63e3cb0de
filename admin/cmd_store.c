/*
 * admin/cmd_store.c — `dt4ecg-admin init`, `migrate` and `backup`: the
 * store file itself.
 *
 *   init [--key-file FILE]   creates STORE (mode 0600, schema migrated) and
 *                            its key file (default STORE.key, mode 0600)
 *   migrate                  applies pending schema migrations
 *   backup FILE              SQLite online backup of a consistent snapshot,
 *                            safe while dt4ecgd runs; never overwrites FILE
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "admin/common.h"
#include "store/crypto.h"

/* --key-file (init only) and --help. */
struct store_opts {
	const char *key_file;
};

static const struct adm_opt opts[] = {
	ADM_OPT_STR("key-file", 'k', struct store_opts, key_file),
	ADM_OPT_END,
};
static const struct adm_options options = { "store", opts, NULL };

static const char init_usage[] =
    "usage: dt4ecg-admin --db STORE init [--key-file FILE]\n"
    "  Creates the store STORE (mode 0600) and a new random store key in\n"
    "  FILE (default $DT4ECG_KEY_FILE, else STORE.key; mode 0600).  The key\n"
    "  encrypts the biometric data; keep a copy of it apart from the\n"
    "  store's backups, and for dt4ecgd install it root-owned outside the\n"
    "  state directory (/etc/dt4ecgd/store.key; the unit passes it with\n"
    "  LoadCredential=).  Later commands find it through --key-file,\n"
    "  $DT4ECG_KEY_FILE or STORE.key.  Refuses to overwrite either file.\n";

int
cmd_init(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct store_key *key = NULL;
	struct store *s = NULL;
	struct store_opts so = { 0 };
	const char *key_file;
	char defkey[ADM_PATH_MAX], detail[32];
	int fd, rc, made_key = 0, made_db = 0;

	if ((rc = adm_opts(argc, argv, &options, init_usage, "k", &so, 0,
	    0)) >= 0)
		return rc;
	key_file = so.key_file;
	if (adm_need_db(ctx, "init") != 0)
		return ADMIN_EXIT_USAGE;
	if (key_file == NULL && getenv(ADM_KEY_ENV) != NULL &&
	    *getenv(ADM_KEY_ENV) != '\0')
		key_file = getenv(ADM_KEY_ENV);
	if (key_file == NULL) {
		if (adm_default_key_path(ctx->db, defkey, sizeof(defkey))) {
			adm_errx("init", "%s: path too long", ctx->db);
			return ADMIN_EXIT_FAIL;
		}
		key_file = defkey;
	}
	rc = ADMIN_EXIT_FAIL;
	if (adm_is_pg(ctx->db)) {
		/* PostgreSQL: the database exists (createdb); it must not be a
		 * store yet, and the key has no place beside a URI */
		int v = 0;

		if (key_file == defkey) {
			adm_errx("init", "a PostgreSQL store needs --key-file "
			    "FILE (or %s=FILE) for its new key", ADM_KEY_ENV);
			return ADMIN_EXIT_USAGE;
		}
		if (store_open(ctx->db, NULL, STORE_OLD_OK, &s, &err) != 0 ||
		    store_schema_version(s, &v, &err) != 0) {
			adm_error("init", &err);
			goto out;
		}
		store_close(s);
		s = NULL;
		if (v != 0) {
			adm_errx("init", "%s is already a store (schema version "
			    "%d; use migrate to upgrade one)", ctx->db, v);
			goto out;
		}
		goto key;
	}
	/* the store file first: exclusive, 0600, so nothing is overwritten */
	fd = open(ctx->db, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		adm_errx("init", "%s: %s", ctx->db, errno == EEXIST ?
		    "already exists (refusing to overwrite a store; use "
		    "migrate to upgrade one)" : strerror(errno));
		return ADMIN_EXIT_FAIL;
	}
	close(fd);
	made_db = 1;
key:
	if (store_key_create_file(key_file, &err) != 0) {
		if (err.code == DT_E_EXISTS)
			adm_errx("init", "key file %s already exists (refusing "
			    "to overwrite it; remove it or give another "
			    "--key-file)", key_file);
		else
			adm_error("init", &err);
		goto out;
	}
	made_key = 1;
	if (store_key_load_file(key_file, &key, &err) != 0 ||
	    store_open(ctx->db, key, STORE_CREATE, &s, &err) != 0) {
		adm_error("init", &err);
		goto out;
	}
	store_set_actor(s, adm_actor());
	snprintf(detail, sizeof(detail), "{\"schema\":%d}",
	    STORE_SCHEMA_VERSION);
	if (store_audit_append(s, adm_actor(), "store.init", NULL, detail,
	    &err) != 0) {
		adm_error("init", &err);
		goto out;
	}
	printf("created store %s (schema version %d)\n"
	    "created store key %s (mode 0600): keep a copy of it apart from "
	    "the store's backups\n"
	    "for dt4ecgd, install the key root-owned outside the state "
	    "directory:\n"
	    "  install -o root -g root -m 0600 %s /etc/dt4ecgd/store.key\n"
	    "  (the unit passes it with LoadCredential=store.key:...; or "
	    "encrypt it with systemd-creds and LoadCredentialEncrypted=)\n"
	    "later dt4ecg-admin commands find it with --key-file FILE or "
	    "%s=FILE%s\n", ctx->db, STORE_SCHEMA_VERSION, key_file, key_file,
	    ADM_KEY_ENV, key_file == defkey ? " (or here, beside the store)" :
	    "");
	rc = ADMIN_EXIT_OK;
out:
	store_close(s);
	store_key_free(key);
	if (rc != ADMIN_EXIT_OK) {
		if (made_db) {
			char side[ADM_PATH_MAX + 8];

			unlink(ctx->db);
			snprintf(side, sizeof(side), "%s-wal", ctx->db);
			unlink(side);
			snprintf(side, sizeof(side), "%s-shm", ctx->db);
			unlink(side);
		}
		if (made_key)
			unlink(key_file);
	}
	return rc;
}

static const char migrate_usage[] =
    "usage: dt4ecg-admin --db STORE migrate\n"
    "  Applies the pending schema migrations, each in its own transaction.\n"
    "  Stop dt4ecgd first: it refuses a store of another schema version.\n";

int
cmd_migrate(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct store *s = NULL;
	char detail[64];
	int rc, before = 0, after = 0;

	if ((rc = adm_opts(argc, argv, &options, migrate_usage, "", NULL, 0,
	    0)) >= 0)
		return rc;
	if (adm_need_db(ctx, "migrate") != 0)
		return ADMIN_EXIT_USAGE;
	if (adm_open(ctx, "migrate", NULL, ADM_KEY_OPTIONAL, STORE_OLD_OK, &s))
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	if (store_schema_version(s, &before, &err) != 0)
		goto fail;
	if (before == 0) {
		dt_error_set(&err, DT_E_NOTFOUND, "%s is not an initialised "
		    "store (run dt4ecg-admin init)", ctx->db);
		goto fail;
	}
	if (store_migrate(s, 0, &err) != 0 ||
	    store_schema_version(s, &after, &err) != 0)
		goto fail;
	if (after == before) {
		printf("%s: schema version %d, nothing to do\n", ctx->db, after);
		rc = ADMIN_EXIT_OK;
		goto out;
	}
	snprintf(detail, sizeof(detail), "{\"from\":%d,\"to\":%d}", before,
	    after);
	if (store_audit_append(s, adm_actor(), "store.migrate", NULL, detail,
	    &err) != 0)
		goto fail;
	printf("%s: migrated from schema version %d to %d\n", ctx->db, before,
	    after);
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	adm_error("migrate", &err);
out:
	store_close(s);
	return rc;
}

static const char backup_usage[] =
    "usage: dt4ecg-admin --db STORE backup FILE\n"
    "  Copies a consistent snapshot of STORE to FILE with SQLite's online\n"
    "  backup, while dt4ecgd keeps running.  FILE must not exist; it is\n"
    "  created with mode 0600.  The store key is not part of the backup.\n";

int
cmd_backup(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct store *s = NULL;
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	sqlite3_stmt *st = NULL;
	const char *file;
	int rc, fd, q, tries = 0;
	bool made = false;

	if ((rc = adm_opts(argc, argv, &options, backup_usage, "", NULL, 1,
	    1)) >= 0)
		return rc;
	file = argv[optind];
	if (adm_need_db(ctx, "backup") != 0)
		return ADMIN_EXIT_USAGE;
	if (adm_is_pg(ctx->db)) {
		adm_errx("backup", "%s is a PostgreSQL store: back it up with "
		    "pg_dump (or the server's own backups), and the key file "
		    "apart from it (docs/dt4ecgd.md, \"Running a chain\")",
		    ctx->db);
		return ADMIN_EXIT_FAIL;
	}
	if (adm_open(ctx, "backup", NULL, ADM_KEY_NONE, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		adm_errx("backup", "%s: %s", file, errno == EEXIST ?
		    "already exists (refusing to overwrite it)" :
		    strerror(errno));
		goto out;
	}
	close(fd);
	made = true;
	if (sqlite3_open_v2(file, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		adm_errx("backup", "%s: %s", file, dst ? sqlite3_errmsg(dst) :
		    "out of memory");
		goto out;
	}
	if ((b = sqlite3_backup_init(dst, "main", store_db(s), "main")) ==
	    NULL) {
		adm_errx("backup", "%s: %s", file, sqlite3_errmsg(dst));
		goto out;
	}
	/* one step copies every page from one read snapshot: consistent */
	while ((q = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
	    q == SQLITE_LOCKED) {
		if (++tries > 100) {
			adm_errx("backup", "%s: store busy for too long",
			    ctx->db);
			goto out;
		}
		sqlite3_sleep(50);
	}
	if (q != SQLITE_DONE) {
		adm_errx("backup", "%s: %s", file, sqlite3_errstr(q));
		goto out;
	}
	q = sqlite3_backup_finish(b);
	b = NULL;
	if (q != SQLITE_OK) {
		adm_errx("backup", "%s: %s", file, sqlite3_errstr(q));
		goto out;
	}
	/* a self-contained file: no WAL beside it */
	if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		adm_errx("backup", "%s: the copy does not pass quick_check: %s",
		    file, sqlite3_errmsg(dst));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_close(dst) != SQLITE_OK) {
		adm_errx("backup", "%s: %s", file, sqlite3_errmsg(dst));
		goto out;
	}
	dst = NULL;
	if (store_audit_append(s, adm_actor(), "store.backup", NULL, NULL,
	    &err) != 0)
		adm_errx("backup", "warning: %s", err.msg);
	printf("backed up %s to %s (the store key is not in the backup)\n",
	    ctx->db, file);
	rc = ADMIN_EXIT_OK;
out:
	sqlite3_finalize(st);
	if (b != NULL)
		sqlite3_backup_finish(b);
	if (dst != NULL)
		sqlite3_close(dst);
	if (rc != ADMIN_EXIT_OK && made) {
		char side[ADM_PATH_MAX + 16];

		unlink(file);
		snprintf(side, sizeof(side), "%s-journal", file);
		unlink(side);
	}
	store_close(s);
	return rc;
}

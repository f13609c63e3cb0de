/*
 * admin/common.c — shared helpers of the dt4ecg-admin store commands.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "admin/common.h"
#include "nn/model.h"
#include "store/crypto.h"
#include "util/file.h"

void
adm_errx(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dt4ecg-admin %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
adm_error(const char *cmd, const struct dt_error *err)
{
	adm_errx(cmd, "%s", err->msg[0] ? err->msg : "failed");
}

int
adm_need_db(struct admin_ctx *ctx, const char *cmd)
{
	if (ctx->db != NULL && ctx->db[0] != '\0')
		return 0;
	adm_errx(cmd, "no store: give --db STORE before the command "
	    "(or set DT4ECG_DB)");
	return -1;
}

int
adm_default_key_path(const char *db, char *buf, size_t size)
{
	if ((size_t)snprintf(buf, size, "%s.key", db) >= size)
		return -1;
	return 0;
}

bool
adm_is_pg(const char *db)
{
	return strncmp(db, "postgresql://", 13) == 0 ||
	    strncmp(db, "postgres://", 11) == 0;
}

const char *
adm_actor(void)
{
	static char actor[STORE_ID_MAX + 16];
	struct passwd *pw;
	const char *name = NULL;

	if (actor[0] != '\0')
		return actor;
	if ((pw = getpwuid(getuid())) != NULL)
		name = pw->pw_name;
	if (name != NULL)
		snprintf(actor, sizeof(actor), "admin:%s", name);
	else
		snprintf(actor, sizeof(actor), "admin:uid%lu",
		    (unsigned long)getuid());
	return actor;
}

/* Says so (and returns true) when ctx->db is a file path that does not
 * exist. */
static bool
store_missing(struct admin_ctx *ctx, const char *cmd)
{
	struct stat sb;

	if (adm_is_pg(ctx->db) || stat(ctx->db, &sb) == 0 || errno != ENOENT)
		return false;
	adm_errx(cmd, "store %s: no such file; create it with dt4ecg-admin "
	    "--db %s init", ctx->db, ctx->db);
	return true;
}

int
adm_open(struct admin_ctx *ctx, const char *cmd, const char *key_file,
    enum adm_key keymode, int flags, struct store **out)
{
	struct dt_error err = { 0 };
	struct store_key *key = NULL;
	char path[ADM_PATH_MAX];
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	const char *env = getenv(ADM_KEY_ENV);
	struct stat sb;
	int rc = -1;

	if (adm_need_db(ctx, cmd) != 0)
		return -1;
	if (keymode == ADM_KEY_NONE)
		goto open;
	/* --key-file, then $DT4ECG_KEY_FILE, the credential, STORE.key */
	if (key_file == NULL && env != NULL && *env != '\0')
		key_file = env;
	if (key_file != NULL) {
		if (store_key_load_file(key_file, &key, &err) != 0)
			goto fail;
		goto open;
	}
	if (cred != NULL && *cred != '\0' &&
	    (size_t)snprintf(path, sizeof(path), "%s/%s", cred,
	    ADM_CREDENTIAL) < sizeof(path) && stat(path, &sb) == 0) {
		if (store_key_load_credential(ADM_CREDENTIAL, &key, &err) != 0)
			goto fail;
		goto open;
	}
	if (adm_is_pg(ctx->db)) {
		if (keymode == ADM_KEY_OPTIONAL)
			goto open;
		adm_errx(cmd, "store key not found: a PostgreSQL store's key "
		    "is named by --key-file FILE or %s=FILE (or the "
		    "credential $CREDENTIALS_DIRECTORY/%s)", ADM_KEY_ENV,
		    ADM_CREDENTIAL);
		return -1;
	}
	if (adm_default_key_path(ctx->db, path, sizeof(path)) != 0) {
		adm_errx(cmd, "%s: path too long", ctx->db);
		return -1;
	}
	if (stat(path, &sb) != 0 && errno == ENOENT) {
		char alt[ADM_PATH_MAX];
		size_t l = strlen(ctx->db);

		/* STORE.db's key as dt4ecgd.conf(5) names it: STORE.key
		 * (init --key-file put it there) */
		if (l > 3 && strcmp(ctx->db + l - 3, ".db") == 0 &&
		    (size_t)snprintf(alt, sizeof(alt), "%.*s.key", (int)(l -
		    3), ctx->db) < sizeof(alt) && stat(alt, &sb) == 0) {
			if (store_key_load_file(alt, &key, &err) != 0)
				goto fail;
			goto open;
		}
		if (keymode == ADM_KEY_OPTIONAL)
			goto open;
		if (store_missing(ctx, cmd))
			return -1;
		adm_errx(cmd, "store key not found: looked for --key-file "
		    "(not given), $%s (not set), $CREDENTIALS_DIRECTORY/%s "
		    "(%s) and %s (no such file); name the key with "
		    "--key-file FILE or %s=FILE", ADM_KEY_ENV, ADM_CREDENTIAL,
		    cred != NULL && *cred != '\0' ? "no such file" : "not set",
		    path, ADM_KEY_ENV);
		return -1;
	}
	if (store_key_load_file(path, &key, &err) != 0)
		goto fail;
open:
	if (!(flags & STORE_CREATE) && store_missing(ctx, cmd))
		goto out;
	if (store_open(ctx->db, key, flags, out, &err) != 0)
		goto fail;
	store_set_actor(*out, adm_actor());
	rc = 0;
	goto out;
fail:
	adm_error(cmd, &err);
out:
	store_key_free(key);
	return rc;
}

const char *
adm_time(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "-");
	return buf;
}

bool
adm_tty(void)
{
	return isatty(STDERR_FILENO) == 1;
}

static bool progress_shown;

void
adm_progress(const char *what, size_t i, size_t n, const char *item)
{
	if (!adm_tty())
		return;
	fprintf(stderr, "\r\033[K%s: %zu/%zu%s%s", what, i, n,
	    item ? " " : "", item ? item : "");
	fflush(stderr);
	progress_shown = true;
}

void
adm_progress_done(void)
{
	if (progress_shown) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
		progress_shown = false;
	}
}

int
adm_json_print(json_t *j)
{
	int rc;

	if (j == NULL)
		return -1;
	rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	json_decref(j);
	if (rc != 0 || fputc('\n', stdout) == EOF)
		return -1;
	return 0;
}

int
adm_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
    struct dt_error *err)
{
	char *b = NULL;

	if (dt_file_read(path, max, NULL, &b, len, NULL, err) != 0)
		return -1;
	if (*len == 0) {
		free(b);
		return dt_error_set(err, DT_E_FORMAT, "%s: 0 bytes (expected "
		    "1..%zu)", path, max);
	}
	*buf = (uint8_t *)b;
	return 0;
}

int
adm_flush_stdout(const char *cmd)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		adm_errx(cmd, "standard output: write error");
		return -1;
	}
	return 0;
}

#define ADM_OPTS_MAX 64

/* Takes option E with ARG into O: -1 to go on, else the exit status. */
static int
opt_take(const struct adm_options *def, const struct adm_opt *e, void *o,
    const char *arg)
{
	char *field = (char *)o + e->off;
	double v;
	int iv;

	switch (e->kind) {
	case ADM_FLAG:
		*(int *)(void *)field = 1;
		return -1;
	case ADM_BOOL:
		*(bool *)(void *)field = true;
		return -1;
	case ADM_STR:
		*(const char **)(void *)field = arg;
		return -1;
	case ADM_INT:
		if (dt_parse_int(arg, (int)e->lo, (int)e->hi, &iv) != 0)
			break;
		*(int *)(void *)field = iv;
		return -1;
	case ADM_DBL:
	case ADM_FLT:
		if (dt_parse_double(arg, e->lo, e->hi, &v) != 0)
			break;
		if (e->kind == ADM_DBL)
			*(double *)(void *)field = v;
		else
			*(float *)(void *)field = (float)v;
		return -1;
	case ADM_CALL:
	case ADM_CALL0:
		return def->set(o, e->id, arg);
	}
	if (e->expect != NULL)
		fprintf(stderr, "dt4ecg-admin %s: --%s %s: %s\n", def->cmd,
		    e->name, arg, e->expect);
	else if (e->kind == ADM_INT)
		fprintf(stderr, "dt4ecg-admin %s: --%s %s: expected an integer "
		    "%d..%d\n", def->cmd, e->name, arg, (int)e->lo,
		    (int)e->hi);
	else
		fprintf(stderr, "dt4ecg-admin %s: --%s %s: expected a number "
		    "%g..%g\n", def->cmd, e->name, arg, e->lo, e->hi);
	return ADMIN_EXIT_USAGE;
}

int
adm_opts(int argc, char **argv, const struct adm_options *def,
    const char *usage_text, const char *allowed, void *o, int min, int max)
{
	struct option lo[ADM_OPTS_MAX + 2];
	const struct adm_opt *e;
	int ch, n, rc;

	for (n = 0; def->opts[n].name != NULL; n++) {
		if (n == ADM_OPTS_MAX)
			abort();	/* a table too long: a bug */
		lo[n].name = def->opts[n].name;
		lo[n].has_arg = def->opts[n].kind == ADM_FLAG ||
		    def->opts[n].kind == ADM_BOOL ||
		    def->opts[n].kind == ADM_CALL0 ? no_argument :
		    required_argument;
		lo[n].flag = NULL;
		lo[n].val = def->opts[n].id;
	}
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n + 1] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage_text, stdout);
			return ADMIN_EXIT_OK;
		}
		for (e = def->opts; e->name != NULL && e->id != ch; e++)
			;
		if (ch == '?' || e->name == NULL ||
		    (allowed != NULL && (ch > 255 || strchr(allowed, ch) ==
		    NULL)))
			goto usage;
		if ((rc = opt_take(def, e, o, optarg)) >= 0)
			return rc;
	}
	if (argc - optind < min || (max >= 0 && argc - optind > max))
		goto usage;
	return -1;
usage:
	fputs(usage_text, stderr);
	return ADMIN_EXIT_USAGE;
}

int
adm_list(struct admin_ctx *ctx, const char *cmd, int json,
    int (*list)(struct store *s, struct adm_list *l, struct dt_error *err),
    void (*empty)(const char *db))
{
	struct dt_error err = { 0 };
	struct adm_list l = { .json = json };
	struct store *s = NULL;
	json_t *a;
	int rc = ADMIN_EXIT_FAIL;

	if (adm_open(ctx, cmd, NULL, ADM_KEY_OPTIONAL, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	if (l.json && (l.arr = json_array()) == NULL)
		goto out;
	if (list(s, &l, &err) != 0) {
		if (err.msg[0] == '\0')
			dt_error_set(&err, DT_E_NOMEM, "out of memory");
		adm_error(cmd, &err);
		goto out;
	}
	if (l.json) {
		a = l.arr;
		l.arr = NULL;
		if (adm_json_print(a) != 0)
			goto out;
	} else if (l.n == 0)
		empty(ctx->db);
	rc = adm_flush_stdout(cmd) ? ADMIN_EXIT_FAIL : ADMIN_EXIT_OK;
out:
	json_decref(l.arr);
	store_close(s);
	return rc;
}

int
adm_dispatch(struct admin_ctx *ctx, const char *group,
    const struct adm_sub *subs, size_t n, int argc, char **argv)
{
	FILE *f = stderr;
	size_t i;
	int rc = ADMIN_EXIT_USAGE;

	if (sodium_init() < 0) {
		adm_errx(group, "libsodium cannot be initialised");
		return ADMIN_EXIT_FAIL;
	}
	if (argc >= 2) {
		for (i = 0; i < n; i++)
			if (strcmp(argv[1], subs[i].name) == 0)
				return subs[i].fn(ctx, argc - 1, argv + 1);
		if (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0) {
			f = stdout;
			rc = ADMIN_EXIT_OK;
		} else
			fprintf(stderr, "dt4ecg-admin %s: unknown sub-command "
			    "'%s'\n", group, argv[1]);
	}
	fprintf(f, "usage:\n");
	for (i = 0; i < n; i++)
		fprintf(f, "  dt4ecg-admin --db STORE %s %s\n", group,
		    subs[i].synopsis);
	fprintf(f, "Each sub-command takes --help.\n");
	return rc;
}

int
adm_load_model(struct store *s, const char *cmd, const char *id,
    struct nn_model **out, char *id_out)
{
	struct dt_error err = { 0 };
	struct store_model *sm = NULL;
	char name[STORE_ID_MAX + 16];
	int rc = -1;

	if (store_model_get(s, id, &sm, &err) != 0) {
		if (id == NULL && err.code == DT_E_NOTFOUND)
			adm_errx(cmd, "the store has no active model (import "
			    "one: dt4ecg-admin model import FILE --activate)");
		else
			adm_error(cmd, &err);
		return -1;
	}
	snprintf(name, sizeof(name), "model %s", sm->id);
	if (nn_model_load_buffer(sm->bytes, sm->n_bytes, name, out, &err)) {
		adm_error(cmd, &err);
		goto out;
	}
	if ((*out)->hp.embedding_dim != sm->embedding_dim) {
		adm_errx(cmd, "model %s: embedding_dim %d in the store, %d in "
		    "the file", sm->id, sm->embedding_dim,
		    (*out)->hp.embedding_dim);
		nn_model_free(*out);
		*out = NULL;
		goto out;
	}
	memcpy(id_out, sm->id, sizeof(sm->id));
	rc = 0;
out:
	store_model_free(sm);
	return rc;
}

/*
 * admin/common.h — what every store command of dt4ecg-admin shares: finding
 * the store key, opening the store with the admin's actor, progress on a
 * terminal, timestamps and JSON output.  Errors are printed here, once, as
 * "dt4ecg-admin CMD: message naming the file, member or kiosk".
 */
#ifndef ADMIN_COMMON_H
#define ADMIN_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "admin/admin.h"
#include "store/store.h"
#include "util/error.h"
#include "util/file.h"
#include "util/num.h"

/* Name of the systemd credential holding the store key. */
#define ADM_CREDENTIAL "store.key"	/* as dt4ecgd and its unit */
/* The store key file when --key-file is not given (before STORE.key). */
#define ADM_KEY_ENV "DT4ECG_KEY_FILE"
#define ADM_PATH_MAX 4096

enum adm_key {
	ADM_KEY_NONE,		/* open without the key */
	ADM_KEY_OPTIONAL,	/* use the key if one is found */
	ADM_KEY_REQUIRED,	/* biometric data, or any change */
};

/* Prints "dt4ecg-admin CMD: msg" to stderr. */
void adm_errx(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void adm_error(const char *cmd, const struct dt_error *err);

/* ctx->db or a usage error (returns -1 after printing). */
int adm_need_db(struct admin_ctx *ctx, const char *cmd);

/* The default key file of a store: STORE.key. */
int adm_default_key_path(const char *db, char *buf, size_t size);

/*
 * Opens ctx->db (flags of store_open) with the key resolved as:
 * --key-file FILE (KEY_FILE non-NULL), else $CREDENTIALS_DIRECTORY/
 * store.key when that exists, else STORE.key.  Sets the actor to
 * "admin:<unix user>".  Prints the error and returns -1 on failure.
 */
int adm_open(struct admin_ctx *ctx, const char *cmd, const char *key_file,
    enum adm_key keymode, int flags, struct store **out);

/* DB is a postgresql:// (or postgres://) URI. */
bool adm_is_pg(const char *db);

/* "admin:<login name of the real uid>" */
const char *adm_actor(void);

/* ISO 8601 UTC ("2025-01-31T12:00:00Z"); "-" for 0. */
const char *adm_time(int64_t t, char *buf, size_t size);

/* Progress line on stderr, only when stderr is a terminal. */
bool adm_tty(void);
void adm_progress(const char *what, size_t i, size_t n, const char *item);
void adm_progress_done(void);

/* Dumps J (stolen) to stdout with a newline; -1 on a write error. */
int adm_json_print(json_t *j);

/* Reads a whole non-empty file (at most MAX bytes) into a malloc'd buffer
 * (util/file.h; an empty file is a DT_E_FORMAT fault here). */
int adm_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
    struct dt_error *err);

/* Checks that stdout was written completely. */
int adm_flush_stdout(const char *cmd);

/*
 * Loads model ID (NULL = the active one) from the store and parses it;
 * *ID_OUT (STORE_ID_MAX + 1 bytes) receives its id.  Prints the error.
 */
struct nn_model;
int adm_load_model(struct store *s, const char *cmd, const char *id,
    struct nn_model **out, char *id_out);

/*
 * The one option mechanism of every command: a declarative table, as
 * daemon/cfg.c's.  Each entry names a long option, the id that ALLOWED
 * lists and SET receives, and what it does: sets a flag, keeps the string,
 * or parses a number into a field of the options struct, range-checked
 * (util/num.h).  A bad number is told "dt4ecg-admin CMD: --NAME ARG:
 * EXPECT" (EXPECT NULL: "expected an integer LO..HI" or "expected a number
 * LO..HI").  ADM_CALL options go to the command's SET, which returns -1 to
 * go on, or an exit status after saying what is wrong with ARG (NULL for
 * an option without argument).  --help is always there.
 */
enum adm_opt_kind {
	ADM_FLAG,	/* int field = 1 */
	ADM_BOOL,	/* bool field = true */
	ADM_STR,	/* const char * field = the argument */
	ADM_INT,	/* int field */
	ADM_DBL,	/* double field */
	ADM_FLT,	/* float field */
	ADM_CALL,	/* SET(o, id, arg), with an argument */
	ADM_CALL0,	/* SET(o, id, NULL), without one */
};

struct adm_opt {
	const char *name;
	int id;
	enum adm_opt_kind kind;
	size_t off;
	double lo, hi;
	const char *expect;
};

#define ADM_OPT_FLAG(n, id, T, f) \
	{ n, id, ADM_FLAG, offsetof(T, f), 0, 0, NULL }
#define ADM_OPT_BOOL(n, id, T, f) \
	{ n, id, ADM_BOOL, offsetof(T, f), 0, 0, NULL }
#define ADM_OPT_STR(n, id, T, f) { n, id, ADM_STR, offsetof(T, f), 0, 0, NULL }
#define ADM_OPT_INT(n, id, T, f, lo, hi, ex) \
	{ n, id, ADM_INT, offsetof(T, f), lo, hi, ex }
#define ADM_OPT_DBL(n, id, T, f, lo, hi, ex) \
	{ n, id, ADM_DBL, offsetof(T, f), lo, hi, ex }
#define ADM_OPT_FLT(n, id, T, f, lo, hi, ex) \
	{ n, id, ADM_FLT, offsetof(T, f), lo, hi, ex }
#define ADM_OPT_CALL(n, id) { n, id, ADM_CALL, 0, 0, 0, NULL }
#define ADM_OPT_CALL0(n, id) { n, id, ADM_CALL0, 0, 0, 0, NULL }
#define ADM_OPT_END { NULL, 0, ADM_FLAG, 0, 0, 0, NULL }

struct adm_options {
	const char *cmd;		/* "user": "dt4ecg-admin user: ..." */
	const struct adm_opt *opts;	/* ends with ADM_OPT_END */
	int (*set)(void *o, int id, const char *arg);	/* ADM_CALL* */
};

/*
 * Parses the options of a sub-command (getopt_long from argv[1]) into O,
 * then checks that MIN to MAX operands (MAX -1: any number) follow them.
 * --help prints USAGE_TEXT on stdout; an unknown option, one whose id is
 * not in ALLOWED (NULL: every one of the table) or a wrong number of
 * operands prints it on stderr.  Returns -1 to go on (the operands start at
 * argv[optind]), else the exit status.
 */
int adm_opts(int argc, char **argv, const struct adm_options *def,
    const char *usage_text, const char *allowed, void *o, int min, int max);

/*
 * A `list [--json]` command: LIST(s, l, err) calls the store's list with a
 * callback that counts each row in L->n and appends it to L->arr with
 * --json (L->json), else prints it as a line of a table.
 */
struct adm_list {
	int json;
	json_t *arr;
	int n;
};

/*
 * Runs LIST on ctx->db opened without the key, then prints the JSON array,
 * or, when there was no row, calls EMPTY(ctx->db).  Prints its errors as
 * CMD's; returns the exit status.
 */
int adm_list(struct admin_ctx *ctx, const char *cmd, int json,
    int (*list)(struct store *s, struct adm_list *l, struct dt_error *err),
    void (*empty)(const char *db));

/* Initialises libsodium, then calls the sub-command NAME of a group, or
 * prints the group's usage. */
struct adm_sub {
	const char *name;
	int (*fn)(struct admin_ctx *, int, char **);
	const char *synopsis;
};
/* The member's last N decisions (auth.* entries naming their audit id, or
 * naming them as the nearest member of a 1:N reject), oldest first, as a
 * JSON array of audit entries (cmd_audit.c). */
int adm_audit_decisions(struct store *s, const char *member, long n,
    json_t **out, struct dt_error *err);

int adm_dispatch(struct admin_ctx *ctx, const char *group,
    const struct adm_sub *subs, size_t n, int argc, char **argv);

#endif /* ADMIN_COMMON_H */

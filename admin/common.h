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

/* Reads a whole file (at most MAX bytes) into a malloc'd buffer. */
int adm_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
    struct dt_error *err);

/* Creates PATH exclusively (never overwrites, never follows a symlink) with
 * MODE and writes LEN bytes, fsyncs; on failure the file is removed. */
int adm_write_new_file(const char *path, int mode, const void *buf,
    size_t len, struct dt_error *err);

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
 * The options of a group of sub-commands: LONGOPTS (letter 'h' is --help),
 * and SET, which takes option letter CH with its argument ARG (NULL for a
 * flag) into the options O and returns -1, or an exit status after saying
 * what is wrong with ARG.
 */
struct adm_options {
	const struct option *longopts;
	int (*set)(void *o, int ch, const char *arg);
};

/*
 * Parses the options of a sub-command (getopt_long from argv[1]) into O,
 * then checks that MIN to MAX operands (MAX -1: any number) follow them.
 * --help prints USAGE_TEXT on stdout; an unknown option, one whose letter is
 * not in ALLOWED or a wrong number of operands prints it on stderr.
 * Returns -1 to go on (the operands start at argv[optind]), else the exit
 * status.
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

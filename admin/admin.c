/*
 * admin/admin.c — dt4ecg-admin: global options and the command table.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "util/log.h"

static const struct command {
	const char *name;
	int (*fn)(struct admin_ctx *, int, char **);
	const char *summary;
} commands[] = {
	{ "init", cmd_init, "create a store and its key file" },
	{ "migrate", cmd_migrate, "apply pending schema migrations" },
	{ "kiosk", cmd_kiosk, "add|list|revoke kiosks (Ed25519 keys)" },
	{ "user", cmd_user, "add|enroll|list|show|unlock|delete members" },
	{ "model", cmd_model, "import|list|show|activate|export models" },
	{ "audit", cmd_audit, "print the audit log, or verify its hash chain" },
	{ "backup", cmd_backup, "online backup of the store to a new file" },
	{ "migrate-store", cmd_migrate_store, "copy a store to another backend (SQLite to PostgreSQL), verified" },
	{ "infer", cmd_infer, "run the network on a recording or on windows; JSON per window" },
	{ "retrain", cmd_retrain, "train the network (GradNorm) on manifests or built-in data sets" },
	{ "evaluate", cmd_evaluate, "accuracy of a model under protocol P1, P2 or P3; JSON, HTML report" },
	{ "calibrate", cmd_calibrate, "fit the activity temperature and unknown threshold on validation data" },
	{ "quantize", cmd_quantize, "calibrate the int8 inference path on the model's training data" },
	{ "threshold", cmd_threshold, "the threshold for a target false-accept rate, from the model's open-set figures" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: dt4ecg-admin [--db STORE] COMMAND [ARGS...]\n"
	    "       dt4ecg-admin COMMAND [ARGS...] --db STORE\n"
	    "       dt4ecg-admin COMMAND --help\n"
	    "       dt4ecg-admin --version\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
}

int
main(int argc, char **argv)
{
	struct admin_ctx ctx = { .progname = "dt4ecg-admin" };
	int i = 1, j;
	size_t k;

	log_init("dt4ecg-admin", false);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			ctx.db = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--db=", 5) == 0) {
			ctx.db = argv[i] + 5;
			i++;
		} else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return ADMIN_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("dt4ecg-admin (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			return ADMIN_EXIT_OK;
		} else {
			fprintf(stderr, "dt4ecg-admin: unknown option '%s'\n",
			    argv[i]);
			usage(stderr);
			return ADMIN_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return ADMIN_EXIT_USAGE;
	}
	/* --db STORE after the command as well (the man page's examples put
	 * it first; an operator's fingers do not always) */
	for (j = i + 1; j < argc && strcmp(argv[j], "--") != 0; j++) {
		const char *v = NULL;
		int drop = 0;

		if (strcmp(argv[j], "--db") == 0 && j + 1 < argc) {
			v = argv[j + 1];
			drop = 2;
		} else if (strncmp(argv[j], "--db=", 5) == 0) {
			v = argv[j] + 5;
			drop = 1;
		}
		if (drop == 0)
			continue;
		if (ctx.db != NULL && strcmp(ctx.db, v) != 0) {
			fprintf(stderr, "dt4ecg-admin: --db given twice (%s, "
			    "%s)\n", ctx.db, v);
			return ADMIN_EXIT_USAGE;
		}
		ctx.db = v;
		memmove(&argv[j], &argv[j + drop], (size_t)(argc - j - drop +
		    1) * sizeof(*argv));
		argc -= drop;
		j--;
	}
	if (ctx.db == NULL)
		ctx.db = getenv("DT4ECG_DB");
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			return commands[k].fn(&ctx, argc - i, argv + i);
	fprintf(stderr, "dt4ecg-admin: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return ADMIN_EXIT_USAGE;
}

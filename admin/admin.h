/*
 * admin/admin.h — dt4ecg-admin: the offline operator tool.  One file per
 * command group; each command is `int cmd_x(struct admin_ctx *, int argc,
 * char **argv)` returning an exit status (see EXIT STATUS in dt4ecg-admin(8)).
 */
#ifndef ADMIN_ADMIN_H
#define ADMIN_ADMIN_H

#include <stdbool.h>

/* Exit statuses, documented in the man page. */
#define ADMIN_EXIT_OK 0
#define ADMIN_EXIT_FAIL 1	/* the operation failed (file, member, kiosk at fault is named) */
#define ADMIN_EXIT_USAGE 2	/* bad command line */

struct admin_ctx {
	const char *db;		/* --db STORE */
	const char *progname;
};

int cmd_infer(struct admin_ctx *ctx, int argc, char **argv);
int cmd_retrain(struct admin_ctx *ctx, int argc, char **argv);
int cmd_evaluate(struct admin_ctx *ctx, int argc, char **argv);
int cmd_calibrate(struct admin_ctx *ctx, int argc, char **argv);
int cmd_quantize(struct admin_ctx *ctx, int argc, char **argv);
int cmd_threshold(struct admin_ctx *ctx, int argc, char **argv);
int cmd_init(struct admin_ctx *ctx, int argc, char **argv);
int cmd_migrate(struct admin_ctx *ctx, int argc, char **argv);
int cmd_backup(struct admin_ctx *ctx, int argc, char **argv);
int cmd_migrate_store(struct admin_ctx *ctx, int argc, char **argv);
int cmd_kiosk(struct admin_ctx *ctx, int argc, char **argv);
int cmd_user(struct admin_ctx *ctx, int argc, char **argv);
int cmd_model(struct admin_ctx *ctx, int argc, char **argv);
int cmd_audit(struct admin_ctx *ctx, int argc, char **argv);

#endif /* ADMIN_ADMIN_H */

/*
 * daemon/anchor.c — the audit log's anchor outside the store (issue 13
 * point 7): every audit_anchor_s seconds, at start-up and at shutdown,
 * when the log grew, dt4ecgd writes "dt4ecg-audit-anchor 1 count=N
 * head=<hex> time=T" to audit_anchor_file (replaced atomically, mode 0644)
 * and logs the same line (journald), so that an operator can ship either
 * elsewhere and later run `dt4ecg-admin audit verify --anchor FILE`.  The
 * head is a keyed hash: it says nothing about the entries.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/dmn.h"
#include "store/store.h"
#include "util/file.h"
#include "util/log.h"

static int64_t last_count = -1;
static double next_due;

static int
write_file(const char *path, const char *line, struct dt_error *err)
{
	return dt_file_replace(path, line, strlen(line), 0644, err);
}
double
anchor_step(double step)
{
	struct dmn_gen *g = dmn_gen_get();
	double every = g != NULL ? (double)g->cfg.audit_anchor_s : 0;

	dmn_gen_put(g);
	return every > 0 && every < step ? every : step;
}

void
anchor_tick(bool force)
{
	struct dt_error err = { 0 };
	struct store_audit_anchor a;
	struct store *s = NULL;
	struct dmn_gen *g;
	char line[STORE_ANCHOR_LINE_MAX + 2];
	double now = dmn_now_mono();

	if ((g = dmn_gen_get()) == NULL)
		return;
	if (g->cfg.audit_anchor_s == 0 || (!force && now < next_due))
		goto out;
	next_due = now + (double)g->cfg.audit_anchor_s - 0.5;
	if (dmn_gen_open_store(g, &s, &err) != 0 ||
	    store_audit_head(s, &a, &err) != 0) {
		log_warnx("audit anchor: %s", err.msg);
		goto out;
	}
	if (a.count == last_count && !force)
		goto out;
	store_anchor_format(&a, line, sizeof(line) - 1);
	log_info("audit anchor: %s", line);
	strcat(line, "\n");
	if (write_file(g->cfg.audit_anchor_file, line, &err) != 0) {
		log_warnx("audit anchor: %s", err.msg);
		goto out;
	}
	last_count = a.count;
out:
	store_close(s);
	dmn_gen_put(g);
}

/*
 * admin/cmd_audit.c — `dt4ecg-admin audit [--json] [--after N]` and
 * `dt4ecg-admin audit verify`: read and check the hash-chained audit log.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "admin/common.h"

static const char audit_usage[] =
    "usage: dt4ecg-admin --db STORE audit [--json] [--after N]\n"
    "       dt4ecg-admin --db STORE audit verify [--json]\n"
    "  Prints the audit log (entries after id N), one line per entry, or\n"
    "  with --json one JSON object per line.  \"verify\" checks the hash\n"
    "  chain and names the first broken entry (exit status 1).\n";

struct audit_ctx {
	int json;
	int64_t n;
	long long after;
};

static int
set(void *vo, int ch, const char *arg)
{
	struct audit_ctx *c = vo;
	char *end;

	if (ch == 'j') {
		c->json = 1;
		return -1;
	}
	errno = 0;
	c->after = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || c->after < 0) {
		fprintf(stderr, "dt4ecg-admin audit: --after %s: expected an "
		    "entry id >= 0\n", arg);
		return ADMIN_EXIT_USAGE;
	}
	return -1;
}

static int
print_entry(void *vctx, const struct store_audit_entry *e)
{
	struct audit_ctx *c = vctx;
	char t[32];

	c->n++;
	if (c->json) {
		json_t *detail = e->detail ? json_loads(e->detail, 0, NULL) :
		    NULL;
		json_t *j;
		char *s;

		if (e->detail != NULL && detail == NULL)
			detail = json_string(e->detail);
		j = json_pack("{s:I, s:I, s:s, s:s, s:o, s:o}", "id",
		    (json_int_t)e->id, "ts", (json_int_t)e->ts, "actor",
		    e->actor, "action", e->action, "subject", e->subject ?
		    json_string(e->subject) : json_null(), "detail",
		    detail ? detail : json_null());
		if (j == NULL || (s = json_dumps(j, JSON_COMPACT |
		    JSON_ENSURE_ASCII)) == NULL) {
			json_decref(j);
			return -1;
		}
		json_decref(j);
		puts(s);
		free(s);
		return 0;
	}
	printf("%6lld %s %-20s %-16s %-20s %s\n", (long long)e->id,
	    adm_time(e->ts, t, sizeof(t)), e->actor, e->action,
	    e->subject ? e->subject : "-", e->detail ? e->detail : "");
	return 0;
}

static int
verify(struct admin_ctx *ctx, int json)
{
	struct dt_error err = { 0 };
	struct store *s = NULL;
	int64_t bad = 0, n = 0;
	int rc = ADMIN_EXIT_FAIL;

	if (adm_open(ctx, "audit verify", NULL, ADM_KEY_NONE, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	if (store_audit_verify(s, &bad, &n, &err) != 0) {
		adm_error("audit verify", &err);
		goto out;
	}
	if (json)
		printf("{\"ok\": %s, \"entries\": %lld, \"first_bad\": %lld}\n",
		    bad ? "false" : "true", (long long)n, (long long)bad);
	else if (bad == 0)
		printf("%s: audit log verifies (%lld entries)\n", ctx->db,
		    (long long)n);
	if (bad != 0)
		adm_errx("audit verify", "%s: audit log broken at entry %lld "
		    "(its hash or its link to the previous entry is wrong; "
		    "%lld entries checked)", ctx->db, (long long)bad,
		    (long long)n);
	rc = bad == 0 ? ADMIN_EXIT_OK : ADMIN_EXIT_FAIL;
out:
	store_close(s);
	return rc;
}

int
cmd_audit(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "after", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct adm_options options = { longopts, set };
	struct dt_error err = { 0 };
	struct audit_ctx c = { 0 };
	struct store *s = NULL;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, audit_usage, "ja", &c, 0,
	    1)) >= 0)
		return rc;
	if (optind < argc) {
		if (strcmp(argv[optind], "verify") == 0)
			return verify(ctx, c.json);
		fputs(audit_usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (adm_open(ctx, "audit", NULL, ADM_KEY_NONE, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	if (store_audit_list(s, (int64_t)c.after, print_entry, &c, &err) != 0) {
		if (err.msg[0] == '\0')
			dt_error_set(&err, DT_E_IO, "standard output: write "
			    "error");
		adm_error("audit", &err);
		goto out;
	}
	rc = adm_flush_stdout("audit") ? ADMIN_EXIT_FAIL : ADMIN_EXIT_OK;
out:
	store_close(s);
	return rc;
}

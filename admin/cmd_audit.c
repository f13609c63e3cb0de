/*
 * admin/cmd_audit.c — `dt4ecg-admin audit` (read the log, with filters),
 * `audit verify [--anchor FILE]` (check the keyed hash chain, and against
 * anchors kept outside the store) and `audit anchor [--out FILE]` (export
 * one).  Also the member's last decisions for `user show`.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/common.h"

static const char audit_usage[] =
    "usage: dt4ecg-admin --db STORE audit [--json] [--after N] [--member ID]\n"
    "           [--kiosk ID] [--since T] [--tail N]\n"
    "       dt4ecg-admin --db STORE audit verify [--json] [--anchor FILE]\n"
    "       dt4ecg-admin --db STORE audit anchor [--out FILE]\n"
    "  Prints the audit log, one line per entry, or with --json one JSON\n"
    "  object per line: entries after id N, about member ID (the log names\n"
    "  members by their audit id; an erased member cannot be found), from\n"
    "  or about kiosk ID (its decisions, kiosk.* entries, member locks it\n"
    "  caused), since T (unix seconds, YYYY-MM-DD[THH:MM[:SS]] UTC, or Nd,\n"
    "  Nh, Nm ago), only the last N that match.  \"verify\" checks the keyed\n"
    "  hash chain (needs the store key) and, with --anchor, that the log\n"
    "  still holds every anchor line of FILE (entries deleted or rewritten\n"
    "  since are named); exit status 1 when it does not.  \"anchor\" prints\n"
    "  (or writes to a new FILE) the log's anchor now.\n";

struct audit_opts {
	int json;
	long long after;
	const char *member;
	const char *kiosk;
	const char *anchor;
	const char *out;
	int64_t since;
	long tail;
};

/* Unix seconds from T: digits, N[dhms] ago, or an ISO 8601 UTC date/time. */
static int
parse_since(const char *t, int64_t *out)
{
	struct tm tm;
	const char *fmts[] = { "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S",
	    "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d" };
	char *end;
	size_t i, n = strlen(t);
	long long v;

	if (n == 0 || n > 32)
		return -1;
	errno = 0;
	v = strtoll(t, &end, 10);
	if (isdigit((unsigned char)t[0]) && errno == 0 && v >= 0) {
		if (*end == '\0') {
			*out = v;
			return 0;
		}
		if (end[1] == '\0' && strchr("dhms", *end) != NULL &&
		    v < 100LL * 365 * 86400) {
			v *= *end == 'd' ? 86400 : *end == 'h' ? 3600 :
			    *end == 'm' ? 60 : 1;
			*out = (int64_t)time(NULL) - v;
			return 0;
		}
	}
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(t, fmts[i], &tm);
		if (end != NULL && *end == '\0') {
			*out = (int64_t)timegm(&tm);
			return 0;
		}
	}
	return -1;
}

static int
set(void *vo, int ch, const char *arg)
{
	struct audit_opts *o = vo;
	int64_t after;
	int tail;

	switch (ch) {
	case 's':
		if (parse_since(arg, &o->since) == 0)
			return -1;
		fprintf(stderr, "dt4ecg-admin audit: --since %s: expected unix "
		    "seconds, YYYY-MM-DD[THH:MM[:SS]] (UTC) or Nd, Nh, Nm, Ns "
		    "ago\n", arg);
		return ADMIN_EXIT_USAGE;
	case 't':
		if (dt_parse_int(arg, 1, 1000000, &tail) == 0)
			o->tail = tail;
		else {
			fprintf(stderr, "dt4ecg-admin audit: --tail %s: expected "
			    "1..1000000 entries\n", arg);
			return ADMIN_EXIT_USAGE;
		}
		return -1;
	}
	if (dt_parse_i64(arg, 0, INT64_MAX, &after) == 0)
		o->after = (long long)after;
	else {
		fprintf(stderr, "dt4ecg-admin audit: --after %s: expected an "
		    "entry id >= 0\n", arg);
		return ADMIN_EXIT_USAGE;
	}
	return -1;
}

/* ---- filtered walk ------------------------------------------------------ */

struct kept {
	struct store_audit_entry e;
	char *actor, *action, *subject, *detail;
};

struct walk {
	char member[STORE_AUDIT_ID_MAX + 24];	/* "nearest_member":"<aid>" */
	const char *aid;
	char actor[STORE_ID_MAX + 8];		/* "kiosk:<id>" */
	const char *kiosk;			/* its id, or NULL */
	char kdetail[STORE_ID_MAX + 16];	/* "kiosk":"<id>" */
	const char *prefix;			/* action prefix, or NULL */
	int64_t since;
	long tail;
	struct kept *ring;			/* tail > 0 */
	long n;					/* matches so far */
	int (*fn)(void *ctx, const struct store_audit_entry *e);
	void *ctx;
};

static int
walk_match(const struct walk *w, const struct store_audit_entry *e)
{
	if (e->ts < w->since)
		return 0;
	/* a kiosk's entries: its decisions, what was done to it (kiosk.add,
	 * kiosk.revoke, kiosk.lock) and the member locks it caused */
	if (w->kiosk != NULL && strcmp(e->actor, w->actor) != 0 &&
	    (strncmp(e->action, "kiosk.", 6) != 0 || e->subject == NULL ||
	    strcmp(e->subject, w->kiosk) != 0) &&
	    (e->detail == NULL || strstr(e->detail, w->kdetail) == NULL))
		return 0;
	if (w->prefix != NULL && strncmp(e->action, w->prefix,
	    strlen(w->prefix)) != 0)
		return 0;
	if (w->aid != NULL && (e->subject == NULL ||
	    strcmp(e->subject, w->aid) != 0) && (e->detail == NULL ||
	    strstr(e->detail, w->member) == NULL))
		return 0;
	return 1;
}

static void
kept_clear(struct kept *k)
{
	free(k->actor);
	free(k->action);
	free(k->subject);
	free(k->detail);
	memset(k, 0, sizeof(*k));
}

static char *
dup_or_null(const char *s, int *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*oom = 1;
	return d;
}

static int
walk_one(void *vw, const struct store_audit_entry *e)
{
	struct walk *w = vw;
	struct kept *k;
	int oom = 0;

	if (!walk_match(w, e))
		return 0;
	if (w->tail == 0) {
		w->n++;
		return w->fn(w->ctx, e);
	}
	k = &w->ring[w->n++ % w->tail];
	kept_clear(k);
	k->e = *e;
	k->actor = dup_or_null(e->actor, &oom);
	k->action = dup_or_null(e->action, &oom);
	k->subject = dup_or_null(e->subject, &oom);
	k->detail = dup_or_null(e->detail, &oom);
	k->e.actor = k->actor;
	k->e.action = k->action;
	k->e.subject = k->subject;
	k->e.detail = k->detail;
	return oom ? -1 : 0;
}

/* Calls FN for the entries after AFTER that match W (the last W->tail of
 * them when W->tail > 0), oldest first. */
static int
walk_run(struct store *s, struct walk *w, int64_t after, struct dt_error *err)
{
	long i, first, n;
	int rc = 0;

	if (w->tail > 0 && (w->ring = calloc((size_t)w->tail,
	    sizeof(*w->ring))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "audit: out of memory");
	if (store_audit_list(s, after, walk_one, w, err) != 0) {
		if (err->msg[0] == '\0')
			dt_error_set(err, DT_E_IO, "standard output: write error "
			    "or out of memory");
		rc = -1;
	}
	if (w->tail > 0) {
		n = w->n < w->tail ? w->n : w->tail;
		first = w->n < w->tail ? 0 : w->n % w->tail;
		for (i = 0; rc == 0 && i < n; i++)
			if (w->fn(w->ctx, &w->ring[(first + i) % w->tail].e)) {
				dt_error_set(err, DT_E_IO, "standard output: "
				    "write error or out of memory");
				rc = -1;
			}
		for (i = 0; i < w->tail; i++)
			kept_clear(&w->ring[i]);
		free(w->ring);
		w->ring = NULL;
	}
	return rc;
}

/* Sets W's member filter to member ID's audit id. */
static int
walk_member(struct store *s, struct walk *w, const char *id, char *aid,
    struct dt_error *err)
{
	if (store_member_audit_id(s, id, aid, err) != 0) {
		if (err->code == DT_E_NOTFOUND)
			dt_error_set(err, DT_E_NOTFOUND, "member %s not found "
			    "(the log names members by an audit id kept in "
			    "their row: an erased member's entries cannot be "
			    "found by id)", id);
		return -1;
	}
	w->aid = aid;
	snprintf(w->member, sizeof(w->member), "\"nearest_member\":\"%s\"",
	    aid);
	return 0;
}

static json_t *
entry_json(const struct store_audit_entry *e)
{
	json_t *detail = e->detail ? json_loads(e->detail, 0, NULL) : NULL;

	if (e->detail != NULL && detail == NULL)
		detail = json_string(e->detail);
	return json_pack("{s:I, s:I, s:s, s:s, s:o, s:o}", "id",
	    (json_int_t)e->id, "ts", (json_int_t)e->ts, "actor", e->actor,
	    "action", e->action, "subject", e->subject ?
	    json_string(e->subject) : json_null(), "detail",
	    detail ? detail : json_null());
}

static int
print_entry(void *vctx, const struct store_audit_entry *e)
{
	struct audit_opts *o = vctx;
	char t[32];

	if (o->json) {
		json_t *j = entry_json(e);
		char *s;

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
add_json(void *vctx, const struct store_audit_entry *e)
{
	json_t *j = entry_json(e);

	return j == NULL || json_array_append_new(vctx, j) != 0 ? -1 : 0;
}

int
adm_audit_decisions(struct store *s, const char *member, long n,
    json_t **out, struct dt_error *err)
{
	struct walk w;
	char aid[STORE_AUDIT_ID_MAX];
	json_t *arr;

	memset(&w, 0, sizeof(w));
	if ((arr = json_array()) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	w.prefix = "auth.";
	w.tail = n;
	w.fn = add_json;
	w.ctx = arr;
	if (walk_member(s, &w, member, aid, err) != 0 ||
	    walk_run(s, &w, 0, err) != 0) {
		json_decref(arr);
		return -1;
	}
	*out = arr;
	return 0;
}

/* ---- verify, anchor ----------------------------------------------------- */

static int
check_anchors(struct store *s, const char *file, size_t *n,
    struct dt_error *err)
{
	struct store_audit_anchor *v = NULL;
	uint8_t *text = NULL;
	size_t len, i;
	int rc = -1;

	if (adm_read_file(file, 16 << 20, &text, &len, err) != 0)
		return -1;
	if (store_anchor_parse(file, (const char *)text, len, &v, n, err) != 0)
		goto out;
	for (i = 0; i < *n; i++)
		if (store_audit_check_anchor(s, &v[i], err) != 0) {
			dt_error_prefix(err, "%s:%zu", file, i + 1);
			goto out;
		}
	rc = 0;
out:
	free(v);
	free(text);
	return rc;
}

static int
verify(struct admin_ctx *ctx, const struct audit_opts *o)
{
	struct dt_error err = { 0 };
	struct store *s = NULL;
	int64_t bad = 0, n = 0;
	size_t na = 0;
	int rc = ADMIN_EXIT_FAIL, anchors_ok = 1;

	if (adm_open(ctx, "audit verify", NULL, ADM_KEY_REQUIRED, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	if (store_audit_verify(s, &bad, &n, &err) != 0) {
		adm_error("audit verify", &err);
		goto out;
	}
	if (bad == 0 && o->anchor != NULL &&
	    check_anchors(s, o->anchor, &na, &err) != 0) {
		if (err.code != DT_E_CRYPTO) {
			adm_error("audit verify", &err);
			goto out;
		}
		anchors_ok = 0;
	}
	if (o->json)
		printf("{\"ok\": %s, \"entries\": %lld, \"first_bad\": %lld, "
		    "\"anchors\": %zu, \"anchors_ok\": %s}\n",
		    bad || !anchors_ok ? "false" : "true", (long long)n,
		    (long long)bad, na, anchors_ok ? "true" : "false");
	else if (bad == 0 && anchors_ok)
		printf("%s: audit log verifies (%lld entries%s)\n", ctx->db,
		    (long long)n, o->anchor ? ", and against every anchor" : "");
	if (bad != 0)
		adm_errx("audit verify", "%s: audit log broken at entry %lld "
		    "(its hash or its link to the previous entry is wrong: "
		    "rewritten or deleted without the key; %lld entries "
		    "checked)", ctx->db, (long long)bad, (long long)n);
	else if (!anchors_ok)
		adm_error("audit verify", &err);
	rc = bad == 0 && anchors_ok ? ADMIN_EXIT_OK : ADMIN_EXIT_FAIL;
out:
	store_close(s);
	return rc;
}

static int
anchor(struct admin_ctx *ctx, const struct audit_opts *o)
{
	struct dt_error err = { 0 };
	struct store_audit_anchor a;
	struct store *s = NULL;
	char line[STORE_ANCHOR_LINE_MAX + 1];
	int rc = ADMIN_EXIT_FAIL;

	if (adm_open(ctx, "audit anchor", NULL, ADM_KEY_OPTIONAL, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	if (store_audit_head(s, &a, &err) != 0)
		goto fail;
	store_anchor_format(&a, line, sizeof(line) - 1);
	strcat(line, "\n");
	if (o->out != NULL) {
		if (dt_file_create(o->out, line, strlen(line), 0644,
		    &err) != 0)
			goto fail;
		printf("%s: anchor of %lld entries written\n", o->out,
		    (long long)a.count);
	} else
		fputs(line, stdout);
	rc = adm_flush_stdout("audit anchor") ? ADMIN_EXIT_FAIL :
	    ADMIN_EXIT_OK;
	goto out;
fail:
	adm_error("audit anchor", &err);
out:
	store_close(s);
	return rc;
}

int
cmd_audit(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		ADM_OPT_FLAG("json", 'j', struct audit_opts, json),
		ADM_OPT_CALL("after", 'a'),
		ADM_OPT_STR("member", 'm', struct audit_opts, member),
		ADM_OPT_STR("kiosk", 'k', struct audit_opts, kiosk),
		ADM_OPT_CALL("since", 's'),
		ADM_OPT_CALL("tail", 't'),
		ADM_OPT_STR("anchor", 'A', struct audit_opts, anchor),
		ADM_OPT_STR("out", 'o', struct audit_opts, out),
		ADM_OPT_END,
	};
	static const struct adm_options options = { "audit", opts, set };
	struct dt_error err = { 0 };
	struct audit_opts o = { 0 };
	struct store *s = NULL;
	struct walk w;
	char aid[STORE_AUDIT_ID_MAX];
	const char *sub = NULL;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, audit_usage, "jamkstAo", &o,
	    0, 1)) >= 0)
		return rc;
	if (optind < argc)
		sub = argv[optind];
	if (sub != NULL && strcmp(sub, "verify") == 0 && !o.member &&
	    !o.kiosk && !o.since && !o.tail && !o.after && !o.out)
		return verify(ctx, &o);
	if (sub != NULL && strcmp(sub, "anchor") == 0 && !o.member &&
	    !o.kiosk && !o.since && !o.tail && !o.after && !o.anchor && !o.json)
		return anchor(ctx, &o);
	if (sub != NULL || o.anchor || o.out) {
		fputs(audit_usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (o.kiosk != NULL && strlen(o.kiosk) > STORE_ID_MAX) {
		adm_errx("audit", "--kiosk %.80s: not a kiosk id", o.kiosk);
		return ADMIN_EXIT_USAGE;
	}
	if (adm_open(ctx, "audit", NULL, ADM_KEY_OPTIONAL, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	memset(&w, 0, sizeof(w));
	if (o.kiosk != NULL) {
		w.kiosk = o.kiosk;
		snprintf(w.actor, sizeof(w.actor), "kiosk:%s", o.kiosk);
		snprintf(w.kdetail, sizeof(w.kdetail), "\"kiosk\":\"%s\"",
		    o.kiosk);
	}
	w.since = o.since;
	w.tail = o.tail;
	w.fn = print_entry;
	w.ctx = &o;
	if ((o.member != NULL && walk_member(s, &w, o.member, aid, &err)) ||
	    walk_run(s, &w, (int64_t)o.after, &err) != 0) {
		adm_error("audit", &err);
		goto out;
	}
	rc = adm_flush_stdout("audit") ? ADMIN_EXIT_FAIL : ADMIN_EXIT_OK;
out:
	store_close(s);
	return rc;
}

/*
 * admin/cmd_user.c — `dt4ecg-admin user add|enroll|list|show|unlock|delete`.
 *
 * Enrollment reads each recording (WFDB or CSV), runs it through the same
 * pipeline as dt4ecgd (pipeline/embed.h) with the ACTIVE model, and only when
 * every recording is usable stores, in one transaction, each raw recording
 * (sealed) and its template.  The recordings are kept so that activating
 * another model can recompute the templates.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "admin/common.h"
#include "admin/enroll_check.h"
#include "store/guard.h"
#include "ecg/load.h"
#include "nn/model.h"
#include "pipeline/embed.h"

static const char add_usage[] =
    "usage: dt4ecg-admin --db STORE user add USER_ID [--name \"Display Name\"]\n"
    "  Adds a member (no biometric data yet: see user enroll).\n"
    "  USER_ID: 1-64 characters of A-Z a-z 0-9 . _ @ : -\n";
static const char enroll_usage[] =
    "usage: dt4ecg-admin --db STORE user enroll USER_ID RECORDING...\n"
    "           [--format wfdb|csv] [--fs HZ] [--signal N] [--skip-unusable]\n"
    "           [--min-agreement X] [--key-file FILE]\n"
    "  Enrolls a member from one or more ECG recordings (a WFDB record path\n"
    "  without extension, or a CSV/TSV file with --fs; a --fs applies to the\n"
    "  recordings after it, the last one also to any before it).  Each\n"
    "  recording is preprocessed and embedded with the active model.  An unusable\n"
    "  recording is named with the reason, and then nothing is stored\n"
    "  unless --skip-unusable is given.  A recording that is not an ECG\n"
    "  (noise, a sine, ...) is unusable.  The recordings, with those already\n"
    "  enrolled, must not repeat one another, and each one's template must\n"
    "  agree with the others' (mean cosine similarity >= --min-agreement,\n"
    "  default 0.4).  The raw recordings (encrypted) and their templates are\n"
    "  stored in one transaction.\n";
static const char list_usage[] =
    "usage: dt4ecg-admin --db STORE user list [--json]\n"
    "  Lists the members with their number of recordings and templates,\n"
    "  and until when a locked member is locked.\n";
static const char show_usage[] =
    "usage: dt4ecg-admin --db STORE user show USER_ID [--json] [--key-file FILE]\n"
    "  Shows a member and, when the store key is available, the duration\n"
    "  and sample rate of each enrollment recording.\n";
static const char unlock_usage[] =
    "usage: dt4ecg-admin --db STORE user unlock USER_ID\n"
    "  Lifts a member's lock (set by dt4ecgd after lockout_failures\n"
    "  rejections in a row) and resets the count; audited as\n"
    "  member.unlock.\n";
static const char delete_usage[] =
    "usage: dt4ecg-admin --db STORE user delete USER_ID [--key-file FILE]\n"
    "  Erases a member completely: the member, every recording and every\n"
    "  template, in one transaction; freed pages are zeroed in the file.\n"
    "  The audit log keeps only a keyed hash of the id.\n";

struct user_opts {
	const char *name;
	const char *format;
	const char *key_file;
	double fs;
	double min_agreement;
	int signal;
	int json;
	int skip_unusable;
};

#define U struct user_opts
static const struct adm_opt opts[] = {
	ADM_OPT_STR("name", 'n', U, name),
	ADM_OPT_STR("format", 'F', U, format),
	ADM_OPT_DBL("fs", 'f', U, fs, 50, 2000,
	    "expected a rate of 50..2000 Hz"),
	ADM_OPT_INT("signal", 's', U, signal, 0, 1000, NULL),
	ADM_OPT_FLAG("json", 'j', U, json),
	ADM_OPT_FLAG("skip-unusable", 'S', U, skip_unusable),
	ADM_OPT_DBL("min-agreement", 'A', U, min_agreement, -1, 1,
	    "expected a similarity of -1..1"),
	ADM_OPT_STR("key-file", 'k', U, key_file),
	ADM_OPT_END,
};
#undef U
static const struct adm_options options = { "user", opts, NULL };

static int
user_add(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct user_opts o = { .signal = -1 };
	struct store *s = NULL;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, add_usage, "n", &o, 1,
	    1)) >= 0)
		return rc;
	if (adm_open(ctx, "user add", NULL, ADM_KEY_REQUIRED, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	if (store_member_add(s, argv[optind], o.name, &err) != 0) {
		adm_error("user add", &err);
		rc = ADMIN_EXIT_FAIL;
	} else {
		bool named = o.name != NULL && *o.name != '\0';

		printf("member %s added%s%s%s\n", argv[optind],
		    named ? " (" : "", named ? o.name : "", named ? ")" : "");
		rc = ADMIN_EXIT_OK;
	}
	store_close(s);
	return rc;
}

struct enroll_item {
	const char *path;
	float *mv;
	size_t n;
	double fs;
	float *emb;
	struct embed_result r;
	bool ok;
};

static void
items_free(struct enroll_item *it, int n, int dim)
{
	int i;

	if (it == NULL)
		return;
	for (i = 0; i < n; i++) {
		ecg_samples_free(it[i].mv, it[i].n);
		if (it[i].emb != NULL)
			sodium_memzero(it[i].emb, sizeof(float) * (size_t)dim);
		free(it[i].emb);
		free(it[i].r.activity);
	}
	free(it);
}

/*
 * --fs per recording: a --fs applies to the recordings after it, up to the
 * next --fs; recordings before every --fs take the last one given (so the
 * documented `enroll ID REC... --fs HZ` sets them all).  fs[k] is the rate
 * of positional operand k (0: USER_ID), 0 for none.  Values are checked
 * by adm_opts later.
 */
static void
fs_per_operand(int argc, char **argv, double *fs, int nfs)
{
	static const char *const with_arg[] = { "--format", "--signal",
	    "--key-file", "--min-agreement", "--name", "--db" };
	double cur = 0, last = 0;
	int i, k = 0;
	size_t j;

	for (i = 1; i < argc && k < nfs; i++) {
		const char *a = argv[i], *v = NULL;

		if (strcmp(a, "--") == 0) {
			while (++i < argc && k < nfs)
				fs[k++] = cur;
			break;
		}
		if (strcmp(a, "--fs") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(a, "--fs=", 5) == 0)
			v = a + 5;
		if (v != NULL) {
			cur = last = strtod(v, NULL);
			continue;
		}
		if (a[0] == '-' && a[1] != '\0') {
			for (j = 0; j < sizeof(with_arg) / sizeof(with_arg[0]);
			    j++)
				if (strcmp(a, with_arg[j]) == 0)
					i++;
			continue;
		}
		fs[k++] = cur;
	}
	for (i = 0; i < k; i++)
		if (fs[i] == 0)
			fs[i] = last;
}

static int
user_enroll(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct user_opts o = { .signal = -1,
	    .min_agreement = ENROLL_MIN_AGREEMENT };
	struct store_member mem;
	struct enroll_rec *recs = NULL;
	double *fsv = NULL;
	int n_recs = 0, n_new = 0, bad;
	struct store *s = NULL;
	struct nn_model *m = NULL;
	struct embedder *e = NULL;
	struct enroll_item *it = NULL;
	enum ecg_format fmt;
	char model_id[STORE_ID_MAX + 1];
	const char *id;
	int rc, i, n = 0, dim = 0, n_ok = 0, in_tx = 0;
	int64_t rec_id;

	if ((fsv = calloc((size_t)argc, sizeof(*fsv))) == NULL) {
		adm_errx("user enroll", "out of memory");
		return ADMIN_EXIT_FAIL;
	}
	fs_per_operand(argc, argv, fsv, argc);
	if ((rc = adm_opts(argc, argv, &options, enroll_usage, "FfsSAk", &o, 2,
	    -1)) >= 0) {
		free(fsv);
		return rc;
	}
	if (ecg_format_parse(o.format, &fmt) != 0) {
		fprintf(stderr, "dt4ecg-admin user enroll: --format %s: "
		    "expected wfdb or csv\n", o.format);
		free(fsv);
		return ADMIN_EXIT_USAGE;
	}
	id = argv[optind];
	n = argc - optind - 1;
	if (adm_open(ctx, "user enroll", o.key_file, ADM_KEY_REQUIRED, 0, &s)) {
		free(fsv);
		return ADMIN_EXIT_FAIL;
	}
	rc = ADMIN_EXIT_FAIL;
	if (store_member_get(s, id, &mem, &err) != 0) {
		if (err.code == DT_E_NOTFOUND) {
			adm_errx("user enroll", "member %s not found (add it "
			    "first: dt4ecg-admin user add %s)", id, id);
			goto out;
		}
		goto fail;
	}
	if (adm_load_model(s, "user enroll", NULL, &m, model_id) != 0)
		goto out;
	dim = m->hp.embedding_dim;
	if (embedder_create(m, 16, &e, &err) != 0)
		goto fail;
	if ((it = calloc((size_t)n, sizeof(*it))) == NULL) {
		dt_error_set(&err, DT_E_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		struct dt_error ferr = { 0 };

		it[i].path = argv[optind + 1 + i];
		if (n > 1)
			adm_progress("enrolling", (size_t)i + 1, (size_t)n,
			    it[i].path);
		it[i].emb = calloc((size_t)dim, sizeof(float));
		it[i].r.activity = calloc((size_t)m->n_activities + 1,
		    sizeof(float));
		if (it[i].emb == NULL || it[i].r.activity == NULL) {
			dt_error_set(&err, DT_E_NOMEM, "out of memory");
			goto fail;
		}
		it[i].r.embedding = it[i].emb;
		if (ecg_load_signal(it[i].path, fmt, fsv[1 + i], o.signal,
		    &it[i].mv,
		    &it[i].n, &it[i].fs, &ferr) != 0 ||
		    embedder_run(e, it[i].mv, it[i].n, it[i].fs, &it[i].r,
		    &ferr) != 0) {
			adm_progress_done();
			if (strncmp(ferr.msg, it[i].path, strlen(it[i].path)))
				dt_error_prefix(&ferr, "%s", it[i].path);
			adm_errx("user enroll", "%s: recording not usable "
			    "(%s)", ferr.msg, dt_errc_name(ferr.code));
			continue;
		}
		it[i].ok = true;
		n_ok++;
	}
	adm_progress_done();
	if (n_ok < n && !o.skip_unusable) {
		adm_errx("user enroll", "member %s: nothing enrolled: %d of %d "
		    "recording%s not usable (use --skip-unusable to enroll "
		    "the others)", id, n - n_ok, n, n == 1 ? "" : "s");
		goto out;
	}
	if (n_ok == 0) {
		adm_errx("user enroll", "member %s: nothing enrolled: no "
		    "usable recording", id);
		goto out;
	}
	/* the set: none twice, all of one person (enroll_check.h) */
	if ((recs = calloc((size_t)n_ok, sizeof(*recs))) == NULL) {
		dt_error_set(&err, DT_E_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++)
		if (it[i].ok) {
			struct enroll_rec *x = &recs[n_new++];

			snprintf(x->name, sizeof(x->name), "%s", it[i].path);
			x->mv = it[i].mv;
			x->n = it[i].n;
			x->fs = it[i].fs;
			x->emb = it[i].emb;
		}
	n_recs = n_new;
	if (enroll_load_stored(s, id, e, dim, &recs, &n_recs, &err) != 0)
		goto fail;
	if (enroll_check_duplicates(recs, n_recs, n_new, &err) != 0 ||
	    enroll_check_agreement(recs, n_recs, n_new, dim, o.min_agreement,
	    &bad, &err) != 0) {
		adm_errx("user enroll", "member %s: nothing enrolled: %s", id,
		    err.msg);
		goto out;
	}
	if (store_begin(s, &err) != 0)
		goto fail;
	in_tx = 1;
	for (i = 0; i < n; i++) {
		if (!it[i].ok)
			continue;
		if (store_recording_add(s, id, it[i].mv, it[i].n, it[i].fs,
		    &rec_id, &err) != 0 ||
		    store_template_add(s, id, model_id, it[i].emb, dim, rec_id,
		    NULL, &err) != 0) {
			dt_error_prefix(&err, "%s", it[i].path);
			goto fail;
		}
	}
	if (store_commit(s, &err) != 0)
		goto fail;
	in_tx = 0;
	for (i = 0, bad = 0; i < n; i++)
		if (it[i].ok) {
			printf("%s: %.1f s at %g Hz, %d window%s used, %d "
			    "rejected, heart rate %.0f bpm", it[i].path,
			    (double)it[i].n / it[i].fs, it[i].fs,
			    it[i].r.windows_used,
			    it[i].r.windows_used == 1 ? "" : "s",
			    it[i].r.windows_rejected,
			    (double)it[i].r.heart_rate_bpm);
			if (n_recs > 1)
				printf(", agreement %.2f",
				    recs[bad].agreement);
			printf("\n");
			bad++;
		}
	printf("member %s: enrolled %d recording%s with model %s\n", id, n_ok,
	    n_ok == 1 ? "" : "s", model_id);
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	adm_progress_done();
	adm_error("user enroll", &err);
out:
	if (in_tx)
		store_rollback(s);
	enroll_recs_free(recs, n_recs, n_new, dim);
	items_free(it, n, dim);
	free(fsv);
	embedder_free(e);
	nn_model_free(m);
	store_close(s);
	return rc;
}

static bool
is_locked(const struct store_member *m)
{
	return m->locked_until > (int64_t)time(NULL);
}

static json_t *
member_json(const struct store_member *m)
{
	return json_pack("{s:s, s:o, s:I, s:o, s:b, s:i, s:i, s:s, s:s}",
	    "id", m->id,
	    "display_name", m->display_name[0] ?
	    json_string(m->display_name) : json_null(),
	    "created", (json_int_t)m->created,
	    "locked_until", m->locked_until ?
	    json_integer(m->locked_until) : json_null(),
	    "locked", is_locked(m),
	    "recordings", m->n_recordings, "templates", m->n_templates,
	    "audit_id", m->audit_id, "row", m->row_ok == 1 ? "authentic" :
	    m->row_ok == 0 ? "fails its MAC" : "unchecked (no key)");
}

static int
list_one(void *vctx, const struct store_member *m)
{
	struct adm_list *l = vctx;
	char t[32];

	l->n++;
	if (l->json)
		return json_array_append_new(l->arr, member_json(m)) ? -1 : 0;
	char lk[32];

	if (l->n == 1)
		printf("%-24s %-24s %4s %4s %-20s %-20s\n", "MEMBER", "NAME",
		    "RECS", "TPLS", "CREATED", "LOCKED UNTIL");
	printf("%-24s %-24s %4d %4d %-20s %-20s\n", m->id,
	    m->display_name[0] ? m->display_name : "-", m->n_recordings,
	    m->n_templates, adm_time(m->created, t, sizeof(t)),
	    adm_time(is_locked(m) ? m->locked_until : 0, lk, sizeof(lk)));
	return 0;
}

static int
list_rows(struct store *s, struct adm_list *l, struct dt_error *err)
{
	return store_member_list(s, list_one, l, err);
}

static void
list_empty(const char *db)
{
	printf("no members\n");
}

static int
user_list(struct admin_ctx *ctx, int argc, char **argv)
{
	struct user_opts o = { .signal = -1 };
	int rc;

	if ((rc = adm_opts(argc, argv, &options, list_usage, "j", &o, 0,
	    0)) >= 0)
		return rc;
	return adm_list(ctx, "user list", o.json, list_rows, list_empty);
}

static int
show_recording(void *vctx, const struct store_recording *r)
{
	json_t *arr = vctx;

	return json_array_append_new(arr, json_pack("{s:I, s:f, s:I, s:f, "
	    "s:I}", "id", (json_int_t)r->id, "fs_hz", r->fs_hz, "samples",
	    (json_int_t)r->n_samples, "seconds", (double)r->n_samples /
	    r->fs_hz, "created", (json_int_t)r->created)) ? -1 : 0;
}

#define USER_SHOW_DECISIONS 10

static const char *
jstr(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/* One line of `user show`'s last decisions. */
static void
print_decision(json_t *e)
{
	json_t *d = json_object_get(e, "detail");
	json_t *sc = json_object_get(d, "score");
	char t[32], score[16] = "-";

	if (json_is_number(sc))
		snprintf(score, sizeof(score), "%.4f", json_number_value(sc));
	printf("  %s %-11s %-20s score %-6s %s%s%s%s\n", adm_time(
	    json_integer_value(json_object_get(e, "ts")), t, sizeof(t)),
	    jstr(e, "action"), jstr(e, "actor"), score, jstr(d, "request_id"),
	    *jstr(d, "reason") ? " " : "", jstr(d, "reason"),
	    json_is_null(json_object_get(e, "subject")) ?
	    " (as the nearest member of a 1:N reject)" : "");
}

static int
user_show(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct store_member m;
	struct user_opts o = { .signal = -1 };
	struct store *s = NULL;
	json_t *j = NULL, *recs = NULL, *dec = NULL;
	char t[32];
	unsigned fails = 0;
	size_t i;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, show_usage, "jk", &o, 1,
	    1)) >= 0)
		return rc;
	if (adm_open(ctx, "user show", o.key_file, o.key_file ?
	    ADM_KEY_REQUIRED : ADM_KEY_OPTIONAL, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	/* a row that fails its MAC is shown, marked: dt4ecgd refuses it */
	if (store_member_get(s, argv[optind], &m, &err) != 0 &&
	    err.code != DT_E_CRYPTO)
		goto fail;
	if ((j = member_json(&m)) == NULL)
		goto nomem;
	if (store_member_failures(s, m.id, &fails, &err) != 0)
		goto fail;
	json_object_set_new(j, "failures", json_integer(fails));
	if (store_key(s) != NULL) {
		if ((recs = json_array()) == NULL)
			goto nomem;
		if (store_recording_foreach(s, m.id, show_recording, recs,
		    &err) != 0) {
			if (err.msg[0] == '\0')
				goto nomem;
			goto fail;
		}
		json_object_set(j, "recording_list", recs);
	}
	if (adm_audit_decisions(s, m.id, USER_SHOW_DECISIONS, &dec, &err) != 0)
		goto fail;
	json_object_set(j, "last_decisions", dec);
	if (o.json) {
		json_t *x = j;

		j = NULL;
		if (adm_json_print(x) != 0)
			goto out;
	} else {
		printf("member:       %s\n", m.id);
		printf("name:         %s\n", m.display_name[0] ?
		    m.display_name : "-");
		printf("created:      %s\n", adm_time(m.created, t, sizeof(t)));
		if (is_locked(&m))
			printf("locked until: %s (dt4ecg-admin user unlock "
			    "%s lifts it)\n", adm_time(m.locked_until, t,
			    sizeof(t)), m.id);
		else
			printf("locked:       no\n");
		printf("rejections:   %u in a row\n", fails);
		if (m.row_ok == 0)
			printf("row:          FAILS ITS MAC (changed outside "
			    "dt4ecg): dt4ecgd rejects this member\n");
		printf("recordings:   %d\n", m.n_recordings);
		printf("templates:    %d (all models)\n", m.n_templates);
		for (i = 0; recs != NULL && i < json_array_size(recs); i++) {
			json_t *r = json_array_get(recs, i);

			printf("  recording %lld: %.1f s at %g Hz, enrolled "
			    "%s\n", (long long)json_integer_value(
			    json_object_get(r, "id")), json_real_value(
			    json_object_get(r, "seconds")), json_real_value(
			    json_object_get(r, "fs_hz")), adm_time(
			    json_integer_value(json_object_get(r, "created")),
			    t, sizeof(t)));
		}
		if (recs == NULL)
			printf("(recording details need the store key)\n");
		printf("last decisions (audit log, audit id %s):%s\n",
		    m.audit_id, json_array_size(dec) ? "" : " none");
		for (i = 0; i < json_array_size(dec); i++)
			print_decision(json_array_get(dec, i));
	}
	rc = adm_flush_stdout("user show") ? ADMIN_EXIT_FAIL : ADMIN_EXIT_OK;
	goto out;
nomem:
	dt_error_set(&err, DT_E_NOMEM, "out of memory");
fail:
	adm_error("user show", &err);
out:
	json_decref(dec);
	json_decref(recs);
	json_decref(j);
	store_close(s);
	return rc;
}

static int
user_delete(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct store_member m;
	struct user_opts o = { .signal = -1 };
	struct store *s = NULL;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, delete_usage, "k", &o, 1,
	    1)) >= 0)
		return rc;
	if (adm_open(ctx, "user delete", o.key_file, ADM_KEY_REQUIRED, 0,
	    &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	/* a member whose row fails its MAC can still be erased */
	if ((store_member_get(s, argv[optind], &m, &err) != 0 &&
	    err.code != DT_E_CRYPTO) ||
	    store_member_delete(s, argv[optind], &err) != 0) {
		adm_error("user delete", &err);
		goto out;
	}
	printf("member %s erased (%d recording%s, %d template%s)\n", m.id,
	    m.n_recordings, m.n_recordings == 1 ? "" : "s", m.n_templates,
	    m.n_templates == 1 ? "" : "s");
	rc = ADMIN_EXIT_OK;
out:
	store_close(s);
	return rc;
}

static int
user_unlock(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct store_member m;
	struct user_opts o = { .signal = -1 };
	struct store *s = NULL;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, unlock_usage, "", &o, 1,
	    1)) >= 0)
		return rc;
	/* the unlock is audited in the keyed chain and renews the row MAC */
	if (adm_open(ctx, "user unlock", NULL, ADM_KEY_REQUIRED, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	/* a row that fails its MAC (a lock written into the file) can be
	 * unlocked: that is the staff's remedy, and it is audited as such */
	if ((store_member_get(s, argv[optind], &m, &err) != 0 &&
	    err.code != DT_E_CRYPTO) ||
	    store_member_unlock(s, argv[optind], &err) != 0) {
		adm_error("user unlock", &err);
		goto out;
	}
	printf("member %s unlocked%s%s\n", m.id, is_locked(&m) ? "" :
	    " (was not locked; its rejection count is reset)",
	    m.row_ok == 0 ? " (its row failed its MAC: changed outside "
	    "dt4ecg; authentic again)" : "");
	rc = ADMIN_EXIT_OK;
out:
	store_close(s);
	return rc;
}

int
cmd_user(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct adm_sub subs[] = {
		{ "add", user_add, "add USER_ID [--name \"Display Name\"]" },
		{ "enroll", user_enroll, "enroll USER_ID RECORDING... "
		    "[--format wfdb|csv] [--fs HZ] [--signal N]" },
		{ "list", user_list, "list [--json]" },
		{ "show", user_show, "show USER_ID [--json]" },
		{ "unlock", user_unlock, "unlock USER_ID" },
		{ "delete", user_delete, "delete USER_ID" },
	};

	return adm_dispatch(ctx, "user", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}

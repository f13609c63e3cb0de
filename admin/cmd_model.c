/*
 * admin/cmd_model.c — `dt4ecg-admin model import|list|show|activate|export`.
 *
 * Activation recomputes every member's templates from their stored
 * recordings with the new model (the same pipeline as enrollment and
 * dt4ecgd), then switches the active model, all in one transaction of the
 * store: a failure leaves the old model active with its templates.
 */
#include "config.h"

#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin/common.h"
#include "nn/model.h"
#include "pipeline/embed.h"

#define MODEL_FILE_MAX ((size_t)1 << 30)

static const char import_usage[] =
    "usage: dt4ecg-admin --db STORE model import MODEL.safetensors [--activate]\n"
    "           [--id ID] [--key-file FILE]\n"
    "  Validates a model file and adds it to the store (inactive).  ID\n"
    "  defaults to the file name without .safetensors (or, when that is not\n"
    "  a valid id, \"sha256-\" and 16 hex digits of the file's hash).  With\n"
    "  --activate the model is then activated as by model activate.\n";
static const char list_usage[] =
    "usage: dt4ecg-admin --db STORE model list [--json]\n"
    "  Lists the models in the store; the active one is marked with '*'.\n";
static const char show_usage[] =
    "usage: dt4ecg-admin --db STORE model show ID [--json]\n"
    "  Shows a model: hyperparameters, activities, metrics, metadata.\n";
static const char activate_usage[] =
    "usage: dt4ecg-admin --db STORE model activate ID [--key-file FILE]\n"
    "  Recomputes every member's templates from their stored recordings\n"
    "  with model ID and makes it the active model (dt4ecgd picks it up\n"
    "  without a restart).  On any failure the old model stays active.\n";
static const char export_usage[] =
    "usage: dt4ecg-admin --db STORE model export ID FILE\n"
    "  Writes model ID's safetensors file to FILE (which must not exist).\n";

struct model_opts {
	const char *id;
	const char *key_file;
	int activate;
	int json;
};

static int
set(void *vo, int ch, const char *arg)
{
	struct model_opts *o = vo;

	switch (ch) {
	case 'i': o->id = arg; break;
	case 'k': o->key_file = arg; break;
	case 'a': o->activate = 1; break;
	case 'j': o->json = 1; break;
	}
	return -1;
}

static const struct option longopts[] = {
	{ "id", required_argument, NULL, 'i' },
	{ "key-file", required_argument, NULL, 'k' },
	{ "activate", no_argument, NULL, 'a' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};
static const struct adm_options options = { longopts, set };

/* --- activation ------------------------------------------------------ */

struct recompute_ctx {
	struct embedder *e;
	float *act;
	size_t done, total;
	const char *model;
};

static int
recompute_cb(void *vctx, const char *member, const float *samples,
    size_t n_samples, double fs_hz, float *emb, int dim,
    struct dt_error *err)
{
	struct recompute_ctx *c = vctx;
	const struct nn_model *m = embedder_model(c->e);
	struct embed_result r = { .embedding = emb, .activity = c->act };

	c->done++;
	adm_progress("recomputing templates", c->done, c->done > c->total ?
	    c->done : c->total, member);
	if (dim != m->hp.embedding_dim)
		return dt_error_set(err, DT_E_INVALID, "embedding_dim %d, the "
		    "store expects %d", m->hp.embedding_dim, dim);
	return embedder_run(c->e, samples, n_samples, fs_hz, &r, err);
}

static int
count_recordings(void *vctx, const struct store_member *m)
{
	*(size_t *)vctx += (size_t)m->n_recordings;
	return 0;
}

/* Activates ID (already in the store); prints its own errors. */
static int
activate(struct store *s, const char *cmd, const char *id)
{
	struct dt_error err = { 0 };
	struct recompute_ctx c = { .model = id };
	struct nn_model *m = NULL;
	char got[STORE_ID_MAX + 1];
	int rc = -1;

	if (adm_load_model(s, cmd, id, &m, got) != 0)
		return -1;
	if (embedder_create(m, 16, &c.e, &err) != 0 ||
	    store_member_list(s, count_recordings, &c.total, &err) != 0)
		goto fail;
	if ((c.act = calloc((size_t)m->n_activities + 1, sizeof(float))) ==
	    NULL) {
		dt_error_set(&err, DT_E_NOMEM, "out of memory");
		goto fail;
	}
	if (store_model_activate(s, id, recompute_cb, &c, &err) != 0) {
		adm_progress_done();
		adm_errx(cmd, "%s; model %s not activated (the active model "
		    "is unchanged)", err.msg, id);
		goto out;
	}
	adm_progress_done();
	printf("model %s active; %zu template%s recomputed\n", id, c.total,
	    c.total == 1 ? "" : "s");
	rc = 0;
	goto out;
fail:
	adm_progress_done();
	adm_error(cmd, &err);
out:
	free(c.act);
	embedder_free(c.e);
	nn_model_free(m);
	return rc;
}

static int
model_activate(struct admin_ctx *ctx, int argc, char **argv)
{
	struct model_opts o = { 0 };
	struct store *s = NULL;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, activate_usage, "k", &o, 1,
	    1)) >= 0)
		return rc;
	if (adm_open(ctx, "model activate", o.key_file, ADM_KEY_REQUIRED, 0,
	    &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = activate(s, "model activate", argv[optind]) == 0 ?
	    ADMIN_EXIT_OK : ADMIN_EXIT_FAIL;
	store_close(s);
	return rc;
}

/* --- import ---------------------------------------------------------- */

static bool
valid_id(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > STORE_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') ||
		    strchr("._@:-", id[i]) != NULL))
			return false;
	return true;
}

/* The file stem, or sha256-<16 hex> of the bytes. */
static void
default_id(const char *path, const uint8_t *buf, size_t len, char *id,
    size_t size)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1], *copy, *base, *dot;

	if ((copy = strdup(path)) != NULL) {
		base = basename(copy);
		if ((dot = strstr(base, ".safetensors")) != NULL &&
		    dot[12] == '\0')
			*dot = '\0';
		if (valid_id(base) && strlen(base) < size) {
			snprintf(id, size, "%s", base);
			free(copy);
			return;
		}
		free(copy);
	}
	crypto_hash_sha256(h, buf, len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(id, size, "sha256-%.16s", hex);
}

static int
model_import(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct model_opts o = { 0 };
	struct store *s = NULL;
	struct nn_model *m = NULL;
	uint8_t *buf = NULL;
	const char *path, *metrics;
	char id[STORE_ID_MAX + 1];
	json_t *mj = NULL;
	size_t len;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, import_usage, "ika", &o, 1,
	    1)) >= 0)
		return rc;
	path = argv[optind];
	if (o.id != NULL && !valid_id(o.id)) {
		fprintf(stderr, "dt4ecg-admin model import: --id %s: expected "
		    "1-64 characters of A-Z a-z 0-9 . _ @ : -\n", o.id);
		return ADMIN_EXIT_USAGE;
	}
	if (adm_need_db(ctx, "model import") != 0)
		return ADMIN_EXIT_USAGE;
	rc = ADMIN_EXIT_FAIL;
	/* validate before touching the store */
	if (adm_read_file(path, MODEL_FILE_MAX, &buf, &len, &err) != 0 ||
	    nn_model_load_buffer(buf, len, path, &m, &err) != 0)
		goto fail;
	if (o.id != NULL)
		snprintf(id, sizeof(id), "%s", o.id);
	else
		default_id(path, buf, len, id, sizeof(id));
	/* metrics written into the file by retrain/evaluate, if any */
	metrics = nn_model_meta(m, "metrics");
	if (metrics != NULL && ((mj = json_loads(metrics, 0, NULL)) == NULL ||
	    !json_is_object(mj)))
		metrics = NULL;
	json_decref(mj);
	if (adm_open(ctx, "model import", o.key_file, ADM_KEY_REQUIRED, 0,
	    &s) != 0)
		goto out;
	if (store_model_add(s, id, buf, len, m->hp.embedding_dim, metrics,
	    &err) != 0) {
		if (err.code == DT_E_EXISTS)
			dt_error_prefix(&err, "%s", path);
		goto fail;
	}
	printf("model %s imported from %s (%zu bytes, embedding_dim %d, "
	    "%d activities)\n", id, path, len, m->hp.embedding_dim,
	    m->n_activities);
	nn_model_free(m);
	m = NULL;
	if (o.activate && activate(s, "model import", id) != 0)
		goto out;
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	adm_error("model import", &err);
out:
	free(buf);
	nn_model_free(m);
	store_close(s);
	return rc;
}

/* --- list, show, export ---------------------------------------------- */

static json_t *
model_json(const struct store_model *m)
{
	json_t *metrics = NULL;

	if (m->metrics_json != NULL)
		metrics = json_loads(m->metrics_json, 0, NULL);
	return json_pack("{s:s, s:b, s:i, s:I, s:I, s:o}", "id", m->id,
	    "active", m->active, "embedding_dim", m->embedding_dim,
	    "templates", (json_int_t)m->n_templates, "created",
	    (json_int_t)m->created, "metrics", metrics ? metrics : json_null());
}

static int
list_one(void *vctx, const struct store_model *m)
{
	struct adm_list *l = vctx;
	char t[32];

	l->n++;
	if (l->json)
		return json_array_append_new(l->arr, model_json(m)) ? -1 : 0;
	if (l->n == 1)
		printf("  %-32s %5s %9s %-20s\n", "MODEL", "DIM", "TEMPLATES",
		    "CREATED");
	printf("%c %-32s %5d %9lld %-20s\n", m->active ? '*' : ' ', m->id,
	    m->embedding_dim, (long long)m->n_templates,
	    adm_time(m->created, t, sizeof(t)));
	return 0;
}

static int
list_rows(struct store *s, struct adm_list *l, struct dt_error *err)
{
	return store_model_list(s, list_one, l, err);
}

static void
list_empty(const char *db)
{
	printf("no models (import one with: dt4ecg-admin --db %s model "
	    "import MODEL.safetensors --activate)\n", db);
}

static int
model_list(struct admin_ctx *ctx, int argc, char **argv)
{
	struct model_opts o = { 0 };
	int rc;

	if ((rc = adm_opts(argc, argv, &options, list_usage, "j", &o, 0,
	    0)) >= 0)
		return rc;
	return adm_list(ctx, "model list", o.json, list_rows, list_empty);
}

static int
model_show(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct model_opts o = { 0 };
	struct store *s = NULL;
	struct store_model *sm = NULL;
	struct nn_model *m = NULL;
	json_t *j = NULL, *hp, *acts, *meta, *stages;
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1], t[32], name[96];
	size_t i;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, show_usage, "j", &o, 1,
	    1)) >= 0)
		return rc;
	if (adm_open(ctx, "model show", NULL, ADM_KEY_OPTIONAL, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	if (store_model_get(s, argv[optind], &sm, &err) != 0)
		goto fail;
	snprintf(name, sizeof(name), "model %s", sm->id);
	if (nn_model_load_buffer(sm->bytes, sm->n_bytes, name, &m, &err) != 0)
		goto fail;
	crypto_hash_sha256(h, sm->bytes, sm->n_bytes);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	if ((j = model_json(sm)) == NULL || (stages = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < (size_t)m->hp.n_stages; i++)
		json_array_append_new(stages,
		    json_integer(m->hp.stage_channels[i]));
	hp = json_pack("{s:i, s:i, s:i, s:i, s:o, s:i, s:i, s:i, s:i, s:i}",
	    "fs_hz", m->hp.fs_hz, "window", m->hp.window, "stem_channels",
	    m->hp.stem_channels, "stem_kernel", m->hp.stem_kernel,
	    "stage_channels", stages, "kernel", m->hp.kernel, "sca_reduction",
	    m->hp.sca_reduction, "seq_kernel", m->hp.seq_kernel,
	    "embedding_dim", m->hp.embedding_dim, "act_hidden",
	    m->hp.act_hidden);
	acts = json_array();
	meta = json_object();
	if (hp == NULL || acts == NULL || meta == NULL) {
		json_decref(hp);
		json_decref(acts);
		json_decref(meta);
		goto nomem;
	}
	for (i = 0; i < (size_t)m->n_activities; i++)
		json_array_append_new(acts, json_string(m->activities[i]));
	for (i = 0; i < m->n_meta; i++)
		json_object_set_new(meta, m->meta[i].key,
		    json_string(m->meta[i].value));
	json_object_set_new(j, "bytes", json_integer((json_int_t)sm->n_bytes));
	json_object_set_new(j, "sha256", json_string(hex));
	json_object_set_new(j, "hyperparameters", hp);
	json_object_set_new(j, "activities", acts);
	json_object_set_new(j, "n_subjects", json_integer(m->n_subjects));
	json_object_set_new(j, "metadata", meta);
	if (o.json) {
		json_t *x = j;

		j = NULL;
		if (adm_json_print(x) != 0)
			goto out;
	} else {
		char *mt = json_dumps(json_object_get(j, "metrics"),
		    JSON_ENCODE_ANY | JSON_COMPACT);

		printf("model:         %s%s\n", sm->id, sm->active ?
		    " (active)" : "");
		printf("created:       %s\n", adm_time(sm->created, t,
		    sizeof(t)));
		printf("size:          %zu bytes, sha256 %s\n", sm->n_bytes,
		    hex);
		printf("input:         %d Hz, window %d samples\n",
		    m->hp.fs_hz, m->hp.window);
		printf("embedding_dim: %d\n", m->hp.embedding_dim);
		printf("activities:   ");
		for (i = 0; i < (size_t)m->n_activities; i++)
			printf(" %s", m->activities[i]);
		printf("\ntemplates:     %lld\n", (long long)sm->n_templates);
		printf("metrics:       %s\n", mt ? mt : "null");
		free(mt);
	}
	rc = adm_flush_stdout("model show") ? ADMIN_EXIT_FAIL : ADMIN_EXIT_OK;
	goto out;
nomem:
	dt_error_set(&err, DT_E_NOMEM, "out of memory");
fail:
	adm_error("model show", &err);
out:
	json_decref(j);
	nn_model_free(m);
	store_model_free(sm);
	store_close(s);
	return rc;
}

static int
model_export(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct model_opts o = { 0 };
	struct store *s = NULL;
	struct store_model *sm = NULL;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, export_usage, "", &o, 2,
	    2)) >= 0)
		return rc;
	if (adm_open(ctx, "model export", NULL, ADM_KEY_OPTIONAL, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	if (store_model_get(s, argv[optind], &sm, &err) != 0 ||
	    adm_write_new_file(argv[optind + 1], 0644, sm->bytes, sm->n_bytes,
	    &err) != 0) {
		adm_error("model export", &err);
		goto out;
	}
	printf("model %s written to %s (%zu bytes)\n", sm->id,
	    argv[optind + 1], sm->n_bytes);
	rc = ADMIN_EXIT_OK;
out:
	store_model_free(sm);
	store_close(s);
	return rc;
}

int
cmd_model(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct adm_sub subs[] = {
		{ "import", model_import,
		    "import MODEL.safetensors [--activate] [--id ID]" },
		{ "list", model_list, "list [--json]" },
		{ "show", model_show, "show ID [--json]" },
		{ "activate", model_activate, "activate ID" },
		{ "export", model_export, "export ID FILE" },
	};

	return adm_dispatch(ctx, "model", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}

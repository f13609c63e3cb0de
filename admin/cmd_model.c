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
#include <unistd.h>

#include <sodium.h>

#include "admin/common.h"
#include "admin/model_check.h"
#include "admin/model_sign.h"
#include "nn/model.h"
#include "pipeline/embed.h"

#define MODEL_FILE_MAX ((size_t)1 << 30)

static const char import_usage[] =
    "usage: dt4ecg-admin --db STORE model import MODEL.safetensors [--activate]\n"
    "           [--force] [--id ID] [--release-key PUB [--signature SIG]]\n"
    "           [--require-signed] [--key-file FILE]\n"
    "  Validates a model file and adds it to the store (inactive).  ID\n"
    "  defaults to the file name without .safetensors (or, when that is not\n"
    "  a valid id, \"sha256-\" and 16 hex digits of the file's hash).  With\n"
    "  --activate the model is then activated as by model activate.  The\n"
    "  file's SHA-256 is recorded and checked whenever the model is loaded.\n"
    "  With --release-key (a pinned Ed25519 public key, base64 or a file\n"
    "  holding it) the signature SIG [MODEL.safetensors.sig] must verify;\n"
    "  --require-signed refuses a model without one.\n";
static const char keygen_usage[] =
    "usage: dt4ecg-admin model keygen --key-out FILE\n"
    "  Creates a release signing key: the secret key to FILE (mode 0600,\n"
    "  base64; FILE must not exist), the public key to FILE.pub and stdout\n"
    "  (what operators pin with model import --release-key).\n";
static const char sign_usage[] =
    "usage: dt4ecg-admin model sign MODEL.safetensors --key FILE [--signature SIG]\n"
    "  Signs the model file's SHA-256 with the release key FILE and writes\n"
    "  the signature to SIG [MODEL.safetensors.sig] (must not exist).\n";
static const char list_usage[] =
    "usage: dt4ecg-admin --db STORE model list [--json]\n"
    "  Lists the models in the store; the active one is marked with '*'.\n";
static const char show_usage[] =
    "usage: dt4ecg-admin --db STORE model show ID [--json]\n"
    "  Shows a model: hyperparameters, activities, metrics, metadata.\n";
static const char activate_usage[] =
    "usage: dt4ecg-admin --db STORE model activate ID [--dry-run] [--force]\n"
    "           [--key-file FILE]\n"
    "  First scores the enrolled members' recordings with model ID and\n"
    "  with the active model (genuine: a member's recordings against each\n"
    "  other; impostor: against the other members') and prints both; a\n"
    "  model whose impostor scores collapse (mean > 0.9) or whose\n"
    "  separation is below half the active model's is refused unless\n"
    "  --force (--dry-run: only that, exit 0 when it would be activated).\n"
    "  Then recomputes every member's templates from their stored\n"
    "  recordings with model ID and makes it the active model (dt4ecgd\n"
    "  picks it up without a restart).  On any failure the old model stays\n"
    "  active.\n";
static const char export_usage[] =
    "usage: dt4ecg-admin --db STORE model export ID FILE\n"
    "  Writes model ID's safetensors file to FILE (which must not exist).\n";

struct model_opts {
	const char *id;
	const char *key_file;
	int activate;
	int json;
	bool force;
	bool dry_run;
	bool require_signed;
	const char *release_key;
	const char *signature;
	const char *sign_key;
	const char *key_out;
};

#define M struct model_opts
static const struct adm_opt opts[] = {
	ADM_OPT_STR("id", 'i', M, id),
	ADM_OPT_STR("key-file", 'k', M, key_file),
	ADM_OPT_FLAG("activate", 'a', M, activate),
	ADM_OPT_FLAG("json", 'j', M, json),
	ADM_OPT_BOOL("force", 'f', M, force),
	ADM_OPT_BOOL("dry-run", 'n', M, dry_run),
	ADM_OPT_BOOL("require-signed", 'Q', M, require_signed),
	ADM_OPT_STR("release-key", 'R', M, release_key),
	ADM_OPT_STR("signature", 'G', M, signature),
	ADM_OPT_STR("key", 'K', M, sign_key),
	ADM_OPT_STR("key-out", 'O', M, key_out),
	ADM_OPT_END,
};
#undef M
static const struct adm_options options = { "model", opts, NULL };

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

/*
 * The site's members scored by the new model and by the active one
 * (admin/model_check.h); refuses (prints why, returns -1) a model whose
 * impostor scores collapse or whose separation is far below the active
 * model's, unless force.
 */
static int
check_scores(struct store *s, const char *cmd, const char *id,
    const struct nn_model *m, bool force)
{
	struct dt_error err = { 0 };
	struct model_scores nw, old;
	struct nn_model *am = NULL;
	struct store_model *sm = NULL;
	char active[STORE_ID_MAX + 1] = "";
	bool have_old = false;
	int rc = -1;

	if (model_check_scores(s, m, &nw, &err) != 0) {
		adm_error(cmd, &err);
		return -1;
	}
	if (nw.n_impostor == 0)
		return 0;	/* fewer than two members: nothing to compare */
	model_check_print(id, &nw);
	if (store_model_get(s, NULL, &sm, &err) == 0) {
		snprintf(active, sizeof(active), "%s", sm->id);
		store_model_free(sm);
	}
	dt_error_clear(&err);
	if (active[0] != '\0' && strcmp(active, id) != 0 &&
	    adm_load_model(s, cmd, active, &am, active) == 0 &&
	    model_check_scores(s, am, &old, &err) == 0) {
		have_old = true;
		model_check_print(active, &old);
	}
	if (nw.impostor_mean > MODEL_CHECK_MAX_IMPOSTOR)
		adm_errx(cmd, "model %s: the impostor scores collapse (mean "
		    "%.3f > %.2f: different members look alike); not "
		    "activated%s", id, nw.impostor_mean,
		    MODEL_CHECK_MAX_IMPOSTOR, force ? " without --force" : "");
	else if (have_old && old.separation > 0 && nw.separation <
	    MODEL_CHECK_MIN_RATIO * old.separation)
		adm_errx(cmd, "model %s: separation %.3f, below %.0f %% of the "
		    "active model %s's %.3f; not activated", id, nw.separation,
		    100 * MODEL_CHECK_MIN_RATIO, active, old.separation);
	else
		rc = 0;
	if (rc != 0 && force) {
		fprintf(stderr, "dt4ecg-admin %s: --force: activating "
		    "anyway\n", cmd);
		rc = 0;
	}
	nn_model_free(am);
	return rc;
}

/* Activates ID (already in the store); prints its own errors. */
static int
activate(struct store *s, const char *cmd, const char *id, bool force,
    bool dry_run)
{
	struct dt_error err = { 0 };
	struct recompute_ctx c = { .model = id };
	struct nn_model *m = NULL;
	char got[STORE_ID_MAX + 1];
	int rc = -1;

	if (adm_load_model(s, cmd, id, &m, got) != 0)
		return -1;
	if (check_scores(s, cmd, id, m, force) != 0)
		goto out;
	if (dry_run) {
		printf("model %s would be activated (--dry-run: the active "
		    "model is unchanged)\n", id);
		rc = 0;
		goto out;
	}
	if (embedder_create(m, 16, &c.e, &err) != 0 ||
	    store_member_list(s, count_recordings, &c.total, &err) != 0)
		goto fail;
	/* the store's recordings passed the signal check when enrolled */
	embedder_set_sigcheck(c.e, false);
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

	if ((rc = adm_opts(argc, argv, &options, activate_usage, "kfn", &o, 1,
	    1)) >= 0)
		return rc;
	if (adm_open(ctx, "model activate", o.key_file, ADM_KEY_REQUIRED, 0,
	    &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = activate(s, "model activate", argv[optind], o.force,
	    o.dry_run) == 0 ?
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
	char id[STORE_ID_MAX + 1], signer[96] = "";
	json_t *mj = NULL;
	size_t len;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, import_usage, "ikafQRG", &o,
	    1, 1)) >= 0)
		return rc;
	path = argv[optind];
	if (o.require_signed && o.release_key == NULL) {
		fprintf(stderr, "dt4ecg-admin model import: --require-signed: "
		    "the release key to verify with is missing "
		    "(--release-key PUB)\n");
		return ADMIN_EXIT_USAGE;
	}
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
	if (o.release_key != NULL) {
		uint8_t pk[32];
		char sp[4200];

		if (o.signature == NULL && snprintf(sp, sizeof(sp), "%s.sig",
		    path) >= (int)sizeof(sp)) {
			dt_error_set(&err, DT_E_INVALID, "%s: name too long",
			    path);
			goto fail;
		}
		if (model_sig_read_pub(o.release_key, pk, &err) != 0 ||
		    model_sig_verify(buf, len, o.signature ? o.signature : sp,
		    pk, &err) != 0) {
			dt_error_prefix(&err, "%s: not imported", path);
			goto fail;
		}
		model_sig_key_name(pk, signer, sizeof(signer));
	}
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
	if (signer[0] != '\0' && store_model_set_signer(s, id, signer,
	    &err) != 0)
		goto fail;
	printf("model %s imported from %s (%zu bytes, embedding_dim %d, "
	    "%d activities%s%s)\n", id, path, len, m->hp.embedding_dim,
	    m->n_activities, signer[0] ? ", signed by " : "", signer);
	nn_model_free(m);
	m = NULL;
	if (o.activate && activate(s, "model import", id, o.force, false) != 0)
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

/* --- keygen, sign ---------------------------------------------------- */

static int
model_keygen(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct model_opts o = { 0 };
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char skb[sodium_base64_ENCODED_LEN(crypto_sign_SECRETKEYBYTES,
	    sodium_base64_VARIANT_ORIGINAL) + 1];
	char pkb[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES,
	    sodium_base64_VARIANT_ORIGINAL) + 1], pub[4200];
	size_t l;
	int rc;

	(void)ctx;
	if ((rc = adm_opts(argc, argv, &options, keygen_usage, "O", &o, 0,
	    0)) >= 0)
		return rc;
	if (o.key_out == NULL) {
		fprintf(stderr, "%s", keygen_usage);
		return ADMIN_EXIT_USAGE;
	}
	if (snprintf(pub, sizeof(pub), "%s.pub", o.key_out) >=
	    (int)sizeof(pub)) {
		adm_errx("model keygen", "%s: name too long", o.key_out);
		return ADMIN_EXIT_FAIL;
	}
	crypto_sign_keypair(pk, sk);
	sodium_bin2base64(skb, sizeof(skb) - 1, sk, sizeof(sk),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(pkb, sizeof(pkb) - 1, pk, sizeof(pk),
	    sodium_base64_VARIANT_ORIGINAL);
	l = strlen(skb);
	skb[l] = '\n';
	rc = ADMIN_EXIT_FAIL;
	if (dt_file_create(o.key_out, skb, l + 1, 0600, &err) != 0)
		goto fail;
	l = strlen(pkb);
	pkb[l] = '\n';
	if (dt_file_create(pub, pkb, l + 1, 0644, &err) != 0) {
		unlink(o.key_out);
		goto fail;
	}
	printf("%.*s", (int)(l + 1), pkb);
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	adm_error("model keygen", &err);
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(skb, sizeof(skb));
	return rc;
}

static int
model_sign(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct model_opts o = { 0 };
	struct nn_model *m = NULL;
	uint8_t *buf = NULL, *kb = NULL, sk[crypto_sign_SECRETKEYBYTES];
	uint8_t sig[crypto_sign_BYTES];
	char msg[96], sp[4200], line[sodium_base64_ENCODED_LEN(
	    crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL) + 1];
	size_t len = 0, kl = 0, got = 0, l;
	const char *path;
	int rc;

	(void)ctx;
	if ((rc = adm_opts(argc, argv, &options, sign_usage, "KG", &o, 1,
	    1)) >= 0)
		return rc;
	if (o.sign_key == NULL) {
		fprintf(stderr, "%s", sign_usage);
		return ADMIN_EXIT_USAGE;
	}
	path = argv[optind];
	rc = ADMIN_EXIT_FAIL;
	if (snprintf(sp, sizeof(sp), "%s.sig", path) >= (int)sizeof(sp)) {
		dt_error_set(&err, DT_E_INVALID, "%s: name too long", path);
		goto fail;
	}
	/* only a valid model is signed */
	if (adm_read_file(path, MODEL_FILE_MAX, &buf, &len, &err) != 0 ||
	    nn_model_load_buffer(buf, len, path, &m, &err) != 0)
		goto fail;
	if (adm_read_file(o.sign_key, 4096, &kb, &kl, &err) != 0)
		goto fail;
	while (kl > 0 && (kb[kl - 1] == '\n' || kb[kl - 1] == '\r'))
		kl--;
	if (sodium_base642bin(sk, sizeof(sk), (const char *)kb, kl, NULL,
	    &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != sizeof(sk)) {
		dt_error_set(&err, DT_E_FORMAT, "%s: not an Ed25519 secret key "
		    "(base64 of 64 bytes on one line)", o.sign_key);
		goto fail;
	}
	model_sig_message(buf, len, msg);
	crypto_sign_detached(sig, NULL, (const unsigned char *)msg,
	    strlen(msg), sk);
	sodium_bin2base64(line, sizeof(line) - 1, sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	l = strlen(line);
	line[l] = '\n';
	if (dt_file_create(o.signature ? o.signature : sp, line,
	    l + 1, 0644, &err) != 0)
		goto fail;
	printf("%s: signed (%s)\n", path, o.signature ? o.signature : sp);
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	adm_error("model sign", &err);
out:
	sodium_memzero(sk, sizeof(sk));
	if (kb != NULL)
		sodium_memzero(kb, kl);
	free(kb);
	free(buf);
	nn_model_free(m);
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
	json_object_set_new(j, "sha256_recorded", json_boolean(
	    sm->has_sha256));
	json_object_set_new(j, "signed_by", sm->signer[0] ?
	    json_string(sm->signer) : json_null());
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
		json_t *mc = json_deep_copy(json_object_get(j, "metrics"));
		json_t *os = json_object_get(mc, "open_set");
		const char *pk;
		json_t *fig;
		char *mt;

		if (json_is_object(os))
			json_incref(os);
		else
			os = NULL;
		json_object_del(mc, "open_set");
		mt = json_dumps(mc, JSON_ENCODE_ANY | JSON_COMPACT);
		json_decref(mc);

		printf("model:         %s%s\n", sm->id, sm->active ?
		    " (active)" : "");
		printf("created:       %s\n", adm_time(sm->created, t,
		    sizeof(t)));
		printf("size:          %zu bytes, sha256 %s (%s)\n",
		    sm->n_bytes, hex, sm->has_sha256 ? "recorded at import, "
		    "verified" : "not recorded: imported before schema 5");
		printf("signed by:     %s\n", sm->signer[0] ? sm->signer :
		    "- (no release signature verified at import)");
		printf("input:         %d Hz, window %d samples\n",
		    m->hp.fs_hz, m->hp.window);
		printf("embedding_dim: %d\n", m->hp.embedding_dim);
		printf("activities:   ");
		for (i = 0; i < (size_t)m->n_activities; i++)
			printf(" %s", m->activities[i]);
		printf("\ntemplates:     %lld\n", (long long)sm->n_templates);
		printf("metrics:       %s\n", mt ? mt : "null");
		free(mt);
		json_object_foreach(os, pk, fig) {
			json_t *row;
			size_t r;

			printf("open set %s:   %lld genuine, %lld impostor scores "
			    "(%s)\n", pk, (long long)json_integer_value(
			    json_object_get(fig, "n_genuine")), (long long)
			    json_integer_value(json_object_get(fig,
			    "n_impostor")), json_string_value(json_object_get(
			    fig, "scores")) ? json_string_value(json_object_get(
			    fig, "scores")) : "?");
			printf("  EER          %5.2f %% at threshold %.3f\n",
			    100 * json_number_value(json_object_get(fig,
			    "eer")), json_number_value(json_object_get(fig,
			    "threshold_at_eer")));
			json_array_foreach(json_object_get(fig, "at_far"), r,
			    row)
				printf("  FAR %-6g %%  FRR %5.2f %% at threshold "
				    "%.3f%s\n", 100 * json_number_value(
				    json_object_get(row, "far")), 100 *
				    json_number_value(json_object_get(row,
				    "frr")), json_number_value(json_object_get(
				    row, "threshold")), json_is_false(
				    json_object_get(row, "measurable")) ?
				    " (not measurable: too few impostor "
				    "scores)" : "");
		}
		json_decref(os);
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
	    dt_file_create(argv[optind + 1], sm->bytes, sm->n_bytes, 0644,
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
		    "import MODEL.safetensors [--activate] [--id ID] "
		    "[--release-key PUB] [--require-signed]" },
		{ "list", model_list, "list [--json]" },
		{ "show", model_show, "show ID [--json]" },
		{ "activate", model_activate, "activate ID [--dry-run] "
		    "[--force]" },
		{ "export", model_export, "export ID FILE" },
		{ "keygen", model_keygen, "keygen --key-out FILE" },
		{ "sign", model_sign, "sign MODEL.safetensors --key FILE "
		    "[--signature SIG]" },
	};

	return adm_dispatch(ctx, "model", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}

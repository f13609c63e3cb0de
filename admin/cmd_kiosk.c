/*
 * admin/cmd_kiosk.c — `dt4ecg-admin kiosk add|list|revoke`.
 *
 * `kiosk add` generates the kiosk's Ed25519 key pair with libsodium, writes
 * the 64-byte secret key (seed || public key, as libsodium stores it),
 * base64 on one line, to a new file of mode 0600 (never overwriting one),
 * and stores the public key.  The secret key exists only in that file.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "admin/common.h"
#include "store/guard.h"

#define PK_B64_LEN sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, \
    sodium_base64_VARIANT_ORIGINAL)
#define SK_B64_LEN sodium_base64_ENCODED_LEN(crypto_sign_SECRETKEYBYTES, \
    sodium_base64_VARIANT_ORIGINAL)

static const char add_usage[] =
    "usage: dt4ecg-admin --db STORE kiosk add KIOSK_ID --key-out FILE\n"
    "  Registers a kiosk: generates its Ed25519 key pair, writes the secret\n"
    "  key (base64, one line) to FILE with mode 0600 (FILE must not exist)\n"
    "  and stores the public key.  Copy FILE to the kiosk; it is the only\n"
    "  copy.  KIOSK_ID: 1-64 characters of A-Z a-z 0-9 . _ @ : -\n";
static const char list_usage[] =
    "usage: dt4ecg-admin --db STORE kiosk list [--json]\n"
    "  Lists the registered kiosks, active and revoked, with their failed\n"
    "  decisions in a row and, when dt4ecgd locked one after\n"
    "  kiosk_lockout_failures of them, until when.\n";
static const char revoke_usage[] =
    "usage: dt4ecg-admin --db STORE kiosk revoke KIOSK_ID\n"
    "  Revokes a kiosk: dt4ecgd refuses its requests from then on (401).\n"
    "  Irreversible; register the kiosk again under a new id.\n";

struct kiosk_opts {
	int json;
	const char *key_out;
};

static const struct adm_opt opts[] = {
	ADM_OPT_FLAG("json", 'j', struct kiosk_opts, json),
	ADM_OPT_STR("key-out", 'o', struct kiosk_opts, key_out),
	ADM_OPT_END,
};
static const struct adm_options options = { "kiosk", opts, NULL };

static int
kiosk_add(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct store_kiosk k;
	struct store *s = NULL;
	struct kiosk_opts o = { 0 };
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], *sk = NULL;
	char *line = NULL, pkb64[PK_B64_LEN];
	const char *id, *key_out;
	size_t len;
	int rc, wrote = 0;

	if ((rc = adm_opts(argc, argv, &options, add_usage, "o", &o, 1,
	    1)) >= 0)
		return rc;
	if ((key_out = o.key_out) == NULL) {
		fputs(add_usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	id = argv[optind];
	if (adm_open(ctx, "kiosk add", NULL, ADM_KEY_REQUIRED, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	/* refuse early, before a key file is written */
	if (store_kiosk_get(s, id, &k, &err) == 0) {
		adm_errx("kiosk add", "kiosk %s already exists%s", id,
		    k.revoked_at ? " (revoked; choose a new id)" : "");
		goto out;
	}
	if (err.code != DT_E_NOTFOUND)
		goto fail;
	sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	line = sodium_malloc(SK_B64_LEN + 1);
	if (sk == NULL || line == NULL) {
		dt_error_set(&err, DT_E_NOMEM, "out of memory");
		goto fail;
	}
	crypto_sign_keypair(pk, sk);
	sodium_bin2base64(line, SK_B64_LEN, sk, crypto_sign_SECRETKEYBYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	len = strlen(line);
	line[len++] = '\n';
	if (dt_file_create(key_out, line, len, 0600, &err) != 0)
		goto fail;
	wrote = 1;
	if (store_kiosk_add(s, id, pk, &err) != 0)
		goto fail;
	sodium_bin2base64(pkb64, sizeof(pkb64), pk, sizeof(pk),
	    sodium_base64_VARIANT_ORIGINAL);
	printf("kiosk %s added; secret key written to %s (mode 0600)\n"
	    "public key (ed25519, base64): %s\n", id, key_out, pkb64);
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	adm_error("kiosk add", &err);
	if (wrote)
		unlink(key_out);
out:
	sodium_free(sk);
	sodium_free(line);
	store_close(s);
	return rc;
}

static struct store *list_store;	/* for the lock state of each row */

/* "refused": the row fails its MAC (added or changed outside dt4ecg), so
 * dt4ecgd answers 401 to it whatever the row says; "locked": after too
 * many failed decisions. */
static const char *
status(const struct store_kiosk *k, bool locked)
{
	if (k->row_ok == 0)
		return "refused";
	return k->revoked_at ? "revoked" : locked ? "locked" : "active";
}

static int
list_one(void *vctx, const struct store_kiosk *k)
{
	struct dt_error err = { 0 };
	struct adm_list *l = vctx;
	struct store_kiosk_guard kg = { 0 };
	char pk[PK_B64_LEN], t1[32], t2[32], t3[32];
	bool locked;

	if (store_kiosk_guard_get(list_store, k->id, &kg, &err) != 0)
		return -1;
	locked = kg.locked_until > (int64_t)time(NULL);
	sodium_bin2base64(pk, sizeof(pk), k->public_key, sizeof(k->public_key),
	    sodium_base64_VARIANT_ORIGINAL);
	l->n++;
	if (l->json)
		return json_array_append_new(l->arr, json_pack("{s:s, s:s, s:s, "
		    "s:I, s:o, s:i, s:o}", "id", k->id, "status",
		    status(k, locked),
		    "public_key", pk, "created", (json_int_t)k->created,
		    "revoked_at", k->revoked_at ?
		    json_integer(k->revoked_at) : json_null(),
		    "failed_decisions", (int)kg.fails, "locked_until", locked ?
		    json_integer(kg.locked_until) : json_null())) ? -1 : 0;
	if (l->n == 1)
		printf("%-24s %-8s %-20s %-20s %5s %-20s %s\n", "KIOSK",
		    "STATUS", "CREATED", "REVOKED", "FAILS", "LOCKED UNTIL",
		    "PUBLIC KEY");
	printf("%-24s %-8s %-20s %-20s %5u %-20s %s\n", k->id,
	    status(k, locked),
	    adm_time(k->created, t1, sizeof(t1)),
	    adm_time(k->revoked_at, t2, sizeof(t2)), kg.fails,
	    adm_time(locked ? kg.locked_until : 0, t3, sizeof(t3)), pk);
	return 0;
}

static int
list_rows(struct store *s, struct adm_list *l, struct dt_error *err)
{
	list_store = s;
	return store_kiosk_list(s, list_one, l, err);
}

static void
list_empty(const char *db)
{
	printf("no kiosks (register one with: dt4ecg-admin --db %s "
	    "kiosk add KIOSK_ID --key-out FILE)\n", db);
}

static int
kiosk_list(struct admin_ctx *ctx, int argc, char **argv)
{
	struct kiosk_opts o = { 0 };
	int rc;

	if ((rc = adm_opts(argc, argv, &options, list_usage, "j", &o, 0,
	    0)) >= 0)
		return rc;
	return adm_list(ctx, "kiosk list", o.json, list_rows, list_empty);
}

static int
kiosk_revoke(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct kiosk_opts o = { 0 };
	struct store *s = NULL;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, revoke_usage, "", &o, 1,
	    1)) >= 0)
		return rc;
	if (adm_open(ctx, "kiosk revoke", NULL, ADM_KEY_REQUIRED, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	if (store_kiosk_revoke(s, argv[optind], &err) != 0) {
		adm_error("kiosk revoke", &err);
		rc = ADMIN_EXIT_FAIL;
	} else {
		printf("kiosk %s revoked\n", argv[optind]);
		rc = ADMIN_EXIT_OK;
	}
	store_close(s);
	return rc;
}

int
cmd_kiosk(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct adm_sub subs[] = {
		{ "add", kiosk_add, "add KIOSK_ID --key-out FILE" },
		{ "list", kiosk_list, "list [--json]" },
		{ "revoke", kiosk_revoke, "revoke KIOSK_ID" },
	};

	return adm_dispatch(ctx, "kiosk", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}

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
#include <unistd.h>

#include <sodium.h>

#include "admin/common.h"

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
    "  Lists the registered kiosks, active and revoked.\n";
static const char revoke_usage[] =
    "usage: dt4ecg-admin --db STORE kiosk revoke KIOSK_ID\n"
    "  Revokes a kiosk: dt4ecgd refuses its requests from then on (401).\n"
    "  Irreversible; register the kiosk again under a new id.\n";

/* --help / --json only.  Returns -1 to go on, else an exit status. */
static int
opts(int argc, char **argv, const char *usage_text, int *json,
    const char **key_out)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "key-out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			if (json == NULL)
				goto usage;
			*json = 1;
			break;
		case 'o':
			if (key_out == NULL)
				goto usage;
			*key_out = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return ADMIN_EXIT_OK;
		default:
			goto usage;
		}
	}
	return -1;
usage:
	fputs(usage_text, stderr);
	return ADMIN_EXIT_USAGE;
}

static int
kiosk_add(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct store_kiosk k;
	struct store *s = NULL;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], *sk = NULL;
	char *line = NULL, pkb64[PK_B64_LEN];
	const char *id, *key_out = NULL;
	size_t len;
	int rc, wrote = 0;

	if ((rc = opts(argc, argv, add_usage, NULL, &key_out)) >= 0)
		return rc;
	if (optind + 1 != argc || key_out == NULL) {
		fputs(add_usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	id = argv[optind];
	if (adm_open(ctx, "kiosk add", NULL, ADM_KEY_NONE, 0, &s) != 0)
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
	if (adm_write_new_file(key_out, 0600, line, len, &err) != 0)
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

struct list_ctx {
	int json;
	json_t *arr;
	int n;
};

static int
list_one(void *vctx, const struct store_kiosk *k)
{
	struct list_ctx *c = vctx;
	char pk[PK_B64_LEN], t1[32], t2[32];

	sodium_bin2base64(pk, sizeof(pk), k->public_key, sizeof(k->public_key),
	    sodium_base64_VARIANT_ORIGINAL);
	c->n++;
	if (c->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:o}", "id", k->id,
		    "status", k->revoked_at ? "revoked" : "active",
		    "public_key", pk, "created", (json_int_t)k->created,
		    "revoked_at", k->revoked_at ?
		    json_integer(k->revoked_at) : json_null());

		if (o == NULL || json_array_append_new(c->arr, o) != 0)
			return -1;
		return 0;
	}
	if (c->n == 1)
		printf("%-24s %-8s %-20s %-20s %s\n", "KIOSK", "STATUS",
		    "CREATED", "REVOKED", "PUBLIC KEY");
	printf("%-24s %-8s %-20s %-20s %s\n", k->id,
	    k->revoked_at ? "revoked" : "active",
	    adm_time(k->created, t1, sizeof(t1)),
	    adm_time(k->revoked_at, t2, sizeof(t2)), pk);
	return 0;
}

static int
kiosk_list(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct list_ctx c = { 0 };
	struct store *s = NULL;
	int rc;

	if ((rc = opts(argc, argv, list_usage, &c.json, NULL)) >= 0)
		return rc;
	if (optind != argc) {
		fputs(list_usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (adm_open(ctx, "kiosk list", NULL, ADM_KEY_NONE, 0, &s) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	if (c.json && (c.arr = json_array()) == NULL)
		goto out;
	if (store_kiosk_list(s, list_one, &c, &err) != 0) {
		if (err.msg[0] == '\0')
			dt_error_set(&err, DT_E_NOMEM, "out of memory");
		adm_error("kiosk list", &err);
		goto out;
	}
	if (c.json) {
		if (adm_json_print(c.arr) != 0) {
			c.arr = NULL;
			goto out;
		}
		c.arr = NULL;
	} else if (c.n == 0)
		printf("no kiosks (register one with: dt4ecg-admin --db %s "
		    "kiosk add KIOSK_ID --key-out FILE)\n", ctx->db);
	rc = adm_flush_stdout("kiosk list") ? ADMIN_EXIT_FAIL : ADMIN_EXIT_OK;
out:
	json_decref(c.arr);
	store_close(s);
	return rc;
}

static int
kiosk_revoke(struct admin_ctx *ctx, int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct store *s = NULL;
	int rc;

	if ((rc = opts(argc, argv, revoke_usage, NULL, NULL)) >= 0)
		return rc;
	if (optind + 1 != argc) {
		fputs(revoke_usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (adm_open(ctx, "kiosk revoke", NULL, ADM_KEY_NONE, 0, &s) != 0)
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

	if (sodium_init() < 0) {
		adm_errx("kiosk", "libsodium cannot be initialised");
		return ADMIN_EXIT_FAIL;
	}
	return adm_dispatch(ctx, "kiosk", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}

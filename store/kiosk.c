/* store/kiosk.c — kiosks and their public keys; revocation is
 * irreversible.  See store.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/text.h"

/* ---- kiosks ------------------------------------------------------------- */

int
store_kiosk_add(struct store *s, const char *id, const uint8_t pk[32],
    struct dt_error *err)
{
	struct sdb_stmt *st = NULL;
	char hex[65], detail[96];
	int rc = -1;

	if (store_check_id("kiosk", id, err) == -1)
		return -1;
	if (store_tx_begin(s, err) == -1)
		return -1;
	if (store_prepare(s, "INSERT INTO kiosks(id, public_key, created) "
	    "VALUES (?, ?, ?)", &st, err) == -1)
		goto out;
	sdb_bind_text(st, 1, id);
	sdb_bind_blob(st, 2, pk, 32);
	sdb_bind_int64(st, 3, store_now());
	if (store_step_insert(s, st, "kiosk", id, err) ||
	    store_rowmac_kiosk_update(s, id, err))
		goto out;
	sodium_bin2hex(hex, sizeof(hex), pk, 32);
	snprintf(detail, sizeof(detail), "{\"public_key\":\"%s\"}", hex);
	rc = store_audit_append_tx(s, s->actor, "kiosk.add", id, detail, err);
out:
	sdb_finalize(st);
	return store_op_end(s, rc, err);
}

static void
kiosk_row(struct store *s, struct sdb_stmt *st, struct store_kiosk *k)
{
	memset(k, 0, sizeof(*k));
	store_copy_text(k->id, sizeof(k->id), sdb_column_text(st, 0));
	if (sdb_column_bytes(st, 1) == 32)
		memcpy(k->public_key, sdb_column_blob(st, 1), 32);
	k->created = sdb_column_int64(st, 2);
	k->revoked_at = sdb_column_int64(st, 3);
	k->row_ok = store_rowmac_kiosk_ok(s, k, sdb_column_blob(st, 4),
	    sdb_column_bytes(st, 4));
}

int
store_kiosk_get(struct store *s, const char *id, struct store_kiosk *out,
    struct dt_error *err)
{
	struct sdb_stmt *st;

	if (store_check_id("kiosk", id, err) == -1 ||
	    store_get_row(s, "SELECT id, public_key, created, revoked_at, mac FROM "
	    "kiosks WHERE id = ?", "kiosk", id, &st, err) == -1)
		return -1;
	kiosk_row(s, st, out);
	sdb_finalize(st);
	if (out->row_ok == 0)
		return dt_error_set(err, DT_E_CRYPTO, "kiosk %s: the row does "
		    "not authenticate under the store key (added or changed "
		    "outside dt4ecg?): refused", id);
	return 0;
}

int
store_kiosk_revoke(struct store *s, const char *id, struct dt_error *err)
{
	struct store_kiosk k;
	struct sdb_stmt *st = NULL;
	int rc = -1;

	if (store_tx_begin(s, err) == -1)
		return -1;
	if (store_kiosk_get(s, id, &k, err) == -1)
		goto out;
	if (k.revoked_at != 0) {
		dt_error_set(err, DT_E_INVALID, "kiosk %s is already revoked", id);
		goto out;
	}
	if (store_prepare(s, "UPDATE kiosks SET revoked_at = ? WHERE id = ?",
	    &st, err) == -1)
		goto out;
	sdb_bind_int64(st, 1, store_now() > 0 ? store_now() : 1);
	sdb_bind_text(st, 2, id);
	if (store_step_done(s, st, "kiosk revoke", err) == -1 ||
	    store_rowmac_kiosk_update(s, id, err) == -1)
		goto out;
	rc = store_audit_append_tx(s, s->actor, "kiosk.revoke", id, NULL, err);
out:
	sdb_finalize(st);
	return store_op_end(s, rc, err);
}

int
store_kiosk_list(struct store *s, store_kiosk_fn fn, void *ctx,
    struct dt_error *err)
{
	struct store_kiosk k;
	struct sdb_stmt *st;
	int rc = 0, q;

	if (store_prepare(s, "SELECT id, public_key, created, revoked_at, mac "
	    "FROM kiosks ORDER BY id", &st, err) == -1)
		return -1;
	while ((q = sdb_step(st)) == SDB_ROW) {
		kiosk_row(s, st, &k);
		if ((rc = fn(ctx, &k)) != 0)
			break;
	}
	return store_rows_end(s, st, rc, q, "kiosk list", err);
}


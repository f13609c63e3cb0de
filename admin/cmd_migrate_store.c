/*
 * admin/cmd_migrate_store.c — `dt4ecg-admin migrate-store --from STORE
 * --to STORE`: copies a store to another backend (a gym's SQLite file into
 * a chain's PostgreSQL, issue 15) and verifies the copy: the same row
 * count in every table, every sealed recording and template opens under
 * the key, and the copied audit chain verifies and ends at the source's
 * head.  The key is the source's (--key-file, $DT4ECG_KEY_FILE, FROM.key)
 * and stays the key of the copy.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "admin/common.h"

struct mopts {
	const char *from, *to, *key_file;
};

static const struct adm_opt opts[] = {
	ADM_OPT_STR("from", 'f', struct mopts, from),
	ADM_OPT_STR("to", 't', struct mopts, to),
	ADM_OPT_STR("key-file", 'k', struct mopts, key_file),
	ADM_OPT_END
};
static const struct adm_options options = { "migrate-store", opts, NULL };

static const char usage[] =
    "usage: dt4ecg-admin migrate-store --from STORE --to STORE "
    "[--key-file FILE]\n"
    "  Copies every row of the store FROM (say gym.db) into the new, empty\n"
    "  store TO (say postgresql://dt4ecg@db.example/dt4ecg), keeping row\n"
    "  ids, sealed rows and the audit chain byte for byte, in one\n"
    "  transaction; then checks the copy: row counts, every recording and\n"
    "  template opens under the key, the chain verifies and ends where\n"
    "  FROM's does.  The key (--key-file, $DT4ECG_KEY_FILE or FROM.key)\n"
    "  stays the copy's key.  Stop dt4ecgd on FROM first.\n";

int
cmd_migrate_store(struct admin_ctx *ctx, int argc, char **argv)
{
	struct mopts o = { NULL, NULL, NULL };
	struct admin_ctx sctx = *ctx;
	struct store_copy_report r;
	struct store_audit_anchor ha, hb;
	struct dt_error err = { 0 };
	struct store *src = NULL, *dst = NULL;
	int64_t bad = -1, n = 0, rec = 0, tpl = 0, rec2 = 0, tpl2 = 0, c;
	char sql[96];
	size_t i;
	int rc;

	if ((rc = adm_opts(argc, argv, &options, usage, "ftk", &o, 0, 0)) >= 0)
		return rc;
	if (o.from == NULL || o.to == NULL) {
		fputs(usage, stderr);
		return ADMIN_EXIT_USAGE;
	}
	sctx.db = o.from;
	if (adm_open(&sctx, "migrate-store", o.key_file, ADM_KEY_REQUIRED, 0,
	    &src) != 0)
		return ADMIN_EXIT_FAIL;
	rc = ADMIN_EXIT_FAIL;
	if (store_open(o.to, store_key(src), STORE_CREATE, &dst, &err) != 0)
		goto fail;
	store_set_actor(dst, adm_actor());
	/* the source as it is, before a byte moves */
	if (store_audit_verify(src, &bad, &n, &err) != 0)
		goto fail;
	if (bad != 0) {
		dt_error_set(&err, DT_E_CRYPTO, "%s: the audit chain breaks at "
		    "entry %lld: not copying a store whose log does not verify",
		    o.from, (long long)bad);
		goto fail;
	}
	if (store_audit_head(src, &ha, &err) != 0 ||
	    store_open_all(src, &rec, &tpl, &err) != 0)
		goto fail;
	if (store_copy(src, dst, &r, &err) != 0)
		goto fail;
	/* the copy, checked on its own backend */
	for (i = 0; i < r.ntables; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s",
		    r.table[i]);
		if (store_sql(dst, sql, &c, &err) != 0)
			goto fail;
		if (c != r.rows[i]) {
			dt_error_set(&err, DT_E_INTERNAL, "%s: table %s has %lld "
			    "rows, %lld were copied", o.to, r.table[i],
			    (long long)c, (long long)r.rows[i]);
			goto fail;
		}
	}
	if (store_open_all(dst, &rec2, &tpl2, &err) != 0)
		goto fail;
	if (rec2 != rec || tpl2 != tpl) {
		dt_error_set(&err, DT_E_INTERNAL, "%s: %lld recordings and %lld "
		    "templates open, the source has %lld and %lld", o.to,
		    (long long)rec2, (long long)tpl2, (long long)rec,
		    (long long)tpl);
		goto fail;
	}
	if (store_audit_verify(dst, &bad, &n, &err) != 0 ||
	    store_audit_head(dst, &hb, &err) != 0)
		goto fail;
	if (bad != 0 || hb.count != ha.count ||
	    sodium_memcmp(hb.head, ha.head, sizeof(ha.head)) != 0) {
		dt_error_set(&err, DT_E_CRYPTO, "%s: the copied audit chain does "
		    "not verify (first bad entry %lld) or does not end where "
		    "%s's does", o.to, (long long)bad, o.from);
		goto fail;
	}
	for (i = 0; i < r.ntables; i++)
		printf("%-16s %lld rows\n", r.table[i], (long long)r.rows[i]);
	printf("copied %s to %s: %lld recordings and %lld templates open, "
	    "audit chain of %lld entries verifies, same head\n", o.from,
	    store_is_pg(dst) ? "the PostgreSQL store" : o.to, (long long)rec2,
	    (long long)tpl2, (long long)n);
	if (store_audit_append(dst, adm_actor(), "store.migrate_store", NULL,
	    NULL, &err) != 0)
		goto fail;
	rc = ADMIN_EXIT_OK;
	goto out;
fail:
	adm_error("migrate-store", &err);
out:
	store_close(dst);
	store_close(src);
	return rc;
}

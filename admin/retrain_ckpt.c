/*
 * admin/retrain_ckpt.c — retrain's crash-consistent checkpoint (see
 * retrain_ckpt.h for the protocol).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "admin/retrain_ckpt.h"
#include "util/file.h"

#define CK_NAME_MAX 4200
#define CK_BEST_MAX ((size_t)1 << 32)	/* a model (nn/model.c's cap) */
#define HASH_HEX (crypto_generichash_BYTES * 2 + 1)

struct names {
	char loop[CK_NAME_MAX], loop_new[CK_NAME_MAX];
	char best[CK_NAME_MAX], best_new[CK_NAME_MAX];
};

static int
names_of(const char *file, struct names *n, struct dt_error *err)
{
	if ((size_t)snprintf(n->loop, sizeof(n->loop), "%s.loop.json", file) >=
	    sizeof(n->loop) ||
	    (size_t)snprintf(n->loop_new, sizeof(n->loop_new),
	    "%s.loop.json.new", file) >= sizeof(n->loop_new) ||
	    (size_t)snprintf(n->best, sizeof(n->best), "%s.best.safetensors",
	    file) >= sizeof(n->best) ||
	    (size_t)snprintf(n->best_new, sizeof(n->best_new),
	    "%s.best.safetensors.new", file) >= sizeof(n->best_new))
		return dt_error_set(err, DT_E_INVALID, "%s: name too long",
		    file);
	return 0;
}

static void
hash_hex(const void *buf, size_t len, char hex[HASH_HEX])
{
	unsigned char h[crypto_generichash_BYTES];

	crypto_generichash(h, sizeof(h), buf, len, NULL, 0);
	sodium_bin2hex(hex, HASH_HEX, h, sizeof(h));
}

int
rt_ckpt_save(const char *file, const struct nn_trainer *t,
    const struct rt_loop *l, const void *best_buf, size_t best_len,
    int best_changed, struct dt_error *err)
{
	struct names n;
	char hex[HASH_HEX];
	json_t *o = NULL;
	char *text = NULL;
	int rc = -1;

	if (names_of(file, &n, err) != 0)
		return -1;
	/* leftovers of a save killed before its commit point */
	(void)unlink(n.loop_new);
	(void)unlink(n.best_new);
	if ((o = json_object()) == NULL)
		goto nomem;
	if (best_buf != NULL)
		hash_hex(best_buf, best_len, hex);
	if (json_object_set_new(o, "epoch", json_integer(l->epoch)) != 0 ||
	    json_object_set_new(o, "step",
	    json_integer((json_int_t)nn_trainer_steps(t))) != 0 ||
	    json_object_set_new(o, "rng", json_integer((json_int_t)l->rng.s)) !=
	    0 || json_object_set(o, "curves", l->curves) != 0 ||
	    json_object_set_new(o, "best", json_real(l->best)) != 0 ||
	    json_object_set_new(o, "best_epoch",
	    json_integer(l->best_epoch)) != 0 ||
	    json_object_set_new(o, "bad_epochs",
	    json_integer(l->bad_epochs)) != 0 ||
	    json_object_set_new(o, "best_hash", best_buf != NULL ?
	    json_string(hex) : json_null()) != 0 ||
	    (text = json_dumps(o, JSON_COMPACT)) == NULL)
		goto nomem;
	/* 1. the new best weights and loop state beside the old ones */
	if (best_buf != NULL && best_changed &&
	    dt_file_replace(n.best_new, best_buf, best_len, 0600, err) != 0)
		goto out;
	if (dt_file_replace(n.loop_new, text, strlen(text), 0600, err) != 0)
		goto out;
	/* 2. the commit point: the trainer state, replaced atomically */
	if (nn_trainer_save_state(t, file, err) != 0)
		goto out;
	/* 3. into place; a kill here is completed by rt_ckpt_load */
	if (best_buf != NULL && best_changed && rename(n.best_new, n.best) !=
	    0) {
		dt_error_set(err, DT_E_IO, "%s: rename: %s", n.best,
		    strerror(errno));
		goto out;
	}
	if (rename(n.loop_new, n.loop) != 0) {
		dt_error_set(err, DT_E_IO, "%s: rename: %s", n.loop,
		    strerror(errno));
		goto out;
	}
	rc = dt_file_sync_dir(file, err);
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "%s: out of memory", n.loop);
out:
	free(text);
	json_decref(o);
	return rc;
}

/* KEY of O as an integer in [LO, HI]. */
static int
get_int(json_t *o, const char *key, json_int_t lo, json_int_t hi,
    json_int_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/*
 * Parses loop state file PATH into *L, checking every key; *STEP and HEX
 * (empty when best_epoch is 0) tell which trainer state and best weights
 * it belongs to.  DT_E_NOTFOUND when the file is not there.
 */
static int
read_loop(const char *path, struct rt_loop *l, int64_t *step,
    char hex[HASH_HEX], struct dt_error *err)
{
	json_error_t je;
	json_t *o, *v;
	json_int_t x;
	const char *bad, *h;
	int rc = -1;

	memset(l, 0, sizeof(*l));
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return dt_error_set(err, DT_E_NOTFOUND, "%s: no such file",
		    path);
	if ((o = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return dt_error_set(err, DT_E_FORMAT, "%s: %s", path, je.text);
	bad = "(the whole file)";
	if (!json_is_object(o))
		goto bad;
	bad = "epoch";
	if (get_int(o, "epoch", 1, INT_MAX, &x) != 0)
		goto bad;
	l->epoch = (int)x;
	bad = "step";
	if (get_int(o, "step", 0, INT64_MAX, &x) != 0)
		goto bad;
	*step = x;
	bad = "rng";
	if (get_int(o, "rng", INT64_MIN, INT64_MAX, &x) != 0)
		goto bad;
	l->rng.s = (uint64_t)x;
	bad = "curves";
	v = json_object_get(o, "curves");
	if (!json_is_array(v) || json_array_size(v) != (size_t)l->epoch)
		goto bad;
	bad = "best";
	if (!json_is_number(v = json_object_get(o, "best")))
		goto bad;
	l->best = json_number_value(v);
	bad = "best_epoch";
	if (get_int(o, "best_epoch", 0, l->epoch, &x) != 0)
		goto bad;
	l->best_epoch = (int)x;
	bad = "bad_epochs";
	if (get_int(o, "bad_epochs", 0, l->epoch, &x) != 0)
		goto bad;
	l->bad_epochs = (int)x;
	bad = "best_hash";
	v = json_object_get(o, "best_hash");
	h = json_string_value(v);
	if (l->best_epoch > 0 ? h == NULL || strlen(h) != HASH_HEX - 1 ||
	    strspn(h, "0123456789abcdef") != HASH_HEX - 1 : !json_is_null(v))
		goto bad;
	snprintf(hex, HASH_HEX, "%s", h != NULL ? h : "");
	l->curves = json_incref(json_object_get(o, "curves"));
	rc = 0;
	goto out;
bad:
	dt_error_set(err, DT_E_FORMAT, "%s: missing or bad \"%s\"", path,
	    bad);
out:
	json_decref(o);
	return rc;
}

/* Reads best weights file PATH if its hash is HEX: 1 it is, 0 it is not
 * (or the file is missing), -1 an error. */
static int
read_best(const char *path, const char *hex, void **buf, size_t *len,
    struct dt_error *err)
{
	struct dt_error e2;
	char got[HASH_HEX], *b = NULL;
	size_t n = 0;

	if (dt_file_read(path, CK_BEST_MAX, NULL, &b, &n, NULL, &e2) != 0) {
		if (access(path, F_OK) != 0 && errno == ENOENT)
			return 0;
		if (err != NULL)
			*err = e2;
		return -1;
	}
	hash_hex(b, n, got);
	if (strcmp(got, hex) != 0) {
		free(b);
		return 0;
	}
	*buf = b;
	*len = n;
	return 1;
}

int
rt_ckpt_load(const char *file, struct nn_trainer *t, struct rt_loop *l,
    void **best_buf, size_t *best_len, struct dt_error *err)
{
	struct names n;
	struct rt_loop nl;
	struct dt_error e2;
	char hex[HASH_HEX] = "", nhex[HASH_HEX] = "";
	int64_t step = -1, nstep = -1, want;
	int r;

	*best_buf = NULL;
	*best_len = 0;
	memset(l, 0, sizeof(*l));
	memset(&nl, 0, sizeof(nl));
	if (names_of(file, &n, err) != 0 ||
	    nn_trainer_load_state(t, file, err) != 0)
		return -1;
	want = nn_trainer_steps(t);
	/* the loop state of this trainer state: FILE.loop.json, or the one a
	 * save killed after its commit point left beside it */
	if (read_loop(n.loop, l, &step, hex, &e2) != 0) {
		if (e2.code != DT_E_NOTFOUND) {
			if (err != NULL)
				*err = e2;
			return -1;
		}
		step = -1;
	}
	if (step != want) {
		if (read_loop(n.loop_new, &nl, &nstep, nhex, &e2) != 0 ||
		    nstep != want) {
			json_decref(nl.curves);
			if (step < 0)
				dt_error_set(err, DT_E_FORMAT, "%s: missing "
				    "(the loop state of trainer state %s, "
				    "step %lld)", n.loop, file,
				    (long long)want);
			else
				dt_error_set(err, DT_E_FORMAT, "%s: the loop "
				    "state of step %lld, trainer state %s of "
				    "step %lld (not one checkpoint)", n.loop,
				    (long long)step, file, (long long)want);
			goto fail;
		}
		json_decref(l->curves);
		*l = nl;
		memcpy(hex, nhex, sizeof(hex));
		/* complete the interrupted save: its best weights (when it
		 * wrote new ones), then its loop state */
		if (l->best_epoch > 0) {
			if ((r = read_best(n.best_new, hex, best_buf, best_len,
			    err)) < 0)
				goto fail;
			if (r == 1 && rename(n.best_new, n.best) != 0) {
				dt_error_set(err, DT_E_IO, "%s: rename: %s",
				    n.best, strerror(errno));
				goto fail;
			}
		}
		if (rename(n.loop_new, n.loop) != 0) {
			dt_error_set(err, DT_E_IO, "%s: rename: %s", n.loop,
			    strerror(errno));
			goto fail;
		}
		if (dt_file_sync_dir(file, err) != 0)
			goto fail;
	}
	if (l->best_epoch > 0 && *best_buf == NULL) {
		if ((r = read_best(n.best, hex, best_buf, best_len, err)) < 0)
			goto fail;
		if (r == 0) {
			dt_error_set(err, DT_E_FORMAT, "%s: not the best "
			    "weights that %s names (not one checkpoint)",
			    n.best, n.loop);
			goto fail;
		}
	}
	return 0;
fail:
	free(*best_buf);
	*best_buf = NULL;
	json_decref(l->curves);
	l->curves = NULL;
	return -1;
}

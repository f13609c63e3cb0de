/*
 * daemon/h_authenticate.c — POST /v1/authenticate (DESIGN.md section 5).
 *
 * Order of the checks, cheapest and least trusting first:
 *   415 Content-Type and 413 size (server.c, before the body is read),
 *   401 RFC 9421 signature, from the headers alone (h_auth_headers, before
 *       any body is read: the signature covers the Content-Digest header):
 *       parse, policy (components, parameters, alg, created within
 *       clock_skew_s), kiosk lookup (unknown or malformed keyid), Ed25519
 *       verification, then revocation (so only the key holder learns it),
 *   401 Content-Digest against the body,
 *   429 per-kiosk token bucket, and a kiosk locked after too many failed
 *       decisions (Retry-After) — before any nonce is stored, so requests
 *       refused here cost the replay cache nothing,
 *   409 replayed nonce: the process-wide cache (each kiosk at most its
 *       share), before any work; the store's record (survives restarts,
 *       shared by replicas) is checked and written with the decision, in
 *       its one write transaction — a nonce accepted by another replica
 *       (or before a restart) answers 409 there, after the network ran,
 *   400 body, ECG longer than max_duration_s,
 *   503 inference queue full (Retry-After), no active model, or the
 *       active model changed between inference and matching,
 *   422 unusable signal,
 *   200 the decision, audited before it is answered (an audit failure
 *       answers 500/503, never an unaudited decision): nonce, audit entry
 *       and an accept's failure-count resets in one write transaction
 *       per batch of requests (group commit).
 * The network runs on the inference queue (daemon/queue.c), never on the
 * libmicrohttpd threads: the connection is suspended meanwhile.
 *
 * Decisions (docs/dt4ecgd.md):
 *   1:N  the best member over all templates of the active model; accept
 *        when its score >= threshold (a NaN score never accepts).
 *   1:1  claimed_user only.  Every 1:1 reject answers the same to the
 *        kiosk: "user": null, "score": null, "reason": "no-match" — whether
 *        the score was below the threshold, the member does not exist, has
 *        no template for the active model, or is locked — so a kiosk (or
 *        whoever holds a stolen kiosk key) cannot learn which ids exist or
 *        are locked.  The network runs first in every case, so the time is
 *        alike too.  The audit entry keeps the precise reason and score.
 *   1:N  rejects say "below-threshold", "no-members" or "member-locked"
 *        (the best match's own lock: it names no one).  Their audit entry
 *        has no subject: the nearest member is kept only as such, by audit
 *        id, in the detail's "nearest_member".
 *   No reject carries a score (no similarity oracle to hill-climb a
 *   forged ECG with); the audit log keeps it.
 * Lockouts, counted in the store after the decision is audited (so the
 * lock's own entry follows the decision's):
 *   after lockout_failures consecutive below-threshold 1:1 rejections of
 *   the same claimed member, that member is locked for lockout_s
 *   (audited once, member.lock; the member row's MAC is updated with the
 *   lock); after kiosk_lockout_failures consecutive failed decisions of a
 *   kiosk (1:N and 1:1 rejects other than a locked member or a member row
 *   that fails its MAC), that kiosk is locked for kiosk_lockout_s
 *   (kiosk.lock).  Only decisions count, i.e. signals that passed the
 *   identity gate: junk answers 422 and counts for nothing.
 * A kiosk row that fails its MAC (added or changed by writing the store
 * file) answers 401 as an unknown kiosk, a member row that fails its MAC
 * (a lock lifted that way) is rejected ("member-row-invalid" in the
 * audit), an active model row that fails its MAC answers 500; each with
 * a log line.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "daemon/body.h"
#include "proto/digest.h"
#include "daemon/dmn.h"
#include "proto/httpsig.h"
#include "daemon/ratelimit.h"
#include "daemon/replay.h"
#include "daemon/verdict.h"
#include "pipeline/embed.h"
#include "store/guard.h"
#include "store/match.h"
#include "store/store.h"
#include "util/log.h"

struct decision {
	bool accept;
	bool has_score;
	float score;
	const char *reason;		/* NULL on accept */
	bool has_user;
	struct store_member user;
	char subject[STORE_ID_MAX + 1];	/* audited member, "" = none */
	char nearest[STORE_ID_MAX + 1];	/* 1:N reject: best match */
	bool one_to_one;
};

static const char *
header(struct dmn_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* The 401 steps from the headers; PROBLEM_OK with the kiosk, nonce and
 * created in R. */
static enum problem_kind
check_signature(struct dmn_req *r, struct store *s, struct dt_error *err)
{
	struct httpsig_sig sig;
	struct httpsig_field field;
	struct httpsig_msg msg;
	struct store_kiosk k;
	const char *cd;
	enum problem_kind pk;

	cd = header(r, "Content-Digest");
	if (cd == NULL) {
		dt_error_set(err, DT_E_INVALID, "no Content-Digest header");
		return PROBLEM_DIGEST_MISSING;
	}
	pk = httpsig_parse(header(r, "Signature-Input"),
	    header(r, "Signature"), HTTPSIG_KIOSK_LABEL, &sig, err);
	if (pk != PROBLEM_OK)
		return pk;
	pk = httpsig_check(&sig.params, &httpsig_kiosk_policy,
	    (int64_t)time(NULL), (int64_t)r->gen->cfg.clock_skew_s, err);
	if (pk != PROBLEM_OK)
		return pk;
	if (store_kiosk_get(s, sig.params.keyid, &k, err) != 0) {
		if (err->code == DT_E_CRYPTO) {
			log_warnx("%s", err->msg);
			return PROBLEM_KIOSK_UNKNOWN;
		}
		/* A malformed keyid is no kiosk either (a 401, not a 500). */
		if (err->code == DT_E_NOTFOUND || err->code == DT_E_INVALID) {
			dt_error_set(err, DT_E_NOTFOUND, "keyid \"%.64s\" is "
			    "not a registered kiosk", sig.params.keyid);
			return PROBLEM_KIOSK_UNKNOWN;
		}
		return err->code == DT_E_BUSY ? PROBLEM_UNAVAILABLE :
		    PROBLEM_INTERNAL;
	}
	field.name = "content-digest";
	field.value = cd;
	msg.method = r->method;
	msg.path = r->path;
	msg.authority = NULL;
	msg.fields = &field;
	msg.nfields = 1;
	if ((pk = httpsig_verify(&msg, &sig, k.public_key, err)) != PROBLEM_OK)
		return pk;
	if (k.revoked_at != 0) {
		dt_error_set(err, DT_E_INVALID, "kiosk \"%s\" was revoked",
		    k.id);
		return PROBLEM_KIOSK_REVOKED;
	}
	snprintf(r->kiosk, sizeof(r->kiosk), "%s", sig.params.keyid);
	snprintf(r->nonce, sizeof(r->nonce), "%s", sig.params.nonce);
	r->created = sig.params.created;
	return PROBLEM_OK;
}

/* 1:N or 1:1 over the match index; fills d.  PROBLEM_OK or an error. */
static enum problem_kind
decide(struct dmn_req *r, struct worker *w, const struct body_auth *b,
    const float *emb, int dim, int64_t now, struct decision *d,
    struct dt_error *err)
{
	struct store *s = worker_store(w);
	struct match_hit hit;
	size_t nhits = 0;
	bool locked = false, exists = true, forged = false;
	float score = 0;
	double thr = r->gen->cfg.threshold;
	int rc;

	memset(d, 0, sizeof(*d));
	if (b->has_claimed_user) {
		d->one_to_one = true;
		snprintf(d->subject, sizeof(d->subject), "%s",
		    b->claimed_user);
		if (store_member_get(s, b->claimed_user, &d->user, err) != 0) {
			if (err->code == DT_E_CRYPTO) {
				/* its lock was changed by writing the file */
				log_warnx("%s", err->msg);
				forged = true;
			} else if (err->code != DT_E_NOTFOUND)
				return problem_from_errc(err->code);
			else
				exists = false;
		} else {
			locked = d->user.locked_until > now;
		}
		/* Compare even when the answer is already known. */
		rc = match_verify_as(r->gen->index, worker_model_id(w),
		    b->claimed_user, emb, dim, &score, err);
		if (rc != 0 && err->code != DT_E_NOTFOUND)
			return err->code == DT_E_INVALID ? PROBLEM_UNAVAILABLE :
			    problem_from_errc(err->code);
		if (!exists) {
			d->reason = "unknown-member";
			d->subject[0] = '\0';	/* not a member id */
		} else if (forged) {
			d->reason = "member-row-invalid";
		} else if (locked) {
			d->reason = "member-locked";
		} else if (rc != 0) {
			d->reason = "not-enrolled";
		} else {
			d->has_score = true;
			d->score = score;
			d->accept = verdict_accepts(score, thr);
			if (!d->accept)
				d->reason = "below-threshold";
		}
		d->has_user = d->accept;
		return PROBLEM_OK;
	}
	if (match_identify_as(r->gen->index, worker_model_id(w), emb, dim, 1,
	    &hit, &nhits, err) != 0) {
		if (err->code == DT_E_NOTFOUND)
			return PROBLEM_NO_MODEL;
		return err->code == DT_E_INVALID ? PROBLEM_UNAVAILABLE :
		    problem_from_errc(err->code);
	}
	if (nhits == 0) {
		d->reason = "no-members";
		return PROBLEM_OK;
	}
	d->has_score = true;
	d->score = hit.score;
	/* a reject names no member: the nearest one only as such */
	snprintf(d->nearest, sizeof(d->nearest), "%s", hit.member);
	if (!verdict_accepts(hit.score, thr)) {	/* NaN: closed */
		d->reason = "below-threshold";
		return PROBLEM_OK;
	}
	if (store_member_get(s, hit.member, &d->user, err) != 0) {
		if (err->code == DT_E_CRYPTO) {
			log_warnx("%s", err->msg);
			d->reason = "member-row-invalid";
			d->has_score = false;
			return PROBLEM_OK;
		}
		if (err->code != DT_E_NOTFOUND)
			return problem_from_errc(err->code);
		d->reason = "unknown-member";	/* erased meanwhile */
		return PROBLEM_OK;
	}
	if (d->user.locked_until > now) {
		d->reason = "member-locked";
		d->has_score = false;
		return PROBLEM_OK;
	}
	d->accept = true;
	d->has_user = true;
	memcpy(d->subject, d->nearest, sizeof(d->subject));
	d->nearest[0] = '\0';
	return PROBLEM_OK;
}

static json_t *
score_json(bool has, float v)
{
	return has && isfinite(v) ? json_real(v) : json_null();
}

static int
reply_decision(struct dmn_req *r, struct worker *w, const char *kiosk,
    const struct decision *d, const struct embed_result *er)
{
	struct dt_error err = { 0 };
	json_t *root = NULL, *scores, *audit = NULL;
	char actor[HTTPSIG_VALUE_MAX + 8], *text = NULL, *adetail = NULL;
	char aid[STORE_AUDIT_ID_MAX];
	int i, best = 0, na = worker_n_activities(w), ret;

	for (i = 1; i < na; i++)
		if (er->activity[i] > er->activity[best])
			best = i;
	if ((scores = json_object()) == NULL)
		goto oom;
	for (i = 0; i < na; i++)
		json_object_set_new(scores, worker_activity_name(w, i),
		    json_real(er->activity[i]));
	root = json_pack("{s:s, s:o, s:o, s:f, s:{s:s, s:f, s:o}, "
	    "s:{s:i, s:i, s:f}, s:{s:s}, s:s}",
	    "decision", d->accept ? "accept" : "reject",
	    "user", d->has_user ?
	    json_pack("{s:s, s:s}", "id", d->user.id, "display_name",
	    d->user.display_name) : json_null(),
	    "score", score_json(d->has_score && d->accept, d->score),
	    "threshold", r->gen->cfg.threshold,
	    "activity", "label", worker_activity_label(w, er->activity),
	    "probability", na > 0 ? (double)er->activity[best] : 0.0,
	    "scores", scores,
	    "quality", "windows_used", er->windows_used,
	    "windows_rejected", er->windows_rejected,
	    "heart_rate_bpm", (double)er->heart_rate_bpm,
	    "model", "id", worker_model_id(w),
	    "request_id", r->request_id);
	if (root == NULL)
		goto encode;
	if (d->reason != NULL)
		json_object_set_new(root, "reason",
		    json_string(d->one_to_one ? "no-match" : d->reason));

	/* The audit entry: never the ECG, never the embedding. */
	audit = json_pack("{s:s, s:s, s:o, s:f, s:s, s:f, s:s, s:i}",
	    "request_id", r->request_id,
	    "mode", d->one_to_one ? "1:1" : "1:N",
	    "score", score_json(d->has_score, d->score),
	    "threshold", r->gen->cfg.threshold,
	    "activity", worker_activity_label(w, er->activity),
	    "activity_p", na > 0 ? (double)er->activity[best] : 0.0,
	    "model", worker_model_id(w),
	    "windows_used", er->windows_used);
	if (audit == NULL)
		goto encode;
	if (d->reason != NULL)
		json_object_set_new(audit, "reason", json_string(d->reason));
	if (d->nearest[0] != '\0' && store_member_audit_id(worker_store(w),
	    d->nearest, aid, NULL) == 0)
		json_object_set_new(audit, "nearest_member", json_string(aid));
	if ((adetail = json_dumps(audit, JSON_COMPACT)) == NULL)
		goto oom;
	snprintf(actor, sizeof(actor), "kiosk:%s", kiosk);
	if (store_audit_append(worker_store(w), actor,
	    d->accept ? "auth.accept" : "auth.reject",
	    d->subject[0] != '\0' ? d->subject : NULL, adetail, &err) != 0) {
		log_warnx("audit: %s", err.msg);
		ret = reply_problem_retry(r, err.code == DT_E_BUSY ?
		    PROBLEM_UNAVAILABLE : PROBLEM_INTERNAL,
		    "the decision could not be audited (store unavailable)",
		    err.code == DT_E_BUSY ? DMN_STORE_RETRY_S : 0);
		goto out;
	}
	if ((text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6)))
	    == NULL)
		goto oom;
	ret = reply_json(r, MHD_HTTP_OK, text, strlen(text));
	goto out;
encode:
	/* json_pack fails on what it cannot encode (e.g. a name that is not
	 * UTF-8), not only when out of memory: say so. */
	log_warnx("authenticate %s: the decision could not be encoded as "
	    "JSON (member %s)", r->request_id, d->subject);
	ret = reply_problem(r, PROBLEM_INTERNAL, "the decision could not be "
	    "encoded (logged with the request id)");
	goto out;
oom:
	ret = reply_problem(r, PROBLEM_INTERNAL, "out of memory");
out:
	free(text);
	free(adetail);
	json_decref(audit);
	json_decref(root);
	return ret;
}

static int
problem_reply(struct dmn_req *r, enum problem_kind pk, struct dt_error *err)
{
	if (pk == PROBLEM_INTERNAL)
		log_warnx("authenticate %s: %s", r->request_id, err->msg);
	else
		log_debug("authenticate %s: %s: %s", r->request_id,
		    problem_slug(pk), err->msg);
	/* a 503 from the store (unreachable, busy) says when to retry */
	return reply_problem_retry(r, pk, pk == PROBLEM_INTERNAL ?
	    "internal error (logged with the request id)" : err->msg,
	    pk == PROBLEM_UNAVAILABLE && err->code == DT_E_BUSY ?
	    DMN_STORE_RETRY_S : 0);
}

/*
 * A request refused after admission (400 body, 422 signal) still used its
 * nonce: it is recorded in the store before the refusal is answered, so
 * its replay is 409 on every replica, as a decided request's is.  0, or
 * -1 with ERR when the store failed (the refusal stands).
 */
static int
nonce_refused(struct dmn_req *r, struct store *s, enum problem_kind *pk,
    struct dt_error *err)
{
	struct dt_error e = { 0 };

	if (store_nonce_use(s, r->kiosk, r->nonce, r->created,
	    (int64_t)time(NULL), (int64_t)r->gen->cfg.clock_skew_s, &e) == 0)
		return 0;
	if (e.code == DT_E_EXISTS || e.code == DT_E_INVALID) {
		*pk = e.code == DT_E_EXISTS ? PROBLEM_REPLAY :
		    PROBLEM_SIG_CREATED;
		*err = e;
		return 0;
	}
	log_warnx("authenticate %s: nonce: %s", r->request_id, e.msg);
	return -1;
}

int
h_auth_headers(struct dmn_req *r)
{
	struct dt_error err = { 0 };
	enum problem_kind pk;
	struct worker *w;
	double t = dmn_now_mono();

	if ((w = worker_self()) == NULL)
		return reply_problem(r, PROBLEM_INTERNAL, "out of memory");
	/* The store connection only: the match index is the inference
	 * thread's business (refreshing it costs a transaction). */
	pk = worker_prepare_store(w, r->gen, &err);
	if (pk == PROBLEM_OK)
		pk = check_signature(r, worker_store(w), &err);
	r->stage[STAGE_SIGNATURE] = dmn_now_mono() - t;
	if (pk != PROBLEM_OK)
		return problem_reply(r, pk, &err);
	r->sig_checked = true;
	return MHD_YES;
}

/* 429 while KIOSK is locked after too many failed decisions. */
static bool
kiosk_locked(struct store *s, const char *kiosk, int64_t now,
    unsigned *retry, struct dt_error *err, enum problem_kind *pk)
{
	struct store_kiosk_guard kg;

	if (store_kiosk_guard_get(s, kiosk, &kg, err) != 0) {
		*pk = problem_from_errc(err->code);
		return true;
	}
	if (kg.locked_until <= now)
		return false;
	*retry = (unsigned)(kg.locked_until - now);
	dt_error_set(err, DT_E_BUSY, "kiosk \"%.64s\" is locked for %u s after "
	    "too many failed decisions", kiosk, *retry);
	*pk = PROBLEM_RATE_LIMITED;
	return true;
}

int
h_authenticate(struct dmn_req *r)
{
	struct dt_error err = { 0 };
	enum problem_kind pk;
	struct worker *w;
	struct store *s;
	unsigned retry = 0;
	int64_t now = (int64_t)time(NULL);
	double t;

	if (!r->sig_checked)	/* h_auth_headers answered already */
		return reply_problem(r, PROBLEM_INTERNAL, "unsigned request");
	if ((w = worker_self()) == NULL)
		return reply_problem(r, PROBLEM_INTERNAL, "out of memory");
	if ((pk = worker_prepare_store(w, r->gen, &err)) != PROBLEM_OK)
		return problem_reply(r, pk, &err);
	s = worker_store(w);
	t = dmn_now_mono();
	r->stage[STAGE_BODY] = t - r->t_body;
	pk = digest_verify(header(r, "Content-Digest"), r->body, r->body_len,
	    &err);
	r->stage[STAGE_DIGEST] = dmn_now_mono() - t;
	if (pk != PROBLEM_OK)
		return problem_reply(r, pk, &err);
	t = dmn_now_mono();
	/* Nothing is stored for a request refused by the rate limit. */
	if (!ratelimit_take(r->gen->rl->rl, r->kiosk, dmn_now_mono(), &retry)) {
		char detail[160];

		snprintf(detail, sizeof(detail), "kiosk \"%.64s\" exceeds %g "
		    "requests/s (burst %g)%s", r->kiosk,
		    r->gen->cfg.rate_per_kiosk, r->gen->cfg.rate_burst,
		    r->gen->cfg.chain_replicas > 1 ? " over the chain" : "");
		return reply_problem_retry(r, PROBLEM_RATE_LIMITED, detail,
		    retry);
	}
	if (kiosk_locked(s, r->kiosk, now, &retry, &err, &pk)) {
		if (pk == PROBLEM_RATE_LIMITED)
			return reply_problem_retry(r, pk, err.msg, retry);
		return problem_reply(r, pk, &err);
	}
	/* This replica's replays, before any work; the store's record of
	 * every replica's nonces is written with the decision (run_group). */
	pk = replay_check(r->gen->replay, r->kiosk, r->nonce,
	    (int64_t)dmn_now_mono(), &err);
	if (pk == PROBLEM_RATE_LIMITED)
		return reply_problem_retry(r, pk, err.msg, 1);
	if (pk != PROBLEM_OK)
		return problem_reply(r, pk, &err);
	r->stage[STAGE_ADMIT] = dmn_now_mono() - t;
	t = dmn_now_mono();
	pk = body_parse(r->body, r->body_len, &r->auth, &err);
	r->stage[STAGE_PARSE] = dmn_now_mono() - t;
	if (pk != PROBLEM_OK) {
		nonce_refused(r, s, &pk, &err);
		return problem_reply(r, pk, &err);
	}
	if ((double)r->auth->nsamples >
	    r->auth->fs_hz * (double)r->gen->cfg.max_duration_s) {
		dt_error_set(&err, DT_E_INVALID, "ecg.samples: %.1f s of ECG, "
		    "at most %u s (max_duration_s)",
		    (double)r->auth->nsamples / r->auth->fs_hz,
		    r->gen->cfg.max_duration_s);
		pk = PROBLEM_BAD_FIELD;
		nonce_refused(r, s, &pk, &err);
		return problem_reply(r, pk, &err);
	}
	return H_AUTH_QUEUE;
}

/* Failure counters after the decision (and its audit entry). */
static void
count_decision(struct dmn_req *r, struct store *s, const struct decision *d,
    int64_t now)
{
	struct dt_error err = { 0 };
	bool locked = false, failed;

	failed = !d->accept && d->reason != NULL &&
	    (strcmp(d->reason, "below-threshold") == 0 ||
	    strcmp(d->reason, "unknown-member") == 0 ||
	    strcmp(d->reason, "not-enrolled") == 0);
	/* an accept's resets were made with its audit entry (run_group) */
	if (d->one_to_one && !d->accept && d->reason != NULL &&
	    strcmp(d->reason, "below-threshold") == 0) {
		if (store_member_fail(s, d->subject, r->kiosk,
		    r->gen->lockout_failures, r->gen->lockout_s, now, &locked,
		    &err) != 0)
			log_warnx("lockout of %s: %s", d->subject, err.msg);
		else if (locked)
			log_info("member %s locked for %u s after %u "
			    "consecutive rejections", d->subject,
			    r->gen->lockout_s, r->gen->lockout_failures);
	}
	if (failed) {
		metrics_kiosk_failure(!d->one_to_one);
		if (store_kiosk_fail(s, r->kiosk,
		    r->gen->cfg.kiosk_lockout_failures,
		    r->gen->cfg.kiosk_lockout_s, now, &locked, &err) != 0) {
			log_warnx("kiosk %s: %s", r->kiosk, err.msg);
		} else if (locked) {
			metrics_kiosk_lock();
			log_warnx("kiosk %s locked for %u s after %u failed "
			    "decisions", r->kiosk, r->gen->cfg.kiosk_lockout_s,
			    r->gen->cfg.kiosk_lockout_failures);
		}
	}
}

/*
 * Templates that follow the member (issue 12 point 9a): an accept at least
 * template_update_margin above the threshold adds the probe's embedding as
 * a template of that member (store_template_adapt: capped, the oldest
 * replaced, never while locked, at most one per interval, audited), in the
 * decision's transaction under a savepoint of its own.  A 1:N accept near
 * the threshold, any reject and a locked member add nothing.
 */
static void
adapt_template(struct dmn_req *r, struct worker *w, struct store *s,
    const struct decision *d, const float *emb, int dim, int64_t now)
{
	const struct cfg *c = &r->gen->cfg;
	struct dt_error err = { 0 };
	char why[128];
	bool added = false;

	if (c->template_updates == 0 || !d->accept || !d->has_user ||
	    !d->has_score || !(d->score >= c->threshold +
	    c->template_update_margin))
		return;
	snprintf(why, sizeof(why), "\"request_id\":\"%s\",\"score\":%.4f",
	    r->request_id, (double)d->score);
	if (store_template_adapt(s, d->user.id, worker_model_id(w), emb, dim,
	    c->template_updates, (int64_t)c->template_update_interval_s, now,
	    why, &added, &err) != 0)
		log_warnx("authenticate %s: template update: %s", r->request_id,
		    err.msg);
	else if (added) {
		metrics_template_update();
		log_info("authenticate %s: the probe became a template of its "
		    "member (score %.3f)", r->request_id, (double)d->score);
	}
}

/* One request of a batch. */
struct item {
	struct dmn_req *r;
	bool live;			/* no reply made yet */
	bool decided;			/* its decision awaits the audit */
	bool nonce_done;		/* checked in the store */
	struct ecg_windows w;
	int off;			/* its first window in the batch */
	struct embed_result er;
	struct decision d;
	int64_t now;
};

static void
item_fail(struct item *it, enum problem_kind pk, struct dt_error *err)
{
	problem_reply(it->r, pk, err);
	it->live = false;
}

/*
 * The requests of one generation: one worker_prepare, each recording
 * preprocessed, all their windows through the network at once, then each
 * decided; the decisions' audit entries in one transaction (group commit),
 * and only once it is committed are they answered 200 — if it fails, every
 * decision of the group answers 503/500 instead, none unaudited.
 */
static void
run_group(struct dmn_req **rs, int n)
{
	struct dt_error err = { 0 };
	struct item *it = NULL;
	struct worker *w;
	struct embedder *e;
	struct store *s;
	const struct nn_model *m;
	enum problem_kind pk;
	float *x = NULL, *emb = NULL, *act = NULL;
	size_t total = 0, win;
	int i, dim = 0, na = 0, ndec = 0;
	double t, tn;

	if ((it = calloc((size_t)n, sizeof(*it))) == NULL) {
		for (i = 0; i < n; i++)
			reply_problem(rs[i], PROBLEM_INTERNAL, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		it[i].r = rs[i];
		it[i].live = true;
	}
	if ((w = worker_self()) == NULL) {
		pk = PROBLEM_INTERNAL;
		dt_error_set(&err, DT_E_NOMEM, "out of memory");
		goto all_fail;
	}
	if ((pk = worker_prepare(w, rs[0]->gen, true, &err)) != PROBLEM_OK)
		goto all_fail;
	e = worker_embedder(w);
	s = worker_store(w);
	m = embedder_model(e);
	win = (size_t)m->hp.window;
	queue_set_geometry(m->hp.fs_hz, m->hp.window);
	dim = worker_embedding_dim(w);
	na = worker_n_activities(w);

	for (i = 0; i < n; i++) {
		const struct body_auth *b = it[i].r->auth;

		t = dmn_now_mono();
		if (embedder_prepare(e, b->samples, b->nsamples, b->fs_hz,
		    &it[i].w, &err) != 0) {
			it[i].r->stage[STAGE_PREPROCESS] = dmn_now_mono() - t;
			item_fail(&it[i], problem_from_errc(err.code), &err);
			continue;
		}
		it[i].r->stage[STAGE_PREPROCESS] = dmn_now_mono() - t;
		it[i].off = (int)total;
		total += (size_t)it[i].w.n;
	}
	if (total > 0) {
		x = malloc(sizeof(float) * total * win);
		emb = malloc(sizeof(float) * total * (size_t)dim);
		act = malloc(sizeof(float) * (total * (size_t)na + 1));
		if (x == NULL || emb == NULL || act == NULL) {
			pk = PROBLEM_INTERNAL;
			dt_error_set(&err, DT_E_NOMEM, "out of memory");
			goto live_fail;
		}
		for (i = 0; i < n; i++)
			if (it[i].live)
				memcpy(x + (size_t)it[i].off * win,
				    it[i].w.data, sizeof(float) *
				    (size_t)it[i].w.n * win);
		t = dmn_now_mono();
		if (embedder_forward(e, x, (int)total, emb, act, &err) != 0) {
			pk = problem_from_errc(err.code);
			goto live_fail;
		}
		tn = dmn_now_mono() - t;
		metrics_windows(total);
	} else
		tn = 0;

	for (i = 0; i < n; i++) {
		struct item *q = &it[i];

		if (!q->live)
			continue;
		q->r->stage[STAGE_NETWORK] = tn;
		metrics_inference(q->r->stage[STAGE_PREPROCESS] + tn);
		q->er.embedding = calloc((size_t)dim, sizeof(float));
		q->er.activity = calloc((size_t)na + 1, sizeof(float));
		if (q->er.embedding == NULL || q->er.activity == NULL) {
			dt_error_set(&err, DT_E_NOMEM, "out of memory");
			item_fail(q, PROBLEM_INTERNAL, &err);
			continue;
		}
		if (embedder_fuse(e, &q->w, emb + (size_t)q->off * dim,
		    act + (size_t)q->off * na, &q->er, &err) != 0) {
			item_fail(q, problem_from_errc(err.code), &err);
			continue;
		}
		if (!verdict_finite(q->er.embedding, dim)) {
			dt_error_set(&err, DT_E_INTERNAL, "model %s gave a "
			    "non-finite embedding: refused",
			    worker_model_id(w));
			item_fail(q, PROBLEM_INTERNAL, &err);
			continue;
		}
		t = dmn_now_mono();
		q->now = (int64_t)time(NULL);
		pk = decide(q->r, w, q->r->auth, q->er.embedding, dim, q->now,
		    &q->d, &err);
		q->r->stage[STAGE_MATCH] = dmn_now_mono() - t;
		if (pk != PROBLEM_OK) {
			item_fail(q, pk, &err);
			continue;
		}
		q->decided = true;
		ndec++;
	}

	/*
	 * One write transaction for the group: each decision's nonce (a
	 * nonce another replica accepted meanwhile answers 409 and is not
	 * decided), then its audit entry; answered 200 only once committed.
	 */
	t = dmn_now_mono();
	if (ndec > 0 && store_begin(s, &err) != 0) {
		log_warnx("audit: %s", err.msg);
		for (i = 0; i < n; i++)
			if (it[i].decided) {
				it[i].decided = false;
				reply_problem(it[i].r, err.code == DT_E_BUSY ?
				    PROBLEM_UNAVAILABLE : PROBLEM_INTERNAL,
				    "the decision could not be audited");
			}
		ndec = 0;
	}
	for (i = 0; i < n; i++) {
		struct item *q = &it[i];

		if (!q->decided)
			continue;
		q->nonce_done = true;
		if (store_nonce_use(s, q->r->kiosk, q->r->nonce,
		    q->r->created, q->now,
		    (int64_t)q->r->gen->cfg.clock_skew_s, &err) != 0) {
			q->decided = false;
			if (err.code == DT_E_EXISTS)
				problem_reply(q->r, PROBLEM_REPLAY, &err);
			else if (err.code == DT_E_INVALID)
				problem_reply(q->r, PROBLEM_SIG_CREATED, &err);
			else
				problem_reply(q->r, problem_from_errc(err.code),
				    &err);
			continue;
		}
		reply_decision(q->r, w, q->r->kiosk, &q->d, &q->er);
		/* an accept clears the kiosk's (and a 1:1 member's) failure
		 * count in the same transaction; a reject's counting, with
		 * the lock it may audit, follows the commit */
		if (!q->d.accept || q->r->resp_status != MHD_HTTP_OK)
			continue;
		if (store_kiosk_fail_reset(s, q->r->kiosk, &err) != 0 ||
		    (q->d.one_to_one && store_member_fail_reset(s,
		    q->d.subject, &err) != 0))
			log_warnx("failure counts of %s: %s", q->r->kiosk,
			    err.msg);
		adapt_template(q->r, w, s, &q->d, q->er.embedding, dim, q->now);
	}
	if (ndec > 0 && store_commit(s, &err) != 0) {
		log_warnx("audit: %s", err.msg);
		for (i = 0; i < n; i++)
			if (it[i].decided &&
			    it[i].r->resp_status == MHD_HTTP_OK)
				reply_problem(it[i].r, err.code == DT_E_BUSY ?
				    PROBLEM_UNAVAILABLE : PROBLEM_INTERNAL,
				    "the decision could not be audited");
	}
	/* the nonces of those refused as 4xx before a decision (422) */
	for (i = 0; i < n; i++) {
		struct item *q = &it[i];
		enum problem_kind rk = PROBLEM_OK;

		if (q->decided || q->nonce_done ||
		    q->r->resp_status < 400 || q->r->resp_status >= 500)
			continue;
		if (nonce_refused(q->r, s, &rk, &err) == 0 &&
		    rk != PROBLEM_OK)
			problem_reply(q->r, rk, &err);
	}
	t = dmn_now_mono() - t;
	for (i = 0; i < n; i++) {
		struct item *q = &it[i];

		if (!q->decided)
			continue;
		q->r->stage[STAGE_AUDIT] = t;
		if (q->r->resp_status != MHD_HTTP_OK)
			continue;
		/* after the decision's own audit entry: the lock it causes
		 * follows */
		metrics_decision(q->d.accept);
		tn = dmn_now_mono();
		count_decision(q->r, s, &q->d, q->now);
		q->r->stage[STAGE_LOCKOUT] = dmn_now_mono() - tn;
	}
	goto out;
all_fail:
	for (i = 0; i < n; i++)
		item_fail(&it[i], pk, &err);
	goto out;
live_fail:
	for (i = 0; i < n; i++)
		if (it[i].live)
			item_fail(&it[i], pk, &err);
out:
	for (i = 0; i < n; i++) {
		if (it[i].er.embedding != NULL) {
			sodium_memzero(it[i].er.embedding,
			    sizeof(float) * (size_t)dim);
			free(it[i].er.embedding);
		}
		free(it[i].er.activity);
		ecg_windows_free(&it[i].w);
	}
	if (x != NULL) {
		sodium_memzero(x, sizeof(float) * total * win);
		free(x);
	}
	if (emb != NULL) {
		sodium_memzero(emb, sizeof(float) * total * (size_t)dim);
		free(emb);
	}
	free(act);
	free(it);
}

void
h_auth_run_batch(struct dmn_req **rs, int n)
{
	int i, j;

	/* a reload may put two generations in one batch */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && rs[j]->gen == rs[i]->gen; j++)
			continue;
		run_group(rs + i, j - i);
	}
}

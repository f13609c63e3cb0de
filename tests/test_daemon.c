/*
 * tests/test_daemon.c — the real dt4ecgd on 127.0.0.1 with a temporary
 * store and certificate, driven with libcurl and kiosk-signed requests:
 * every status code of DESIGN.md section 5, changes made to the store while
 * it runs, SIGHUP reloads (good and bad), /v1/health, /v1/ready, /metrics,
 * and SIGTERM with exit status 0.  With DT4ECG_VALGRIND=1 the daemon runs
 * under valgrind (tests/daemon-valgrind.sh) and any leak fails the test.
 *
 * The tests run in order and share one daemon (the group setup starts it).
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "tests/cmocka_all.h"

#include "proto/digest.h"
#include "proto/httpsig.h"
#include "store/store.h"
#include "tests/dmn_harness.h"
#include "tests/nonecg.h"
#include "tests/support.h"

#define K_MAIN 0
#define K_REVOKE 1
#define K_FLOOD 2
#define K_OTHER 3

static struct dh H;
static bool under_valgrind;
static double start_timeout = 60, req_slack = 1;
/* The enrollment recordings, also sent as probes. */
static const char *const recs[] = {
	"ecg-id/Person_01/rec_1", "ecg-id/Person_02/rec_1",
	"ecg-id/Person_03/rec_1", "ecg-id/Person_04/rec_1",
};
static char *probe[4];
static size_t probe_len[4];
static char *probe_claim[4];	/* claimed_user = the same person */
static size_t probe_claim_len[4];
static float *sig4[4];
static size_t sig4_n[4];
static double sig4_fs[4];

static const char conf_extra[] =
    "threads = 2\nthreshold = %.6f\nclock_skew_s = %u\n"
    "replay_window_s = %u\nrate_per_kiosk = 0.2\nrate_burst = 100\n"
    "lockout_failures = 3\nlockout_s = %u\nmax_body = %u\n"
    "timeout_s = 20\nreplay_capacity = 512\nkiosk_lockout_failures = 6\n"
    "kiosk_lockout_s = 600\nheader_timeout_s = %u\nmax_duration_s = %u\n"
    "queue_max = %u\nbody_timeout_s = %u\naudit_anchor_s = 1\n";
static unsigned skew_s = 60, window_s = 180, queue_max = 64;
static unsigned body_timeout = 30, header_timeout = 8;
static unsigned max_body = 262144, max_duration = 60;
static double threshold = 0.999;

static int
write_conf(double thr, const char *more)
{
	char buf[1024];

	/* under valgrind a request takes seconds: a longer lock */
	snprintf(buf, sizeof(buf), conf_extra, thr, skew_s, window_s,
	    under_valgrind ? 40u : 3u, max_body, header_timeout, max_duration,
	    queue_max, body_timeout);
	if (more != NULL)
		strncat(buf, more, sizeof(buf) - strlen(buf) - 1);
	return dh_write_conf(&H, buf);
}

static float
cosine(const float *a, const float *b, int n)
{
	double s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return (float)s;
}

/* Probes and enrollment of persons 1..3 (templates come at activation);
 * person 4 is not enrolled yet. */
static int
group_setup(void **state)
{
	const char *vg = getenv("DT4ECG_VALGRIND");
	static const char *const claims[] = { "p01", "p02", "p03", "p04" };
	float emb[4][64], act[3], maxc = -1;
	int i, j;

	under_valgrind = vg != NULL && strcmp(vg, "1") == 0;
	if (under_valgrind) {
		start_timeout = 300;
		req_slack = 20;
		body_timeout = 120;
		/* the deadline covers the TLS handshake and MHD's own
		 * queueing, both many times slower under valgrind */
		header_timeout = 60;
	}
	if (getenv("DT4ECG_DATA") == NULL)
		return -1;
	if (dh_init(&H, NULL) != 0 || dh_model(&H, "m-test-1", 7) != 0)
		return -1;
	for (i = 0; i < 4; i++) {
		if (tt_load_wfdb(recs[i], &sig4[i], &sig4_n[i], &sig4_fs[i]) != 0)
			return -1;
		if (dh_embed(&H, sig4[i], sig4_n[i], sig4_fs[i], emb[i],
		    act) != 0)
			return -1;
		probe[i] = dh_body(sig4[i], sig4_n[i], sig4_fs[i], NULL,
		    &probe_len[i]);
		probe_claim[i] = dh_body(sig4[i], sig4_n[i], sig4_fs[i],
		    claims[i], &probe_claim_len[i]);
		if (probe[i] == NULL || probe_claim[i] == NULL)
			return -1;
	}
	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++) {
			float c = cosine(emb[i], emb[j], 32);

			if (c > maxc)
				maxc = c;
		}
	/* Between the closest impostor pair and a genuine 1.0. */
	if (maxc > 0.9995f) {
		fprintf(stderr, "random model does not separate persons "
		    "(cosine %.6f)\n", maxc);
		return -1;
	}
	threshold = maxc + (1.0 - maxc) * 0.5;
	if (threshold > 0.999)
		threshold = 0.999;
	fprintf(stderr, "max impostor cosine %.6f, threshold %.6f\n", maxc,
	    threshold);
	if (dh_member(&H, "p01", "Person One", recs[0], false) != 0 ||
	    dh_member(&H, "p02", "Person Two", recs[1], false) != 0 ||
	    dh_member(&H, "p03", "Person Three", recs[2], false) != 0)
		return -1;
	if (write_conf(threshold, NULL) != 0)
		return -1;
	if (dh_start(&H, under_valgrind, start_timeout) != 0)
		return -1;
	*state = &H;
	return 0;
}

static int
group_teardown(void **state)
{
	int i;

	for (i = 0; i < 4; i++) {
		free(probe[i]);
		free(probe_claim[i]);
		free(sig4[i]);
	}
	dh_cleanup(&H);
	return 0;
}

static json_t *
parse(const struct dh_resp *r)
{
	json_t *j = json_loads(r->body, 0, NULL);

	if (j == NULL)
		fail_msg("not JSON: %s", r->body);
	return j;
}

/* A problem document with this status and type slug. */
static void
expect_problem(const struct dh_resp *r, long status, const char *slug)
{
	json_t *j;
	char type[160];

	if (r->status != status)
		fail_msg("status %ld, expected %ld: %s", r->status, status,
		    r->body);
	assert_string_equal(r->content_type, "application/problem+json");
	j = parse(r);
	snprintf(type, sizeof(type), "https://dt4ecg.example/problems/%s",
	    slug);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	    type);
	assert_int_equal(json_integer_value(json_object_get(j, "status")),
	    status);
	assert_non_null(json_string_value(json_object_get(j, "title")));
	json_decref(j);
}

/* A signed request by kiosk K that must give this status (and slug). */
static void
signed_expect(int k, const char *body, size_t len, long status,
    const char *slug)
{
	struct dh_resp r;

	assert_int_equal(dh_signed(&H, NULL, k, body, len, 0, NULL, &r), 0);
	if (slug != NULL)
		expect_problem(&r, status, slug);
	else if (r.status != status)
		fail_msg("status %ld, expected %ld: %s", r.status, status,
		    r.body);
	dh_resp_free(&r);
}

/* The 200 document: every member, with its type. */
static json_t *
decision(int probe_i, bool claimed, const char *want_decision,
    const char *want_user)
{
	struct dh_resp r;
	json_t *j, *a, *q, *u, *s;
	const char *key;
	json_t *v;
	double sum = 0;

	assert_int_equal(dh_signed(&H, NULL, K_MAIN,
	    claimed ? probe_claim[probe_i] : probe[probe_i],
	    claimed ? probe_claim_len[probe_i] : probe_len[probe_i], 0, NULL,
	    &r), 0);
	if (r.status != 200)
		fail_msg("status %ld: %s", r.status, r.body);
	assert_string_equal(r.content_type, "application/json");
	j = parse(&r);
	assert_string_equal(json_string_value(json_object_get(j, "decision")),
	    want_decision);
	u = json_object_get(j, "user");
	if (want_user != NULL) {
		assert_true(json_is_object(u));
		assert_string_equal(json_string_value(json_object_get(u, "id")),
		    want_user);
		assert_true(json_is_string(json_object_get(u,
		    "display_name")));
	} else {
		assert_true(json_is_null(u));
	}
	assert_true(json_is_number(json_object_get(j, "score")) ||
	    json_is_null(json_object_get(j, "score")));
	assert_true(fabs(json_number_value(json_object_get(j, "threshold")) -
	    threshold) < 1e-5);
	a = json_object_get(j, "activity");
	assert_true(json_is_string(json_object_get(a, "label")));
	assert_true(json_is_number(json_object_get(a, "probability")));
	s = json_object_get(a, "scores");
	assert_int_equal(json_object_size(s), 3);
	json_object_foreach(s, key, v)
		sum += json_number_value(v);
	assert_true(fabs(sum - 1.0) < 1e-3);
	q = json_object_get(j, "quality");
	assert_true(json_integer_value(json_object_get(q, "windows_used")) >
	    0);
	assert_true(json_is_integer(json_object_get(q, "windows_rejected")));
	assert_true(json_is_number(json_object_get(q, "heart_rate_bpm")));
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "model"), "id")), H.model_id);
	assert_int_equal(strlen(json_string_value(json_object_get(j,
	    "request_id"))), 32);
	dh_resp_free(&r);
	return j;
}

/* The daemon still answers a correct request correctly. */
static void
still_serving(void)
{
	json_decref(decision(0, false, "accept", "p01"));
}

static void
get_expect(const char *method, const char *path, long status)
{
	struct dh_resp r;

	assert_int_equal(dh_request(&H, NULL, method, path, NULL, NULL, 0,
	    &r), 0);
	if (r.status != status)
		fail_msg("%s %s: %ld, expected %ld: %s", method, path,
		    r.status, status, r.body);
	dh_resp_free(&r);
}

/* --- before a model is active ------------------------------------------- */
static void
no_model_503(void **state)
{
	struct dh_resp r;

	get_expect("GET", "/v1/health", 200);
	assert_int_equal(dh_request(&H, NULL, "GET", "/v1/ready", NULL, NULL,
	    0, &r), 0);
	expect_problem(&r, 503, "no-active-model");
	dh_resp_free(&r);
	signed_expect(K_MAIN, probe[0], probe_len[0], 503, "no-active-model");
}

static void
routes_404_405(void **state)
{
	struct dh_resp r;

	assert_int_equal(dh_request(&H, NULL, "GET", "/nope", NULL, NULL, 0,
	    &r), 0);
	expect_problem(&r, 404, "not-found");
	dh_resp_free(&r);
	assert_int_equal(dh_request(&H, NULL, "GET", "/v1/authenticate", NULL,
	    NULL, 0, &r), 0);
	expect_problem(&r, 405, "method-not-allowed");
	assert_string_equal(r.allow, "POST");
	dh_resp_free(&r);
	assert_int_equal(dh_request(&H, NULL, "DELETE", "/v1/health", NULL,
	    NULL, 0, &r), 0);
	expect_problem(&r, 405, "method-not-allowed");
	assert_string_equal(r.allow, "GET, HEAD");
	dh_resp_free(&r);
	assert_int_equal(dh_request(&H, NULL, "POST", "/metrics", NULL,
	    NULL, 0, &r), 0);
	expect_problem(&r, 405, "method-not-allowed");
	assert_string_equal(r.allow, "GET, HEAD");
	dh_resp_free(&r);
	get_expect("HEAD", "/v1/health", 200);
	get_expect("HEAD", "/v1/ready", 503);
}

/* Activating a model while the daemon runs: it notices without restart. */
static void
activate_live(void **state)
{
	struct dh_resp r;
	int i;

	assert_int_equal(dh_activate(&H), 0);
	for (i = 0; i < 100; i++) {
		assert_int_equal(dh_request(&H, NULL, "GET", "/v1/ready", NULL,
		    NULL, 0, &r), 0);
		if (r.status == 200)
			break;
		dh_resp_free(&r);
		usleep(100 * 1000);
	}
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, H.model_id));
	dh_resp_free(&r);
}

/* ---- the audit log as the daemon writes it ------------------------------ */

struct last {
	int64_t id;
	char action[32], subject[STORE_AUDIT_ID_MAX + 8], detail[1024];
	bool has_subject;
};

static int
keep_last(void *ctx, const struct store_audit_entry *e)
{
	struct last *l = ctx;

	l->id = e->id;
	snprintf(l->action, sizeof(l->action), "%s", e->action);
	l->has_subject = e->subject != NULL;
	snprintf(l->subject, sizeof(l->subject), "%s", e->subject ?
	    e->subject : "");
	snprintf(l->detail, sizeof(l->detail), "%s", e->detail ? e->detail :
	    "");
	return 0;
}

static void
last_entry(struct last *l)
{
	struct dt_error err = { 0 };

	memset(l, 0, sizeof(*l));
	assert_int_equal(store_audit_list(H.s, 0, keep_last, l, &err), 0);
}

/* The daemon's log has a line containing WHAT (read from the file). */
static bool
daemon_logged(const char *what)
{
	char buf[4096];
	FILE *f = fopen(H.daemon_log, "r");
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(buf, sizeof(buf), f) != NULL)
		found = strstr(buf, what) != NULL;
	fclose(f);
	return found;
}

/* Runs SQL on the store file through a connection of its own: what
 * someone who can write the file (but has no key) can do. */
static void
write_file_directly(const char *sql)
{
	char path[DH_PATH_MAX + 16];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/store.db", H.dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void
accept_and_reject(void **state)
{
	struct dt_error err = { 0 };
	char aid[STORE_AUDIT_ID_MAX];
	struct last l;
	json_t *j;

	/* 1:N: each enrolled person is recognised... */
	j = decision(0, false, "accept", "p01");
	/* the harness model's activity is unsure of itself: "unknown",
	 * with the top (calibrated) probability below its threshold */
	assert_string_equal(json_string_value(json_object_get(json_object_get(j,
	    "activity"), "label")), "unknown");
	assert_true(json_number_value(json_object_get(json_object_get(j,
	    "activity"), "probability")) < 0.9);
	json_decref(j);
	json_decref(decision(1, false, "accept", "p02"));
	/* audited under p02's audit id, never the id itself */
	last_entry(&l);
	assert_string_equal(l.action, "auth.accept");
	assert_int_equal(store_member_audit_id(H.s, "p02", aid, &err), 0);
	assert_string_equal(l.subject, aid);
	/* ...a stranger is not */
	j = decision(3, false, "reject", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
	    "below-threshold");
	/* no score on a reject: no oracle to hill-climb with (13.5a) */
	assert_true(json_is_null(json_object_get(j, "score")));
	json_decref(j);
	/* the reject has no member as its subject: the nearest member is
	 * named as such, by audit id */
	last_entry(&l);
	assert_string_equal(l.action, "auth.reject");
	assert_false(l.has_subject);
	assert_non_null(strstr(l.detail, "\"nearest_member\":\"m:"));
	assert_null(strstr(l.detail, "\"p0"));
	/* 1:1 */
	j = decision(2, true, "accept", "p03");
	assert_true(json_number_value(json_object_get(j, "score")) >=
	    threshold);
	json_decref(j);
	/* claimed p04 is not a member: the same answer as any 1:1 reject */
	j = decision(3, true, "reject", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
	    "no-match");
	assert_true(json_is_null(json_object_get(j, "score")));
	json_decref(j);
}

/* A member enrolled by the admin while the daemon runs is matched. */
static void
enroll_live(void **state)
{
	assert_int_equal(dh_member(&H, "p04", "Person Four", recs[3], true),
	    0);
	json_decref(decision(3, false, "accept", "p04"));
	json_decref(decision(3, true, "accept", "p04"));
}

static void
bad_bodies_400(void **state)
{
	static const char *const bad_json[] = {
		"{", "[1,2", "{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\","
		"\"lead\":\"I\",\"samples\":[NaN, 1]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1,0.2",	/* truncated */
		"",
	};
	static const char *const bad_field[] = {
		/* wrong types */
		"{\"ecg\":{\"fs_hz\":\"250\",\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":\"0.1\"}}",
		"{\"ecg\":[1,2]}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1,\"x\"]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]},\"claimed_user\":17}",
		/* wrong sample rate, units, lead */
		"{\"ecg\":{\"fs_hz\":10,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"uV\",\"lead\":\"I\","
		"\"samples\":[0.1]}}",
		/* not finite as a float32 */
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1,1e39]}}",
		/* empty, unknown member, missing ecg */
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[]}}",
		"{\"ecg\":{\"fs_hz\":250,\"units\":\"mV\",\"lead\":\"I\","
		"\"samples\":[0.1]},\"claimed_usr\":\"p01\"}",
		"{}",
	};
	size_t i;
	char *huge;
	size_t n, p = 0;

	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++)
		signed_expect(K_MAIN, bad_json[i], strlen(bad_json[i]), 400,
		    "bad-json");
	for (i = 0; i < sizeof(bad_field) / sizeof(bad_field[0]); i++)
		signed_expect(K_MAIN, bad_field[i], strlen(bad_field[i]), 400,
		    "bad-field");
	/* a huge array (more samples than 60 s at 2 kHz), under max_body */
	n = 120001;
	huge = malloc(n * 2 + 128);
	assert_non_null(huge);
	p += (size_t)sprintf(huge, "{\"ecg\":{\"fs_hz\":2000,\"units\":\"mV\","
	    "\"lead\":\"I\",\"samples\":[");
	for (i = 0; i < n; i++)
		p += (size_t)sprintf(huge + p, i ? ",0" : "0");
	p += (size_t)sprintf(huge + p, "]}}");
	signed_expect(K_MAIN, huge, p, 400, "bad-field");
	free(huge);
	still_serving();
}

/* Headers built by hand: every way a signature can be wrong. */
static void
raw_post(const char *ctype, const char *digest, const char *si,
    const char *sig, const char *body, size_t len, struct dh_resp *r)
{
	assert_int_equal(dh_post(&H, NULL, ctype, digest, si, sig, body, len,
	    r), 0);
}

static void
sign_as(const char *keyid, const unsigned char *sk, const char *digest,
    int64_t created, char *si, char *sig)
{
	struct dt_error err = { 0 };
	char nonce[32];

	httpsig_nonce(nonce, sizeof(nonce));
	assert_int_equal(httpsig_sign_kiosk("POST", "/v1/authenticate", digest,
	    keyid, created, nonce, sk, si, 1024, sig, 256, &err), 0);
}

static void
signatures_401(void **state)
{
	struct dt_error err = { 0 };
	const char *body = probe[0];
	size_t len = probe_len[0];
	char digest[DIGEST_HEADER_BUF], other[DIGEST_HEADER_BUF];
	char si[1024], sig[256], bad[300];
	struct httpsig_params p;
	struct httpsig_msg msg;
	struct httpsig_field f;
	struct dh_resp r;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(digest_header(DIGEST_SHA256, body, len, digest,
	    sizeof(digest), &err), 0);
	assert_int_equal(digest_header(DIGEST_SHA256, "x", 1, other,
	    sizeof(other), &err), 0);

	/* bad signature: kiosk-1's keyid, another key */
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_OTHER], digest, now, si, sig);
	raw_post("application/json", digest, si, sig, body, len, &r);
	expect_problem(&r, 401, "signature-invalid");
	dh_resp_free(&r);
	/* unknown kiosk */
	sign_as("kiosk-99", H.sk[K_MAIN], digest, now, si, sig);
	raw_post("application/json", digest, si, sig, body, len, &r);
	expect_problem(&r, 401, "kiosk-unknown");
	dh_resp_free(&r);
	/* created outside the clock skew, both ways */
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], digest, now - 3600, si, sig);
	raw_post("application/json", digest, si, sig, body, len, &r);
	expect_problem(&r, 401, "signature-expired");
	dh_resp_free(&r);
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], digest, now + 600, si, sig);
	raw_post("application/json", digest, si, sig, body, len, &r);
	expect_problem(&r, 401, "signature-expired");
	dh_resp_free(&r);
	/* digest of another body (signed consistently) */
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], other, now, si, sig);
	raw_post("application/json", other, si, sig, body, len, &r);
	expect_problem(&r, 401, "digest-mismatch");
	dh_resp_free(&r);
	/* no digest, malformed digest */
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], digest, now, si, sig);
	raw_post("application/json", NULL, si, sig, body, len, &r);
	expect_problem(&r, 401, "digest-missing");
	dh_resp_free(&r);
	/* a digest header that differs from the signed one */
	raw_post("application/json", "sha-256=:!!!:", si, sig, body, len, &r);
	expect_problem(&r, 401, "signature-invalid");
	dh_resp_free(&r);
	/* a malformed digest, signed as it is */
	sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], "sha-256=:!!!:", now, si,
	    sig);
	raw_post("application/json", "sha-256=:!!!:", si, sig, body, len, &r);
	expect_problem(&r, 401, "digest-malformed");
	dh_resp_free(&r);
	/* no signature */
	raw_post("application/json", digest, NULL, NULL, body, len, &r);
	expect_problem(&r, 401, "signature-missing");
	dh_resp_free(&r);
	/* bad base64 in Signature */
	snprintf(bad, sizeof(bad), "sig1=:%.20s*%s", sig + 6, sig + 27);
	raw_post("application/json", digest, si, bad, body, len, &r);
	assert_int_equal(r.status, 401);
	assert_true(strstr(r.body, "signature-base64") != NULL ||
	    strstr(r.body, "signature-malformed") != NULL);
	dh_resp_free(&r);
	snprintf(bad, sizeof(bad), "sig1=:QUJD$$==:");
	raw_post("application/json", digest, si, bad, body, len, &r);
	assert_int_equal(r.status, 401);
	dh_resp_free(&r);
	/* a required component (content-digest) not covered */
	memset(&p, 0, sizeof(p));
	snprintf(p.label, sizeof(p.label), "sig1");
	p.ncomponents = 2;
	snprintf(p.components[0], sizeof(p.components[0]), "@method");
	snprintf(p.components[1], sizeof(p.components[1]), "@path");
	p.nparams = 4;
	p.order[0] = HTTPSIG_P_CREATED;
	p.order[1] = HTTPSIG_P_NONCE;
	p.order[2] = HTTPSIG_P_KEYID;
	p.order[3] = HTTPSIG_P_ALG;
	p.has[HTTPSIG_P_CREATED] = p.has[HTTPSIG_P_NONCE] =
	    p.has[HTTPSIG_P_KEYID] = p.has[HTTPSIG_P_ALG] = true;
	p.created = now;
	httpsig_nonce(p.nonce, sizeof(p.nonce));
	snprintf(p.keyid, sizeof(p.keyid), "%s", H.kiosk_id[K_MAIN]);
	snprintf(p.alg, sizeof(p.alg), "ed25519");
	f.name = "content-digest";
	f.value = digest;
	msg.method = "POST";
	msg.path = "/v1/authenticate";
	msg.authority = NULL;
	msg.fields = &f;
	msg.nfields = 1;
	assert_int_equal(httpsig_sign(&msg, &p, H.sk[K_MAIN], si, 1024, sig,
	    256, &err), 0);
	raw_post("application/json", digest, si, sig, body, len, &r);
	expect_problem(&r, 401, "signature-component-missing");
	dh_resp_free(&r);
	still_serving();
}

static void
replay_409(void **state)
{
	static const char body[] = "{\"bad";
	char nonce[32];
	struct dh_resp r;

	httpsig_nonce(nonce, sizeof(nonce));
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, body, sizeof(body) - 1, 0,
	    nonce, &r), 0);
	expect_problem(&r, 400, "bad-json");
	dh_resp_free(&r);
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, body, sizeof(body) - 1, 0,
	    nonce, &r), 0);
	expect_problem(&r, 409, "replayed-nonce");
	dh_resp_free(&r);
	/* the same nonce from another kiosk is another pair */
	assert_int_equal(dh_signed(&H, NULL, K_OTHER, body, sizeof(body) - 1,
	    0, nonce, &r), 0);
	expect_problem(&r, 400, "bad-json");
	dh_resp_free(&r);
	/* a valid request replayed */
	httpsig_nonce(nonce, sizeof(nonce));
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, probe[1], probe_len[1],
	    0, nonce, &r), 0);
	assert_int_equal(r.status, 200);
	dh_resp_free(&r);
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, probe[1], probe_len[1],
	    0, nonce, &r), 0);
	expect_problem(&r, 409, "replayed-nonce");
	dh_resp_free(&r);
}

static void
too_large_413_and_415(void **state)
{
	size_t n = 300 * 1024;
	char *big = malloc(n);
	struct dh_resp r;

	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	signed_expect(K_MAIN, big, n, 413, "body-too-large");
	free(big);
	raw_post("text/plain", NULL, NULL, NULL, "{}", 2, &r);
	expect_problem(&r, 415, "unsupported-media-type");
	dh_resp_free(&r);
	raw_post(NULL, NULL, NULL, NULL, "{}", 2, &r);
	expect_problem(&r, 415, "unsupported-media-type");
	dh_resp_free(&r);
	still_serving();
}

/* Chunked upload beyond max_body: no Content-Length, still 413. */
static size_t chunk_left;
static size_t
chunk_read(char *buf, size_t size, size_t nitems, void *ud)
{
	size_t n = size * nitems;

	if (n > chunk_left)
		n = chunk_left;
	memset(buf, ' ', n);
	chunk_left -= n;
	return n;
}

static size_t
discard(char *p, size_t size, size_t n, void *ud)
{
	return size * n;
}

/* A chunked upload of N bytes; SIGNED by K_MAIN (with the digest of
 * "x": the body is refused before the digest is compared).  The status,
 * and whether the daemon stopped reading before the end. */
static long
chunked_post(bool sign, size_t n, bool *cut)
{
	struct dt_error err = { 0 };
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	char url[128], digest[DIGEST_HEADER_BUF], si[1024], sig[256];
	char h[1400];
	long status = 0;
	CURLcode cc;

	assert_non_null(c);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/authenticate",
	    H.port);
	chunk_left = n;
	hl = curl_slist_append(hl, "Content-Type: application/json");
	hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
	hl = curl_slist_append(hl, "Expect:");
	if (sign) {
		assert_int_equal(digest_header(DIGEST_SHA256, "x", 1, digest,
		    sizeof(digest), &err), 0);
		sign_as(H.kiosk_id[K_MAIN], H.sk[K_MAIN], digest,
		    (int64_t)time(NULL), si, sig);
		snprintf(h, sizeof(h), "Content-Digest: %s", digest);
		hl = curl_slist_append(hl, h);
		snprintf(h, sizeof(h), "Signature-Input: %s", si);
		hl = curl_slist_append(hl, h);
		snprintf(h, sizeof(h), "Signature: %s", sig);
		hl = curl_slist_append(hl, h);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, H.cert);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, chunk_read);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	*cut = chunk_left > 0;
	fprintf(stderr, "chunked upload of %zu bytes: %s, status %ld, %zu "
	    "bytes not sent\n", n, curl_easy_strerror(cc), status,
	    chunk_left);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return status;
}

/* Chunked upload beyond max_body: 413, and the connection is cut then
 * (the daemon does not read the 64 MiB the client would send). */
static void
chunked_413(void **state)
{
	bool cut = false;

	long st = chunked_post(true, (size_t)64 << 20, &cut);

	/* curl, still sending, may see the reset before the 413 */
	assert_true(st == 413 || st == 0);
	assert_true(cut);
	still_serving();
}

/* The signature is checked from the headers: an unsigned upload is
 * answered 401 without its body being read. */
static void
unsigned_body_not_read(void **state)
{
	bool cut = false;
	long st = chunked_post(false, (size_t)64 << 20, &cut);

	/* curl, still sending, may see the reset before the 401 */
	assert_true(st == 401 || st == 0);
	assert_true(cut);
	still_serving();
}

/*
 * What is not an ECG is answered 422 before any match, 1:N and claimed
 * alike: white noise at 0.001, 1 and 1000 mV, a sine, a square and a saw
 * wave and a random walk (ecg/sigcheck.h), so noise never opens the door.
 */
static void
non_ecg_422(void **state)
{
	static const double amp[] = { 1e-3, 1, 1e3 };
	float *x = calloc(2000, sizeof(float));
	struct dh_resp r;
	char *b;
	size_t len;
	json_t *j;
	int k, a, c;

	assert_non_null(x);
	for (k = 0; k < NONECG_N; k++)
		for (a = 0; a < (k == NONECG_NOISE ? 3 : 1); a++)
			for (c = 0; c < 2; c++) {
				nonecg_fill(k, x, 2000, 250, amp[a], 1.2,
				    (uint64_t)(10 * k + a + 1));
				b = dh_body(x, 2000, 250, c ? "p01" : NULL,
				    &len);
				assert_int_equal(dh_signed(&H, NULL, K_MAIN, b,
				    len, 0, NULL, &r), 0);
				expect_problem(&r, 422, "signal-unusable");
				j = parse(&r);
				if (strstr(json_string_value(json_object_get(j,
				    "detail")), "not an ECG") == NULL)
					fail_msg("%s: %s", nonecg_name(k),
					    r.body);
				json_decref(j);
				dh_resp_free(&r);
				free(b);
			}
	free(x);
	still_serving();
}

static void
unusable_signal_422(void **state)
{
	float *flat = calloc(2000, sizeof(float));
	char *b;
	size_t len;
	json_t *j;
	struct dh_resp r;

	assert_non_null(flat);
	b = dh_body(flat, 2000, 250, NULL, &len);	/* 8 s, flat */
	signed_expect(K_MAIN, b, len, 422, "signal-unusable");
	free(b);
	b = dh_body(flat, 100, 250, NULL, &len);	/* too short */
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, b, len, 0, NULL, &r), 0);
	expect_problem(&r, 422, "signal-unusable");
	j = parse(&r);
	assert_non_null(json_string_value(json_object_get(j, "detail")));
	json_decref(j);
	dh_resp_free(&r);
	free(b);
	free(flat);
	still_serving();
}

static void
rate_limit_429(void **state)
{
	static const char body[] = "{";
	struct dh_resp r;
	int i, got = 0;

	for (i = 0; i < 300 && !got; i++) {
		assert_int_equal(dh_signed(&H, NULL, K_FLOOD, body, 1, 0, NULL,
		    &r), 0);
		if (r.status == 429) {
			expect_problem(&r, 429, "rate-limited");
			assert_true(atoi(r.retry_after) >= 1);
			got = 1;
		} else {
			assert_int_equal(r.status, 400);
		}
		dh_resp_free(&r);
	}
	assert_true(got);
	assert_true(i >= 100);	/* the burst went through first */
	/* other kiosks are not affected */
	still_serving();
}

static void
revoked_401(void **state)
{
	struct dt_error err = { 0 };

	signed_expect(K_REVOKE, "{", 1, 400, "bad-json");
	assert_int_equal(store_kiosk_revoke(H.s, H.kiosk_id[K_REVOKE], &err),
	    0);
	signed_expect(K_REVOKE, "{", 1, 401, "kiosk-revoked");
	still_serving();
}

struct lock_seen {
	char aid[STORE_AUDIT_ID_MAX];
	int rejects, locks, lock_after_rejects;
};

static int
lock_order(void *ctx, const struct store_audit_entry *e)
{
	struct lock_seen *s = ctx;

	if (e->subject == NULL || strcmp(e->subject, s->aid) != 0)
		return 0;
	if (strcmp(e->action, "auth.reject") == 0)
		s->rejects++;
	else if (strcmp(e->action, "member.lock") == 0) {
		s->locks++;
		s->lock_after_rejects = s->rejects;
	}
	return 0;
}

static void
lockout(void **state)
{
	struct dt_error err = { 0 };
	struct lock_seen seen;
	struct last before;
	char aid[STORE_AUDIT_ID_MAX];
	struct store_member m;
	char *b;
	size_t len;
	json_t *j;
	struct dh_resp r;
	int i;

	/* p02's signal claiming p03, three times */
	b = dh_body(sig4[1], sig4_n[1], sig4_fs[1], "p03", &len);
	last_entry(&before);
	for (i = 0; i < 3; i++) {
		assert_int_equal(dh_signed(&H, NULL, K_MAIN, b, len, 0, NULL,
		    &r), 0);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "\"reject\""));
		dh_resp_free(&r);
	}
	free(b);
	/* the lock is audited once, after the reject that caused it */
	assert_int_equal(store_member_audit_id(H.s, "p03", aid, &err), 0);
	memset(&seen, 0, sizeof(seen));
	snprintf(seen.aid, sizeof(seen.aid), "%s", aid);
	assert_int_equal(store_audit_list(H.s, before.id, lock_order, &seen,
	    &err), 0);
	assert_int_equal(seen.rejects, 3);
	assert_int_equal(seen.locks, 1);
	assert_int_equal(seen.lock_after_rejects, 3);
	/* now locked: even the genuine signal is refused, and the kiosk is
	 * told no more than for any 1:1 reject */
	j = decision(2, true, "reject", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
	    "no-match");
	assert_true(json_is_null(json_object_get(j, "score")));
	json_decref(j);
	/* the lock is in the store, where the admin tool sees it */
	assert_int_equal(store_member_get(H.s, "p03", &m, &err), 0);
	assert_true(m.locked_until > (int64_t)time(NULL));
	/* and it expires */
	for (i = 0; i < 500 && m.locked_until >= (int64_t)time(NULL); i++)
		usleep(100 * 1000);
	sleep(1);
	json_decref(decision(2, true, "accept", "p03"));
}

static void
tls_versions(void **state)
{
	CURL *c = curl_easy_init();
	char url[128];
	CURLcode cc;

	assert_non_null(c);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/health", H.port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, H.cert);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_SSLVERSION,
	    (long)(CURL_SSLVERSION_TLSv1 | CURL_SSLVERSION_MAX_TLSv1_1));
	cc = curl_easy_perform(c);
	assert_int_not_equal(cc, CURLE_OK);
	curl_easy_setopt(c, CURLOPT_SSLVERSION,
	    (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_setopt(c, CURLOPT_SSLVERSION,
	    (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
}

static void
metrics(void **state)
{
	struct dh_resp r;

	assert_int_equal(dh_request(&H, NULL, "GET", "/metrics", NULL, NULL,
	    0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.content_type, "text/plain"));
	assert_non_null(strstr(r.body, "dt4ecg_http_requests_total{route="
	    "\"authenticate\",status=\"200\"}"));
	assert_non_null(strstr(r.body, "status=\"429\""));
	assert_non_null(strstr(r.body, "status=\"401\""));
	assert_non_null(strstr(r.body, "dt4ecg_http_request_duration_seconds_"
	    "bucket{route=\"authenticate\",le=\"+Inf\"}"));
	assert_non_null(strstr(r.body, "dt4ecg_inference_duration_seconds_"
	    "count"));
	assert_non_null(strstr(r.body, "dt4ecg_enrolled_members 4\n"));
	assert_non_null(strstr(r.body, "dt4ecg_model_info{model=\"m-test-1\""));
	dh_resp_free(&r);
}

/* SIGHUP: a good new configuration takes effect, a bad one is refused and
 * the old keeps serving. */
static void
reload(void **state)
{
	json_t *j;
	double old = threshold;
	char moved[DH_PATH_MAX + 32];

	threshold = 0.5;
	assert_int_equal(write_conf(threshold, NULL), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	j = decision(0, false, "accept", "p01");
	json_decref(j);
	get_expect("GET", "/v1/ready", 200);

	/* a bad configuration: unknown key */
	assert_int_equal(write_conf(0.25, "no_such_key = 1\n"), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	json_decref(decision(1, false, "accept", "p02"));	/* 0.5 still */
	/* a missing certificate */
	assert_int_equal(write_conf(0.25, NULL), 0);
	snprintf(moved, sizeof(moved), "%s/moved.crt", H.dir);
	assert_int_equal(rename(H.cert, moved), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	assert_int_equal(rename(moved, H.cert), 0);
	json_decref(decision(1, false, "accept", "p02"));	/* 0.5 still */
	/* back to the original */
	threshold = old;
	assert_int_equal(write_conf(threshold, NULL), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	still_serving();
}

/* chain_replicas = 4: this replica keeps a quarter of each kiosk's bucket
 * (rate_burst 100 -> 25), so four behind a balancer hold the configured
 * figures for the chain (issue 15.4d).  A kiosk of its own: the others'
 * nonces would exceed their (also quartered) share of the replay cache. */
static void
chain_replicas_share(void **state)
{
	static const char body[] = "{";
	struct dt_error err = { 0 };
	unsigned char pk[32], sk[64];
	char digest[DIGEST_HEADER_BUF], si[1024], sig[256];
	struct dh_resp r;
	int i, passed = 0, refused = 0;

	crypto_sign_keypair(pk, sk);
	assert_int_equal(store_kiosk_add(H.s, "kiosk-chain", pk, &err), 0);
	assert_int_equal(digest_header(DIGEST_SHA256, body, 1, digest,
	    sizeof(digest), &err), 0);
	assert_int_equal(write_conf(threshold, "chain_replicas = 4\n"), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	for (i = 0; i < 60 && !refused; i++) {
		sign_as("kiosk-chain", sk, digest, (int64_t)time(NULL), si,
		    sig);
		raw_post("application/json", digest, si, sig, body, 1, &r);
		if (r.status == 429) {
			expect_problem(&r, 429, "rate-limited");
			assert_non_null(strstr(r.body, "over the chain"));
			refused = 1;
		} else {
			assert_int_equal(r.status, 400);
			passed++;
		}
		dh_resp_free(&r);
	}
	sodium_memzero(sk, sizeof(sk));
	assert_true(refused);
	/* 25 tokens, refilled at 0.05/s while the loop runs */
	assert_true(passed >= 25 && passed <= 25 + 1 + (under_valgrind ? 5 :
	    1));
}

struct adapt_seen {
	int adapts;
	char detail[512];
};

static int
count_adapts(void *ctx, const struct store_audit_entry *e)
{
	struct adapt_seen *a = ctx;

	if (strcmp(e->action, "template.adapt") == 0) {
		a->adapts++;
		snprintf(a->detail, sizeof(a->detail), "%s", e->detail);
	}
	return 0;
}

static int
n_templates(const char *member)
{
	struct dt_error err = { 0 };
	struct store_member m;

	assert_int_equal(store_member_get(H.s, member, &m, &err), 0);
	return m.n_templates;
}

/* Templates that follow the member (issue 12.9a): with template_updates on,
 * impostor attempts add nothing, an accept above threshold + margin adds
 * the probe as a template (audited, counted in /metrics), and a second
 * accept within template_update_interval_s adds nothing more. */
static void
template_follows_member(void **state)
{
	struct dt_error err = { 0 };
	struct adapt_seen seen = { 0 };
	struct last before;
	struct dh_resp r;
	char *b;
	size_t len;
	int i, n0 = n_templates("p04");

	assert_int_equal(write_conf(threshold, "template_updates = 2\n"
	    "template_update_margin = 0\ntemplate_update_interval_s = 3600\n"),
	    0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	last_entry(&before);
	/* p02's signal claiming p04, twice (the lock comes at three) */
	b = dh_body(sig4[1], sig4_n[1], sig4_fs[1], "p04", &len);
	for (i = 0; i < 2; i++) {
		assert_int_equal(dh_signed(&H, NULL, K_MAIN, b, len, 0, NULL,
		    &r), 0);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "\"reject\""));
		dh_resp_free(&r);
	}
	free(b);
	assert_int_equal(n_templates("p04"), n0);
	/* p04's own signal: accepted, becomes a template */
	json_decref(decision(3, true, "accept", "p04"));
	assert_int_equal(n_templates("p04"), n0 + 1);
	assert_int_equal(store_audit_list(H.s, before.id, count_adapts, &seen,
	    &err), 0);
	assert_int_equal(seen.adapts, 1);
	assert_non_null(strstr(seen.detail, "\"request_id\""));
	/* again at once: within the interval, nothing more */
	json_decref(decision(3, false, "accept", "p04"));
	assert_int_equal(n_templates("p04"), n0 + 1);
	get_expect("GET", "/metrics", 200);
	assert_int_equal(dh_request(&H, NULL, "GET", "/metrics", NULL, NULL, 0,
	    &r), 0);
	assert_non_null(strstr(r.body, "dt4ecg_template_updates_total 1\n"));
	dh_resp_free(&r);
	still_serving();
}

/* Back to the test's own configuration, whatever the test did. */
static int
conf_restore(void **state)
{
	if (write_conf(threshold, NULL) != 0 || kill(H.pid, SIGHUP) != 0 ||
	    dh_wait_notify(&H, "READY=1", 60 * req_slack) != 0)
		return -1;
	return 0;
}

/* One kiosk flooding (answered 429) cannot fill the shared replay cache:
 * the other kiosks keep getting 200 (issue 13.1).  The cache holds 512
 * nonces; the flood sends more than that. */
static void
flood_keeps_others_serving(void **state)
{
	static const char body[] = "{";
	struct dh_resp r;
	CURL *c = curl_easy_init();
	int i, n429 = 0, n = under_valgrind ? 120 : 600;

	assert_non_null(c);
	for (i = 0; i < n; i++) {
		assert_int_equal(dh_signed(&H, c, K_FLOOD, body, 1, 0, NULL,
		    &r), 0);
		n429 += r.status == 429;
		assert_true(r.status == 429 || r.status == 400);
		dh_resp_free(&r);
	}
	curl_easy_cleanup(c);
	assert_true(n429 > 0);
	still_serving();
	json_decref(decision(1, false, "accept", "p02"));
	signed_expect(K_OTHER, "{", 1, 400, "bad-json");
}

/* A malformed keyid is an unknown kiosk: 401, not 500 (13.8). */
static void
malformed_keyid_401(void **state)
{
	struct dt_error err = { 0 };
	char digest[DIGEST_HEADER_BUF], si[1024], sig[256], long_id[80];
	struct dh_resp r;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(digest_header(DIGEST_SHA256, probe[0], probe_len[0],
	    digest, sizeof(digest), &err), 0);
	sign_as("bad id!", H.sk[K_MAIN], digest, now, si, sig);
	raw_post("application/json", digest, si, sig, probe[0], probe_len[0],
	    &r);
	expect_problem(&r, 401, "kiosk-unknown");
	dh_resp_free(&r);
	memset(long_id, 'k', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	sign_as(long_id, H.sk[K_MAIN], digest, now, si, sig);
	raw_post("application/json", digest, si, sig, probe[0], probe_len[0],
	    &r);
	expect_problem(&r, 401, "kiosk-unknown");
	dh_resp_free(&r);
}

/* More ECG than max_duration_s: 400, before any inference (13.3). */
static void
too_long_400(void **state)
{
	size_t n = 61 * 50;	/* 61 s at 50 Hz */
	float *x = calloc(n, sizeof(float));
	char *b;
	size_t len;
	struct dh_resp r;

	assert_non_null(x);
	b = dh_body(x, n, 50, NULL, &len);
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, b, len, 0, NULL, &r), 0);
	expect_problem(&r, 400, "bad-field");
	assert_non_null(strstr(r.body, "max_duration_s"));
	dh_resp_free(&r);
	free(b);
	free(x);
}

/* Several long inferences at once with queue_max = 1: the queue answers
 * 503 with Retry-After instead of piling up, health still answers, and
 * every admitted request completes (13.3). */
struct busy {
	const char *body;
	size_t len;
	long status;
	char retry_after[32];
};

static void *
busy_post(void *arg)
{
	struct busy *b = arg;
	struct dh_resp r;

	if (dh_signed(&H, NULL, K_MAIN, b->body, b->len, 0, NULL, &r) == 0) {
		b->status = r.status;
		snprintf(b->retry_after, sizeof(b->retry_after), "%s",
		    r.retry_after);
	}
	dh_resp_free(&r);
	return NULL;
}

/* One of several probes sent at once (batching). */
struct conc {
	int probe;			/* probe[probe] is p0<probe + 1> */
	int kiosk;
	long status;
	char user[32];
	char request_id[64];
	double score;
	bool audited;			/* an auth.accept entry names it */
};

struct conc_audit {
	struct conc *c;
	int n;
};

/* Marks the requests whose auth.accept entry is E. */
static int
conc_audited(void *ctx, const struct store_audit_entry *e)
{
	struct conc_audit *a = ctx;
	int k;

	for (k = 0; k < a->n; k++)
		if (e->detail != NULL && strcmp(e->action, "auth.accept") == 0 &&
		    a->c[k].request_id[0] != '\0' &&
		    strstr(e->detail, a->c[k].request_id) != NULL)
			a->c[k].audited = true;
	return 0;
}

static void *
conc_post(void *arg)
{
	struct conc *c = arg;
	struct dh_resp r;
	json_t *j, *u;

	if (dh_signed(&H, NULL, c->kiosk, probe[c->probe],
	    probe_len[c->probe], 0, NULL, &r) != 0)
		return NULL;
	c->status = r.status;
	if (r.status == 200 && (j = json_loadb(r.body, r.len, 0, NULL)) !=
	    NULL) {
		if ((u = json_object_get(j, "user")) != NULL &&
		    json_is_string(json_object_get(u, "id")))
			snprintf(c->user, sizeof(c->user), "%s",
			    json_string_value(json_object_get(u, "id")));
		c->score = json_number_value(json_object_get(j, "score"));
		if (json_is_string(json_object_get(j, "request_id")))
			snprintf(c->request_id, sizeof(c->request_id), "%s",
			    json_string_value(json_object_get(j,
			    "request_id")));
		json_decref(j);
	}
	dh_resp_free(&r);
	return NULL;
}

/* Batches of more than one request so far, and batches in all, from
 * GET /metrics. */
static void
batches_seen(unsigned long long *multi, unsigned long long *all)
{
	struct dh_resp r;
	const char *p;
	unsigned long long one = 0;

	assert_int_equal(dh_request(&H, NULL, "GET", "/metrics", NULL, NULL,
	    0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(p = strstr(r.body,
	    "dt4ecg_inference_batch_requests_bucket{le=\"1\"} "));
	one = strtoull(strchr(p, '}') + 2, NULL, 10);
	assert_non_null(p = strstr(r.body,
	    "\ndt4ecg_inference_batch_requests_count "));
	*all = strtoull(p + strlen("\ndt4ecg_inference_batch_requests_count "),
	    NULL, 10);
	*multi = *all - one;
	/* every stage of a request is timed */
	assert_non_null(strstr(r.body, "dt4ecg_authenticate_stage_seconds_"
	    "count{stage=\"network\"}"));
	assert_non_null(strstr(r.body, "dt4ecg_authenticate_stage_seconds_"
	    "sum{stage=\"audit\"}"));
	dh_resp_free(&r);
}

/* Dynamic batching (issue 17.1): the probes of four persons sent at once,
 * 1:N, with batch_wait_ms 100, are run in batches of several requests
 * (counted in /metrics), and each answer names its own probe's person —
 * no answer goes to another request — and was audited (the batch's entries
 * go in one commit) before it was answered.  Whether the requests overlap
 * is up to the scheduler (a batch waits only for requests whose headers are
 * in): up to five rounds of eight.  Under valgrind one round of two, the
 * answers and their audit checked, batching not required. */
static void
batching_concurrent(void **state)
{
	enum { NMAX = 8 };
	struct conc c[NMAX];
	pthread_t th[NMAX];
	unsigned long long multi0, all0, multi = 0, all = 0;
	/* under valgrind each request takes seconds and every network size
	 * a batch needs is JIT-built the first time: two at once, and a
	 * longer wait for the second */
	int N = under_valgrind ? 2 : NMAX;
	struct conc_audit ca = { c, N };
	struct dt_error err = { 0 };
	int k, round;
	char want[16];

	assert_int_equal(write_conf(threshold, under_valgrind ?
	    "batch_wait_ms = 1000\n" : "batch_wait_ms = 100\n"), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	batches_seen(&multi0, &all0);
	/* one request alone runs as a batch of one */
	json_decref(decision(0, false, "accept", "p01"));
	batches_seen(&multi, &all);
	assert_true(all == all0 + 1 && multi == multi0);
	for (round = 0; round < (under_valgrind ? 1 : 5) && multi == multi0;
	    round++) {
		for (k = 0; k < N; k++) {
			memset(&c[k], 0, sizeof(c[k]));
			c[k].probe = (k + round) % 4;
			c[k].kiosk = k % 2 ? K_REVOKE : K_MAIN;
			assert_int_equal(pthread_create(&th[k], NULL,
			    conc_post, &c[k]), 0);
		}
		for (k = 0; k < N; k++) {
			pthread_join(th[k], NULL);
			if (c[k].status != 200)
				fail_msg("request %d: status %ld", k,
				    c[k].status);
			snprintf(want, sizeof(want), "p%02d", c[k].probe + 1);
			assert_string_equal(c[k].user, want);
			assert_true(c[k].score >= threshold);
		}
		/* answered, so audited already */
		assert_int_equal(store_audit_list(H.s, 0, conc_audited, &ca,
		    &err), 0);
		for (k = 0; k < N; k++)
			assert_true(c[k].audited);
		batches_seen(&multi, &all);
		fprintf(stderr, "batching, round %d: %llu batches for %d "
		    "requests, %llu of several\n", round + 1, all - all0 - 1,
		    N, multi - multi0);
	}
	/* Under valgrind two requests rarely overlap (the second's headers
	 * come in after the first was taken), so only the answers and their
	 * audit are checked there. */
	if (!under_valgrind)
		assert_true(multi > multi0);
	assert_int_equal(write_conf(threshold, NULL), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	still_serving();
}

/* Once /metrics shows a request in inference (bounded wait), the time of
 * GET /v1/health on a kept-alive connection and on a new one: printed, not
 * asserted (a figure for the note, DESIGN.md: no timed assertions). */
static void
health_while_inferring(void)
{
	CURL *c = curl_easy_init();
	struct dh_resp r;
	double t[5], fresh;
	int i, busy = 0, tries;

	assert_non_null(c);
	for (tries = 0; tries < 400 && !busy; tries++) {
		assert_int_equal(dh_request(&H, c, "GET", "/metrics", NULL, NULL,
		    0, &r), 0);
		busy = strstr(r.body, "\ndt4ecg_inference_queue 0\n") == NULL;
		dh_resp_free(&r);
		if (!busy)
			usleep(10000);
	}
	for (i = 0; i < 5 && busy; i++) {
		assert_int_equal(dh_request(&H, c, "GET", "/v1/health", NULL,
		    NULL, 0, &r), 0);
		assert_int_equal(r.status, 200);
		t[i] = r.seconds * 1e3;
		dh_resp_free(&r);
	}
	curl_easy_cleanup(c);
	if (!busy) {
		fprintf(stderr, "inference ended before health was timed\n");
		return;
	}
	assert_int_equal(dh_request(&H, NULL, "GET", "/v1/health", NULL, NULL,
	    0, &r), 0);
	fresh = r.seconds * 1e3;
	dh_resp_free(&r);
	fprintf(stderr, "GET /v1/health while inferring: kept-alive %.1f %.1f "
	    "%.1f %.1f %.1f ms, new TLS connection %.1f ms\n", t[0], t[1],
	    t[2], t[3], t[4], fresh);
}

/* One round of N requests at once; the number of 503s (each with
 * Retry-After; every other answer a 200). */
static int
queue_round(const char *body, size_t len)
{
	enum { N = 8 };
	struct busy b[N];
	pthread_t th[N];
	struct dh_resp r;
	int k, n503 = 0, n200 = 0;

	for (k = 0; k < N; k++) {
		memset(&b[k], 0, sizeof(b[k]));
		b[k].body = body;
		b[k].len = len;
		assert_int_equal(pthread_create(&th[k], NULL, busy_post, &b[k]),
		    0);
	}
	assert_int_equal(dh_request(&H, NULL, "GET", "/v1/health", NULL, NULL,
	    0, &r), 0);
	assert_int_equal(r.status, 200);
	fprintf(stderr, "GET /v1/health during the uploads: %.1f ms\n",
	    r.seconds * 1e3);
	dh_resp_free(&r);
	health_while_inferring();
	for (k = 0; k < N; k++) {
		pthread_join(th[k], NULL);
		if (b[k].status == 503) {
			n503++;
			assert_true(atoi(b[k].retry_after) >= 1);
		} else {
			if (b[k].status != 200)
				fail_msg("status %ld", b[k].status);
			n200++;
		}
	}
	fprintf(stderr, "queue_max 1, %d at once: %d answered, %d 503\n", N,
	    n200, n503);
	assert_true(n200 >= 1);
	return n503;
}

/* Long inferences at once with queue_max = 1: the queue answers 503 with
 * Retry-After instead of piling up, health answers, and every admitted
 * request completes (13.3).  Whether two requests overlap is up to the
 * scheduler: up to five rounds of eight, each 480 s of ECG. */
static void
queue_full_503(void **state)
{
	char *body;
	size_t len, i;
	/* under valgrind inference is slow enough with a minute each */
	size_t n = (under_valgrind ? 60 : 480) * 250;
	float *x;
	int round, n503 = 0;

	queue_max = 1;
	max_duration = 480;
	max_body = 4 << 20;
	assert_int_equal(write_conf(threshold, NULL), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	/* p01's ECG repeated (ECG-ID is 500 Hz: 2 of every 4 samples make
	 * 250 Hz), 1:N */
	x = malloc(n * sizeof(float));
	assert_non_null(x);
	for (i = 0; i < n; i++)
		x[i] = sig4[0][(2 * i) % sig4_n[0]];
	body = dh_body(x, n, sig4_fs[0] / 2, NULL, &len);
	assert_non_null(body);
	for (round = 0; round < 5 && n503 == 0; round++)
		n503 = queue_round(body, len);
	assert_true(n503 >= 1);
	free(body);
	free(x);
	queue_max = 64;
	max_duration = 60;
	max_body = 262144;
	assert_int_equal(write_conf(threshold, NULL), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	still_serving();
}

/* After kiosk_lockout_failures failed decisions in a row a kiosk is
 * locked: 429 with Retry-After, audited, counted in /metrics (13.5a). */
static void
kiosk_lockout(void **state)
{
	float *x;
	size_t n;
	double fs;
	char *b;
	size_t len;
	struct dh_resp r;
	int i;

	/* a stranger (Person_05 is not enrolled), 1:N */
	assert_int_equal(tt_load_wfdb("ecg-id/Person_05/rec_1", &x, &n, &fs), 0);
	b = dh_body(x, n, fs, NULL, &len);
	for (i = 0; i < 6; i++) {
		assert_int_equal(dh_signed(&H, NULL, K_OTHER, b, len, 0, NULL,
		    &r), 0);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "\"reject\""));
		assert_non_null(strstr(r.body, "\"score\":null"));
		dh_resp_free(&r);
	}
	assert_int_equal(dh_signed(&H, NULL, K_OTHER, b, len, 0, NULL, &r), 0);
	expect_problem(&r, 429, "rate-limited");
	assert_true(atoi(r.retry_after) > 500);
	assert_non_null(strstr(r.body, "locked"));
	dh_resp_free(&r);
	/* the other kiosks are not affected */
	still_serving();
	assert_int_equal(dh_request(&H, NULL, "GET", "/metrics", NULL, NULL,
	    0, &r), 0);
	assert_non_null(strstr(r.body, "dt4ecg_kiosk_locks_total 1\n"));
	assert_non_null(strstr(r.body, "dt4ecg_kiosk_failed_decisions_total{"
	    "mode=\"1:N\"}"));
	dh_resp_free(&r);
	free(b);
	free(x);
}

/* TLS 1.2 offers ECDHE with AEAD only: a CBC/SHA-1 suite is refused
 * (13.8). */
static int
gnutls_cli(const char *priority)
{
	char cmd[DH_PATH_MAX * 3];

	snprintf(cmd, sizeof(cmd), "gnutls-cli --x509cafile '%s' --priority "
	    "'%s' -p %u 127.0.0.1 </dev/null >/dev/null 2>&1", H.cert,
	    priority, H.port);
	return system(cmd);
}

static void
tls_ciphers(void **state)
{
	/* ECDHE-ECDSA-AES128-SHA */
	assert_int_not_equal(gnutls_cli("NONE:+VERS-TLS1.2:+ECDHE-ECDSA:"
	    "+AES-128-CBC:+SHA1:+SIGN-ALL:+GROUP-ALL:+COMP-NULL:+CTYPE-X509"),
	    0);
	/* static RSA, DHE */
	assert_int_not_equal(gnutls_cli("NORMAL:-VERS-ALL:+VERS-TLS1.2:"
	    "-KX-ALL:+RSA:+DHE-RSA:+DHE-DSS"), 0);
	/* ECDHE-ECDSA-AES128-GCM-SHA256 */
	assert_int_equal(gnutls_cli("NONE:+VERS-TLS1.2:+ECDHE-ECDSA:"
	    "+AES-128-GCM:+AEAD:+SIGN-ALL:+GROUP-ALL:+COMP-NULL:+CTYPE-X509"),
	    0);
}

/* A TLS client (gnutls-cli) that sends HEAD at once, then trickles
 * BODY one byte every 0.5 s (never idle for timeout_s) for at most 100 s.
 * True if the daemon cut the connection meanwhile. */
static bool
trickle(const char *head, const char *body)
{
	int in[2];
	pid_t pid;
	char port[16];
	int st = 0, i;
	size_t n = strlen(body);
	bool exited = false;

	assert_int_equal(pipe(in), 0);
	snprintf(port, sizeof(port), "%u", H.port);
	if ((pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(in[0], 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(in[1]);
		execlp("gnutls-cli", "gnutls-cli", "--x509cafile", H.cert,
		    "-p", port, "127.0.0.1", (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	close(in[0]);
	signal(SIGPIPE, SIG_IGN);
	if (*head != '\0')
		assert_int_equal(write(in[1], head, strlen(head)),
		    (ssize_t)strlen(head));
	for (i = 0; i < 200 && !exited; i++) {
		if (write(in[1], body + (size_t)i % n, 1) != 1)
			break;
		usleep(500 * 1000);
		exited = waitpid(pid, &st, WNOHANG) == pid;
	}
	close(in[1]);
	if (!exited) {
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
	}
	fprintf(stderr, "slow client: %s after %.1f s\n", exited ? "cut" :
	    "still connected", i * 0.5);
	return exited;
}

/* A client trickling its headers a byte at a time (never idle long
 * enough for timeout_s = 20) is cut at header_timeout_s = 8 (60 under
 * valgrind) (13.4).
 * (The deadline counts from the accept, so it covers the TLS handshake:
 * a few seconds are too tight for a loaded machine.) */
static void
slow_headers_cut(void **state)
{
	assert_true(trickle("", "POST /v1/authenticate HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	still_serving();
}

/* The same for a body: cut at body_timeout_s (here 4). */
static void
slow_body_cut(void **state)
{
	body_timeout = 4;
	assert_int_equal(write_conf(threshold, NULL), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	assert_true(trickle("POST /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Length: 1000\r\n\r\n", "xxxxxxxxxx"));
	body_timeout = under_valgrind ? 120 : 30;
	assert_int_equal(write_conf(threshold, NULL), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	still_serving();
}

/* A second daemon on a port in use fails at start-up: "address already
 * in use", exit 1 (issue 14.2). */
static void
second_daemon_refused(void **state)
{
	char log[DH_PATH_MAX + 32], buf[4096];
	pid_t pid;
	int st = 0, i;
	bool exited = false;
	FILE *f;
	size_t n;

	snprintf(log, sizeof(log), "%s/second.log", H.dir);
	if ((pid = fork()) == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		unsetenv("NOTIFY_SOCKET");
		execl(H.bin, H.bin, "-f", "-c", H.conf, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	for (i = 0; i < 600 && !exited; i++) {
		exited = waitpid(pid, &st, WNOHANG) == pid;
		if (!exited)
			usleep(100 * 1000);
	}
	if (!exited) {
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
	}
	assert_true(exited);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_non_null(f = fopen(log, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "address already in use"));
	still_serving();
}

/* A reload whose clock_skew_s the running nonce cache does not cover is
 * refused (13.2a): a signature 80 s old stays expired. */
static void
reload_skew_refused(void **state)
{
	struct dh_resp r;

	skew_s = 100;
	window_s = 300;
	assert_int_equal(write_conf(threshold, NULL), 0);
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	assert_int_equal(dh_wait_notify(&H, "READY=1", 60 * req_slack), 0);
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, probe[0], probe_len[0],
	    -80, NULL, &r), 0);
	expect_problem(&r, 401, "signature-expired");
	dh_resp_free(&r);
	skew_s = 60;
	window_s = 180;
	assert_int_equal(write_conf(threshold, NULL), 0);
	still_serving();
}

/* A restart forgets no nonce (13.2b): 200, restart, replay 409. */
static void
restart_keeps_nonces(void **state)
{
	char nonce[32];
	struct dh_resp r;
	int status = -1;

	httpsig_nonce(nonce, sizeof(nonce));
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, probe[1], probe_len[1],
	    0, nonce, &r), 0);
	assert_int_equal(r.status, 200);
	dh_resp_free(&r);
	assert_int_equal(dh_stop(&H, 60 * req_slack, &status), 0);
	assert_int_equal(status, 0);
	close(H.notify_fd);
	H.notify_fd = -1;
	/* with a watchdog of 1 s (pings every 0.5 s), for the next test */
	setenv("WATCHDOG_USEC", "1000000", 1);
	assert_int_equal(dh_start(&H, under_valgrind, start_timeout), 0);
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, probe[1], probe_len[1],
	    0, nonce, &r), 0);
	expect_problem(&r, 409, "replayed-nonce");
	dh_resp_free(&r);
	still_serving();
}

/* A reload drains the requests in flight for up to timeout_s: the
 * watchdog keeps being fed meanwhile (13.8).  The daemon was restarted
 * with WATCHDOG_USEC (restart_keeps_nonces); a client trickling a body
 * holds a request in flight across the reload. */
static void
reload_drain_pings_watchdog(void **state)
{
	static const char head[] = "POST /v1/health HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nContent-Length: 200\r\n\r\n";
	int in[2], pings = 0, i;
	bool reloading = false, ready = false;
	char port[16], buf[512];
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(in), 0);
	snprintf(port, sizeof(port), "%u", H.port);
	if ((pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(in[0], 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(in[1]);
		execlp("gnutls-cli", "gnutls-cli", "--x509cafile", H.cert,
		    "-p", port, "127.0.0.1", (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	close(in[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write(in[1], head, sizeof(head) - 1),
	    (ssize_t)(sizeof(head) - 1));
	sleep(under_valgrind ? 12 : 2);	/* handshake and headers are in */
	assert_int_equal(kill(H.pid, SIGHUP), 0);
	/* datagrams until READY=1 (bounded), trickling the body */
	for (i = 0; i < 1800 && !ready; i++) {
		struct pollfd p = { H.notify_fd, POLLIN, 0 };

		if (in[1] != -1 && i % 10 == 0 && write(in[1], "x", 1) != 1)
			break;
		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((n = recv(H.notify_fd, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, "RELOADING=1") != NULL)
			reloading = true;
		else if (reloading && strstr(buf, "WATCHDOG=1") != NULL &&
		    ++pings == 2) {
			close(in[1]);	/* let the drain end */
			in[1] = -1;
		} else if (reloading && strstr(buf, "READY=1") != NULL)
			ready = true;
	}
	if (in[1] != -1)
		close(in[1]);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	fprintf(stderr, "watchdog pings while draining: %d\n", pings);
	assert_true(reloading);
	assert_true(ready);
	assert_true(pings >= 2);
	still_serving();
}

/*
 * Rows written into the store file without the key (issue 13 point 7): a
 * lock lifted and the active model switched are refused, with a log line.
 */
static void
forged_rows_refused(void **state)
{
	struct dt_error err = { 0 };
	struct dh_resp r;
	json_t *j;

	/* p01 locked by the admin, unlocked by writing the file */
	assert_int_equal(store_member_set_locked(H.s, "p01",
	    (int64_t)time(NULL) + 3600, &err), 0);
	write_file_directly("UPDATE members SET locked_until = 0 WHERE id = "
	    "'p01'");
	j = decision(0, true, "reject", NULL);
	json_decref(j);
	assert_true(daemon_logged("member p01: the row does not authenticate"));
	/* the admin lifts the lock the proper way: accepted again */
	assert_int_equal(store_member_set_locked(H.s, "p01", 0, &err), 0);
	json_decref(decision(0, true, "accept", "p01"));

	/* another model made active by writing the file */
	assert_int_equal(store_model_add(H.s, "m-other", H.model_bytes,
	    H.model_len, 32, NULL, &err), 0);
	write_file_directly("UPDATE models SET active = 0 WHERE active = 1; "
	    "UPDATE models SET active = 1 WHERE id = 'm-other'");
	assert_int_equal(dh_signed(&H, NULL, K_MAIN, probe[0], probe_len[0],
	    0, NULL, &r), 0);
	assert_int_equal(r.status, 500);
	dh_resp_free(&r);
	assert_true(daemon_logged("model m-other: its row as the active model "
	    "does not authenticate"));
	/* switched back (the old row's MAC holds again): served again */
	write_file_directly("UPDATE models SET active = 0 WHERE active = 1; "
	    "UPDATE models SET active = 1 WHERE id = 'm-test-1'");
	json_decref(decision(0, false, "accept", "p01"));
}

/* The anchor file follows the log every audit_anchor_s (1 s here) and
 * holds against the store. */
static void
audit_anchor_written(void **state)
{
	struct dt_error err = { 0 };
	struct store_audit_anchor head, *v = NULL;
	char path[DH_PATH_MAX + 16], buf[512];
	size_t n = 0, len;
	FILE *f;
	int i;

	json_decref(decision(0, false, "accept", "p01"));
	assert_int_equal(store_audit_head(H.s, &head, &err), 0);
	snprintf(path, sizeof(path), "%s/audit.anchor", H.dir);
	for (i = 0; i < 600; i++) {	/* a bounded wait, not a timing test */
		free(v);
		v = NULL;
		if ((f = fopen(path, "r")) != NULL) {
			len = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			if (store_anchor_parse(path, buf, len, &v, &n, &err) == 0 &&
			    v[0].count >= head.count)
				break;
		}
		usleep(100 * 1000);
	}
	assert_non_null(v);
	assert_int_equal(n, 1);
	assert_true(v[0].count >= head.count);
	assert_int_equal(store_audit_check_anchor(H.s, &v[0], &err), 0);
	free(v);
	assert_true(daemon_logged("audit anchor: dt4ecg-audit-anchor 1 count="));
}

static void
sigterm_exit_0(void **state)
{
	int status = -1;

	assert_int_equal(dh_stop(&H, 60 * req_slack, &status), 0);
	if (status != 0) {
		char cmd[DH_PATH_MAX * 2];

		/* valgrind's report (or the daemon's last words) */
		snprintf(cmd, sizeof(cmd), "tail -n 80 '%s' >&2",
		    H.daemon_log);
		if (system(cmd) != 0)
			fprintf(stderr, "no daemon log\n");
	}
	assert_int_equal(status, 0);
}

/* The nice value of /proc/PID[/task/TID]/stat (field 19), or -100. */
static int
nice_of(const char *stat_path)
{
	char buf[1024], *p;
	int field, nice = -100;
	size_t n;
	FILE *f = fopen(stat_path, "r");

	if (f == NULL)
		return -100;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command, which may hold spaces: 3 is the state */
	if ((p = strrchr(buf, ')')) == NULL)
		return -100;
	for (field = 2; field < 19 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p != NULL)
		nice = atoi(p + 1);
	return nice;
}

/* The inference threads run at a lower priority than the HTTP threads
 * (queue.c's yield_to_http), so health and refusals answer while
 * inference saturates the cores. */
static void
inference_threads_yield(void **state)
{
	char path[320], comm[64];
	struct dirent *de;
	int base, want, nthreads = 0;
	DIR *d;

	(void)state;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)H.pid);
	base = nice_of(path);
	assert_true(base >= -20 && base <= 19);
	want = base + 5 > 19 ? 19 : base + 5;
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)H.pid);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/comm",
		    (long)H.pid, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;	/* the thread has just ended */
		comm[0] = '\0';
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
		if (strcmp(comm, "dt4ecgd-infer\n") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/stat",
		    (long)H.pid, de->d_name);
		assert_int_equal(nice_of(path), want);
		nthreads++;
	}
	closedir(d);
	assert_true(nthreads >= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_model_503),
		cmocka_unit_test(routes_404_405),
		cmocka_unit_test(activate_live),
		cmocka_unit_test(accept_and_reject),
		cmocka_unit_test(enroll_live),
		cmocka_unit_test(batching_concurrent),
		cmocka_unit_test(bad_bodies_400),
		cmocka_unit_test(signatures_401),
		cmocka_unit_test(replay_409),
		cmocka_unit_test(too_large_413_and_415),
		cmocka_unit_test(chunked_413),
		cmocka_unit_test(unsigned_body_not_read),
		cmocka_unit_test(unusable_signal_422),
		cmocka_unit_test(non_ecg_422),
		cmocka_unit_test(rate_limit_429),
		cmocka_unit_test_teardown(chain_replicas_share, conf_restore),
		cmocka_unit_test(flood_keeps_others_serving),
		cmocka_unit_test(revoked_401),
		cmocka_unit_test(malformed_keyid_401),
		cmocka_unit_test(too_long_400),
		cmocka_unit_test(lockout),
		cmocka_unit_test(kiosk_lockout),
		cmocka_unit_test(tls_versions),
		cmocka_unit_test(tls_ciphers),
		cmocka_unit_test(slow_headers_cut),
		cmocka_unit_test(slow_body_cut),
		cmocka_unit_test(metrics),
		cmocka_unit_test(queue_full_503),
		cmocka_unit_test(inference_threads_yield),
		cmocka_unit_test(reload),
		cmocka_unit_test_teardown(template_follows_member,
		    conf_restore),
		cmocka_unit_test(forged_rows_refused),
		cmocka_unit_test(audit_anchor_written),
		cmocka_unit_test(reload_skew_refused),
		cmocka_unit_test(second_daemon_refused),
		cmocka_unit_test(restart_keeps_nonces),
		cmocka_unit_test(reload_drain_pings_watchdog),
		cmocka_unit_test(sigterm_exit_0),
	};

	if (system("command -v certtool >/dev/null 2>&1") != 0 ||
	    getenv("DT4ECG_DATA") == NULL) {
		fprintf(stderr, "certtool (gnutls-bin) or $DT4ECG_DATA "
		    "missing: skipped\n");
		return 77;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

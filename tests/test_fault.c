/*
 * tests/test_fault.c — dt4ecgd when the store or the memory fails in the
 * middle of a request: tests/dt4ecgd-fault (dt4ecgd linked with
 * tests/fault.c) answers a decision whose audit entry meets SQLITE_BUSY
 * with 503 and one that meets an I/O error with 500, leaving the store as
 * it was (the audit chain verifies with no entry more, the kiosk's failure
 * counter unchanged); an allocation that fails in the request path gives a
 * 500 problem.  The daemon serves on afterwards and stops cleanly: its exit
 * status is checked, so AddressSanitizer's leak check (sanitizer build) or
 * valgrind (DT4ECG_VALGRIND=1) fails the test on a leak.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/cmocka_all.h"

#include "nn/model.h"
#include "store/guard.h"
#include "store/store.h"
#include "tests/dmn_harness.h"
#include "tests/support.h"

static struct dh H;
static char fault_file[DH_PATH_MAX + 32];
static char *probe;
static size_t probe_len;
static bool under_valgrind;

static int
group_setup(void **state)
{
	const char *vg = getenv("DT4ECG_VALGRIND");
	const char *bd = getenv("DT4ECG_BUILDDIR");
	float *x = NULL;
	size_t n;
	double fs;

	(void)state;
	under_valgrind = vg != NULL && strcmp(vg, "1") == 0;
	if (getenv("DT4ECG_DATA") == NULL)
		return -1;
	if (dh_init(&H, "rate_burst = 100\n") != 0 ||
	    dh_model(&H, "m-fault", 7) != 0 ||
	    dh_member(&H, "p01", "Person One", "ecg-id/Person_01/rec_1",
	    false) != 0 || dh_activate(&H) != 0)
		return -1;
	snprintf(H.bin, sizeof(H.bin), "%s/tests/dt4ecgd-fault",
	    bd != NULL ? bd : ".");
	snprintf(fault_file, sizeof(fault_file), "%s/fault", H.dir);
	setenv("DT4ECG_FAULT_FILE", fault_file, 1);
	if (tt_load_wfdb("ecg-id/Person_01/rec_2", &x, &n, &fs) != 0)
		return -1;
	probe = dh_body(x, n, fs, NULL, &probe_len);
	free(x);
	if (probe == NULL)
		return -1;
	return dh_start(&H, under_valgrind, under_valgrind ? 300 : 60);
}

static int
group_teardown(void **state)
{
	int st = -1;

	(void)state;
	/* a crash, a leak (LSan, valgrind) or a hang: not 0 */
	if (dh_stop(&H, under_valgrind ? 120 : 30, &st) != 0 || st != 0) {
		fprintf(stderr, "dt4ecgd-fault exited %d (log: %s)\n", st,
		    H.daemon_log);
		return -1;
	}
	free(probe);
	dh_cleanup(&H);
	return 0;
}

static void
set_fault(const char *line)
{
	FILE *f = fopen(fault_file, "w");

	assert_non_null(f);
	fprintf(f, "%s\n", line);
	assert_int_equal(fclose(f), 0);
}

static void
clear_fault(void)
{
	assert_int_equal(unlink(fault_file), 0);
}

/* What a failed request must not change. */
struct snap {
	int64_t audit_n;
	unsigned kiosk_fails;
};

static void
snap(struct snap *s)
{
	struct dt_error err = { 0 };
	struct store_kiosk_guard kg;
	int64_t bad = -1;

	assert_int_equal(store_audit_verify(H.s, &bad, &s->audit_n, &err), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(store_kiosk_guard_get(H.s, H.kiosk_id[0], &kg, &err),
	    0);
	s->kiosk_fails = kg.fails;
}

static void
expect_problem(const struct dh_resp *r, long status, const char *slug)
{
	json_t *j, *type;

	assert_int_equal(r->status, status);
	assert_string_equal(r->content_type, "application/problem+json");
	j = json_loads(r->body, 0, NULL);
	assert_non_null(j);
	type = json_object_get(j, "type");
	assert_non_null(type);
	assert_non_null(strstr(json_string_value(type), slug));
	assert_int_equal(json_integer_value(json_object_get(j, "status")),
	    status);
	json_decref(j);
}

/* The daemon is alive and decides again: one audit entry more. */
static void
serves_again(const struct snap *before)
{
	struct dh_resp r;
	struct snap after;

	assert_int_equal(kill(H.pid, 0), 0);
	assert_int_equal(dh_signed(&H, NULL, 0, probe, probe_len, 0, NULL,
	    &r), 0);
	assert_int_equal(r.status, 200);
	dh_resp_free(&r);
	snap(&after);
	assert_int_equal(after.audit_n, before->audit_n + 1);
}

static void
audit_fault(const char *fault, long status, const char *slug)
{
	struct dh_resp r;
	struct snap before, after;

	snap(&before);
	set_fault(fault);
	assert_int_equal(dh_signed(&H, NULL, 0, probe, probe_len, 0, NULL,
	    &r), 0);
	clear_fault();
	expect_problem(&r, status, slug);
	assert_non_null(strstr(r.body, "could not be audited"));
	dh_resp_free(&r);
	/* nothing half-written: no entry, the chain whole, no failure
	 * counted for a decision that was not given */
	snap(&after);
	assert_int_equal(after.audit_n, before.audit_n);
	assert_int_equal(after.kiosk_fails, before.kiosk_fails);
	serves_again(&before);
}

static void
audit_busy_503(void **state)
{
	(void)state;
	audit_fault("step busy INSERT INTO audit", 503, "unavailable");
}

static void
audit_ioerr_500(void **state)
{
	(void)state;
	audit_fault("step ioerr INSERT INTO audit", 500, "internal");
}

/* The embedding's buffer (calloc(dim, sizeof(float)), dim 32) cannot be
 * had: a 500 problem, and the next request is served. */
static void
request_calloc_500(void **state)
{
	struct dh_resp r;
	struct snap before;
	char line[64];

	(void)state;
	assert_int_equal(H.model->hp.embedding_dim, 32);
	snap(&before);
	snprintf(line, sizeof(line), "calloc %d %zu",
	    H.model->hp.embedding_dim, sizeof(float));
	set_fault(line);
	assert_int_equal(dh_signed(&H, NULL, 0, probe, probe_len, 0, NULL,
	    &r), 0);
	clear_fault();
	expect_problem(&r, 500, "internal");
	dh_resp_free(&r);
	serves_again(&before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(audit_busy_503),
		cmocka_unit_test(audit_ioerr_500),
		cmocka_unit_test(request_calloc_500),
	};
	int rc;

	if (getenv("DT4ECG_DATA") == NULL ||
	    access(getenv("DT4ECG_DATA"), R_OK) != 0) {
		printf("DT4ECG_DATA not readable: skipped\n");
		return 77;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests_name("dt4ecgd_faults", tests,
	    group_setup, group_teardown);
	curl_global_cleanup();
	return rc;
}

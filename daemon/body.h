/*
 * daemon/body.h — the POST /v1/authenticate JSON body (DESIGN.md section 5):
 *
 *	{"ecg": {"fs_hz": 250, "units": "mV", "lead": "I", "samples": [..]},
 *	 "claimed_user": "optional id"}
 *
 * Strict: the JSON must be valid (no duplicate keys, no NaN/Infinity
 * literals), every member has its type, unknown members are rejected (a
 * misspelt "claimed_user" must not silently turn a 1:1 check into 1:N),
 * units must be "mV", lead "I", fs_hz within BODY_FS_MIN..BODY_FS_MAX,
 * 1..BODY_SAMPLES_MAX samples, each finite as a float32, claimed_user
 * (absent or null for 1:N) 1..BODY_USER_MAX characters of
 * [A-Za-z0-9._@-].
 */
#ifndef DT_DAEMON_BODY_H
#define DT_DAEMON_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/problem.h"
#include "util/error.h"

#define BODY_FS_MIN 50.0
#define BODY_FS_MAX 2000.0
#define BODY_SECONDS_MAX 60
#define BODY_SAMPLES_MAX ((size_t)BODY_FS_MAX * BODY_SECONDS_MAX)
#define BODY_USER_MAX 64

struct body_auth {
	double fs_hz;
	float *samples;		/* mV; biometric: wiped by body_free() */
	size_t nsamples;
	bool has_claimed_user;
	char claimed_user[BODY_USER_MAX + 1];
};

/*
 * Parses and validates len bytes of JSON.  Returns PROBLEM_OK and sets *out
 * (free with body_free()), or PROBLEM_BAD_JSON (not JSON, with line and
 * column) / PROBLEM_BAD_FIELD (a member missing or invalid, named by its
 * path, e.g. "ecg.samples[17]"), PROBLEM_INTERNAL when out of memory.
 */
enum problem_kind body_parse(const void *buf, size_t len,
    struct body_auth **out, struct dt_error *err);
/*
 * The reference: the whole document through jansson.  body_parse() takes a
 * fast path (no jansson value per sample) for bodies of the usual shape and
 * answers exactly as this does — same result, same values, same message —
 * falling back to it for anything else (fuzz/fuzz_body.c checks both agree).
 */
enum problem_kind body_parse_jansson(const void *buf, size_t len,
    struct body_auth **out, struct dt_error *err);

/* Wipes the samples and frees; accepts NULL. */
void body_free(struct body_auth *b);

/*
 * Makes jansson wipe every block it frees (json_set_alloc_funcs): the
 * parsed body holds ECG samples as JSON reals and strings.  Call once,
 * before any thread uses jansson.  body_wipe_malloc/free are the pair
 * (plain malloc blocks, wiped over malloc_usable_size before free).
 */
void body_wipe_json_allocs(void);
void *body_wipe_malloc(size_t n);
void body_wipe_free(void *p);

#endif /* DT_DAEMON_BODY_H */

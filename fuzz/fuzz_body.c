/*
 * fuzz/fuzz_body.c — the /v1/authenticate JSON body parser.  Differential:
 * body_parse (its fast path, else jansson) must answer exactly as the
 * reference body_parse_jansson — the same problem, the same message, the
 * same fields and samples bit for bit.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct body_auth *b = NULL, *r = NULL;
	struct dt_error err = { 0 }, rerr = { 0 };
	enum problem_kind pk, rk;

	pk = body_parse(data, size, &b, &err);
	rk = body_parse_jansson(data, size, &r, &rerr);
	if (pk != rk)
		abort();
	if (pk != PROBLEM_OK) {
		if (strcmp(err.msg, rerr.msg) != 0)
			abort();
		return 0;
	}
	if (b == NULL || r == NULL || b->nsamples == 0 ||
	    b->nsamples > BODY_SAMPLES_MAX || b->nsamples != r->nsamples ||
	    memcmp(&b->fs_hz, &r->fs_hz, sizeof(b->fs_hz)) != 0 ||
	    memcmp(b->samples, r->samples, b->nsamples *
	    sizeof(*b->samples)) != 0 ||
	    b->has_claimed_user != r->has_claimed_user ||
	    strcmp(b->claimed_user, r->claimed_user) != 0)
		abort();
	body_free(b);
	body_free(r);
	return 0;
}

/* fuzz/fuzz_body.c — the /v1/authenticate JSON body parser. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "daemon/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct body_auth *b = NULL;
	struct dt_error err;

	if (body_parse(data, size, &b, &err) == PROBLEM_OK) {
		if (b == NULL || b->nsamples == 0 ||
		    b->nsamples > BODY_SAMPLES_MAX)
			abort();
		body_free(b);
	}
	return 0;
}

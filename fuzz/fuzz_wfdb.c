/*
 * fuzz/fuzz_wfdb.c — the WFDB header parser and the format 16/212 decoder.
 * Input: the header text, a NUL byte, then the bytes of the signal file (no
 * NUL: all header, no data).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "ecg/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecg_record *r = NULL;
	struct dt_error err;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t hlen = nul != NULL ? (size_t)(nul - data) : size;
	const uint8_t *dat = nul != NULL ? nul + 1 : data + size;
	size_t dlen = size - hlen - (nul != NULL);

	if (ecg_parse_wfdb((const char *)data, hlen, dat, dlen, "fuzz", &r,
	    &err) == 0)
		ecg_record_free(r);
	return 0;
}

/*
 * fuzz/fuzz_csv.c — the CSV/TSV parser.  The first byte picks the column
 * (-1..6), the rest is the text.
 */
#include "config.h"

#include <stdint.h>

#include "ecg/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecg_record *r = NULL;
	struct dt_error err;
	int column;

	if (size < 1)
		return 0;
	column = (int)(data[0] % 8) - 1;
	if (ecg_parse_csv((const char *)data + 1, size - 1, "fuzz", 500.0,
	    column, 1.0, &r, &err) == 0)
		ecg_record_free(r);
	return 0;
}

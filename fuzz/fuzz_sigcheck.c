/*
 * fuzz/fuzz_sigcheck.c — the signal check (ecg/sigcheck.h) on whatever a
 * kiosk may send: the first byte picks the rate (50..2000 Hz), the rest is
 * read as little-endian float32 samples (non-finite ones are refused by
 * ecg_prep_filter first, as in the pipeline).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecg/prep.h"
#include "ecg/sigcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double rates[] = { 50, 128, 250, 360, 500, 1000, 2000 };
	struct ecg_prep_params pp;
	struct ecg_sigcheck_params sp;
	struct ecg_sigcheck_result r;
	struct dt_error err;
	float *x, *y = NULL;
	size_t n, ny = 0;
	double fs;

	if (size < 1)
		return 0;
	fs = rates[data[0] % 7];
	n = (size - 1) / sizeof(float);
	if ((x = malloc((n ? n : 1) * sizeof(float))) == NULL)
		return 0;
	memcpy(x, data + 1, n * sizeof(float));
	ecg_prep_params_default(&pp, 250, 512);
	ecg_sigcheck_params_default(&sp);
	(void)ecg_sigcheck_raw(x, n, &err);
	if (ecg_prep_filter(x, n, fs, &pp, &y, &ny, &err) == 0) {
		(void)ecg_sigcheck(y, ny, pp.fs_hz, &sp, &r, &err);
		free(y);
	}
	free(x);
	return 0;
}

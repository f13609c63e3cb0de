/* tests/support_data.c — the recording helper of tests/support.h (apart
 * from support.c so that a network test needs no ecg/ library). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "ecg/load.h"
#include "tests/support.h"

int
tt_load_wfdb(const char *rel, float **mv, size_t *n, double *fs)
{
	struct dt_error err = { 0 };
	const char *data = getenv("DT4ECG_DATA");
	char path[4096];

	if (data == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", data, rel);
	if (ecg_load_signal(path, ECG_FORMAT_WFDB, 0, 0, mv, n, fs,
	    &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

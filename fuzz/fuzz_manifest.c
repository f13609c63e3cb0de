/*
 * fuzz/fuzz_manifest.c — the data-set manifest parser (data_manifest_parse)
 * on arbitrary bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct data_manifest *m = NULL;
	struct dt_error err;
	size_t i;

	if (data_manifest_parse((const char *)data, size, "fuzz/in.csv", &m,
	    &err) != 0) {
		if (strlen(err.msg) == 0)
			abort();	/* every failure says why */
		return 0;
	}
	for (i = 0; i < m->n; i++)
		if (m->e[i].path == NULL || m->e[i].subject == NULL ||
		    m->e[i].session == NULL || m->e[i].path[0] == '\0')
			abort();
	data_manifest_free(m);
	return 0;
}

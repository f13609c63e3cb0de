/* fuzz/fuzz_anchor.c — the audit anchor file parser (audit verify --anchor).
 * Every anchor it accepts must format back to a line that parses to the
 * same anchor. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_audit_anchor *v = NULL, *w = NULL;
	struct dt_error err;
	char line[STORE_ANCHOR_LINE_MAX];
	size_t n = 0, m = 0, i;

	if (store_anchor_parse("fuzz", (const char *)data, size, &v, &n,
	    &err) != 0)
		return 0;
	for (i = 0; i < n; i++) {
		store_anchor_format(&v[i], line, sizeof(line));
		if (store_anchor_parse("fuzz", line, strlen(line), &w, &m,
		    &err) != 0 || m != 1 || w[0].count != v[i].count ||
		    w[0].ts != v[i].ts || memcmp(w[0].head, v[i].head, 32) != 0)
			abort();
		free(w);
		w = NULL;
	}
	free(v);
	return 0;
}

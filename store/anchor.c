/* store/anchor.c — the text form of audit anchors.  See store.h. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store.h"

#define ANCHOR_TAG "dt4ecg-audit-anchor 1 "
#define ANCHOR_LINES_MAX 100000

void
store_anchor_format(const struct store_audit_anchor *a, char *buf, size_t len)
{
	char hex[65];

	sodium_bin2hex(hex, sizeof(hex), a->head, sizeof(a->head));
	snprintf(buf, len, ANCHOR_TAG "count=%" PRId64 " head=%s time=%" PRId64,
	    a->count, hex, a->ts);
}

/* Parses "NAME=" digits at *P (up to END) into *V; advances *P. */
static int
field_num(const char **p, const char *end, const char *name, int64_t *v)
{
	size_t n = strlen(name), digits = 0;
	int64_t x = 0;

	if ((size_t)(end - *p) < n || memcmp(*p, name, n) != 0)
		return -1;
	*p += n;
	while (*p < end && **p >= '0' && **p <= '9') {
		if (++digits > 18)
			return -1;
		x = x * 10 + (**p - '0');
		(*p)++;
	}
	if (digits == 0)
		return -1;
	*v = x;
	return 0;
}

/* One line (without its newline): 1 an anchor, 0 blank, -1 malformed. */
static int
parse_line(const char *line, size_t len, struct store_audit_anchor *a)
{
	const char *p, *end = line + len, *tag = NULL;
	size_t i, taglen = strlen(ANCHOR_TAG);

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
	    line[len - 1] == '\t'))
		end = line + --len;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len)
		return 0;
	for (i = 0; i + taglen <= len; i++)
		if (memcmp(line + i, ANCHOR_TAG, taglen) == 0) {
			tag = line + i;
			break;
		}
	if (tag == NULL)
		return -1;
	p = tag + taglen;
	memset(a, 0, sizeof(*a));
	if (field_num(&p, end, "count=", &a->count) == -1 || p == end ||
	    *p++ != ' ' || (size_t)(end - p) < 5 + 64 ||
	    memcmp(p, "head=", 5) != 0)
		return -1;
	p += 5;
	if (sodium_hex2bin(a->head, sizeof(a->head), p, 64, NULL, NULL, NULL)
	    != 0)
		return -1;
	p += 64;
	if (p == end || *p++ != ' ' ||
	    field_num(&p, end, "time=", &a->ts) == -1 || p != end)
		return -1;
	return 1;
}

int
store_anchor_parse(const char *name, const char *text, size_t len,
    struct store_audit_anchor **out, size_t *n, struct dt_error *err)
{
	struct store_audit_anchor *v = NULL, a;
	const char *p = text, *end = text + len, *nl;
	size_t cnt = 0, cap = 0, lineno = 0;
	int r;

	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL)
			r = -1;
		else
			r = parse_line(p, (size_t)(nl - p), &a);
		if (r == -1) {
			free(v);
			return dt_error_set(err, DT_E_FORMAT, "%s:%zu: not an "
			    "audit anchor (expected \"dt4ecg-audit-anchor 1 "
			    "count=N head=<64 hex digits> time=T\")", name,
			    lineno);
		}
		if (r == 1) {
			if (cnt == ANCHOR_LINES_MAX) {
				free(v);
				return dt_error_set(err, DT_E_FORMAT, "%s: more "
				    "than %d anchors", name, ANCHOR_LINES_MAX);
			}
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 8;
				void *t = realloc(v, nc * sizeof(*v));

				if (t == NULL) {
					free(v);
					return dt_error_set(err, DT_E_NOMEM,
					    "%s: out of memory", name);
				}
				v = t;
				cap = nc;
			}
			v[cnt++] = a;
		}
		p = nl + 1;
	}
	if (cnt == 0)
		return dt_error_set(err, DT_E_FORMAT, "%s: no audit anchor in "
		    "the file", name);
	*out = v;
	*n = cnt;
	return 0;
}

/* daemon/cfg.c — dt4ecgd.conf; see cfg.h. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/cfg.h"

enum cfg_type {
	CFG_T_STR,
	CFG_T_UINT,
	CFG_T_DOUBLE,
};

struct cfg_def {
	const char *name;
	enum cfg_type type;
	size_t offset;
	size_t size;		/* of a string member */
	const char *def;	/* parsed like a value from the file */
	double min, max;	/* numbers; strings: length */
};

#define STR(f, d) \
	{ #f, CFG_T_STR, offsetof(struct cfg, f), \
	  sizeof(((struct cfg *)0)->f), d, 1, CFG_STR_MAX - 1 }
#define UINT(f, d, lo, hi) \
	{ #f, CFG_T_UINT, offsetof(struct cfg, f), 0, d, lo, hi }
#define DBL(f, d, lo, hi) \
	{ #f, CFG_T_DOUBLE, offsetof(struct cfg, f), 0, d, lo, hi }

static const struct cfg_def defs[] = {
	STR(listen, "0.0.0.0"),
	UINT(port, "8443", 1, 65535),
	STR(tls_cert, "/etc/dt4ecgd/tls.crt"),
	STR(tls_key, "/etc/dt4ecgd/tls.key"),
	STR(store, "/var/lib/dt4ecg/dt4ecg.db"),
	STR(store_key, "/etc/dt4ecgd/store.key"),
	UINT(threads, "0", 0, 1024),
	UINT(network_threads, "0", 0, 64),
	DBL(threshold, "0.7", -1, 1),
	UINT(max_body, "1048576", 1024, 64 * 1024 * 1024),
	UINT(clock_skew_s, "60", 1, 3600),
	DBL(rate_per_kiosk, "2", 0.001, 10000),
	DBL(rate_burst, "10", 1, 100000),
	UINT(chain_replicas, "1", 1, 64),
	UINT(template_updates, "0", 0, 16),
	DBL(template_update_margin, "0.1", 0, 2),
	UINT(template_update_interval_s, "3600", 0, 30 * 86400),
	UINT(lockout_failures, "5", 1, 1000),
	UINT(lockout_s, "300", 1, 7 * 86400),
	UINT(replay_window_s, "180", 1, 86400),
	UINT(replay_capacity, "65536", 16, 1 << 24),
	UINT(connection_limit, "256", 1, 65536),
	UINT(per_ip_limit, "32", 0, 65536),
	UINT(timeout_s, "15", 1, 3600),
	UINT(max_duration_s, "60", 1, 2400),
	UINT(queue_max, "64", 1, 65536),
	UINT(batch_max, "64", 1, 256),
	DBL(batch_wait_ms, "2", 0, 1000),
	UINT(kiosk_lockout_failures, "20", 1, 100000),
	UINT(kiosk_lockout_s, "600", 1, 7 * 86400),
	UINT(header_timeout_s, "10", 1, 3600),
	UINT(body_timeout_s, "30", 1, 3600),
	UINT(audit_anchor_s, "300", 0, 86400),
	STR(audit_anchor_file, "/var/lib/dt4ecg/audit.anchor"),
	STR(precision, "f32"),
};

#undef STR
#undef UINT
#undef DBL

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

/* Sets the member of def d from value v; -1 with the reason in err. */
static int
set_value(struct cfg *c, const struct cfg_def *d, const char *v,
    struct dt_error *err)
{
	char *p = (char *)c + d->offset, *end;
	size_t n = strlen(v);
	unsigned long long u;
	double x;

	switch (d->type) {
	case CFG_T_STR:
		if (n < (size_t)d->min || n >= d->size)
			return dt_error_set(err, DT_E_INVALID, "%s: must be 1 "
			    "to %zu characters", d->name, d->size - 1);
		memcpy(p, v, n + 1);
		return 0;
	case CFG_T_UINT:
		if (n == 0 || strspn(v, "0123456789") != n || n > 12)
			return dt_error_set(err, DT_E_INVALID, "%s: \"%.64s\" is "
			    "not a whole number", d->name, v);
		u = strtoull(v, NULL, 10);
		if ((double)u < d->min || (double)u > d->max)
			return dt_error_set(err, DT_E_INVALID, "%s: %llu outside "
			    "%.0f..%.0f", d->name, u, d->min, d->max);
		*(unsigned *)(void *)p = (unsigned)u;
		return 0;
	case CFG_T_DOUBLE:
		errno = 0;
		x = n == 0 ? NAN : strtod(v, &end);
		if (n == 0 || *end != '\0' || errno != 0 || !isfinite(x) ||
		    strpbrk(v, "xXnNiI") != NULL)
			return dt_error_set(err, DT_E_INVALID, "%s: \"%.64s\" is "
			    "not a number", d->name, v);
		if (x < d->min || x > d->max)
			return dt_error_set(err, DT_E_INVALID, "%s: %g outside "
			    "%g..%g", d->name, x, d->min, d->max);
		*(double *)(void *)p = x;
		return 0;
	}
	return dt_error_set(err, DT_E_INTERNAL, "%s: bad type", d->name);
}

void
cfg_defaults(struct cfg *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NDEFS; i++)
		if (set_value(c, &defs[i], defs[i].def, NULL) != 0)
			abort();	/* the table itself is wrong */
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

int
cfg_parse(const char *name, const char *text, size_t len, struct cfg *out,
    struct dt_error *err)
{
	struct cfg c;
	bool seen[NDEFS];
	char line[CFG_LINE_MAX + 1];
	size_t pos = 0, lineno = 0, n, i;

	cfg_defaults(&c);
	memset(seen, 0, sizeof(seen));
	if (memchr(text, '\0', len) != NULL)
		return dt_error_set(err, DT_E_FORMAT, "%s: has a NUL byte",
		    name);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		char *k, *v, *e;

		n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		if (n > CFG_LINE_MAX)
			return dt_error_set(err, DT_E_FORMAT, "%s:%zu: line "
			    "longer than %d bytes", name, lineno, CFG_LINE_MAX);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';

		/* Comment: a line starting with #, or " #" ending one. */
		for (k = line; is_space(*k); k++)
			;
		if (*k == '#' || *k == '\0')
			continue;
		for (e = k; *e != '\0'; e++)
			if (*e == '#' && is_space(e[-1])) {
				*e = '\0';
				break;
			}
		for (v = k; (*v >= 'a' && *v <= 'z') || *v == '_' ||
		    (*v >= '0' && *v <= '9'); v++)
			;
		e = v;
		while (is_space(*v))
			v++;
		if (e == k || *v != '=')
			return dt_error_set(err, DT_E_FORMAT, "%s:%zu: expected "
			    "\"key = value\"", name, lineno);
		*e = '\0';
		for (v++; is_space(*v); v++)
			;
		for (e = v + strlen(v); e > v && is_space(e[-1]); e--)
			;
		*e = '\0';
		for (i = 0; i < NDEFS; i++)
			if (strcmp(defs[i].name, k) == 0)
				break;
		if (i == NDEFS)
			return dt_error_set(err, DT_E_INVALID, "%s:%zu: unknown "
			    "key \"%.64s\"", name, lineno, k);
		if (seen[i])
			return dt_error_set(err, DT_E_INVALID, "%s:%zu: %s set "
			    "twice", name, lineno, k);
		seen[i] = true;
		if (set_value(&c, &defs[i], v, err) != 0) {
			dt_error_prefix(err, "%s:%zu", name, lineno);
			return -1;
		}
	}
	if (strcmp(c.precision, "f32") != 0 && strcmp(c.precision, "int8") != 0)
		return dt_error_set(err, DT_E_INVALID, "%s: precision \"%.32s\": "
		    "f32 or int8", name, c.precision);
	if (c.replay_window_s <= 2 * c.clock_skew_s)
		return dt_error_set(err, DT_E_INVALID, "%s: replay_window_s (%u) "
		    "must be more than twice clock_skew_s (%u), or a nonce "
		    "could be replayed while its signature is still accepted",
		    name, c.replay_window_s, c.clock_skew_s);
	*out = c;
	return 0;
}

int
cfg_load(const char *path, struct cfg *out, struct dt_error *err)
{
	FILE *f;
	char *buf = NULL;
	size_t n;
	int rc = -1;

	if ((f = fopen(path, "r")) == NULL)
		return dt_error_set(err, DT_E_IO, "%s: %s", path,
		    strerror(errno));
	if ((buf = malloc(CFG_FILE_MAX + 1)) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	n = fread(buf, 1, CFG_FILE_MAX + 1, f);
	if (ferror(f)) {
		dt_error_set(err, DT_E_IO, "%s: read error", path);
		goto out;
	}
	if (n > CFG_FILE_MAX) {
		dt_error_set(err, DT_E_FORMAT, "%s: larger than %d bytes", path,
		    CFG_FILE_MAX);
		goto out;
	}
	rc = cfg_parse(path, buf, n, out, err);
out:
	free(buf);
	fclose(f);
	return rc;
}

unsigned
cfg_threads(const struct cfg *c)
{
	long n;

	if (c->threads > 0)
		return c->threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

double
cfg_kiosk_rate(const struct cfg *c)
{
	return c->rate_per_kiosk / (double)c->chain_replicas;
}

double
cfg_kiosk_burst(const struct cfg *c)
{
	double b = c->rate_burst / (double)c->chain_replicas;

	return b < 1 ? 1 : b;
}

/* end of cfg.c */

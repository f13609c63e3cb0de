/*
 * data/manifest.c — the manifest CSV reader (see manifest.h).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/manifest.h"

#define HEADER "path,format,subject,activity,session,fs_hz,lead"
#define NFIELDS 7

const char *
data_format_name(enum data_format f)
{
	switch (f) {
	case DATA_FMT_WFDB: return "wfdb";
	case DATA_FMT_CSV: return "csv";
	case DATA_FMT_ADC_TS: return "adc-ts";
	}
	return "?";
}

static void
entry_clear(struct data_entry *e)
{
	free(e->path);
	free(e->subject);
	free(e->activity);
	free(e->session);
	memset(e, 0, sizeof(*e));
}

void
data_manifest_free(struct data_manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		entry_clear(&m->e[i]);
	free(m->e);
	free(m->name);
	free(m->file);
	free(m);
}

static char *
dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* A field may not hold control characters or quotes (no quoting here). */
static int
field_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '"')
			return 0;
	}
	return 1;
}

static int
parse_line(const char *line, size_t len, const char *file, size_t lineno,
    const char *dir, size_t dirlen, struct data_entry *e,
    struct dt_error *err)
{
	const char *f[NFIELDS];
	size_t fl[NFIELDS];
	const char *p = line, *end = line + len;
	int k = 0, rc = -1;
	char num[64], *ep;

	memset(e, 0, sizeof(*e));
	e->line = lineno;
	for (;;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *fe = c ? c : end;

		if (k == NFIELDS)
			return dt_error_set(err, DT_E_FORMAT, "%s:%zu: more than "
			    "%d fields", file, lineno, NFIELDS);
		f[k] = p;
		fl[k] = (size_t)(fe - p);
		if (!field_ok(f[k], fl[k]))
			return dt_error_set(err, DT_E_FORMAT, "%s:%zu: field %d: "
			    "control character or quote", file, lineno, k + 1);
		k++;
		if (c == NULL)
			break;
		p = c + 1;
	}
	if (k != NFIELDS)
		return dt_error_set(err, DT_E_FORMAT, "%s:%zu: %d fields, "
		    "expected %d (%s)", file, lineno, k, NFIELDS, HEADER);
	if (fl[0] == 0)
		return dt_error_set(err, DT_E_FORMAT, "%s:%zu: empty path",
		    file, lineno);
	if (fl[1] == 4 && memcmp(f[1], "wfdb", 4) == 0)
		e->format = DATA_FMT_WFDB;
	else if (fl[1] == 3 && memcmp(f[1], "csv", 3) == 0)
		e->format = DATA_FMT_CSV;
	else if (fl[1] == 6 && memcmp(f[1], "adc-ts", 6) == 0)
		e->format = DATA_FMT_ADC_TS;
	else
		return dt_error_set(err, DT_E_FORMAT, "%s:%zu: format '%.*s': "
		    "expected wfdb, csv or adc-ts", file, lineno,
		    (int)(fl[1] > 32 ? 32 : fl[1]), f[1]);
	if (fl[2] == 0)
		return dt_error_set(err, DT_E_FORMAT, "%s:%zu: empty subject",
		    file, lineno);
	e->fs_hz = 0;
	if (fl[5] > 0) {
		if (fl[5] >= sizeof(num))
			return dt_error_set(err, DT_E_FORMAT, "%s:%zu: fs_hz: "
			    "too long", file, lineno);
		memcpy(num, f[5], fl[5]);
		num[fl[5]] = '\0';
		errno = 0;
		e->fs_hz = strtod(num, &ep);
		if (errno || ep == num || *ep || !isfinite(e->fs_hz) ||
		    e->fs_hz < 50 || e->fs_hz > 2000)
			return dt_error_set(err, DT_E_FORMAT, "%s:%zu: fs_hz "
			    "'%s': expected a rate of 50..2000 Hz or nothing",
			    file, lineno, num);
	} else if (e->format == DATA_FMT_CSV)
		return dt_error_set(err, DT_E_FORMAT, "%s:%zu: fs_hz is "
		    "required for csv", file, lineno);
	e->lead = 0;
	if (fl[6] > 0) {
		long v;

		if (fl[6] >= sizeof(num))
			return dt_error_set(err, DT_E_FORMAT, "%s:%zu: lead: "
			    "too long", file, lineno);
		memcpy(num, f[6], fl[6]);
		num[fl[6]] = '\0';
		errno = 0;
		v = strtol(num, &ep, 10);
		if (errno || ep == num || *ep || v < 0 || v > 1000)
			return dt_error_set(err, DT_E_FORMAT, "%s:%zu: lead '%s':"
			    " expected an integer 0..1000", file, lineno, num);
		e->lead = (int)v;
	}
	if (f[0][0] == '/' || dir == NULL) {
		e->path = dupn(f[0], fl[0]);
	} else if ((e->path = malloc(dirlen + 1 + fl[0] + 1)) != NULL) {
		memcpy(e->path, dir, dirlen);
		e->path[dirlen] = '/';
		memcpy(e->path + dirlen + 1, f[0], fl[0]);
		e->path[dirlen + 1 + fl[0]] = '\0';
	}
	e->subject = dupn(f[2], fl[2]);
	e->activity = fl[3] ? dupn(f[3], fl[3]) : NULL;
	e->session = dupn(f[4], fl[4]);
	if (e->path == NULL || e->subject == NULL || e->session == NULL ||
	    (fl[3] && e->activity == NULL)) {
		dt_error_set(err, DT_E_NOMEM, "%s:%zu: out of memory", file,
		    lineno);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		entry_clear(e);
	return rc;
}

int
data_manifest_parse(const char *text, size_t len, const char *file,
    struct data_manifest **out, struct dt_error *err)
{
	struct data_manifest *m;
	const char *p = text, *end = text + len, *slash, *base;
	size_t lineno = 0, cap = 0, dirlen = 0, bl;
	int have_header = 0, rc = -1;

	if (file == NULL)
		file = "manifest";
	if (text == NULL && len > 0)
		return dt_error_set(err, DT_E_INVALID, "%s: NULL text", file);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	slash = strrchr(file, '/');
	base = slash ? slash + 1 : file;
	dirlen = slash ? (size_t)(slash - file) : 0;	/* "/x.csv": 0, "/" */
	bl = strlen(base);
	if (bl > 4 && strcmp(base + bl - 4, ".csv") == 0)
		bl -= 4;
	m->name = dupn(base, bl);
	m->file = strdup(file);
	if (m->name == NULL || m->file == NULL) {
		dt_error_set(err, DT_E_NOMEM, "out of memory");
		goto out;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t ll = (size_t)(le - p);

		lineno++;
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll > DATA_MANIFEST_MAX_LINE) {
			dt_error_set(err, DT_E_FORMAT, "%s:%zu: line longer "
			    "than %d bytes", file, lineno,
			    DATA_MANIFEST_MAX_LINE);
			goto out;
		}
		if (memchr(p, '\0', ll) != NULL) {
			dt_error_set(err, DT_E_FORMAT, "%s:%zu: NUL byte", file,
			    lineno);
			goto out;
		}
		if (ll == 0 || p[0] == '#') {
			/* blank or comment */
		} else if (!have_header) {
			if (ll != strlen(HEADER) || memcmp(p, HEADER, ll) != 0) {
				dt_error_set(err, DT_E_FORMAT, "%s:%zu: expected "
				    "the header '%s'", file, lineno, HEADER);
				goto out;
			}
			have_header = 1;
		} else {
			size_t i;

			if (m->n == DATA_MANIFEST_MAX_ENTRIES) {
				dt_error_set(err, DT_E_FORMAT, "%s:%zu: more than "
				    "%d recordings", file, lineno,
				    DATA_MANIFEST_MAX_ENTRIES);
				goto out;
			}
			if (m->n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct data_entry *ne = realloc(m->e,
				    nc * sizeof(*ne));

				if (ne == NULL) {
					dt_error_set(err, DT_E_NOMEM,
					    "%s:%zu: out of memory", file,
					    lineno);
					goto out;
				}
				m->e = ne;
				cap = nc;
			}
			if (parse_line(p, ll, file, lineno,
			    slash ? file : NULL, dirlen,
			    &m->e[m->n], err) != 0)
				goto out;
			m->n++;
			for (i = 0; i + 1 < m->n; i++)
				if (m->e[i].lead == m->e[m->n - 1].lead &&
				    strcmp(m->e[i].path,
				    m->e[m->n - 1].path) == 0) {
					dt_error_set(err, DT_E_FORMAT, "%s:%zu: "
					    "same path and lead as line %zu",
					    file, lineno, m->e[i].line);
					goto out;
				}
		}
		p = nl ? nl + 1 : end;
	}
	if (!have_header) {
		dt_error_set(err, DT_E_FORMAT, "%s: no header line ('%s')", file,
		    HEADER);
		goto out;
	}
	if (m->n == 0) {
		dt_error_set(err, DT_E_FORMAT, "%s: no recordings", file);
		goto out;
	}
	*out = m;
	m = NULL;
	rc = 0;
out:
	data_manifest_free(m);
	return rc;
}

int
data_manifest_read(const char *path, struct data_manifest **out,
    struct dt_error *err)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, r;
	int rc = -1;

	if ((f = fopen(path, "rb")) == NULL)
		return dt_error_set(err, DT_E_IO, "%s: %s", path,
		    strerror(errno));
	for (;;) {
		if (len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > ((size_t)1 << 30) ||
			    (nb = realloc(buf, cap)) == NULL) {
				dt_error_set(err, DT_E_NOMEM, "%s: too large",
				    path);
				goto out;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		dt_error_set(err, DT_E_IO, "%s: read error", path);
		goto out;
	}
	rc = data_manifest_parse(buf, len, path, out, err);
out:
	free(buf);
	fclose(f);
	return rc;
}

/*
 * ecg/record.c — WFDB (format 16 and 212) and CSV/TSV recordings.
 *
 * Both readers are strict: anything they do not understand is refused with
 * an error naming the file (and the line or field) at fault.  The one
 * deliberate leniency is the WFDB checksum: a header whose first value or
 * checksum does not match the data is reported in checksum_ok, not refused
 * (11 ECG-ID records carry wrong header checksums).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecg/record.h"
#include "util/file.h"

#define HEA_MAX		(1u << 20)	/* a header larger than 1 MiB is not one */
#define CSV_MAX		((size_t)1 << 30)
#define DAT_MAX		((size_t)1 << 30)
#define NAME_MAX_LEN	256
#define DEFGAIN		200.0
#define DEFFREQ		250.0

struct wfdb_sig {
	char file[NAME_MAX_LEN];
	int fmt;
	long offset;		/* byte offset of the first sample */
	double gain;
	double to_mv;		/* 1e-3 for uV, 1e3 for V, else 1 */
	enum ecg_units units;
	long baseline;
	long adczero;
	long initval;
	int has_init;
	long cksum;
	int has_cksum;
	char *desc;
};

struct wfdb_hdr {
	int nsig;
	double fs;
	long long nsamp;	/* -1: not given, take it from the data */
	struct wfdb_sig sig[ECG_MAX_SIGNALS];
};

/* One signal file: the signals [first, last) are interleaved in it. */
struct wfdb_group {
	int first, last;
	const unsigned char *buf;
	size_t len;
	char path[PATH_MAX];
};

void
ecg_record_free(struct ecg_record *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < ECG_MAX_SIGNALS; i++) {
		if (r->samples[i] != NULL) {
			explicit_bzero(r->samples[i],
			    r->n_samples * sizeof(float));
			free(r->samples[i]);
		}
		free(r->description[i]);
	}
	free(r);
}

static void
hdr_clear(struct wfdb_hdr *h)
{
	int i;

	for (i = 0; i < ECG_MAX_SIGNALS; i++) {
		free(h->sig[i].desc);
		h->sig[i].desc = NULL;
	}
}

/* ---------------------------------------------------------------- numbers */

/* A whole token as a decimal integer in [lo, hi]. */
static int
parse_long(const char *s, long lo, long hi, long *v)
{
	char *end;
	long x;

	if (*s == '\0' || !(*s == '-' || *s == '+' || (*s >= '0' && *s <= '9')))
		return -1;
	errno = 0;
	x = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

/* A decimal number (no hex, no inf/nan) at *s; advances *s past it. */
static int
scan_double(const char **s, double *v)
{
	const char *p = *s;
	char *end;
	double x;

	if (!(*p == '-' || *p == '+' || *p == '.' || (*p >= '0' && *p <= '9')))
		return -1;
	for (; *p != '\0'; p++)
		if (!strchr("0123456789+-.eE", *p))
			break;
	if (p == *s)
		return -1;
	errno = 0;
	x = strtod(*s, &end);
	if (end != p || end == *s || errno == ERANGE || !isfinite(x))
		return -1;
	*v = x;
	*s = end;
	return 0;
}

/* A decimal integer at *s (no sign check of what follows); advances *s. */
static int
scan_long(const char **s, long lo, long hi, long *v)
{
	char *end;
	long x;

	if (!(**s == '-' || **s == '+' || (**s >= '0' && **s <= '9')))
		return -1;
	errno = 0;
	x = strtol(*s, &end, 10);
	if (errno != 0 || end == *s || x < lo || x > hi)
		return -1;
	*v = x;
	*s = end;
	return 0;
}

/* ----------------------------------------------------------------- header */

/* Splits `line` (NUL-terminated, modified) into at most `max` tokens. */
static int
split_ws(char *line, char **tok, int max, char **rest)
{
	int n = 0;
	char *p = line;

	*rest = NULL;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n == max) {
			*rest = p;
			break;
		}
		tok[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p == '\0')
			break;
		*p++ = '\0';
	}
	return n;
}

/* "fs[/counterfreq[(basecounter)]]" */
static int
parse_fs(const char *s, double *fs)
{
	double v, cf;

	if (scan_double(&s, &v) != 0)
		return -1;
	if (*s == '/') {
		s++;
		if (scan_double(&s, &cf) != 0 || cf <= 0)
			return -1;
		if (*s == '(') {
			s++;
			if (scan_double(&s, &cf) != 0 || *s != ')')
				return -1;
			s++;
		}
	}
	if (*s != '\0' || !(v > 0) || v > 1e6)
		return -1;
	*fs = v;
	return 0;
}

static int
parse_record_line(char *line, const char *hname, int lineno,
    struct wfdb_hdr *h, struct dt_error *err)
{
	char *tok[4], *rest;
	long v;
	int n;

	n = split_ws(line, tok, 4, &rest);
	if (n < 2)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s line %d: record line needs at least a name and a "
		    "signal count", hname, lineno);
	if (strchr(tok[0], '/') != NULL)
		return dt_error_set(err, DT_E_UNSUPPORTED,
		    "%s line %d: multi-segment record '%s' not supported",
		    hname, lineno, tok[0]);
	if (parse_long(tok[1], LONG_MIN, LONG_MAX, &v) != 0)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s line %d: signal count '%s' is not an integer",
		    hname, lineno, tok[1]);
	if (v < 1 || v > ECG_MAX_SIGNALS)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s line %d: signal count %ld outside 1..%d", hname,
		    lineno, v, ECG_MAX_SIGNALS);
	h->nsig = (int)v;
	h->fs = DEFFREQ;
	if (n > 2 && parse_fs(tok[2], &h->fs) != 0)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s line %d: sampling frequency '%s' is not a positive "
		    "number (fs[/counterfreq[(base)]])", hname, lineno, tok[2]);
	h->nsamp = -1;
	if (n > 3) {
		if (parse_long(tok[3], LONG_MIN, LONG_MAX, &v) != 0)
			return dt_error_set(err, DT_E_FORMAT,
			    "%s line %d: sample count '%s' is not an integer",
			    hname, lineno, tok[3]);
		if (v < 0)
			return dt_error_set(err, DT_E_FORMAT,
			    "%s line %d: negative sample count %ld", hname,
			    lineno, v);
		if (v > 0)
			h->nsamp = v;
	}
	return 0;
}

/* "format[xspf][:skew][+offset]" */
static int
parse_format(const char *s, struct wfdb_sig *sg, const char *hname,
    int lineno, struct dt_error *err)
{
	long fmt, spf = 1, skew = 0, off = 0;

	if (scan_long(&s, 0, 100000, &fmt) != 0)
		goto bad;
	if (*s == 'x') {
		s++;
		if (scan_long(&s, 0, 100000, &spf) != 0)
			goto bad;
	}
	if (*s == ':') {
		s++;
		if (scan_long(&s, -100000, 100000, &skew) != 0)
			goto bad;
	}
	if (*s == '+') {
		s++;
		if (scan_long(&s, 0, LONG_MAX, &off) != 0)
			goto bad;
	}
	if (*s != '\0')
		goto bad;
	if (fmt != 16 && fmt != 212)
		return dt_error_set(err, DT_E_UNSUPPORTED,
		    "%s line %d: signal format %ld not supported (16 and 212 "
		    "are)", hname, lineno, fmt);
	if (spf > 1)
		return dt_error_set(err, DT_E_UNSUPPORTED,
		    "%s line %d: %ld samples per frame not supported",
		    hname, lineno, spf);
	if (skew != 0)
		return dt_error_set(err, DT_E_UNSUPPORTED,
		    "%s line %d: skew %ld not supported", hname, lineno, skew);
	sg->fmt = (int)fmt;
	sg->offset = off;
	return 0;
bad:
	return dt_error_set(err, DT_E_FORMAT,
	    "%s line %d: garbled format field (format[xspf][:skew][+offset])",
	    hname, lineno);
}

/* "gain[(baseline)][/units]"; returns 1 when a baseline was given. */
static int
parse_gain(const char *s, struct wfdb_sig *sg)
{
	double g;
	long b;
	int has_base = 0;

	if (scan_double(&s, &g) != 0 || g < 0)
		return -1;
	if (*s == '(') {
		s++;
		if (scan_long(&s, INT32_MIN, INT32_MAX, &b) != 0 || *s != ')')
			return -1;
		s++;
		sg->baseline = b;
		has_base = 1;
	}
	sg->to_mv = 1.0;
	sg->units = ECG_UNITS_MV;
	if (*s == '/') {
		s++;
		if (*s == '\0')
			return -1;
		if (strcmp(s, "uV") == 0)
			sg->to_mv = 1e-3;
		else if (strcmp(s, "V") == 0)
			sg->to_mv = 1e3;
		else if (strcmp(s, "mV") != 0)
			sg->units = ECG_UNITS_RELATIVE;
		s += strlen(s);
	}
	if (*s != '\0')
		return -1;
	sg->gain = g == 0 ? DEFGAIN : g;
	return has_base;
}

static int
parse_signal_line(char *line, const char *hname, int lineno,
    struct wfdb_sig *sg, struct dt_error *err)
{
	char *tok[8], *rest;
	long v;
	int n, has_base = 0;

	n = split_ws(line, tok, 8, &rest);
	if (n < 2)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s line %d: signal line needs a file name and a format",
		    hname, lineno);
	if (strlen(tok[0]) >= NAME_MAX_LEN)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s line %d: signal file name too long", hname, lineno);
	if (strcmp(tok[0], "-") == 0 || tok[0][0] == '/' ||
	    strstr(tok[0], "..") != NULL)
		return dt_error_set(err, DT_E_UNSUPPORTED,
		    "%s line %d: signal file '%s' not supported (standard "
		    "input, absolute or parent paths)", hname, lineno, tok[0]);
	memcpy(sg->file, tok[0], strlen(tok[0]) + 1);
	if (parse_format(tok[1], sg, hname, lineno, err) != 0)
		return -1;
	sg->gain = DEFGAIN;
	sg->to_mv = 1.0;
	sg->units = ECG_UNITS_MV;
	sg->adczero = 0;
	if (n > 2 && (has_base = parse_gain(tok[2], sg)) < 0)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s line %d: garbled gain field '%s' "
		    "(gain[(baseline)][/units])", hname, lineno, tok[2]);
	if (n > 3 && parse_long(tok[3], 0, 32, &v) != 0)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s line %d: ADC resolution '%s' is not 0..32", hname,
		    lineno, tok[3]);
	if (n > 4) {
		if (parse_long(tok[4], INT32_MIN, INT32_MAX, &v) != 0)
			return dt_error_set(err, DT_E_FORMAT,
			    "%s line %d: ADC zero '%s' is not an integer",
			    hname, lineno, tok[4]);
		sg->adczero = v;
	}
	if (!has_base)
		sg->baseline = sg->adczero;
	if (n > 5) {
		if (parse_long(tok[5], INT32_MIN, INT32_MAX, &v) != 0)
			return dt_error_set(err, DT_E_FORMAT,
			    "%s line %d: initial value '%s' is not an integer",
			    hname, lineno, tok[5]);
		sg->initval = v;
		sg->has_init = 1;
	}
	if (n > 6) {
		if (parse_long(tok[6], -32768, 65535, &v) != 0)
			return dt_error_set(err, DT_E_FORMAT,
			    "%s line %d: checksum '%s' is not a 16-bit integer",
			    hname, lineno, tok[6]);
		sg->cksum = v;
		sg->has_cksum = 1;
	}
	if (n > 7 && parse_long(tok[7], 0, LONG_MAX, &v) != 0)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s line %d: block size '%s' is not a non-negative integer",
		    hname, lineno, tok[7]);
	if (rest != NULL) {
		size_t l = strlen(rest);

		while (l > 0 && (rest[l - 1] == ' ' || rest[l - 1] == '\t'))
			rest[--l] = '\0';
		if (l > 0 && (sg->desc = strdup(rest)) == NULL)
			return dt_error_set(err, DT_E_NOMEM,
			    "%s: out of memory", hname);
	}
	return 0;
}

static int
parse_header(const char *text, size_t len, const char *hname,
    struct wfdb_hdr *h, struct dt_error *err)
{
	char *buf = NULL, *line, *next;
	int lineno = 0, nsig_read = 0, have_record = 0, rc = -1;

	memset(h, 0, sizeof(*h));
	if (len > HEA_MAX) {
		dt_error_set(err, DT_E_FORMAT, "%s: header larger than %u bytes",
		    hname, HEA_MAX);
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		dt_error_set(err, DT_E_FORMAT, "%s: header holds a NUL byte",
		    hname);
		goto out;
	}
	if ((buf = malloc(len + 1)) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", hname);
		goto out;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (line = buf; line != NULL && (!have_record || nsig_read < h->nsig);
	    line = next) {
		char *p;
		size_t l;

		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		l = strlen(line);
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (!have_record) {
			if (parse_record_line(p, hname, lineno, h, err) != 0)
				goto out;
			have_record = 1;
			continue;
		}
		if (parse_signal_line(p, hname, lineno, &h->sig[nsig_read],
		    err) != 0)
			goto out;
		nsig_read++;
	}
	if (!have_record) {
		dt_error_set(err, DT_E_FORMAT, "%s: no record line", hname);
		goto out;
	}
	if (nsig_read < h->nsig) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: %d signal lines announced, %d found", hname, h->nsig,
		    nsig_read);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	if (rc != 0)
		hdr_clear(h);
	return rc;
}

/* Groups consecutive signals stored in the same file. */
static int
make_groups(const struct wfdb_hdr *h, const char *hname,
    struct wfdb_group *g, int *ng, struct dt_error *err)
{
	int i, j, n = 0;

	for (i = 0; i < h->nsig; i++) {
		if (n > 0 && strcmp(h->sig[i].file,
		    h->sig[g[n - 1].first].file) == 0) {
			const struct wfdb_sig *a = &h->sig[g[n - 1].first];

			if (h->sig[i].fmt != a->fmt ||
			    h->sig[i].offset != a->offset)
				return dt_error_set(err, DT_E_FORMAT,
				    "%s: signals %d and %d share file '%s' "
				    "with different formats or offsets",
				    hname, g[n - 1].first, i, a->file);
			g[n - 1].last = i + 1;
			continue;
		}
		for (j = 0; j < n; j++)
			if (strcmp(h->sig[i].file, h->sig[g[j].first].file) == 0)
				return dt_error_set(err, DT_E_FORMAT,
				    "%s: signals of file '%s' are not "
				    "consecutive", hname, h->sig[i].file);
		memset(&g[n], 0, sizeof(g[n]));
		g[n].first = i;
		g[n].last = i + 1;
		n++;
	}
	*ng = n;
	return 0;
}

/* Bytes that `count` samples take in format `fmt`. */
static size_t
fmt_bytes(int fmt, size_t count)
{
	if (fmt == 16)
		return 2 * count;
	return count / 2 * 3 + (count % 2 ? 2 : 0);
}

/* Whole frames of `nsig` samples that `len` bytes hold. */
static size_t
fmt_frames(int fmt, size_t len, int nsig)
{
	size_t count;

	if (fmt == 16)
		count = len / 2;
	else
		count = len / 3 * 2 + (len % 3 == 2 ? 1 : 0);
	return count / (size_t)nsig;
}

static void
decode_group(const struct wfdb_hdr *h, const struct wfdb_group *g,
    size_t nsamp, struct ecg_record *r)
{
	const unsigned char *p = g->buf + h->sig[g->first].offset;
	int fmt = h->sig[g->first].fmt, gs = g->last - g->first, k;
	size_t i, idx = 0, total = nsamp * (size_t)gs;
	uint32_t sum[ECG_MAX_SIGNALS];
	long first[ECG_MAX_SIGNALS];

	memset(sum, 0, sizeof(sum));
	memset(first, 0, sizeof(first));
	for (i = 0; i < total; i++, idx++) {
		long v;
		int s = (int)(idx % (size_t)gs) + g->first;

		if (fmt == 16) {
			v = (int16_t)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
		} else {
			const unsigned char *q = p + i / 2 * 3;

			if (i % 2 == 0)
				v = q[0] | ((q[1] & 0x0f) << 8);
			else
				v = q[2] | ((q[1] & 0xf0) << 4);
			if (v > 2047)
				v -= 4096;
		}
		if (i < (size_t)gs)
			first[s] = v;
		sum[s] += (uint32_t)v;
		r->samples[s][idx / (size_t)gs] = (float)(((double)v -
		    (double)h->sig[s].baseline) / h->sig[s].gain *
		    h->sig[s].to_mv);
	}
	for (k = g->first; k < g->last; k++) {
		const struct wfdb_sig *sg = &h->sig[k];

		if (!sg->has_cksum)
			r->checksum_ok[k] = -1;
		else
			r->checksum_ok[k] = (uint16_t)sum[k] ==
			    (uint16_t)sg->cksum && (!sg->has_init ||
			    first[k] == sg->initval);
	}
}

/* Checks sizes, allocates and decodes every group into a new record. */
static int
build_record(struct wfdb_hdr *h, struct wfdb_group *g, int ng,
    const char *hname, struct ecg_record **out, struct dt_error *err)
{
	struct ecg_record *r = NULL;
	size_t nsamp, have;
	int i, gs, rc = -1;

	if (h->nsamp < 0) {
		/* No count in the header: as many whole frames as all files
		 * hold. */
		nsamp = SIZE_MAX;
		for (i = 0; i < ng; i++) {
			const struct wfdb_sig *sg = &h->sig[g[i].first];

			gs = g[i].last - g[i].first;
			have = g[i].len > (size_t)sg->offset ?
			    fmt_frames(sg->fmt, g[i].len - (size_t)sg->offset,
			    gs) : 0;
			if (have < nsamp)
				nsamp = have;
		}
		if (nsamp == 0) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: no sample count in the header and no whole "
			    "frame in '%s'", hname, g[0].path);
			goto out;
		}
	} else {
		nsamp = (size_t)h->nsamp;
	}
	if (nsamp > ECG_MAX_TOTAL_SAMPLES / (size_t)h->nsig) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: %zu samples x %d signals exceeds the limit of %zu",
		    hname, nsamp, h->nsig, ECG_MAX_TOTAL_SAMPLES);
		goto out;
	}
	for (i = 0; i < ng; i++) {
		const struct wfdb_sig *sg = &h->sig[g[i].first];
		size_t need;

		gs = g[i].last - g[i].first;
		need = (size_t)sg->offset + fmt_bytes(sg->fmt,
		    nsamp * (size_t)gs);
		if ((size_t)sg->offset > DAT_MAX || g[i].len < need) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: signal file '%s' too short: %zu bytes "
			    "expected for %zu samples x %d signals (format "
			    "%d, offset %ld), %zu found", hname, g[i].path,
			    need, nsamp, gs, sg->fmt, sg->offset, g[i].len);
			goto out;
		}
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->fs_hz = h->fs;
	r->n_signals = h->nsig;
	r->n_samples = nsamp;
	for (i = 0; i < h->nsig; i++) {
		if ((r->samples[i] = malloc(nsamp * sizeof(float))) == NULL)
			goto nomem;
		r->description[i] = h->sig[i].desc;
		r->units[i] = h->sig[i].units;
		h->sig[i].desc = NULL;
	}
	for (i = 0; i < ng; i++)
		decode_group(h, &g[i], nsamp, r);
	*out = r;
	r = NULL;
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "%s: out of memory for %zu samples",
	    hname, nsamp);
out:
	ecg_record_free(r);
	return rc;
}

int
ecg_parse_wfdb(const char *hea, size_t hea_len, const void *dat,
    size_t dat_len, const char *name, struct ecg_record **out,
    struct dt_error *err)
{
	struct wfdb_hdr h;
	struct wfdb_group g[ECG_MAX_SIGNALS];
	int ng, rc = -1;

	if (name == NULL)
		name = "(memory)";
	if (hea == NULL || (dat == NULL && dat_len > 0) || out == NULL)
		return dt_error_set(err, DT_E_INVALID,
		    "%s: NULL header, data or result", name);
	if (parse_header(hea, hea_len, name, &h, err) != 0)
		return -1;
	if (make_groups(&h, name, g, &ng, err) != 0)
		goto out;
	if (ng != 1) {
		dt_error_set(err, DT_E_UNSUPPORTED,
		    "%s: signals spread over %d files; only one data buffer "
		    "given", name, ng);
		goto out;
	}
	g[0].buf = dat;
	g[0].len = dat_len;
	snprintf(g[0].path, sizeof(g[0].path), "%s", h.sig[0].file);
	rc = build_record(&h, g, ng, name, out, err);
out:
	hdr_clear(&h);
	return rc;
}

/* ------------------------------------------------------------------ files */

/* Reads a whole file of at most `max` bytes; *buf is NUL-terminated. */
static int
read_file(const char *path, size_t max, unsigned char **buf, size_t *len,
    struct dt_error *err)
{
	return dt_file_read(path, max, NULL, (char **)buf, len, NULL, err);
}
int
ecg_read_wfdb(const char *record, struct ecg_record **out,
    struct dt_error *err)
{
	struct wfdb_hdr h;
	struct wfdb_group g[ECG_MAX_SIGNALS];
	char hname[PATH_MAX], dir[PATH_MAX];
	unsigned char *hea = NULL, *bufs[ECG_MAX_SIGNALS];
	size_t hlen, lens[ECG_MAX_SIGNALS];
	const char *slash;
	int i, ng = 0, rc = -1;

	memset(bufs, 0, sizeof(bufs));
	memset(lens, 0, sizeof(lens));
	memset(&h, 0, sizeof(h));
	if (record == NULL || out == NULL)
		return dt_error_set(err, DT_E_INVALID,
		    "NULL record name or result");
	if ((size_t)snprintf(hname, sizeof(hname), "%s.hea", record) >=
	    sizeof(hname))
		return dt_error_set(err, DT_E_INVALID,
		    "record name too long: %.64s...", record);
	if ((slash = strrchr(record, '/')) != NULL)
		snprintf(dir, sizeof(dir), "%.*s/", (int)(slash - record),
		    record);
	else
		dir[0] = '\0';
	if (read_file(hname, HEA_MAX, &hea, &hlen, err) != 0)
		return -1;
	if (parse_header((const char *)hea, hlen, hname, &h, err) != 0)
		goto out;
	if (make_groups(&h, hname, g, &ng, err) != 0)
		goto out;
	for (i = 0; i < ng; i++) {
		if ((size_t)snprintf(g[i].path, sizeof(g[i].path), "%s%s",
		    dir, h.sig[g[i].first].file) >= sizeof(g[i].path)) {
			dt_error_set(err, DT_E_INVALID,
			    "%s: signal file path too long", hname);
			goto out;
		}
		if (read_file(g[i].path, DAT_MAX, &bufs[i], &lens[i],
		    err) != 0) {
			dt_error_prefix(err, "%s", hname);
			goto out;
		}
		g[i].buf = bufs[i];
		g[i].len = lens[i];
	}
	rc = build_record(&h, g, ng, hname, out, err);
out:
	for (i = 0; i < ng; i++) {
		if (bufs[i] != NULL) {
			explicit_bzero(bufs[i], lens[i]);
			free(bufs[i]);
		}
	}
	free(hea);
	hdr_clear(&h);
	return rc;
}

/* -------------------------------------------------------------------- CSV */

static int
is_sep(char c)
{
	return c == ',' || c == ';' || c == '\t';
}

/* A cell (trimmed copy into `cell`) that is a plain decimal number. */
static int
cell_number(const char *s, size_t n, double *v)
{
	char cell[64];
	const char *p;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(cell))
		return -1;
	memcpy(cell, s, n);
	cell[n] = '\0';
	p = cell;
	if (scan_double(&p, v) != 0 || *p != '\0')
		return -1;
	return 0;
}

int
ecg_parse_csv(const char *text, size_t len, const char *name,
    double fs_hz, int column, double scale, struct ecg_record **out,
    struct dt_error *err)
{
	struct ecg_record *r = NULL;
	float *x = NULL;
	size_t cap = 1, n = 0, pos = 0, i;
	int lineno = 0, header_seen = 0, rc = -1;

	if (name == NULL)
		name = "(memory)";
	if (text == NULL || out == NULL)
		return dt_error_set(err, DT_E_INVALID, "%s: NULL text or result",
		    name);
	if (!(fs_hz > 0) || !isfinite(fs_hz))
		return dt_error_set(err, DT_E_INVALID,
		    "%s: sampling frequency must be given (> 0)", name);
	if (column < -1)
		return dt_error_set(err, DT_E_INVALID,
		    "%s: column %d (0-based, or -1 for the last)", name, column);
	if (!isfinite(scale) || scale == 0)
		return dt_error_set(err, DT_E_INVALID,
		    "%s: scale must be finite and non-zero", name);
	if (memchr(text, '\0', len) != NULL)
		return dt_error_set(err, DT_E_FORMAT, "%s: holds a NUL byte",
		    name);
	for (i = 0; i < len; i++)
		cap += text[i] == '\n';
	if (cap > ECG_MAX_TOTAL_SAMPLES)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s: more than %zu lines", name, ECG_MAX_TOTAL_SAMPLES);
	if ((x = malloc(cap * sizeof(float))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", name);
		goto out;
	}
	while (pos < len) {
		const char *line = text + pos, *cs = NULL, *p;
		size_t ll, k, ncell = 0, clen = 0;
		int any_number = 0, c;
		double v;

		lineno++;
		for (ll = 0; pos + ll < len && line[ll] != '\n'; ll++)
			;
		pos += ll + 1;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		for (k = 0; k < ll && (line[k] == ' ' || line[k] == '\t'); k++)
			;
		if (k == ll || line[k] == '#')
			continue;
		/* Find the chosen cell and whether any cell is a number. */
		for (p = line, c = 0;; c++) {
			const char *e = p;

			while (e < line + ll && !is_sep(*e))
				e++;
			if (cell_number(p, (size_t)(e - p), &v) == 0)
				any_number = 1;
			if (c == column || column == -1) {
				cs = p;
				clen = (size_t)(e - p);
			}
			ncell++;
			if (e == line + ll)
				break;
			p = e + 1;
		}
		if (cs == NULL || cell_number(cs, clen, &v) != 0) {
			/* One header row of non-numbers before the data. */
			if (!header_seen && n == 0 && !any_number) {
				header_seen = 1;
				continue;
			}
			if (cs == NULL) {
				dt_error_set(err, DT_E_FORMAT,
				    "%s line %d: %zu columns, column %d asked "
				    "for", name, lineno, ncell, column);
				goto out;
			}
			dt_error_set(err, DT_E_FORMAT,
			    "%s line %d: '%.*s' is not a number", name, lineno,
			    (int)(clen < 40 ? clen : 40), cs);
			goto out;
		}
		header_seen = 1;
		v *= scale;
		if (!isfinite(v) || fabs(v) > 3e38) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s line %d: value out of range after scaling",
			    name, lineno);
			goto out;
		}
		x[n++] = (float)v;
	}
	if (n == 0) {
		dt_error_set(err, DT_E_FORMAT, "%s: no samples", name);
		goto out;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", name);
		goto out;
	}
	r->fs_hz = fs_hz;
	r->n_signals = 1;
	r->n_samples = n;
	r->samples[0] = x;
	r->checksum_ok[0] = -1;
	x = NULL;
	*out = r;
	rc = 0;
out:
	if (x != NULL) {
		explicit_bzero(x, cap * sizeof(float));
		free(x);
	}
	return rc;
}

int
ecg_read_csv(const char *path, double fs_hz, int column, double scale,
    struct ecg_record **out, struct dt_error *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL)
		return dt_error_set(err, DT_E_INVALID, "NULL path");
	if (read_file(path, CSV_MAX, &buf, &len, err) != 0)
		return -1;
	rc = ecg_parse_csv((const char *)buf, len, path, fs_hz, column,
	    scale, out, err);
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

/*
 * util/log.c — stderr logging with syslog priority prefixes for journald.
 * Every line is escaped (util/text.h) after formatting: a control or
 * non-ASCII byte from outside input (a URL, a header, a file name) can
 * neither start a line of its own ("<0>..." would be read as emerg) nor
 * reach a terminal raw.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/text.h"

#define PRIO_ERR 3
#define PRIO_WARNING 4
#define PRIO_INFO 6
#define PRIO_DEBUG 7

static const char *log_progname = "dt4ecg";
static bool log_journald;
static int log_verbose;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_init(const char *progname, bool journald_prefix)
{
	if (progname != NULL)
		log_progname = progname;
	log_journald = journald_prefix;
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static const char *
gnu_errstr(char *r, char *buf)
{
	(void)buf;
	return r;
}

static const char *
posix_errstr(int r, char *buf)
{
	return r == 0 ? buf : NULL;
}

/* strerror_r is the GNU one (char *) with _GNU_SOURCE, else POSIX (int). */
#define ERRSTR(e, b, n) _Generic(strerror_r((e), (b), (n)), \
	char *: gnu_errstr, default: posix_errstr)(strerror_r((e), (b), (n)), (b))

const char *
log_errstr(int e, char *buf, size_t size)
{
	const char *m = ERRSTR(e, buf, size);

	if (m == NULL) {
		snprintf(buf, size, "errno %d", e);
		return buf;
	}
	return m;
}

static void
vlog(int prio, const char *fmt, va_list ap, const char *suffix)
{
	char line[2048], esc[4 * sizeof(line)], sesc[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	dt_escape(esc, sizeof(esc), line);
	if (suffix != NULL)
		dt_escape(sesc, sizeof(sesc), suffix);
	/* One write per line, so threads do not interleave inside a line. */
	pthread_mutex_lock(&log_lock);
	if (log_journald)
		fprintf(stderr, "<%d>%s%s%s\n", prio, esc, suffix ? ": " : "",
		    suffix ? sesc : "");
	else
		fprintf(stderr, "%s: %s%s%s\n", log_progname, esc,
		    suffix ? ": " : "", suffix ? sesc : "");
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void
log_warn(const char *fmt, ...)
{
	char ebuf[256];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(PRIO_WARNING, fmt, ap, log_errstr(saved, ebuf, sizeof(ebuf)));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PRIO_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PRIO_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(PRIO_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char ebuf[256];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(PRIO_ERR, fmt, ap, log_errstr(saved, ebuf, sizeof(ebuf)));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PRIO_ERR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

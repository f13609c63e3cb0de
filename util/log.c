/* util/log.c — stderr logging with syslog priority prefixes for journald. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

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

static void
vlog(int prio, const char *fmt, va_list ap, const char *suffix)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write per line, so threads do not interleave inside a line. */
	pthread_mutex_lock(&log_lock);
	if (log_journald)
		fprintf(stderr, "<%d>%s%s%s\n", prio, line, suffix ? ": " : "",
		    suffix ? suffix : "");
	else
		fprintf(stderr, "%s: %s%s%s\n", log_progname, line,
		    suffix ? ": " : "", suffix ? suffix : "");
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void
log_warn(const char *fmt, ...)
{
	char ebuf[256];
	int saved = errno;
	va_list ap;

	if (strerror_r(saved, ebuf, sizeof(ebuf)) != 0)
		snprintf(ebuf, sizeof(ebuf), "errno %d", saved);
	va_start(ap, fmt);
	vlog(PRIO_WARNING, fmt, ap, ebuf);
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

	if (strerror_r(saved, ebuf, sizeof(ebuf)) != 0)
		snprintf(ebuf, sizeof(ebuf), "errno %d", saved);
	va_start(ap, fmt);
	vlog(PRIO_ERR, fmt, ap, ebuf);
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

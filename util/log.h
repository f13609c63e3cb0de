/*
 * util/log.h — the one logging API (after OpenSMTPD's log.c).
 *
 * Messages go to stderr, each line prefixed with its syslog priority ("<3>",
 * "<4>", ...) when running under systemd so journald files them at the right
 * level, or with the program name when on a terminal.  Never log ECG samples,
 * templates or keys.
 */
#ifndef DT_LOG_H
#define DT_LOG_H

#include <stdbool.h>
#include <stddef.h>

void log_init(const char *progname, bool journald_prefix);
void log_setverbose(int verbose);
int log_getverbose(void);

/* The message of errno E (into BUF, or a static string): never "errno N"
 * when the C library knows E. */
const char *log_errstr(int e, char *buf, size_t size);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* DT_LOG_H */

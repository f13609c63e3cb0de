/*
 * util/text.h — text from outside: UTF-8 validation and escaping for logs.
 */
#ifndef DT_UTIL_TEXT_H
#define DT_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True if the N bytes at S are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
bool dt_utf8_valid(const char *s, size_t n);

/* True if S (NUL-terminated) has a C0 control character or DEL. */
bool dt_has_control(const char *s);

/*
 * Copies SRC into DST (SIZE bytes, always NUL-terminated; truncated on a
 * whole escape) with every control byte (< 0x20, 0x7f), every non-ASCII
 * byte and the backslash written as \xNN, so that a line built from
 * outside input can neither start another log line nor carry a journald
 * priority prefix nor bytes a terminal would interpret.  Returns DST.
 */
char *dt_escape(char *dst, size_t size, const char *src);

#endif /* DT_UTIL_TEXT_H */

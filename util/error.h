/*
 * util/error.h — the one error convention of dt4ecg.
 *
 * A function that can fail returns 0 on success and -1 on failure; on failure it
 * fills the caller's struct dt_error (when not NULL) with a code and a message that
 * names the thing at fault (a file, a tensor, a field).  Callers decide whether to
 * log it, print it or turn it into an HTTP problem document; library code (nn/,
 * ecg/, store/) never logs errors it returns and never exits.
 */
#ifndef DT_ERROR_H
#define DT_ERROR_H

#include <stddef.h>

enum dt_errc {
	DT_OK = 0,
	DT_E_INTERNAL,	/* a bug or a library failure that is not the input's fault */
	DT_E_NOMEM,
	DT_E_IO,	/* open/read/write of a file failed */
	DT_E_FORMAT,	/* malformed input file or buffer */
	DT_E_INVALID,	/* invalid argument or value */
	DT_E_UNSUPPORTED,
	/* signal quality, DESIGN.md section 4 */
	DT_E_SIG_NONFINITE,
	DT_E_SIG_RATE,
	DT_E_SIG_TOO_SHORT,
	DT_E_SIG_FLAT,
	DT_E_SIG_CLIPPED,
	DT_E_SIG_NO_USABLE_WINDOW,
	DT_E_SIG_NOT_ECG,	/* ecg/sigcheck.h: not an ECG at all */
	DT_E_NOTFOUND,
	DT_E_EXISTS,
	DT_E_CRYPTO,
	DT_E_BUSY,
	DT_E_VERSION,
};

#define DT_ERROR_MSG_MAX 512

struct dt_error {
	enum dt_errc code;
	char msg[DT_ERROR_MSG_MAX];
};

/* Sets *err (if not NULL) and returns -1, so callers can `return dt_error_set(...)`. */
int dt_error_set(struct dt_error *err, enum dt_errc code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in *err with "prefix: " (e.g. a file name). */
void dt_error_prefix(struct dt_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void dt_error_clear(struct dt_error *err);

/* A short stable name of the code ("format", "signal-flat", ...). */
const char *dt_errc_name(enum dt_errc code);

#endif /* DT_ERROR_H */

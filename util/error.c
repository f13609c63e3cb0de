/* util/error.c — see error.h for the convention. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

int
dt_error_set(struct dt_error *err, enum dt_errc code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void
dt_error_prefix(struct dt_error *err, const char *fmt, ...)
{
	char old[DT_ERROR_MSG_MAX];
	va_list ap;
	size_t n;

	if (err == NULL)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* append ": old", truncating the old message if it does not fit */
	n = strlen(err->msg);
	if (n + 2 < sizeof(err->msg)) {
		size_t room = sizeof(err->msg) - n - 3, len = strlen(old);

		if (len > room)
			len = room;
		err->msg[n++] = ':';
		err->msg[n++] = ' ';
		memcpy(err->msg + n, old, len);
		err->msg[n + len] = '\0';
	}
}

void
dt_error_clear(struct dt_error *err)
{
	if (err == NULL)
		return;
	err->code = DT_OK;
	err->msg[0] = '\0';
}

const char *
dt_errc_name(enum dt_errc code)
{
	switch (code) {
	case DT_OK: return "ok";
	case DT_E_INTERNAL: return "internal";
	case DT_E_NOMEM: return "out-of-memory";
	case DT_E_IO: return "io";
	case DT_E_FORMAT: return "format";
	case DT_E_INVALID: return "invalid";
	case DT_E_UNSUPPORTED: return "unsupported";
	case DT_E_SIG_NONFINITE: return "signal-nonfinite";
	case DT_E_SIG_RATE: return "signal-rate";
	case DT_E_SIG_TOO_SHORT: return "signal-too-short";
	case DT_E_SIG_FLAT: return "signal-flat";
	case DT_E_SIG_CLIPPED: return "signal-clipped";
	case DT_E_SIG_NO_USABLE_WINDOW: return "signal-no-usable-window";
	case DT_E_SIG_NOT_ECG: return "signal-not-ecg";
	case DT_E_NOTFOUND: return "not-found";
	case DT_E_EXISTS: return "exists";
	case DT_E_CRYPTO: return "crypto";
	case DT_E_BUSY: return "busy";
	case DT_E_VERSION: return "version";
	}
	return "unknown";
}

/* proto/problem.c — RFC 9457 problem details; see problem.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/problem.h"

struct problem_def {
	int status;
	const char *slug;
	const char *title;
};

static const struct problem_def defs[PROBLEM_COUNT] = {
	[PROBLEM_OK] = { 200, "ok", "OK" },
#define PROBLEM_DEF(name, st, sl, ti) [PROBLEM_##name] = { st, sl, ti },
	PROBLEM_TABLE(PROBLEM_DEF)
#undef PROBLEM_DEF
};

static const struct problem_def *
lookup(enum problem_kind kind)
{
	if ((unsigned)kind >= PROBLEM_COUNT)
		return &defs[PROBLEM_INTERNAL];
	return &defs[kind];
}

int
problem_status(enum problem_kind kind)
{
	return lookup(kind)->status;
}

const char *
problem_slug(enum problem_kind kind)
{
	return lookup(kind)->slug;
}

const char *
problem_title(enum problem_kind kind)
{
	return lookup(kind)->title;
}

void
problem_type(enum problem_kind kind, char *buf, size_t size)
{
	if (size == 0)
		return;
	snprintf(buf, size, "%s%s", PROBLEM_TYPE_BASE, problem_slug(kind));
}

json_t *
problem_json(enum problem_kind kind, const char *detail)
{
	char type[128];
	json_t *o;

	problem_type(kind, type, sizeof(type));
	o = json_pack("{s:s, s:s, s:i}", "type", type,
	    "title", problem_title(kind), "status", problem_status(kind));
	if (o == NULL)
		return NULL;
	if (detail != NULL && detail[0] != '\0' &&
	    json_object_set_new(o, "detail", json_string(detail)) != 0) {
		/* json_string() fails on invalid UTF-8: keep the document. */
		if (json_object_set_new(o, "detail",
		    json_string("(detail not valid UTF-8)")) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

char *
problem_dumps(enum problem_kind kind, const char *detail, size_t *len)
{
	json_t *o;
	char *s;

	if ((o = problem_json(kind, detail)) == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

enum problem_kind
problem_from_errc(enum dt_errc code)
{
	switch (code) {
	case DT_OK:
		return PROBLEM_OK;
	case DT_E_SIG_NONFINITE:
	case DT_E_SIG_RATE:
	case DT_E_SIG_TOO_SHORT:
	case DT_E_SIG_FLAT:
	case DT_E_SIG_CLIPPED:
	case DT_E_SIG_NO_USABLE_WINDOW:
	case DT_E_SIG_NOT_ECG:
		return PROBLEM_SIGNAL_UNUSABLE;
	case DT_E_BUSY:
		return PROBLEM_UNAVAILABLE;
	default:
		return PROBLEM_INTERNAL;
	}
}

/* end of problem.c */

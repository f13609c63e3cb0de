/* util/num.c — see num.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "util/num.h"

int
dt_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int
dt_parse_int(const char *s, int lo, int hi, int *out)
{
	int64_t v;

	if (dt_parse_i64(s, lo, hi, &v) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

int
dt_parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

int
dt_parse_float(const char *s, double lo, double hi, float *out)
{
	double v;

	if (dt_parse_double(s, lo, hi, &v) != 0)
		return -1;
	*out = (float)v;
	return 0;
}

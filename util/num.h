/*
 * util/num.h — the one range-checked parser of numbers given on a command
 * line or in a file: the whole string must be the number, within [LO, HI].
 * Silent: each caller says what it expected in its own words.
 */
#ifndef DT_UTIL_NUM_H
#define DT_UTIL_NUM_H

#include <stdint.h>

/* Decimal integer in [LO, HI]: 0, or -1 (empty, trailing text, overflow,
 * out of range; *OUT untouched). */
int dt_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* The same into an int (LO, HI within int's range). */
int dt_parse_int(const char *s, int lo, int hi, int *out);
/* Decimal or hex floating number in [LO, HI] (NaN is never in range; an
 * infinity only if a bound is one): 0, or -1 with *OUT untouched. */
int dt_parse_double(const char *s, double lo, double hi, double *out);
/* The same into a float. */
int dt_parse_float(const char *s, double lo, double hi, float *out);

#endif /* DT_UTIL_NUM_H */

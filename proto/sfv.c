/* proto/sfv.c — RFC 8941 subset; see sfv.h. */
#include "config.h"

#include <string.h>

#include "proto/sfv.h"

void
sfv_init(struct sfv_cur *c, const char *s, size_t len)
{
	c->p = s;
	c->end = s + len;
}

bool
sfv_eof(const struct sfv_cur *c)
{
	return c->p >= c->end;
}

int
sfv_peek(const struct sfv_cur *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

void
sfv_skip_sp(struct sfv_cur *c)
{
	while (c->p < c->end && *c->p == ' ')
		c->p++;
}

void
sfv_skip_ows(struct sfv_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static bool
is_lcalpha(int ch)
{
	return ch >= 'a' && ch <= 'z';
}

static bool
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

int
sfv_key(struct sfv_cur *c, char *buf, size_t size)
{
	size_t n = 0;
	int ch = sfv_peek(c);

	if (size == 0 || !(is_lcalpha(ch) || ch == '*'))
		return -1;
	while ((ch = sfv_peek(c)) != -1 && (is_lcalpha(ch) || is_digit(ch) ||
	    ch == '_' || ch == '-' || ch == '.' || ch == '*')) {
		if (n + 1 >= size)
			return -1;
		buf[n++] = (char)ch;
		c->p++;
	}
	buf[n] = '\0';
	return 0;
}

int
sfv_string(struct sfv_cur *c, char *buf, size_t size)
{
	size_t n = 0;
	int ch;

	if (size == 0 || sfv_peek(c) != '"')
		return -1;
	c->p++;
	for (;;) {
		if ((ch = sfv_peek(c)) == -1)
			return -1;
		c->p++;
		if (ch == '"')
			break;
		if (ch == '\\') {
			ch = sfv_peek(c);
			if (ch != '"' && ch != '\\')
				return -1;
			c->p++;
		} else if (ch < 0x20 || ch > 0x7e) {
			return -1;
		}
		if (n + 1 >= size)
			return -1;
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	return 0;
}

int
sfv_integer(struct sfv_cur *c, int64_t *v)
{
	int64_t x = 0;
	int neg = 0, nd = 0, ch;

	if (sfv_peek(c) == '-') {
		neg = 1;
		c->p++;
	}
	while ((ch = sfv_peek(c)) != -1 && is_digit(ch)) {
		if (++nd > 15)
			return -1;
		x = x * 10 + (ch - '0');
		c->p++;
	}
	if (nd == 0)
		return -1;
	/* A decimal (RFC 8941 sf-decimal) is not an integer: reject. */
	if (sfv_peek(c) == '.')
		return -1;
	*v = neg ? -x : x;
	return 0;
}

static bool
is_b64(int ch)
{
	return (ch >= 'A' && ch <= 'Z') || is_lcalpha(ch) || is_digit(ch) ||
	    ch == '+' || ch == '/' || ch == '=';
}

int
sfv_bytes(struct sfv_cur *c, const char **b64, size_t *len)
{
	const char *start;
	int ch;

	if (sfv_peek(c) != ':')
		return -1;
	c->p++;
	start = c->p;
	while ((ch = sfv_peek(c)) != -1 && ch != ':') {
		if (!is_b64(ch))
			return -1;
		c->p++;
	}
	if (ch != ':')
		return -1;
	*b64 = start;
	*len = (size_t)(c->p - start);
	c->p++;
	return 0;
}

int
sfv_dict_next(struct sfv_cur *c)
{
	sfv_skip_ows(c);
	if (sfv_eof(c))
		return 1;
	if (sfv_peek(c) != ',')
		return -1;
	c->p++;
	sfv_skip_ows(c);
	return sfv_eof(c) ? -1 : 0;
}

bool
sfv_string_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

int
sfv_put_string(char *buf, size_t size, size_t *pos, const char *s)
{
	size_t p = *pos;

	if (!sfv_string_ok(s))
		return -1;
	if (p >= size)
		return -1;
	buf[p++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			if (p >= size)
				return -1;
			buf[p++] = '\\';
		}
		if (p >= size)
			return -1;
		buf[p++] = *s;
	}
	if (p + 1 >= size)
		return -1;
	buf[p++] = '"';
	buf[p] = '\0';
	*pos = p;
	return 0;
}

/* end of sfv.c */

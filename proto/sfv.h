/*
 * proto/sfv.h — a strict, bounded subset of RFC 8941 Structured Field
 * Values: just what Signature-Input, Signature (RFC 9421) and Content-Digest
 * (RFC 9530) need.  A cursor walks a field value; every function consumes
 * what it parses and returns 0, or -1 on malformed input (cursor position
 * then unspecified).  Nothing allocates.
 */
#ifndef DT_DAEMON_SFV_H
#define DT_DAEMON_SFV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest key (RFC 8941 does not bound it; we do). */
#define SFV_KEY_MAX 64

struct sfv_cur {
	const char *p;
	const char *end;
};

void sfv_init(struct sfv_cur *c, const char *s, size_t len);
bool sfv_eof(const struct sfv_cur *c);
/* The next character, or -1 at the end. */
int sfv_peek(const struct sfv_cur *c);
void sfv_skip_sp(struct sfv_cur *c);
void sfv_skip_ows(struct sfv_cur *c);	/* SP and HTAB */

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" );
 * into buf (NUL-terminated), at most size - 1 characters. */
int sfv_key(struct sfv_cur *c, char *buf, size_t size);

/* sf-string into buf, unescaped and NUL-terminated; at most size - 1 bytes. */
int sfv_string(struct sfv_cur *c, char *buf, size_t size);

/* sf-integer: ["-"] 1*15DIGIT. */
int sfv_integer(struct sfv_cur *c, int64_t *v);

/*
 * sf-binary ":" *(base64) ":": sets *b64 and *len to the base64 text between
 * the colons (not decoded, characters only checked to be in the base64
 * alphabet incl. "=").
 */
int sfv_bytes(struct sfv_cur *c, const char **b64, size_t *len);

/*
 * After a dictionary member: OWS, then end of input (returns 1) or ","
 * OWS followed by more input (returns 0).  -1 on anything else, including a
 * trailing comma.
 */
int sfv_dict_next(struct sfv_cur *c);

/* Serialises s as an sf-string ("..." with \" and \\ escaped) into buf at
 * *pos; returns -1 if it does not fit or s has a byte not allowed. */
int sfv_put_string(char *buf, size_t size, size_t *pos, const char *s);

/* True if s is a valid sf-string content (printable ASCII). */
bool sfv_string_ok(const char *s);

#endif /* DT_DAEMON_SFV_H */

/*
 * tests/jsonschema.h — a small JSON Schema (2020-12 subset) validator over
 * jansson trees, for tests/test_openapi.c (test-only code).
 *
 * Implemented: $ref (local "#/..." JSON pointers into the root document,
 * siblings validated too), type (a name or an array of names; "integer"
 * also accepts a real with an integral value), enum, const (numbers compare
 * by value), properties, required, additionalProperties (boolean or
 * schema), items (one schema), minItems, maxItems, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum (numbers), minLength, maxLength (code
 * points), pattern (POSIX extended regular expression, unanchored search),
 * allOf, anyOf, oneOf, not, and boolean schemas.  Annotations (description,
 * title, format, example(s), default, deprecated, readOnly, writeOnly,
 * $comment) are ignored.  Any other keyword is an error, so a schema can
 * not rely on a rule this validator does not check.
 */
#ifndef TESTS_JSONSCHEMA_H
#define TESTS_JSONSCHEMA_H

#include <stddef.h>

#include <jansson.h>

#define JS_ERR_MAX 512

/* The node a local reference ("#", "#/a/b~1c") names in root, or NULL. */
json_t *js_pointer(json_t *root, const char *ref);

/* Follows "$ref" of an object whose only member is "$ref" (OpenAPI
 * Reference Objects), bounded; NULL if a reference does not resolve. */
json_t *js_deref(json_t *root, json_t *node);

/*
 * Validates instance against schema (a node of root, which resolves the
 * references).  0 when valid; -1 otherwise, with err naming the instance
 * location and the rule ("/quality/windows_used: 0 < minimum 1"), or the
 * schema error (an unsupported keyword, an unresolved $ref).
 */
int js_validate(json_t *root, json_t *schema, json_t *instance, char *err,
    size_t errsize);

/*
 * Checks a schema without an instance: every keyword supported, every
 * $ref resolves, every subschema well formed.  0 / -1 with err.
 */
int js_check_schema(json_t *root, json_t *schema, char *err, size_t errsize);

#endif /* TESTS_JSONSCHEMA_H */

/*
 * api_json.c — request bodies: JSON parsed with jansson and checked against a
 * resource's field table (types, values, required fields, unknown fields, fields
 * only an operator may set). Pure: no I/O, fuzzed by fuzz_api_json.
 */
#include "api/api_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *const api_scope_names[] = {
	"calls:read", "calls:write", "numbers:read", "peers:read", "peers:write",
	"keys:read", "keys:write", "events:read", "webhooks:write", NULL,
};

static const char *type_name(enum api_ftype t)
{
	switch (t) {
	case AF_STRING: return "a string";
	case AF_INT: return "an integer";
	case AF_BOOL: return "a boolean";
	case AF_STRARRAY: return "an array of strings";
	case AF_OBJECT: return "an object";
	}
	return "?";
}

bool api_is_e164(const char *s)
{
	size_t n;

	if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	n = strlen(s + 1);
	if (n < 2 || n > 15)
		return false;
	for (size_t i = 1; i <= n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static bool is_sip_uri(const char *s)
{
	size_t n = strlen(s), start;

	if (strncmp(s, "sip:", 4) == 0)
		start = 4;
	else if (strncmp(s, "sips:", 5) == 0)
		start = 5;
	else
		return false;
	if (n <= start || n > 240)
		return false;
	for (size_t i = start; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~')
			return false;
	return true;
}

static bool is_uuid(const char *s)
{
	static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(form) - 1)
		return false;
	for (size_t i = 0; form[i]; i++)
		if (form[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_scope(const char *s)
{
	for (size_t i = 0; api_scope_names[i]; i++)
		if (strcmp(api_scope_names[i], s) == 0)
			return true;
	return false;
}

/* "/a/b": absolute, printable without blanks, no "." or ".." part (migration 005). */
static bool is_folder(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~')
			return false;
	for (const char *p = s; p; p = strchr(p + 1, '/')) {
		size_t n = strcspn(p + 1, "/");

		if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
			return false;
	}
	return true;
}

static int bad_value(const struct api_field *f, struct api_err *e, const char *why)
{
	api_err_set(e, 422, "invalid_value", "%s: %s", f->name, why);
	snprintf(e->field, sizeof(e->field), "%s", f->name);
	return EINVAL;
}

static int check_string(const struct api_field *f, const char *s, struct api_err *e)
{
	size_t n = strlen(s), max = f->max ? (size_t)f->max : 255;

	if (n > max || (long)n < f->min)
		return bad_value(f, e, "wrong length");
	switch (f->check) {
	case AC_NONE:
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < ' ')
				return bad_value(f, e, "control characters");
		return 0;
	case AC_E164:
		return api_is_e164(s) ? 0 : bad_value(f, e, "not an E.164 number (+ and digits)");
	case AC_NAME:
		return is_name(s) ? 0 : bad_value(f, e, "1-63 of A-Z a-z 0-9 _ . -");
	case AC_ENUM:
		for (size_t i = 0; f->enums && f->enums[i]; i++)
			if (strcmp(f->enums[i], s) == 0)
				return 0;
		return bad_value(f, e, "not one of the allowed values");
	case AC_DIGITS:
		for (size_t i = 0; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return bad_value(f, e, "digits only");
		return n <= 15 ? 0 : bad_value(f, e, "at most 15 digits");
	case AC_SIPURI:
		return is_sip_uri(s) ? 0 : bad_value(f, e, "not a sip: or sips: URI");
	case AC_DEST:
		return api_is_e164(s) || is_sip_uri(s) ? 0 :
			bad_value(f, e, "neither an E.164 number nor a sip: URI");
	case AC_UUID:
		return is_uuid(s) ? 0 : bad_value(f, e, "not a UUID");
	case AC_SCOPES:
		return is_scope(s) ? 0 : bad_value(f, e, "unknown scope");
	case AC_FOLDER:
		return is_folder(s) ? 0 :
			bad_value(f, e, "not an absolute folder (/ and printable, no . or ..)");
	}
	return 0;
}

int api_field_check(const struct api_field *f, json_t *v, struct api_err *e)
{
	bool ok;

	if (json_is_null(v)) {
		if (f->flags & AF_NULL)
			return 0;
		api_err_set(e, 422, "invalid_type", "%s may not be null", f->name);
		snprintf(e->field, sizeof(e->field), "%s", f->name);
		return EINVAL;
	}
	switch (f->type) {
	case AF_STRING: ok = json_is_string(v); break;
	case AF_INT: ok = json_is_integer(v); break;
	case AF_BOOL: ok = json_is_boolean(v); break;
	case AF_STRARRAY: ok = json_is_array(v); break;
	case AF_OBJECT: ok = json_is_object(v); break;
	default: ok = false;
	}
	if (!ok) {
		api_err_set(e, 422, "invalid_type", "%s must be %s", f->name, type_name(f->type));
		snprintf(e->field, sizeof(e->field), "%s", f->name);
		return EINVAL;
	}
	if (f->type == AF_STRING) {
		if (strlen(json_string_value(v)) != json_string_length(v))
			return bad_value(f, e, "NUL character");
		return check_string(f, json_string_value(v), e);
	}
	if (f->type == AF_INT) {
		json_int_t i = json_integer_value(v);

		if (i < f->min || i > f->max)
			return bad_value(f, e, "out of range");
		return 0;
	}
	if (f->type == AF_STRARRAY) {
		size_t idx;
		json_t *x;

		if (json_array_size(v) > 64)
			return bad_value(f, e, "more than 64 elements");
		json_array_foreach(v, idx, x) {
			if (!json_is_string(x)) {
				api_err_set(e, 422, "invalid_type", "%s must be %s", f->name,
					    type_name(f->type));
				snprintf(e->field, sizeof(e->field), "%s", f->name);
				return EINVAL;
			}
			if (strlen(json_string_value(x)) != json_string_length(x) ||
			    check_string(f, json_string_value(x), e))
				return bad_value(f, e, "a bad element");
		}
	}
	return 0;
}

static const struct api_field *find(const struct api_field *f, size_t nf, const char *name)
{
	for (size_t i = 0; i < nf; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

int api_json_decode(const char *buf, size_t len, const struct api_field *f, size_t nf,
		    enum api_jmode mode, bool operator_, json_t **out, struct api_err *e)
{
	json_error_t je;
	json_t *o, *v;
	const char *k;

	*out = NULL;
	if (len == 0)
		return api_err_set(e, 400, "invalid_json", "the body is empty: a JSON object is "
				   "expected");
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return api_err_set(e, 400, "invalid_json", "malformed JSON at line %d column %d: "
				   "%s", je.line, je.column, je.text);
	if (!json_is_object(o)) {
		json_decref(o);
		return api_err_set(e, 400, "invalid_json", "the body must be a JSON object");
	}
	json_object_foreach(o, k, v) {
		const struct api_field *fd = find(f, nf, k);

		if (!fd || (fd->flags & AF_RO)) {
			api_err_set(e, 422, "unknown_field", "unknown field: %.100s", k);
			snprintf(e->field, sizeof(e->field), "%.63s", k);
			goto fail;
		}
		if (mode == AJ_UPDATE && (fd->flags & AF_CREATE)) {
			api_err_set(e, 422, "immutable_field", "%s is set on creation only", k);
			snprintf(e->field, sizeof(e->field), "%s", k);
			goto fail;
		}
		if ((fd->flags & AF_OPWRITE) && !operator_) {
			api_err_set(e, 403, "forbidden_field", "only an operator may set %s", k);
			snprintf(e->field, sizeof(e->field), "%s", k);
			goto fail;
		}
		if (api_field_check(fd, v, e))
			goto fail;
	}
	if (mode == AJ_CREATE) {
		for (size_t i = 0; i < nf; i++) {
			if (!(f[i].flags & AF_REQ) || json_object_get(o, f[i].name))
				continue;
			api_err_set(e, 422, "missing_field", "%s is required", f[i].name);
			snprintf(e->field, sizeof(e->field), "%s", f[i].name);
			goto fail;
		}
	} else if (mode == AJ_UPDATE && json_object_size(o) == 0) {
		api_err_set(e, 422, "missing_field", "nothing to change");
		goto fail;
	}
	*out = o;
	return 0;
fail:
	json_decref(o);
	return EINVAL;
}

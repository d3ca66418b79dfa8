/* test_api.c — the API's pure parts: the router (parameters decoded, 404 / 405 with
 * Allow, bad escapes), the body decoder (each error code, the field it names), keys
 * (form, hash, randomness), and the OpenAPI document generated from the route table
 * (every route in it, nothing else). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"

static void test_route(void **state)
{
	char p[API_MAX_PARAMS][API_PARAM_MAX], allow[64];
	const struct api_route *r = NULL;

	(void)state;
	assert_int_equal(api_routes_init(), 0);
	assert_int_equal(api_route_match(EVHTTP_REQ_GET, "/v1/dids/%2B15550001000", &r, p, allow,
					 sizeof(allow)), 0);
	assert_string_equal(r->pattern, "/v1/dids/{id}");
	assert_string_equal(p[0], "+15550001000");
	assert_int_equal(api_route_match(EVHTTP_REQ_POST, "/v1/calls/abc/hangup", &r, p, allow,
					 sizeof(allow)), 0);
	assert_ptr_equal(r->h, api_h_calls_hangup);
	assert_string_equal(p[0], "abc");
	assert_int_equal(api_route_match(EVHTTP_REQ_PUT, "/v1/peers", &r, p, allow,
					 sizeof(allow)), EPERM);
	assert_string_equal(allow, "GET, POST");
	assert_int_equal(api_route_match(EVHTTP_REQ_GET, "/v1/peers/", &r, p, allow,
					 sizeof(allow)), ENOENT);
	assert_int_equal(api_route_match(EVHTTP_REQ_GET, "/v1/peers/x/y", &r, p, allow,
					 sizeof(allow)), ENOENT);
	assert_int_equal(api_route_match(EVHTTP_REQ_GET, "/v1/peers/%zz", &r, p, allow,
					 sizeof(allow)), EINVAL);
	assert_int_equal(api_route_match(EVHTTP_REQ_GET, "/v1/peers/%00", &r, p, allow,
					 sizeof(allow)), EINVAL);
	assert_int_equal(api_route_match(EVHTTP_REQ_GET, "/v1/peers/%4", &r, p, allow,
					 sizeof(allow)), EINVAL);
	assert_int_equal(api_route_match(EVHTTP_REQ_GET, "v1/peers", &r, p, allow,
					 sizeof(allow)), EINVAL);
	assert_int_equal(api_route_match(EVHTTP_REQ_GET, "/metrics", &r, p, allow,
					 sizeof(allow)), 0);
	assert_true(r->flags & AR_OPERATOR);
}

static int decode(const char *body, bool op, struct api_err *e, json_t **o)
{
	const struct api_resource *res = api_resource_find("peers");

	memset(e, 0, sizeof(*e));
	return api_json_decode(body, strlen(body), res->fields, res->n_fields, AJ_CREATE, op, o,
			       e);
}

static void expect_err(const char *body, bool op, int status, const char *code,
		       const char *field)
{
	struct api_err e;
	json_t *o = NULL;

	assert_int_equal(decode(body, op, &e, &o), EINVAL);
	assert_null(o);
	assert_int_equal(e.status, status);
	assert_string_equal(e.code, code);
	if (field)
		assert_string_equal(e.field, field);
}

static void test_decode(void **state)
{
	struct api_err e;
	json_t *o = NULL;

	(void)state;
	assert_int_equal(decode("{\"name\":\"pbx-1\",\"port\":5070,\"codecs\":[\"PCMU\"]}", false,
				&e, &o), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "port")), 5070);
	json_decref(o);
	expect_err("", false, 400, "invalid_json", NULL);
	expect_err("{\"name\":", false, 400, "invalid_json", NULL);
	expect_err("\"name\"", false, 400, "invalid_json", NULL);
	expect_err("[]", false, 400, "invalid_json", NULL);
	expect_err("{\"name\":\"a\",\"name\":\"b\"}", false, 400, "invalid_json", NULL);
	expect_err("{\"name\":\"a\",\"colour\":1}", false, 422, "unknown_field", "colour");
	expect_err("{\"name\":\"a\",\"id\":\"x\"}", false, 422, "unknown_field", "id");
	expect_err("{\"name\":5}", false, 422, "invalid_type", "name");
	expect_err("{\"name\":null}", false, 422, "invalid_type", "name");
	expect_err("{\"name\":\"a\",\"port\":1.5}", false, 422, "invalid_type", "port");
	expect_err("{\"name\":\"a\",\"port\":70000}", false, 422, "invalid_value", "port");
	expect_err("{\"name\":\"a b\"}", false, 422, "invalid_value", "name");
	expect_err("{\"name\":\"a\",\"transport\":\"sctp\"}", false, 422, "invalid_value",
		   "transport");
	expect_err("{\"name\":\"a\",\"codecs\":[1]}", false, 422, "invalid_type", "codecs");
	expect_err("{\"name\":\"a\\u0000b\"}", false, 400, "invalid_json", NULL);
	expect_err("{\"port\":5060}", false, 422, "missing_field", "name");
	expect_err("{\"name\":\"a\",\"tenant_id\":\"x\"}", false, 403, "forbidden_field",
		   "tenant_id");
	assert_int_equal(decode("{\"name\":\"a\",\"tenant_id\":\"x\"}", true, &e, &o), 0);
	json_decref(o);
}

static void test_e164(void **state)
{
	(void)state;
	assert_true(api_is_e164("+15550001000"));
	assert_true(api_is_e164("+44"));
	assert_false(api_is_e164("+4"));
	assert_false(api_is_e164("15550001000"));
	assert_false(api_is_e164("+05550001000"));
	assert_false(api_is_e164("+1555000100012345"));
	assert_false(api_is_e164("+1555x"));
	assert_false(api_is_e164(""));
}

static void test_keys(void **state)
{
	char k1[API_KEY_LEN + 1], k2[API_KEY_LEN + 1], h[65];

	(void)state;
	assert_int_equal(api_key_generate(k1, sizeof(k1)), 0);
	assert_int_equal(api_key_generate(k2, sizeof(k2)), 0);
	assert_int_equal(strlen(k1), API_KEY_LEN);
	assert_true(api_key_wellformed(k1));
	assert_string_not_equal(k1, k2);
	assert_int_equal(api_key_generate(k1, API_KEY_LEN), EINVAL);
	assert_false(api_key_wellformed("tk_live_short"));
	assert_false(api_key_wellformed("tk_test_0123456789012345678901234567890123456789"));
	assert_false(api_key_wellformed("tk_live_01234567890123456789012345678901234567-9"));
	api_key_hash("abc", h);   /* FIPS 180-2 example */
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Live media control: the operation a path names, and bodies decoded with every field
 * optional (the call is looked up before what the operation requires is checked). */
static void test_media_ops(void **state)
{
	const struct api_media_op *op;
	struct api_err e = {0};
	const char *body;
	json_t *o = NULL;

	(void)state;
	op = api_media_op_of("/v1/calls/abc/dtmf");
	assert_non_null(op);
	assert_string_equal(op->schema, "CallDtmf");
	assert_null(api_media_op_of("/v1/calls/abc/hangup"));
	assert_null(api_media_op_of("/v1/calls/abc/dtmfx"));
	assert_int_equal(api_json_decode("{}", 2, op->fields, op->n_fields, AJ_OPTIONAL, false,
					 &o, &e), 0);
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
	o = NULL;
	body = "{\"leg\":\"c\"}";
	assert_int_equal(api_json_decode(body, strlen(body), op->fields, op->n_fields,
					 AJ_OPTIONAL, false, &o, &e), EINVAL);
	assert_int_equal(e.status, 422);
	assert_string_equal(e.field, "leg");
	body = "{\"duration_ms\":5}";
	assert_int_equal(api_json_decode(body, strlen(body), op->fields, op->n_fields,
					 AJ_OPTIONAL, false, &o, &e), EINVAL);
	assert_string_equal(e.field, "duration_ms");
	assert_null(o);
}

static void test_openapi(void **state)
{
	json_t *doc, *paths;
	size_t ops = 0;
	const char *k;
	json_t *v;

	(void)state;
	doc = api_openapi_doc();
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	paths = json_object_get(doc, "paths");
	for (size_t i = 0; i < api_n_routes; i++) {
		char m[16];

		snprintf(m, sizeof(m), "%s", api_method_name(api_routes[i].method));
		for (char *p = m; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		assert_non_null(json_object_get(json_object_get(paths, api_routes[i].pattern), m));
	}
	json_object_foreach(paths, k, v)
		ops += json_object_size(v);
	assert_int_equal(ops, api_n_routes);
	/* Secrets are write-only in the schemas. */
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(json_object_get(
		json_object_get(json_object_get(doc, "components"), "schemas"), "Trunk"),
		"properties"), "auth_secret"), "writeOnly")));
	json_decref(doc);
}

/* Idempotency-Key: the header's form, and the names a request's key is kept under —
 * per tenant, the same for the same body whatever its keys' order. */
static void test_idem(void **state)
{
	struct api_idem x, y, z, t;
	json_t *a = json_pack("{s:s,s:s,s:i}", "from", "+15557770001", "to", "+15551230000",
			      "timeout", 20);
	json_t *b = json_pack("{s:i,s:s,s:s}", "timeout", 20, "to", "+15551230000", "from",
			      "+15557770001");
	json_t *c = json_pack("{s:s,s:s,s:i}", "from", "+15557770001", "to", "+15551230000",
			      "timeout", 21);
	char big[API_IDEM_KEY_MAX + 2];

	(void)state;
	assert_true(api_idem_key_ok("order-1"));
	assert_true(api_idem_key_ok("9f1c2b7e-0f3a-4c55-8a11-2f0d5e6b7c8d"));
	assert_false(api_idem_key_ok(""));
	assert_false(api_idem_key_ok(NULL));
	assert_false(api_idem_key_ok("has space"));
	assert_false(api_idem_key_ok("tab\there"));
	assert_false(api_idem_key_ok("caf\xc3\xa9"));
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(api_idem_key_ok(big));
	big[API_IDEM_KEY_MAX] = '\0';
	assert_true(api_idem_key_ok(big));
	api_idem_names("acme", "order-1", a, &x);
	api_idem_names("acme", "order-1", b, &y);
	api_idem_names("acme", "order-1", c, &z);
	api_idem_names("bravo", "order-1", a, &t);
	assert_string_equal(x.rkey, y.rkey);
	assert_string_equal(x.hash, y.hash);        /* key order is not the request */
	assert_string_not_equal(x.hash, z.hash);    /* another value is */
	assert_string_not_equal(x.rkey, t.rkey);    /* keys are per tenant */
	assert_string_equal(x.hash, t.hash);
	assert_non_null(strstr(x.rkey, "{acme}"));
	assert_null(strstr(x.rkey, "order-1"));     /* the header's text is not a key name */
	assert_int_equal(strlen(x.hash), 64);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_e164),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_openapi),
		cmocka_unit_test(test_media_ops),
		cmocka_unit_test(test_idem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

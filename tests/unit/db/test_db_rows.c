/* test_db_rows.c — rows of the routing tables as text -> routing structures, refused
 * rows with their reasons, and the LISTEN payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db/db_rows.h"

static char why[256];

static const char carrier_config[] =
	"{\"country_code\":\"91\",\"national_prefix\":\"0\",\"session_expires\":1800,"
	"\"100rel\":\"required\",\"trusted\":true,\"pass_headers\":[\"P-Asserted-Identity\"]}";

static const char *carrier[DBT_N] = {
	"id-1", "carrier1", "", "", "sbc.example", "5080", "tcp", "10.0.0.0/24 10.1.1.1/32",
	"0", "userpass", "user1", "secret", "true", "false", "300", "PCMA,ulaw,g729", "30",
	"leading_zero", "active", carrier_config,
	/* media options (migration 005): the tables' defaults */
	"off", "false", "true", "rfc4733", "5", "true", "false",
	"node",   /* migration 006 */
};

static int trunk_with(int col, const char *val, struct trunk_cfg *t)
{
	const char *c[DBT_N];

	memcpy(c, carrier, sizeof(c));
	if (col >= 0)
		c[col] = val;
	return db_row_trunk(c, DBT_N, TRUNK_KIND_CARRIER, t, why, sizeof(why));
}

/* A codec named twice after others (a fuzzer found it): kept once, no crash. */
static void test_codecs_repeated(void **state)
{
	struct trunk_cfg t;

	(void)state;
	assert_int_equal(trunk_with(DBT_CODECS, "{pcma,pcmu,pcmu,pcma,g729,pcmu}", &t), 0);
	assert_int_equal(t.n_codecs, 2);
	assert_string_equal(t.codecs[0], "PCMA/8000");
	assert_string_equal(t.codecs[1], "PCMU/8000");
}

static void test_carrier(void **state)
{
	struct trunk_cfg t;

	(void)state;
	assert_int_equal(trunk_with(-1, NULL, &t), 0);
	assert_string_equal(t.name, "carrier1");
	assert_string_equal(t.id, "id-1");
	assert_string_equal(t.group, "default");
	assert_string_equal(t.uri, "sip:sbc.example:5080;transport=tcp");
	assert_int_equal(t.n_cidrs, 2);
	assert_int_equal(t.cidrs[0].bits, 24);
	assert_int_equal(t.n_codecs, 2);   /* g729 is not carried: ignored */
	assert_string_equal(t.codecs[0], "PCMA/8000");
	assert_string_equal(t.codecs[1], "PCMU/8000");
	assert_true(t.auth_inbound);
	assert_string_equal(t.auth_user, "user1");
	assert_int_equal(t.qualify_s, 30);
	assert_int_equal(t.dial_format, DIAL_LEADING_ZERO);
	assert_string_equal(t.country_code, "91");
	assert_int_equal(t.session_expires, 1800);
	assert_int_equal(t.min_se, 90);
	assert_int_equal(t.rel100, TRUNK_REL100_REQUIRED);
	assert_true(t.trusted);
	assert_int_equal(t.n_pass_headers, 1);
	/* IPv6 host in brackets. */
	assert_int_equal(trunk_with(DBT_HOST, "2001:db8::1", &t), 0);
	assert_string_equal(t.uri, "sip:[2001:db8::1]:5080;transport=tcp");
}

static void test_carrier_refused(void **state)
{
	static const struct { int col; const char *val, *word; } bad[] = {
		{DBT_NAME, "bad name", "name"},
		{DBT_HOST, "bad host!", "host"},
		{DBT_PORT, "70000", "port"},
		{DBT_TRANSPORT, "sctp", "transport"},
		{DBT_IPS, "10.0.0.1/24", "CIDR"},          /* host bits */
		{DBT_IPS, "10.0.0.0/33", "CIDR"},
		{DBT_IPS, "10.0.0.1 10.0.0.1", "twice"},
		{DBT_CODECS, "g729,gsm", "codec"},
		{DBT_DIAL_FORMAT, "e164", "dial_format"},
		{DBT_STATUS, "broken", "status"},
		{DBT_INBOUND_AUTH, "maybe", "boolean"},
		{DBT_CONFIG, "[1]", "JSON object"},
		{DBT_CONFIG, "{\"country_code\":\"x1\"}", "country_code"},
		{DBT_CONFIG, "{\"min_se\":10}", "min_se"},
		{DBT_CONFIG, "{\"100rel\":\"always\"}", "100rel"},
		{DBT_CONFIG, "{\"pass_headers\":[\"Privacy\"],\"trusted\":false}", "trusted"},
		{DBT_CONFIG, "{\"national_prefix\":\"0\"}", "country_code"},
		{DBT_SRTP, "sometimes", "srtp"},
		{DBT_SRTP, "required", "tls"},          /* transport tcp, keys in clear */
		{DBT_SRTP_NO_TLS, "maybe", "srtp_without_tls"},
		{DBT_TLS_VERIFY, "2", "tls_verify"},
		{DBT_DTMF, "sip-info", "dtmf"},
		{DBT_LATCH, "first", "latch"},
		{DBT_OPUS_COMPLEXITY, "11", "opus_complexity"},
		{DBT_OPUS_COMPLEXITY, "-1", "opus_complexity"},
		{DBT_IPS, "/8", "CIDR"},
	};
	struct trunk_cfg t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (trunk_with(bad[i].col, bad[i].val, &t) != EINVAL)
			fail_msg("%s accepted", bad[i].val);
		if (!strstr(why, bad[i].word))
			fail_msg("%s: reason \"%s\" lacks \"%s\"", bad[i].val, why, bad[i].word);
	}
	/* Too few columns; a peer needs its tenant. */
	assert_int_equal(db_row_trunk(carrier, DBT_N - 1, TRUNK_KIND_CARRIER, &t, why,
				      sizeof(why)), EINVAL);
	assert_int_equal(db_row_trunk(carrier, DBT_N, TRUNK_KIND_PEER, &t, why, sizeof(why)),
			 EINVAL);
	/* Neither sources nor a host. */
	{
		const char *c[DBT_N];

		memcpy(c, carrier, sizeof(c));
		c[DBT_HOST] = "";
		c[DBT_IPS] = "";
		assert_int_equal(db_row_trunk(c, DBT_N, TRUNK_KIND_CARRIER, &t, why, sizeof(why)),
				 EINVAL);
	}
}

/* The media columns read as the file's [trunk] keys of the same names. */
static void test_carrier_media(void **state)
{
	const char *c[DBT_N];
	struct trunk_cfg t;

	(void)state;
	/* Defaults: those of a file's [trunk]. */
	assert_int_equal(trunk_with(-1, NULL, &t), 0);
	assert_int_equal(t.srtp, TRUNK_SRTP_OFF);
	assert_false(t.srtp_without_tls);
	assert_true(t.tls_verify);
	assert_int_equal(t.dtmf, TRUNK_DTMF_RFC4733);
	assert_int_equal(t.opus_complexity, 5);
	assert_true(t.opus_fec);
	assert_false(t.opus_dtx);
	assert_int_equal(t.latch, TRUNK_LATCH_NODE);
	/* Every column set; TLS transport lets SRTP keys cross. */
	memcpy(c, carrier, sizeof(c));
	c[DBT_TRANSPORT] = "tls";
	c[DBT_SRTP] = "required";
	c[DBT_TLS_VERIFY] = "false";
	c[DBT_DTMF] = "info";
	c[DBT_OPUS_COMPLEXITY] = "10";
	c[DBT_OPUS_FEC] = "false";
	c[DBT_OPUS_DTX] = "true";
	c[DBT_LATCH] = "any";
	c[DBT_CODECS] = "{opus,PCMU,telephone-event}";
	assert_int_equal(db_row_trunk(c, DBT_N, TRUNK_KIND_CARRIER, &t, why, sizeof(why)), 0);
	assert_string_equal(t.uri, "sip:sbc.example:5080;transport=tls");
	assert_int_equal(t.srtp, TRUNK_SRTP_REQUIRED);
	assert_false(t.tls_verify);
	assert_int_equal(t.dtmf, TRUNK_DTMF_INFO);
	assert_int_equal(t.opus_complexity, 10);
	assert_false(t.opus_fec);
	assert_true(t.opus_dtx);
	assert_int_equal(t.latch, TRUNK_LATCH_ANY);
	assert_int_equal(t.n_codecs, 3);   /* in the row's order */
	assert_string_equal(t.codecs[0], "opus/48000/2");
	assert_string_equal(t.codecs[1], "PCMU/8000");
	assert_string_equal(t.codecs[2], "telephone-event/8000");
	/* Required SRTP over plain transport when the trunk allows keys in clear. */
	c[DBT_TRANSPORT] = "udp";
	assert_int_equal(db_row_trunk(c, DBT_N, TRUNK_KIND_CARRIER, &t, why, sizeof(why)),
			 EINVAL);
	c[DBT_SRTP_NO_TLS] = "true";
	assert_int_equal(db_row_trunk(c, DBT_N, TRUNK_KIND_CARRIER, &t, why, sizeof(why)), 0);
	assert_true(t.srtp_without_tls);
	/* An inbound-only trunk (no host) sends no keys anywhere. */
	c[DBT_SRTP_NO_TLS] = "false";
	c[DBT_HOST] = "";
	assert_int_equal(db_row_trunk(c, DBT_N, TRUNK_KIND_CARRIER, &t, why, sizeof(why)), 0);
	/* Empty media columns (an older row shape): the defaults. */
	memcpy(c, carrier, sizeof(c));
	for (int i = DBT_SRTP; i < DBT_N; i++)
		c[i] = "";
	assert_int_equal(db_row_trunk(c, DBT_N, TRUNK_KIND_CARRIER, &t, why, sizeof(why)), 0);
	assert_int_equal(t.opus_complexity, 5);
	assert_true(t.opus_fec && t.tls_verify);
	/* A peer takes the same columns. */
	memcpy(c, carrier, sizeof(c));
	c[DBT_TENANT] = "acme";
	c[DBT_DTMF] = "inband";
	c[DBT_LATCH] = "known";
	assert_int_equal(db_row_trunk(c, DBT_N, TRUNK_KIND_PEER, &t, why, sizeof(why)), 0);
	assert_int_equal(t.dtmf, TRUNK_DTMF_INBAND);
	assert_int_equal(t.latch, TRUNK_LATCH_KNOWN);
}

/* record_dir and amd of DIDs, routes and outbound rules. */
static void test_record_amd(void **state)
{
	static const char *const bad_dirs[] = {
		"rec", "/var/rec/../etc", "/var/rec/..", "/./x", "/var/rec/.", "/a b", "/a\tb",
	};
	const char *did[DBD_N] = {"+15550001000", "id-1", "acme", "peer", "p-1", "", "",
				  "active", "/var/rec", "true"};
	const char *rt[DBR_N] = {"everything", "*", "", "carrier1", "", "/srv/r", "false"};
	const char *orr[DBO_N] = {"", "44", "10", "2", "carrier1", "", "true"};
	struct did_cfg d;
	struct route_cfg r;
	struct oroute_cfg o;

	(void)state;
	assert_int_equal(db_row_did(did, DBD_N, &d, why, sizeof(why)), 0);
	assert_string_equal(d.record_dir, "/var/rec");
	assert_true(d.amd);
	assert_int_equal(db_row_route(rt, DBR_N, &r, why, sizeof(why)), 0);
	assert_string_equal(r.record_dir, "/srv/r");
	assert_false(r.amd);
	assert_int_equal(db_row_oroute(orr, DBO_N, &o, why, sizeof(why)), 0);
	assert_string_equal(o.record_dir, "");
	assert_true(o.amd);
	for (size_t i = 0; i < sizeof(bad_dirs) / sizeof(bad_dirs[0]); i++) {
		did[DBD_RECORD] = bad_dirs[i];
		if (db_row_did(did, DBD_N, &d, why, sizeof(why)) != EINVAL)
			fail_msg("record_dir %s accepted", bad_dirs[i]);
		assert_non_null(strstr(why, "record_dir"));
	}
	did[DBD_RECORD] = "";
	did[DBD_AMD] = "perhaps";
	assert_int_equal(db_row_did(did, DBD_N, &d, why, sizeof(why)), EINVAL);
	assert_non_null(strstr(why, "amd"));
	orr[DBO_AMD] = "x";
	assert_int_equal(db_row_oroute(orr, DBO_N, &o, why, sizeof(why)), EINVAL);
	rt[DBR_RECORD] = "relative";
	assert_int_equal(db_row_route(rt, DBR_N, &r, why, sizeof(why)), EINVAL);
	/* Too few columns. */
	assert_int_equal(db_row_did(did, DBD_N - 1, &d, why, sizeof(why)), EINVAL);
}

static void test_tenant_did_route(void **state)
{
	const char *ten[DBTN_N] = {"acme", "Acme", "active", "true", "", "+15550001000"};
	const char *did[DBD_N] = {"+15550001000", "id-1", "acme", "uri", "",
				  "sip:{did}@ivr.example", "", "inactive", "", "false"};
	const char *rt[DBR_N] = {"everything", "*", "", "carrier1", "", "", "false"};
	const char *orr[DBO_N] = {"", "44", "10", "2", "carrier1", "", "false"};
	struct tenant_cfg t;
	struct did_cfg d;
	struct route_cfg r;
	struct oroute_cfg o;

	(void)state;
	assert_int_equal(db_row_tenant(ten, DBTN_N, &t, why, sizeof(why)), 0);
	assert_true(t.active && t.configured);
	assert_int_equal(t.max_calls, -1);
	assert_string_equal(t.default_did, "+15550001000");
	ten[DBTN_MAX_CALLS] = "-1";
	assert_int_equal(db_row_tenant(ten, DBTN_N, &t, why, sizeof(why)), EINVAL);
	ten[DBTN_MAX_CALLS] = "0";
	assert_int_equal(db_row_tenant(ten, DBTN_N, &t, why, sizeof(why)), 0);
	assert_int_equal(t.max_calls, 0);
	ten[DBTN_DEFAULT_DID] = "5550001000";
	assert_int_equal(db_row_tenant(ten, DBTN_N, &t, why, sizeof(why)), EINVAL);

	assert_int_equal(db_row_did(did, DBD_N, &d, why, sizeof(why)), 0);
	assert_int_equal(d.dest, DID_DEST_URI);
	assert_false(d.active);
	assert_string_equal(d.uri, "sip:{did}@ivr.example");
	did[DBD_URI] = "";
	assert_int_equal(db_row_did(did, DBD_N, &d, why, sizeof(why)), EINVAL);
	did[DBD_URI] = "http://x";
	assert_int_equal(db_row_did(did, DBD_N, &d, why, sizeof(why)), EINVAL);
	did[DBD_NUMBER] = "+05550001000";
	assert_int_equal(db_row_did(did, DBD_N, &d, why, sizeof(why)), EINVAL);

	assert_int_equal(db_row_route(rt, DBR_N, &r, why, sizeof(why)), 0);
	assert_string_equal(r.to_trunk, "carrier1");
	rt[DBR_TO] = "";
	assert_int_equal(db_row_route(rt, DBR_N, &r, why, sizeof(why)), EINVAL);

	assert_int_equal(db_row_oroute(orr, DBO_N, &o, why, sizeof(why)), 0);
	assert_int_equal(o.weight, 2);
	orr[DBO_WEIGHT] = "0";
	assert_int_equal(db_row_oroute(orr, DBO_N, &o, why, sizeof(why)), EINVAL);
	orr[DBO_WEIGHT] = "1";
	orr[DBO_PREFIX] = "0044";
	assert_int_equal(db_row_oroute(orr, DBO_N, &o, why, sizeof(why)), EINVAL);
}

static void test_settings(void **state)
{
	struct route_settings s;
	const char *c[2];

	(void)state;
	route_settings_default(&s);
	c[0] = "answer_unconfigured";
	c[1] = "486";
	assert_int_equal(db_row_setting(c, 2, &s, why, sizeof(why)), 0);
	assert_int_equal(s.answer_unconfigured, 486);
	c[1] = "200";
	assert_int_equal(db_row_setting(c, 2, &s, why, sizeof(why)), EINVAL);
	assert_int_equal(s.answer_unconfigured, 486);
	c[0] = "global_max_calls";
	c[1] = "500";
	assert_int_equal(db_row_setting(c, 2, &s, why, sizeof(why)), 0);
	assert_int_equal(s.global_max_calls, 500);
	c[0] = "outbound_pool";
	c[1] = "campaign";
	assert_int_equal(db_row_setting(c, 2, &s, why, sizeof(why)), 0);
	assert_string_equal(s.outbound_pool, "campaign");
	c[0] = "no_such";
	assert_int_equal(db_row_setting(c, 2, &s, why, sizeof(why)), EINVAL);
}

static void test_notify(void **state)
{
	struct db_notify n;
	char big[4096];
	size_t o;

	(void)state;
	db_notify_parse("carrier_trunks", &n);
	assert_int_equal(n.kind, DB_NOTIFY_TABLES);
	db_notify_parse("calls", &n);
	assert_int_equal(n.kind, DB_NOTIFY_IGNORE);
	db_notify_parse("did_numbers", &n);
	assert_int_equal(n.kind, DB_NOTIFY_DIDS_ALL);
	db_notify_parse("did_numbers:+15550001000,+4420", &n);
	assert_int_equal(n.kind, DB_NOTIFY_DIDS);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.dids[1], "+4420");
	/* Anything odd in the list: read everything again. */
	db_notify_parse("did_numbers:+15550001000,,", &n);
	assert_int_equal(n.kind, DB_NOTIFY_DIDS_ALL);
	db_notify_parse("did_numbers:15550001000", &n);
	assert_int_equal(n.kind, DB_NOTIFY_DIDS_ALL);
	db_notify_parse("did_numbers:", &n);
	assert_int_equal(n.kind, DB_NOTIFY_DIDS_ALL);
	db_notify_parse("did_numbersX", &n);
	assert_int_equal(n.kind, DB_NOTIFY_IGNORE);
	o = (size_t)snprintf(big, sizeof(big), "did_numbers:");
	for (int i = 0; i < 101; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s+1555%07d", i ? "," : "", i);
	db_notify_parse(big, &n);
	assert_int_equal(n.kind, DB_NOTIFY_DIDS_ALL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_carrier),
		cmocka_unit_test(test_codecs_repeated),
		cmocka_unit_test(test_carrier_refused),
		cmocka_unit_test(test_carrier_media),
		cmocka_unit_test(test_record_amd),
		cmocka_unit_test(test_tenant_did_route),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_notify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

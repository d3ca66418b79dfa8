/* test_conf.c — configuration parser: defaults, every value type, every error path
 * with its file:line message, the sample file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

static char errbuf[512];

static int parse(struct conf **cfp, const char *text)
{
	return conf_parse_buf(cfp, "t.conf", text, strlen(text), errbuf, sizeof(errbuf));
}

/* a valid preamble: the media address must be concrete */
#define MEDIA "[media]\naddress = 192.0.2.10\n"

static void test_defaults(void **state)
{
	struct conf *cf;

	(void)state;
	assert_int_equal(parse(&cf, MEDIA), 0);
	assert_string_equal(errbuf, "");
	assert_string_equal(cf->path, "");
	assert_int_equal(cf->general.log_level, LOG_INFO);
	assert_string_equal(cf->general.control_socket, "/run/trunx/trunxd.sock");
	assert_string_equal(cf->sip.listen_addr, "0.0.0.0");
	assert_int_equal(cf->sip.listen_port, 5060);
	assert_true(cf->sip.udp);
	assert_true(cf->sip.tcp);
	assert_string_equal(cf->sip.advertise_addr, "");
	assert_int_equal(cf->sip.advertise_port, 0);
	assert_string_equal(cf->sip.user_agent, "trunx");
	assert_int_equal(cf->sip.max_calls, 1000);
	assert_int_equal(cf->sip.max_cps, 100);
	assert_int_equal(cf->sip.retry_after, 5);
	assert_int_equal(cf->sip.overload_delay_ms, 250);
	assert_int_equal(cf->sip.unknown_source, CONF_UNKNOWN_REJECT);
	assert_int_equal(cf->sip.invite_timeout, 32);
	assert_int_equal(cf->sip.ring_timeout, 120);
	assert_int_equal(cf->sip.max_forwards, 70);
	assert_int_equal(cf->sip.shutdown_grace, 10);
	assert_string_equal(cf->media.bind_addr, "192.0.2.10");
	assert_string_equal(cf->media_advertise, "");
	assert_int_equal(cf->media.port_min, 16384);
	assert_int_equal(cf->media.port_max, 32767);
	assert_int_equal(cf->media.workers, 0);
	assert_int_equal(cf->media.rtp_timeout_ms, 60000);
	assert_int_equal(cf->media.hold_timeout_ms, 3600000);
	assert_int_equal(cf->media.relatch_ms, 2000);
	assert_int_equal(cf->media.latch, MEDIA_LATCH_KNOWN);   /* no RTP bleed by default */
	assert_int_equal(cf->media.io, MEDIA_IO_EPOLL);   /* the default, by measurement */
	/* opt-in: offloaded RTP bypasses the host's netfilter (firewall, NAT) */
	assert_int_equal(cf->media.kernel_forward, MEDIA_KFWD_OFF);
	assert_int_equal(cf->n_trunks, 0);
	assert_int_equal(cf->n_routes, 0);
	conf_free(cf);
}

static void test_trunk_route_defaults(void **state)
{
	struct conf *cf;
	const struct trunk_cfg *t;
	const struct route_cfg *r;

	(void)state;
	assert_int_equal(parse(&cf, MEDIA "[trunk a]\nuri = sip:gw.example.com\n"
				   "[route r]\nmatch = *\nto_trunk = a\n"), 0);
	assert_int_equal(cf->n_trunks, 1);
	t = &cf->trunks[0];
	assert_string_equal(t->name, "a");
	assert_int_equal(t->n_cidrs, 0);
	assert_int_equal(t->port, 0);
	assert_string_equal(t->country_code, "");
	assert_string_equal(t->national_prefix, "");
	assert_string_equal(t->international_prefix, "");
	assert_string_equal(t->uri, "sip:gw.example.com");
	assert_int_equal(t->session_expires, 0);
	assert_int_equal(t->min_se, 90);
	assert_int_equal(t->rel100, TRUNK_REL100_SUPPORTED);
	assert_false(t->trusted);
	assert_int_equal(t->n_pass_headers, 0);
	assert_int_equal(t->n_codecs, 0);
	assert_int_equal(t->latch, TRUNK_LATCH_NODE);   /* the node's [media] latch */
	r = &cf->routes[0];
	assert_string_equal(r->name, "r");
	assert_string_equal(r->match, "*");
	assert_string_equal(r->from_trunk, "");
	assert_string_equal(r->to_trunk, "a");
	assert_string_equal(r->uri, "");
	conf_free(cf);
}

static const char every_key[] =
	"# every key, none at its default\r\n"
	"[general]\r\n"
	"log_level = DEBUG\r\n"
	"control_socket = /tmp/x.sock\r\n"
	"\n"
	"  [ sip ]  \n"
	"listen = [::1]:5080\n"
	"transports = tcp\n"
	"advertise = sip.example.com:5099\n"
	"user_agent = Acme SBC 1.0\n"
	"max_calls = 7\n"
	"max_cps = 3\n"
	"retry_after = 9\n"
	"overload_delay = 0\n"
	"unknown_source = drop\n"
	"invite_timeout = 10\n"
	"ring_timeout = 20\n"
	"max_forwards = 30\n"
	"shutdown_grace = 0\n"
	"; media\n"
	"[media]\n"
	"\taddress\t=\t::\t\n"
	"advertise = 2001:db8::5\n"
	"port_min = 20001\n"
	"port_max = 20100\n"
	"workers = 3\n"
	"rtp_timeout = 0\n"
	"relatch = 5\n"
	"latch = Any\n"
	"io = URING\n"
	"[trunk carrier-1.a_b]\n"
	"match = 192.0.2.0/24, 198.51.100.7 2001:db8::/32,::1\n"
	"port = 5061\n"
	"country_code = 44\n"
	"national_prefix = 0\n"
	"international_prefix = 00\n"
	"uri = sips:user@[2001:db8::1]:5061;transport=tcp\n"
	"session_expires = 1800\n"
	"min_se = 120\n"
	"100rel = required\n"
	"trusted = yes\n"
	"pass_headers = P-Asserted-Identity, Privacy X-Acct\n"
	"codecs = pcma, PCMU/8000,telephone-event\n"
	"latch = known\n"
	"[route uk]\n"
	"match = +44*\n"
	"from_trunk = carrier-1.a_b\n"
	"to_trunk = carrier-1.a_b\n"
	"uri = sip:{national}@gw.example.com;user=phone\n"
	"[route exact]\n"
	"match = +442071234567\n"
	"uri = sip:{did}@[2001:db8::9]:5060";   /* no final line end */

static void test_every_key(void **state)
{
	struct conf *cf;
	const struct trunk_cfg *t;
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *s4;
	char a[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(parse(&cf, every_key), 0);
	assert_int_equal(cf->general.log_level, LOG_DEBUG);
	assert_string_equal(cf->general.control_socket, "/tmp/x.sock");
	assert_string_equal(cf->sip.listen_addr, "::1");
	assert_int_equal(cf->sip.listen_port, 5080);
	assert_false(cf->sip.udp);
	assert_true(cf->sip.tcp);
	assert_string_equal(cf->sip.advertise_addr, "sip.example.com");
	assert_int_equal(cf->sip.advertise_port, 5099);
	assert_string_equal(cf->sip.user_agent, "Acme SBC 1.0");
	assert_int_equal(cf->sip.max_calls, 7);
	assert_int_equal(cf->sip.max_cps, 3);
	assert_int_equal(cf->sip.retry_after, 9);
	assert_int_equal(cf->sip.overload_delay_ms, 0);
	assert_int_equal(cf->sip.unknown_source, CONF_UNKNOWN_DROP);
	assert_int_equal(cf->sip.invite_timeout, 10);
	assert_int_equal(cf->sip.ring_timeout, 20);
	assert_int_equal(cf->sip.max_forwards, 30);
	assert_int_equal(cf->sip.shutdown_grace, 0);
	assert_string_equal(cf->media.bind_addr, "::");
	assert_string_equal(cf->media_advertise, "2001:db8::5");
	assert_int_equal(cf->media.port_min, 20001);
	assert_int_equal(cf->media.port_max, 20100);
	assert_int_equal(cf->media.workers, 3);
	assert_int_equal(cf->media.rtp_timeout_ms, 0);
	assert_int_equal(cf->media.relatch_ms, 5000);
	assert_int_equal(cf->media.latch, MEDIA_LATCH_ANY);
	assert_int_equal(cf->media.io, MEDIA_IO_URING);

	assert_int_equal(cf->n_trunks, 1);
	t = &cf->trunks[0];
	assert_string_equal(t->name, "carrier-1.a_b");
	assert_int_equal(t->n_cidrs, 4);
	s4 = (const struct sockaddr_in *)&t->cidrs[0].addr;
	assert_int_equal(s4->sin_family, AF_INET);
	assert_string_equal(inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)), "192.0.2.0");
	assert_int_equal(t->cidrs[0].bits, 24);
	s4 = (const struct sockaddr_in *)&t->cidrs[1].addr;
	assert_string_equal(inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)), "198.51.100.7");
	assert_int_equal(t->cidrs[1].bits, 32);
	s6 = (const struct sockaddr_in6 *)&t->cidrs[2].addr;
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a)), "2001:db8::");
	assert_int_equal(t->cidrs[2].bits, 32);
	assert_int_equal(t->cidrs[3].bits, 128);
	assert_int_equal(t->port, 5061);
	assert_string_equal(t->country_code, "44");
	assert_string_equal(t->national_prefix, "0");
	assert_string_equal(t->international_prefix, "00");
	assert_string_equal(t->uri, "sips:user@[2001:db8::1]:5061;transport=tcp");
	assert_int_equal(t->session_expires, 1800);
	assert_int_equal(t->min_se, 120);
	assert_int_equal(t->rel100, TRUNK_REL100_REQUIRED);
	assert_true(t->trusted);
	assert_int_equal(t->n_pass_headers, 3);
	assert_string_equal(t->pass_headers[0], "P-Asserted-Identity");
	assert_string_equal(t->pass_headers[1], "Privacy");
	assert_string_equal(t->pass_headers[2], "X-Acct");
	assert_int_equal(t->n_codecs, 3);
	assert_string_equal(t->codecs[0], "PCMA/8000");
	assert_string_equal(t->codecs[1], "PCMU/8000");
	assert_string_equal(t->codecs[2], "telephone-event/8000");
	assert_int_equal(t->latch, TRUNK_LATCH_KNOWN);   /* over the node's any */

	assert_int_equal(cf->n_routes, 2);
	assert_string_equal(cf->routes[0].match, "+44*");
	assert_string_equal(cf->routes[0].from_trunk, "carrier-1.a_b");
	assert_string_equal(cf->routes[0].to_trunk, "carrier-1.a_b");
	assert_string_equal(cf->routes[0].uri, "sip:{national}@gw.example.com;user=phone");
	assert_string_equal(cf->routes[1].match, "+442071234567");
	assert_string_equal(cf->routes[1].uri, "sip:{did}@[2001:db8::9]:5060");
	conf_free(cf);
}

static void test_value_forms(void **state)
{
	static const char *const yes[] = {"yes", "TRUE", "on", "1"};
	static const char *const no[] = {"No", "false", "OFF", "0"};
	char text[256];
	struct conf *cf;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), MEDIA "[trunk t]\nuri = sip:h\ntrusted = %s\n",
			 yes[i]);
		assert_int_equal(parse(&cf, text), 0);
		assert_true(cf->trunks[0].trusted);
		conf_free(cf);
		snprintf(text, sizeof(text), MEDIA "[trunk t]\nuri = sip:h\ntrusted = %s\n",
			 no[i]);
		assert_int_equal(parse(&cf, text), 0);
		assert_false(cf->trunks[0].trusted);
		conf_free(cf);
	}
	/* ranges at their edges, scaled seconds */
	assert_int_equal(parse(&cf, "[sip]\nlisten = 10.0.0.1:1\nmax_calls = 1000000\n"
				   "max_forwards = 1\nretry_after = 3600\n"
				   "[media]\nport_min = 1024\nport_max = 1025\nrelatch = 3600\n"
				   "rtp_timeout = 3600\n"), 0);
	assert_int_equal(cf->sip.listen_port, 1);
	assert_int_equal(cf->sip.max_calls, 1000000);
	assert_int_equal(cf->media.relatch_ms, 3600000);
	assert_int_equal(cf->media.rtp_timeout_ms, 3600000);
	assert_string_equal(cf->media.bind_addr, "10.0.0.1");
	conf_free(cf);
	/* [api] service_listen on a loopback address, IPv4 and IPv6 */
	assert_int_equal(parse(&cf, MEDIA "[api]\nservice_listen = 127.0.0.1:65535\n"), 0);
	conf_free(cf);
	assert_int_equal(parse(&cf, MEDIA "[api]\nservice_listen = [::1]:1\n"), 0);
	conf_free(cf);
	/* wildcard media address with advertise; advertise without port; IPv6 bare */
	assert_int_equal(parse(&cf, "[sip]\nadvertise = 203.0.113.9\n[media]\nadvertise = "
				   "203.0.113.9\n"), 0);
	assert_string_equal(cf->sip.advertise_addr, "203.0.113.9");
	assert_int_equal(cf->sip.advertise_port, 0);
	assert_string_equal(cf->media.bind_addr, "0.0.0.0");
	conf_free(cf);
	assert_int_equal(parse(&cf, MEDIA "[sip]\nadvertise = 2001:db8::1\n"
				   "transports = udp tcp\n"), 0);
	assert_string_equal(cf->sip.advertise_addr, "2001:db8::1");
	conf_free(cf);
	/* empty value clears a string default; header names keep their spelling */
	assert_int_equal(parse(&cf, MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ncodecs =\n"
				   "pass_headers = x-foo\n"), 0);
	assert_int_equal(cf->trunks[0].n_codecs, 0);
	assert_string_equal(cf->trunks[0].pass_headers[0], "x-foo");
	conf_free(cf);
	/* each trunk's latch, by name in any case; node = the [media] latch, named */
	assert_int_equal(parse(&cf, MEDIA "[trunk a]\nuri = sip:a\nlatch = ANY\n"
				   "[trunk b]\nuri = sip:b\nlatch = node\n"
				   "[trunk c]\nuri = sip:c\nlatch = Known\n"), 0);
	assert_int_equal(cf->trunks[0].latch, TRUNK_LATCH_ANY);
	assert_int_equal(cf->trunks[1].latch, TRUNK_LATCH_NODE);
	assert_int_equal(cf->trunks[2].latch, TRUNK_LATCH_KNOWN);
	assert_int_equal(cf->media.latch, MEDIA_LATCH_KNOWN);
	conf_free(cf);
	/* port-specific trunks may share a CIDR */
	assert_int_equal(parse(&cf, MEDIA "[trunk a]\nmatch = 10.0.0.0/8\nport = 5060\n"
				   "[trunk b]\nmatch = 10.0.0.0/8\nport = 5080\n"
				   "[trunk c]\nmatch = 10.0.0.0/8\n"), 0);
	conf_free(cf);
	/* one address with another prefix length, or in the other family, is another
	 * source */
	assert_int_equal(parse(&cf, MEDIA "[trunk a]\nmatch = 10.0.0.0/8 2001:db8::/32\n"
				   "[trunk b]\nmatch = 10.0.0.0/16 2001:db8::/48\n"
				   "[trunk c]\nmatch = ::/0\n[trunk d]\nmatch = 0.0.0.0/0\n"), 0);
	conf_free(cf);
	/* trunks may be declared after the routes naming them */
	assert_int_equal(parse(&cf, MEDIA "[route r]\nmatch = +1*\nto_trunk = late\n"
				   "[trunk late]\nuri = sip:late.example.com\n"), 0);
	conf_free(cf);
}

/* 150 characters: longer than any address (CONF_HOST_MAX), short enough for
 * [api] service_listen (255) and the error message */
#define LONG10  "::::::::::"
#define LONG150 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 \
		LONG10 LONG10 LONG10 LONG10 LONG10

struct bad {
	const char *text;
	const char *msg;   /**< the exact error message */
};

static const struct bad bad_cases[] = {
	/* syntax */
	{"[general\n", "t.conf:1: section header without ']'"},
	{"[nope]\n", "t.conf:1: unknown section [nope]"},
	{"[sip x]\n", "t.conf:1: [sip] takes no name"},
	{"[trunk]\n", "t.conf:1: [trunk] needs a name: [trunk NAME]"},
	{"[trunk a b]\n", "t.conf:1: bad trunk name \"a b\" (1-63 of A-Z a-z 0-9 _ . -)"},
	{"[route r!]\n", "t.conf:1: bad route name \"r!\" (1-63 of A-Z a-z 0-9 _ . -)"},
	{"[sip]\n[general]\n[sip]\n", "t.conf:3: duplicate section [sip] (first on line 1)"},
	{"log_level = info\n", "t.conf:1: key log_level before any [section]"},
	{"[general]\nlog_level\n", "t.conf:2: expected key = value"},
	{"[general]\n = x\n", "t.conf:2: missing key before '='"},
	{"[general]\nlisten = 1.2.3.4:5\n", "t.conf:2: unknown key listen in [general]"},
	{"[general]\nLog_Level = info\n", "t.conf:2: unknown key Log_Level in [general]"},
	{"[general]\n\nlog_level = info\nlog_level = warn\n",
	 "t.conf:4: duplicate key log_level (first set on line 3)"},
	{"[general]\nlog_level = info\0\n", "t.conf:2: NUL byte in line"},
	/* enum, path, string */
	{"[general]\nlog_level = loud\n",
	 "t.conf:2: log_level: \"loud\" is not one of debug|info|warn|error|off"},
	{"[general]\nlog_level =\n", "t.conf:2: log_level: empty value"},
	{"[media]\nio = kqueue\n", "t.conf:2: io: \"kqueue\" is not one of auto|uring|epoll"},
	{"[media]\nlatch = first\n", "t.conf:2: latch: \"first\" is not one of known|any"},
	{"[general]\ncontrol_socket =\n", "t.conf:2: control_socket: empty value"},
	{"[general]\ncontrol_socket = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	 "t.conf:2: control_socket: longer than 107 characters"},
	{"[sip]\nuser_agent = a\tb\n", "t.conf:2: user_agent: control characters in value"},
	/* uint ranges */
	{"[sip]\nmax_calls = 0\n", "t.conf:2: max_calls: \"0\" is not a number in 1-1000000"},
	{"[sip]\nmax_calls = 1000001\n",
	 "t.conf:2: max_calls: \"1000001\" is not a number in 1-1000000"},
	{"[sip]\nmax_cps = -1\n", "t.conf:2: max_cps: \"-1\" is not a number in 1-100000"},
	{"[sip]\nmax_cps = 10k\n", "t.conf:2: max_cps: \"10k\" is not a number in 1-100000"},
	{"[sip]\nmax_cps = 99999999999999999999\n",
	 "t.conf:2: max_cps: \"99999999999999999999\" is not a number in 1-100000"},
	{"[sip]\nmax_forwards = 256\n",
	 "t.conf:2: max_forwards: \"256\" is not a number in 1-255"},
	{"[sip]\ninvite_timeout = 301\n",
	 "t.conf:2: invite_timeout: \"301\" is not a number in 1-300"},
	{"[sip]\nring_timeout =\n", "t.conf:2: ring_timeout: empty value"},
	{"[sip]\nretry_after = 0\n", "t.conf:2: retry_after: \"0\" is not a number in 1-3600"},
	{"[sip]\noverload_delay = 10001\n",
	 "t.conf:2: overload_delay: \"10001\" is not a number in 0-10000"},
	{"[sip]\nshutdown_grace = 3601\n",
	 "t.conf:2: shutdown_grace: \"3601\" is not a number in 0-3600"},
	{"[sip]\nunknown_source = ignore\n",
	 "t.conf:2: unknown_source: \"ignore\" is not one of reject|drop"},
	/* [api] service_listen: the port is digits only; a bracketed address longer
	 * than an address is refused, not copied */
	{MEDIA "[api]\nservice_listen = 127.0.0.1:8080x\n", "t.conf:4: service_listen: "
	 "\"127.0.0.1:8080x\" is neither unix:/path nor a loopback ip:port"},
	{MEDIA "[api]\nservice_listen = 127.0.0.1:99999999999999999999\n", "t.conf:4: "
	 "service_listen: \"127.0.0.1:99999999999999999999\" is neither unix:/path nor "
	 "a loopback ip:port"},
	{MEDIA "[api]\nservice_listen = [::1]: 80\n", "t.conf:4: service_listen: "
	 "\"[::1]: 80\" is neither unix:/path nor a loopback ip:port"},
	{MEDIA "[api]\nservice_listen = [" LONG150 "]:8080\n", "t.conf:4: service_listen: \"["
	 LONG150 "]:8080\" is neither unix:/path nor a loopback ip:port"},
	/* listen, advertise, transports */
	{"[sip]\nlisten = 1.2.3.4\n", "t.conf:2: listen: missing port (ip:port)"},
	{"[sip]\nlisten = host.example.com:5060\n",
	 "t.conf:2: listen: \"host.example.com\" is not an IP address"},
	{"[sip]\nlisten = 1.2.3.4:0\n", "t.conf:2: listen: bad port \"0\" (1-65535)"},
	{"[sip]\nlisten = 1.2.3.4:65536\n", "t.conf:2: listen: bad port \"65536\" (1-65535)"},
	{"[sip]\nlisten = 1.2.3.4:\n", "t.conf:2: listen: bad port \"\" (1-65535)"},
	{"[sip]\nlisten = [::1:5060\n", "t.conf:2: listen: missing ']' in \"[::1:5060\""},
	{"[sip]\nlisten = [1.2.3.4]:5060\n",
	 "t.conf:2: listen: \"1.2.3.4\" is not an IPv6 address"},
	{"[sip]\nlisten = [::1]5060\n",
	 "t.conf:2: listen: unexpected text after ']' in \"[::1]5060\""},
	{"[sip]\nlisten = 1.2.3.456:5060\n",
	 "t.conf:2: listen: \"1.2.3.456\" is not a host name or address"},
	{"[sip]\nadvertise = bad_host:5060\n",
	 "t.conf:2: advertise: \"bad_host\" is not a host name or address"},
	{"[sip]\nadvertise = -a.example.com\n",
	 "t.conf:2: advertise: \"-a.example.com\" is not a host name or address"},
	{"[sip]\nadvertise = a..example.com\n",
	 "t.conf:2: advertise: \"a..example.com\" is not a host name or address"},
	{"[sip]\ntransports = udp,sctp\n", "t.conf:2: transports: unknown transport (udp, tcp, tls)"},
	{"[sip]\ntransports = tls\n",
	 "t.conf:2: transports: no udp or tcp transport (tls comes in addition)"},
	{"[sip]\ntransports = udp,tls\n",
	 "t.conf:1: transports has tls: tls_cert and tls_key are required"},
	{"[sip]\ntls_cert = /x.pem\n", "t.conf:1: tls_* keys are set but transports has no tls"},
	{"[sip]\ntls_ciphers = AES128-SHA\n",
	 "t.conf:1: tls_* keys are set but transports has no tls"},
	{"[sip]\nlisten = 127.0.0.1:5061\ntransports = udp,tls\ntls_cert = c\ntls_key = k\n",
	 "t.conf:1: tls_listen must differ from listen (port 5061)"},
	{"[sip]\ntransports = udp,tls\ntls_cert = c\ntls_key = k\ntls_listen = host:5061\n",
	 "t.conf:5: tls_listen: \"host\" is not an IP address"},
	{"[sip]\ntransports = udp,udp\n", "t.conf:2: transports: transport udp listed twice"},
	{"[sip]\ntransports = ,\n",
	 "t.conf:2: transports: no udp or tcp transport (tls comes in addition)"},
	/* media */
	{"[media]\naddress = media.example.com\n",
	 "t.conf:2: address: \"media.example.com\" is not an IP address"},
	{"[media]\nadvertise = 1.2.3\n", "t.conf:2: advertise: \"1.2.3\" is not an IP address"},
	{"[media]\naddress = 10.0.0.1\nport_min = 1023\n",
	 "t.conf:3: port_min: \"1023\" is not a number in 1024-65535"},
	{"[media]\naddress = 10.0.0.1\nport_min = 20000\nport_max = 20000\n",
	 "t.conf:4: port_max (20000) must be above port_min (20000)"},
	{"[media]\naddress = 10.0.0.1\nport_min = 33000\n",
	 "t.conf:1: port_max (32767) must be above port_min (33000)"},
	{"[media]\naddress = 10.0.0.1\nport_min = 20001\nport_max = 20002\n",
	 "t.conf:4: port range 20001-20002 holds no RTP/RTCP port pair"},
	{"[media]\nworkers = 257\n", "t.conf:2: workers: \"257\" is not a number in 0-256"},
	{"[media]\nrelatch = 0\n", "t.conf:2: relatch: \"0\" is not a number in 1-3600"},
	{"[media]\naddress = ::\n",
	 "t.conf:2: media address :: is a wildcard: set [media] address or advertise to the "
	 "address peers send RTP to"},
	{"[sip]\nlisten = 0.0.0.0:5060\n",
	 "t.conf:2: media address 0.0.0.0 is a wildcard: set [media] address or advertise "
	 "to the address peers send RTP to"},
	{"",
	 "t.conf: media address 0.0.0.0 is a wildcard: set [media] address or advertise "
	 "to the address peers send RTP to"},
	/* trunks */
	{MEDIA "[trunk t]\nmatch = 10.0.0.1/8\n",
	 "t.conf:4: match: bad CIDR \"10.0.0.1/8\": host bits set"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/33\n",
	 "t.conf:4: match: bad CIDR \"10.0.0.0/33\": prefix length 0-32"},
	{MEDIA "[trunk t]\nmatch = 2001:db8::/129\n",
	 "t.conf:4: match: bad CIDR \"2001:db8::/129\": prefix length 0-128"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/\n",
	 "t.conf:4: match: bad CIDR \"10.0.0.0/\": prefix length 0-32"},
	{MEDIA "[trunk t]\nmatch = 10.0.0/8\n",
	 "t.conf:4: match: bad CIDR \"10.0.0/8\": not an address"},
	{MEDIA "[trunk t]\nmatch = example.com\n",
	 "t.conf:4: match: bad CIDR \"example.com\": not an address"},
	{MEDIA "[trunk t]\nmatch = 2001:db8::1/64\n",
	 "t.conf:4: match: bad CIDR \"2001:db8::1/64\": host bits set"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8, 10.0.0.0/8\n",
	 "t.conf:4: match: CIDR \"10.0.0.0/8\" listed twice"},
	{MEDIA "[trunk t]\nmatch = 1.0.0.0/8 2.0.0.0/8 3.0.0.0/8 4.0.0.0/8 5.0.0.0/8 6.0.0.0/8 "
	 "7.0.0.0/8 8.0.0.0/8 9.0.0.0/8 10.0.0.0/8 11.0.0.0/8 12.0.0.0/8 13.0.0.0/8 "
	 "14.0.0.0/8 15.0.0.0/8 16.0.0.0/8 17.0.0.0/8 18.0.0.0/8 19.0.0.0/8 20.0.0.0/8 "
	 "21.0.0.0/8 22.0.0.0/8 23.0.0.0/8 24.0.0.0/8 25.0.0.0/8 26.0.0.0/8 27.0.0.0/8 "
	 "28.0.0.0/8 29.0.0.0/8 30.0.0.0/8 31.0.0.0/8 32.0.0.0/8 33.0.0.0/8\n",
	 "t.conf:4: match: more than 32 CIDRs"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nport = 65536\n",
	 "t.conf:5: port: \"65536\" is not a number in 0-65535"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ncountry_code = +1\n",
	 "t.conf:5: country_code: \"+1\" is not a digit string"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ncountry_code = 12345678\n",
	 "t.conf:5: country_code: longer than 7 digits"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ncountry_code = 1234\n",
	 "t.conf:5: country_code must be 1-3 digits not starting with 0"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ncountry_code = 01\n",
	 "t.conf:5: country_code must be 1-3 digits not starting with 0"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nnational_prefix = 0\n",
	 "t.conf:5: national_prefix needs a country_code"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ncountry_code = 44\nnational_prefix = 0\n"
	 "international_prefix = 0\n",
	 "t.conf:7: international_prefix equals national_prefix"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ninternational_prefix = 0x\n",
	 "t.conf:5: international_prefix: \"0x\" is not a digit string"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nuri = http://x\n",
	 "t.conf:5: uri: \"http://x\" is not a sip: or sips: URI"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nuri = sip:\n",
	 "t.conf:5: uri: bad host in \"sip:\""},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nuri = sip:@host\n",
	 "t.conf:5: uri: bad user part in \"sip:@host\""},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nuri = sip:host:99999\n",
	 "t.conf:5: uri: bad port \"99999\" (1-65535)"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nuri = sip:ho st\n",
	 "t.conf:5: uri: \"ho st\" is not a host name or address"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nuri = sip:host;a=<b>\n",
	 "t.conf:5: uri: bad parameter in \"sip:host;a=<b>\""},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nuri = sip:{did}@host\n",
	 "t.conf:5: uri: bad user part in \"sip:{did}@host\""},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nsession_expires = 86401\n",
	 "t.conf:5: session_expires: \"86401\" is not a number in 0-86400"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nsession_expires = 60\n",
	 "t.conf:5: session_expires (60) is below min_se (90)"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nsession_expires = 100\nmin_se = 200\n",
	 "t.conf:5: session_expires (100) is below min_se (200)"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\nmin_se = 89\n",
	 "t.conf:5: min_se: \"89\" is not a number in 90-86400"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\n100rel = maybe\n",
	 "t.conf:5: 100rel: \"maybe\" is not one of off|supported|required"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ntrusted = si\n",
	 "t.conf:5: trusted: \"si\" is not a boolean (yes/no)"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\npass_headers = X-A, X:B\n",
	 "t.conf:5: pass_headers: bad header name"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\npass_headers = X-A, x-a\n",
	 "t.conf:5: pass_headers: header x-a listed twice"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\npass_headers = call-id\n",
	 "t.conf:5: pass_headers: call-id is written by trunx, it cannot be passed"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\npass_headers = a b c d e f g h i j k l m n o p "
	 "q\n", "t.conf:5: pass_headers: more than 16 headers"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\npass_headers = Privacy\n",
	 "t.conf:5: Privacy is passed only from trusted trunks (set trusted = yes)"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ncodecs = PCMU, G729\n",
	 "t.conf:5: codecs: unsupported codec (PCMU/8000, PCMA/8000, opus/48000/2, telephone-event/8000)"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ncodecs = PCMU/16000\n",
	 "t.conf:5: codecs: unsupported codec (PCMU/8000, PCMA/8000, opus/48000/2, telephone-event/8000)"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\ncodecs = PCMU pcmu/8000\n",
	 "t.conf:5: codecs: codec PCMU/8000 listed twice"},
	{MEDIA "[trunk t]\nport = 5060\n",
	 "t.conf:3: trunk t has neither match (inbound) nor uri (outbound)"},
	{MEDIA "[trunk t]\nuri = sip:10.0.0.1\nsrtp = required\n",
	 "t.conf:5: srtp = required sends SDES keys: the uri must use TLS (;transport=tls or "
	 "sips:), or set srtp_without_tls = yes"},
	{MEDIA "[trunk t]\nuri = sip:10.0.0.1\nsrtp = always\n",
	 "t.conf:5: srtp: \"always\" is not one of off|optional|required"},
	{MEDIA "[trunk t]\nuri = sip:10.0.0.1\nlatch = first\n",
	 "t.conf:5: latch: \"first\" is not one of node|known|any"},
	{MEDIA "[trunk t]\nuri = sip:10.0.0.1\nlatch =\n", "t.conf:5: latch: empty value"},
	{MEDIA "[trunk t]\nmatch = 10.0.0.0/8\n[trunk u]\nmatch = 10.0.0.0/16\n[trunk t]\n"
	 "match = 10.1.0.0/16\n", "t.conf:7: duplicate trunk t (first on line 3)"},
	{MEDIA "[trunk a]\nmatch = 10.0.0.0/8\n[trunk b]\nmatch = 192.0.2.0/24\n"
	 "match = 10.0.0.0/8\n", "t.conf:7: duplicate key match (first set on line 6)"},
	{MEDIA "[trunk a]\nmatch = 10.0.0.0/8\n[trunk b]\nport = 5060\n"
	 "match = 192.0.2.0/24 10.0.0.0/8\n[trunk c]\nmatch=10.0.0.0/8\nport=5060\n",
	 "t.conf:9: trunk c claims the same source (CIDR and port) as trunk b"},
	{MEDIA "[trunk a]\nmatch = 2001:db8::/32 192.0.2.0/24\n[trunk b]\n"
	 "match = 2001:db8:1::/48 2001:db8::/32\n",
	 "t.conf:6: trunk b claims the same source (CIDR and port) as trunk a"},
	/* routes */
	{MEDIA "[route r]\nto_trunk = x\n", "t.conf:3: [route] is missing the key match"},
	{MEDIA "[route r]\nmatch = +1*\n", "t.conf:3: route r has neither to_trunk nor uri"},
	{MEDIA "[route r]\nmatch = 1555\n",
	 "t.conf:4: match: \"1555\" is not +E.164 (1-15 digits), +prefix* or *"},
	{MEDIA "[route r]\nmatch = +\n",
	 "t.conf:4: match: \"+\" is not +E.164 (1-15 digits), +prefix* or *"},
	{MEDIA "[route r]\nmatch = +1234567890123456\n",
	 "t.conf:4: match: \"+1234567890123456\" is not +E.164 (1-15 digits), +prefix* or *"},
	{MEDIA "[route r]\nmatch = +1*5\n",
	 "t.conf:4: match: \"+1*5\" is not +E.164 (1-15 digits), +prefix* or *"},
	{MEDIA "[route r]\nmatch = +01\n",
	 "t.conf:4: match: \"+01\" is not +E.164 (1-15 digits), +prefix* or *"},
	{MEDIA "[route r]\nmatch = +1-555\n",
	 "t.conf:4: match: \"+1-555\" is not +E.164 (1-15 digits), +prefix* or *"},
	{MEDIA "[route r]\nmatch =\n", "t.conf:4: match: empty value"},
	{MEDIA "[route r]\nmatch = *\nuri = sip:{did}@h\nto_trunk = a b\n",
	 "t.conf:6: to_trunk: \"a b\" is not a valid name"},
	{MEDIA "[route r]\nmatch = *\nuri = sip:{dn}@h\n",
	 "t.conf:5: uri: unknown placeholder (use {did} or {national})"},
	{MEDIA "[route r]\nmatch = *\nuri = sip:did}@h\n", "t.conf:5: uri: stray '}'"},
	{MEDIA "[route r]\nmatch = *\nuri = tel:{did}\n",
	 "t.conf:5: uri: \"tel:{did}\" is not a sip: or sips: URI template"},
	{MEDIA "[route r]\nmatch = *\nuri = sip:{did}@\n",
	 "t.conf:5: uri: \"sip:{did}@\" is not a sip: or sips: URI template"},
	{MEDIA "[route r]\nmatch = *\nto_trunk = nobody\n",
	 "t.conf:5: route r: unknown trunk nobody"},
	{MEDIA "[trunk a]\nmatch = 10.0.0.0/8\n[route r]\nmatch = *\nuri = sip:h\n"
	 "from_trunk = b\n", "t.conf:8: route r: unknown trunk b"},
	{MEDIA "[trunk a]\nmatch = 10.0.0.0/8\n[route r]\nmatch = *\nto_trunk = a\n",
	 "t.conf:7: route r: trunk a has no uri; set the route's uri"},
	{MEDIA "[route r]\nmatch = *\nuri = sip:h\n[route r]\nmatch = +1\nuri = sip:h\n",
	 "t.conf:6: duplicate route r (first on line 3)"},
	{MEDIA "[route r]\nmatch = +1*\nuri = sip:h\n[route s]\nmatch = +1*\nuri = sip:g\n",
	 "t.conf:7: another route has match +1* (first on line 4)"},
	{MEDIA "[trunk a]\nmatch = 10.0.0.0/8\n[route r]\nmatch = +1*\nuri = sip:h\n"
	 "from_trunk = a\n[route s]\nfrom_trunk = a\nmatch = +1*\nuri = sip:g\n",
	 "t.conf:11: another route has match +1* from_trunk a (first on line 6)"},
	/* One address family for SIP: the listen address's. */
	{MEDIA "[trunk a]\nuri = sip:[2001:db8::1]:5060\n",
	 "t.conf:4: trunk a: uri sip:[2001:db8::1]:5060 is IPv6 but [sip] listen 0.0.0.0 is "
	 "IPv4: trunx sends SIP from one address family only"},
	{MEDIA "[route r]\nmatch = *\nuri = sip:{did}@[2001:db8::1];transport=tcp\n",
	 "t.conf:5: route r: uri sip:{did}@[2001:db8::1];transport=tcp is IPv6 but [sip] "
	 "listen 0.0.0.0 is IPv4: trunx sends SIP from one address family only"},
	{"[sip]\nlisten = [::1]:5060\n[trunk a]\nmatch = ::1/128\nuri = sip:192.0.2.1\n",
	 "t.conf:5: trunk a: uri sip:192.0.2.1 is IPv4 but [sip] listen ::1 is IPv6: trunx "
	 "sends SIP from one address family only"},
};

/* IPv6 all through: listen, trunk networks and uris, media. */
static void test_ipv6(void **state)
{
	struct conf *cf;

	(void)state;
	assert_int_equal(parse(&cf, "[sip]\nlisten = [::]:5060\n[media]\naddress = 2001:db8::5\n"
			 "[trunk a]\nmatch = 2001:db8::/64\nuri = sip:[2001:db8::1]:5080\n"
			 "[trunk b]\nuri = sip:pbx.example.com\n"
			 "[route r]\nmatch = *\nuri = sip:{did}@[2001:db8::2]\n"), 0);
	assert_string_equal(cf->sip.listen_addr, "::");
	assert_string_equal(cf->media.bind_addr, "2001:db8::5");
	conf_free(cf);
}

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *b = &bad_cases[i];
		size_t len = strlen(b->text);
		struct conf sentinel, *cf = &sentinel;   /* must be reset to NULL */
		int rc;

		/* the NUL case spans the embedded NUL */
		if (strstr(b->msg, "NUL byte"))
			len = sizeof("[general]\nlog_level = info\0\n") - 1;
		rc = conf_parse_buf(&cf, "t.conf", b->text, len, errbuf, sizeof(errbuf));
		if (rc != EINVAL || strcmp(errbuf, b->msg) != 0)
			fail_msg("case %zu: rc %d\n  got:  %s\n  want: %s", i, rc, errbuf, b->msg);
		assert_null(cf);
	}
}

/* A route without a uri takes its trunk's uri as "sip:{did}@host...": the parser
 * refuses a trunk uri whose template would not fit, so the table never has to. */
static void test_default_uri_room(void **state)
{
	char text[1024], params[ROUTE_URI_MAX];
	struct route_table *rt;
	struct conf *cf;
	/* "sip:{did}@h.com;" + params + NUL fills ROUTE_URI_MAX exactly */
	size_t fit = ROUTE_URI_MAX - strlen("sip:{did}@h.com;") - 1;

	(void)state;
	for (size_t extra = 0; extra < 2; extra++) {
		memset(params, 'x', fit + extra);
		params[fit + extra] = '\0';
		snprintf(text, sizeof(text), MEDIA "[trunk t]\nuri = sip:h.com;%s\n"
			 "match = 10.0.0.0/8\n[route r]\nmatch = *\nto_trunk = t\n", params);
		if (!extra) {
			assert_int_equal(parse(&cf, text), 0);
			assert_int_equal(conf_build_routes(cf, &rt, errbuf, sizeof(errbuf)), 0);
			route_table_unref(rt);
			conf_free(cf);
		} else {
			assert_int_equal(parse(&cf, text), EINVAL);
			assert_string_equal(errbuf, "t.conf:8: route r: trunk t's uri leaves no "
					    "room for {did} (255 bytes at most); set the "
					    "route's uri");
		}
	}
}

static void test_limits(void **state)
{
	size_t big = (1 << 20) + 1, o = 0;
	char *text = malloc(big + 1);
	struct conf *cf;

	(void)state;
	assert_non_null(text);
	memset(text, '#', big);
	text[big] = '\0';
	assert_int_equal(parse(&cf, text), EINVAL);
	assert_string_equal(errbuf, "t.conf: larger than 1048576 bytes");

	/* a 1024-byte line passes, 1025 bytes do not */
	memset(text, ' ', 1100);
	memcpy(text, "#", 1);
	text[1024] = '\n';
	text[1025] = '\0';
	assert_int_equal(parse(&cf, text), EINVAL);   /* only the media wildcard error */
	assert_non_null(strstr(errbuf, "wildcard"));
	text[1024] = ' ';
	text[1025] = '\n';
	text[1026] = '\0';
	assert_int_equal(parse(&cf, text), EINVAL);
	assert_string_equal(errbuf, "t.conf:1: line longer than 1024 bytes");

	/* more than 1024 trunks */
	o = (size_t)sprintf(text, MEDIA);
	for (int i = 0; i < 1025; i++)
		o += (size_t)sprintf(text + o, "[trunk t%d]\nuri = sip:h\n", i);
	assert_int_equal(parse(&cf, text), EINVAL);
	assert_string_equal(errbuf, "t.conf:2051: more than 1024 trunks");
	free(text);

	/* arguments */
	assert_int_equal(conf_parse_buf(NULL, "x", "", 0, NULL, 0), EINVAL);
	assert_int_equal(conf_parse_buf(&cf, "x", NULL, 3, NULL, 0), EINVAL);
	assert_int_equal(conf_parse_buf(&cf, NULL, MEDIA, strlen(MEDIA), NULL, 0), 0);
	conf_free(cf);
	conf_free(NULL);
}

static void test_many_routes(void **state)
{
	size_t cap = 5000 * 64, o;
	char *text = malloc(cap);
	struct conf *cf;

	(void)state;
	assert_non_null(text);
	o = (size_t)sprintf(text, MEDIA "[trunk gw]\nuri = sip:gw\n");
	for (int i = 0; i < 5000; i++)
		o += (size_t)sprintf(text + o, "[route r%d]\nmatch = +1%d*\nto_trunk = gw\n", i, i);
	assert_int_equal(parse(&cf, text), 0);
	assert_int_equal(cf->n_routes, 5000);
	assert_string_equal(cf->routes[4999].match, "+14999*");
	conf_free(cf);
	free(text);
}

static void test_load(void **state)
{
	char path[] = "/tmp/trunx-conf-XXXXXX";
	struct conf *cf;
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(conf_load(&cf, "/nonexistent/trunx.conf", errbuf, sizeof(errbuf)),
			 ENOENT);
	assert_null(cf);
	assert_string_equal(errbuf, "/nonexistent/trunx.conf: No such file or directory");
	assert_int_equal(conf_load(&cf, "/tmp", errbuf, sizeof(errbuf)), EISDIR);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(MEDIA "[sip]\nmax_cps = 0\n", f);
	fclose(f);
	assert_int_equal(conf_load(&cf, path, errbuf, sizeof(errbuf)), EINVAL);
	assert_non_null(strstr(errbuf, ":4: max_cps: \"0\" is not a number in 1-100000"));
	assert_memory_equal(errbuf, path, strlen(path));
	f = fopen(path, "w");
	fputs(MEDIA "[sip]\nmax_cps = 50\n", f);
	fclose(f);
	assert_int_equal(conf_load(&cf, path, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cf->path, path);
	assert_int_equal(cf->sip.max_cps, 50);
	conf_free(cf);
	unlink(path);
}

static void test_sample(void **state)
{
	struct conf *cf;

	(void)state;
	if (conf_load(&cf, TRUNX_SAMPLE_CONF, errbuf, sizeof(errbuf)) != 0)
		fail_msg("%s", errbuf);
	assert_string_equal(cf->sip.listen_addr, "127.0.0.1");
	assert_int_equal(cf->sip.listen_port, 5060);
	assert_string_equal(cf->media.bind_addr, "127.0.0.1");
	assert_string_equal(cf->general.control_socket, "var/trunxd.sock");
	assert_int_equal(cf->n_trunks, 1);
	assert_string_equal(cf->trunks[0].uri, "sip:127.0.0.1:5070");
	assert_int_equal(cf->n_routes, 1);
	assert_string_equal(cf->routes[0].to_trunk, "local");
	conf_free(cf);
}

static void test_build_routes(void **state)
{
	struct route_table *rt = (struct route_table *)&rt;
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(5060)};
	const struct trunk *t;
	const struct route *r;
	struct conf *cf;
	char num[32], uri[ROUTE_URI_MAX];

	(void)state;
	/* the sample: a call from loopback to a national number reaches the UAS */
	assert_int_equal(conf_load(&cf, TRUNX_SAMPLE_CONF, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(conf_build_routes(cf, &rt, errbuf, sizeof(errbuf)), 0);
	inet_pton(AF_INET, "127.0.0.1", &src.sin_addr);
	t = route_identify(rt, (const struct sockaddr *)&src);
	assert_non_null(t);
	assert_string_equal(trunk_get_cfg(t)->name, "local");
	assert_int_equal(route_normalize(t, "5551234567", num, sizeof(num)), 0);
	assert_string_equal(num, "+15551234567");
	r = route_lookup(rt, num, t);
	assert_non_null(r);
	assert_string_equal(route_get_cfg(r)->name, "everything");
	assert_int_equal(route_expand_uri(r, num, uri, sizeof(uri)), 0);
	assert_string_equal(uri, "sip:+15551234567@127.0.0.1:5070");
	route_table_unref(rt);

	/* the table rejects what the parser would have: the reason comes through */
	strcpy(cf->routes[0].match, "555");
	assert_int_equal(conf_build_routes(cf, &rt, errbuf, sizeof(errbuf)), EINVAL);
	assert_null(rt);
	assert_string_equal(errbuf, "route everything: match \"555\" is not +E.164, +prefix* or *");
	assert_int_equal(conf_build_routes(NULL, &rt, errbuf, sizeof(errbuf)), EINVAL);
	assert_int_equal(conf_build_routes(cf, NULL, errbuf, sizeof(errbuf)), EINVAL);
	conf_free(cf);

	/* every key: routes restricted to a trunk, templates, IPv6 CIDRs */
	assert_int_equal(parse(&cf, every_key), 0);
	assert_int_equal(conf_build_routes(cf, &rt, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(route_table_trunk_count(rt), 1);
	assert_int_equal(route_table_route_count(rt), 2);
	t = route_table_trunk_by_name(rt, "carrier-1.a_b");
	assert_int_equal(route_normalize(t, "02071234567", num, sizeof(num)), 0);
	r = route_lookup(rt, num, t);
	assert_string_equal(route_get_cfg(r)->name, "exact");
	assert_int_equal(route_normalize(t, "02071234568", num, sizeof(num)), 0);
	r = route_lookup(rt, num, t);
	assert_string_equal(route_get_cfg(r)->name, "uk");
	assert_int_equal(route_expand_uri(r, num, uri, sizeof(uri)), 0);
	assert_string_equal(uri, "sip:2071234568@gw.example.com;user=phone");
	assert_null(route_lookup(rt, num, NULL));
	route_table_unref(rt);
	conf_free(cf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_trunk_route_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_value_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_default_uri_room),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_many_routes),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_build_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

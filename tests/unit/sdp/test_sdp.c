/* test_sdp.c — SDP parser, writer and offer/answer helpers: offers from SIPp and
 * typical carriers, PBXs and softphones, round trips, and every malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

static char err[160];
static struct sdp_session s, s2;

static int parse(const char *text)
{
	return sdp_parse(&s, text, strlen(text), err, sizeof(err));
}

/** Field-by-field equality of two streams; a=rtcp equal to port + 1 is implied. */
static bool media_same(const struct sdp_media *a, const struct sdp_media *b)
{
	unsigned ra = a->rtcp_port == a->port + 1 ? 0 : a->rtcp_port;
	unsigned rb = b->rtcp_port == b->port + 1 ? 0 : b->rtcp_port;

	if (strcmp(a->type, b->type) || a->port != b->port || strcmp(a->proto, b->proto) ||
	    a->af != b->af || strcmp(a->addr, b->addr) || a->dir != b->dir || ra != rb ||
	    a->rtcp_mux != b->rtcp_mux || a->ptime != b->ptime || a->n_codecs != b->n_codecs)
		return false;
	for (size_t i = 0; i < a->n_codecs; i++) {
		const struct sdp_codec *x = &a->codecs[i], *y = &b->codecs[i];

		if (x->pt != y->pt || strcmp(x->name, y->name) || x->rate != y->rate ||
		    x->channels != y->channels || strcmp(x->fmtp, y->fmtp))
			return false;
	}
	return true;
}

/** parse -> write -> parse -> write: both texts equal and the media unchanged. */
static void round_trip(const char *text)
{
	char w1[SDP_MAX_LEN * 2], w2[SDP_MAX_LEN * 2];
	int n1, n2;

	if (sdp_parse(&s, text, strlen(text), err, sizeof(err)) != 0)
		fail_msg("parse: %s", err);
	n1 = sdp_write(w1, sizeof(w1), &s);
	assert_true(n1 > 0);
	assert_int_equal(strlen(w1), (size_t)n1);
	if (sdp_parse(&s2, w1, (size_t)n1, err, sizeof(err)) != 0)
		fail_msg("reparse: %s\n%s", err, w1);
	assert_int_equal(s2.n_media, s.n_media);
	assert_int_equal(s2.sess_id, s.sess_id);
	assert_int_equal(s2.sess_version, s.sess_version);
	for (size_t i = 0; i < s.n_media; i++)
		assert_true(media_same(&s.media[i], &s2.media[i]));
	n2 = sdp_write(w2, sizeof(w2), &s2);
	assert_int_equal(n1, n2);
	assert_string_equal(w1, w2);
}

/* ---- offers seen in the field ------------------------------------------------- */

/* SIPp 3.6 built-in uac / uas scenarios, as sent on the wire */
static const char sipp_uac[] =
	"v=0\r\n"
	"o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\n"
	"m=audio 6004 RTP/AVP 0\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"\r\n";

/* SIPp uac_pcap: PCMA and telephone-event */
static const char sipp_uac_pcap[] =
	"v=0\r\n"
	"o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\n"
	"m=audio 6000 RTP/AVP 8 101\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-11,16\r\n"
	"\r\n";

/* a carrier SBC: static PTs, G.729 annexb, maxptime, session name with blanks */
static const char carrier[] =
	"v=0\r\n"
	"o=Sonus_UAC 12345 67890 IN IP4 198.51.100.10\r\n"
	"s=SIP Media Capabilities\r\n"
	"c=IN IP4 198.51.100.20\r\n"
	"t=0 0\r\n"
	"m=audio 20000 RTP/AVP 0 8 18 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:18 G729/8000\r\n"
	"a=fmtp:18 annexb=no\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=sendrecv\r\n"
	"a=ptime:20\r\n"
	"a=maxptime:40\r\n";

/* Asterisk: statics without rtpmap for GSM, LF line ends */
static const char asterisk[] =
	"v=0\n"
	"o=- 1660000000 1660000000 IN IP4 10.0.0.5\n"
	"s=Asterisk\n"
	"c=IN IP4 10.0.0.5\n"
	"b=AS:64\n"
	"t=0 0\n"
	"m=audio 17044 RTP/AVP 0 8 3 9 101\n"
	"a=rtpmap:0 PCMU/8000\n"
	"a=rtpmap:8 PCMA/8000\n"
	"a=rtpmap:9 G722/8000\n"
	"a=rtpmap:101 telephone-event/8000\n"
	"a=fmtp:101 0-16\n"
	"a=ptime:20\n"
	"a=maxptime:150\n"
	"a=sendrecv\n";

/* FreeSWITCH: Opus stereo, CN, a=rtcp with address, long fmtp */
static const char freeswitch[] =
	"v=0\r\n"
	"o=FreeSWITCH 1700000000 1700000001 IN IP4 192.0.2.7\r\n"
	"s=FreeSWITCH\r\n"
	"c=IN IP4 192.0.2.7\r\n"
	"t=0 0\r\n"
	"m=audio 24680 RTP/AVP 102 9 0 8 101 13\r\n"
	"a=rtpmap:102 opus/48000/2\r\n"
	"a=fmtp:102 useinbandfec=1; maxaveragebitrate=30000; maxplaybackrate=48000; "
	"ptime=20; minptime=10; maxptime=40\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=rtpmap:13 CN/8000\r\n"
	"a=ptime:20\r\n"
	"a=rtcp:24690 IN IP4 192.0.2.7\r\n";

/* a softphone on IPv6 with rtcp-mux; 8 and 3 without rtpmap */
static const char softphone_v6[] =
	"v=0\r\n"
	"o=Z 0 2 IN IP6 2001:db8::10\r\n"
	"s=Z\r\n"
	"c=IN IP6 2001:db8::10\r\n"
	"t=0 0\r\n"
	"m=audio 8000 RTP/AVP 0 101 8 3\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=sendrecv\r\n"
	"a=rtcp-mux\r\n";

/* hold: session-level sendonly, RFC 2543 style c=0.0.0.0 on the second stream */
static const char hold[] =
	"v=0\r\n"
	"o=- 5 6 IN IP4 192.0.2.1\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.1\r\n"
	"t=0 0\r\n"
	"a=sendonly\r\n"
	"m=audio 4000 RTP/AVP 0\r\n"
	"m=audio 4002 RTP/AVP 8\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=inactive\r\n";

/* session c= and media c=, several m= lines, rejected video and T.38 */
static const char multi[] =
	"v=0\r\n"
	"o=pbx 1 1 IN IP4 192.0.2.1\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.1/127\r\n"
	"t=0 0\r\n"
	"a=recvonly\r\n"
	"a=ptime:30\r\n"
	"m=audio 0 RTP/AVP 0\r\n"
	"m=audio 5000 RTP/AVP 8 0\r\n"
	"c=IN IP4 203.0.113.5\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n"
	"m=video 0 RTP/AVP 96\r\n"
	"m=image 0 udptl t38\r\n"
	"a=T38FaxVersion:0\r\n"
	"m=audio 5002/2 RTP/SAVP 0\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";

/* WebRTC-like: many tolerated attributes, a host name in c= */
static const char webrtc[] =
	"v=0\r\n"
	"o=mozilla...THIS_IS_SDPARTA-99.0 8160390376829435393 0 IN IP4 0.0.0.0\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"a=fingerprint:sha-256 7C:93:85:40:01:07:91:BE\r\n"
	"a=group:BUNDLE 0\r\n"
	"a=ice-options:trickle\r\n"
	"a=msid-semantic:WMS *\r\n"
	"m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r\n"
	"c=IN IP4 media.example.com\r\n"
	"a=sendrecv\r\n"
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
	"a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=ice-pwd:2b2bd1a1c0a4f8d0f1\r\n"
	"a=ice-ufrag:7a6b\r\n"
	"a=mid:0\r\n"
	"a=rtcp-mux\r\n"
	"a=rtpmap:109 opus/48000/2\r\n"
	"a=rtpmap:9 G722/8000/1\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000/1\r\n"
	"a=setup:actpass\r\n"
	"a=ssrc:2655508255 cname:{735484ea-4f6c-f74d-bd37-d2d7bd5d2bc6}\r\n";

static void test_sipp(void **state)
{
	(void)state;
	assert_int_equal(parse(sipp_uac), 0);
	assert_string_equal(err, "");
	assert_string_equal(s.origin_user, "user1");
	assert_int_equal(s.sess_id, 53655765);
	assert_int_equal(s.sess_version, 2353687637ULL);
	assert_string_equal(s.name, "-");
	assert_int_equal(s.n_media, 1);
	assert_string_equal(s.media[0].type, "audio");
	assert_int_equal(s.media[0].port, 6004);
	assert_string_equal(s.media[0].proto, "RTP/AVP");
	assert_int_equal(s.media[0].af, SDP_AF_IP4);
	assert_string_equal(s.media[0].addr, "127.0.0.1");
	assert_int_equal(s.media[0].dir, SDP_DIR_SENDRECV);
	assert_int_equal(s.media[0].ptime, 0);
	assert_int_equal(s.media[0].rtcp_port, 0);
	assert_false(s.media[0].rtcp_mux);
	assert_int_equal(s.media[0].n_codecs, 1);
	assert_int_equal(s.media[0].codecs[0].pt, 0);
	assert_string_equal(s.media[0].codecs[0].name, "PCMU");
	assert_int_equal(s.media[0].codecs[0].rate, 8000);
	assert_int_equal(s.media[0].codecs[0].channels, 1);
	assert_string_equal(s.media[0].codecs[0].fmtp, "");
	assert_int_equal(sdp_first_audio(&s), 0);

	assert_int_equal(parse(sipp_uac_pcap), 0);
	assert_int_equal(s.media[0].n_codecs, 2);
	assert_string_equal(s.media[0].codecs[0].name, "PCMA");
	assert_int_equal(s.media[0].codecs[1].pt, 101);
	assert_string_equal(s.media[0].codecs[1].name, "telephone-event");
	assert_int_equal(s.media[0].codecs[1].rate, 8000);
	assert_string_equal(s.media[0].codecs[1].fmtp, "0-11,16");
}

static void test_carrier_pbx(void **state)
{
	const struct sdp_media *m = &s.media[0];

	(void)state;
	assert_int_equal(parse(carrier), 0);
	assert_string_equal(s.name, "SIP Media Capabilities");
	assert_string_equal(s.origin_user, "Sonus_UAC");
	assert_string_equal(m->addr, "198.51.100.20");   /* c=, not o= */
	assert_int_equal(m->n_codecs, 4);
	assert_string_equal(m->codecs[2].name, "G729");
	assert_string_equal(m->codecs[2].fmtp, "annexb=no");
	assert_string_equal(m->codecs[3].fmtp, "0-15");
	assert_int_equal(m->ptime, 20);
	assert_int_equal(m->dir, SDP_DIR_SENDRECV);

	assert_int_equal(parse(asterisk), 0);
	assert_int_equal(m->port, 17044);
	assert_int_equal(m->n_codecs, 5);
	assert_int_equal(m->codecs[2].pt, 3);
	assert_string_equal(m->codecs[2].name, "GSM");   /* static, no rtpmap */
	assert_int_equal(m->codecs[2].rate, 8000);
	assert_string_equal(m->codecs[3].name, "G722");
	assert_string_equal(m->codecs[4].fmtp, "0-16");

	assert_int_equal(parse(freeswitch), 0);
	assert_int_equal(m->n_codecs, 6);
	assert_int_equal(m->codecs[0].pt, 102);
	assert_string_equal(m->codecs[0].name, "opus");
	assert_int_equal(m->codecs[0].rate, 48000);
	assert_int_equal(m->codecs[0].channels, 2);
	assert_string_equal(m->codecs[0].fmtp, "useinbandfec=1; maxaveragebitrate=30000; "
			    "maxplaybackrate=48000; ptime=20; minptime=10; maxptime=40");
	assert_string_equal(m->codecs[5].name, "CN");
	assert_int_equal(m->rtcp_port, 24690);
	assert_true(sdp_media_has_audio_codec(m));
}

static void test_softphone_ipv6(void **state)
{
	const struct sdp_media *m = &s.media[0];

	(void)state;
	assert_int_equal(parse(softphone_v6), 0);
	assert_int_equal(s.sess_id, 0);
	assert_int_equal(s.sess_version, 2);
	assert_int_equal(m->af, SDP_AF_IP6);
	assert_string_equal(m->addr, "2001:db8::10");
	assert_true(m->rtcp_mux);
	assert_int_equal(m->n_codecs, 4);
	assert_string_equal(m->codecs[0].name, "PCMU");
	assert_string_equal(m->codecs[1].name, "telephone-event");
	assert_string_equal(m->codecs[2].name, "PCMA");
	assert_string_equal(m->codecs[3].name, "GSM");
}

static void test_direction_and_levels(void **state)
{
	(void)state;
	assert_int_equal(parse(hold), 0);
	assert_int_equal(s.n_media, 2);
	assert_int_equal(s.media[0].dir, SDP_DIR_SENDONLY);   /* session level */
	assert_string_equal(s.media[0].addr, "192.0.2.1");
	assert_int_equal(s.media[1].dir, SDP_DIR_INACTIVE);   /* media level wins */
	assert_string_equal(s.media[1].addr, "0.0.0.0");

	assert_int_equal(parse(multi), 0);
	assert_int_equal(s.n_media, 5);
	assert_int_equal(s.media[0].port, 0);
	assert_string_equal(s.media[0].addr, "192.0.2.1");    /* multicast TTL dropped */
	assert_int_equal(s.media[0].dir, SDP_DIR_RECVONLY);
	assert_int_equal(s.media[0].ptime, 30);
	assert_int_equal(s.media[1].port, 5000);
	assert_string_equal(s.media[1].addr, "203.0.113.5");
	assert_int_equal(s.media[1].dir, SDP_DIR_SENDRECV);
	assert_int_equal(s.media[1].ptime, 20);
	assert_int_equal(s.media[1].n_codecs, 2);
	assert_string_equal(s.media[2].type, "video");
	assert_string_equal(s.media[2].codecs[0].name, "");   /* port 0: no rtpmap needed */
	assert_string_equal(s.media[3].type, "image");
	assert_string_equal(s.media[3].proto, "udptl");
	assert_int_equal(s.media[3].n_codecs, 1);
	assert_string_equal(s.media[3].codecs[0].name, "t38");
	assert_int_equal(s.media[4].port, 5002);               /* "/2" count ignored */
	assert_string_equal(s.media[4].proto, "RTP/SAVP");
	assert_int_equal(sdp_first_audio(&s), 1);

	assert_int_equal(parse(webrtc), 0);
	assert_string_equal(s.media[0].proto, "UDP/TLS/RTP/SAVPF");
	assert_string_equal(s.media[0].addr, "media.example.com");
	assert_int_equal(s.media[0].n_codecs, 5);
	assert_string_equal(s.media[0].codecs[0].fmtp,
			    "maxplaybackrate=48000;stereo=1;useinbandfec=1");
	assert_int_equal(s.media[0].codecs[1].channels, 1);
	assert_true(s.media[0].rtcp_mux);
	assert_int_equal(s.sess_id, 8160390376829435393ULL);
}

static void test_round_trips(void **state)
{
	static const char *const all[] = {
		sipp_uac, sipp_uac_pcap, carrier, asterisk, freeswitch, softphone_v6, hold,
		multi, webrtc,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		round_trip(all[i]);
}

static void test_tolerated(void **state)
{
	(void)state;
	/* no s=, no t=, no final line end, blanks around fields, unknown line types */
	assert_int_equal(parse("v=0\no=-  1 2 IN IP4 1.2.3.4 \nc=IN IP4 1.2.3.4\n"
			       "x=whatever\nk=clear:x\nm=audio  4000  RTP/AVP  0 8\t\n"
			       "a=rtpmap:0 PCMU/8000 \na=foo\na=\na=fmtp:0\na=fmtp:99 x=1\n"
			       "a=rtpmap:99 foo/8000\na=ptime:20"), 0);
	assert_string_equal(s.name, "");
	assert_int_equal(s.media[0].n_codecs, 2);
	assert_int_equal(s.media[0].ptime, 20);
	assert_string_equal(s.media[0].codecs[0].fmtp, "");
	/* a decimal ptime (RFC 8866 9: non-zero-int-or-real) in whole ms, the nearest */
	{
		static const struct { const char *v; uint32_t ms; } pt[] = {
			{"20.0", 20}, {"22.5", 23}, {"22.49", 22}, {"0.5", 1}, {"0.001", 1},
			{"0.0000001", 1}, {"9999.7", 10000}, {"30.250000000000001", 30},
		};

		for (size_t i = 0; i < sizeof(pt) / sizeof(pt[0]); i++) {
			char text[256];

			snprintf(text, sizeof(text), "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n"
				 "c=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:%s\r\n",
				 pt[i].v);
			assert_int_equal(parse(text), 0);
			assert_int_equal(s.media[0].ptime, pt[i].ms);
		}
	}
	/* rtpmap overrides a static name; session-level rtpmap skipped */
	assert_int_equal(parse("v=0\r\no=- 1 1 IN IP4 h.example\r\na=rtpmap:0 X/1\r\n"
			       "c=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n"
			       "a=rtpmap:0 pcmu/8000\r\n"), 0);
	assert_string_equal(s.media[0].codecs[0].name, "pcmu");
	/* a port-0 stream needs no c= and no rtpmap for dynamic types */
	assert_int_equal(parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 96\r\n"), 0);
	assert_int_equal(s.media[0].af, SDP_AF_NONE);
	assert_int_equal(sdp_first_audio(&s), -1);
	/* an unnamed static-range type (old Cisco CN on 19) is kept unnamed */
	assert_int_equal(parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n"
			       "m=audio 4000 RTP/AVP 0 19\r\n"), 0);
	assert_string_equal(s.media[0].codecs[1].name, "");
	/* session id beyond 64 bits wraps instead of failing */
	assert_int_equal(parse("v=0\r\no=- 18446744073709551617 1 IN IP4 1.2.3.4\r\n"
			       "c=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n"), 0);
	assert_int_equal(s.sess_id, 1);
	/* a later fmtp or s= replaces an earlier one and leaves no stale bytes behind,
	 * so equal sessions compare equal with memcmp */
	{
		static struct sdp_session once;

		assert_int_equal(parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=\r\n"
				       "c=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 101\r\n"
				       "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"), 0);
		once = s;
		assert_int_equal(parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=a long name\r\ns=\r\n"
				       "c=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 101\r\n"
				       "a=fmtp:101 0-16,32,36\r\na=rtpmap:101 telephone-event/8000\r\n"
				       "a=fmtp:101 0-15\r\n"), 0);
		assert_memory_equal(&once, &s, sizeof(s));
	}
	/* a 1024-byte line is fine */
	{
		char text[2048];
		int n = snprintf(text, sizeof(text), "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n"
				 "c=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=x:");

		memset(text + n, 'y', 1024 - 4);
		strcpy(text + n + 1020, "\r\n");
		assert_int_equal(parse(text), 0);
	}
}

/* ---- malformed --------------------------------------------------------------- */

#define HEAD "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
#define CONN "c=IN IP4 192.0.2.1\r\n"

struct bad {
	const char *text;
	int         rc;
	const char *msg;
};

static const struct bad bad_cases[] = {
	{"", EINVAL, "SDP: missing v= line"},
	{"\r\n\r\n", EINVAL, "SDP: missing v= line"},
	{"garbage", EINVAL, "SDP line 1: not a type=value line"},
	{"hello world\r\n", EINVAL, "SDP line 1: not a type=value line"},
	{"V=0\r\n", EINVAL, "SDP line 1: not a type=value line"},
	{"v=0\r\nGET / HTTP/1.1\r\n", EINVAL, "SDP line 2: not a type=value line"},
	{"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", EINVAL, "SDP line 1: does not start with v="},
	{"v=1\r\n", EINVAL, "SDP line 1: unsupported version"},
	{"v=0\r\nv=0\r\n", EINVAL, "SDP line 2: second v= line"},
	{"v=0\r\ns=-\r\n" CONN "m=audio 4000 RTP/AVP 0\r\n", EINVAL, "SDP: missing o= line"},
	{HEAD CONN, EINVAL, "SDP: missing m= line"},
	{HEAD "o=- 1 1 IN IP4 1.2.3.4\r\n", EINVAL, "SDP line 4: second o= line"},
	{"v=0\r\no=- 1 1 IN IP4\r\n", EINVAL, "SDP line 2: o= line needs 6 fields"},
	{"v=0\r\no=- x 1 IN IP4 1.2.3.4\r\n", EINVAL,
	 "SDP line 2: o= session id and version must be numeric"},
	{"v=0\r\no=- 1 -1 IN IP4 1.2.3.4\r\n", EINVAL,
	 "SDP line 2: o= session id and version must be numeric"},
	/* c= */
	{HEAD "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", EINVAL,
	 "SDP line 5: m=audio has no connection address (c=)"},
	{HEAD "m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\n" CONN, EINVAL,
	 "SDP line 4: m=audio has no connection address (c=)"},
	{HEAD "c=IN IP4\r\n", EINVAL, "SDP line 4: c= line needs 3 fields"},
	{HEAD "c=IN\r\n", EINVAL, "SDP line 4: c= line needs 3 fields"},
	{HEAD "c=ATM NSAP 47.0005\r\n", EINVAL, "SDP line 4: c= network type is not IN"},
	{HEAD "c=IN IP7 1.2.3.4\r\n", EINVAL, "SDP line 4: c= address type is not IP4 or IP6"},
	{HEAD "c=IN IP4 1.2.3.4.5\r\n", EINVAL, "SDP line 4: bad c= address"},
	{HEAD "c=IN IP4 1.2.3.256\r\n", EINVAL, "SDP line 4: bad c= address"},
	{HEAD "c=IN IP4 ::1\r\n", EINVAL, "SDP line 4: bad c= address"},
	{HEAD "c=IN IP6 1.2.3.4\r\n", EINVAL, "SDP line 4: bad c= address"},
	{HEAD "c=IN IP4 a_b.example\r\n", EINVAL, "SDP line 4: bad c= address"},
	{HEAD "c=IN IP4 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
	 EOVERFLOW, "SDP line 4: c= address longer than 63"},
	/* m= */
	{HEAD CONN "m=audio\r\n", EINVAL,
	 "SDP line 5: m= line needs media, port, protocol and formats"},
	{HEAD CONN "m=audio 4000 RTP/AVP\r\n", EINVAL, "SDP line 5: m= line without formats"},
	{HEAD CONN "m=audio 4000 RTP/A", EINVAL, "SDP line 5: m= line without formats"},
	{HEAD CONN "m=aud", EINVAL, "SDP line 5: m= line needs media, port, protocol and formats"},
	{HEAD CONN "m=audio 70000 RTP/AVP 0\r\n", EINVAL, "SDP line 5: bad m= port"},
	{HEAD CONN "m=audio -1 RTP/AVP 0\r\n", EINVAL, "SDP line 5: bad m= port"},
	{HEAD CONN "m=audio 40o0 RTP/AVP 0\r\n", EINVAL, "SDP line 5: bad m= port"},
	{HEAD CONN "m=audio RTP/AVP 0\r\n", EINVAL, "SDP line 5: bad m= port"},
	{HEAD CONN "m=audio 4000/0 RTP/AVP 0\r\n", EINVAL, "SDP line 5: bad m= port count"},
	{HEAD CONN "m=audio 4000 RTP/AVP 128\r\n", EINVAL, "SDP line 5: bad payload type"},
	{HEAD CONN "m=audio 4000 RTP/AVP PCMU\r\n", EINVAL, "SDP line 5: bad payload type"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0 8 0\r\n", EINVAL,
	 "SDP line 5: payload type 0 listed twice"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\x01\r\n", EINVAL,
	 "SDP line 5: control character in m= line"},
	{HEAD CONN "m=audiovisualstream 4000 RTP/AVP 0\r\n", EOVERFLOW,
	 "SDP line 5: m= media or protocol too long"},
	{HEAD CONN "m=audio 4000 RTP/AVP/AVP/AVP/AVP/AVP/AVP/AVPF 0\r\n", EOVERFLOW,
	 "SDP line 5: m= media or protocol too long"},
	{HEAD CONN "m=audio 4000 RTP/AVP 96\r\n", EINVAL,
	 "SDP line 5: payload type 96 has no rtpmap"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:100 telephone-event/8000\r\n", EINVAL,
	 "SDP line 5: payload type 101 has no rtpmap"},
	/* rtpmap, fmtp, ptime, rtcp */
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0\r\n", EINVAL, "SDP line 6: bad rtpmap"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n", EINVAL,
	 "SDP line 6: rtpmap without clock rate"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/\r\n", EINVAL,
	 "SDP line 6: bad rtpmap"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8k\r\n", EINVAL,
	 "SDP line 6: bad rtpmap"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/0\r\n", EINVAL,
	 "SDP line 6: bad rtpmap"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 /8000\r\n", EINVAL,
	 "SDP line 6: bad rtpmap"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/0\r\n", EINVAL,
	 "SDP line 6: bad rtpmap"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/256\r\n", EINVAL,
	 "SDP line 6: bad rtpmap"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000 extra\r\n", EINVAL,
	 "SDP line 6: bad rtpmap"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:x PCMU/8000\r\n", EINVAL,
	 "SDP line 6: bad rtpmap payload type"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:0 PCMA/8000\r\n",
	 EINVAL, "SDP line 7: second rtpmap for payload type 0"},
	{HEAD CONN "m=audio 4000 RTP/AVP 97\r\na=rtpmap:97 "
	 "a-very-long-encoding-name-beyond-31/8000\r\n", EOVERFLOW,
	 "SDP line 6: rtpmap encoding name too long"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=fmtp:zero x\r\n", EINVAL,
	 "SDP line 6: bad fmtp payload type"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=fmtp:\r\n", EINVAL, "SDP line 6: bad fmtp"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=fmtp:0 a\x7f\r\n", EINVAL,
	 "SDP line 6: control character in fmtp"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=fmtp:0 "
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", EOVERFLOW,
	 "SDP line 6: fmtp longer than 127"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=ptime:abc\r\n", EINVAL, "SDP line 6: bad ptime"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=ptime:0\r\n", EINVAL, "SDP line 6: bad ptime"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=ptime:20.\r\n", EINVAL, "SDP line 6: bad ptime"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=ptime:.5\r\n", EINVAL, "SDP line 6: bad ptime"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=ptime:0.000\r\n", EINVAL, "SDP line 6: bad ptime"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=ptime:20.5.1\r\n", EINVAL, "SDP line 6: bad ptime"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=ptime:20,5\r\n", EINVAL, "SDP line 6: bad ptime"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=ptime:10000.5\r\n", EINVAL, "SDP line 6: bad ptime"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=ptime:\r\n", EINVAL, "SDP line 6: bad ptime"},
	{HEAD CONN "a=ptime:x\r\n", EINVAL, "SDP line 5: bad ptime"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtcp:70000\r\n", EINVAL,
	 "SDP line 6: bad rtcp port"},
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=rtcp:\r\n", EINVAL, "SDP line 6: bad rtcp port"},
	/* bytes and limits */
	{HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=\x00rtpmap\r\n", EINVAL, "SDP: NUL byte in body"},
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *b = &bad_cases[i];
		size_t len = strlen(b->text);
		int rc;

		if (strstr(b->msg, "NUL byte"))
			len = sizeof(HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=\x00rtpmap\r\n") - 1;
		rc = sdp_parse(&s, b->text, len, err, sizeof(err));
		if (rc != b->rc || strcmp(err, b->msg) != 0)
			fail_msg("case %zu: rc %d \"%s\", want %d \"%s\"", i, rc, err, b->rc, b->msg);
	}
}

static void test_limits(void **state)
{
	char *text = malloc(SDP_MAX_LEN * 2);
	size_t o;

	(void)state;
	assert_non_null(text);
	/* a 1025-byte line */
	o = (size_t)sprintf(text, HEAD CONN "m=audio 4000 RTP/AVP 0\r\na=");
	memset(text + o, 'x', 1023);
	strcpy(text + o + 1023, "\r\n");
	assert_int_equal(parse(text), EOVERFLOW);
	assert_string_equal(err, "SDP line 6: longer than 1024 bytes");

	/* a body over SDP_MAX_LEN */
	memset(text, '\n', SDP_MAX_LEN + 1);
	memcpy(text, "v=0", 3);
	assert_int_equal(sdp_parse(&s, text, SDP_MAX_LEN + 1, err, sizeof(err)), EOVERFLOW);
	assert_string_equal(err, "SDP: body longer than 16384 bytes");

	/* 32 m= lines pass (a room system's offer has a dozen), 33 do not */
	o = (size_t)sprintf(text, HEAD CONN);
	for (int i = 0; i < 32; i++)
		o += (size_t)sprintf(text + o, "m=video %d RTP/AVP 96\r\n", 4000 + 2 * i);
	assert_int_equal(parse(text), 0);
	assert_int_equal(s.n_media, 32);
	assert_int_equal(s.media[31].port, 4062);
	o += (size_t)sprintf(text + o, "m=audio 5000 RTP/AVP 0\r\n");
	assert_int_equal(parse(text), EOVERFLOW);
	assert_string_equal(err, "SDP line 37: more than 32 m= lines");

	/* 33 formats; 32 pass */
	o = (size_t)sprintf(text, HEAD CONN "m=audio 4000 RTP/AVP");
	for (int i = 0; i < 32; i++)
		o += (size_t)sprintf(text + o, " %d", i);
	strcpy(text + o, "\r\n");
	assert_int_equal(parse(text), 0);
	assert_int_equal(s.media[0].n_codecs, 32);
	strcpy(text + o, " 127\r\n");
	assert_int_equal(parse(text), EOVERFLOW);
	assert_string_equal(err, "SDP line 5: more than 32 formats");

	/* a browser's video line with 40 formats after the audio one: the first 32 are
	 * kept (the line is only ever rejected), the rtpmap of a dropped one ignored */
	o = (size_t)sprintf(text, HEAD CONN "m=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP");
	for (int i = 0; i < 40; i++)
		o += (size_t)sprintf(text + o, " %d", 127 - i);
	strcpy(text + o, "\r\na=rtpmap:127 VP8/90000\r\na=rtpmap:88 H264/90000\r\n");
	assert_int_equal(parse(text), 0);
	assert_int_equal(s.n_media, 2);
	assert_int_equal(s.media[1].n_codecs, 32);
	assert_string_equal(s.media[1].codecs[0].name, "VP8");
	assert_int_equal(s.media[1].codecs[31].pt, 96);

	/* arguments */
	assert_int_equal(sdp_parse(NULL, "v=0", 3, err, sizeof(err)), EINVAL);
	assert_int_equal(sdp_parse(&s, NULL, 3, err, sizeof(err)), EINVAL);
	assert_int_equal(sdp_parse(&s, "v=0", 3, NULL, 0), EINVAL);   /* no err buffer */
	free(text);
}

/* ---- writer ------------------------------------------------------------------ */

static void test_write(void **state)
{
	static const char want[] =
		"v=0\r\n"
		"o=trunx 42 43 IN IP4 203.0.113.1\r\n"
		"s=-\r\n"
		"t=0 0\r\n"
		"m=audio 30000 RTP/AVP 8 0 101\r\n"
		"c=IN IP4 203.0.113.1\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-16\r\n"
		"a=ptime:20\r\n"
		"a=sendonly\r\n"
		"m=video 0 RTP/AVP 0\r\n"
		"a=inactive\r\n"
		"m=audio 30002 RTP/AVP 0\r\n"
		"c=IN IP6 2001:db8::1\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtcp:40001\r\n"
		"a=rtcp-mux\r\n"
		"a=recvonly\r\n";
	struct sdp_session w;
	char buf[1024];
	int n;

	(void)state;
	memset(&w, 0, sizeof(w));
	strcpy(w.origin_user, "trunx");
	strcpy(w.name, "ignored");
	w.sess_id = 42;
	w.sess_version = 43;
	w.n_media = 3;
	strcpy(w.media[0].type, "audio");
	w.media[0].port = 30000;
	strcpy(w.media[0].proto, "RTP/AVP");
	w.media[0].af = SDP_AF_IP4;
	strcpy(w.media[0].addr, "203.0.113.1");
	w.media[0].dir = SDP_DIR_SENDONLY;
	w.media[0].ptime = 20;
	w.media[0].rtcp_port = 30001;   /* port + 1: implied */
	w.media[0].n_codecs = 3;
	w.media[0].codecs[0] = (struct sdp_codec){8, "PCMA", 8000, 1, ""};
	w.media[0].codecs[1] = (struct sdp_codec){0, "PCMU", 8000, 1, ""};
	w.media[0].codecs[2] = (struct sdp_codec){101, "telephone-event", 8000, 1, "0-16"};
	strcpy(w.media[1].type, "video");
	strcpy(w.media[1].proto, "RTP/AVP");
	w.media[1].dir = SDP_DIR_INACTIVE;   /* port 0, no codecs, no address */
	strcpy(w.media[2].type, "audio");
	w.media[2].port = 30002;
	strcpy(w.media[2].proto, "RTP/AVP");
	w.media[2].af = SDP_AF_IP6;
	strcpy(w.media[2].addr, "2001:db8::1");
	w.media[2].dir = SDP_DIR_RECVONLY;
	w.media[2].rtcp_port = 40001;
	w.media[2].rtcp_mux = true;
	w.media[2].n_codecs = 1;
	w.media[2].codecs[0] = (struct sdp_codec){0, "PCMU", 8000, 1, ""};

	n = sdp_write(buf, sizeof(buf), &w);
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
	/* exact fit; one byte short */
	assert_int_equal(sdp_write(buf, strlen(want) + 1, &w), n);
	assert_int_equal(sdp_write(buf, strlen(want), &w), -1);
	assert_int_equal(sdp_write(buf, 10, &w), -1);
	assert_int_equal(sdp_write(buf, 0, &w), -1);
	assert_int_equal(sdp_write(NULL, 100, &w), -1);
	assert_int_equal(sdp_write(buf, sizeof(buf), NULL), -1);

	/* what the writer refuses */
	{
		struct sdp_session bad = w;

		bad.media[0].n_codecs = 0;   /* active stream without codecs */
		assert_int_equal(sdp_write(buf, sizeof(buf), &bad), -1);
		bad = w;
		bad.media[0].af = SDP_AF_NONE;   /* active stream without address */
		assert_int_equal(sdp_write(buf, sizeof(buf), &bad), -1);
		bad = w;
		strcpy(bad.media[0].addr, "1.2.3.4\r\na=x");
		assert_int_equal(sdp_write(buf, sizeof(buf), &bad), -1);
		bad = w;
		strcpy(bad.media[0].codecs[2].fmtp, "0-16\r\nm=audio 1 RTP/AVP 0");
		assert_int_equal(sdp_write(buf, sizeof(buf), &bad), -1);
		bad = w;
		bad.media[0].codecs[0].pt = 200;
		assert_int_equal(sdp_write(buf, sizeof(buf), &bad), -1);
		bad = w;
		bad.media[0].codecs[0].rate = 0;
		assert_int_equal(sdp_write(buf, sizeof(buf), &bad), -1);
		bad = w;
		bad.media[0].dir = (enum sdp_dir)9;
		assert_int_equal(sdp_write(buf, sizeof(buf), &bad), -1);
		bad = w;
		strcpy(bad.media[0].type, "au dio");
		assert_int_equal(sdp_write(buf, sizeof(buf), &bad), -1);
		bad = w;
		bad.n_media = SDP_MAX_MEDIA + 1;
		assert_int_equal(sdp_write(buf, sizeof(buf), &bad), -1);
		/* an origin user that cannot be written becomes "-" */
		bad = w;
		strcpy(bad.origin_user, "a b");
		assert_true(sdp_write(buf, sizeof(buf), &bad) > 0);
		assert_non_null(strstr(buf, "o=- 42 43 IN IP4 203.0.113.1\r\n"));
		/* no session-level address at all: o= falls back to 0.0.0.0 */
		bad = w;
		bad.n_media = 0;
		assert_true(sdp_write(buf, sizeof(buf), &bad) > 0);
		assert_string_equal(buf, "v=0\r\no=trunx 42 43 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
	}
	/* what was written parses back */
	n = sdp_write(buf, sizeof(buf), &w);
	assert_int_equal(sdp_parse(&s, buf, (size_t)n, err, sizeof(err)), 0);
	assert_int_equal(s.media[0].rtcp_port, 0);
	assert_int_equal(s.media[2].rtcp_port, 40001);
	assert_int_equal(s.media[1].n_codecs, 1);   /* the placeholder format */
}

/* ---- offer/answer helpers ---------------------------------------------------- */

static void test_helpers(void **state)
{
	static const char *const allowed[] = {"PCMU/8000", "PCMA/8000", "telephone-event/8000"};
	static const char *const any_rate[] = {"pcma", NULL, "g722"};
	struct sdp_media m;

	(void)state;
	assert_string_equal(sdp_dir_name(SDP_DIR_SENDRECV), "sendrecv");
	assert_string_equal(sdp_dir_name(SDP_DIR_SENDONLY), "sendonly");
	assert_string_equal(sdp_dir_name(SDP_DIR_RECVONLY), "recvonly");
	assert_string_equal(sdp_dir_name(SDP_DIR_INACTIVE), "inactive");
	assert_string_equal(sdp_dir_name((enum sdp_dir)7), "?");
	assert_int_equal(sdp_dir_reverse(SDP_DIR_SENDONLY), SDP_DIR_RECVONLY);
	assert_int_equal(sdp_dir_reverse(SDP_DIR_RECVONLY), SDP_DIR_SENDONLY);
	assert_int_equal(sdp_dir_reverse(SDP_DIR_SENDRECV), SDP_DIR_SENDRECV);
	assert_int_equal(sdp_dir_reverse(SDP_DIR_INACTIVE), SDP_DIR_INACTIVE);

	assert_int_equal(parse(freeswitch), 0);   /* opus G722 PCMU PCMA 101 CN */
	m = s.media[0];
	assert_non_null(sdp_media_find(&m, "pcmu", 8000));
	assert_non_null(sdp_media_find(&m, "OPUS", 0));
	assert_null(sdp_media_find(&m, "opus", 8000));
	assert_null(sdp_media_find(&m, "G729", 0));
	assert_null(sdp_media_find(NULL, "PCMU", 0));
	assert_int_equal(sdp_media_find(&m, "telephone-event", 8000)->pt, 101);
	assert_int_equal(sdp_media_filter(&m, allowed, 3), 3);
	assert_int_equal(m.codecs[0].pt, 0);      /* offer order kept */
	assert_int_equal(m.codecs[1].pt, 8);
	assert_int_equal(m.codecs[2].pt, 101);
	assert_string_equal(m.codecs[2].fmtp, "0-16");
	assert_true(sdp_media_has_audio_codec(&m));

	m = s.media[0];
	assert_int_equal(sdp_media_filter(&m, any_rate, 3), 2);
	assert_string_equal(m.codecs[0].name, "G722");
	assert_string_equal(m.codecs[1].name, "PCMA");

	/* only DTMF and comfort noise: no audio codec, and nothing in common -> 488 */
	assert_int_equal(parse(HEAD CONN "m=audio 4000 RTP/AVP 18 101 13\r\n"
			       "a=rtpmap:101 telephone-event/16000\r\n"), 0);
	m = s.media[0];
	assert_true(sdp_media_has_audio_codec(&m));   /* G729 */
	assert_int_equal(sdp_media_filter(&m, allowed, 3), 0);   /* 101 is at 16 kHz */
	assert_int_equal(m.n_codecs, 0);
	assert_false(sdp_media_has_audio_codec(&m));
	m = s.media[0];
	m.codecs[0] = m.codecs[1];
	m.codecs[1] = m.codecs[2];
	m.n_codecs = 2;   /* telephone-event and CN */
	assert_false(sdp_media_has_audio_codec(&m));
	assert_false(sdp_media_has_audio_codec(NULL));
	assert_int_equal(sdp_media_filter(NULL, allowed, 3), 0);

	assert_int_equal(sdp_first_audio(NULL), -1);
	assert_int_equal(parse(HEAD CONN "m=video 4000 RTP/AVP 0\r\nm=AUDIO 4002 RTP/AVP 0\r\n"),
			 0);
	assert_int_equal(sdp_first_audio(&s), 1);
}

/* A room system's offer (Cisco/Polycom style): audio, then H.264 video whose fmtp is
 * longer than SDP_FMTP_MAX. The video stream is never relayed: its fmtp is skipped
 * and the offer parses; the same length on an audio codec is still refused. */
static void test_video_long_fmtp(void **state)
{
	static const char room[] =
		"v=0\r\no=CiscoSystemsSIP-GW-UserAgent 4127 1 IN IP4 10.1.1.5\r\ns=SIP Call\r\n"
		"c=IN IP4 10.1.1.5\r\nb=AS:6000\r\nt=0 0\r\n"
		"m=audio 16384 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-15\r\n"
		"m=video 16386 RTP/AVP 97\r\nb=TIAS:6000000\r\na=rtpmap:97 H264/90000\r\n"
		"a=fmtp:97 profile-level-id=428016;packetization-mode=1;max-mbps=490000;"
		"max-fs=8160;max-cpb=200;max-br=5000;max-rcmd-nalu-size=3456000;"
		"max-smbps=490000;max-fps=6000\r\na=rtcp-fb:* nack pli\r\na=content:main\r\n";

	(void)state;
	assert_int_equal(parse(room), 0);
	assert_int_equal(s.n_media, 2);
	assert_string_equal(s.media[0].codecs[1].fmtp, "0-15");
	assert_string_equal(s.media[1].type, "video");
	assert_int_equal(s.media[1].port, 16386);
	assert_string_equal(s.media[1].codecs[0].name, "H264");
	assert_string_equal(s.media[1].codecs[0].fmtp, "");
	assert_int_equal(sdp_first_audio(&s), 0);
}

/* The same rtpmap line twice (a PBX repeating its telephone-event line) is the one
 * mapping; two different mappings for one type stay an error (test_malformed). */
static void test_repeated_rtpmap(void **state)
{
	(void)state;
	assert_int_equal(parse(HEAD CONN "m=audio 4000 RTP/AVP 0 101\r\n"
			       "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
			       "a=rtpmap:101 Telephone-Event/8000\r\n"), 0);
	assert_int_equal(s.media[0].n_codecs, 2);
	assert_string_equal(s.media[0].codecs[1].name, "telephone-event");
	assert_int_equal(s.media[0].codecs[1].rate, 8000);
	assert_string_equal(s.media[0].codecs[1].fmtp, "0-16");
	assert_int_equal(parse(HEAD CONN "m=audio 4000 RTP/AVP 101\r\n"
			       "a=rtpmap:101 telephone-event/8000\r\n"
			       "a=rtpmap:101 telephone-event/48000\r\n"), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sipp),
		cmocka_unit_test(test_carrier_pbx),
		cmocka_unit_test(test_softphone_ipv6),
		cmocka_unit_test(test_direction_and_levels),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_tolerated),
		cmocka_unit_test(test_video_long_fmtp),
		cmocka_unit_test(test_repeated_rtpmap),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

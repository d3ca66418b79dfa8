/*
 * test_call.c — the call state machine (src/b2bua/b2bua_call.c) driven by synthetic
 * sipua and media events. The SIP user agent and the media engine are replaced by
 * recording fakes defined here (the linker takes them before the libraries'), the
 * routing snapshot and the SDP code are the real ones. Each test checks what the call
 * did to each leg, to the media session and to the counters, and that it is freed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "log.h"

/* ---- fakes: sipua ---- */

struct sipua_leg {
	void *ctx;
	char  call_id[32];
	int   last_status;       /**< last response sent on it */
	int   n_responses;
	bool  hung_up;
	bool  has_sdp;           /**< last response/answer carried SDP */
	int   answered;          /**< sipua_leg_answer status */
	char  headers[1024];     /**< extra headers of the last request/response */
};

struct sipua_timer {
	sipua_job_h *fn;
	void        *arg;
	unsigned     ms;
	bool         live;
};

static struct sipua_leg a_leg, b_leg;
static struct sipua_timer timers[8];
static int n_invites, n_reoffers, n_cancels;
static char last_reoffer[4096];
static struct sipua_invite last_invite;
static char last_invite_ruri[256];
static char last_invite_from[256], last_invite_sdp[4096];   /* the caller's buffers go */
static int media_updates, media_destroyed, media_created;

void sipua_leg_set_ctx(struct sipua_leg *leg, void *ctx) { leg->ctx = ctx; }
void *sipua_leg_ctx(const struct sipua_leg *leg) { return leg->ctx; }
void sipua_leg_set_policy(struct sipua_leg *leg, const struct sipua_policy *p) { (void)leg; (void)p; }
const char *sipua_leg_call_id(const struct sipua_leg *leg) { return leg->call_id; }
uint64_t sipua_now_ms(void) { return 1000000; }
enum sipua_transport sipua_uri_transport(const char *uri)
{
	return uri && strstr(uri, "transport=tls") ? SIPUA_TP_TLS : SIPUA_TP_UDP;
}

int sipua_leg_respond(struct sipua_leg *leg, int status, const char *sdp, size_t sdp_len,
		      const char *headers)
{
	(void)sdp_len;
	leg->last_status = status;
	leg->n_responses++;
	leg->has_sdp = sdp != NULL;
	snprintf(leg->headers, sizeof(leg->headers), "%s", headers ? headers : "");
	return 0;
}

int sipua_leg_answer(struct sipua_leg *leg, int status, const char *sdp, size_t sdp_len,
		     const char *headers)
{
	(void)sdp_len;
	(void)headers;
	leg->answered = status;
	leg->has_sdp = sdp != NULL;
	return 0;
}

void sipua_leg_hangup(struct sipua_leg *leg, int status)
{
	(void)status;
	leg->hung_up = true;
}

int sipua_leg_reoffer(struct sipua_leg *leg, const char *sdp, size_t sdp_len)
{
	(void)leg;
	snprintf(last_reoffer, sizeof(last_reoffer), "%.*s", (int)sdp_len, sdp);
	n_reoffers++;
	return 0;
}

int sipua_leg_cancel_reoffer(struct sipua_leg *leg)
{
	(void)leg;
	n_cancels++;
	return 0;
}

/* The peers' signalling addresses (media latching): the fake legs have none. */
unsigned sipua_leg_peers(const struct sipua_leg *leg, struct sockaddr_storage *out,
			 unsigned max)
{
	(void)leg;
	(void)out;
	(void)max;
	return 0;
}

/* Load shedding's queue (b2b_shedding): never standing here. */
unsigned sipua_rx_standing_delay_ms(struct sipua *ua, unsigned window_ms)
{
	(void)ua;
	(void)window_ms;
	return 0;
}

/* Admissions of the SIP front still in flight (sipua_admit_pending). */
static unsigned fake_pending;

unsigned sipua_admit_pending(const struct sipua *ua)
{
	(void)ua;
	return fake_pending;
}

void sipua_set_known(struct sipua *ua, sipua_known_h *h, void *arg)
{
	(void)ua;
	(void)h;
	(void)arg;
}

int sipua_leg_invite(struct sipua *ua, const struct sipua_invite *inv, void *ctx,
		     struct sipua_leg **legp)
{
	(void)ua;
	n_invites++;
	last_invite = *inv;
	snprintf(last_invite_ruri, sizeof(last_invite_ruri), "%s", inv->ruri);
	snprintf(last_invite_from, sizeof(last_invite_from), "%s", inv->from_uri);
	snprintf(last_invite_sdp, sizeof(last_invite_sdp), "%.*s", (int)inv->sdp_len,
		 inv->sdp ? inv->sdp : "");
	last_invite.from_uri = last_invite_from;
	last_invite.sdp = last_invite_sdp;
	snprintf(b_leg.headers, sizeof(b_leg.headers), "%s", inv->headers ? inv->headers : "");
	b_leg.ctx = ctx;
	snprintf(b_leg.call_id, sizeof(b_leg.call_id), "b-leg-id");
	*legp = &b_leg;
	return 0;
}

int sipua_ev_header(const struct sipua_ev *ev, const char *name, char *out, size_t outlen)
{
	(void)ev;
	if (strcasecmp(name, "X-Account") == 0) {
		size_t n = strlen(out);
		snprintf(out + n, outlen - n, "X-Account: 42\r\n");
		return 0;
	}
	return ENOENT;
}

int sipua_timer_start(struct sipua *ua, unsigned ms, sipua_job_h *fn, void *arg,
		      struct sipua_timer **tp)
{
	(void)ua;
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		if (!timers[i].live) {
			timers[i] = (struct sipua_timer){fn, arg, ms, true};
			*tp = &timers[i];
			return 0;
		}
	}
	return ENOMEM;
}

void sipua_timer_cancel(struct sipua_timer *t)
{
	if (t)
		t->live = false;
}

/* Fires the live timer of `ms`, as the loop would. */
static void fire_timer(unsigned ms)
{
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		if (timers[i].live && timers[i].ms == ms) {
			timers[i].live = false;
			timers[i].fn(timers[i].arg);
			return;
		}
	}
	fail_msg("no live timer of %u ms", ms);
}

static size_t live_timers(void)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
		n += timers[i].live;
	return n;
}

/* ---- fakes: media ---- */

struct media_session { int unused; };
static struct media_session the_session;
static struct media_session_params last_params;

int media_session_create(struct media_engine *me, uint64_t cookie, struct media_session **msp)
{
	(void)me;
	(void)cookie;
	media_created++;
	*msp = &the_session;
	return 0;
}

uint16_t media_session_port(const struct media_session *ms, enum media_side side)
{
	(void)ms;
	return side == MEDIA_SIDE_A ? 30000 : 30002;
}

int media_session_update(struct media_session *ms, const struct media_session_params *p)
{
	(void)ms;
	media_updates++;
	last_params = *p;
	return 0;
}

void media_session_destroy(struct media_session *ms)
{
	(void)ms;
	media_destroyed++;
}

/* Digits the call layer sent on: through the media session, and by INFO. */
static char media_digits[16], info_digits[16];
static enum media_side media_digits_to;

int media_session_send_digit(struct media_session *ms, enum media_side to, char digit,
			     unsigned duration_ms)
{
	size_t n = strlen(media_digits);

	(void)ms;
	(void)duration_ms;
	media_digits_to = to;
	if (n + 1 < sizeof(media_digits))
		media_digits[n] = digit;
	return 0;
}

int sipua_post(struct sipua *ua, sipua_job_h *fn, void *arg)
{
	(void)ua;
	fn(arg);
	return 0;
}

int sipua_leg_info_dtmf(struct sipua_leg *leg, char digit, unsigned duration_ms)
{
	size_t n = strlen(info_digits);

	(void)duration_ms;
	assert_ptr_equal(leg, &a_leg);
	if (n + 1 < sizeof(info_digits))
		info_digits[n] = digit;
	return 0;
}

/* ---- fixture ---- */

static const char offer_a[] =
	"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	"m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
static const char answer_b[] =
	"v=0\r\no=- 2 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

struct fx {
	struct b2bua          *b;
	struct route_table    *rt;
	struct sipua_incoming  in;
};

static void cidr(struct route_cidr *c, const char *ip, uint8_t bits)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&c->addr;

	memset(c, 0, sizeof(*c));
	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	c->bits = bits;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct trunk_cfg t = {0};
	struct route_cfg r = {0};
	char err[128];
	struct sockaddr_in *src = (struct sockaddr_in *)&f->in.src;

	log_set_level(LOG_OFF);
	memset(&a_leg, 0, sizeof(a_leg));
	memset(&b_leg, 0, sizeof(b_leg));
	memset(timers, 0, sizeof(timers));
	n_invites = n_reoffers = n_cancels = media_updates = media_destroyed = media_created = 0;
	memset(media_digits, 0, sizeof(media_digits));
	memset(info_digits, 0, sizeof(info_digits));
	snprintf(a_leg.call_id, sizeof(a_leg.call_id), "a-leg-id");

	assert_int_equal(route_table_create(&f->rt), 0);
	snprintf(t.name, sizeof(t.name), "carrier");
	cidr(&t.cidrs[t.n_cidrs++], "10.0.0.0", 8);
	snprintf(t.country_code, sizeof(t.country_code), "1");
	snprintf(t.national_prefix, sizeof(t.national_prefix), "1");
	t.n_pass_headers = 2;
	snprintf(t.pass_headers[0], ROUTE_NAME_MAX, "X-Account");
	snprintf(t.pass_headers[1], ROUTE_NAME_MAX, "P-Asserted-Identity");
	t.dtmf = TRUNK_DTMF_INFO;   /* the caller's carrier sends digits by INFO */
	assert_int_equal(route_table_add_trunk(f->rt, &t, err, sizeof(err)), 0);
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "pbx");
	cidr(&t.cidrs[t.n_cidrs++], "192.168.1.10", 32);
	snprintf(t.uri, sizeof(t.uri), "sip:192.168.1.10:5070");
	assert_int_equal(route_table_add_trunk(f->rt, &t, err, sizeof(err)), 0);
	snprintf(r.name, sizeof(r.name), "did");
	snprintf(r.match, sizeof(r.match), "+15550001000");
	snprintf(r.to_trunk, sizeof(r.to_trunk), "pbx");
	assert_int_equal(route_table_add_route(f->rt, &r, err, sizeof(err)), 0);
	assert_int_equal(route_table_freeze(f->rt), 0);

	f->b = calloc(1, sizeof(*f->b));
	f->b->rt = f->rt;
	f->b->sip.max_calls = 10;
	f->b->sip.max_cps = 100;
	f->b->sip.retry_after = 5;
	f->b->sip.max_forwards = 70;
	f->b->sip.invite_timeout = 32;
	f->b->sip.ring_timeout = 120;
	snprintf(f->b->media_addr, sizeof(f->b->media_addr), "192.0.2.1");
	snprintf(f->b->sip_host, sizeof(f->b->sip_host), "192.0.2.1");

	src->sin_family = AF_INET;
	inet_pton(AF_INET, "10.1.2.3", &src->sin_addr);
	f->in.peer = (void *)route_identify(f->rt, (struct sockaddr *)src);
	assert_non_null(f->in.peer);
	f->in.call_id = "a-leg-id";
	f->in.ruri_user = "5550001000";
	f->in.from_user = "5551230000";
	f->in.from_display = "Alice";
	f->in.max_forwards = 70;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_null(f->b->calls);   /* every call was freed */
	route_table_unref(f->rt);
	free(f->b);
	free(f);
	return 0;
}

static void incoming(struct fx *f, const char *sdp)
{
	struct sipua_ev ev = {0};

	ev.type = SIPUA_EV_INCOMING;
	ev.leg = &a_leg;
	ev.in = &f->in;
	ev.sdp = sdp;
	ev.sdp_len = sdp ? strlen(sdp) : 0;
	call_on_incoming(f->b, &ev);
}

static void leg_ev(struct fx *f, struct sipua_leg *leg, enum sipua_ev_type type, int status,
		   const char *sdp)
{
	struct sipua_ev ev = {0};
	struct call *c = leg->ctx;

	assert_non_null(c);
	ev.type = type;
	ev.leg = leg;
	ev.status = status;
	ev.sdp = sdp;
	ev.sdp_len = sdp ? strlen(sdp) : 0;
	ev.end = type == SIPUA_EV_TERMINATED ? SIPUA_END_BYE_REMOTE : SIPUA_END_NONE;
	call_on_leg_event(f->b, c, &ev);
}

static void terminated(struct fx *f, struct sipua_leg *leg, enum sipua_end end)
{
	struct sipua_ev ev = {0};

	ev.type = SIPUA_EV_TERMINATED;
	ev.leg = leg;
	ev.end = end;
	call_on_leg_event(f->b, leg->ctx, &ev);
}

static void media_closed(struct fx *f)
{
	struct media_event ev = {0};

	ev.type = MEDIA_EV_CLOSED;
	ev.cookie = (uint64_t)(uintptr_t)f->b->calls;
	ev.stats[MEDIA_SIDE_A].rtp_in = 100;
	call_on_media_event(f->b, &ev);
}

/* ---- tests ---- */

static void test_answered_call_bye_from_a(void **state)
{
	struct fx *f = *state;
	struct call *c;

	incoming(f, offer_a);
	c = f->b->calls;
	assert_non_null(c);
	assert_int_equal(c->state, CALL_CALLING);
	assert_int_equal(n_invites, 1);
	assert_string_equal(last_invite_ruri, "sip:+15550001000@192.168.1.10:5070");
	assert_int_equal(last_invite.max_forwards, 69);
	assert_string_equal(last_invite.from_uri, "sip:+15551230000@192.0.2.1");
	/* Allow-listed header crosses; the untrusted identity header does not. */
	assert_string_equal(b_leg.headers, "X-Account: 42\r\n");
	assert_int_equal(media_created, 1);
	assert_int_equal(live_timers(), 1);   /* invite_timeout */
	assert_int_equal(atomic_load(&f->b->c_active), 1);

	leg_ev(f, &b_leg, SIPUA_EV_PROGRESS, 180, NULL);
	assert_int_equal(c->state, CALL_EARLY);
	assert_int_equal(a_leg.last_status, 180);
	assert_false(a_leg.has_sdp);
	assert_int_equal(live_timers(), 1);   /* ring_timeout replaced invite_timeout */

	leg_ev(f, &b_leg, SIPUA_EV_ANSWERED, 200, answer_b);
	assert_int_equal(c->state, CALL_ANSWERED);
	assert_int_equal(a_leg.last_status, 200);
	assert_true(a_leg.has_sdp);
	assert_int_equal(live_timers(), 0);
	assert_int_equal(last_params.side[MEDIA_SIDE_A].pt_map[8], 8);
	assert_int_equal(ntohs(((struct sockaddr_in *)&last_params.side[MEDIA_SIDE_B].rtp)->sin_port),
			 6000);
	assert_int_equal(atomic_load(&f->b->c_answered), 1);

	terminated(f, &a_leg, SIPUA_END_BYE_REMOTE);
	assert_true(b_leg.hung_up);
	assert_int_equal(media_destroyed, 0);   /* B still up */
	terminated(f, &b_leg, SIPUA_END_BYE_LOCAL);
	assert_int_equal(media_destroyed, 1);
	assert_int_equal(atomic_load(&f->b->c_active), 0);
	assert_non_null(f->b->calls);           /* waits for the final counters */
	assert_string_equal(c->cause, "bye_a");
	media_closed(f);
}

/* The carrier (A) carries digits by INFO, the PBX (B) by RFC 4733: an INFO burst
 * "123#" goes to the media session toward B in order, and a digit from B's media
 * goes to A by INFO. */
static void test_dtmf_info_interworking(void **state)
{
	struct fx *f = *state;
	const struct media_dtmf_params *da, *db;
	struct media_event mev = {0};
	struct call *c;

	incoming(f, offer_a);
	c = f->b->calls;
	leg_ev(f, &b_leg, SIPUA_EV_ANSWERED, 200, answer_b);
	assert_int_equal(c->state, CALL_ANSWERED);
	da = &last_params.side[MEDIA_SIDE_A].dtmf;
	db = &last_params.side[MEDIA_SIDE_B].dtmf;
	assert_true(da->enabled && db->enabled);
	assert_int_equal(da->mode, MEDIA_DTMF_INFO);
	assert_int_equal(db->mode, MEDIA_DTMF_RFC4733);
	assert_int_equal(db->te_pt, 101);
	assert_int_equal(db->te_rate, 8000);
	assert_int_equal(db->audio_pt, 8);
	assert_true(db->alaw);
	for (const char *d = "123#"; *d; d++) {
		struct sipua_ev ev = {0};

		ev.type = SIPUA_EV_INFO;
		ev.leg = &a_leg;
		ev.dtmf_digit = *d;
		ev.dtmf_duration_ms = 160;
		call_on_leg_event(f->b, c, &ev);
	}
	assert_string_equal(media_digits, "123#");
	assert_int_equal(media_digits_to, MEDIA_SIDE_B);
	mev.type = MEDIA_EV_DTMF;
	mev.cookie = (uint64_t)(uintptr_t)c;
	mev.dtmf.side = MEDIA_SIDE_B;
	mev.dtmf.digit = '9';
	mev.dtmf.duration_ms = 120;
	call_on_media_event(f->b, &mev);
	assert_string_equal(info_digits, "9");
	assert_string_equal(media_digits, "123#");   /* not echoed back to B */
	terminated(f, &a_leg, SIPUA_END_BYE_REMOTE);
	terminated(f, &b_leg, SIPUA_END_BYE_LOCAL);
	media_closed(f);
}

static void test_busy_relayed_and_unmapped(void **state)
{
	struct fx *f = *state;
	struct sipua_ev ev = {0};

	incoming(f, offer_a);
	ev.type = SIPUA_EV_FAILED;
	ev.leg = &b_leg;
	ev.status = 486;
	call_on_leg_event(f->b, f->b->calls, &ev);
	assert_int_equal(a_leg.last_status, 486);
	terminated(f, &b_leg, SIPUA_END_REJECTED);
	terminated(f, &a_leg, SIPUA_END_REJECTED);
	assert_int_equal(atomic_load(&f->b->c_failed), 1);
	media_closed(f);

	/* B's 407 is never relayed, a local failure after ringing is 480. */
	memset(&a_leg, 0, sizeof(a_leg));
	incoming(f, offer_a);
	ev.status = 407;
	call_on_leg_event(f->b, f->b->calls, &ev);
	assert_int_equal(a_leg.last_status, 403);
	terminated(f, &b_leg, SIPUA_END_REJECTED);
	terminated(f, &a_leg, SIPUA_END_REJECTED);
	media_closed(f);
}

static void test_timeouts(void **state)
{
	struct fx *f = *state;

	/* No response at all from B: 408 to A, B cancelled. */
	incoming(f, offer_a);
	fire_timer(32000);
	assert_int_equal(a_leg.last_status, 408);
	assert_true(b_leg.hung_up);
	terminated(f, &b_leg, SIPUA_END_CANCEL);
	terminated(f, &a_leg, SIPUA_END_REJECTED);
	media_closed(f);

	/* Ringing too long: 480. */
	memset(&a_leg, 0, sizeof(a_leg));
	memset(&b_leg, 0, sizeof(b_leg));
	incoming(f, offer_a);
	leg_ev(f, &b_leg, SIPUA_EV_PROGRESS, 183, answer_b);   /* early media */
	assert_true(a_leg.has_sdp);
	assert_int_equal(a_leg.last_status, 183);
	fire_timer(120000);
	assert_int_equal(a_leg.last_status, 480);
	assert_true(b_leg.hung_up);
	terminated(f, &b_leg, SIPUA_END_CANCEL);
	terminated(f, &a_leg, SIPUA_END_REJECTED);
	assert_int_equal(live_timers(), 0);
	media_closed(f);
}

static void test_refusals_before_routing(void **state)
{
	struct fx *f = *state;

	f->in.max_forwards = 0;
	incoming(f, offer_a);
	assert_int_equal(a_leg.last_status, 483);
	terminated(f, &a_leg, SIPUA_END_REJECTED);

	f->in.max_forwards = 70;
	f->in.ruri_user = "5559999999";   /* no route */
	incoming(f, offer_a);
	assert_int_equal(a_leg.last_status, 404);
	terminated(f, &a_leg, SIPUA_END_REJECTED);

	f->in.ruri_user = "5550001000";
	incoming(f, "v=0\r\ngarbage\r\n");
	assert_int_equal(a_leg.last_status, 488);
	assert_non_null(strstr(a_leg.headers, "Warning: 399 192.0.2.1 \""));
	terminated(f, &a_leg, SIPUA_END_REJECTED);
	media_closed(f);   /* the session had been created before the SDP was read */

	f->b->sip.max_calls = 1;
	incoming(f, offer_a);          /* takes the only slot */
	{
		struct sipua_leg a2 = {0};
		struct sipua_ev ev = {0};

		ev.type = SIPUA_EV_INCOMING;
		ev.leg = &a2;
		ev.in = &f->in;
		ev.sdp = offer_a;
		ev.sdp_len = strlen(offer_a);
		call_on_incoming(f->b, &ev);
		assert_int_equal(a2.last_status, 503);
		assert_non_null(strstr(a2.headers, "Retry-After: 5"));
		assert_int_equal(atomic_load(&f->b->c_overload), 1);
		terminated(f, &a2, SIPUA_END_REJECTED);
	}
	/* A cancels the first one while B is being called. */
	terminated(f, &a_leg, SIPUA_END_CANCEL);
	assert_true(b_leg.hung_up);
	terminated(f, &b_leg, SIPUA_END_REJECTED);
	media_closed(f);
	assert_int_equal(atomic_load(&f->b->c_no_route), 1);
	assert_int_equal(atomic_load(&f->b->c_bad_request), 2);   /* 483 and 488 */
}

static void test_hold_relay_and_rtp_timeout(void **state)
{
	static const char hold_a[] =
		"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";
	static const char held_b[] =
		"v=0\r\no=- 2 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";
	struct fx *f = *state;
	struct media_event me = {0};

	incoming(f, offer_a);
	leg_ev(f, &b_leg, SIPUA_EV_ANSWERED, 200, answer_b);
	/* A holds: the offer goes to B, B's answer back to A, the media learns it. */
	leg_ev(f, &a_leg, SIPUA_EV_OFFER, 0, hold_a);
	assert_int_equal(n_reoffers, 1);
	leg_ev(f, &b_leg, SIPUA_EV_OFFER_RESULT, 200, held_b);
	assert_int_equal(a_leg.answered, 200);
	assert_true(a_leg.has_sdp);
	assert_int_equal(last_params.side[MEDIA_SIDE_A].dir, MEDIA_DIR_SENDONLY);
	assert_int_equal(last_params.side[MEDIA_SIDE_B].dir, MEDIA_DIR_RECVONLY);
	/* A refresh (same o= version) is answered locally. */
	a_leg.answered = 0;
	leg_ev(f, &a_leg, SIPUA_EV_OFFER, 0, hold_a);
	assert_int_equal(a_leg.answered, 200);
	assert_int_equal(n_reoffers, 1);

	/* An offerless re-INVITE gets our SDP as the offer; its answer comes in the ACK. */
	a_leg.answered = 0;
	leg_ev(f, &a_leg, SIPUA_EV_OFFER, 0, NULL);
	assert_int_equal(a_leg.answered, 200);
	assert_true(a_leg.has_sdp);
	assert_int_equal(n_reoffers, 1);
	leg_ev(f, &a_leg, SIPUA_EV_ACK, 0, offer_a);   /* back to sendrecv */
	assert_int_equal(last_params.side[MEDIA_SIDE_A].dir, MEDIA_DIR_SENDRECV);

	me.type = MEDIA_EV_TIMEOUT;
	me.cookie = (uint64_t)(uintptr_t)f->b->calls;
	call_on_media_event(f->b, &me);
	assert_true(a_leg.hung_up);
	assert_true(b_leg.hung_up);
	assert_int_equal(atomic_load(&f->b->c_rtp_timeouts), 1);
	terminated(f, &a_leg, SIPUA_END_BYE_LOCAL);
	terminated(f, &b_leg, SIPUA_END_BYE_LOCAL);
	media_closed(f);
}

static void test_delayed_offer(void **state)
{
	struct fx *f = *state;
	struct call *c;

	incoming(f, NULL);                        /* INVITE without SDP */
	c = f->b->calls;
	assert_int_equal(n_invites, 1);           /* B gets trunx's own offer */
	assert_non_null(strstr(last_invite.sdp, "m=audio 30002 RTP/AVP 0 8 111 101"));
	leg_ev(f, &b_leg, SIPUA_EV_PROGRESS, 183, answer_b);
	assert_int_equal(a_leg.last_status, 183);
	assert_false(a_leg.has_sdp);              /* our offer waits for the 200 */
	leg_ev(f, &b_leg, SIPUA_EV_ANSWERED, 200, NULL);
	assert_int_equal(a_leg.last_status, 200);
	assert_true(a_leg.has_sdp);               /* the offer to A */
	assert_int_equal(c->state, CALL_ANSWERED);
	leg_ev(f, &a_leg, SIPUA_EV_ACK, 0, offer_a);   /* A answers in the ACK */
	assert_int_equal(ntohs(((struct sockaddr_in *)&last_params.side[MEDIA_SIDE_A].rtp)->sin_port),
			 4000);
	assert_int_equal(last_params.side[MEDIA_SIDE_A].pt_map[8], 8);
	terminated(f, &b_leg, SIPUA_END_BYE_REMOTE);
	assert_true(a_leg.hung_up);
	terminated(f, &a_leg, SIPUA_END_BYE_LOCAL);
	media_closed(f);

	/* An ACK without the answer ends the call. */
	memset(&a_leg, 0, sizeof(a_leg));
	memset(&b_leg, 0, sizeof(b_leg));
	incoming(f, NULL);
	leg_ev(f, &b_leg, SIPUA_EV_ANSWERED, 200, answer_b);
	leg_ev(f, &a_leg, SIPUA_EV_ACK, 0, NULL);
	assert_true(a_leg.hung_up);
	assert_true(b_leg.hung_up);
	terminated(f, &a_leg, SIPUA_END_BYE_LOCAL);
	terminated(f, &b_leg, SIPUA_END_BYE_LOCAL);
	media_closed(f);
}

/* The o= version of an SDP text (0 if none). */
static unsigned long long sdp_version(const char *sdp)
{
	const char *o = strstr(sdp, "o=");
	unsigned long long id = 0, ver = 0;

	if (o)
		(void)sscanf(o, "o=%*s %llu %llu", &id, &ver);
	return ver;
}

static const char hold_offer[] =
	"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	"m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";
static const char held_answer[] =
	"v=0\r\no=- 2 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";
static const char back_answer[] =
	"v=0\r\no=- 2 3 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

/* A cancels its hold before B answered: the re-INVITE to B is cancelled, nothing is
 * answered to A (the stack sent 487), the media stays as agreed before. */
static void test_reinvite_cancelled_before_answer(void **state)
{
	struct fx *f = *state;
	struct call *c;

	incoming(f, offer_a);
	leg_ev(f, &b_leg, SIPUA_EV_ANSWERED, 200, answer_b);
	c = f->b->calls;
	leg_ev(f, &a_leg, SIPUA_EV_OFFER, 0, hold_offer);
	assert_int_equal(n_reoffers, 1);
	a_leg.answered = 0;
	leg_ev(f, &a_leg, SIPUA_EV_OFFER_CANCELLED, 0, NULL);
	assert_int_equal(n_cancels, 1);
	leg_ev(f, &b_leg, SIPUA_EV_OFFER_RESULT, 487, NULL);
	assert_int_equal(a_leg.answered, 0);
	assert_false(c->offer_busy);
	assert_null(c->offer_undo);
	assert_int_equal(c->media.offer_from, -1);
	assert_int_equal(c->media.side[MEDIA_SIDE_A].dir, SDP_DIR_SENDRECV);
	/* The next offer is served normally. */
	leg_ev(f, &a_leg, SIPUA_EV_OFFER, 0, hold_offer);
	assert_int_equal(n_reoffers, 2);
	leg_ev(f, &b_leg, SIPUA_EV_OFFER_RESULT, 200, held_answer);
	assert_int_equal(a_leg.answered, 200);
	assert_int_equal(last_params.side[MEDIA_SIDE_B].dir, MEDIA_DIR_RECVONLY);
	terminated(f, &a_leg, SIPUA_END_BYE_REMOTE);
	terminated(f, &b_leg, SIPUA_END_BYE_LOCAL);
	media_closed(f);
}

/* A cancels, but B had already accepted the hold: B is offered back what it had, with
 * a newer o= version, and the media follows what both legs agree again. */
static void test_reinvite_cancelled_after_answer(void **state)
{
	struct fx *f = *state;
	struct call *c;
	unsigned long long v_hold;

	incoming(f, offer_a);
	leg_ev(f, &b_leg, SIPUA_EV_ANSWERED, 200, answer_b);
	c = f->b->calls;
	leg_ev(f, &a_leg, SIPUA_EV_OFFER, 0, hold_offer);
	v_hold = sdp_version(last_reoffer);
	assert_non_null(strstr(last_reoffer, "a=sendonly"));
	leg_ev(f, &a_leg, SIPUA_EV_OFFER_CANCELLED, 0, NULL);
	a_leg.answered = 0;
	leg_ev(f, &b_leg, SIPUA_EV_OFFER_RESULT, 200, held_answer);
	assert_int_equal(a_leg.answered, 0);
	assert_int_equal(n_reoffers, 2);           /* the rollback */
	assert_null(strstr(last_reoffer, "a=sendonly"));
	assert_true(sdp_version(last_reoffer) > v_hold);
	assert_true(c->rollback);
	/* Meanwhile a new offer from A waits (491). */
	leg_ev(f, &a_leg, SIPUA_EV_OFFER, 0, hold_offer);
	assert_int_equal(a_leg.answered, 491);
	leg_ev(f, &b_leg, SIPUA_EV_OFFER_RESULT, 200, back_answer);
	assert_false(c->rollback);
	assert_int_equal(last_params.side[MEDIA_SIDE_A].dir, MEDIA_DIR_SENDRECV);
	assert_int_equal(last_params.side[MEDIA_SIDE_B].dir, MEDIA_DIR_SENDRECV);
	terminated(f, &a_leg, SIPUA_END_BYE_REMOTE);
	terminated(f, &b_leg, SIPUA_END_BYE_LOCAL);
	media_closed(f);
}

/* B accepts an offer with an answer trunx cannot relay: A gets 488, B is restored. */
static void test_reinvite_unusable_answer_rolls_back(void **state)
{
	struct fx *f = *state;

	incoming(f, offer_a);
	leg_ev(f, &b_leg, SIPUA_EV_ANSWERED, 200, answer_b);
	leg_ev(f, &a_leg, SIPUA_EV_OFFER, 0, hold_offer);
	leg_ev(f, &b_leg, SIPUA_EV_OFFER_RESULT, 200,
	       "v=0\r\no=- 2 9 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	       "m=audio 6000 RTP/AVP 18\r\n");
	assert_int_equal(a_leg.answered, 488);
	assert_int_equal(n_reoffers, 2);
	leg_ev(f, &b_leg, SIPUA_EV_OFFER_RESULT, 200, back_answer);
	assert_int_equal(last_params.side[MEDIA_SIDE_A].dir, MEDIA_DIR_SENDRECV);
	terminated(f, &a_leg, SIPUA_END_BYE_REMOTE);
	terminated(f, &b_leg, SIPUA_END_BYE_LOCAL);
	media_closed(f);
}

/* B answers with a Contact the user agent refused: the call fails with 502. */
static void test_answer_bad_target(void **state)
{
	struct fx *f = *state;
	struct sipua_ev ev = {0};

	incoming(f, offer_a);
	ev.type = SIPUA_EV_ANSWERED;
	ev.leg = &b_leg;
	ev.status = 200;
	ev.sdp = answer_b;
	ev.sdp_len = strlen(answer_b);
	ev.bad_target = true;
	call_on_leg_event(f->b, f->b->calls, &ev);
	assert_int_equal(a_leg.last_status, 502);
	assert_true(b_leg.hung_up);
	terminated(f, &b_leg, SIPUA_END_BYE_LOCAL);
	terminated(f, &a_leg, SIPUA_END_REJECTED);
	media_closed(f);
}

/* Records handed to the data plane (hooks.cdr). */
static int n_records;
static char last_record[4096];

static void record_hook(char *json, void *arg)
{
	(void)arg;
	n_records++;
	snprintf(last_record, sizeof(last_record), "%s", json);
	free(json);
}

/* The SIP front asks the one limiter before the stack (b2b_front_admit): what it admits
 * is not counted again when its INVITE arrives, what it refuses makes the same record
 * and counters as a refusal through the stack, and what it cannot decide alone (483,
 * stopping) it leaves to the stack uncounted. */
static void test_front_admission(void **state)
{
	struct fx *f = *state;
	struct sipua_admit_req rq = {0};
	struct sipua_admit_answer ans;
	struct sipua_ev ev = {0};
	struct sipua_incoming in;

	n_records = 0;
	f->b->hooks.cdr = record_hook;
	f->b->sip.max_cps = 3;
	rq.src = (const struct sockaddr *)&f->in.src;
	rq.max_forwards = 70;
	for (int i = 0; i < 3; i++)
		assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_OK);
	memset(&ans, 0, sizeof(ans));
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_REFUSE);
	assert_int_equal(ans.retry_after, 5);
	/* The trunk's own policy: the Supported of its legs' first answer. */
	assert_int_equal(ans.policy.rel100, call_policy_of(f->in.peer).rel100);
	assert_int_equal(ans.policy.session_expires, call_policy_of(f->in.peer).session_expires);
	assert_int_equal(atomic_load(&f->b->c_overload), 0);   /* counted with its record */
	/* Not decided in front: Max-Forwards 0 (483 first), an unknown source, stopping. */
	rq.max_forwards = 0;
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_PASS);
	rq.max_forwards = -1;
	f->b->stopping = true;
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_PASS);
	f->b->stopping = false;

	/* One the front admitted arrives while the second is full: it is not refused. */
	f->in.admitted = true;
	incoming(f, offer_a);
	assert_int_equal(n_invites, 1);
	assert_int_equal(a_leg.n_responses, 0);
	/* One the front did not decide (TLS, say) meets the full second: 503. */
	f->in.admitted = false;
	fake_pending = 0;
	{
		struct sipua_leg a2 = {0};

		ev.type = SIPUA_EV_INCOMING;
		ev.leg = &a2;
		ev.in = &f->in;
		call_on_incoming(f->b, &ev);
		assert_int_equal(a2.last_status, 503);
		assert_int_equal(atomic_load(&f->b->c_overload), 1);
		terminated(f, &a2, SIPUA_END_REJECTED);
	}
	assert_int_equal(n_records, 1);

	/* A refusal made in front: one record, as the one above, and the counters. */
	in = f->in;
	in.call_id = "flood-1";
	in.at_ms = 1700000000000ull;
	memset(&ev, 0, sizeof(ev));
	ev.type = SIPUA_EV_REFUSED;
	ev.status = 503;
	ev.in = &in;
	{
		uint64_t failed = atomic_load(&f->b->c_failed), active = atomic_load(&f->b->c_active);

		call_on_refused(f->b, &ev);
		assert_int_equal(atomic_load(&f->b->c_overload), 2);
		assert_int_equal(atomic_load(&f->b->c_failed), failed + 1);
		assert_int_equal(atomic_load(&f->b->c_active), active);
	}
	assert_int_equal(n_records, 2);
	assert_non_null(strstr(last_record, "\"a_call_id\":\"flood-1\""));
	assert_non_null(strstr(last_record, "\"result\":\"rejected\""));
	assert_non_null(strstr(last_record, "\"sip_code\":503"));
	assert_non_null(strstr(last_record, "\"cause\":\"overload\""));
	assert_non_null(strstr(last_record, "\"trunk\":\"carrier\""));
	assert_non_null(strstr(last_record, "\"from\":\"5551230000\""));
	assert_non_null(strstr(last_record, "\"start\":\"2023-11-14T22:13:20.000Z\""));

	/* max_calls counts the calls there are and those admitted but not arrived yet. */
	f->b->sip.max_cps = 0;
	f->b->sip.max_calls = 2;   /* one call is up */
	rq.max_forwards = 70;
	fake_pending = 1;
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_REFUSE);
	fake_pending = 0;
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_OK);
	f->b->sip.max_calls = 1;
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_REFUSE);

	/* Through the stack too, the front's admissions in flight count toward max_calls. */
	f->b->sip.max_calls = 2;
	fake_pending = 1;
	{
		struct sipua_leg a3 = {0};

		memset(&ev, 0, sizeof(ev));
		ev.type = SIPUA_EV_INCOMING;
		ev.leg = &a3;
		ev.in = &f->in;
		call_on_incoming(f->b, &ev);
		assert_int_equal(a3.last_status, 503);
		terminated(f, &a3, SIPUA_END_REJECTED);
	}
	fake_pending = 0;
	n_records--;   /* that refusal's record */

	/* The admitted call ends as any other. */
	terminated(f, &a_leg, SIPUA_END_CANCEL);
	terminated(f, &b_leg, SIPUA_END_REJECTED);
	media_closed(f);
	assert_int_equal(n_records, 3);
	f->b->hooks.cdr = NULL;
}

/* A number the route step refuses whatever the trunks' state is answered by the front
 * as fail_call would (404, its Warning, the trunk's Supported), after the limits (its
 * second's max_cps is spent, as through the stack); its record is a no_route one, with
 * the number, not an overload. */
static void test_front_no_route(void **state)
{
	struct fx *f = *state;
	struct sipua_admit_req rq = {0};
	struct sipua_admit_answer ans;
	struct sipua_ev ev = {0};
	struct sipua_incoming in;
	uint64_t no_route = atomic_load(&f->b->c_no_route);

	n_records = 0;
	f->b->hooks.cdr = record_hook;
	rq.src = (const struct sockaddr *)&f->in.src;
	rq.max_forwards = 70;
	rq.from_user = "5551230000";
	rq.ruri_user = "5550001000";   /* routed */
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_OK);
	rq.ruri_user = "5559999999";   /* a number, not routed */
	memset(&ans, 0, sizeof(ans));
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_REFUSE);
	assert_int_equal(ans.status, 404);
	assert_int_equal(ans.retry_after, 0);
	assert_string_equal(ans.warning, "399 192.0.2.1 \"number not routed\"");
	assert_int_equal(ans.policy.rel100, call_policy_of(f->in.peer).rel100);
	rq.ruri_user = "voicemail";    /* not a number */
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_REFUSE);
	assert_int_equal(ans.status, 404);
	assert_string_equal(ans.warning, "399 192.0.2.1 \"not a telephone number\"");
	/* Over the limits the 503 comes first, whatever the number. */
	f->b->sip.max_cps = 3;
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_REFUSE);
	assert_int_equal(ans.status, 503);
	assert_null(ans.warning);
	assert_int_equal(ans.retry_after, 5);
	/* Unread fields (an older caller): the limits alone. */
	f->b->sip.max_cps = 100;
	rq.ruri_user = NULL;
	assert_int_equal(b2b_front_admit(&rq, &ans, f->b), SIPUA_ADMIT_OK);
	assert_int_equal(atomic_load(&f->b->c_no_route), no_route);   /* counted with records */

	in = f->in;
	in.call_id = "scan-1";
	in.ruri_user = "5559999999";
	in.at_ms = 1700000000000ull;
	ev.type = SIPUA_EV_REFUSED;
	ev.status = 404;
	ev.in = &in;
	{
		uint64_t overload = atomic_load(&f->b->c_overload);

		call_on_refused(f->b, &ev);
		assert_int_equal(atomic_load(&f->b->c_overload), overload);
	}
	assert_int_equal(atomic_load(&f->b->c_no_route), no_route + 1);
	assert_int_equal(n_records, 1);
	assert_non_null(strstr(last_record, "\"a_call_id\":\"scan-1\""));
	assert_non_null(strstr(last_record, "\"sip_code\":404"));
	assert_non_null(strstr(last_record, "\"cause\":\"no_route\""));
	assert_non_null(strstr(last_record, "number not routed"));
	assert_non_null(strstr(last_record, "+15559999999"));
	assert_non_null(strstr(last_record, "\"trunk\":\"carrier\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answered_call_bye_from_a, setup, teardown),
		cmocka_unit_test_setup_teardown(test_front_admission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_front_no_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dtmf_info_interworking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_relayed_and_unmapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_before_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_relay_and_rtp_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delayed_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reinvite_cancelled_before_answer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reinvite_cancelled_after_answer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reinvite_unusable_answer_rolls_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_answer_bad_target, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

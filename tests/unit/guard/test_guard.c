/* test_guard.c — the SIP front's pure guards: rate limiter, connection table, framer,
 * table of recent INVITE decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

/* ---- rate ---- */

static void test_rate_bucket(void **state)
{
	struct guard_rate *r;
	struct sockaddr_storage a = v4("127.0.0.5", 5060), a2 = v4("127.0.0.5", 9999);
	struct sockaddr_storage b = v4("127.0.0.6", 5060);
	int ok = 0;

	(void)state;
	assert_int_equal(guard_rate_create(&r, 64), 0);
	for (int i = 0; i < 1000; i++)
		assert_true(guard_rate_take(r, SA(a), 0));   /* off by default */
	guard_rate_set(r, 100, 20);
	for (int i = 0; i < 50; i++)
		ok += guard_rate_take(r, (const struct sockaddr *)(i % 2 ? &a : &a2), 1000);   /* the port is ignored */
	assert_int_equal(ok, 20);                                    /* the burst */
	assert_true(guard_rate_take(r, SA(b), 1000));                /* others unaffected */
	/* 100/s: 10 ms give one more, 1 s refills the burst but no more. */
	assert_false(guard_rate_take(r, SA(a), 1005));
	assert_true(guard_rate_take(r, SA(a), 1015));
	assert_false(guard_rate_take(r, SA(a), 1015));
	ok = 0;
	for (int i = 0; i < 50; i++)
		ok += guard_rate_take(r, SA(a), 5000);
	assert_int_equal(ok, 20);
	/* A sustained 1000/s offered for 2 s passes at 100/s (+ the burst). */
	ok = 0;
	for (int ms = 0; ms < 2000; ms++)
		ok += guard_rate_take(r, SA(b), 10000 + ms);
	assert_in_range(ok, 200, 221);
	guard_rate_set(r, 0, 0);
	assert_true(guard_rate_take(r, SA(a), 5000));
	guard_rate_destroy(r);
}

static void test_rate_many_sources_bounded(void **state)
{
	struct guard_rate *r;
	struct sockaddr_storage hot = v4("10.0.0.1", 1);
	int ok = 0;

	(void)state;
	assert_int_equal(guard_rate_create(&r, 256), 0);
	guard_rate_set(r, 10, 10);
	/* One hot source keeps its (empty) bucket while 100,000 forged ones pass by. */
	for (int i = 0; i < 10; i++)
		assert_true(guard_rate_take(r, SA(hot), 0));
	for (uint32_t i = 0; i < 100000; i++) {
		struct sockaddr_storage s = v4("11.0.0.0", 1);

		((struct sockaddr_in *)&s)->sin_addr.s_addr = htonl(0x0b000000u + i);
		ok += guard_rate_take(r, SA(s), 0);
		if (i % 10 == 0)   /* a flood: far more often than forged ones share its set */
			assert_false(guard_rate_take(r, SA(hot), 0));
	}
	assert_int_equal(ok, 100000);   /* each forged source is new: a full bucket */
	guard_rate_destroy(r);
}

/* ---- connections ---- */

static void test_conns_caps(void **state)
{
	struct guard_conns *t;
	struct sockaddr_storage a = v4("127.0.1.1", 1000), b = v4("127.0.1.2", 1000);
	struct guard_conn *c;
	unsigned pos = 0, n = 0;

	(void)state;
	assert_int_equal(guard_conns_create(&t, 8), 0);
	guard_conns_set_limits(t, 6, 3, 0);
	for (int fd = 10; fd < 13; fd++)
		assert_int_equal(guard_conns_add(t, fd, SA(a), false, 5, NULL), 0);
	assert_int_equal(guard_conns_add(t, 13, SA(a), false, 5, NULL), EMLINK);
	assert_int_equal(guard_conns_add(t, 12, SA(b), true, 5, NULL), EEXIST);
	for (int fd = 20; fd < 23; fd++)
		assert_int_equal(guard_conns_add(t, fd, SA(b), true, 6, &c), 0);
	assert_int_equal(c->fd, 22);
	assert_true(c->known);
	{
		struct sockaddr_storage x = v4("127.0.1.3", 1);

		assert_int_equal(guard_conns_add(t, 30, SA(x), true, 6, NULL), ENFILE);
	}
	assert_int_equal(guard_conns_count(t), 6);
	assert_int_equal(guard_conns_from(t, SA(a)), 3);
	guard_conns_remove(t, 11);
	guard_conns_remove(t, 11);   /* twice: harmless */
	assert_int_equal(guard_conns_from(t, SA(a)), 2);
	assert_null(guard_conns_get(t, 11));
	assert_non_null(guard_conns_get(t, 12));
	assert_int_equal(guard_conns_add(t, 11, SA(a), false, 7, NULL), 0);
	while ((c = guard_conns_next(t, &pos)) != NULL)
		n++;
	assert_int_equal(n, 6);
	guard_conns_destroy(t);
}

/* Strangers, each under its per-source cap, fill at most the total less the reserve;
 * a trunk still gets in, and a stranger leaving frees a stranger's slot. */
static void test_conns_reserve_for_known(void **state)
{
	struct guard_conns *t;
	struct sockaddr_storage trunk = v4("127.0.2.1", 5060);
	char ip[32];
	int fd = 100;

	(void)state;
	assert_int_equal(guard_conns_reserve(1), 0);
	assert_int_equal(guard_conns_reserve(2), 1);
	assert_int_equal(guard_conns_reserve(15), 1);
	assert_int_equal(guard_conns_reserve(64), 8);
	assert_int_equal(guard_conns_create(&t, 64), 0);
	guard_conns_set_limits(t, 64, 2, 0);
	for (int i = 0; i < 56; i++, fd++) {
		struct sockaddr_storage x;

		snprintf(ip, sizeof(ip), "127.0.3.%d", 1 + i / 2);
		x = v4(ip, 2000 + i);
		assert_int_equal(guard_conns_add(t, fd, SA(x), false, 1, NULL), 0);
	}
	{
		struct sockaddr_storage x = v4("127.0.4.1", 1);

		assert_int_equal(guard_conns_add(t, fd, SA(x), false, 1, NULL), ENFILE);
	}
	assert_int_equal(guard_conns_add(t, 500, SA(trunk), true, 1, NULL), 0);
	assert_int_equal(guard_conns_add(t, 501, SA(trunk), true, 1, NULL), 0);
	guard_conns_remove(t, 500);
	guard_conns_remove(t, 100);   /* a stranger leaves: one stranger may come */
	{
		struct sockaddr_storage x = v4("127.0.4.1", 1);

		assert_int_equal(guard_conns_add(t, 600, SA(x), false, 1, NULL), 0);
		assert_int_equal(guard_conns_add(t, 601, SA(x), false, 1, NULL), ENFILE);
	}
	assert_int_equal(guard_conns_count(t), 57);
	guard_conns_destroy(t);
}

/* A known source (a trunk: its TCP handshake proved the address) has its own cap,
 * by default the total: a load harness opening a connection per call from a trunk's
 * address is not held to a stranger's cap. */
static void test_conns_known_cap(void **state)
{
	struct guard_conns *t;
	struct sockaddr_storage trunk = v4("127.0.5.1", 5060), x = v4("127.0.5.2", 1);
	int fd = 10;

	(void)state;
	assert_int_equal(guard_conns_create(&t, 100), 0);
	guard_conns_set_limits(t, 100, 4, 0);
	for (; fd < 14; fd++)
		assert_int_equal(guard_conns_add(t, fd, SA(x), false, 1, NULL), 0);
	assert_int_equal(guard_conns_add(t, fd++, SA(x), false, 1, NULL), EMLINK);
	for (int i = 0; i < 96; i++, fd++)
		assert_int_equal(guard_conns_add(t, fd, SA(trunk), true, 1, NULL), 0);
	assert_int_equal(guard_conns_add(t, fd++, SA(trunk), true, 1, NULL), ENFILE);
	assert_int_equal(guard_conns_from(t, SA(trunk)), 96);
	guard_conns_set_limits(t, 100, 4, 96);
	guard_conns_remove(t, 20);
	assert_int_equal(guard_conns_add(t, fd++, SA(trunk), true, 1, NULL), 0);
	assert_int_equal(guard_conns_add(t, 10, SA(trunk), true, 1, NULL), EEXIST);
	guard_conns_remove(t, 10);   /* a stranger's slot frees: not past the trunk's cap */
	assert_int_equal(guard_conns_add(t, fd++, SA(trunk), true, 1, NULL), EMLINK);
	guard_conns_destroy(t);
}

/* Random adds and removes against a plain model: counts, lookups, per-source counts. */
/* An IPv6 source no trunk matches is held to tcp_max_per_source by its /64: a host
 * has a /64 of addresses to rotate through. Known sources keep their own address. */
static void test_conns_ipv6_per_64(void **state)
{
	struct guard_conns *t;
	struct sockaddr_storage a = v6("2001:db8:1:2::1", 5060), b = v6("2001:db8:1:2::2", 5061),
				c = v6("2001:db8:1:2:ffff::9", 5062), d = v6("2001:db8:1:3::1", 5060),
				k1 = v6("2001:db8:9:9::1", 5060), k2 = v6("2001:db8:9:9::2", 5060);

	(void)state;
	assert_int_equal(guard_conns_create(&t, 16), 0);
	guard_conns_set_limits(t, 16, 2, 1);
	assert_int_equal(guard_conns_add(t, 10, SA(a), false, 5, NULL), 0);
	assert_int_equal(guard_conns_add(t, 11, SA(b), false, 5, NULL), 0);
	assert_int_equal(guard_conns_add(t, 12, SA(c), false, 5, NULL), EMLINK);
	assert_int_equal(guard_conns_add(t, 13, SA(d), false, 5, NULL), 0);   /* next /64 */
	assert_int_equal(guard_conns_add(t, 14, SA(k1), true, 5, NULL), 0);
	assert_int_equal(guard_conns_add(t, 15, SA(k2), true, 5, NULL), 0);   /* own address */
	assert_int_equal(guard_conns_add(t, 16, SA(k1), true, 5, NULL), EMLINK);
	guard_conns_remove(t, 10);
	assert_int_equal(guard_conns_add(t, 12, SA(c), false, 5, NULL), 0);
	assert_int_equal(guard_conns_add(t, 17, SA(a), false, 5, NULL), EMLINK);
	guard_conns_remove(t, 11);
	guard_conns_remove(t, 12);
	guard_conns_remove(t, 13);
	assert_int_equal(guard_conns_add(t, 18, SA(a), false, 5, NULL), 0);
	assert_int_equal(guard_conns_add(t, 19, SA(b), false, 5, NULL), 0);
	assert_int_equal(guard_conns_count(t), 4);
	guard_conns_destroy(t);
}

static void test_conns_model(void **state)
{
	enum { CAP = 300, FDS = 1000, SRCS = 40 };
	struct guard_conns *t;
	int model_src[FDS];
	unsigned per_src[SRCS] = {0}, total = 0;

	(void)state;
	srand(7);
	memset(model_src, -1, sizeof(model_src));
	assert_int_equal(guard_conns_create(&t, CAP), 0);
	guard_conns_set_limits(t, CAP, 12, 20);
	for (int i = 0; i < 200000; i++) {
		int fd = rand() % FDS, s = rand() % SRCS;
		char ip[32];

		snprintf(ip, sizeof(ip), "127.2.0.%d", s + 1);
		struct sockaddr_storage a = v4(ip, 5000);

		if (model_src[fd] >= 0) {
			per_src[model_src[fd]]--;
			total--;
			model_src[fd] = -1;
			guard_conns_remove(t, fd);
			assert_null(guard_conns_get(t, fd));
		} else {
			int want = total >= CAP ? ENFILE : per_src[s] >= (s & 1 ? 20u : 12u) ? EMLINK : 0;

			assert_int_equal(guard_conns_add(t, fd, SA(a), s & 1, i, NULL), want);
			if (!want) {
				model_src[fd] = s;
				per_src[s]++;
				total++;
			}
		}
		if (i % 997 == 0) {
			assert_int_equal(guard_conns_count(t), total);
			for (int k = 0; k < SRCS; k++) {
				snprintf(ip, sizeof(ip), "127.2.0.%d", k + 1);
				struct sockaddr_storage b = v4(ip, 1);

				assert_int_equal(guard_conns_from(t, SA(b)), per_src[k]);
			}
			for (int f = 0; f < FDS; f++)
				assert_true((guard_conns_get(t, f) != NULL) == (model_src[f] >= 0));
		}
	}
	guard_conns_destroy(t);
}

/* ---- framing ---- */

struct admit_log {
	int  calls, requests, acks;
	bool keep_every_other;
	bool drop_acks;
};

static bool admit_alt(enum guard_msg kind, const char *msg, size_t avail, void *arg)
{
	struct admit_log *l = arg;

	assert_non_null(msg);
	assert_true(avail > 0);

	if (kind == GUARD_MSG_UNSURE)   /* kept, as trunx keeps a trunk's */
		return true;
	if (kind == GUARD_MSG_ACK) {   /* kept, as trunx keeps a dialog peer's */
		l->acks++;
		return !l->drop_acks;
	}
	l->calls++;
	l->requests += kind == GUARD_MSG_REQUEST;
	return !l->keep_every_other || (l->calls % 2) == 1;
}

#define OPT(n) "OPTIONS sip:x SIP/2.0\r\nCall-ID: " n "\r\nContent-Length: 0\r\n\r\n"
#define RSP "SIP/2.0 200 OK\r\nl: 5\r\n\r\nhello"
#define INV "INVITE sip:x SIP/2.0\nContent-Length :  4\n\nv=0\n"

/* Feeds `in` split at every position in turn (two iovecs, then per byte) and checks
 * the output is the same however it was split. */
static void frame_check_split(const char *in, bool drop_alt, const char *want, int requests,
			      bool per_byte)
{
	size_t len = strlen(in);
	char *buf = malloc(len + 1);

	for (size_t cut = 0; cut <= len; cut++) {
		struct guard_frame f = {0};
		struct admit_log l = {.keep_every_other = drop_alt};
		char *a = malloc(cut + 1), *b = malloc(len - cut + 1);
		struct iovec iov[2] = {{a, cut}, {b, len - cut}};
		size_t kept;

		memcpy(a, in, cut);
		memcpy(b, in + cut, len - cut);
		kept = guard_frame_filter(&f, iov, 2, len, admit_alt, &l);
		assert_int_equal(kept, strlen(want));
		/* The kept bytes are contiguous across the two iovecs. */
		memcpy(buf, a, kept < cut ? kept : cut);
		if (kept > cut)
			memcpy(buf + cut, b, kept - cut);
		buf[kept] = '\0';
		assert_string_equal(buf, want);
		assert_int_equal(l.requests, requests);
		free(a);
		free(b);
	}
	/* One byte per call, state carried over. */
	if (per_byte) {
		struct guard_frame f = {0};
		struct admit_log l = {.keep_every_other = drop_alt};
		size_t out = 0;

		for (size_t i = 0; i < len; i++) {
			char c = in[i];
			struct iovec iov = {&c, 1};

			if (guard_frame_filter(&f, &iov, 1, 1, admit_alt, &l))
				buf[out++] = c;
		}
		buf[out] = '\0';
		assert_string_equal(buf, want);
	}
	free(buf);
}

static void frame_check(const char *in, bool drop_alt, const char *want, int requests)
{
	frame_check_split(in, drop_alt, want, requests, true);
}

static void test_frame_keeps_all(void **state)
{
	(void)state;
	frame_check("\r\n\r\n" OPT("1") RSP "\r\n" INV OPT("2"), false,
		    "\r\n\r\n" OPT("1") RSP "\r\n" INV OPT("2"), 3);
}

/* Inside a message or between two, byte by byte: what the front's message timeout
 * (tcp_message_ms) watches. */
static void test_frame_within(void **state)
{
	const char *in = "\r\n" RSP "\r\n\r\n" INV;
	size_t n = strlen(in), rsp = strlen(RSP), end_rsp = 2 + rsp, inv = end_rsp + 4;
	struct guard_frame f = {0};

	(void)state;
	assert_false(guard_frame_within(NULL));
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		struct iovec iov = {.iov_base = &c, .iov_len = 1};

		(void)guard_frame_filter(&f, &iov, 1, 1, NULL, NULL);
		/* After byte i: inside the response from its first byte up to (not after)
		 * its last, then between, then inside the INVITE until its last byte. */
		if (i < 2 || (i >= end_rsp - 1 && i < inv) || i == n - 1)
			assert_false(guard_frame_within(&f));
		else
			assert_true(guard_frame_within(&f));
	}
	assert_int_equal(f.messages, 2);
}

/* A header over the limit, or a Content-Length over it, is oversize; a burst of small
 * messages whose total passes it is not; 0 is no limit. */
static void test_frame_oversize(void **state)
{
	char big[300];
	const char *small = "OPTIONS sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	const char *long_body = "INVITE sip:a SIP/2.0\r\nContent-Length: 5000\r\n\r\nv=0";
	struct guard_frame f = {0};
	struct iovec iov;

	(void)state;
	assert_false(guard_frame_oversize(NULL, 100));
	for (int i = 0; i < 10; i++) {
		iov = (struct iovec){.iov_base = (char *)small, .iov_len = strlen(small)};
		(void)guard_frame_filter(&f, &iov, 1, iov.iov_len, NULL, NULL);
		assert_false(guard_frame_oversize(&f, 100));
	}
	memcpy(big, "OPTIONS sip:a SIP/2.0\r\nX-Pad: ", 31);
	memset(big + 31, 'b', sizeof(big) - 31);
	iov = (struct iovec){.iov_base = big, .iov_len = sizeof(big)};
	(void)guard_frame_filter(&f, &iov, 1, iov.iov_len, NULL, NULL);
	assert_true(guard_frame_oversize(&f, 100));
	assert_false(guard_frame_oversize(&f, 400));
	assert_false(guard_frame_oversize(&f, 0));

	memset(&f, 0, sizeof(f));
	iov = (struct iovec){.iov_base = (char *)long_body, .iov_len = strlen(long_body)};
	(void)guard_frame_filter(&f, &iov, 1, iov.iov_len, NULL, NULL);
	assert_true(guard_frame_oversize(&f, 4096));
	assert_false(guard_frame_oversize(&f, 8192));
}

static void test_frame_drops_whole_messages(void **state)
{
	(void)state;
	/* Requests 1, 3 and 5 kept, 2 and 4 dropped (responses are never asked about). */
	frame_check(OPT("1") RSP INV OPT("2") OPT("3") "\r\n" OPT("4"), true,
		    OPT("1") RSP OPT("2") "\r\n" OPT("4"), 5);
	/* ACKs are asked about apart (this callback keeps them and does not count them):
	 * here requests 1 (OPTIONS) and 3 are kept, 2 dropped, while both ACKs go through
	 * (recognised when their first four bytes are at hand, so not fed a byte at a
	 * time). */
	frame_check_split(OPT("1") "ACK sip:x SIP/2.0\r\nl: 0\r\n\r\n" INV OPT("3")
		    "ACK sip:y SIP/2.0\r\n\r\n", true,
		    OPT("1") "ACK sip:x SIP/2.0\r\nl: 0\r\n\r\n" OPT("3")
		    "ACK sip:y SIP/2.0\r\n\r\n", 3, false);
	/* A body holding what looks like a message is body, not a message. */
	frame_check("MESSAGE sip:x SIP/2.0\r\nContent-Length: 24\r\n\r\nINVITE sip:y SIP/2.0\r\n\r\n"
		    OPT("9"), true, "MESSAGE sip:x SIP/2.0\r\nContent-Length: 24\r\n\r\n"
		    "INVITE sip:y SIP/2.0\r\n\r\n", 2);
}

/* An ACK the callback refuses goes whole, body and all; what follows is kept. */
static void test_frame_drops_acks(void **state)
{
	char in[] = "ACK sip:x SIP/2.0\r\nl: 3\r\n\r\nabc" OPT("1") "ACK sip:y SIP/2.0\r\n\r\n";
	char want[] = OPT("1");
	struct guard_frame f = {0};
	struct iovec iov = {in, sizeof(in) - 1};
	struct admit_log l = {.drop_acks = true};
	size_t kept;

	(void)state;
	kept = guard_frame_filter(&f, &iov, 1, sizeof(in) - 1, admit_alt, &l);
	assert_int_equal(kept, sizeof(want) - 1);
	assert_memory_equal(in, want, kept);
	assert_int_equal(l.acks, 2);
	assert_int_equal(l.requests, 1);
	assert_int_equal(f.messages, 3);
	assert_int_equal(f.dropped, 2);
}

static void test_frame_counts(void **state)
{
	struct guard_frame f = {0};
	char in[] = OPT("1") OPT("2") RSP;
	struct iovec iov = {in, sizeof(in) - 1};
	struct admit_log l = {.keep_every_other = true};

	(void)state;
	guard_frame_filter(&f, &iov, 1, sizeof(in) - 1, admit_alt, &l);
	assert_int_equal(f.messages, 3);
	assert_int_equal(f.dropped, 1);
	/* No admit callback: everything kept. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(guard_frame_filter(&f, &iov, 1, sizeof(in) - 1, NULL, NULL),
			 sizeof(in) - 1);
}

/* What guard_frame_filter_hold hands over: the dropped messages, ends marked '|'. */
struct held_log {
	struct admit_log l;
	char             out[512];
	size_t           n;
	bool             at_start;   /* the next byte begins a message */
};

static void held(const char *p, size_t n, bool end, void *arg)
{
	struct held_log *h = arg;

	assert_true(n > 0);
	if (h->at_start)
		assert_false(p[0] == '\r' || p[0] == '\n');   /* from the message's first byte */
	assert_true(h->n + n + 1 < sizeof(h->out));
	memcpy(h->out + h->n, p, n);
	h->n += n;
	h->at_start = end;
	if (end)
		h->out[h->n++] = '|';
	h->out[h->n] = '\0';
}

static bool held_admit(enum guard_msg kind, const char *msg, size_t avail, void *arg)
{
	return admit_alt(kind, msg, avail, &((struct held_log *)arg)->l);
}

/* The bytes of dropped messages are handed over whole, in order, however the input is
 * split across reads (two iovecs at every cut, then a byte per call, state carried);
 * the kept bytes are what guard_frame_filter keeps. */
static void test_frame_hold(void **state)
{
	const char in[] = OPT("1") RSP INV "\r\n" OPT("2") OPT("3") OPT("4");
	const char want_held[] = INV "|" OPT("3") "|";
	const char want_kept[] = OPT("1") RSP "\r\n" OPT("2") OPT("4");
	size_t len = sizeof(in) - 1;

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct guard_frame f = {0};
		struct held_log h = {.l = {.keep_every_other = true}, .at_start = true};
		char a[sizeof(in)], b[sizeof(in)];
		struct iovec iov[2] = {{a, cut}, {b, len - cut}};
		size_t kept;

		memcpy(a, in, cut);
		memcpy(b, in + cut, len - cut);
		kept = guard_frame_filter_hold(&f, iov, 2, len, held_admit, held, &h);
		assert_int_equal(kept, sizeof(want_kept) - 1);
		assert_string_equal(h.out, want_held);
	}
	{
		struct guard_frame f = {0};
		struct held_log h = {.l = {.keep_every_other = true}, .at_start = true};
		char kept[sizeof(in)];
		size_t k = 0;

		for (size_t i = 0; i < len; i++) {
			char c = in[i];
			struct iovec iov = {&c, 1};

			if (guard_frame_filter_hold(&f, &iov, 1, 1, held_admit, held, &h))
				kept[k++] = c;
		}
		kept[k] = '\0';
		assert_string_equal(h.out, want_held);
		assert_string_equal(kept, want_kept);
	}
}

/* ---- recent INVITE decisions ---- */

static void test_recent_states_and_expiry(void **state)
{
	struct guard_recent *t;
	uint32_t aux = 99;

	(void)state;
	assert_int_equal(guard_recent_create(&t, 0, 1000), EINVAL);
	assert_int_equal(guard_recent_create(&t, 100, 1000), 0);
	assert_int_equal(guard_recent_capacity(t), 128);
	assert_int_equal(guard_recent_get(t, 7, 0, &aux), GUARD_RECENT_NONE);
	assert_int_equal(aux, 0);
	assert_int_equal(guard_recent_put(t, 7, GUARD_RECENT_REFUSED, 0x30005, 0), GUARD_RECENT_NONE);
	assert_int_equal(guard_recent_put(t, 8, GUARD_RECENT_ADMITTED, 0, 10), GUARD_RECENT_NONE);
	assert_int_equal(guard_recent_put(t, 0, GUARD_RECENT_ADMITTED, 0, 10), GUARD_RECENT_NONE);
	assert_int_equal(guard_recent_get(t, 7, 500, &aux), GUARD_RECENT_REFUSED);
	assert_int_equal(aux, 0x30005);
	assert_int_equal(guard_recent_count(t, GUARD_RECENT_ADMITTED), 2);
	/* A claim happens once. */
	assert_true(guard_recent_change(t, 8, GUARD_RECENT_ADMITTED, GUARD_RECENT_CLAIMED, 20));
	assert_false(guard_recent_change(t, 8, GUARD_RECENT_ADMITTED, GUARD_RECENT_CLAIMED, 20));
	assert_false(guard_recent_change(t, 9, GUARD_RECENT_ADMITTED, GUARD_RECENT_CLAIMED, 20));
	assert_int_equal(guard_recent_count(t, GUARD_RECENT_ADMITTED), 1);
	assert_int_equal(guard_recent_count(t, GUARD_RECENT_CLAIMED), 1);
	/* Unclaimed admissions lapse after a while (key 0 is kept as a key too). */
	assert_int_equal(guard_recent_lapse(t, GUARD_RECENT_ADMITTED, GUARD_RECENT_CLAIMED, 500,
					    400), 0);
	assert_int_equal(guard_recent_lapse(t, GUARD_RECENT_ADMITTED, GUARD_RECENT_CLAIMED, 500,
					    600), 1);
	assert_int_equal(guard_recent_get(t, 0, 600, NULL), GUARD_RECENT_CLAIMED);
	assert_int_equal(guard_recent_count(t, GUARD_RECENT_ADMITTED), 0);
	/* Everything is forgotten after the ttl. */
	assert_int_equal(guard_recent_get(t, 7, 999, NULL), GUARD_RECENT_REFUSED);
	assert_int_equal(guard_recent_get(t, 7, 1000, NULL), GUARD_RECENT_NONE);
	assert_int_equal(guard_recent_lapse(t, GUARD_RECENT_CLAIMED, GUARD_RECENT_REFUSED, 0,
					    5000), 0);
	assert_int_equal(guard_recent_count(t, GUARD_RECENT_CLAIMED), 0);
	assert_int_equal(guard_recent_count(t, GUARD_RECENT_REFUSED), 0);
	guard_recent_destroy(t);
}

/* A flood of distinct keys: the table never grows, the newest decisions are kept, the
 * oldest give way (reported), and counts stay consistent. */
static void test_recent_full(void **state)
{
	struct guard_recent *t;
	size_t displaced = 0, admitted_lost = 0, kept = 0;
	const uint64_t n = 200000;

	(void)state;
	assert_int_equal(guard_recent_create(&t, 1024, 32000), 0);
	for (uint64_t k = 1; k <= n; k++) {
		enum guard_recent_state st = k % 2 ? GUARD_RECENT_REFUSED : GUARD_RECENT_ADMITTED;
		enum guard_recent_state d = guard_recent_put(t, k * 0x9e3779b97f4a7c15ull, st, 0, k / 100);

		displaced += d != GUARD_RECENT_NONE;
		admitted_lost += d == GUARD_RECENT_ADMITTED;
	}
	assert_int_equal(displaced, n - 1024);
	assert_int_equal(guard_recent_count(t, GUARD_RECENT_REFUSED) +
			 guard_recent_count(t, GUARD_RECENT_ADMITTED), 1024);
	assert_int_equal(guard_recent_count(t, GUARD_RECENT_ADMITTED), n / 2 - admitted_lost);
	/* The last few hundred are all there (the oldest of a set goes first). */
	for (uint64_t k = n - 255; k <= n; k++)
		kept += guard_recent_get(t, k * 0x9e3779b97f4a7c15ull, n / 100, NULL) !=
			GUARD_RECENT_NONE;
	assert_in_range(kept, 200, 256);
	assert_int_equal(guard_recent_get(t, 1 * 0x9e3779b97f4a7c15ull, n / 100, NULL),
			 GUARD_RECENT_NONE);
	guard_recent_destroy(t);
}

/* A whole message's length, as the framer frames it. */
static void test_frame_length(void **state)
{
	static const char two[] = "INVITE sip:a SIP/2.0\r\nl: 4\r\n\r\nbodyOPTIONS sip:b SIP/2.0\r\n\r\n";
	static const char cut[] = "INVITE sip:a SIP/2.0\r\nContent-Length: 10\r\n\r\nshort";

	(void)state;
	assert_int_equal(guard_frame_length(two, sizeof(two) - 1), 34);
	assert_int_equal(guard_frame_length(two, 33), 0);
	assert_int_equal(guard_frame_length(two + 34, sizeof(two) - 1 - 34), sizeof(two) - 1 - 34);
	assert_int_equal(guard_frame_length(cut, sizeof(cut) - 1), 0);
	assert_int_equal(guard_frame_length("\r\nX", 3), 0);
	assert_int_equal(guard_frame_length("", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_bucket),
		cmocka_unit_test(test_rate_many_sources_bounded),
		cmocka_unit_test(test_conns_caps),
		cmocka_unit_test(test_conns_reserve_for_known),
		cmocka_unit_test(test_conns_known_cap),
		cmocka_unit_test(test_conns_ipv6_per_64),
		cmocka_unit_test(test_conns_model),
		cmocka_unit_test(test_frame_keeps_all),
		cmocka_unit_test(test_frame_within),
		cmocka_unit_test(test_frame_oversize),
		cmocka_unit_test(test_frame_drops_whole_messages),
		cmocka_unit_test(test_frame_drops_acks),
		cmocka_unit_test(test_frame_counts),
		cmocka_unit_test(test_frame_hold),
		cmocka_unit_test(test_frame_length),
		cmocka_unit_test(test_recent_states_and_expiry),
		cmocka_unit_test(test_recent_full),
	};
	return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}

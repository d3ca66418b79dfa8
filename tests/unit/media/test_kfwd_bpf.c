/* test_kfwd_bpf.c — the tc program of in-kernel forwarding (media/kfwd/kfwd_tc.bpf)
 * run on mutated frames with BPF_PROG_TEST_RUN: what a fuzz target would be if
 * libFuzzer could drive BPF code.
 *
 * A fixed-seed generator builds frames that match a table entry exactly (IPv4, UDP,
 * RTP with the entry's SSRC and payload type, in sequence) and mutates them:
 * truncation, trailing bytes, IHL, IP options, fragments, IP/UDP lengths, version,
 * protocol, ports and addresses, MACs, VLAN tags and other EtherTypes, checksums,
 * the RTP header (version, PT, SSRC, CSRC count, extension, padding, sequence jumps),
 * bit flips and random bytes. An oracle written here independently of the program
 * (with the userspace relay's own RTP parser) says whether the frame is an exact
 * match; then:
 *   - a match is redirected (TC_ACT_REDIRECT), rewritten exactly as the userspace
 *     relay would (MACs from the neighbour for the routed entry, DSCP EF, TTL,
 *     addresses, ports, PT, sequence, timestamp, SSRC, nothing else), with a valid IP
 *     header checksum and a UDP checksum exactly as valid (or absent) as it came, and
 *     counted once in the entry;
 *   - anything else gets TC_ACT_UNSPEC, comes back byte for byte unchanged and is
 *     counted nowhere as forwarded;
 *   - no other verdict ever.
 * The table holds a local entry (party on this host), a routed one (fib lookup and a
 * permanent neighbour on a veth of a private network namespace) and a routed one
 * whose next hop has no neighbour entry (always left to userspace).
 * Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN for the namespace): skipped, and
 * said so, without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kfwd.h"
#include "rtp.h"

#define ITERATIONS 30000
#define SEED       0x6b667764u   /* fixed: a failure is reproducible */
#define TC_UNSPEC  (-1)
#define TC_REDIR   7
#define TOS_EF     0xb8
#define TTL_OUT    61            /* not the usual 64: the rewrite must be seen */

struct entry {
	struct kfwd_key key;
	struct kfwd_val val;
	bool            local, nexthop;   /* nexthop: a neighbour entry exists */
};

static struct entry tab[3];
static uint8_t dev_mac[6] = {0x02, 0x6b, 0x66, 0, 0, 1};    /* kfa: the "ingress" */
static uint8_t nbr_mac[6] = {0x02, 0x6b, 0x66, 0, 0, 2};    /* the routed party */
static unsigned dev_ifindex;
static uint64_t rng = SEED;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The IP header (ihl words, as far as the frame holds it) gets a valid checksum. */
static void ip_fix(uint8_t *f, size_t len)
{
	size_t hl = (size_t)(f[14] & 0x0f) * 4;

	if (len < 14 + 20 || hl < 20 || len < 14 + hl)
		return;
	put16(f + 24, 0);
	put16(f + 24, (uint16_t)~fold(sum16(f + 14, hl, 0)));
}

static bool ip_ok(const uint8_t *f)
{
	return fold(sum16(f + 14, 20, 0)) == 0xffff;
}

/* UDP checksum over the pseudo-header (20-byte IP header at f + 14). */
static uint32_t udp_sum(const uint8_t *f, uint16_t ulen)
{
	uint32_t s = sum16(f + 26, 8, 0) + 17 + ulen;

	return sum16(f + 34, ulen, s);
}

static void udp_fix(uint8_t *f, uint16_t ulen)
{
	uint16_t c;

	put16(f + 40, 0);
	c = (uint16_t)~fold(udp_sum(f, ulen));
	put16(f + 40, c ? c : 0xffff);
}

static bool udp_ok(const uint8_t *f, uint16_t ulen)
{
	return fold(udp_sum(f, ulen)) == 0xffff;
}

/* A frame matching entry e exactly: IPv4/UDP/RTP in sequence, random payload. */
static size_t build(uint8_t *f, const struct entry *e)
{
	size_t pl = rnd_below(200), rlen = 12 + pl, ulen = 8 + rlen, tot = 20 + ulen;
	uint16_t seq = (uint16_t)(e->val.max_seq + 1 + rnd_below(3));

	memcpy(f, dev_mac, 6);
	memcpy(f + 6, nbr_mac, 6);
	f[6 + 5] = 0x77;   /* from the party's MAC, to this host's: PACKET_HOST */
	put16(f + 12, 0x0800);
	f[14] = 0x45;
	f[15] = (uint8_t)(rnd() & 0xff);   /* any DSCP/ECN */
	put16(f + 16, (uint16_t)tot);
	put16(f + 18, (uint16_t)rnd());
	put16(f + 20, rnd() & 1 ? 0x4000 : 0);   /* DF or not */
	f[22] = (uint8_t)(1 + rnd_below(255));
	f[23] = 17;
	memcpy(f + 26, &e->key.src_ip, 4);
	memcpy(f + 30, &e->key.dst_ip, 4);
	memcpy(f + 34, &e->key.src_port, 2);
	memcpy(f + 36, &e->key.dst_port, 2);
	put16(f + 38, (uint16_t)ulen);
	f[42] = 0x80;
	f[43] = (uint8_t)((rnd() & 0x80) | e->val.pt_in);
	put16(f + 44, seq);
	rtp_put32(f + 46, rnd());
	rtp_put32(f + 50, e->val.ssrc_in);
	for (size_t i = 0; i < pl; i++)
		f[54 + i] = (uint8_t)rnd();
	ip_fix(f, 14 + tot);
	if (rnd_below(8))
		udp_fix(f, (uint16_t)ulen);
	else
		put16(f + 40, 0);   /* no UDP checksum (IPv4 allows it) */
	return 14 + tot;
}

/* One mutation of the frame in place; returns the new length. */
static size_t mutate(uint8_t *f, size_t len, size_t cap)
{
	uint16_t ulen;
	size_t n;

	switch (rnd_below(24)) {
	case 0:   /* truncated anywhere */
		return rnd_below((uint32_t)len);
	case 1:   /* trailing bytes (padding, garbage) */
		n = 1 + rnd_below(8);
		if (len + n > cap)
			return len;
		for (size_t i = 0; i < n; i++)
			f[len + i] = (uint8_t)rnd();
		return len + n;
	case 2:   /* any IHL */
		f[14] = (uint8_t)((f[14] & 0xf0) | rnd_below(16));
		return len;
	case 3:   /* IP options: the header grows, lengths kept consistent */
		n = 4 * (1 + rnd_below(10));
		if (len + n > cap || len < 34)
			return len;
		memmove(f + 34 + n, f + 34, len - 34);
		memset(f + 34, rnd_below(2) ? 1 : 0x94, n);   /* NOPs or router alert */
		f[14] = (uint8_t)(0x40 | (5 + n / 4));
		put16(f + 16, (uint16_t)(get16(f + 16) + n));
		ip_fix(f, len + n);
		return len + n;
	case 4:   /* a fragment: MF, an offset, or both */
		put16(f + 20, (uint16_t)((get16(f + 20) & 0x4000) |
					 (rnd_below(2) ? 0x2000 : 0) | rnd_below(0x2000)));
		return len;
	case 5:   /* the UDP length */
		ulen = get16(f + 38);
		put16(f + 38, rnd_below(2) ? (uint16_t)rnd() :
					    (uint16_t)(ulen + (int)rnd_below(41) - 20));
		return len;
	case 6:   /* the IP total length */
		put16(f + 16, rnd_below(2) ? (uint16_t)rnd() :
					     (uint16_t)(get16(f + 16) + (int)rnd_below(41) - 20));
		return len;
	case 7:   /* IP version */
		f[14] = (uint8_t)((rnd_below(16) << 4) | (f[14] & 0x0f));
		return len;
	case 8:   /* protocol */
		f[23] = (uint8_t)(rnd_below(2) ? 6 : rnd());
		return len;
	case 9:   /* a bit of the source or destination address or port */
		n = 26 + rnd_below(12);
		f[n] ^= (uint8_t)(1u << rnd_below(8));
		return len;
	case 10:  /* another host's MAC, broadcast or multicast */
		if (rnd_below(2))
			memset(f, 0xff, 6);
		else
			f[rnd_below(6)] ^= (uint8_t)(1u << rnd_below(8));
		return len;
	case 11:  /* a VLAN tag (802.1Q or QinQ) in front of the IPv4 header */
		if (len + 4 > cap || len < 14)
			return len;
		memmove(f + 16, f + 12, len - 12);
		put16(f + 12, rnd_below(2) ? 0x8100 : 0x88a8);
		put16(f + 14, (uint16_t)rnd_below(4096));
		return len + 4;
	case 12:  /* another EtherType */
		put16(f + 12, rnd_below(2) ? 0x86dd : (uint16_t)rnd());
		return len;
	case 13:  /* the IP header checksum */
		f[24 + rnd_below(2)] ^= (uint8_t)(1 + rnd_below(255));
		return len;
	case 14:  /* the UDP checksum (left to the receiver: forwarded as it is) */
		f[40 + rnd_below(2)] ^= (uint8_t)(1 + rnd_below(255));
		return len;
	case 15:  /* RTP version */
		f[42] = (uint8_t)((rnd_below(4) << 6) | (f[42] & 0x3f));
		return len;
	case 16:  /* payload type */
		f[43] = (uint8_t)((f[43] & 0x80) | rnd_below(128));
		return len;
	case 17:  /* SSRC */
		f[50 + rnd_below(4)] ^= (uint8_t)(1 + rnd_below(255));
		return len;
	case 18:  /* CSRC count */
		f[42] = (uint8_t)((f[42] & 0xf0) | rnd_below(16));
		return len;
	case 19:  /* header extension bit, with its length word made random */
		f[42] |= 0x10;
		if (len >= 58 + 4 * (size_t)(f[42] & 0x0f))
			put16(f + 56 + 4 * (f[42] & 0x0f), (uint16_t)rnd_below(80));
		return len;
	case 20:  /* padding bit, last byte random */
		f[42] |= 0x20;
		if (len > 54)
			f[len - 1] = (uint8_t)rnd_below(rnd_below(2) ? 256 : 16);
		return len;
	case 21:  /* sequence jump */
		put16(f + 44, (uint16_t)rnd());
		return len;
	case 22:  /* flipped bits anywhere */
		for (unsigned i = 1 + rnd_below(4); i && len; i--)
			f[rnd_below((uint32_t)len)] ^= (uint8_t)(1u << rnd_below(8));
		return len;
	default:  /* random bytes, of any length */
		n = rnd_below((uint32_t)cap);
		for (size_t i = 0; i < n; i++)
			f[i] = (uint8_t)rnd();
		if (rnd_below(2) && n >= 14)
			put16(f + 12, 0x0800);
		return n;
	}
}

/* The oracle: the entry this frame is an exact match of (forwarded if the entry's
 * next hop is known), or NULL. */
static const struct entry *exact_match(const uint8_t *f, size_t len)
{
	struct kfwd_key k;
	struct rtp_hdr h;
	uint16_t tot, ulen, udelta;

	if (len < 14 + 20 + 8 + 12 || memcmp(f, dev_mac, 6) || get16(f + 12) != 0x0800 ||
	    f[14] != 0x45 || f[23] != 17 || (get16(f + 20) & 0x3fff) || !ip_ok(f))
		return NULL;
	tot = get16(f + 16);
	ulen = get16(f + 38);
	if (len != 14u + tot || ulen != tot - 20u || ulen < 8 + 12)
		return NULL;
	memset(&k, 0, sizeof(k));
	memcpy(&k.src_ip, f + 26, 4);
	memcpy(&k.dst_ip, f + 30, 4);
	memcpy(&k.src_port, f + 34, 2);
	memcpy(&k.dst_port, f + 36, 2);
	for (unsigned i = 0; i < 3; i++) {
		const struct entry *e = &tab[i];

		if (memcmp(&k, &e->key, sizeof(k)))
			continue;
		if (rtp_hdr_parse(&h, f + 42, ulen - 8u) || h.pt != e->val.pt_in ||
		    h.ssrc != e->val.ssrc_in)
			return NULL;
		udelta = (uint16_t)(h.seq - e->val.max_seq);
		if (udelta >= 3000 && udelta <= 65536 - 100)
			return NULL;   /* a jump: userspace resynchronises */
		return e;
	}
	return NULL;
}

/* What the relay sends for a match (checksums checked separately). */
static void expected(uint8_t *x, const uint8_t *f, size_t len, const struct entry *e)
{
	const struct kfwd_val *v = &e->val;

	memcpy(x, f, len);
	if (!e->local) {
		memcpy(x, nbr_mac, 6);
		memcpy(x + 6, dev_mac, 6);
	}
	x[15] = (uint8_t)((f[15] & 3) | TOS_EF);
	x[22] = v->ttl;
	memcpy(x + 26, &v->new_src_ip, 4);
	memcpy(x + 30, &v->new_dst_ip, 4);
	memcpy(x + 34, &v->new_src_port, 2);
	memcpy(x + 36, &v->new_dst_port, 2);
	x[43] = (uint8_t)((f[43] & 0x80) | v->pt_out);
	put16(x + 44, (uint16_t)(get16(f + 44) + v->seq_off));
	rtp_put32(x + 46, rtp_get32(f + 46) + v->ts_off);
	rtp_put32(x + 50, v->ssrc_out);
}

static void entry(struct entry *e, const char *src, uint16_t sport, uint16_t dport,
		  const char *to, bool local, bool nexthop, uint8_t pt)
{
	memset(e, 0, sizeof(*e));
	inet_pton(AF_INET, src, &e->key.src_ip);
	inet_pton(AF_INET, "10.77.0.1", &e->key.dst_ip);
	e->key.src_port = htons(sport);
	e->key.dst_port = htons(dport);
	inet_pton(AF_INET, "10.77.0.1", &e->val.new_src_ip);
	inet_pton(AF_INET, to, &e->val.new_dst_ip);
	e->val.new_src_port = htons((uint16_t)(dport + 2));
	e->val.new_dst_port = htons(40000);
	e->val.ssrc_in = 0x5eed0000u + pt;
	e->val.ssrc_out = 0x7a0000aau + pt;
	e->val.ts_off = 0x80000123u;
	e->val.seq_off = (uint16_t)(40000 + pt);
	e->val.pt_in = pt;
	e->val.pt_out = (uint8_t)(pt == 0 ? 0 : pt + 1);
	e->val.clock_hz = 8000;
	e->val.local = local;
	e->val.ttl = TTL_OUT;
	e->val.max_seq = (uint16_t)(65500 + pt);   /* the sequence wraps in the kernel */
	e->local = local;
	e->nexthop = nexthop;
}

/* A private network namespace with a veth (kfa 10.77.0.1/24 <-> kfb) and a
 * permanent neighbour 10.77.0.2 (nbr_mac); 10.77.0.3 has none. */
static int netns_setup(const char **why)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip link add kfa address 02:6b:66:00:00:01 type veth peer name kfb",
		"ip addr add 10.77.0.1/24 dev kfa",
		"ip link set kfa up",
		"ip link set kfb up",
		"sysctl -qw net.ipv4.conf.kfa.forwarding=1",   /* bpf_fib_lookup() needs it */
		"ip neigh replace 10.77.0.2 lladdr 02:6b:66:00:00:02 dev kfa nud permanent",
	};

	if (unshare(CLONE_NEWNET) < 0) {
		*why = "no network namespace (unshare)";
		return errno;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1", cmds[i]);
		if (system(cmd) != 0) {
			*why = cmds[i];
			return EIO;
		}
	}
	dev_ifindex = if_nametoindex("kfa");
	if (!dev_ifindex) {
		*why = "kfa has no index";
		return ENODEV;
	}
	return 0;
}

static int run(struct kfwd *k, const uint8_t *f, size_t len, uint8_t *out, size_t *olen,
	       int *verdict)
{
	*olen = 4096;
	return kfwd_test_run(k, dev_ifindex, f, len, out, olen, verdict);
}

static void test_mutations(void **state)
{
	static uint8_t f[2048], orig[2048], out[4096], x[2048];
	unsigned counts[4] = {0};   /* unchanged, forwarded local, routed, no neighbour */
	unsigned refused = 0;
	struct kfwd *k;
	const char *why = "";
	int err;

	(void)state;
	if (geteuid() != 0) {
		printf("# kfwd BPF mutation test: SKIPPED (not root: no CAP_BPF/CAP_NET_ADMIN)\n");
		skip();
	}
	err = netns_setup(&why);
	if (err) {
		printf("# kfwd BPF mutation test: SKIPPED (%s: %s)\n", why, strerror(err));
		skip();
	}
	err = kfwd_open_detached(&k, false, &why);
	if (err == ENOTSUP) {
		printf("# kfwd BPF mutation test: SKIPPED (%s)\n", why);
		skip();
	}
	assert_int_equal(err, 0);
	entry(&tab[0], "10.77.0.9", 30000, 20000, "10.77.0.1", true, true, 0);
	entry(&tab[1], "10.77.0.2", 30002, 20002, "10.77.0.2", false, true, 8);
	entry(&tab[2], "10.77.0.2", 30004, 20004, "10.77.0.3", false, false, 96);

	for (unsigned it = 0; it < ITERATIONS; it++) {
		const struct entry *base = &tab[rnd_below(3)], *m;
		size_t len = build(f, base), olen;
		struct kfwd_val after;
		int verdict;

		for (unsigned nm = it % 5 ? 1 + rnd_below(2) : 0; nm; nm--)
			len = mutate(f, len, sizeof(f) - 8);
		if (rnd_below(4))   /* mostly a valid header checksum: reach the checks after */
			ip_fix(f, len);
		memcpy(orig, f, len);
		for (unsigned i = 0; i < 3; i++)   /* fresh state: the oracle's window */
			assert_int_equal(kfwd_put(k, &tab[i].key, &tab[i].val), 0);
		if (len < 14) {   /* no such frame reaches tc (nor BPF_PROG_TEST_RUN) */
			counts[0]++;
			continue;
		}
		err = run(k, f, len, out, &olen, &verdict);
		if (err == EINVAL && len < 14 + 20 + 8) {
			/* Recent kernels' BPF_PROG_TEST_RUN refuses some frames too short for
			 * the headers their EtherType names: no program could match them. */
			refused++;
			continue;
		}
		if (err)
			fail_msg("iteration %u: BPF_PROG_TEST_RUN on %zu bytes: %s", it, len,
				 strerror(err));
		m = exact_match(orig, len);
		if (m && !m->nexthop) {
			counts[3]++;   /* no neighbour: userspace sends it (and resolves it) */
			m = NULL;
		} else if (!m) {
			counts[0]++;
		}
		if (!m) {
			if (verdict != TC_UNSPEC || olen != len || memcmp(out, orig, len))
				fail_msg("iteration %u: a frame that matches no entry (%zu bytes) got "
					 "verdict %d, %zu bytes back%s", it, len, verdict, olen,
					 olen == len && memcmp(out, orig, len) ? ", altered" : "");
			for (unsigned i = 0; i < 3; i++) {
				assert_int_equal(kfwd_get(k, &tab[i].key, &after), 0);
				if (after.packets)
					fail_msg("iteration %u: counted as forwarded", it);
			}
			continue;
		}
		if (verdict != TC_REDIR || olen != len)
			fail_msg("iteration %u: an exact match (entry %td) got verdict %d, %zu of %zu "
				 "bytes", it, m - tab, verdict, olen, len);
		expected(x, orig, len, m);
		for (size_t i = 0; i < len; i++) {
			if (i == 24 || i == 25 || i == 40 || i == 41)
				continue;   /* checksums: below */
			if (out[i] != x[i])
				fail_msg("iteration %u: byte %zu is %#x, the relay sends %#x", it, i,
					 out[i], x[i]);
		}
		assert_true(ip_ok(out));
		if (get16(orig + 40) == 0)
			assert_int_equal(get16(out + 40), 0);
		else
			assert_int_equal(udp_ok(out, get16(out + 38)), udp_ok(orig, get16(orig + 38)));
		assert_int_equal(kfwd_get(k, &m->key, &after), 0);
		assert_int_equal(after.packets, 1);
		assert_int_equal(after.bytes, get16(orig + 38) - 8u);
		counts[m->local ? 1 : 2]++;
	}
	printf("# kfwd BPF mutation test: %u frames (seed %#x): %u forwarded to a local "
	       "party, %u routed, %u left to the stack unchanged, %u exact matches left to "
	       "it for want of a neighbour entry, %u too short for BPF_PROG_TEST_RUN\n",
	       ITERATIONS, SEED, counts[1], counts[2], counts[0], counts[3], refused);
	/* The generator must reach both forwarding paths often, or the test proves little. */
	assert_true(counts[1] > ITERATIONS / 20);
	assert_true(counts[2] > ITERATIONS / 20);
	assert_true(counts[0] > ITERATIONS / 3);
	assert_true(counts[3] > ITERATIONS / 40);
	kfwd_destroy(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests_name("kfwd_bpf", tests, NULL, NULL);
}

/*
 * rtp_relay_bench.c — load driver for tools/bench/rtp-relay: relays N streams of
 * 172-byte PCMU packets at 50 packets/s through an in-process media engine on
 * 127.0.0.1 and prints one JSON line with throughput, loss, latency percentiles and
 * the CPU the engine's worker threads used.
 *
 * Streams come in pairs: session s carries stream 2s (A -> B) and 2s+1 (B -> A).
 * One sender thread paces every packet on a uniform schedule (20 ms / N apart) and
 * stamps the send time into the payload; one receiver thread reads both remote
 * sockets and records the one-way latency in a 10 us histogram. Only packets due in
 * the measured window (after the warm-up) count. --direct bypasses the engine (the
 * sender aims at the receiving sockets) to measure the harness's own floor.
 *
 * --max-delay MS turns the engine's bounded delay on (kernel receive timestamps on
 * every socket, each packet's age checked): its workers' CPU next to a run without it
 * is what the timestamping costs per packet.
 *
 * --srtp 80|32 makes side A of every session SDES-SRTP with that suite (side B stays
 * plain RTP): party A protects what it sends and unprotects what it receives, and
 * the engine unprotects A -> B and protects B -> A, so its workers' CPU next to a
 * plain run is what RTP <-> SRTP bridging costs per packet.
 *
 * CPU is read from /proc/self/task/TID/schedstat (time on CPU, ns), which is reliable
 * in VMs where /proc/stat is not; engine threads are the ones named media-w*.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "media.h"
#include "msrtp.h"
#include "rtp.h"

#define PKT_LEN    172          /* 12 header + 160 PCMU */
#define PTIME_NS   20000000ull  /* 20 ms */
#define HIST_US    10           /* histogram bucket width */
#define HIST_N     100000       /* up to 1 s */
#define BATCH      64

struct bench {
	unsigned              streams, sessions, workers;
	unsigned              max_delay_ms;  /* the engine's bounded delay, 0 = off */
	double                seconds, warmup;
	bool                  direct;
	enum media_srtp_suite suite;         /* side A's SRTP, or NONE */
	uint8_t               key_a[MEDIA_SRTP_KEY_LEN];  /* party A's key */
	uint8_t               key_t[MEDIA_SRTP_KEY_LEN];  /* the engine's, toward A */
	struct msrtp         *srtp_tx;      /* party A sending (sender thread) */
	struct msrtp         *srtp_rx;      /* party A receiving (receiver thread) */
	uint64_t              srtp_fail;
	struct media_engine  *me;
	struct media_session **sess;
	int                   sock[2];       /* remote party A, remote party B */
	struct sockaddr_in    addr[2];
	uint16_t             *port;          /* per stream: engine port it is sent to */
	uint64_t              t0, t_meas, t_end;   /* ns, CLOCK_MONOTONIC */
	atomic_bool           stop_rx;
	bool                  rx_rt;         /* receiver got real-time priority */
	uint64_t              g;             /* next packet of the schedule */
	uint64_t              sent_meas;     /* measured packets sent */
	/* receiver */
	uint64_t              recv_meas, recv_total, bad;
	uint64_t             *hist;
	uint64_t              lat_max_us;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put64(uint8_t *p, uint64_t v)
{
	rtp_put32(p, (uint32_t)(v >> 32));
	rtp_put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)rtp_get32(p) << 32 | rtp_get32(p + 4);
}

static int open_sock(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int big = 16 << 20;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* Force a large buffer when allowed, so loss is the engine's, not ours. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)a, &len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- sender ------------------------------------------------------------------------ */

struct txq {
	struct mmsghdr     msg[BATCH];
	struct iovec       iov[BATCH];
	struct sockaddr_in dst[BATCH];
	uint8_t            buf[BATCH][PKT_LEN + MSRTP_TRAILER];
	unsigned           n;
};

static void tx_flush(struct bench *b, struct txq *q, int side)
{
	unsigned done = 0;
	uint64_t t = now_ns();

	for (unsigned i = 0; i < q->n; i++) {
		put64(q->buf[i] + 12 + 8, t);
		if (side == 0 && b->srtp_tx) {
			size_t len = PKT_LEN;

			if (msrtp_protect(b->srtp_tx, false, q->buf[i], &len, sizeof(q->buf[i])))
				b->srtp_fail++;
			q->iov[i].iov_len = len;
		}
	}
	while (done < q->n) {
		int r = sendmmsg(b->sock[side], q->msg + done, q->n - done, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			done++;   /* counted as lost by the receiver */
			continue;
		}
		done += (unsigned)r;
	}
	q->n = 0;
}

static void tx_add(struct bench *b, struct txq *q, int side, unsigned stream, uint32_t k,
		   bool measured)
{
	uint8_t *p = q->buf[q->n];
	struct rtp_hdr h = {.pt = 0, .seq = (uint16_t)k, .ts = 160u * k, .ssrc = stream + 1};
	size_t n;

	(void)rtp_hdr_build(p, PKT_LEN, &h, &n);
	memset(p + 12, 0xff, PKT_LEN - 12);
	rtp_put32(p + 12, stream);
	rtp_put32(p + 16, measured ? 1 : 0);
	q->dst[q->n] = b->addr[side];   /* family, address */
	q->dst[q->n].sin_port = htons(b->port[stream]);
	q->iov[q->n].iov_base = p;
	q->iov[q->n].iov_len = PKT_LEN;
	q->msg[q->n].msg_hdr = (struct msghdr){.msg_name = &q->dst[q->n],
					       .msg_namelen = sizeof(q->dst[q->n]),
					       .msg_iov = &q->iov[q->n], .msg_iovlen = 1};
	if (++q->n == BATCH)
		tx_flush(b, q, side);
}

/* Sends the schedule's packets due before until, pacing on a 1 ms tick. */
static void send_until(struct bench *b, uint64_t until)
{
	static struct txq q[2];
	uint64_t gap = PTIME_NS / b->streams;
	struct timespec ts;

	for (;;) {
		uint64_t now = now_ns(), due;

		while ((due = b->t0 + b->g * gap) <= now) {
			unsigned stream = (unsigned)(b->g % b->streams);
			uint32_t k = (uint32_t)(b->g / b->streams);
			int side = stream & 1;   /* even: A -> B, sent by party A */
			bool measured = due >= b->t_meas && due < b->t_end;

			if (due >= until)
				goto out;
			tx_add(b, &q[side], side, stream, k, measured);
			b->sent_meas += measured;
			b->g++;
		}
		for (int s = 0; s < 2; s++)
			if (q[s].n)
				tx_flush(b, &q[s], s);
		/* Sleep until the next 1 ms tick (or the next packet, if later). */
		due = b->t0 + b->g * gap;
		if (due >= until)
			break;
		if (due < now + 1000000)
			due = now + 1000000;
		ts.tv_sec = (time_t)(due / 1000000000ull);
		ts.tv_nsec = (long)(due % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
out:
	for (int s = 0; s < 2; s++)
		if (q[s].n)
			tx_flush(b, &q[s], s);
}

/* ---- receiver ---------------------------------------------------------------------- */

static void *recv_main(void *arg)
{
	struct bench *b = arg;
	static struct mmsghdr msg[BATCH];
	static struct iovec iov[BATCH];
	static uint8_t buf[BATCH][2048];
	struct pollfd pf[2] = {{.fd = b->sock[0], .events = POLLIN},
			       {.fd = b->sock[1], .events = POLLIN}};

	pthread_setname_np(pthread_self(), "bench-rx");
	/* The receiver must not queue packets itself when the CPUs are busy, or its own
	 * lag would count as the engine's latency: run it at real-time priority when
	 * allowed (it sleeps in poll() whenever it is idle). */
	{
		struct sched_param sp = {.sched_priority = 1};

		b->rx_rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load(&b->stop_rx)) {
		if (poll(pf, 2, 50) <= 0)
			continue;
		for (int s = 0; s < 2; s++) {
			int n;

			if (!(pf[s].revents & POLLIN))
				continue;
			n = recvmmsg(b->sock[s], msg, BATCH, MSG_DONTWAIT, NULL);
			if (n <= 0)
				continue;
			uint64_t t = now_ns();

			for (int i = 0; i < n; i++) {
				uint64_t lat_us;

				b->recv_total++;
				if (s == 0 && b->srtp_rx) {
					size_t len = msg[i].msg_len;

					if (msrtp_unprotect(b->srtp_rx, false, buf[i], &len) != MSRTP_OK) {
						b->bad++;
						continue;
					}
					msg[i].msg_len = (unsigned)len;
				}
				if (msg[i].msg_len != PKT_LEN) {
					b->bad++;
					continue;
				}
				if (!rtp_get32(buf[i] + 16))
					continue;   /* warm-up packet */
				b->recv_meas++;
				lat_us = (t - get64(buf[i] + 20)) / 1000;
				if (lat_us > b->lat_max_us)
					b->lat_max_us = lat_us;
				b->hist[lat_us / HIST_US < HIST_N ? lat_us / HIST_US : HIST_N - 1]++;
			}
		}
	}
	return NULL;
}

static uint64_t percentile_us(const struct bench *b, double p)
{
	uint64_t want = (uint64_t)(p * (double)b->recv_meas), acc = 0;

	if (!b->recv_meas)
		return 0;
	if (want >= b->recv_meas)
		want = b->recv_meas - 1;
	for (unsigned i = 0; i < HIST_N; i++) {
		acc += b->hist[i];
		if (acc > want)
			return (uint64_t)i * HIST_US + HIST_US / 2;
	}
	return (uint64_t)HIST_N * HIST_US;
}

/* ---- CPU and kernel counters ------------------------------------------------------- */

/* Sum of on-CPU ns of this process's threads whose name starts with prefix. */
static uint64_t cpu_ns(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	uint64_t sum = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[320], name[32] = "";
		unsigned long long ns = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = '\0';
		fclose(f);
		if (strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static uint64_t udp_rcvbuf_errors(void)
{
	FILE *f = fopen("/proc/net/snmp", "r");
	char head[1024], vals[1024];
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
		char *hs, *vs, *h, *x;
		int col = 0, want = -1;

		if (strncmp(head, "Udp:", 4) != 0)
			continue;
		for (h = strtok_r(head, " \n", &hs); h; h = strtok_r(NULL, " \n", &hs), col++)
			if (strcmp(h, "RcvbufErrors") == 0)
				want = col;
		col = 0;
		for (x = strtok_r(vals, " \n", &vs); x; x = strtok_r(NULL, " \n", &vs), col++)
			if (col == want)
				v = strtoull(x, NULL, 10);
		break;
	}
	fclose(f);
	return v;
}

/* ---- set-up ------------------------------------------------------------------------ */

static int setup_engine(struct bench *b)
{
	struct media_engine_cfg cfg = {.workers = b->workers, .max_delay_ms = b->max_delay_ms};
	uint16_t r = 0;
	int err;

	strcpy(cfg.bind_addr, "127.0.0.1");
	(void)getrandom(&r, sizeof(r), 0);
	/* Ports below the kernel's ephemeral range, with slack for busy ones. */
	cfg.port_min = (uint16_t)(20000 + 2 * (r % 500));
	cfg.port_max = (uint16_t)(cfg.port_min + 4 * b->sessions + 1999);
	if (cfg.port_max > 32767 || cfg.port_max < cfg.port_min) {
		fprintf(stderr, "too many streams for the port range\n");
		return EINVAL;
	}
	err = media_engine_create(&b->me, &cfg, NULL, NULL);
	if (err)
		return err;
	for (unsigned s = 0; s < b->sessions; s++) {
		struct media_session_params p;

		err = media_session_create(b->me, s, &b->sess[s]);
		if (err) {
			fprintf(stderr, "session %u: %s\n", s, strerror(err));
			return err;
		}
		memset(&p, 0, sizeof(p));
		for (int i = 0; i < 2; i++) {
			memcpy(&p.side[i].rtp, &b->addr[i], sizeof(b->addr[i]));
			p.side[i].dir = MEDIA_DIR_SENDRECV;
			memset(p.side[i].pt_map, MEDIA_PT_NONE, sizeof(p.side[i].pt_map));
			p.side[i].pt_map[0] = 0;
		}
		p.side[0].srtp.suite = b->suite;
		memcpy(p.side[0].srtp.rx_key, b->key_a, sizeof(b->key_a));
		memcpy(p.side[0].srtp.tx_key, b->key_t, sizeof(b->key_t));
		while ((err = media_session_update(b->sess[s], &p)) == EAGAIN)
			usleep(1000);
		if (err)
			return err;
		b->port[2 * s] = media_session_port(b->sess[s], MEDIA_SIDE_A);
		b->port[2 * s + 1] = media_session_port(b->sess[s], MEDIA_SIDE_B);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: trunx-rtp-bench [--streams N] [--seconds S] [--warmup S]\n"
			"                       [--workers W] [--direct] [--srtp 80|32]\n"
			"                       [--max-delay MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"streams", required_argument, NULL, 'n'},
		{"seconds", required_argument, NULL, 's'},
		{"warmup", required_argument, NULL, 'w'},
		{"workers", required_argument, NULL, 'W'},
		{"direct", no_argument, NULL, 'd'},
		{"srtp", required_argument, NULL, 'S'},
		{"max-delay", required_argument, NULL, 'M'},
		{NULL, 0, NULL, 0},
	};
	struct bench b = {.streams = 500, .seconds = 10, .warmup = 2};
	struct media_engine_counters c = {0};
	struct rlimit rl;
	uint64_t cpu0, cpu1, hcpu0, hcpu1, rcv0, rcv1, t_a, t_b;
	pthread_t rx;
	int o, err;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': b.streams = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': b.seconds = strtod(optarg, NULL); break;
		case 'w': b.warmup = strtod(optarg, NULL); break;
		case 'W': b.workers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': b.direct = true; break;
		case 'M': b.max_delay_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'S':
			b.suite = atoi(optarg) == 32 ? MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32
						     : MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80;
			break;
		default: usage();
		}
	}
	if (b.streams < 2 || b.seconds <= 0 || b.warmup < 0)
		usage();
	b.streams += b.streams & 1;
	b.sessions = b.streams / 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	b.sess = calloc(b.sessions, sizeof(*b.sess));
	b.port = calloc(b.streams, sizeof(*b.port));
	b.hist = calloc(HIST_N, sizeof(*b.hist));
	if (!b.sess || !b.port || !b.hist)
		return 1;
	for (int i = 0; i < 2; i++) {
		b.sock[i] = open_sock(&b.addr[i]);
		if (b.sock[i] < 0) {
			perror("socket");
			return 1;
		}
	}
	if (b.suite != MEDIA_SRTP_NONE && !b.direct) {
		struct media_srtp_params ptx = {.suite = b.suite}, prx = {.suite = b.suite};

		(void)getrandom(b.key_a, sizeof(b.key_a), 0);
		(void)getrandom(b.key_t, sizeof(b.key_t), 0);
		/* Party A protects with its key and unprotects with the engine's. Each
		 * thread has its own contexts; the key a thread does not use is a copy. */
		memcpy(ptx.tx_key, b.key_a, sizeof(b.key_a));
		memcpy(ptx.rx_key, b.key_t, sizeof(b.key_t));
		memcpy(prx.tx_key, b.key_a, sizeof(b.key_a));
		memcpy(prx.rx_key, b.key_t, sizeof(b.key_t));
		if (msrtp_set(&b.srtp_tx, &ptx) || msrtp_set(&b.srtp_rx, &prx)) {
			fprintf(stderr, "srtp: no context\n");
			return 1;
		}
	}
	if (b.direct) {
		/* Each stream goes straight to the other party's socket. */
		for (unsigned i = 0; i < b.streams; i++)
			b.port[i] = ntohs(b.addr[(i & 1) ^ 1].sin_port);
	} else if ((err = setup_engine(&b)) != 0) {
		fprintf(stderr, "engine: %s\n", strerror(err));
		return 1;
	}
	pthread_setname_np(pthread_self(), "bench-tx");
	pthread_create(&rx, NULL, recv_main, &b);
	usleep(100000);
	b.t0 = now_ns() + 10000000ull;
	b.t_meas = b.t0 + (uint64_t)(b.warmup * 1e9);
	b.t_end = b.t_meas + (uint64_t)(b.seconds * 1e9);

	send_until(&b, b.t_meas);           /* warm-up */
	cpu0 = cpu_ns("media-w");
	hcpu0 = cpu_ns("bench-");
	rcv0 = udp_rcvbuf_errors();
	t_a = now_ns();
	send_until(&b, b.t_end);            /* the measured window */
	t_b = now_ns();
	cpu1 = cpu_ns("media-w");
	hcpu1 = cpu_ns("bench-");
	usleep(1000000);                     /* let the tail arrive */
	rcv1 = udp_rcvbuf_errors();
	atomic_store(&b.stop_rx, true);
	pthread_join(rx, NULL);
	if (b.me)
		media_engine_counters(b.me, &c);

	{
		double win = (double)(t_b - t_a) / 1e9;
		double loss = b.sent_meas ? 100.0 * (double)(b.sent_meas - (b.recv_meas < b.sent_meas ? b.recv_meas : b.sent_meas)) / (double)b.sent_meas : 0;

		printf("{\"mode\":\"%s\",\"srtp\":%d,\"srtp_fail\":%" PRIu64 ",\"streams\":%u,\"sessions\":%u,\"workers\":%u,"
		       "\"seconds\":%.1f,\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ","
		       "\"loss_pct\":%.4f,\"pps\":%.0f,"
		       "\"lat_p50_us\":%" PRIu64 ",\"lat_p99_us\":%" PRIu64
		       ",\"lat_p999_us\":%" PRIu64 ",\"lat_max_us\":%" PRIu64 ","
		       "\"engine_cpu_pct\":%.1f,\"harness_cpu_pct\":%.1f,"
		       "\"rcvbuf_errors\":%" PRIu64 ",\"engine_relayed\":%" PRIu64
		       ",\"engine_dropped\":%" PRIu64 ",\"engine_dropped_late\":%" PRIu64
		       ",\"max_delay_ms\":%u,\"bad\":%" PRIu64
		       ",\"rx_realtime\":%s}\n",
		       b.direct ? "direct" : "engine",
		       b.suite == MEDIA_SRTP_NONE ? 0 : b.suite == MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32 ? 32 : 80,
		       b.srtp_fail, b.streams, b.sessions,
		       b.me ? c.workers : 0, win, b.sent_meas, b.recv_meas, loss,
		       (double)b.recv_meas / win, percentile_us(&b, 0.5), percentile_us(&b, 0.99),
		       percentile_us(&b, 0.999), b.lat_max_us,
		       100.0 * (double)(cpu1 - cpu0) / (double)(t_b - t_a),
		       100.0 * (double)(hcpu1 - hcpu0) / (double)(t_b - t_a),
		       rcv1 - rcv0, c.rtp_relayed, c.rtp_dropped, c.rtp_dropped_late,
		       b.max_delay_ms, b.bad,
		       b.rx_rt ? "true" : "false");
	}
	for (unsigned s = 0; b.me && s < b.sessions; s++)
		media_session_destroy(b.sess[s]);
	media_engine_destroy(b.me);
	msrtp_destroy(b.srtp_tx);
	msrtp_destroy(b.srtp_rx);
	close(b.sock[0]);
	close(b.sock[1]);
	free(b.sess);
	free(b.port);
	free(b.hist);
	return 0;
}

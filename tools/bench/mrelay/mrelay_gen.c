/*
 * mrelay_gen.c — RTP load generator of tools/bench/media-relay: plays both parties of
 * N calls relayed by another process (trunxd, rtpengine) on 127.0.0.1 and prints one
 * JSON line with loss, one-way latency percentiles through the relay and the relay
 * process's CPU.
 *
 * Party A of every call is one UDP socket (port --port-a, the one its SDP announced),
 * party B another (--port-b); the calls file gives, per line, the relay's port that A
 * sends to and the one B sends to. Call c carries stream 2c (A -> relay -> B) and
 * 2c+1 (B -> relay -> A): 172-byte PCMU packets (20 ms) at 50 packets/s each, paced by
 * one sender thread on a uniform schedule (20 ms / streams apart). The payload carries
 * the stream, a "measured" flag and the send time (CLOCK_MONOTONIC); one receiver
 * thread (real-time priority when allowed, so its own lag is not counted as the
 * relay's) reads both sockets and records the one-way delay in a 10 us histogram up
 * to 10 s. Packets due in the measured window (after the warm-up) count; those not
 * received --drain seconds after the last one was sent are lost. --direct sends each
 * stream straight to the other party (the harness's own floor).
 *
 * The relay's CPU (--pid) is the sum of /proc/PID/task/TID/schedstat over the measured
 * window, which is reliable in VMs where /proc/stat is not.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PKT_LEN   172          /* 12 header + 160 PCMU */
#define PTIME_NS  20000000ull  /* 20 ms */
#define HIST_US   10           /* histogram bucket width */
#define HIST_N    1000000      /* up to 10 s */
#define BATCH     64

struct gen {
	unsigned            calls, streams;
	double              seconds, warmup, drain;
	bool                direct;
	int                 pid;           /* relay process, 0 = none */
	int                 sock[2];       /* party A, party B */
	struct sockaddr_in  addr[2];
	uint16_t           *port;          /* per stream: where it is sent */
	uint64_t            t0, t_meas, t_end, g, sent_meas;
	atomic_bool         stop_rx;
	bool                rx_rt;
	uint64_t            recv_meas, recv_total, bad;
	uint64_t           *hist;
	uint64_t            lat_max_us;

};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int open_sock(uint16_t port, struct sockaddr_in *a)
{
	int big = 16 << 20;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* A large buffer when allowed, so loss is the relay's, not ours. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0) {
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
	uint8_t            buf[BATCH][PKT_LEN];
	unsigned           n;
};

static void tx_flush(struct gen *g, struct txq *q, int side)
{
	unsigned done = 0;
	uint64_t t = now_ns();

	for (unsigned i = 0; i < q->n; i++) {
		put32(q->buf[i] + 20, (uint32_t)(t >> 32));
		put32(q->buf[i] + 24, (uint32_t)t);
	}
	while (done < q->n) {
		int r = sendmmsg(g->sock[side], q->msg + done, q->n - done, 0);

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

static void tx_add(struct gen *g, struct txq *q, int side, unsigned stream, uint32_t k,
		   bool measured)
{
	uint8_t *p = q->buf[q->n];

	p[0] = 0x80;
	p[1] = 0;                       /* PCMU */
	p[2] = (uint8_t)(k >> 8);
	p[3] = (uint8_t)k;
	put32(p + 4, 160u * k);
	put32(p + 8, stream + 1);       /* SSRC */
	memset(p + 12, 0xff, PKT_LEN - 12);
	put32(p + 12, stream);
	put32(p + 16, measured ? 1 : 0);
	q->dst[q->n] = g->addr[side];
	q->dst[q->n].sin_port = htons(g->port[stream]);
	q->iov[q->n].iov_base = p;
	q->iov[q->n].iov_len = PKT_LEN;
	q->msg[q->n].msg_hdr = (struct msghdr){.msg_name = &q->dst[q->n],
					       .msg_namelen = sizeof(q->dst[q->n]),
					       .msg_iov = &q->iov[q->n], .msg_iovlen = 1};
	if (++q->n == BATCH)
		tx_flush(g, q, side);
}

/* Sends the schedule's packets due before until, pacing on a 1 ms tick. */
static void send_until(struct gen *g, uint64_t until)
{
	static struct txq q[2];
	uint64_t gap = PTIME_NS / g->streams;
	struct timespec ts;

	for (;;) {
		uint64_t now = now_ns(), due;

		while ((due = g->t0 + g->g * gap) <= now) {
			unsigned stream = (unsigned)(g->g % g->streams);
			uint32_t k = (uint32_t)(g->g / g->streams);
			int side = stream & 1;   /* even: A -> B, sent by party A */
			bool measured = due >= g->t_meas && due < g->t_end;

			if (due >= until)
				goto out;
			tx_add(g, &q[side], side, stream, k, measured);
			g->sent_meas += measured;
			g->g++;
		}
		for (int s = 0; s < 2; s++)
			if (q[s].n)
				tx_flush(g, &q[s], s);
		due = g->t0 + g->g * gap;
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
			tx_flush(g, &q[s], s);
}

/* ---- receiver ---------------------------------------------------------------------- */

static void *recv_main(void *arg)
{
	struct gen *g = arg;
	static struct mmsghdr msg[BATCH];
	static struct iovec iov[BATCH];
	static uint8_t buf[BATCH][2048];
	struct pollfd pf[2] = {{.fd = g->sock[0], .events = POLLIN},
			       {.fd = g->sock[1], .events = POLLIN}};
	struct sched_param sp = {.sched_priority = 1};

	pthread_setname_np(pthread_self(), "mrelay-rx");
	g->rx_rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load(&g->stop_rx)) {
		if (poll(pf, 2, 50) <= 0)
			continue;
		for (int s = 0; s < 2; s++) {
			int n;
			uint64_t t;

			if (!(pf[s].revents & POLLIN))
				continue;
			n = recvmmsg(g->sock[s], msg, BATCH, MSG_DONTWAIT, NULL);
			if (n <= 0)
				continue;
			t = now_ns();
			for (int i = 0; i < n; i++) {
				uint64_t lat_us, sent;
				uint32_t stream;

				g->recv_total++;
				if (msg[i].msg_len != PKT_LEN || (buf[i][0] & 0xc0) != 0x80) {
					g->bad++;
					continue;
				}
				stream = get32(buf[i] + 12);
				/* A -> B arrives at B (socket 1), B -> A at A (socket 0). */
				if (stream >= g->streams || (stream & 1) == (unsigned)s) {
					g->bad++;
					continue;
				}
				if (!get32(buf[i] + 16))
					continue;   /* warm-up packet */
				g->recv_meas++;
				sent = (uint64_t)get32(buf[i] + 20) << 32 | get32(buf[i] + 24);
				lat_us = t > sent ? (t - sent) / 1000 : 0;
				if (lat_us > g->lat_max_us)
					g->lat_max_us = lat_us;
				g->hist[lat_us / HIST_US < HIST_N ? lat_us / HIST_US : HIST_N - 1]++;
			}
		}
	}
	return NULL;
}

static uint64_t percentile_us(const struct gen *g, double p)
{
	uint64_t want = (uint64_t)(p * (double)g->recv_meas), acc = 0;

	if (!g->recv_meas)
		return 0;
	if (want >= g->recv_meas)
		want = g->recv_meas - 1;
	for (unsigned i = 0; i < HIST_N; i++) {
		acc += g->hist[i];
		if (acc > want)
			return (uint64_t)i * HIST_US + HIST_US / 2;
	}
	return (uint64_t)HIST_N * HIST_US;
}

static double mean_us(const struct gen *g)
{
	double sum = 0;

	if (!g->recv_meas)
		return 0;
	for (unsigned i = 0; i < HIST_N; i++)
		if (g->hist[i])
			sum += (double)g->hist[i] * ((double)i * HIST_US + HIST_US / 2.0);
	return sum / (double)g->recv_meas;
}

/* ---- the relay's CPU and the kernel's drops ---------------------------------------- */

static uint64_t proc_cpu_ns(int pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	uint64_t sum = 0;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char p2[320];
		unsigned long long ns = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat", pid, e->d_name);
		f = fopen(p2, "r");
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

static int read_calls(struct gen *g, const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned pa, pb, n = 0, cap = 256;

	if (!f)
		return -1;
	g->port = malloc(2 * cap * sizeof(*g->port));
	if (!g->port) {
		fclose(f);
		return -1;
	}
	while (fscanf(f, "%u %u", &pa, &pb) == 2) {
		if (pa == 0 || pa > 65535 || pb == 0 || pb > 65535)
			break;
		if (n == cap) {
			uint16_t *p = realloc(g->port, 4 * cap * sizeof(*g->port));

			if (!p)
				break;
			g->port = p;
			cap *= 2;
		}
		g->port[2 * n] = (uint16_t)pa;       /* A sends to the relay's A-side port */
		g->port[2 * n + 1] = (uint16_t)pb;   /* B sends to the relay's B-side port */
		n++;
	}
	fclose(f);
	g->calls = n;
	g->streams = 2 * n;
	return n ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: trunx-mrelay-gen --calls-file F --port-a P --port-b P\n"
			"         [--seconds S] [--warmup S] [--drain S] [--pid PID] [--direct]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"calls-file", required_argument, NULL, 'f'},
		{"port-a", required_argument, NULL, 'a'},
		{"port-b", required_argument, NULL, 'b'},
		{"seconds", required_argument, NULL, 's'},
		{"warmup", required_argument, NULL, 'w'},
		{"drain", required_argument, NULL, 'D'},
		{"pid", required_argument, NULL, 'p'},
		{"direct", no_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	struct gen g = {.seconds = 10, .warmup = 2, .drain = 2};
	const char *file = NULL;
	unsigned port_a = 0, port_b = 0;
	uint64_t cpu0, cpu1, rcv0, rcv1, t_a, t_b;
	pthread_t rx;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'f': file = optarg; break;
		case 'a': port_a = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': port_b = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': g.seconds = strtod(optarg, NULL); break;
		case 'w': g.warmup = strtod(optarg, NULL); break;
		case 'D': g.drain = strtod(optarg, NULL); break;
		case 'p': g.pid = atoi(optarg); break;
		case 'd': g.direct = true; break;
		default: usage();
		}
	}
	if (!file || !port_a || port_a > 65535 || !port_b || port_b > 65535 ||
	    g.seconds <= 0 || g.warmup < 0 || g.drain < 0 || g.drain > 30)
		usage();
	if (read_calls(&g, file) != 0) {
		fprintf(stderr, "%s: no calls\n", file);
		return 1;
	}
	g.hist = calloc(HIST_N, sizeof(*g.hist));
	if (!g.hist) {
		free(g.port);
		return 1;
	}
	g.sock[0] = open_sock((uint16_t)port_a, &g.addr[0]);
	g.sock[1] = open_sock((uint16_t)port_b, &g.addr[1]);
	if (g.sock[0] < 0 || g.sock[1] < 0) {
		perror("bind");
		free(g.hist);
		free(g.port);
		return 1;
	}
	if (g.direct)
		for (unsigned i = 0; i < g.streams; i++)
			g.port[i] = (uint16_t)((i & 1) ? port_a : port_b);
	pthread_setname_np(pthread_self(), "mrelay-tx");
	pthread_create(&rx, NULL, recv_main, &g);
	usleep(100000);
	g.t0 = now_ns() + 10000000ull;
	g.t_meas = g.t0 + (uint64_t)(g.warmup * 1e9);
	g.t_end = g.t_meas + (uint64_t)(g.seconds * 1e9);

	send_until(&g, g.t_meas);            /* warm-up: latching, caches */
	cpu0 = proc_cpu_ns(g.pid);
	rcv0 = udp_rcvbuf_errors();
	t_a = now_ns();
	send_until(&g, g.t_end);             /* the measured window */
	t_b = now_ns();
	cpu1 = proc_cpu_ns(g.pid);
	usleep((useconds_t)(g.drain * 1e6)); /* let the tail arrive */
	rcv1 = udp_rcvbuf_errors();
	atomic_store(&g.stop_rx, true);
	pthread_join(rx, NULL);
	{
		double win = (double)(t_b - t_a) / 1e9;
		uint64_t got = g.recv_meas < g.sent_meas ? g.recv_meas : g.sent_meas;
		double loss = g.sent_meas ? 100.0 * (double)(g.sent_meas - got) /
					    (double)g.sent_meas : 0;

		printf("{\"mode\":\"%s\",\"calls\":%u,\"streams\":%u,\"seconds\":%.2f,"
		       "\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"loss_pct\":%.4f,"
		       "\"pps\":%.0f,\"lat_p50_us\":%" PRIu64 ",\"lat_p99_us\":%" PRIu64
		       ",\"lat_p999_us\":%" PRIu64 ",\"lat_max_us\":%" PRIu64
		       ",\"lat_mean_us\":%.0f,\"relay_cpu_pct\":%.3f,\"rcvbuf_errors\":%" PRIu64
		       ",\"bad\":%" PRIu64 ",\"rx_realtime\":%s}\n",
		       g.direct ? "direct" : "relay", g.calls, g.streams, win, g.sent_meas,
		       g.recv_meas, loss, (double)g.recv_meas / win, percentile_us(&g, 0.5),
		       percentile_us(&g, 0.99), percentile_us(&g, 0.999), g.lat_max_us,
		       mean_us(&g), 100.0 * (double)(cpu1 - cpu0) / (double)(t_b - t_a),
		       rcv1 - rcv0, g.bad, g.rx_rt ? "true" : "false");
	}
	close(g.sock[0]);
	close(g.sock[1]);
	free(g.port);
	free(g.hist);
	return 0;
}

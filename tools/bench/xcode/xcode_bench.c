/*
 * xcode_bench.c — load driver of tools/bench/media-transcode.
 *
 * --ceiling: the codec arithmetic alone, one thread: per 20 ms, one Opus encode (set
 * up as trunx's encoder) and one decode, at 8 kHz, of the packets the load sends
 * (what a PCMU <-> Opus call costs trunx; G.711 is a table lookup), on a voiced test
 * signal; the thread's CPU time, median of 50-frame batches. 20 ms divided by that is
 * the number of calls one core could carry on codec work alone. --states N: N
 * encoder/decoder pairs used in turn (their state no longer hot in the cache).
 *
 * --calls N: N sessions in an in-process media engine (the one trunxd runs: same
 * io path and delay bound as trunxd's defaults unless told), side A PCMU, side B Opus
 * (complexity as given). Party A sends 172-byte PCMU packets of the voiced signal and
 * party B the Opus packets a peer honouring trunx's maxplaybackrate=8000 sends (the
 * same signal encoded at 8 kHz, pre-encoded, cycled), 50 per second each per call,
 * paced on a 1 ms tick; the receiver counts what comes back to each party (--rx poll:
 * it sleeps in poll() on the two sockets, so on loopback every datagram a transcoder
 * sends to a sleeping receiver also pays for waking it; --rx tick: it reads both
 * sockets every 1 ms and nobody waits on them, as with a peer on another host whose
 * wake-ups its own host pays). Prints one
 * JSON line: frames expected and received per direction in the measured window,
 * frames the jitter buffers concealed or dropped late, and the CPU of the engine's
 * workers (also per call per 20 ms, and per 20 ms of a call delivered, one frame each
 * way: comparable with the ceiling's figure).
 *
 * --calls-file F --pid P: the same load through another transcoder (rtpengine), whose
 * per-call ports (side A PCMU, side B Opus) are the lines of F; the generator's two
 * sockets bind --port-a / --port-b (the addresses the SDP given to it named); the CPU
 * is process P's (/proc/P/task/N/schedstat).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
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

#include <opus/opus.h>

#include "g711.h"
#include "media.h"
#include "rtp.h"

#define PTIME_NS 20000000ull
#define BATCH    64
#define NPKT     50

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* This thread's CPU time: the ceiling is CPU time, as the engine's figure is (on a
 * shared machine, wall time would count the time other programs ran). */
static uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void voiced(int16_t *x, size_t n, double rate, size_t *ph)
{
	for (size_t i = 0; i < n; i++, (*ph)++) {
		double t = (double)*ph / rate, v = 0;

		for (int h = 1; h <= 10; h++)
			v += sin(2 * M_PI * 130 * h * t) / h;
		x[i] = (int16_t)(5000 * (0.6 + 0.4 * sin(2 * M_PI * 3 * t)) * v);
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int16_t sig8k[8000];

/* An 8 kHz Opus encoder set up as trunx's (media/codec/codec.c): VoIP, voice,
 * narrowband, complexity as given, in-band FEC at 5 % expected loss. */
static OpusEncoder *enc_8k(int complexity)
{
	int err;
	OpusEncoder *e = opus_encoder_create(8000, 1, OPUS_APPLICATION_VOIP, &err);

	if (!e)
		return NULL;
	opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(complexity));
	opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(1));
	opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(5));
	opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	opus_encoder_ctl(e, OPUS_SET_MAX_BANDWIDTH(OPUS_BANDWIDTH_NARROWBAND));
	return e;
}

/* One second of the voiced signal at 8 kHz, and the 50 Opus packets of it the far
 * party sends (encoded once, cycled). */
static void make_signal(uint8_t opus[][400], int *opus_len, int complexity)
{
	OpusEncoder *e = enc_8k(complexity);
	size_t ph = 0;

	voiced(sig8k, 8000, 8000, &ph);
	for (int i = 0; i < NPKT; i++)
		opus_len[i] = e ? opus_encode(e, sig8k + i * 160, 160, opus[i], 400) : -1;
	if (e)
		opus_encoder_destroy(e);
}

/* nstates > 1: that many encoder/decoder pairs used in turn, as a worker carrying
 * that many calls does, so each call's codec state is no longer hot in the cache;
 * 1: one pair (the codec arithmetic alone, the ceiling). */
static int ceiling(int complexity, double seconds, unsigned nstates)
{
	int err;
	static uint8_t opus[NPKT][400];
	static int opus_len[NPKT];
	OpusEncoder **e = calloc(nstates, sizeof(*e));
	OpusDecoder **d = calloc(nstates, sizeof(*d));
	double med[3], mean[3], *b = calloc(100000, sizeof(double));
	size_t ph = 0, nb = 0;
	int16_t pcm[160], out[160];
	uint8_t pkt[400];
	uint64_t end;

	if (!e || !d || !b)
		return 1;
	for (unsigned i = 0; i < nstates; i++) {
		e[i] = enc_8k(complexity);
		d[i] = opus_decoder_create(8000, 1, &err);
		if (!e[i] || !d[i])
			return 1;
	}
	make_signal(opus, opus_len, complexity);   /* outside the timing */
	/* Per call and 20 ms: encode the PCMU side's audio, decode the Opus side's packet
	 * (the packets the engine benchmark sends); then encode alone and decode alone. */
	for (int part = 0; part < 3; part++) {
		double sum = 0;

		nb = 0;
		end = now_ns() + (uint64_t)(seconds / 3 * 1e9);
		while (now_ns() < end && nb < 100000) {
			uint64_t t0 = cpu_now_ns();
			int sink = 0;

			for (int k = 0; k < 50; k++) {
				unsigned c = (unsigned)(ph % nstates);
				/* each call at its own place in the signal */
				size_t f = (ph / nstates + c) % NPKT;

				memcpy(pcm, sig8k + f * 160, sizeof(pcm));
				if (part != 2)
					sink += opus_encode(e[c], pcm, 160, pkt, sizeof(pkt));
				if (part != 1)
					sink += opus_decode(d[c], opus[f], opus_len[f], out, 160, 0);
				ph++;
			}
			b[nb] = (double)(cpu_now_ns() - t0) / 50 / 1000.0;
			sum += b[nb++];
			(void)sink;
		}
		mean[part] = nb ? sum / (double)nb : 0;
		qsort(b, nb, sizeof(double), cmp_d);
		med[part] = b[nb / 2];
	}
	printf("{\"mode\":\"ceiling\",\"complexity\":%d,\"states\":%u,\"enc_dec_us\":%.2f,"
	       "\"enc_us\":%.2f,\"dec_us\":%.2f,\"enc_dec_mean_us\":%.2f,\"calls_per_core\":%.1f}\n",
	       complexity, nstates, med[0], med[1], med[2], mean[0], 20000.0 / med[0]);
	for (unsigned i = 0; i < nstates; i++) {
		opus_encoder_destroy(e[i]);
		opus_decoder_destroy(d[i]);
	}
	free(e);
	free(d);
	free(b);
	return 0;
}

/* ---- engine load ------------------------------------------------------------------- */

struct bench {
	unsigned calls, workers, complexity, states;
	double   seconds, warmup;
	struct media_engine *me;
	struct media_session **sess;
	int      sock[2];
	struct sockaddr_in addr[2];
	uint16_t *port[2];
	uint8_t  opus[NPKT][400];
	int      opus_len[NPKT];
	uint8_t  ulaw[NPKT * 160];
	const char *calls_file;  /**< another transcoder's ports (else the engine) */
	int      ext_pid;
	uint16_t bind_port[2];
	unsigned max_delay_ms;
	bool     rx_tick;	/**< receiver reads every 1 ms instead of sleeping in poll */
	enum media_io io;
	uint64_t t0, t_meas, t_end;
	atomic_bool stop;
	uint64_t recv_meas[2], recv_other[2];
	atomic_bool measuring;
};

static int open_sock(struct sockaddr_in *a, uint16_t port)
{
	socklen_t len = sizeof(*a);
	int big = 32 << 20, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)a, &len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *recv_main(void *arg)
{
	struct bench *b = arg;
	static struct mmsghdr msg[BATCH];
	static struct iovec iov[BATCH];
	static uint8_t buf[BATCH][1500];
	struct pollfd pf[2] = {{.fd = b->sock[0], .events = POLLIN},
			       {.fd = b->sock[1], .events = POLLIN}};

	pthread_setname_np(pthread_self(), "bench-rx");
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load(&b->stop)) {
		if (b->rx_tick) {
			/* Nobody waits on the sockets: a transcoder's send enqueues its
			 * datagram and returns, as toward a peer on another host. */
			struct timespec ts = {0, 1000000};

			nanosleep(&ts, NULL);
		} else if (poll(pf, 2, 50) <= 0) {
			continue;
		}
		for (int s = 0; s < 2; s++) {
			int n;

			do {	/* a full batch: more may be queued on this socket */
				n = recvmmsg(b->sock[s], msg, BATCH, MSG_DONTWAIT, NULL);
				if (n <= 0 || !atomic_load(&b->measuring))
					continue;
				/* Audio frames only (PCMU toward A, Opus toward B): not
				 * RTCP, comfort noise or anything else a transcoder may
				 * send. */
				for (int i = 0; i < n; i++) {
					bool audio = msg[i].msg_len > 12 && buf[i][0] >> 6 == 2 &&
						     (buf[i][1] & 0x7f) == (s ? 111 : 0);

					b->recv_meas[s] += audio;
					b->recv_other[s] += !audio;
				}
			} while (n == BATCH);
		}
	}
	return NULL;
}

static void send_until(struct bench *b, uint64_t until)
{
	static struct mmsghdr msg[2][BATCH];
	static struct iovec iov[2][BATCH];
	static struct sockaddr_in dst[2][BATCH];
	static uint8_t buf[2][BATCH][420];
	static uint64_t g;
	unsigned nq[2] = {0, 0};
	uint64_t gap = PTIME_NS / b->calls;

	for (;;) {
		uint64_t now = now_ns(), due;
		struct timespec ts;

		while ((due = b->t0 + g * gap) <= now && due < until) {
			unsigned call = (unsigned)(g % b->calls);
			uint32_t k = (uint32_t)(g / b->calls);

			for (int side = 0; side < 2; side++) {
				uint8_t *p = buf[side][nq[side]];
				struct rtp_hdr h = {.pt = side ? 111 : 0, .seq = (uint16_t)k,
						    .ssrc = call * 2 + (unsigned)side + 1};
				size_t hl, pl;

				h.ts = side ? 960u * k : 160u * k;
				(void)rtp_hdr_build(p, 420, &h, &hl);
				if (side) {
					pl = (size_t)b->opus_len[k % NPKT];
					memcpy(p + hl, b->opus[k % NPKT], pl);
				} else {
					pl = 160;
					memcpy(p + hl, b->ulaw + (k % NPKT) * 160, pl);
				}
				dst[side][nq[side]] = b->addr[side];
				dst[side][nq[side]].sin_port = htons(b->port[side][call]);
				iov[side][nq[side]] = (struct iovec){p, hl + pl};
				msg[side][nq[side]].msg_hdr = (struct msghdr){
					.msg_name = &dst[side][nq[side]],
					.msg_namelen = sizeof(dst[0][0]),
					.msg_iov = &iov[side][nq[side]], .msg_iovlen = 1};
				if (++nq[side] == BATCH) {
					(void)sendmmsg(b->sock[side], msg[side], nq[side], 0);
					nq[side] = 0;
				}
			}
			g++;
		}
		for (int s = 0; s < 2; s++) {
			if (nq[s])
				(void)sendmmsg(b->sock[s], msg[s], nq[s], 0);
			nq[s] = 0;
		}
		if (due >= until)
			return;
		due = now + 1000000;
		ts.tv_sec = (time_t)(due / 1000000000ull);
		ts.tv_nsec = (long)(due % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
}

/* On-CPU time of process pid's threads whose name starts with prefix. */
static uint64_t cpu_ns(int pid, const char *prefix)
{
	char dir[64];
	DIR *d;
	struct dirent *e;
	uint64_t sum = 0;

	if (pid)
		snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	else
		snprintf(dir, sizeof(dir), "/proc/self/task");
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[400], name[32] = "";
		unsigned long long ns = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = '\0';
		fclose(f);
		if (strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/schedstat", dir, e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static void sum_stats(struct bench *b, uint64_t out[3])
{
	memset(out, 0, 3 * sizeof(uint64_t));
	for (unsigned s = 0; b->me && s < b->calls; s++) {
		struct media_side_stats st[2];

		if (media_session_stats(b->sess[s], st))
			continue;
		for (int i = 0; i < 2; i++) {
			out[0] += st[i].concealed;
			out[1] += st[i].jb_late;
			out[2] += st[i].frames_out;
		}
	}
}

/* The engine's sessions, A PCMU and B Opus, their ports into b->port. */
static int engine_setup(struct bench *b)
{
	struct media_engine_cfg cfg = {.workers = b->workers, .io = b->io,
				       .max_delay_ms = b->max_delay_ms};
	uint16_t r = 0;
	int err;

	strcpy(cfg.bind_addr, "127.0.0.1");
	(void)getrandom(&r, sizeof(r), 0);
	cfg.port_min = (uint16_t)(20000 + 2 * (r % 500));
	cfg.port_max = (uint16_t)(cfg.port_min + 4 * b->calls + 1999);
	if ((err = media_engine_create(&b->me, &cfg, NULL, NULL)))
		return err;
	b->sess = calloc(b->calls, sizeof(*b->sess));
	if (!b->sess)
		return ENOMEM;
	for (unsigned s = 0; s < b->calls; s++) {
		struct media_session_params p;

		if ((err = media_session_create(b->me, s, &b->sess[s])))
			return err;
		memset(&p, 0, sizeof(p));
		for (int i = 0; i < 2; i++) {
			struct media_codec_params *c = &p.side[i].codec;

			memcpy(&p.side[i].rtp, &b->addr[i], sizeof(b->addr[i]));
			p.side[i].dir = MEDIA_DIR_SENDRECV;
			memset(p.side[i].pt_map, MEDIA_PT_NONE, sizeof(p.side[i].pt_map));
			c->codec = i ? MEDIA_CODEC_OPUS : MEDIA_CODEC_PCMU;
			c->pt = c->pt_rx[0] = c->pt_rx[1] = i ? 111 : 0;
			c->te_pt = c->te_pt_rx[0] = c->te_pt_rx[1] = MEDIA_PT_NONE;
			c->ptime = 20;
			c->opus.complexity = (uint8_t)b->complexity;
			c->opus.fec = true;
		}
		while ((err = media_session_update(b->sess[s], &p)) == EAGAIN)
			usleep(1000);
		if (err)
			return err;
		b->port[0][s] = media_session_port(b->sess[s], MEDIA_SIDE_A);
		b->port[1][s] = media_session_port(b->sess[s], MEDIA_SIDE_B);
	}
	return 0;
}

/* Another transcoder's per-call ports, "PORT_A PORT_B" a line. */
static int read_calls(struct bench *b)
{
	FILE *f = fopen(b->calls_file, "r");
	unsigned pa, pb, n = 0;

	if (!f)
		return errno;
	while (n < b->calls && fscanf(f, "%u %u", &pa, &pb) == 2) {
		b->port[0][n] = (uint16_t)pa;
		b->port[1][n] = (uint16_t)pb;
		n++;
	}
	fclose(f);
	return n == b->calls ? 0 : EINVAL;
}

static int load(struct bench *b)
{
	uint64_t cpu0, cpu1, ta, tb, s0[3], s1[3];
	const char *who = b->calls_file ? "" : "media-w";
	pthread_t rx;
	int err;

	make_signal(b->opus, b->opus_len, (int)b->complexity);
	for (size_t i = 0; i < sizeof(b->ulaw); i++)
		b->ulaw[i] = g711_ulaw_encode(sig8k[i]);
	b->port[0] = calloc(b->calls, sizeof(uint16_t));
	b->port[1] = calloc(b->calls, sizeof(uint16_t));
	if (!b->port[0] || !b->port[1])
		return ENOMEM;
	err = b->calls_file ? read_calls(b) : engine_setup(b);
	if (err)
		return err;
	pthread_setname_np(pthread_self(), "bench-tx");
	pthread_create(&rx, NULL, recv_main, b);
	b->t0 = now_ns() + 10000000ull;
	b->t_meas = b->t0 + (uint64_t)(b->warmup * 1e9);
	b->t_end = b->t_meas + (uint64_t)(b->seconds * 1e9);
	/* Traffic goes on while the workers publish the warm-up's counters (a pause
	 * here would make the schedule catch up in a burst). */
	send_until(b, b->t_meas + 1100000000ull);
	sum_stats(b, s0);
	cpu0 = cpu_ns(b->ext_pid, who);
	ta = now_ns();
	atomic_store(&b->measuring, true);
	send_until(b, ta + (uint64_t)(b->seconds * 1e9));
	atomic_store(&b->measuring, false);
	tb = now_ns();
	cpu1 = cpu_ns(b->ext_pid, who);
	usleep(1100000);
	sum_stats(b, s1);
	atomic_store(&b->stop, true);
	pthread_join(rx, NULL);
	{
		double win = (double)(tb - ta) / 1e9, expected = b->calls * 50.0 * win;
		double got = (double)(b->recv_meas[0] + b->recv_meas[1]) / 2;
		double missing = expected > got ? expected - got : 0;
		double bad = (double)(s1[0] - s0[0]) / 2 + (double)(s1[1] - s0[1]) / 2;
		double cpu = (double)(cpu1 - cpu0) / (double)(tb - ta);

		printf("{\"mode\":\"%s\",\"calls\":%u,\"complexity\":%u,\"seconds\":%.1f,"
		       "\"expected_per_dir\":%.0f,\"received_a\":%" PRIu64 ",\"received_b\":%" PRIu64
		       ",\"other_a\":%" PRIu64 ",\"other_b\":%" PRIu64
		       ",\"concealed\":%" PRIu64 ",\"late\":%" PRIu64 ",\"loss_pct\":%.4f,"
		       "\"engine_cpu_pct\":%.1f,\"cpu_us_per_call\":%.2f,"
		       "\"cpu_us_per_delivered\":%.2f}\n",
		       b->calls_file ? "external" : "engine", b->calls, b->complexity, win,
		       expected, b->recv_meas[0], b->recv_meas[1], b->recv_other[0],
		       b->recv_other[1], s1[0] - s0[0], s1[1] - s0[1],
		       100.0 * (missing + bad) / expected, 100.0 * cpu,
		       cpu * 20000.0 / b->calls,
		       /* per 20 ms of a call actually delivered (one frame each way): a
			* starved transcoder that skips frames does not look cheaper */
		       got > 0 ? (double)(cpu1 - cpu0) / 1000.0 / got : 0.0);
	}
	for (unsigned s = 0; b->me && s < b->calls; s++)
		media_session_destroy(b->sess[s]);
	if (b->me)
		media_engine_destroy(b->me);
	free(b->sess);
	free(b->port[0]);
	free(b->port[1]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"calls", required_argument, NULL, 'n'},
		{"seconds", required_argument, NULL, 's'},
		{"warmup", required_argument, NULL, 'w'},
		{"workers", required_argument, NULL, 'W'},
		{"complexity", required_argument, NULL, 'c'},
		{"ceiling", no_argument, NULL, 'C'},
		{"states", required_argument, NULL, 'S'},
		{"calls-file", required_argument, NULL, 'F'},
		{"pid", required_argument, NULL, 'P'},
		{"port-a", required_argument, NULL, 'A'},
		{"port-b", required_argument, NULL, 'B'},
		{"io", required_argument, NULL, 'I'},
		{"max-delay", required_argument, NULL, 'D'},
		{"rx", required_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	/* The engine as trunxd runs it by default: epoll, 50 ms delay bound. */
	struct bench b = {.calls = 100, .seconds = 10, .warmup = 2, .complexity = 5,
			  .io = MEDIA_IO_EPOLL, .max_delay_ms = 50};
	struct rlimit rl;
	bool ceil_only = false;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': b.calls = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': b.seconds = strtod(optarg, NULL); break;
		case 'w': b.warmup = strtod(optarg, NULL); break;
		case 'W': b.workers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': b.complexity = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'C': ceil_only = true; break;
		case 'S': b.states = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'F': b.calls_file = optarg; break;
		case 'P': b.ext_pid = atoi(optarg); break;
		case 'A': b.bind_port[0] = (uint16_t)strtoul(optarg, NULL, 10); break;
		case 'B': b.bind_port[1] = (uint16_t)strtoul(optarg, NULL, 10); break;
		case 'D': b.max_delay_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'R': b.rx_tick = !strcmp(optarg, "tick"); break;
		case 'I':
			b.io = !strcmp(optarg, "uring") ? MEDIA_IO_URING
			     : !strcmp(optarg, "auto") ? MEDIA_IO_AUTO : MEDIA_IO_EPOLL;
			break;
		default:
			fprintf(stderr, "usage: trunx-xcode-bench [--ceiling [--states N]] [--calls N] "
					"[--seconds S] [--complexity C] [--workers W]\n"
					"  [--io epoll|uring|auto] [--max-delay MS] [--rx poll|tick]\n"
					"  [--calls-file F --pid P --port-a N --port-b N]\n");
			return 2;
		}
	}
	if (ceil_only)
		return ceiling((int)b.complexity, b.seconds, b.states ? b.states : 1);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < 2; i++)
		if ((b.sock[i] = open_sock(&b.addr[i], b.bind_port[i])) < 0)
			return 1;
	if (load(&b)) {
		fprintf(stderr, "%s set-up failed\n", b.calls_file ? "calls file" : "engine");
		return 1;
	}
	return 0;
}

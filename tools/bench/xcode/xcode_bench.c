/*
 * xcode_bench.c — load driver of tools/bench/media-transcode.
 *
 * --ceiling: the codec arithmetic alone, one thread: per 20 ms, one Opus encode and
 * one Opus decode at 8 kHz (what a PCMU <-> Opus call costs trunx; G.711 is a table
 * lookup), on a voiced test signal, median of 50-frame batches. 20 ms divided by that
 * is the number of calls one core could carry on codec work alone.
 *
 * --calls N: N sessions in an in-process media engine, side A PCMU, side B Opus
 * (complexity as given). Party A sends 172-byte PCMU packets and party B real Opus
 * packets (pre-encoded, cycled), 50 per second each per call, paced on a 1 ms tick;
 * the receiver counts what the engine sends each party. Prints one JSON line: frames
 * expected and received per direction in the measured window, frames the jitter
 * buffers concealed or dropped late, and the CPU of the engine's workers.
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

static int ceiling(int complexity, double seconds)
{
	int err;
	OpusEncoder *e = opus_encoder_create(8000, 1, OPUS_APPLICATION_VOIP, &err);
	OpusDecoder *d = opus_decoder_create(8000, 1, &err);
	double med[3], *b = calloc(100000, sizeof(double));
	size_t ph = 0, nb = 0;
	int16_t pcm[160], out[160];
	uint8_t pkt[400];
	uint64_t end;

	if (!e || !d || !b)
		return 1;
	voiced(sig8k, 8000, 8000, &ph);   /* one second of signal, outside the timing */
	ph = 0;
	opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(complexity));
	opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(1));
	opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(5));
	opus_encoder_ctl(e, OPUS_SET_MAX_BANDWIDTH(OPUS_BANDWIDTH_NARROWBAND));
	/* encode + decode together, then encode alone */
	for (int part = 0; part < 2; part++) {
		nb = 0;
		end = now_ns() + (uint64_t)(seconds / 2 * 1e9);
		while (now_ns() < end && nb < 100000) {
			uint64_t t0 = now_ns();
			int sink = 0;

			for (int k = 0; k < 50; k++) {
				int n;

				memcpy(pcm, sig8k + (ph % 50) * 160, sizeof(pcm));
				ph++;
				n = opus_encode(e, pcm, 160, pkt, sizeof(pkt));
				if (part == 0 && n > 0)
					sink += opus_decode(d, pkt, n, out, 160, 0);
			}
			b[nb++] = (double)(now_ns() - t0) / 50 / 1000.0;
			(void)sink;
		}
		qsort(b, nb, sizeof(double), cmp_d);
		med[part] = b[nb / 2];
	}
	printf("{\"mode\":\"ceiling\",\"complexity\":%d,\"enc_dec_us\":%.1f,\"enc_us\":%.1f,"
	       "\"calls_per_core\":%.0f}\n", complexity, med[0], med[1], 20000.0 / med[0]);
	opus_encoder_destroy(e);
	opus_decoder_destroy(d);
	free(b);
	return 0;
}

/* ---- engine load ------------------------------------------------------------------- */

struct bench {
	unsigned calls, workers, complexity;
	double   seconds, warmup;
	struct media_engine *me;
	struct media_session **sess;
	int      sock[2];
	struct sockaddr_in addr[2];
	uint16_t *port[2];
	uint8_t  opus[NPKT][400];
	int      opus_len[NPKT];
	uint64_t t0, t_meas, t_end;
	atomic_bool stop;
	uint64_t recv_meas[2];
	atomic_bool measuring;
};

static int open_sock(struct sockaddr_in *a)
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
		if (poll(pf, 2, 50) <= 0)
			continue;
		for (int s = 0; s < 2; s++) {
			int n = recvmmsg(b->sock[s], msg, BATCH, MSG_DONTWAIT, NULL);

			if (n > 0 && atomic_load(&b->measuring))
				b->recv_meas[s] += (uint64_t)n;
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
					memset(p + hl, 0x55 + (k & 7), pl);
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
		if (!(f = fopen(path, "r")))
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = '\0';
		fclose(f);
		if (strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
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
	for (unsigned s = 0; s < b->calls; s++) {
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

static int load(struct bench *b)
{
	struct media_engine_cfg cfg = {.workers = b->workers};
	uint16_t r = 0;
	uint64_t cpu0, cpu1, ta, tb, s0[3], s1[3];
	pthread_t rx;
	OpusEncoder *e;
	size_t ph = 0;
	int err;

	e = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	opus_encoder_ctl(e, OPUS_SET_BITRATE(24000));
	for (int i = 0; i < NPKT; i++) {
		int16_t pcm[960];

		voiced(pcm, 960, 48000, &ph);
		b->opus_len[i] = opus_encode(e, pcm, 960, b->opus[i], sizeof(b->opus[i]));
	}
	opus_encoder_destroy(e);
	strcpy(cfg.bind_addr, "127.0.0.1");
	(void)getrandom(&r, sizeof(r), 0);
	cfg.port_min = (uint16_t)(20000 + 2 * (r % 500));
	cfg.port_max = (uint16_t)(cfg.port_min + 4 * b->calls + 1999);
	if ((err = media_engine_create(&b->me, &cfg, NULL, NULL)))
		return err;
	b->sess = calloc(b->calls, sizeof(*b->sess));
	b->port[0] = calloc(b->calls, sizeof(uint16_t));
	b->port[1] = calloc(b->calls, sizeof(uint16_t));
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
	pthread_setname_np(pthread_self(), "bench-tx");
	pthread_create(&rx, NULL, recv_main, b);
	b->t0 = now_ns() + 10000000ull;
	b->t_meas = b->t0 + (uint64_t)(b->warmup * 1e9);
	b->t_end = b->t_meas + (uint64_t)(b->seconds * 1e9);
	send_until(b, b->t_meas);
	usleep(1100000);   /* let the workers publish the warm-up's counters */
	sum_stats(b, s0);
	cpu0 = cpu_ns("media-w");
	ta = now_ns();
	atomic_store(&b->measuring, true);
	send_until(b, ta + (uint64_t)(b->seconds * 1e9));
	atomic_store(&b->measuring, false);
	tb = now_ns();
	cpu1 = cpu_ns("media-w");
	usleep(1100000);
	sum_stats(b, s1);
	atomic_store(&b->stop, true);
	pthread_join(rx, NULL);
	{
		double win = (double)(tb - ta) / 1e9, expected = b->calls * 50.0 * win;
		double got = (double)(b->recv_meas[0] + b->recv_meas[1]) / 2;
		double missing = expected > got ? expected - got : 0;
		double bad = (double)(s1[0] - s0[0]) / 2 + (double)(s1[1] - s0[1]) / 2;

		printf("{\"mode\":\"engine\",\"calls\":%u,\"complexity\":%u,\"seconds\":%.1f,"
		       "\"expected_per_dir\":%.0f,\"received_a\":%" PRIu64 ",\"received_b\":%" PRIu64
		       ",\"concealed\":%" PRIu64 ",\"late\":%" PRIu64 ",\"loss_pct\":%.4f,"
		       "\"engine_cpu_pct\":%.1f}\n", b->calls, b->complexity, win, expected,
		       b->recv_meas[0], b->recv_meas[1], s1[0] - s0[0], s1[1] - s0[1],
		       100.0 * (missing + bad) / expected,
		       100.0 * (double)(cpu1 - cpu0) / (double)(tb - ta));
	}
	for (unsigned s = 0; s < b->calls; s++)
		media_session_destroy(b->sess[s]);
	media_engine_destroy(b->me);
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
		{NULL, 0, NULL, 0},
	};
	struct bench b = {.calls = 100, .seconds = 10, .warmup = 2, .complexity = 5};
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
		default:
			fprintf(stderr, "usage: trunx-xcode-bench [--ceiling] [--calls N] "
					"[--seconds S] [--complexity C] [--workers W]\n");
			return 2;
		}
	}
	if (ceil_only)
		return ceiling((int)b.complexity, b.seconds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < 2; i++)
		if ((b.sock[i] = open_sock(&b.addr[i])) < 0)
			return 1;
	if (load(&b)) {
		fprintf(stderr, "engine set-up failed\n");
		return 1;
	}
	return 0;
}

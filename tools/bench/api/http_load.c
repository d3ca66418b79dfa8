/*
 * http_load.c — an open-loop HTTP/1.1 load generator for the API benchmark: requests
 * are due at a fixed rate whatever the server does, each goes out on a free keep-alive
 * connection, and its latency counts from the moment it was due (a request that waited
 * for a connection waited for the server), so a slow server cannot hide its queue.
 * Prints one JSON object: due, done, errors, non-2xx, the achieved rate, and the
 * latency percentiles in milliseconds. A METHOD and a JSON BODY may follow (POST
 * /v1/calls); the default is GET without a body.
 *
 *   trunx-http-load HOST PORT PATH TOKEN RATE SECONDS CONNECTIONS [METHOD [BODY]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int    fd;
	int    busy;
	double due;          /* when its request was due */
	char   buf[65536];
	size_t len;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dial(const char *host, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char req[8192];
	double rate, secs, t0, *lat, *queue;
	long due = 0, done = 0, errors = 0, non2xx = 0, qhead = 0, qtail = 0, maxreq;
	int nconn, ep, reqlen;
	struct conn *cs;

	const char *method = argc > 8 ? argv[8] : "GET", *payload = argc > 9 ? argv[9] : NULL;
	char ctype[80] = "";

	if (argc < 8 || argc > 10) {
		fprintf(stderr, "usage: %s HOST PORT PATH TOKEN RATE SECONDS CONNECTIONS "
			"[METHOD [BODY]]\n", argv[0]);
		return 2;
	}
	if (payload)
		snprintf(ctype, sizeof(ctype), "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\n", strlen(payload));
	rate = atof(argv[5]);
	secs = atof(argv[6]);
	nconn = atoi(argv[7]);
	maxreq = (long)(rate * secs) + 1;
	reqlen = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%s%s\r\n%s",
			  method, argv[3], argv[1], argv[4][0] ? "Authorization: Bearer " : "",
			  argv[4], argv[4][0] ? "\r\n" : "", ctype, payload ? payload : "");
	if (reqlen <= 0 || (size_t)reqlen >= sizeof(req)) {
		fprintf(stderr, "request too long\n");
		return 2;
	}
	lat = calloc((size_t)maxreq, sizeof(*lat));
	queue = calloc((size_t)maxreq, sizeof(*queue));
	cs = calloc((size_t)nconn, sizeof(*cs));
	ep = epoll_create1(0);
	if (!lat || !queue || !cs || ep < 0 || rate <= 0 || nconn <= 0)
		return 1;
	for (int i = 0; i < nconn; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

		cs[i].fd = dial(argv[1], atoi(argv[2]));
		if (cs[i].fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0) {
			fprintf(stderr, "connect: %s\n", strerror(errno));
			return 1;
		}
	}
	t0 = now();
	for (;;) {
		struct epoll_event evs[64];
		double t = now();
		/* Request k is due at t0 + k / rate: at t, requests 0 .. floor((t - t0) * rate)
		 * are due (without the + 1 each waited one interval before it was sent). */
		long want = (long)((t - t0) * rate) + 1;
		int n;

		if (t - t0 < secs)
			for (; due < want && due < maxreq; due++)
				queue[qtail++] = t0 + (double)due / rate;
		for (int i = 0; i < nconn && qhead < qtail; i++) {
			if (cs[i].busy || cs[i].fd < 0)
				continue;
			if (write(cs[i].fd, req, (size_t)reqlen) != reqlen) {
				errors++;
				qhead++;
				continue;
			}
			cs[i].busy = 1;
			cs[i].due = queue[qhead++];
			cs[i].len = 0;
		}
		if (t - t0 >= secs && qhead == qtail) {
			int busy = 0;

			for (int i = 0; i < nconn; i++)
				busy += cs[i].busy;
			if (!busy || t - t0 > secs + 5)
				break;
		}
		n = epoll_wait(ep, evs, 64, 1);
		for (int k = 0; k < n; k++) {
			struct conn *c = &cs[evs[k].data.u32];
			ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
			char *end, *cl;
			size_t hdr, body;

			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				errors += c->busy;
				c->busy = 0;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = -1;
				continue;
			}
			c->len += (size_t)r;
			c->buf[c->len] = 0;
			end = strstr(c->buf, "\r\n\r\n");
			if (!end)
				continue;
			hdr = (size_t)(end - c->buf) + 4;
			cl = strcasestr(c->buf, "\r\nContent-Length:");
			body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
			if (c->len < hdr + body)
				continue;
			if (strncmp(c->buf + 9, "2", 1) != 0)
				non2xx++;
			if (c->busy && done < maxreq)
				lat[done++] = (now() - c->due) * 1000.0;
			c->busy = 0;
			c->len = 0;
		}
	}
	qsort(lat, (size_t)done, sizeof(*lat), cmp);
	printf("{\"due\":%ld,\"done\":%ld,\"errors\":%ld,\"non2xx\":%ld,\"rate\":%.1f,"
	       "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n", due, done,
	       errors, non2xx, (double)done / secs, done ? lat[done / 2] : 0,
	       done ? lat[done * 9 / 10] : 0, done ? lat[done * 99 / 100] : 0,
	       done ? lat[done - 1] : 0);
	return 0;
}

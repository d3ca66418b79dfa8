/* test_ctl_fake.c — a fake daemon behind ctl's ops, and the test client helpers. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mq.h"
#include "test_ctl.h"

/* ---- scratch directory ---- */

void tdir_make(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/trunx-ctl-XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

void tdir_remove(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* ---- client ---- */

int tc_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int tc_send(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t w = send(fd, text + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

int tc_read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -1;
}

bool tc_wait_eof(int fd, int timeout_ms)
{
	char tmp[4096];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0)
			return false;
		r = read(fd, tmp, sizeof(tmp));
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
		if (r < 0 && errno != EINTR)
			return false;
	}
}

json_t *tc_request(const char *path, const char *line)
{
	size_t len = 1 << 21;
	char *buf = malloc(len);
	json_t *rep = NULL;
	int fd = tc_connect(path);

	if (fd >= 0 && buf && tc_send(fd, line) == 0 &&
	    tc_read_line(fd, buf, len, 10000) == 0)
		rep = json_loads(buf, 0, NULL);
	if (fd >= 0)
		close(fd);
	free(buf);
	return rep;
}

bool tc_ok(const json_t *rep)
{
	return rep && json_is_true(json_object_get(rep, "ok"));
}

const char *tc_error(const json_t *rep)
{
	const char *s = json_string_value(json_object_get(rep, "error"));
	return s ? s : "";
}

/* ---- fake daemon ---- */

struct fake_q {
	int          kind;       /* 0 calls, 1 hangup */
	char         id[64];
	ctl_reply_h *h;
	void        *harg;
	struct fake *f;
};

static void answer(struct fake *f, struct fake_q *q)
{
	const char *calls_json;
	size_t big_reply;
	char *json;

	if (q->kind == 1) {
		if (strcmp(q->id, "c1") != 0) {
			q->h(ENOENT, strdup("{\"message\":\"no call c-unknown\"}"), q->harg);
			return;
		}
		json = strdup("{\"id\":\"c1\",\"hungup\":true}");
		q->h(0, json, q->harg);
		return;
	}
	pthread_mutex_lock(&f->lock);
	big_reply = f->big_reply;
	calls_json = f->calls_json;
	pthread_mutex_unlock(&f->lock);
	if (big_reply) {
		size_t n = big_reply / 2 + 1;
		char *o = json = malloc(2 * n + 2);

		*o++ = '[';
		for (size_t i = 0; i < n; i++) {
			*o++ = '1';
			*o++ = i + 1 < n ? ',' : ']';
		}
		*o = '\0';
	} else {
		json = strdup(calls_json ? calls_json : "[]");
	}
	q->h(0, json, q->harg);
}

static void on_query(void *msg, void *arg)
{
	struct fake_q *q = msg;
	struct fake *f = arg;

	pthread_mutex_lock(&f->lock);
	if (f->hold) {
		f->held = realloc(f->held, (f->n_held + 1) * sizeof(*f->held));
		f->held[f->n_held++] = *q;
		pthread_mutex_unlock(&f->lock);
		free(q);
		return;
	}
	pthread_mutex_unlock(&f->lock);
	answer(f, q);
	free(q);
}

static void *fake_thread(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		struct pollfd p = {.fd = mq_fd(f->mq), .events = POLLIN};
		bool stop;

		poll(&p, 1, 50);
		mq_drain(f->mq);
		pthread_mutex_lock(&f->lock);
		stop = f->stop;
		pthread_mutex_unlock(&f->lock);
		if (stop)
			return NULL;
	}
}

void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	if (mq_create(&f->mq, 1024, on_query, f) != 0 ||
	    pthread_create(&f->thread, NULL, fake_thread, f) != 0)
		abort();
}

size_t fake_release(struct fake *f)
{
	struct fake_q *held;
	size_t n;

	pthread_mutex_lock(&f->lock);
	held = f->held;
	n = f->n_held;
	f->held = NULL;
	f->n_held = 0;
	pthread_mutex_unlock(&f->lock);
	for (size_t i = 0; i < n; i++)
		answer(f, &held[i]);
	free(held);
	return n;
}

size_t fake_held(struct fake *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->n_held;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_fini(struct fake *f)
{
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	f->hold = false;
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	mq_destroy(f->mq);   /* answers what is still queued */
	fake_release(f);
	pthread_mutex_destroy(&f->lock);
}

static void fake_status(void *arg, json_t *obj)
{
	struct fake *f = arg;

	pthread_mutex_lock(&f->lock);
	f->status_calls++;
	pthread_mutex_unlock(&f->lock);
	json_object_set_new(obj, "calls", json_pack("{sisi}", "active", 3, "total", 42));
	json_object_set_new(obj, "workers", json_integer(2));
	json_object_set_new(obj, "counters", json_pack("{si}", "rejected_overload", 7));
}

static int post(struct fake *f, int kind, const char *id, ctl_reply_h *h, void *harg)
{
	struct fake_q *q = calloc(1, sizeof(*q));

	q->kind = kind;
	if (id)
		snprintf(q->id, sizeof(q->id), "%s", id);
	q->h = h;
	q->harg = harg;
	q->f = f;
	if (mq_push(f->mq, q) != 0) {
		free(q);
		return EAGAIN;
	}
	return 0;
}

static int fake_list_calls(void *arg, ctl_reply_h *h, void *harg)
{
	struct fake *f = arg;
	int err;

	pthread_mutex_lock(&f->lock);
	err = f->list_err;
	pthread_mutex_unlock(&f->lock);
	if (err)
		return err;
	return post(f, 0, NULL, h, harg);
}

static int fake_hangup(void *arg, const char *id, ctl_reply_h *h, void *harg)
{
	return post(arg, 1, id, h, harg);
}

static int fake_reload(void *arg, json_t *result, char *err, size_t errlen)
{
	struct fake *f = arg;
	int rc;

	pthread_mutex_lock(&f->lock);
	f->reloads++;
	f->reload_thread = pthread_self();
	rc = f->reload_err;
	if (rc)
		snprintf(err, errlen, "%s", f->reload_msg ? f->reload_msg : "");
	pthread_mutex_unlock(&f->lock);
	if (!rc)
		json_object_set_new(result, "routes", json_integer(5));
	return rc;
}

const struct ctl_ops fake_ops = {
	.status = fake_status,
	.list_calls = fake_list_calls,
	.hangup = fake_hangup,
	.reload = fake_reload,
};

/*
 * ctl_client.c — one control connection: reading request lines, running commands,
 * writing reply lines, timeouts. Control thread only.
 *
 * A client has at most one request in progress. While an asynchronous query is in
 * flight its reading is paused (further pipelined lines wait in the input buffer) and
 * a request timer runs; the answer, or the timer, resumes it. Reading also pauses
 * while CTL_OUT_MAX bytes of answers wait unsent (a client that pipelines requests and
 * does not read): the output draining resumes it, the write timeout (idle_timeout_ms
 * without progress) closes a client that never reads. A client that leaves
 * while its query is in flight orphans the query (pending->client = NULL): the answer
 * is then freed on arrival, never written.
 */
#include "ctl/ctl_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"

static void process_input(struct ctl_client *cl);

static struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

void ctl_client_free(struct ctl_client *cl)
{
	struct ctl *ctl = cl->ctl;

	if (cl->pending) {
		cl->pending->client = NULL;   /* the answer will be dropped */
		cl->pending = NULL;
	}
	if (cl->req_timer)
		event_free(cl->req_timer);
	if (cl->bev)
		bufferevent_free(cl->bev);    /* closes the socket */
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ctl->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	ctl->n_clients--;
	free(cl);
}

/* Queues a reply line (taking it); with close_after, the client goes once it is sent. */
static void send_line(struct ctl_client *cl, char *line, size_t len, bool close_after)
{
	if (!line || bufferevent_write(cl->bev, line, len) != 0)
		close_after = true;   /* out of memory: at least do not hang the client */
	free(line);
	if (close_after) {
		cl->closing = true;
		bufferevent_disable(cl->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0)
			bufferevent_trigger(cl->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
					    BEV_TRIG_DEFER_CALLBACKS);
	}
}

static void send_ok(struct ctl_client *cl, enum ctl_cmd cmd, json_t *result)
{
	size_t len = 0;
	char *line = ctl_reply_ok(cmd, result, &len);

	send_line(cl, line, len, false);
}

static void send_err(struct ctl_client *cl, enum ctl_cmd cmd, const char *code,
		     const char *msg, bool close_after)
{
	size_t len = 0;
	char *line = ctl_reply_err(cmd, code, msg, &len);

	send_line(cl, line, len, close_after);
}

/* ---- commands ---------------------------------------------------------------- */

static void cmd_status(struct ctl_client *cl)
{
	struct ctl *ctl = cl->ctl;
	struct timespec now;
	json_t *obj = json_object(), *cobj = json_object();
	double up;

	if (!obj || !cobj) {
		json_decref(obj);
		json_decref(cobj);
		send_err(cl, CTL_CMD_STATUS, "internal", "out of memory", true);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	up = (double)(now.tv_sec - ctl->started.tv_sec) +
	     (double)(now.tv_nsec - ctl->started.tv_nsec) / 1e9;
	json_object_set_new(obj, "version", json_string(TRUNX_VERSION));
	json_object_set_new(obj, "pid", json_integer((json_int_t)getpid()));
	json_object_set_new(obj, "uptime_s", json_integer((json_int_t)up));
	json_object_set_new(obj, "log_level", json_string(log_level_name(log_get_level())));
	json_object_set_new(cobj, "clients", json_integer(ctl->n_clients));
	json_object_set_new(cobj, "requests", json_integer((json_int_t)ctl->requests));
	json_object_set_new(cobj, "queries_in_flight", json_integer(ctl->n_pending));
	json_object_set_new(obj, "control", cobj);
	if (ctl->ops.status)
		ctl->ops.status(ctl->arg, obj);
	send_ok(cl, CTL_CMD_STATUS, obj);
}

static void cmd_loglevel(struct ctl_client *cl, const struct ctl_req *req)
{
	enum log_level prev = log_get_level(), level;
	json_t *res;

	if (!req->has_arg) {
		res = json_pack("{ss}", "log_level", log_level_name(prev));
		send_ok(cl, CTL_CMD_LOGLEVEL, res);
		return;
	}
	if (log_level_parse(req->arg, &level) != 0) {
		send_err(cl, CTL_CMD_LOGLEVEL, "bad_request",
			 "unknown level; levels: debug, info, warn, error, off", false);
		return;
	}
	log_set_level(level);
	/* Logged at warn so the change is visible at any level but "off". */
	log_msg(LOG_WARN, "log.level", "log level %s (was %s)", log_level_name(level),
		log_level_name(prev));
	res = json_pack("{ssss}", "log_level", log_level_name(level), "previous",
			log_level_name(prev));
	send_ok(cl, CTL_CMD_LOGLEVEL, res);
}

void ctl_run_reload(struct ctl *ctl, struct ctl_client *cl)
{
	char err[512] = "";
	json_t *res;
	int rc;

	if (!ctl->ops.reload) {
		if (cl)
			send_err(cl, CTL_CMD_RELOAD, "unavailable", "reload not supported", false);
		return;
	}
	res = json_object();
	if (!res) {
		if (cl)
			send_err(cl, CTL_CMD_RELOAD, "internal", "out of memory", true);
		return;
	}
	rc = ctl->ops.reload(ctl->arg, res, err, sizeof(err));
	if (rc && !err[0])
		strncpy(err, strerror(rc), sizeof(err) - 1);
	{
		struct log_rec r;
		if (log_begin(&r, rc ? LOG_ERROR : LOG_INFO, rc ? "reload.failed" : "reload.done")) {
			log_str(&r, "source", cl ? "control" : "signal");
			if (rc)
				log_str(&r, "error", err);
			log_end(&r);
		}
	}
	if (!cl) {
		json_decref(res);
		return;
	}
	if (rc) {
		json_decref(res);
		send_err(cl, CTL_CMD_RELOAD, rc == ESHUTDOWN ? "unavailable" : "reload_failed",
			 err, false);
		return;
	}
	send_ok(cl, CTL_CMD_RELOAD, res);
}

static bool is_media(enum ctl_cmd cmd)
{
	return cmd == CTL_CMD_PLAY || cmd == CTL_CMD_RECORD || cmd == CTL_CMD_AMD ||
	       cmd == CTL_CMD_DTMF || cmd == CTL_CMD_TRANSFER;
}

static void start_query(struct ctl_client *cl, const struct ctl_req *req)
{
	struct ctl *ctl = cl->ctl;
	struct ctl_pending *p = NULL;
	struct timeval tv;
	char why[256] = "";
	int err;

	if ((req->cmd == CTL_CMD_CALLS && !ctl->ops.list_calls) ||
	    (req->cmd == CTL_CMD_HANGUP && !ctl->ops.hangup) ||
	    (req->cmd == CTL_CMD_TRUNKS && !ctl->ops.trunks) ||
	    (req->cmd == CTL_CMD_BUDGETS && !ctl->ops.budgets) ||
	    (is_media(req->cmd) && !ctl->ops.media)) {
		send_err(cl, req->cmd, "unavailable", "not supported by this daemon", false);
		return;
	}
	err = ctl_pending_new(ctl, cl, req->cmd, &p);
	if (err) {
		send_err(cl, req->cmd, "busy", "too many queries in flight; try again", false);
		return;
	}
	if (req->cmd == CTL_CMD_CALLS)
		err = ctl->ops.list_calls(ctl->arg, ctl_on_answer, p);
	else if (req->cmd == CTL_CMD_TRUNKS)
		err = ctl->ops.trunks(ctl->arg, ctl_on_answer, p);
	else if (req->cmd == CTL_CMD_BUDGETS)
		err = ctl->ops.budgets(ctl->arg, ctl_on_answer, p);
	else if (is_media(req->cmd))
		err = ctl->ops.media(ctl->arg, req, ctl_on_answer, p, why, sizeof(why));
	else
		err = ctl->ops.hangup(ctl->arg, req->arg, ctl_on_answer, p);
	if (err) {
		ctl->n_pending--;
		ctl_pending_free(p);
		if (why[0])
			send_err(cl, req->cmd, "bad_request", why, false);
		else if (err == EAGAIN)
			send_err(cl, req->cmd, "busy", "signalling thread is busy; try again", false);
		else if (err == EINVAL)
			send_err(cl, req->cmd, "bad_request", "invalid argument", false);
		else if (err == ESHUTDOWN)
			send_err(cl, req->cmd, "unavailable", "trunxd is shutting down", false);
		else
			send_err(cl, req->cmd, "unavailable", strerror(err), false);
		return;
	}
	cl->pending = p;
	bufferevent_disable(cl->bev, EV_READ);
	tv = ms_tv(ctl->cfg.request_timeout_ms);
	evtimer_add(cl->req_timer, &tv);
}

static void handle_line(struct ctl_client *cl, const char *line, size_t len)
{
	struct ctl_req req;
	char err[160];
	int rc;

	cl->ctl->requests++;
	rc = ctl_req_parse(line, len, &req, err, sizeof(err));
	if (rc) {
		send_err(cl, CTL_CMD_NONE, rc == ENOENT ? "unknown_command" : "bad_request",
			 err, false);
		return;
	}
	{
		struct log_rec r;
		if (log_begin(&r, LOG_DEBUG, "ctl.request")) {
			log_str(&r, "command", ctl_cmd_name(req.cmd));
			if (req.has_arg)
				log_str(&r, "arg", req.arg);
			log_end(&r);
		}
	}
	switch (req.cmd) {
	case CTL_CMD_STATUS:   cmd_status(cl); break;
	case CTL_CMD_LOGLEVEL: cmd_loglevel(cl, &req); break;
	case CTL_CMD_RELOAD:   ctl_run_reload(cl->ctl, cl); break;
	case CTL_CMD_CALLS:
	case CTL_CMD_HANGUP:
	case CTL_CMD_TRUNKS:
	case CTL_CMD_BUDGETS:
	case CTL_CMD_PLAY:
	case CTL_CMD_RECORD:
	case CTL_CMD_AMD:
	case CTL_CMD_DTMF:
	case CTL_CMD_TRANSFER: start_query(cl, &req); break;
	case CTL_CMD_NONE:     break;
	}
}

static void process_input(struct ctl_client *cl)
{
	struct evbuffer *in = bufferevent_get_input(cl->bev);
	size_t max = cl->ctl->cfg.line_max;

	while (!cl->pending && !cl->closing) {
		size_t eol_len = 0;
		struct evbuffer_ptr pos;
		const char *line;

		if (evbuffer_get_length(bufferevent_get_output(cl->bev)) >= CTL_OUT_MAX) {
			/* Answers wait unsent: read on once they are (on_write). */
			cl->held = true;
			bufferevent_disable(cl->bev, EV_READ);
			return;
		}
		pos = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (pos.pos < 0) {
			if (evbuffer_get_length(in) > max)
				goto too_long;
			return;
		}
		if ((size_t)pos.pos > max)
			goto too_long;
		line = (const char *)evbuffer_pullup(in, pos.pos + (ev_ssize_t)eol_len);
		if (!line) {
			send_err(cl, CTL_CMD_NONE, "internal", "out of memory", true);
			return;
		}
		handle_line(cl, line, (size_t)pos.pos);
		evbuffer_drain(in, (size_t)pos.pos + eol_len);
	}
	return;
too_long:
	evbuffer_drain(in, evbuffer_get_length(in));
	send_err(cl, CTL_CMD_NONE, "line_too_long", "request line too long", true);
}

/* ---- libevent callbacks ------------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process_input(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct ctl_client *cl = arg;

	(void)bev;
	if (cl->closing && !cl->pending) {
		ctl_client_free(cl);
		return;
	}
	if (cl->held) {   /* every answer is sent: the next requests may be read */
		cl->held = false;
		if (!cl->pending) {
			bufferevent_enable(cl->bev, EV_READ);
			process_input(cl);
		}
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_client *cl = arg;

	(void)bev;
	if (what & BEV_EVENT_ERROR) {
		ctl_client_free(cl);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_WRITING) || cl->closing) {
			ctl_client_free(cl);   /* it stopped reading its replies */
			return;
		}
		send_err(cl, CTL_CMD_NONE, "idle_timeout", "no request; closing", true);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* The client is done sending. Finish what it asked for, then close. */
		cl->closing = true;
		if (!cl->pending &&
		    evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0)
			ctl_client_free(cl);
	}
}

static void on_req_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_client *cl = arg;
	struct ctl_pending *p = cl->pending;

	(void)fd;
	(void)what;
	if (!p)
		return;
	p->client = NULL;   /* orphaned: freed when (if) the answer arrives */
	cl->pending = NULL;
	send_err(cl, p->cmd, "timeout", "the daemon did not answer in time", cl->closing);
	if (!cl->closing) {
		bufferevent_enable(cl->bev, EV_READ);
		process_input(cl);
	}
}

/* ---- answers and accept ------------------------------------------------------- */

static void answer_ok(struct ctl_client *cl, struct ctl_pending *p)
{
	json_error_t jerr;
	json_t *res = NULL;

	if (p->json) {
		res = json_loads(p->json, JSON_DECODE_ANY, &jerr);
		if (!res) {
			log_msg(LOG_ERROR, "ctl.bad_answer", "%s answer is not JSON: %s",
				ctl_cmd_name(p->cmd), jerr.text);
			send_err(cl, p->cmd, "internal", "malformed answer from the daemon",
				 cl->closing);
			return;
		}
	}
	{
		size_t len = 0;
		char *line = ctl_reply_ok(p->cmd, res, &len);
		send_line(cl, line, len, cl->closing);
	}
}

/* Picks "message" out of an error answer if it has one. */
static void answer_err(struct ctl_client *cl, struct ctl_pending *p)
{
	json_t *obj = p->json ? json_loads(p->json, 0, NULL) : NULL;
	const char *msg = obj ? json_string_value(json_object_get(obj, "message")) : NULL;
	const char *code = p->status == ENOENT ? "not_found" :
			   p->status == EAGAIN ? "busy" : "failed";

	if (!msg)
		msg = p->status == ENOENT ? "no such call" : strerror(p->status);
	send_err(cl, p->cmd, code, msg, cl->closing);
	json_decref(obj);
}

void ctl_client_answer(struct ctl_pending *p)
{
	struct ctl_client *cl = p->client;

	p->client = NULL;
	cl->pending = NULL;
	evtimer_del(cl->req_timer);
	if (p->status == 0)
		answer_ok(cl, p);
	else
		answer_err(cl, p);
	if (!cl->closing) {
		bufferevent_enable(cl->bev, EV_READ);
		process_input(cl);
	}
}

void ctl_client_accept(struct ctl *ctl, int fd)
{
	struct ctl_client *cl;
	struct timeval rd = ms_tv(ctl->cfg.idle_timeout_ms);
	struct timeval wr = ms_tv(ctl->cfg.idle_timeout_ms);

	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->ctl = ctl;
	cl->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!cl->bev) {
		close(fd);
		free(cl);
		return;
	}
	cl->next = ctl->clients;
	if (cl->next)
		cl->next->prev = cl;
	ctl->clients = cl;
	ctl->n_clients++;
	cl->req_timer = evtimer_new(ctl->base, on_req_timeout, cl);
	if (!cl->req_timer) {
		ctl_client_free(cl);
		return;
	}
	bufferevent_setcb(cl->bev, on_read, on_write, on_event, cl);
	bufferevent_set_timeouts(cl->bev, &rd, &wr);
	if (ctl->n_clients > ctl->cfg.max_clients) {
		log_msg(LOG_WARN, "ctl.busy", "refusing a control connection: %u open",
			ctl->n_clients - 1);
		send_err(cl, CTL_CMD_NONE, "busy", "too many control connections", true);
		bufferevent_enable(cl->bev, EV_WRITE);
		return;
	}
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
}

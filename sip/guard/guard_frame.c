/*
 * guard_frame.c — where SIP messages begin and end in a byte stream (RFC 3261 18.3),
 * so that whole messages can be counted and dropped before the stack reads them.
 *
 * A byte-at-a-time state machine: between messages (CR and LF skipped), in the
 * header (lines are watched for Content-Length / "l"; an empty line ends it), in the
 * body (Content-Length bytes). It only needs to agree with the stack's own framing on
 * well-formed streams: if a peer sends something the two read differently, the stack
 * sees a malformed message and closes the connection, which is what a peer sending
 * such things deserves. Dropped bytes are squeezed out of the caller's iovecs in
 * place: the write position never passes the read position. A caller may be handed
 * them first (guard_frame_filter_hold), to keep a dropped message for itself.
 */
#include "guard.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

enum { F_BETWEEN = 0, F_HEAD, F_BODY };

#define CLEN_MAX 0x7fffffffu

/* Reads a Content-Length header line out of f->line (its first bytes). */
static void header_line(struct guard_frame *f)
{
	size_t n = f->line_len < sizeof(f->line) ? f->line_len : sizeof(f->line);
	size_t i = 0, name;
	uint64_t v = 0;
	bool digits = false;

	while (i < n && f->line[i] != ':' && f->line[i] != ' ' && f->line[i] != '\t')
		i++;
	name = i;
	if (!((name == 14 && strncasecmp(f->line, "content-length", 14) == 0) ||
	      (name == 1 && (f->line[0] | 0x20) == 'l')))
		return;
	while (i < n && (f->line[i] == ' ' || f->line[i] == '\t'))
		i++;
	if (i >= n || f->line[i] != ':')
		return;
	for (i++; i < n && (f->line[i] == ' ' || f->line[i] == '\t'); i++)
		;
	for (; i < n && isdigit((unsigned char)f->line[i]); i++) {
		digits = true;
		v = v * 10 + (uint64_t)(f->line[i] - '0');
		if (v > CLEN_MAX)
			v = CLEN_MAX;
	}
	if (digits && !f->clen_seen) {
		f->clen = (uint32_t)v;
		f->clen_seen = true;
	}
}

/*
 * Consumes bytes from p[0..n) while the keep/drop status stays the same; returns how
 * many, with that status in *keep. `more` holds how many bytes follow p[0..n) in the
 * data at hand (they may be read ahead to classify a message start).
 */
static size_t step(struct guard_frame *f, const char *p, size_t n, const char *ahead,
		   size_t more, bool *keep, guard_frame_admit_h *admit, void *arg)
{
	size_t i = 0;

	if (f->state == F_BETWEEN) {
		while (i < n && (p[i] == '\r' || p[i] == '\n'))
			i++;
		if (i > 0 || n == 0) {
			*keep = true;
			return i;
		}
		/* A message begins at p[0]: request or response? */
		{
			char first[4];
			size_t have = 0;
			enum guard_msg kind;

			for (; have < 4 && have < n; have++)
				first[have] = p[have];
			for (size_t k = 0; have < 4 && k < more; k++)
				first[have++] = ahead[k];
			if (have == 4 && memcmp(first, "SIP/", 4) == 0)
				kind = GUARD_MSG_RESPONSE;
			else if (have < 4 && p[0] == 'S')
				kind = GUARD_MSG_UNSURE;
			else if (have == 4 && memcmp(first, "ACK ", 4) == 0)
				kind = GUARD_MSG_ACK;
			else
				kind = GUARD_MSG_REQUEST;
			f->drop = admit && kind != GUARD_MSG_RESPONSE ? !admit(kind, p, n, arg) : false;
		}
		f->messages++;
		if (f->drop)
			f->dropped++;
		f->state = F_HEAD;
		f->line_len = 0;
		f->head_len = 0;
		f->clen = 0;
		f->clen_seen = false;
	}
	*keep = !f->drop;
	while (i < n) {
		if (f->state == F_HEAD) {
			char c = p[i++];

			if (f->head_len < UINT32_MAX)
				f->head_len++;

			if (c == '\n') {
				if (f->line_len == 0) {
					f->body_left = f->clen;
					f->state = f->body_left ? F_BODY : F_BETWEEN;
					if (f->state == F_BETWEEN)
						return i;
				} else {
					header_line(f);
					f->line_len = 0;
				}
			} else if (c != '\r') {
				if (f->line_len < sizeof(f->line))
					f->line[f->line_len] = c;
				if (f->line_len < UINT16_MAX)
					f->line_len++;
			}
		} else {   /* F_BODY */
			size_t take = n - i < f->body_left ? n - i : f->body_left;

			i += take;
			f->body_left -= (uint32_t)take;
			if (!f->body_left) {
				f->state = F_BETWEEN;
				return i;
			}
		}
	}
	return i;
}

size_t guard_frame_filter(struct guard_frame *f, struct iovec *iov, size_t iovcnt, size_t len,
			  guard_frame_admit_h *admit, void *arg)
{
	return guard_frame_filter_hold(f, iov, iovcnt, len, admit, NULL, arg);
}

size_t guard_frame_filter_hold(struct guard_frame *f, struct iovec *iov, size_t iovcnt,
			       size_t len, guard_frame_admit_h *admit, guard_frame_hold_h *hold,
			       void *arg)
{
	size_t wi = 0, wo = 0, kept = 0, left = len;

	for (size_t ri = 0; ri < iovcnt && left; ri++) {
		char *p = iov[ri].iov_base;
		size_t n = iov[ri].iov_len < left ? iov[ri].iov_len : left;
		size_t off = 0;

		left -= n;
		while (off < n) {
			const char *ahead = NULL;
			size_t more = 0, m;
			bool keep;

			if (ri + 1 < iovcnt && left) {
				ahead = iov[ri + 1].iov_base;
				more = iov[ri + 1].iov_len < left ? iov[ri + 1].iov_len : left;
			}
			m = step(f, p + off, n - off, ahead, more, &keep, admit, arg);
			if (keep) {
				/* Copy p[off..off+m) to the write position, across iovecs. */
				size_t done = 0;

				while (done < m) {
					char *dst = (char *)iov[wi].iov_base + wo;
					size_t room = iov[wi].iov_len - wo;
					size_t c = m - done < room ? m - done : room;

					if (dst != p + off + done)
						memmove(dst, p + off + done, c);
					done += c;
					wo += c;
					if (wo == iov[wi].iov_len) {
						wi++;
						wo = 0;
					}
				}
				kept += m;
			} else if (hold && m) {
				/* Read before any later kept byte can move over it. */
				hold(p + off, m, f->state == F_BETWEEN, arg);
			}
			off += m;
		}
	}
	return kept;
}

bool guard_frame_within(const struct guard_frame *f)
{
	return f && f->state != F_BETWEEN;
}

bool guard_frame_oversize(const struct guard_frame *f, uint32_t max)
{
	return f && max && ((f->state == F_HEAD && f->head_len > max) ||
			    (f->state == F_BODY && f->clen > max));
}

size_t guard_frame_length(const char *p, size_t n)
{
	struct guard_frame f;
	size_t off = 0;
	bool keep;

	if (!p || !n || p[0] == '\r' || p[0] == '\n')
		return 0;
	memset(&f, 0, sizeof(f));
	do {
		off += step(&f, p + off, n - off, NULL, 0, &keep, NULL, NULL);
	} while (off < n && f.state != F_BETWEEN);
	return f.state == F_BETWEEN && f.messages == 1 ? off : 0;
}

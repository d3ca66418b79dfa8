/*
 * guard.h — the SIP front's guards, below the SIP stack: per-source request rate
 * limits, the table of accepted connections with their per-source counts, the
 * framing of SIP messages in a byte stream (so whole messages can be counted and
 * dropped before the stack parses them), and the interposition of the socket calls
 * the stack makes on trunx's SIP sockets. Plain C and sockets only: no sofia-sip type
 * appears here; sip/ua wires these to the stack (sipua_front.c).
 *
 * The rate limiter, the connection table and the framer are pure (no I/O, no clock
 * of their own: the caller passes the time) and owned by one thread.
 */
#ifndef TRUNX_GUARD_H
#define TRUNX_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* ---- hashing shared by the tables (guard_hash.c) ---- */

/** A 64-bit finaliser: every input bit moves every output bit. */
uint64_t guard_mix(uint64_t x);

/** The IP of sa as 16 bytes (IPv4 mapped; zeros and false for other families). */
bool guard_addr_key(const struct sockaddr *sa, uint8_t key[16]);

/* ---- per-source token buckets (guard_rate.c) ---- */

struct guard_rate;

/**
 * Creates a limiter that tracks up to about `sources` source addresses (IP only, the
 * port is ignored); when more are active, the least recently seen are forgotten (a
 * forgotten source starts again with a full bucket). Starts off (no limit).
 * @return 0, EINVAL, ENOMEM
 */
int guard_rate_create(struct guard_rate **rp, size_t sources);
void guard_rate_destroy(struct guard_rate *r);

/**
 * Sets the rate: per_s requests a second per source, bursts of up to `burst`
 * (0 = per_s). per_s 0 turns the limit off. Buckets already tracked keep their level.
 */
void guard_rate_set(struct guard_rate *r, unsigned per_s, unsigned burst);

/** Takes one request from src's bucket at now_ms: true if allowed, false if over. */
bool guard_rate_take(struct guard_rate *r, const struct sockaddr *src, uint64_t now_ms);

/* ---- recent INVITE decisions (guard_recent.c) ---- */

enum guard_recent_state {
	GUARD_RECENT_NONE = 0,   /**< not in the table (or expired) */
	GUARD_RECENT_REFUSED,    /**< answered 503 in front of the stack, recorded once */
	GUARD_RECENT_ADMITTED,   /**< counted by the admission and handed to the stack; the
				      stack's INVITE event has not claimed it yet */
	GUARD_RECENT_CLAIMED,    /**< admitted, and claimed (or given up after a while) */
	GUARD_RECENT_STATES
};

struct guard_recent;

/**
 * Creates a table of about `capacity` decisions (rounded up to a power of two times
 * 8), each forgotten ttl_ms after it was made. Memory: 24 bytes a slot, allocated
 * once; when a key's set is full its oldest decision gives way.
 * @return 0, EINVAL, ENOMEM
 */
int guard_recent_create(struct guard_recent **tp, size_t capacity, unsigned ttl_ms);
void guard_recent_destroy(struct guard_recent *t);

/** Slots in the table. */
size_t guard_recent_capacity(const struct guard_recent *t);

/** The decision kept for key (a keyed hash of the transaction), or NONE; *aux (may be
 *  NULL) receives the value kept with it (0 for NONE). */
enum guard_recent_state guard_recent_get(struct guard_recent *t, uint64_t key, uint64_t now_ms,
					 uint32_t *aux);

/**
 * Keeps state (and a value of the caller's, aux) for key at now_ms (replacing what key
 * had).
 * @return the state of a live decision of another key it displaced (the table was
 *         full there), else NONE
 */
enum guard_recent_state guard_recent_put(struct guard_recent *t, uint64_t key,
					 enum guard_recent_state state, uint32_t aux, uint64_t now_ms);

/** Changes key's state from `from` to `to`: true if key was in state `from`. */
bool guard_recent_change(struct guard_recent *t, uint64_t key, enum guard_recent_state from,
			 enum guard_recent_state to, uint64_t now_ms);

/** Moves every decision in state `from` made older_ms ago or more to `to` (a scan of
 *  the table; nothing when none is in `from`). @return how many */
size_t guard_recent_lapse(struct guard_recent *t, enum guard_recent_state from,
			  enum guard_recent_state to, unsigned older_ms, uint64_t now_ms);

/** Decisions in the table in this state (expired ones may count until touched or
 *  swept by guard_recent_lapse). */
size_t guard_recent_count(const struct guard_recent *t, enum guard_recent_state state);

/* ---- SIP message framing in a stream (guard_frame.c) ---- */

/** Framing state of one connection (embed it; zero it to start). */
struct guard_frame {
	uint8_t  state;          /**< between messages, in the header, in the body */
	bool     drop;           /**< the current message is being dropped */
	bool     clen_seen;      /**< Content-Length was found in this header */
	uint16_t line_len;       /**< bytes of the current header line (saturating) */
	uint32_t head_len;       /**< bytes of the current header so far (saturating) */
	char     line[48];       /**< its first bytes */
	uint32_t clen;           /**< Content-Length of the current message */
	uint32_t body_left;      /**< body bytes still to come */
	uint64_t messages;       /**< messages begun */
	uint64_t dropped;        /**< of which dropped */
};

/** What a message is, read from its first bytes. */
enum guard_msg {
	GUARD_MSG_RESPONSE = 0,   /**< starts with "SIP/" */
	GUARD_MSG_REQUEST,        /**< any other request */
	GUARD_MSG_ACK,            /**< starts with "ACK " */
	GUARD_MSG_UNSURE,         /**< fewer than four bytes at hand, the first 'S': a
				       response, or a request such as SUBSCRIBE */
};

/**
 * Decides, at the start of each request (ACKs included; responses are always kept),
 * whether it is kept. The decision is made on
 * the message's first bytes: when fewer than four of them are in the data at hand, a
 * message starting with 'S' is asked about as GUARD_MSG_UNSURE, any other as a request
 * (an ACK is recognised only when its first four bytes are at hand). ACKs get no answer and make
 * no state, and one dropped from a dialog's peer costs a call (its 2xx is resent, then
 * the dialog is torn down for want of an ACK): callers keep those. msg[0..avail) are
 * the message's bytes at hand from its start, contiguous (the rest of that iovec): a
 * whole message there (guard_frame_length) may be answered by the caller and dropped.
 */
typedef bool (guard_frame_admit_h)(enum guard_msg kind, const char *msg, size_t avail,
				   void *arg);

/**
 * Receives the bytes of dropped messages, in order, before they are overwritten:
 * p[0..n) continues the current dropped message (the first call of a message starts
 * at its first byte); `end` is true when its last byte is p[n-1].
 */
typedef void (guard_frame_hold_h)(const char *p, size_t n, bool end, void *arg);

/**
 * Runs len bytes, laid out in iov[0..iovcnt), through the framer; the bytes of
 * dropped messages are removed in place (the rest moves up to stay contiguous in the
 * iovec sequence). Message boundaries follow RFC 3261 18.3: a header ends at an empty
 * line (CRLF CRLF, or LF LF), a body is Content-Length (or "l") bytes, 0 without it;
 * CR and LF between messages are kept.
 * @param admit  called at each message start; NULL keeps everything
 * @return the bytes kept
 */
size_t guard_frame_filter(struct guard_frame *f, struct iovec *iov, size_t iovcnt, size_t len,
			  guard_frame_admit_h *admit, void *arg);

/** guard_frame_filter, handing the dropped bytes to hold (when not NULL; same arg). */
size_t guard_frame_filter_hold(struct guard_frame *f, struct iovec *iov, size_t iovcnt,
			       size_t len, guard_frame_admit_h *admit, guard_frame_hold_h *hold,
			       void *arg);

/**
 * The length of the SIP message starting at p[0] (framed as guard_frame_filter does)
 * when all of it is in p[0..n), else 0.
 */
size_t guard_frame_length(const char *p, size_t n);

/** True when f is inside a message (its header or body), not between two. */
bool guard_frame_within(const struct guard_frame *f);

/** True when the message f is in has a header longer than max bytes so far, or
 *  declares a body longer than max (max 0: never). */
bool guard_frame_oversize(const struct guard_frame *f, uint32_t max);

/* ---- accepted connections (guard_conn.c) ---- */

/** One accepted connection. */
struct guard_conn {
	int                     fd;
	struct sockaddr_storage peer;
	bool                    known;       /**< the source matched a trunk */
	bool                    dialog_peer; /**< refused, but a live dialog's peer: kept
					          open while it is one (a proxy's in-dialog
					          requests may share the connection) */
	bool                    closing;     /**< shut down by us; the stack closes it */
	bool                    oversize;    /**< a message over the size limit began: what
					          follows is dropped, the sweep shuts it */
	uint64_t                msg_since_ms; /**< the message in progress began in a read
					           at this time (0: between messages) */
	uint64_t                msg_nth;     /**< ... as message number (frame.messages) */
	uint64_t                since_ms;    /**< accepted at */
	uint64_t                close_at_ms; /**< shut it down at this time (0 = not planned) */
	struct guard_frame      frame;
	bool                    holding;     /**< the message being dropped is kept in held */
	uint32_t                held_len;    /**< its bytes so far */
	char                   *held;        /**< malloc'd by the caller, NULL until needed;
						  freed with the entry */
	bool                    hold_peer;   /**< held for a live dialog's peer: handed to
						  the reader when it belongs there */
	uint32_t                out_len;     /**< bytes in out for the reader */
	uint32_t                out_off;     /**< of which handed over */
	char                   *out;         /**< malloc'd by the caller: a held message
						  and what followed it, for the reader; freed
						  with the entry */
};

struct guard_conns;

/**
 * Creates a table of up to `capacity` connections (the cap in force can be lower).
 * @return 0, EINVAL, ENOMEM
 */
int guard_conns_create(struct guard_conns **tp, unsigned capacity);
void guard_conns_destroy(struct guard_conns *t);

/** Slots of a total cap kept for known sources: an eighth, at least 1 from a total of 2. */
unsigned guard_conns_reserve(unsigned max_total);

/** Sets the caps: in total (at most the capacity), per source address not known and per
 *  known source address (each 0 = total); connections from sources not known fill at
 *  most the total less its reserve. */
void guard_conns_set_limits(struct guard_conns *t, unsigned max_total, unsigned max_per_source,
			    unsigned max_per_known);

/**
 * Adds a connection (zeroed framing state).
 * @return 0; ENFILE (the total cap is reached, or for a source not known, the total
 *         less the reserve for known sources), EMLINK (its source's cap is reached),
 *         EEXIST (fd already in the table), EINVAL
 */
int guard_conns_add(struct guard_conns *t, int fd, const struct sockaddr *peer, bool known,
		    uint64_t now_ms, struct guard_conn **cp);

/** The connection on fd, or NULL. */
struct guard_conn *guard_conns_get(struct guard_conns *t, int fd);

/** Removes the connection on fd (nothing if absent), freeing its held bytes. */
void guard_conns_remove(struct guard_conns *t, int fd);

/** Connections in the table. */
unsigned guard_conns_count(const struct guard_conns *t);

/** Connections counted under src's address (an IPv6 source no trunk matches is
 * counted under its /64, the rest of the address zero). */
unsigned guard_conns_from(const struct guard_conns *t, const struct sockaddr *src);

/**
 * Iterates: start with *pos = 0; returns the next connection or NULL at the end. The
 * table must not change during an iteration, except by removing the one returned.
 */
struct guard_conn *guard_conns_next(struct guard_conns *t, unsigned *pos);

/* ---- interposed socket calls (guard_net.c) ---- */

/*
 * sofia-sip has no hook for accepting connections or for reading from its sockets,
 * so trunxd defines accept(), recvmsg(), recv(), __recv_chk() and close() itself: the
 * stack's calls to them (made through its PLT) resolve to these definitions in the
 * executable, which forward every call to the C library's (dlsym RTLD_NEXT: under
 * AddressSanitizer, its interceptor) and act only on the descriptors watched here. A
 * process has one set of guards: the signalling thread's.
 */

enum guard_sock {
	GUARD_NONE = 0,
	GUARD_LISTEN,   /**< a listening SIP socket (TCP or TLS) */
	GUARD_DGRAM,    /**< the UDP SIP socket */
	GUARD_STREAM,   /**< a connection accepted on a watched listening socket */
	GUARD_SEALED,   /**< the same, whose bytes are not SIP text (TLS records): counted,
			     timed and closed like a stream; its reads are left alone (the
			     user frames the decrypted bytes) */
};

struct guard_net_ops {
	/** A connection was accepted on a watched listening socket: true hands it to the
	 *  caller of accept(), false has it closed at once. */
	bool (*accepted)(void *arg, int lfd, int fd, const struct sockaddr *peer);
	/** accept() ran out of descriptors: `dropped` pending connections were taken with
	 *  the spare descriptor and closed (or reset when there was no spare). */
	void (*exhausted)(void *arg, unsigned dropped);
	/** The stack read a datagram from a watched UDP socket: true delivers it, false
	 *  swallows it (the stack sees nothing). */
	bool (*datagram)(void *arg, int fd, const struct sockaddr *src, const struct iovec *iov,
			 size_t iovcnt, size_t len);
	/** The stack read len bytes from a watched connection; returns how many remain
	 *  after dropping whole messages in place. With may_drop false (the stack was
	 *  only skipping whitespace between messages) it must keep them all. */
	size_t (*stream)(void *arg, int fd, struct iovec *iov, size_t iovcnt, size_t len,
			 bool may_drop);
	/** Bytes the handler may add to the stack's next read of a watched connection (a
	 *  message it held and may hand over whole): ioctl(FIONREAD) counts them too when
	 *  the socket has data, and that read takes that much less from the socket, so the
	 *  stack's buffer has room for them. NULL: none. */
	size_t (*reserve)(void *arg, int fd);
	/** A watched connection's descriptor (stream or sealed) is being closed (by the
	 *  stack or by us). */
	void (*closed)(void *arg, int fd);
};

/**
 * Installs the guards' handlers (signalling thread) and a spare descriptor for
 * accepting when descriptors run out. Descriptors up to the current RLIMIT_NOFILE can
 * be watched.
 * @return 0, EBUSY (already attached), EMFILE
 */
int guard_net_attach(const struct guard_net_ops *ops, void *arg);

/** Unwatches everything and removes the handlers; calls then only pass through. */
void guard_net_detach(void);

/** The backlog of a watched listening socket (the kernel caps it at somaxconn): a
 *  burst of this many connection attempts waits to be accepted, none dropped. */
#define GUARD_LISTEN_BACKLOG 4096

/** Watches fd as kind; a listening socket's backlog becomes GUARD_LISTEN_BACKLOG.
 *  @return 0, ERANGE (fd beyond the limit), EINVAL */
int guard_net_watch(int fd, enum guard_sock kind);

/** What fd is watched as (GUARD_NONE if not). */
enum guard_sock guard_net_kind(int fd);

#endif

/*
 * sdp.h — SDP (RFC 4566) parsing and writing, and the offer/answer helpers
 * (RFC 3264) trunx needs as a B2BUA that anchors media and writes its own SDP.
 *
 * Pure code: no sockets, no sofia-sip, no allocation beyond the caller's structs.
 * Parsed sessions are plain fixed-size structs so they can be copied, compared and
 * kept in a call without ownership questions.
 *
 * Parsing is strict where a wrong guess would break media (c=, m=, rtpmap, port,
 * direction) and tolerant elsewhere (unknown lines and attributes are skipped, CRLF
 * or LF line ends). Every error returns EINVAL (or EOVERFLOW when a limit below is
 * exceeded) with a short reason suitable for a SIP 488 Warning / log line.
 */
#ifndef TRUNX_SDP_H
#define TRUNX_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_MAX_MEDIA   32     /**< m= lines: a room system's offer has ~8; more: refused */
#define SDP_MAX_CODECS  32
#define SDP_ADDR_MAX    64     /**< an IPv4/IPv6 literal or host name, NUL-terminated */
#define SDP_NAME_MAX    32     /**< encoding name, e.g. "telephone-event" */
#define SDP_FMTP_MAX    128
#define SDP_MAX_LEN     16384  /**< bodies longer than this are refused */
#define SDP_LINE_MAX    1024   /**< bytes per line (line end excluded) */
#define SDP_MAX_CRYPTO  4      /**< a=crypto lines kept per stream (more are ignored) */
#define SDP_CRYPTO_MAX  192    /**< an a=crypto value, NUL included (longer: ignored) */

enum sdp_dir {
	SDP_DIR_SENDRECV = 0,
	SDP_DIR_SENDONLY,
	SDP_DIR_RECVONLY,
	SDP_DIR_INACTIVE,
};

enum sdp_addr_family { SDP_AF_NONE = 0, SDP_AF_IP4, SDP_AF_IP6 };

struct sdp_codec {
	uint8_t  pt;                   /**< payload type 0..127 */
	char     name[SDP_NAME_MAX];   /**< encoding name as given (rtpmap) or the static
				          name for PT 0..34 ("PCMU", "PCMA", ...) */
	uint32_t rate;                 /**< clock rate (Hz) */
	uint8_t  channels;             /**< 1 unless rtpmap says otherwise */
	char     fmtp[SDP_FMTP_MAX];   /**< a=fmtp parameters, "" if none */
};

struct sdp_media {
	char     type[16];             /**< "audio", "video", ... */
	uint16_t port;                 /**< 0 = stream rejected/disabled */
	char     proto[32];            /**< "RTP/AVP", "RTP/SAVP", ... */
	enum sdp_addr_family af;       /**< connection address family (media or session c=) */
	char     addr[SDP_ADDR_MAX];   /**< connection address (media c= or session c=) */
	enum sdp_dir dir;              /**< media-level direction, else session-level */
	uint16_t rtcp_port;            /**< a=rtcp port, 0 if absent */
	bool     rtcp_mux;             /**< a=rtcp-mux present */
	uint32_t ptime;                /**< a=ptime in ms, 0 if absent */
	size_t   n_crypto;
	char     crypto[SDP_MAX_CRYPTO][SDP_CRYPTO_MAX]; /**< a=crypto values (RFC 4568),
					    in order, as received; parse each with
					    sdp_crypto_parse() */
	size_t   n_codecs;
	struct sdp_codec codecs[SDP_MAX_CODECS];  /**< in m= line order */
};

struct sdp_session {
	char     origin_user[64];      /**< o= username */
	uint64_t sess_id;              /**< o= sess-id */
	uint64_t sess_version;         /**< o= sess-version */
	char     name[64];             /**< s= ("-" when written) */
	size_t   n_media;
	struct sdp_media media[SDP_MAX_MEDIA];
};

/**
 * Parses an SDP body.
 * @return 0; EINVAL with a reason in err (missing v=/o=/m=/c=, bad port, bad rtpmap,
 *         an m=audio without a connection address, two different rtpmap lines for one
 *         payload type, ...); EOVERFLOW if a limit above is exceeded or len >
 *         SDP_MAX_LEN (on a stream that is not audio, an fmtp longer than
 *         SDP_FMTP_MAX and formats beyond SDP_MAX_CODECS are skipped instead:
 *         trunx never relays such streams)
 */
int sdp_parse(struct sdp_session *s, const char *buf, size_t len, char *err, size_t errlen);

/**
 * Writes a session as SDP text (CRLF line ends): v=, o=, s=, c= (per media), t=0 0,
 * and per media m=, a=rtpmap for every codec (static ones included), a=fmtp when set,
 * a=ptime when set, a=rtcp when rtcp_port != port + 1, a=crypto lines, and the
 * direction attribute.
 * A stream with port 0 and no codecs is written with the placeholder format 0.
 * @return bytes written (excluding the NUL), or -1 if buflen is too small or the
 *         session cannot be written (an active stream without codecs, a field with
 *         control characters, a value out of range)
 */
int sdp_write(char *buf, size_t buflen, const struct sdp_session *s);

const char *sdp_dir_name(enum sdp_dir dir);

/** The direction a party answering (or relaying) an offer with direction d uses. */
enum sdp_dir sdp_dir_reverse(enum sdp_dir d);

/**
 * Codec filter: keeps, in the offer's order, the codecs of m whose name (case-
 * insensitive) and rate match an entry of allowed ("PCMU/8000", "PCMA/8000",
 * "telephone-event/8000"; an entry without "/rate" matches any rate). Returns the
 * number kept.
 */
size_t sdp_media_filter(struct sdp_media *m, const char *const *allowed, size_t n_allowed);

/** Finds a codec of m by name (case-insensitive) and rate (0 = any); NULL if absent. */
const struct sdp_codec *sdp_media_find(const struct sdp_media *m, const char *name,
				       uint32_t rate);

/** True if m has at least one audio codec other than telephone-event/comfort noise. */
bool sdp_media_has_audio_codec(const struct sdp_media *m);

/** Index of the first m=audio with a non-zero port, or -1. */
int sdp_first_audio(const struct sdp_session *s);

/** Opus format parameters (RFC 7587 6.1), as received or as written. */
struct sdp_opus {
	uint32_t maxplaybackrate;       /**< 8000..48000 (48000 when absent) */
	uint32_t sprop_maxcapturerate;  /**< 8000..48000 (48000 when absent) */
	uint32_t maxaveragebitrate;     /**< 6000..510000, 0 = not given */
	bool     stereo, sprop_stereo, cbr, useinbandfec, usedtx;
	uint16_t minptime, maxptime, ptime;   /**< 0 = not given */
};

void sdp_opus_defaults(struct sdp_opus *o);

/**
 * Parses an Opus fmtp value leniently: items "name=value" separated by ';' in any
 * order and case, blanks allowed around them; unknown, malformed or out-of-range items
 * are skipped (the default stays). Never fails.
 */
void sdp_opus_parse(struct sdp_opus *o, const char *fmtp);

/** Writes trunx's fmtp for o ("maxplaybackrate=...;..."). @return length, or -1 */
int sdp_opus_write(const struct sdp_opus *o, char *buf, size_t len);

/* ---- SDES keys (RFC 4568 a=crypto) ---- */

#define SDP_CRYPTO_KEY_LEN 30   /**< AES-128 key (16) + salt (14) */

enum sdp_crypto_suite {
	SDP_CRYPTO_NONE = 0,
	SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80,
	SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32,
};

struct sdp_crypto {
	uint32_t tag;
	enum sdp_crypto_suite suite;
	uint8_t  key[SDP_CRYPTO_KEY_LEN];   /**< master key || master salt */
	uint64_t lifetime;                  /**< packets, 0 = not given */
	bool     unencrypted_srtp, unencrypted_srtcp, unauthenticated_srtp;
};

/**
 * Parses an a=crypto value leniently: case-insensitive suite names, a key lifetime as
 * "2^N" or decimal, several keys (the first one is used), unknown session parameters
 * ignored.
 * @param why  receives a static reason on error (may be NULL)
 * @return 0 (usable); ENOTSUP (well-formed but not servable: another suite, an MKI,
 *         another key method, unencrypted/unauthenticated SRTP: skip it for another
 *         line); EINVAL (malformed)
 */
int sdp_crypto_parse(const char *value, struct sdp_crypto *c, const char **why);

/** Writes "TAG SUITE inline:KEY". @return length, or -1 */
int sdp_crypto_write(const struct sdp_crypto *c, char *out, size_t len);

#endif

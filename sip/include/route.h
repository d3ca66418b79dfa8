/*
 * route.h — trunks and routes as an immutable, reference-counted snapshot.
 *
 * DESIGN
 * The signalling thread routes every call from a snapshot it can read without
 * waiting: a route_table is built (route_table_create + _add_*), frozen, and then
 * never changes. A reload builds a new table and swaps the pointer on the signalling
 * thread; calls in progress keep a reference (route_table_ref) to the table they were
 * routed with, so the trunk policies they point at stay valid until they end.
 * Reference counts are atomic so a table may be released from any thread.
 *
 * Identification: an out-of-dialog request is matched to a trunk by its packet's
 * source address (CIDR, most specific prefix first) and, if the trunk sets one, source
 * port. Normalisation turns the request-URI user part (the DID as the trunk writes it)
 * into E.164 with the trunk's country code and prefixes. Lookup finds the route for an
 * E.164 number: an exact match beats a prefix, a longer prefix beats a shorter one,
 * and a route restricted to a source trunk beats an unrestricted one of equal length.
 *
 * Database mode adds, in the same snapshot: trunks of two kinds (carriers, and
 * tenants' PBX peers), their status (an inactive one is not identified at all), the
 * tenants, the DIDs (a table of its own, shared between snapshots and replaced by
 * copy-and-change when only numbers change), outbound route rules, channel pools and
 * the shared settings; route_decide() turns an INVITE into a destination or a refusal
 * with these (route_decide.c).
 */
#ifndef TRUNX_ROUTE_H
#define TRUNX_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ROUTE_NAME_MAX    64
#define ROUTE_URI_MAX     256
#define ROUTE_MAX_CIDRS   32
#define ROUTE_MAX_HEADERS 16
#define ROUTE_MAX_CODECS  8
#define ROUTE_ID_MAX      40   /**< a database id (uuid text) and its NUL */
#define ROUTE_E164_SIZE   17   /**< "+" 15 digits, NUL (and one spare) */
#define ROUTE_MAX_TARGETS 8    /**< destinations tried in turn for one call */
#define ROUTE_POOL_MAX    32   /**< channel pool name and its NUL */

/** Where a trunk comes from and what its calls mean. */
enum trunk_kind {
	TRUNK_KIND_FILE = 0,   /**< a [trunk] of the file: [route] sections route its calls */
	TRUNK_KIND_CARRIER,    /**< carrier_trunks: inbound calls are DIDs */
	TRUNK_KIND_PEER,       /**< customer_peers: a tenant's PBX; its calls go out */
};

enum trunk_status {
	TRUNK_ACTIVE = 0,
	TRUNK_INACTIVE,        /**< not identified, not routed to */
	TRUNK_MAINTENANCE,     /**< identified; its INVITEs get 503; not routed to */
};

/** How a number is written in a request-URI we send (and in its From). */
enum dial_format {
	DIAL_ASIS = 0,         /**< as the caller dialled it (the incoming request-URI user);
				    E.164 without "+" when there is none */
	DIAL_LEADING_ZERO,     /**< national numbers "0" + national number, others
				    international prefix (default "00") + digits */
	DIAL_PLUS_E164,        /**< "+" and the E.164 digits */
};

enum trunk_srtp {
	TRUNK_SRTP_OFF = 0,       /**< plain RTP only */
	TRUNK_SRTP_OPTIONAL,      /**< SRTP when the peer takes it (best-effort offers) */
	TRUNK_SRTP_REQUIRED,      /**< SRTP only (RTP/SAVP) */
};

/** How a trunk's legs carry DTMF digits; trunx converts between the two legs'. */
enum trunk_dtmf {
	TRUNK_DTMF_RFC4733 = 0,   /**< telephone-event packets (RFC 4733) */
	TRUNK_DTMF_INBAND,        /**< tones in the G.711 audio */
	TRUNK_DTMF_INFO,          /**< SIP INFO (application/dtmf-relay, application/dtmf) */
};

/** Which RTP sources may latch the media of a trunk's legs: the node's [media] latch,
 *  or the trunk's own (a NATed party behind a signalling-only proxy needs any). */
enum trunk_latch {
	TRUNK_LATCH_NODE = 0,     /**< [media] latch (unset) */
	TRUNK_LATCH_KNOWN,        /**< the SDP address's or the party's signalling IPs */
	TRUNK_LATCH_ANY,          /**< any source: the first packet wins */
};

enum trunk_rel100 {
	TRUNK_REL100_OFF = 0,     /**< no 100rel: never send or require reliable 18x */
	TRUNK_REL100_SUPPORTED,   /**< advertise Supported: 100rel; use it when the peer asks */
	TRUNK_REL100_REQUIRED,    /**< Require: 100rel on our INVITEs / reliable 18x always */
};

struct route_cidr {
	struct sockaddr_storage addr;  /**< network address (host bits zero) */
	uint8_t                 bits;  /**< prefix length */
};

/** A trunk (carrier or PBX peer) as configured. Plain data, copied into the table. */
struct trunk_cfg {
	char     name[ROUTE_NAME_MAX];
	size_t   n_cidrs;
	struct route_cidr cidrs[ROUTE_MAX_CIDRS];  /**< sources identified as this trunk */
	uint16_t port;                      /**< required source port; 0 = any */
	char     country_code[8];           /**< e.g. "1", "44"; "" = numbers arrive in E.164 */
	char     national_prefix[8];        /**< trunk prefix stripped from national numbers ("0", "1") */
	char     international_prefix[8];   /**< e.g. "00", "011"; "+" is always accepted */
	char     uri[ROUTE_URI_MAX];        /**< where calls routed to this trunk go:
					         "sip:host:port[;transport=tcp]"; "" = inbound only */
	unsigned session_expires;           /**< RFC 4028 interval (s) we use on this trunk; 0 = off */
	unsigned min_se;                    /**< Min-SE (s) accepted from this trunk (>= 90) */
	enum trunk_rel100 rel100;
	bool     trusted;                   /**< may assert identity (P-Asserted-Identity, Privacy) */
	size_t   n_pass_headers;
	char     pass_headers[ROUTE_MAX_HEADERS][ROUTE_NAME_MAX];
				            /**< headers copied from this trunk's requests to the
					         other leg (allow-list; identity headers only if trusted) */
	size_t   n_codecs;
	char     codecs[ROUTE_MAX_CODECS][32];  /**< allowed codecs "PCMU/8000"...; 0 = all supported */
	unsigned opus_complexity;           /**< Opus encoder complexity toward this trunk (0-10) */
	bool     opus_fec;                  /**< send Opus in-band FEC when the peer asks for it */
	bool     opus_dtx;                  /**< use Opus DTX when the peer asks for it */
	enum trunk_srtp srtp;               /**< SDES-SRTP policy of this trunk's legs */
	bool     srtp_without_tls;          /**< SDES keys may cross signalling that is not
					         TLS (they are readable on the wire) */
	bool     tls_verify;                /**< TLS peers' certificates must chain to the
					         configured CAs (and name the uri's host) */
	enum trunk_dtmf dtmf;               /**< how its legs carry digits */
	enum trunk_latch latch;             /**< who may latch its legs' media */

	/* Database mode (all zero for a file's [trunk]). */
	enum trunk_kind   kind;
	enum trunk_status status;
	char     id[ROUTE_ID_MAX];          /**< database id */
	char     tenant[ROUTE_NAME_MAX];    /**< peers: the tenant's id */
	char     group[ROUTE_NAME_MAX];     /**< carriers: trunk group of the channel pools */
	char     auth_user[64];             /**< digest username (both directions) */
	char     auth_secret[128];          /**< digest password */
	bool     auth_inbound;              /**< challenge its INVITEs, identify by auth_user */
	bool     registration;              /**< REGISTER auth_user at the uri's host */
	unsigned register_expires;          /**< s asked in REGISTER */
	unsigned qualify_s;                 /**< OPTIONS every this many s; 0 = never */
	enum dial_format dial_format;       /**< numbers we send it */
};

/** A tenant (database mode). */
struct tenant_cfg {
	char     id[ROUTE_NAME_MAX];
	char     name[64];
	bool     active;                    /**< status 'active' */
	bool     configured;                /**< has a runtime configuration */
	int      max_calls;                 /**< concurrent calls; -1 = settings default */
	char     default_did[ROUTE_E164_SIZE];  /**< caller ID when none of its own is asked */
};

enum did_dest {
	DID_DEST_PEER = 0,        /**< the tenant's PBX peer */
	DID_DEST_URI,             /**< a SIP URI template ({did}, {national}) */
	DID_DEST_ANNOUNCEMENT,    /**< a recording (answered with a SIP code until played) */
};

/** A DID (database mode): E.164 number -> tenant -> destination. */
struct did_cfg {
	char          number[ROUTE_E164_SIZE];  /**< "+" E.164 */
	char          trunk_id[ROUTE_ID_MAX];   /**< carrier it belongs to; "" = any */
	char          tenant[ROUTE_NAME_MAX];   /**< "" = unassigned */
	enum did_dest dest;
	char          peer_id[ROUTE_ID_MAX];    /**< DID_DEST_PEER */
	char          uri[ROUTE_URI_MAX];       /**< DID_DEST_URI */
	char          announcement[64];         /**< DID_DEST_ANNOUNCEMENT */
	bool          active;                   /**< inactive: treated as unassigned */
	char          record_dir[256];          /**< record its answered calls here (as a
						     [route]'s record); "" = no. Not kept
						     for an announcement DID (never answered
						     and bridged) */
	bool          amd;                      /**< AMD on the called leg from answer */
};

/** An outbound route rule (database mode). */
struct oroute_cfg {
	char     tenant[ROUTE_NAME_MAX];    /**< "" = every tenant */
	char     prefix[ROUTE_E164_SIZE];   /**< E.164 digits without "+"; "" = all */
	unsigned priority;                  /**< lower first */
	unsigned weight;                    /**< share among equal priority (>= 1) */
	char     trunk[ROUTE_NAME_MAX];     /**< carrier trunk name */
	char     record_dir[256];           /**< record answered calls here; "" = no */
	bool     amd;                       /**< AMD on the called leg from answer */
};

/** A channel pool over a trunk group (database mode). */
struct pool_cfg {
	char     group[ROUTE_NAME_MAX];
	char     pool[ROUTE_POOL_MAX];
	unsigned channels;
};

/** Settings shared by every node (database mode); route_settings_default() fills them. */
struct route_settings {
	unsigned global_max_calls;          /**< 0 = no cap */
	unsigned tenant_max_calls;          /**< default tenant cap; 0 = no cap */
	char     inbound_pool[ROUTE_POOL_MAX];   /**< pool of calls to DIDs */
	char     outbound_pool[ROUTE_POOL_MAX];  /**< pool of calls from peers */
	int      answer_unassigned;         /**< SIP code: DID unknown or unassigned */
	int      answer_unconfigured;       /**< tenant inactive or without runtime config */
	int      answer_over_cap;           /**< tenant over its cap */
	int      answer_no_route;           /**< outbound: no rule matches */
	int      answer_trunks_down;        /**< outbound: every candidate trunk is down */
	int      answer_announcement;       /**< DID to an announcement (not played yet) */
};

/** A route: E.164 match -> destination. */
struct route_cfg {
	char name[ROUTE_NAME_MAX];
	char match[40];              /**< "+15551234567" exact, or "+1555*" prefix, or "*" */
	char from_trunk[ROUTE_NAME_MAX];  /**< only for calls from this trunk; "" = any */
	char to_trunk[ROUTE_NAME_MAX];    /**< destination trunk (its uri and policy); "" = none */
	char uri[ROUTE_URI_MAX];     /**< destination URI template; "{did}" expands to the
				          E.164 number, "{national}" to it without "+" and
				          without to_trunk's country code (when the number starts
				          with it); "" = "sip:{did}@" + host, port and parameters
				          of to_trunk's uri */
	char record_dir[256];        /**< record answered calls into this folder as
				          CALL-ID.wav; "" = no recording */
	bool amd;                    /**< answering-machine detection on the B leg from
				          answer (call.amd, call.beep) */
};

struct route_table;
struct trunk;   /**< a trunk inside a table: read its config with trunk_get_cfg() */
struct route;   /**< a route inside a table */

void route_settings_default(struct route_settings *s);

/** Creates an empty, unfrozen table with one reference. */
int route_table_create(struct route_table **rtp);

/**
 * Adds a trunk (copied). EINVAL on an empty/duplicate name or bad CIDR;
 * EEXIST if the same CIDR+port is claimed by another trunk. err gets a reason.
 */
int route_table_add_trunk(struct route_table *rt, const struct trunk_cfg *cfg,
			  char *err, size_t errlen);

/** Adds a route (copied). EINVAL on bad match syntax or an unknown trunk name. */
int route_table_add_route(struct route_table *rt, const struct route_cfg *cfg,
			  char *err, size_t errlen);

/** Adds a tenant (copied). EINVAL on an empty or duplicate id. */
int route_table_add_tenant(struct route_table *rt, const struct tenant_cfg *cfg,
			   char *err, size_t errlen);

/** Adds an outbound rule (copied). EINVAL on a bad prefix or an unknown carrier trunk. */
int route_table_add_oroute(struct route_table *rt, const struct oroute_cfg *cfg,
			   char *err, size_t errlen);

/** Adds a channel pool (copied). EINVAL on a duplicate group/pool. */
int route_table_add_pool(struct route_table *rt, const struct pool_cfg *cfg, char *err,
			 size_t errlen);

/** Sets the shared settings (copied; defaults otherwise). */
void route_table_set_settings(struct route_table *rt, const struct route_settings *s);

/* ---- DIDs (route_dids.c) ---- */

struct route_dids;

/**
 * Creates an empty, unfrozen DID table sized for `expected` numbers, one reference.
 * @return 0, EINVAL, ENOMEM
 */
int route_dids_create(struct route_dids **dp, size_t expected);

/**
 * An unfrozen plain copy of a table, to change numbers and freeze again. Of a layered
 * table: its base with its changes applied (the fold; costs the whole table).
 */
int route_dids_copy(struct route_dids **dp, const struct route_dids *src);

/**
 * An unfrozen layered table with the contents of the frozen table src, to change a few
 * numbers: src's base (src itself if plain) is shared, only src's changes since that
 * base are copied. Cost grows with those changes, not with the table.
 * @return 0, EINVAL (src not frozen), ENOMEM
 */
int route_dids_derive(struct route_dids **dp, struct route_dids *src);

/**
 * An unfrozen layered table with the contents of cur (layered) over `folded`, a frozen
 * plain table made by route_dids_copy of cur or of a table cur was derived from (on
 * the same base): cur's changes that folded already holds are dropped.
 * @return 0, EINVAL, ENOMEM
 */
int route_dids_rebase(struct route_dids **dp, const struct route_dids *cur,
		      struct route_dids *folded);

/** Changes a layered table holds over its base (0 for a plain table). */
size_t route_dids_changes(const struct route_dids *d);

/** The plain table under d (d itself if plain). */
const struct route_dids *route_dids_base(const struct route_dids *d);

/** Inserts or replaces a number (unfrozen tables). EINVAL for a bad number. */
int route_dids_put(struct route_dids *d, const struct did_cfg *cfg);

/** Removes a number (unfrozen tables; a layered one keeps a tombstone that shadows
 *  its base). @return 0 or ENOENT */
int route_dids_del(struct route_dids *d, const char *e164);

/** Freezes the table: no change after this; it may be shared by several snapshots. */
void route_dids_freeze(struct route_dids *d);

struct route_dids *route_dids_ref(struct route_dids *d);
void route_dids_unref(struct route_dids *d);

size_t route_dids_count(const struct route_dids *d);

/** Bytes the table holds (entries, index and strings). */
size_t route_dids_bytes(const struct route_dids *d);

/** A DID as stored: pointers into the table, valid while a reference is held. */
struct did_view {
	const char   *tenant;        /**< "" = unassigned */
	const char   *trunk_id;
	enum did_dest dest;
	const char   *peer_id;
	const char   *uri;
	const char   *announcement;
	bool          active;
	const char   *record_dir;    /**< "" = no recording */
	bool          amd;
};

/** Looks a number up. @return true and fills *v, or false */
bool route_dids_get(const struct route_dids *d, const char *e164, struct did_view *v);

/** Calls fn once per distinct destination URI of the table's DIDs. */
void route_dids_each_uri(const struct route_dids *d, void (*fn)(const char *uri, void *arg),
			 void *arg);

/** Attaches a frozen DID table to an unfrozen snapshot (a reference is taken). */
int route_table_set_dids(struct route_table *rt, struct route_dids *d);

/** The snapshot's DID table (NULL in file mode). */
struct route_dids *route_table_dids(const struct route_table *rt);

/** Freezes the table (builds lookup indexes). No add after this. */
int route_table_freeze(struct route_table *rt);

struct route_table *route_table_ref(struct route_table *rt);
/** Drops a reference; the last one frees the table. NULL is ignored. */
void route_table_unref(struct route_table *rt);

size_t route_table_trunk_count(const struct route_table *rt);
size_t route_table_route_count(const struct route_table *rt);
const struct trunk *route_table_trunk_at(const struct route_table *rt, size_t i);
const struct trunk *route_table_trunk_by_name(const struct route_table *rt, const char *name);

/**
 * The trunk a packet from src belongs to, or NULL (unknown source, or the table is
 * not frozen yet). IPv4-mapped IPv6 sources are matched as IPv4.
 */
const struct trunk *route_identify(const struct route_table *rt, const struct sockaddr *src);

const struct trunk_cfg *trunk_get_cfg(const struct trunk *t);

/** A trunk by database id (frozen tables), or NULL. */
const struct trunk *route_table_trunk_by_id(const struct route_table *rt, const char *id);

/**
 * Every trunk claiming the most specific source that matches src (several when their
 * CIDRs and port coincide: digest credentials then tell them apart), up to max.
 * @return how many were written
 */
size_t route_identify_all(const struct route_table *rt, const struct sockaddr *src,
			  const struct trunk **out, size_t max);

/**
 * True when src is the address (IP literal host) of a destination the snapshot sends
 * calls to: a trunk's or peer's uri, a route's URI, a DID's destination URI. Such a
 * source may answer our INVITEs and set its dialog's target.
 */
bool route_is_destination(const struct route_table *rt, const struct sockaddr *src);

/** A tenant by id (frozen tables), or NULL. */
const struct tenant_cfg *route_table_tenant(const struct route_table *rt, const char *id);

size_t route_table_tenant_count(const struct route_table *rt);
const struct tenant_cfg *route_table_tenant_at(const struct route_table *rt, size_t i);
size_t route_table_oroute_count(const struct route_table *rt);
size_t route_table_pool_count(const struct route_table *rt);
const struct pool_cfg *route_table_pool_at(const struct route_table *rt, size_t i);

/** Channels of a pool, or -1 when the group has no such pool (no limit). */
long route_table_pool_channels(const struct route_table *rt, const char *group,
			       const char *pool);

const struct route_settings *route_table_settings(const struct route_table *rt);

/** True when the table holds database-mode data (tenants, DIDs, carriers, peers). */
bool route_table_is_db(const struct route_table *rt);

/**
 * Normalises a dialled number from trunk t to E.164 ("+" and 1-15 digits).
 * Accepts "+E164", international prefix + number, national prefix + national number,
 * or a national number (country code prepended); visual separators (-.() and spaces)
 * are ignored, and so is anything from the first ';' (user parameters such as
 * ";npdi"). t may be NULL (numbers are taken as E.164, with or without "+").
 * @return 0, EINVAL when user is not a telephone number (letters, '*', '#', more
 *         than 15 digits, a result whose first digit is 0), or ENOSPC
 *         when len cannot hold the result and its NUL
 */
int route_normalize(const struct trunk *t, const char *user, char *e164, size_t len);

/** The route for an E.164 number from trunk `from` (may be NULL), or NULL. */
const struct route *route_lookup(const struct route_table *rt, const char *e164,
				 const struct trunk *from);

const struct route_cfg *route_get_cfg(const struct route *r);
/** The i-th route of a table (in the order added), or NULL. */
const struct route *route_table_route_at(const struct route_table *rt, size_t i);
/** The destination trunk of a route, or NULL. */
const struct trunk *route_dest_trunk(const struct route *r);

/**
 * Expands the route's destination URI for a number.
 * @return 0, EINVAL if e164 is not "+" and 1-15 digits, or ENOSPC if out is too small
 */
int route_expand_uri(const struct route *r, const char *e164, char *out, size_t len);

/* ---- decisions (route_decide.c) ---- */

/** Whether a candidate trunk may be tried now (qualify state); NULL = every one. */
typedef bool (route_up_h)(const struct trunk *t, void *arg);

struct route_target {
	const struct trunk *trunk;          /**< destination trunk or peer; NULL for a URI */
	char                ruri[ROUTE_URI_MAX];
	char                caller[ROUTE_E164_SIZE + 8];  /**< From user, in its format */
	const char         *record_dir;     /**< record when answered (the DID's or rule's
					         record_dir, in the snapshot); NULL/"" = no */
	bool                amd;            /**< AMD on the called leg from answer */
};

/** What to do with a new call in database mode. */
struct route_decision {
	int         code;                   /**< 0 = route; else the SIP code to answer */
	const char *cause;                  /**< the call record's cause ("no_route", ...) */
	char        reason[160];            /**< why, for the Warning header and the logs */
	const char *event;                  /**< an event to record with the refusal, or NULL */
	char        did[ROUTE_E164_SIZE];   /**< the called number in E.164 ("" if none) */
	char        caller[ROUTE_E164_SIZE + 4]; /**< caller number to present (From user) */
	const struct tenant_cfg *tenant;    /**< the call's tenant, or NULL */
	const char *group;                  /**< trunk group of the channel pool, or NULL */
	const char *pool;                   /**< channel pool to admit against, or NULL */
	long        pool_channels;          /**< its size, -1 = no pool */
	long        tenant_cap;             /**< -1 = no cap */
	long        global_cap;             /**< -1 = no cap */
	bool        outbound;               /**< from a tenant's peer to carriers */
	size_t      n_targets;
	struct route_target targets[ROUTE_MAX_TARGETS];
};

/**
 * Decides where a call from trunk `from` (database mode) goes: from a carrier, the DID
 * (then the tenant, then its destination), else the [route]-style rules of the
 * table; from a peer, the caller ID the tenant may use and the outbound rules
 * (longest prefix, then priority, then a weighted order from `rnd`), keeping only
 * trunks `up` accepts.
 * @param ruri_user  the request-URI user as received
 * @param from_user  the From URI user as received
 * @return 0 (d->code says route or refuse), EINVAL on bad arguments
 */
int route_decide(const struct route_table *rt, const struct trunk *from,
		 const char *ruri_user, const char *from_user, uint64_t rnd, route_up_h *up,
		 void *up_arg, struct route_decision *d);

/**
 * Decides where a call tenant `tenant` places through the API goes: `from` must be one
 * of its active DIDs (else 403 callerid_not_owned; no default is put instead), `to`
 * an E.164 number (the tenant's outbound rules, as for a call from its peer) or a
 * sip:/sips: URI whose host and port are those of one of the tenant's peers (else 403
 * not_a_peer). The pool is the settings' outbound pool ("api").
 * @return 0 (d->code says route or refuse), EINVAL on bad arguments
 */
int route_decide_api(const struct route_table *rt, const char *tenant, const char *to,
		     const char *from, uint64_t rnd, route_up_h *up, void *up_arg,
		     struct route_decision *d);

/**
 * Writes an E.164 number in a trunk's dial format.
 * @param asis  the number as the caller dialled it (DIAL_ASIS), or NULL
 * @return 0, EINVAL, ENOSPC
 */
int route_dial_format(const struct trunk_cfg *t, const char *e164, const char *asis,
		      char *out, size_t len);

#endif

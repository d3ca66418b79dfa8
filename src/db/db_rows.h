/*
 * db_rows.h — turning the text columns of the routing tables' rows into the routing
 * snapshot's structures (sip/include/route.h), and the LISTEN payloads into what to
 * reload. Pure functions over strings: the loader (db_load.c) feeds them PGresult
 * values, the unit tests and the fuzzer (tests/fuzz/fuzz_db_rows.c) feed them anything.
 *
 * A row that does not make sense is refused with a reason (the loader logs it and
 * skips that row only): one bad row never takes the rest of the routing down.
 * The column order of each row type is fixed by the enums below; db_load.c's SELECTs
 * produce exactly these columns, all as text, NULL as "".
 */
#ifndef TRUNX_DB_ROWS_H
#define TRUNX_DB_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "route.h"

/** Columns of a carrier trunk or customer peer row. */
enum db_trunk_col {
	DBT_ID = 0, DBT_NAME, DBT_TENANT, DBT_GROUP, DBT_HOST, DBT_PORT, DBT_TRANSPORT,
	DBT_IPS,          /**< CIDRs separated by blanks */
	DBT_IDENT_PORT, DBT_AUTH_TYPE, DBT_AUTH_USER, DBT_AUTH_SECRET, DBT_INBOUND_AUTH,
	DBT_REGISTRATION, DBT_REG_EXPIRES,
	DBT_CODECS,       /**< names separated by commas */
	DBT_QUALIFY, DBT_DIAL_FORMAT, DBT_STATUS,
	DBT_CONFIG,       /**< the configuration JSON object */
	/* media options (migration 005), parsed as the file's [trunk] keys */
	DBT_SRTP, DBT_SRTP_NO_TLS, DBT_TLS_VERIFY, DBT_DTMF, DBT_OPUS_COMPLEXITY,
	DBT_OPUS_FEC, DBT_OPUS_DTX,
	DBT_LATCH,        /**< migration 006: node | known | any */
	DBT_N
};

enum db_tenant_col {
	DBTN_ID = 0, DBTN_NAME, DBTN_STATUS, DBTN_CONFIGURED, DBTN_MAX_CALLS, DBTN_DEFAULT_DID,
	DBTN_N
};

enum db_did_col {
	DBD_NUMBER = 0, DBD_TRUNK_ID, DBD_TENANT, DBD_DEST_TYPE, DBD_PEER_ID, DBD_URI,
	DBD_ANNOUNCEMENT, DBD_STATUS,
	DBD_RECORD, DBD_AMD,    /**< record_dir ("" = none) and amd, as a [route]'s keys */
	DBD_N
};

enum db_route_col {
	DBR_NAME = 0, DBR_MATCH, DBR_FROM, DBR_TO, DBR_URI, DBR_RECORD, DBR_AMD, DBR_N
};

enum db_oroute_col {
	DBO_TENANT = 0, DBO_PREFIX, DBO_PRIORITY, DBO_WEIGHT, DBO_TRUNK, DBO_RECORD, DBO_AMD,
	DBO_N
};

enum db_pool_col { DBP_GROUP = 0, DBP_POOL, DBP_CHANNELS, DBP_N };

enum db_setting_col { DBS_KEY = 0, DBS_VALUE, DBS_N };

/**
 * Each parser reads `n` columns (fewer than its enum's count is an error) and fills
 * *out, or returns EINVAL with the reason in why.
 */
int db_row_trunk(const char *const *col, size_t n, enum trunk_kind kind,
		 struct trunk_cfg *out, char *why, size_t whylen);
int db_row_tenant(const char *const *col, size_t n, struct tenant_cfg *out, char *why,
		  size_t whylen);
int db_row_did(const char *const *col, size_t n, struct did_cfg *out, char *why,
	       size_t whylen);
int db_row_route(const char *const *col, size_t n, struct route_cfg *out, char *why,
		 size_t whylen);
int db_row_oroute(const char *const *col, size_t n, struct oroute_cfg *out, char *why,
		  size_t whylen);
int db_row_pool(const char *const *col, size_t n, struct pool_cfg *out, char *why,
		size_t whylen);
/** Applies one settings row to *s (unknown keys are refused; *s keeps its value). */
int db_row_setting(const char *const *col, size_t n, struct route_settings *s, char *why,
		   size_t whylen);

/* ---- LISTEN payloads ---- */

#define DB_NOTIFY_MAX_DIDS 100

enum db_notify_kind {
	DB_NOTIFY_IGNORE = 0,   /**< not ours (unknown table) */
	DB_NOTIFY_TABLES,       /**< a small table changed: rebuild, keep the DIDs */
	DB_NOTIFY_DIDS_ALL,     /**< many DIDs changed: re-read them all */
	DB_NOTIFY_DIDS,         /**< these DIDs changed */
};

struct db_notify {
	enum db_notify_kind kind;
	size_t              n;
	char                dids[DB_NOTIFY_MAX_DIDS][ROUTE_E164_SIZE];
};

/**
 * Parses a 'trunx_routing' payload: a table name, "did_numbers", or
 * "did_numbers:+E164,+E164,...". A list with a malformed number or too many numbers
 * becomes DB_NOTIFY_DIDS_ALL (re-reading everything is always correct).
 */
void db_notify_parse(const char *payload, struct db_notify *out);

#endif

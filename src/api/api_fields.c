/*
 * api_fields.c — the API's resources as data: for each, its table, key, tenancy,
 * scopes and fields (JSON name, type, column, cast, checks). The generic handlers
 * (api_res.c), the body decoder (api_json.c) and the OpenAPI document
 * (api_openapi.c) all read these tables. Postgres' own CHECK constraints
 * (src/db/migrations) stay the last word on values.
 */
#include "api/api_int.h"

#include <string.h>

#define NF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const status_ai[] = {"active", "inactive", NULL};
static const char *const status_aim[] = {"active", "inactive", "maintenance", NULL};
static const char *const transports[] = {"udp", "tcp", "tls", NULL};
static const char *const dial_formats[] = {"asis", "leading_zero", "plus_e164", NULL};
static const char *const auth_types[] = {"none", "userpass", NULL};
static const char *const conn_types[] = {"direct", "nuc", NULL};
static const char *const dest_types[] = {"peer", "uri", "announcement", NULL};
static const char *const srtp_modes[] = {"off", "optional", "required", NULL};
static const char *const dtmf_modes[] = {"rfc4733", "inband", "info", NULL};
static const char *const latch_modes[] = {"node", "known", "any", NULL};

/* The media options of a trunk or peer (migrations 005, 006; a file's [trunk] keys). */
#define MEDIA_FIELDS \
	{"srtp", AF_STRING, "srtp", "text", 0, AC_ENUM, 0, 0, srtp_modes, \
	 "SDES-SRTP policy: off, optional (best effort), required (RTP/SAVP only)"}, \
	{"srtp_without_tls", AF_BOOL, "srtp_without_tls", "boolean", 0, AC_NONE, 0, 0, NULL, \
	 "SDES keys may cross signalling that is not TLS"}, \
	{"tls_verify", AF_BOOL, "tls_verify", "boolean", 0, AC_NONE, 0, 0, NULL, \
	 "TLS peers' certificates must chain to the configured CAs"}, \
	{"dtmf", AF_STRING, "dtmf", "text", 0, AC_ENUM, 0, 0, dtmf_modes, \
	 "how its legs carry digits: rfc4733, inband, info"}, \
	{"opus_complexity", AF_INT, "opus_complexity", "integer", 0, AC_NONE, 0, 10, NULL, \
	 "Opus encoder complexity toward it"}, \
	{"opus_fec", AF_BOOL, "opus_fec", "boolean", 0, AC_NONE, 0, 0, NULL, \
	 "Opus in-band FEC when the peer asks for it"}, \
	{"opus_dtx", AF_BOOL, "opus_dtx", "boolean", 0, AC_NONE, 0, 0, NULL, \
	 "Opus DTX when the peer asks for it"}, \
	{"latch", AF_STRING, "latch", "text", 0, AC_ENUM, 0, 0, latch_modes, \
	 "RTP sources that may latch its legs' media: node ([media] latch), known, any"}

/* Recording and AMD of the calls a DID or a rule routes. */
#define RECAMD_FIELDS \
	{"record_dir", AF_STRING, "record_dir", "text", AF_NULL, AC_FOLDER, 1, 201, NULL, \
	 "record answered calls into this folder as CALL-ID.wav; null: no recording"}, \
	{"amd", AF_BOOL, "amd", "boolean", 0, AC_NONE, 0, 0, NULL, \
	 "answering-machine detection on the called leg from answer (call.amd)"}

#define RO_TIMES \
	{"created_at", AF_STRING, "created_at", "timestamptz", AF_RO, AC_NONE, 0, 0, NULL, \
	 "when it was created"}

static const struct api_field tenant_fields[] = {
	{"id", AF_STRING, "id", "text", AF_REQ | AF_CREATE | AF_FILTER, AC_NAME, 1, 63, NULL,
	 "the tenant's id (1-63 of A-Z a-z 0-9 _ . -)"},
	{"name", AF_STRING, "name", "text", AF_FILTER, AC_NONE, 0, 200, NULL, "display name"},
	{"status", AF_STRING, "status", "text", AF_FILTER, AC_ENUM, 0, 0, status_ai, "state"},
	{"max_calls", AF_INT, "max_calls", "integer", AF_NULL, AC_NONE, 0, 1000000, NULL,
	 "concurrent calls across every node; null: the global setting"},
	{"default_did", AF_STRING, "default_did", "text", AF_NULL, AC_E164, 0, 16, NULL,
	 "caller ID used when the PBX asks for none it owns"},
	{"runtime_config", AF_OBJECT, "runtime_config", "jsonb", AF_NULL, AC_NONE, 0, 0, NULL,
	 "the tenant's runtime configuration (contract_version)"},
	RO_TIMES,
};

static const struct api_field trunk_fields[] = {
	{"id", AF_STRING, "id", "uuid", AF_RO, AC_UUID, 0, 0, NULL, "server-assigned id"},
	{"name", AF_STRING, "name", "text", AF_REQ | AF_FILTER, AC_NAME, 1, 63, NULL,
	 "unique name"},
	{"provider", AF_STRING, "provider", "text", AF_FILTER, AC_NONE, 0, 100, NULL,
	 "carrier"},
	{"description", AF_STRING, "description", "text", AF_NULL, AC_NONE, 0, 500, NULL, ""},
	{"connection_type", AF_STRING, "connection_type", "text", 0, AC_ENUM, 0, 0, conn_types,
	 ""},
	{"endpoint_host", AF_STRING, "endpoint_host", "text", AF_NULL, AC_NONE, 1, 253, NULL,
	 "where calls to the carrier go; null: inbound only"},
	{"endpoint_port", AF_INT, "endpoint_port", "integer", 0, AC_NONE, 1, 65535, NULL, ""},
	{"transport", AF_STRING, "transport", "text", 0, AC_ENUM, 0, 0, transports, ""},
	{"identify_match_ips", AF_STRARRAY, "identify_match_ips", "cidr[]", 0, AC_NONE, 1, 64,
	 NULL, "source addresses (CIDR) identified as this trunk"},
	{"identify_port", AF_INT, "identify_port", "integer", 0, AC_NONE, 0, 65535, NULL, ""},
	{"auth_type", AF_STRING, "auth_type", "text", 0, AC_ENUM, 0, 0, auth_types, ""},
	{"auth_username", AF_STRING, "auth_username", "text", AF_NULL, AC_NONE, 1, 63, NULL,
	 ""},
	{"auth_secret", AF_STRING, "auth_secret", "text", AF_NULL | AF_SECRET, AC_NONE, 1, 127,
	 NULL, "write only"},
	{"inbound_auth", AF_BOOL, "inbound_auth", "boolean", 0, AC_NONE, 0, 0, NULL, ""},
	{"registration", AF_BOOL, "registration", "boolean", 0, AC_NONE, 0, 0, NULL, ""},
	{"register_expires", AF_INT, "register_expires", "integer", 0, AC_NONE, 60, 86400,
	 NULL, ""},
	{"codecs", AF_STRARRAY, "codecs", "text[]", 0, AC_NONE, 1, 32, NULL, ""},
	{"qualify_frequency", AF_INT, "qualify_frequency", "integer", 0, AC_NONE, 0, 3600, NULL,
	 "OPTIONS every this many seconds; 0: none"},
	{"outbound_dial_format", AF_STRING, "outbound_dial_format", "text", 0, AC_ENUM, 0, 0,
	 dial_formats, ""},
	{"status", AF_STRING, "status", "text", AF_FILTER, AC_ENUM, 0, 0, status_aim, ""},
	{"trunk_group", AF_STRING, "trunk_group", "text", AF_FILTER, AC_NAME, 1, 63, NULL,
	 "channel pools are per group"},
	{"configuration", AF_OBJECT, "configuration", "jsonb", 0, AC_NONE, 0, 0, NULL,
	 "carrier oddities"},
	MEDIA_FIELDS,
	RO_TIMES,
};

static const struct api_field peer_fields[] = {
	{"id", AF_STRING, "id", "uuid", AF_RO, AC_UUID, 0, 0, NULL, "server-assigned id"},
	{"tenant_id", AF_STRING, "tenant_id", "text", AF_OPWRITE | AF_CREATE | AF_FILTER,
	 AC_NAME, 1, 63, NULL, "owner (operators set it; a tenant's key implies it)"},
	{"name", AF_STRING, "name", "text", AF_REQ | AF_FILTER, AC_NAME, 1, 63, NULL,
	 "unique name"},
	{"host", AF_STRING, "host", "text", AF_NULL, AC_NONE, 1, 253, NULL, ""},
	{"port", AF_INT, "port", "integer", 0, AC_NONE, 1, 65535, NULL, ""},
	{"transport", AF_STRING, "transport", "text", 0, AC_ENUM, 0, 0, transports, ""},
	{"identify_match_ips", AF_STRARRAY, "identify_match_ips", "cidr[]", 0, AC_NONE, 1, 64,
	 NULL, ""},
	{"identify_port", AF_INT, "identify_port", "integer", 0, AC_NONE, 0, 65535, NULL, ""},
	{"auth_username", AF_STRING, "auth_username", "text", AF_NULL, AC_NONE, 1, 63, NULL,
	 ""},
	{"auth_secret", AF_STRING, "auth_secret", "text", AF_NULL | AF_SECRET, AC_NONE, 1, 127,
	 NULL, "write only"},
	{"inbound_auth", AF_BOOL, "inbound_auth", "boolean", 0, AC_NONE, 0, 0, NULL, ""},
	{"codecs", AF_STRARRAY, "codecs", "text[]", 0, AC_NONE, 1, 32, NULL, ""},
	{"qualify_frequency", AF_INT, "qualify_frequency", "integer", 0, AC_NONE, 0, 3600, NULL,
	 ""},
	{"outbound_dial_format", AF_STRING, "outbound_dial_format", "text", 0, AC_ENUM, 0, 0,
	 dial_formats, ""},
	{"status", AF_STRING, "status", "text", AF_FILTER, AC_ENUM, 0, 0, status_aim, ""},
	MEDIA_FIELDS,
	RO_TIMES,
};

static const struct api_field did_fields[] = {
	{"number", AF_STRING, "number", "text", AF_REQ | AF_CREATE, AC_E164, 0, 16, NULL,
	 "the DID in E.164"},
	{"trunk_id", AF_STRING, "trunk_id", "uuid", AF_NULL | AF_FILTER, AC_UUID, 0, 0, NULL,
	 "carrier trunk it arrives on"},
	{"tenant_id", AF_STRING, "tenant_id", "text", AF_NULL | AF_FILTER, AC_NAME, 1, 63, NULL,
	 "owner; null: unassigned"},
	{"destination_type", AF_STRING, "destination_type", "text", 0, AC_ENUM, 0, 0,
	 dest_types, ""},
	{"peer_id", AF_STRING, "peer_id", "uuid", AF_NULL, AC_UUID, 0, 0, NULL, ""},
	{"destination_uri", AF_STRING, "destination_uri", "text", AF_NULL, AC_SIPURI, 0, 240,
	 NULL, "sip: URI template ({did}, {national})"},
	{"announcement", AF_STRING, "announcement", "text", AF_NULL, AC_NONE, 0, 200, NULL,
	 ""},
	{"status", AF_STRING, "status", "text", AF_FILTER, AC_ENUM, 0, 0, status_ai, ""},
	RECAMD_FIELDS,
	RO_TIMES,
};

static const struct api_field route_fields[] = {
	{"id", AF_STRING, "id", "uuid", AF_RO, AC_UUID, 0, 0, NULL, "server-assigned id"},
	{"tenant_id", AF_STRING, "tenant_id", "text", AF_NULL | AF_FILTER, AC_NAME, 1, 63, NULL,
	 "null: a rule for every tenant"},
	{"prefix", AF_STRING, "prefix", "text", AF_FILTER, AC_DIGITS, 0, 15, NULL,
	 "digits of the E.164 number; '' matches all"},
	{"priority", AF_INT, "priority", "integer", 0, AC_NONE, 0, 1000000, NULL,
	 "lower first"},
	{"weight", AF_INT, "weight", "integer", 0, AC_NONE, 1, 1000000, NULL, ""},
	{"trunk_id", AF_STRING, "trunk_id", "uuid", AF_REQ | AF_FILTER, AC_UUID, 0, 0, NULL,
	 "carrier trunk"},
	{"enabled", AF_BOOL, "enabled", "boolean", 0, AC_NONE, 0, 0, NULL, ""},
	RECAMD_FIELDS,
	RO_TIMES,
};

static const struct api_field key_fields[] = {
	{"id", AF_STRING, "id", "uuid", AF_RO, AC_UUID, 0, 0, NULL, "server-assigned id"},
	{"tenant_id", AF_STRING, "tenant_id", "text", AF_OPWRITE | AF_NULL | AF_FILTER, AC_NAME,
	 1, 63, NULL, "owner; null or absent from an operator: an operator key"},
	{"name", AF_STRING, "name", "text", 0, AC_NONE, 0, 100, NULL, "what it is for"},
	{"scopes", AF_STRARRAY, "scopes", "text[]", 0, AC_SCOPES, 1, 32, NULL,
	 "scopes of a tenant key (a tenant grants at most its own)"},
	{"prefix", AF_STRING, "prefix", "text", AF_RO, AC_NONE, 0, 0, NULL,
	 "the key's first characters"},
	{"revoked_at", AF_STRING, "revoked_at", "timestamptz", AF_RO, AC_NONE, 0, 0, NULL, ""},
	RO_TIMES,
};

const struct api_resource api_resources[] = {
	{"tenants", "Tenant", "tenants", "id", "text", AT_SELF, "", "", false,
	 tenant_fields, NF(tenant_fields), NULL},
	{"trunks", "Trunk", "carrier_trunks", "id", "uuid", AT_NONE, "", "", false,
	 trunk_fields, NF(trunk_fields), NULL},
	{"dids", "Did", "did_numbers", "number", "text", AT_OWNED, "numbers:read", "", false,
	 did_fields, NF(did_fields), NULL},
	{"peers", "Peer", "customer_peers", "id", "uuid", AT_OWNED, "peers:read",
	 "peers:write", true, peer_fields, NF(peer_fields), NULL},
	{"outbound-routes", "OutboundRoute", "outbound_routes", "id", "uuid", AT_NONE, "", "",
	 false, route_fields, NF(route_fields), NULL},
	{"api-keys", "ApiKey", "api_keys", "id", "uuid", AT_OPTIONAL, "keys:read", "keys:write",
	 true, key_fields, NF(key_fields), NULL},
};
const size_t api_n_resources = NF(api_resources);

const struct api_resource *api_resource_find(const char *name)
{
	for (size_t i = 0; i < api_n_resources; i++)
		if (strcmp(api_resources[i].name, name) == 0)
			return &api_resources[i];
	return NULL;
}

/*
 * db_seed.c — `trunxd --seed`: puts a configuration file's [trunk] and [route]
 * sections into the database as carrier_trunks and routes rows, so that the sample
 * setup still routes when tools/run.sh gives trunxd its embedded Postgres. Rows that
 * exist (same name) are left as they are: seeding twice changes nothing, and an
 * operator's edits survive. Blocking; run before trunxd starts serving.
 */
#include "db/db_seed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "log.h"

/* "sip:[user@]host[:port][;params]" -> host, port, transport. */
static int split_uri(const char *uri, char *host, size_t hlen, char *port, size_t plen,
		     char *transport, size_t tlen)
{
	const char *p = strchr(uri, ':'), *end, *params, *at;
	size_t n;

	snprintf(port, plen, "5060");
	snprintf(transport, tlen, "udp");
	if (!p)
		return EINVAL;
	p++;
	at = strchr(p, '@');
	if (at)
		p = at + 1;
	params = strchr(p, ';');
	end = params ? params : p + strlen(p);
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (!rb || (size_t)(rb - p - 1) >= hlen)
			return EINVAL;
		memcpy(host, p + 1, (size_t)(rb - p - 1));
		host[rb - p - 1] = '\0';
		if (rb[1] == ':')
			snprintf(port, plen, "%.*s", (int)(end - rb - 2), rb + 2);
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		n = (size_t)((colon ? colon : end) - p);
		if (n == 0 || n >= hlen)
			return EINVAL;
		memcpy(host, p, n);
		host[n] = '\0';
		if (colon)
			snprintf(port, plen, "%.*s", (int)(end - colon - 1), colon + 1);
	}
	if (params && strcasestr(params, "transport=tcp"))
		snprintf(transport, tlen, "tcp");
	else if (params && strcasestr(params, "transport=tls"))
		snprintf(transport, tlen, "tls");
	return 0;
}

static char *trunk_config(const struct trunk_cfg *t)
{
	static const char *const rel[] = {"off", "supported", "required"};
	json_t *o = json_object(), *h = json_array();
	char *s;

	if (!o || !h) {
		json_decref(o);
		json_decref(h);
		return NULL;
	}
	if (t->country_code[0])
		json_object_set_new(o, "country_code", json_string(t->country_code));
	if (t->national_prefix[0])
		json_object_set_new(o, "national_prefix", json_string(t->national_prefix));
	if (t->international_prefix[0])
		json_object_set_new(o, "international_prefix", json_string(t->international_prefix));
	json_object_set_new(o, "session_expires", json_integer(t->session_expires));
	json_object_set_new(o, "min_se", json_integer(t->min_se));
	json_object_set_new(o, "100rel", json_string(rel[t->rel100 <= 2 ? t->rel100 : 1]));
	json_object_set_new(o, "trusted", json_boolean(t->trusted));
	for (size_t i = 0; i < t->n_pass_headers; i++)
		json_array_append_new(h, json_string(t->pass_headers[i]));
	json_object_set_new(o, "pass_headers", h);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void list_cidrs(const struct trunk_cfg *t, char *out, size_t len)
{
	size_t o = 0;

	o += (size_t)snprintf(out, len, "{");
	for (size_t i = 0; i < t->n_cidrs && o < len; i++) {
		char a[INET6_ADDRSTRLEN] = "";
		const struct route_cidr *c = &t->cidrs[i];
		const void *b = c->addr.ss_family == AF_INET ?
				(const void *)&((const struct sockaddr_in *)&c->addr)->sin_addr :
				(const void *)&((const struct sockaddr_in6 *)&c->addr)->sin6_addr;

		inet_ntop(c->addr.ss_family, b, a, sizeof(a));
		o += (size_t)snprintf(out + o, len - o, "%s%s/%u", i ? "," : "", a, c->bits);
	}
	if (o < len)
		snprintf(out + o, len - o, "}");
}

static void list_codecs(const struct trunk_cfg *t, char *out, size_t len)
{
	size_t o = 0;

	if (!t->n_codecs) {
		snprintf(out, len, "{PCMA,PCMU,telephone-event}");
		return;
	}
	o += (size_t)snprintf(out, len, "{");
	for (size_t i = 0; i < t->n_codecs && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%.*s", i ? "," : "",
				      (int)strcspn(t->codecs[i], "/"), t->codecs[i]);
	if (o < len)
		snprintf(out + o, len - o, "}");
}

static int exec_params(PGconn *c, const char *sql, int n, const char *const *p, int *added,
		       char *err, size_t errlen, const char *what)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	int rc = 0;

	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		rc = EIO;
	} else if (added) {
		*added += atoi(PQcmdTuples(r));
	}
	PQclear(r);
	return rc;
}

int db_seed(const char *conninfo, const struct conf *cf, int *trunks, int *routes, char *err,
	    size_t errlen)
{
	PGconn *c = PQconnectdb(conninfo);
	int rc = 0;

	*trunks = *routes = 0;
	if (!c || PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to Postgres: %s",
			 c ? PQerrorMessage(c) : "out of memory");
		PQfinish(c);
		return ECONNREFUSED;
	}
	PQclear(PQexec(c, "BEGIN"));
	for (size_t i = 0; i < cf->n_trunks && !rc; i++) {
		const struct trunk_cfg *t = &cf->trunks[i];
		char host[160] = "", port[16] = "5060", tp[8] = "udp";
		char ips[ROUTE_MAX_CIDRS * 48], codecs[128];
		static const char *const srtp[] = {"off", "optional", "required"};
		static const char *const dtmf[] = {"rfc4733", "inband", "info"};
		static const char *const latch[] = {"node", "known", "any"};
		char iport[8], what[128], cplx[8];
		char *config = trunk_config(t);
		const char *p[16];

		if (!config) {
			rc = ENOMEM;
			break;
		}
		if (t->uri[0] && split_uri(t->uri, host, sizeof(host), port, sizeof(port), tp,
					   sizeof(tp))) {
			snprintf(err, errlen, "trunk %s: cannot read uri %s", t->name, t->uri);
			free(config);
			rc = EINVAL;
			break;
		}
		list_cidrs(t, ips, sizeof(ips));
		list_codecs(t, codecs, sizeof(codecs));
		snprintf(iport, sizeof(iport), "%u", t->port);
		p[0] = t->name;
		p[1] = host[0] ? host : NULL;
		p[2] = host[0] ? port : "5060";
		p[3] = tp;
		p[4] = ips;
		p[5] = iport;
		p[6] = codecs;
		p[7] = config;
		/* the media options (migration 005) */
		snprintf(cplx, sizeof(cplx), "%u", t->opus_complexity);
		p[8] = srtp[t->srtp <= TRUNK_SRTP_REQUIRED ? t->srtp : 0];
		p[9] = t->srtp_without_tls ? "true" : "false";
		p[10] = t->tls_verify ? "true" : "false";
		p[11] = dtmf[t->dtmf <= TRUNK_DTMF_INFO ? t->dtmf : 0];
		p[12] = cplx;
		p[13] = t->opus_fec ? "true" : "false";
		p[14] = t->opus_dtx ? "true" : "false";
		p[15] = latch[t->latch <= TRUNK_LATCH_ANY ? t->latch : 0];   /* migration 006 */
		snprintf(what, sizeof(what), "trunk %s", t->name);
		rc = exec_params(c, "INSERT INTO carrier_trunks (name, provider, endpoint_host, "
				 "endpoint_port, transport, identify_match_ips, identify_port, codecs, "
				 "outbound_dial_format, configuration, srtp, srtp_without_tls, "
				 "tls_verify, dtmf, opus_complexity, opus_fec, opus_dtx, latch) VALUES "
				 "($1, 'configuration file', $2, $3::int, $4, $5::cidr[], $6::int, "
				 "$7::text[], 'plus_e164', $8::jsonb, $9, $10::boolean, $11::boolean, "
				 "$12, $13::int, $14::boolean, $15::boolean, $16) "
				 "ON CONFLICT (name) DO NOTHING", 16, p, trunks, err, errlen, what);
		free(config);
	}
	for (size_t i = 0; i < cf->n_routes && !rc; i++) {
		const struct route_cfg *r = &cf->routes[i];
		/* record_dir in the table is an absolute folder; a relative one is left
		 * out (logged) rather than failing the whole seed */
		const char *rec = r->record_dir[0] == '/' ? r->record_dir : NULL;
		const char *p[7] = {r->name, r->match, r->from_trunk[0] ? r->from_trunk : NULL,
				    r->to_trunk[0] ? r->to_trunk : NULL, r->uri[0] ? r->uri : NULL,
				    rec, r->amd ? "true" : "false"};
		char what[128];

		if (r->record_dir[0] && !rec)
			log_msg(LOG_WARN, "seed.record", "route %s: record = %s is not an absolute "
				"folder: not seeded", r->name, r->record_dir);
		snprintf(what, sizeof(what), "route %s", r->name);
		rc = exec_params(c, "INSERT INTO routes (name, match, from_trunk, to_trunk, uri, "
				 "record_dir, amd) VALUES ($1, $2, $3, $4, $5, $6, $7::boolean) "
				 "ON CONFLICT (name) DO NOTHING", 7, p, routes, err, errlen, what);
	}
	PQclear(PQexec(c, rc ? "ROLLBACK" : "COMMIT"));
	PQfinish(c);
	if (rc == ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

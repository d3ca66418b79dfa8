/*
 * events_dial.c — where a webhook attempt connects and how: the URL's scheme against
 * the node's policy (https always; http:// only with [events] webhook_allow_http), the
 * host resolved with evdns on the control loop (never a blocking lookup), every address
 * judged by events_addr_public unless webhook_allow_private (no delivery to loopback,
 * link-local, private or metadata addresses: a tenant cannot aim trunx at the inside),
 * and the connection opened to the address chosen — TLS through libevent's
 * bufferevent_openssl, the certificate verified against the system store (plus
 * webhook_ca_file) and the URL's host name or IP address.
 */
#include "events/events_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "events/events_sched.h"

struct dial_ticket {
	struct events *e;
	dial_h *h;
	void   *arg;        /**< NULL once cancelled */
	struct evdns_getaddrinfo_request *req;
};

int dial_init(struct events *e, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "webhooks: cannot create a TLS context");
		return ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();   /* no system store: only webhook_ca_file is trusted */
	if (e->cfg.webhook_ca_file[0] &&
	    SSL_CTX_load_verify_locations(ctx, e->cfg.webhook_ca_file, NULL) != 1) {
		snprintf(err, errlen, "[events] webhook_ca_file %s: not a readable PEM file of "
			 "CA certificates", e->cfg.webhook_ca_file);
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return EINVAL;
	}
	e->tls = ctx;
	return 0;
}

void dial_fini(struct events *e)
{
	SSL_CTX_free(e->tls);
	e->tls = NULL;
}

int dial_parse(const struct events *e, const char *url, struct dial_target *t,
	       char *why, size_t wlen)
{
	struct evhttp_uri *u = url ? evhttp_uri_parse(url) : NULL;
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	const char *query = u ? evhttp_uri_get_query(u) : NULL;
	unsigned char ip[16];
	int rc = EINVAL;

	memset(t, 0, sizeof(*t));
	if (!scheme || !host || !host[0] || strlen(host) >= sizeof(t->host) ||
	    evhttp_uri_get_userinfo(u)) {
		snprintf(why, wlen, "url: not an http(s) URL with a host");
		goto out;
	}
	if (strcmp(scheme, "https") == 0) {
		t->tls = true;
	} else if (strcmp(scheme, "http") != 0) {
		snprintf(why, wlen, "url: https:// (or http://) expected");
		goto out;
	} else if (!e->cfg.webhook_allow_http) {
		snprintf(why, wlen, "url: plain http:// webhooks are not allowed on this "
			 "server (https:// only)");
		goto out;
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']')   /* an IPv6 literal */
		snprintf(t->host, sizeof(t->host), "%.*s", (int)strlen(host) - 2, host + 1);
	else
		snprintf(t->host, sizeof(t->host), "%s", host);
	host = t->host;
	t->port = evhttp_uri_get_port(u);
	if (t->port <= 0)
		t->port = t->tls ? 443 : 80;
	if (t->port > 65535) {
		snprintf(why, wlen, "url: bad port");
		goto out;
	}
	t->literal = evutil_inet_pton(AF_INET, host, ip) == 1 ||
		     evutil_inet_pton(AF_INET6, host, ip) == 1;
	if (t->literal && !e->cfg.webhook_allow_private &&
	    !events_addr_public(ip, strchr(host, ':') ? 16 : 4)) {
		snprintf(why, wlen, "url: %s is not a public address", host);
		goto out;
	}
	snprintf(t->target, sizeof(t->target), "%s%s%s", path && path[0] ? path : "/",
		 query ? "?" : "", query ? query : "");
	snprintf(t->hostport, sizeof(t->hostport),
		 t->port == (t->tls ? 443 : 80) ? "%s%s%s" : "%s%s%s:%d",
		 strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", t->port);
	rc = 0;
out:
	if (u)
		evhttp_uri_free(u);
	return rc;
}

/* The first address the policy allows, as text. */
static int pick(const struct events *e, const struct evutil_addrinfo *ai, char *out,
		size_t len, char *why, size_t wlen)
{
	bool any = false;

	for (; ai; ai = ai->ai_next) {
		const unsigned char *a;
		size_t n;

		if (ai->ai_family == AF_INET) {
			a = (const unsigned char *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
			n = 4;
		} else if (ai->ai_family == AF_INET6) {
			a = (const unsigned char *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			n = 16;
		} else {
			continue;
		}
		any = true;
		if (!e->cfg.webhook_allow_private && !events_addr_public(a, n))
			continue;
		if (!inet_ntop(ai->ai_family, a, out, (socklen_t)len))
			continue;
		return 0;
	}
	snprintf(why, wlen, any ? "the host resolves to no public address" :
		 "the host has no address");
	return any ? EACCES : ENOENT;
}

static void on_resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct dial_ticket *tk = arg;
	char addr[INET6_ADDRSTRLEN] = "", why[128] = "";

	tk->req = NULL;
	if (tk->arg) {
		if (err)
			snprintf(why, sizeof(why), "dns: %s", evutil_gai_strerror(err));
		else
			pick(tk->e, ai, addr, sizeof(addr), why, sizeof(why));
		tk->h(tk->arg, addr[0] ? addr : NULL, addr[0] ? NULL : why);
	}
	if (ai)
		evutil_freeaddrinfo(ai);
	free(tk);
}

int dial_resolve(struct events *e, const struct dial_target *t, dial_h *h, void *arg,
		 struct dial_ticket **out)
{
	struct evutil_addrinfo hints = {0};
	struct evdns_getaddrinfo_request *req;
	struct dial_ticket *tk;

	*out = NULL;
	if (t->literal) {   /* checked by dial_parse */
		h(arg, t->host, NULL);
		return 0;
	}
	tk = calloc(1, sizeof(*tk));
	if (!tk)
		return ENOMEM;
	tk->e = e;
	tk->h = h;
	tk->arg = arg;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	*out = tk;
	req = evdns_getaddrinfo(e->dns, t->host, NULL, &hints, on_resolved, tk);
	if (req)
		tk->req = req;
	else
		*out = NULL;   /* answered already (hosts file, or an error): tk is freed */
	return 0;
}

void dial_cancel(struct dial_ticket *tk)
{
	if (!tk)
		return;
	tk->arg = NULL;   /* the callback, when libevent runs it, frees tk only */
	if (tk->req)
		evdns_getaddrinfo_cancel(tk->req);
}

struct evhttp_connection *dial_connect(struct events *e, const struct dial_target *t,
				       const char *addr, SSL **sslp, char *why, size_t wlen)
{
	struct bufferevent *bev = NULL;
	struct evhttp_connection *conn;
	SSL *ssl;

	*sslp = NULL;
	if (!t->tls) {
		conn = evhttp_connection_base_new(e->base, NULL, addr, (unsigned short)t->port);
		if (!conn)
			snprintf(why, wlen, "out of memory");
		return conn;
	}
	ssl = SSL_new(e->tls);
	if (!ssl) {
		snprintf(why, wlen, "tls: out of memory");
		return NULL;
	}
	if (t->literal) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t->host) != 1)
			goto fail;
	} else if (SSL_set_tlsext_host_name(ssl, t->host) != 1 ||
		   SSL_set1_host(ssl, t->host) != 1) {
		goto fail;
	}
	bev = bufferevent_openssl_socket_new(e->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev)
		goto fail;
	/* ssl is the bufferevent's now (freed with it) */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	conn = evhttp_connection_base_bufferevent_new(e->base, NULL, bev, addr,
						      (unsigned short)t->port);
	if (!conn) {
		bufferevent_free(bev);
		snprintf(why, wlen, "out of memory");
		return NULL;
	}
	*sslp = ssl;
	return conn;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	snprintf(why, wlen, "tls: cannot set up the connection");
	return NULL;
}

void dial_tls_error(SSL *ssl, struct bufferevent *bev, char *why, size_t wlen)
{
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long oe = bev ? bufferevent_get_openssl_error(bev) : 0;

	if (v != X509_V_OK) {
		snprintf(why, wlen, "tls: certificate: %s", X509_verify_cert_error_string(v));
	} else if (oe) {
		char buf[120];

		ERR_error_string_n(oe, buf, sizeof(buf));
		snprintf(why, wlen, "tls: %s", buf);
	}
}

/*
 * ctl_conf.c — compares a reloaded configuration with the running one and names the
 * settings that only a restart applies (see ctl_conf.h). Pure; owns nothing.
 */
#include "ctl/ctl_conf.h"

#include <stdbool.h>
#include <string.h>

static bool str_diff(const char *a, const char *b)
{
	return strcmp(a, b) != 0;
}

/* By member: memcmp would read the bytes after each string's end and the padding,
 * which two equal configurations need not share. */
static bool events_diff(const struct conf_events *a, const struct conf_events *b)
{
	return str_diff(a->http_addr, b->http_addr) || a->http_port != b->http_port ||
	       str_diff(a->webhook_retry, b->webhook_retry) ||
	       a->webhook_timeout_ms != b->webhook_timeout_ms ||
	       a->webhook_concurrency != b->webhook_concurrency ||
	       a->sse_keepalive_ms != b->sse_keepalive_ms || a->sse_buffer != b->sse_buffer ||
	       a->sse_max_per_tenant != b->sse_max_per_tenant ||
	       a->poll_ms != b->poll_ms || str_diff(a->webhook_ca_file, b->webhook_ca_file) ||
	       a->webhook_allow_http != b->webhook_allow_http ||
	       a->webhook_allow_private != b->webhook_allow_private;
}

size_t ctl_conf_restart_keys(const struct conf *running, const struct conf *next,
			     const char *keys[], size_t max)
{
	const struct conf_sip *a = &running->sip, *b = &next->sip;
	const struct media_engine_cfg *ma = &running->media, *mb = &next->media;
	const struct {
		const char *key;
		bool        changed;
	} checks[] = {
		{"general.control_socket",
		 str_diff(running->general.control_socket, next->general.control_socket)},
		{"sip.listen", str_diff(a->listen_addr, b->listen_addr) ||
			       a->listen_port != b->listen_port},
		{"sip.transports", a->udp != b->udp || a->tcp != b->tcp || a->tls != b->tls},
		{"sip.tls_listen", str_diff(a->tls_addr, b->tls_addr) ||
				   a->tls_port != b->tls_port},
		{"sip.tls_cert", str_diff(a->tls_cert, b->tls_cert) ||
				 str_diff(a->tls_key, b->tls_key) ||
				 str_diff(a->tls_ca, b->tls_ca) ||
				 str_diff(a->tls_ciphers, b->tls_ciphers)},
		{"sip.advertise", str_diff(a->advertise_addr, b->advertise_addr) ||
				  a->advertise_port != b->advertise_port},
		{"sip.user_agent", str_diff(a->user_agent, b->user_agent)},
		{"sip.transaction_timeout", a->transaction_timeout_ms != b->transaction_timeout_ms},
		{"sip.timer_t4", a->timer_t4_ms != b->timer_t4_ms},
		{"sip.tcp_max_connections", a->tcp_max_connections != b->tcp_max_connections},
		{"media.address", str_diff(ma->bind_addr, mb->bind_addr)},
		{"media.advertise", str_diff(running->media_advertise, next->media_advertise)},
		{"media.port_min", ma->port_min != mb->port_min},
		{"media.port_max", ma->port_max != mb->port_max},
		{"media.workers", ma->workers != mb->workers},
		{"media.rtp_timeout", ma->rtp_timeout_ms != mb->rtp_timeout_ms},
		{"media.hold_timeout", ma->hold_timeout_ms != mb->hold_timeout_ms},
		{"media.relatch", ma->relatch_ms != mb->relatch_ms},
		{"media.latch", ma->latch != mb->latch},
		{"media.max_delay_ms", ma->max_delay_ms != mb->max_delay_ms},
		{"media.io", ma->io != mb->io},
		{"media.kernel_forward", ma->kernel_forward != mb->kernel_forward},
		{"data.postgres", str_diff(running->data.postgres, next->data.postgres)},
		{"data.redis", str_diff(running->data.redis, next->data.redis)},
		{"data.node_id", str_diff(running->data.node_id, next->data.node_id)},
		{"data.journal_dir", str_diff(running->data.journal_dir, next->data.journal_dir)},
		{"data.lease_ttl", running->data.lease_ttl != next->data.lease_ttl},
		{"events", events_diff(&running->events, &next->events)},
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]) && n < max; i++) {
		if (checks[i].changed)
			keys[n++] = checks[i].key;
	}
	return n;
}

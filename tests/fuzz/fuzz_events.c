/* fuzz_events.c — the request values and settings the event stream parses: the webhook
 * retry schedule, Last-Event-ID, the SSE type filter, webhook secrets and webhook URLs
 * (dial_parse, under each policy). The first byte picks the parser; the rest is the text. Accepted values must satisfy what the
 * parsers promise (bounds, a filter that matches its own names). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/events_priv.h"
#include "events/events_sched.h"
#include "events/events_sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1 || size > 4096)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0: {
		struct events_sched sc;
		uint32_t ms;

		if (events_sched_parse(s, &sc) == 0) {
			if (sc.n < 1 || sc.n > EVENTS_SCHED_MAX)
				abort();
			for (unsigned i = 0; i < sc.n; i++)
				if (sc.delay_ms[i] > EVENTS_DELAY_MAX ||
				    events_sched_next(&sc, i, &ms) != 0 || ms != sc.delay_ms[i])
					abort();
			if (events_sched_next(&sc, sc.n, &ms) == 0)
				abort();
		}
		break;
	}
	case 1: {
		uint64_t id;

		if (events_parse_last_id(s, &id) == 0 && id > (uint64_t)INT64_MAX)
			abort();
		break;
	}
	case 2: {
		struct events_types t;

		if (events_parse_types(s, &t) == 0) {
			if (t.n > EVENTS_TYPES_MAX)
				abort();
			for (size_t i = 0; i < t.n; i++) {
				size_t n = strlen(t.name[i]);

				if (n == 0 || n >= EVENTS_TYPE_LEN)
					abort();
				if (t.name[i][n - 1] != '*' && !events_types_match(&t, t.name[i]))
					abort();
			}
		}
		break;
	}
	case 4: {
		/* A URL accepted under a policy has a host, a port and a target; without
		 * webhook_allow_http it is https; a literal it names is public unless
		 * webhook_allow_private. */
		static struct events e;
		struct dial_target t;
		char why[160];

		e.cfg.webhook_allow_http = (data[0] / 5) & 1;
		e.cfg.webhook_allow_private = (data[0] / 10) & 1;
		if (dial_parse(&e, s, &t, why, sizeof(why)) == 0) {
			if (!t.host[0] || t.port <= 0 || t.port > 65535 || t.target[0] != '/' ||
			    (!t.tls && !e.cfg.webhook_allow_http))
				abort();
		} else if (!why[0]) {
			abort();
		}
		break;
	}
	default: {
		uint8_t key[64];
		size_t klen = 0;
		char sig[EVENTS_SIG_LEN];

		if (events_secret_key(s, key, sizeof(key), &klen) == 0 &&
		    (klen == 0 || klen > sizeof(key)))
			abort();
		events_sign(s, "1", 1, s, strlen(s), sig, sizeof(sig));
		break;
	}
	}
	free(s);
	return 0;
}

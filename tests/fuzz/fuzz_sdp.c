/* fuzz_sdp.c — the SDP parser on arbitrary bytes, and the writer on whatever parses.
 * Oracle: the writer accepts every parsed session, and what it writes parses back
 * to the same streams and is written again byte for byte. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sdp_session s1, s2;
static char w1[SDP_MAX_LEN * 4], w2[SDP_MAX_LEN * 4];

/** Field-by-field equality of two streams; a=rtcp equal to port + 1 is implied. */
static bool media_same(const struct sdp_media *a, const struct sdp_media *b)
{
	unsigned ra = a->rtcp_port == a->port + 1 ? 0 : a->rtcp_port;
	unsigned rb = b->rtcp_port == b->port + 1 ? 0 : b->rtcp_port;

	if (strcmp(a->type, b->type) || a->port != b->port || strcmp(a->proto, b->proto) ||
	    a->af != b->af || strcmp(a->addr, b->addr) || a->dir != b->dir || ra != rb ||
	    a->rtcp_mux != b->rtcp_mux || a->ptime != b->ptime || a->n_codecs != b->n_codecs)
		return false;
	for (size_t i = 0; i < a->n_codecs; i++) {
		const struct sdp_codec *x = &a->codecs[i], *y = &b->codecs[i];

		if (x->pt != y->pt || strcmp(x->name, y->name) || x->rate != y->rate ||
		    x->channels != y->channels || strcmp(x->fmtp, y->fmtp))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[160];
	int n1, n2;

	if (sdp_parse(&s1, (const char *)data, size, err, sizeof(err)) != 0)
		return 0;
	n1 = sdp_write(w1, sizeof(w1), &s1);
	if (n1 <= 0)
		abort();   /* a parsed session the writer refuses */
	if ((size_t)n1 > SDP_MAX_LEN)
		return 0;  /* static rtpmap lines made it longer than a body may be */
	if (sdp_parse(&s2, w1, (size_t)n1, err, sizeof(err)) != 0)
		abort();   /* the writer's output does not parse */
	if (s1.n_media != s2.n_media || s1.sess_id != s2.sess_id ||
	    s1.sess_version != s2.sess_version)
		abort();
	for (size_t i = 0; i < s1.n_media; i++)
		if (!media_same(&s1.media[i], &s2.media[i]))
			abort();
	n2 = sdp_write(w2, sizeof(w2), &s2);
	if (n2 != n1 || memcmp(w1, w2, (size_t)n1) != 0)
		abort();
	return 0;
}

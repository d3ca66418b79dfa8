/*
 * msrtp.c — one side's SRTP contexts over libsrtp2 (see msrtp.h).
 */
#include "msrtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#define MSRTP_WINDOW 1024   /**< replay window, packets (libsrtp's range: 64-32768) */

struct msrtp_dir {
	srtp_t  ctx;                          /**< NULL = none */
	enum media_srtp_suite suite;
	uint8_t key[MEDIA_SRTP_KEY_LEN];
	/* The SSRCs libsrtp holds a stream for in ctx (it makes one for each new SSRC
	 * and never frees it), and when each was last used (inbound only). */
	uint32_t ssrc[MSRTP_SSRC_MAX];
	uint64_t used[MSRTP_SSRC_MAX];
	unsigned n;
	uint64_t tick;
};

struct msrtp {
	struct msrtp_dir rx;   /**< inbound: the side's key */
	struct msrtp_dir tx;   /**< outbound: ours */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Once per process. A second srtp_init() (another user in the process got there
 * first) answers bad_param: either way the library is usable or srtp_create() says
 * so. */
static void init_library(void)
{
	(void)srtp_init();
}

static void dir_free(struct msrtp_dir *d)
{
	if (d->ctx)
		srtp_dealloc(d->ctx);
	d->ctx = NULL;
	d->suite = MEDIA_SRTP_NONE;
	d->n = 0;
}

/* The SSRC libsrtp files an SRTP (offset 8) or SRTCP (offset 4) packet under. */
static uint32_t pkt_ssrc(bool rtcp, const uint8_t *buf)
{
	const uint8_t *p = buf + (rtcp ? 4 : 8);

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int ssrc_find(const struct msrtp_dir *d, uint32_t ssrc)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->ssrc[i] == ssrc)
			return (int)i;
	return -1;
}

/* An inbound packet of ssrc authenticated: libsrtp holds a stream for it now. Over
 * MSRTP_SSRC_MAX, the stream of the SSRC unused longest is freed. */
static void rx_note(struct msrtp_dir *d, uint32_t ssrc)
{
	int i = ssrc_find(d, ssrc);

	if (i < 0 && d->n < MSRTP_SSRC_MAX) {
		i = (int)d->n++;
	} else if (i < 0) {
		i = 0;
		for (unsigned k = 1; k < d->n; k++)
			if (d->used[k] < d->used[i])
				i = (int)k;
		(void)srtp_remove_stream(d->ctx, htonl(d->ssrc[i]));
	}
	d->ssrc[i] = ssrc;
	d->used[i] = ++d->tick;
}

static int dir_set(struct msrtp_dir *d, enum media_srtp_suite suite, const uint8_t *key,
		   bool inbound)
{
	srtp_policy_t pol;
	uint8_t k[MEDIA_SRTP_KEY_LEN];
	srtp_t ctx = NULL;

	if (d->ctx && d->suite == suite && memcmp(d->key, key, sizeof(d->key)) == 0)
		return 0;   /* same key: the context (rollover counters) is kept */
	memset(&pol, 0, sizeof(pol));
	if (suite == MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80)
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
	else if (suite == MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32)
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
	else
		return EINVAL;
	srtp_crypto_policy_set_rtcp_default(&pol.rtcp);   /* SRTCP: 80-bit tag */
	memcpy(k, key, sizeof(k));
	pol.key = k;
	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	pol.window_size = MSRTP_WINDOW;
	/* An index is never protected twice (a repeat under the same keystream would
	 * leak it): a duplicate the relay would forward is dropped instead. */
	pol.allow_repeat_tx = 0;
	switch (srtp_create(&ctx, &pol)) {
	case srtp_err_status_ok:
		break;
	case srtp_err_status_alloc_fail:
		return ENOMEM;
	default:
		return EIO;
	}
	memset(k, 0, sizeof(k));
	dir_free(d);   /* and its SSRCs */
	d->ctx = ctx;
	d->suite = suite;
	memcpy(d->key, key, sizeof(d->key));
	return 0;
}

void msrtp_destroy(struct msrtp *m)
{
	if (!m)
		return;
	dir_free(&m->rx);
	dir_free(&m->tx);
	memset(m, 0, sizeof(*m));   /* no key left in freed memory */
	free(m);
}

int msrtp_set(struct msrtp **mp, const struct media_srtp_params *p)
{
	struct msrtp *m = *mp;
	int err;

	if (p->suite == MEDIA_SRTP_NONE) {
		msrtp_destroy(m);
		*mp = NULL;
		return 0;
	}
	if (p->suite != MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80 &&
	    p->suite != MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32)
		return EINVAL;
	pthread_once(&init_once, init_library);
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m)
			return ENOMEM;
	}
	err = dir_set(&m->rx, p->suite, p->rx_key, true);
	if (!err)
		err = dir_set(&m->tx, p->suite, p->tx_key, false);
	if (err && !*mp) {
		msrtp_destroy(m);
		return err;
	}
	*mp = m;
	return err;
}

enum msrtp_result msrtp_unprotect(struct msrtp *m, bool rtcp, uint8_t *buf, size_t *len)
{
	int n = *len > INT_MAX ? INT_MAX : (int)*len;
	srtp_err_status_t st;
	uint32_t ssrc;

	if (!m || !m->rx.ctx || *len < (rtcp ? 8u : 12u))
		return MSRTP_BAD;
	ssrc = pkt_ssrc(rtcp, buf);
	st = rtcp ? srtp_unprotect_rtcp(m->rx.ctx, buf, &n) : srtp_unprotect(m->rx.ctx, buf, &n);
	switch (st) {
	case srtp_err_status_ok:
		rx_note(&m->rx, ssrc);
		*len = (size_t)n;
		return MSRTP_OK;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return MSRTP_REPLAY;
	case srtp_err_status_auth_fail:
		return MSRTP_AUTH;
	default:
		return MSRTP_BAD;
	}
}

int msrtp_protect(struct msrtp *m, bool rtcp, uint8_t *buf, size_t *len, size_t cap)
{
	int n;
	srtp_err_status_t st;
	uint32_t ssrc;
	bool known;

	if (!m || !m->tx.ctx || *len < (rtcp ? 8u : 12u))
		return EIO;
	if (*len > INT_MAX - MSRTP_TRAILER || *len + MSRTP_TRAILER > cap)
		return ENOSPC;
	/* A stream is never freed here: one made again would start its rollover
	 * counter at 0 and protect an index it protected before (the keystream
	 * repeated). So a new SSRC over the bound is refused instead. */
	ssrc = pkt_ssrc(rtcp, buf);
	known = ssrc_find(&m->tx, ssrc) >= 0;
	if (!known && m->tx.n == MSRTP_SSRC_MAX)
		return EIO;
	n = (int)*len;
	st = rtcp ? srtp_protect_rtcp(m->tx.ctx, buf, &n) : srtp_protect(m->tx.ctx, buf, &n);
	if (st != srtp_err_status_ok)
		return EIO;
	if (!known)
		m->tx.ssrc[m->tx.n++] = ssrc;
	*len = (size_t)n;
	return 0;
}

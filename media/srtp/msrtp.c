/*
 * msrtp.c — one side's SRTP contexts over libsrtp2 (see msrtp.h).
 */
#include "msrtp.h"

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
	dir_free(d);
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

	if (!m || !m->rx.ctx || *len < (rtcp ? 8u : 12u))
		return MSRTP_BAD;
	st = rtcp ? srtp_unprotect_rtcp(m->rx.ctx, buf, &n) : srtp_unprotect(m->rx.ctx, buf, &n);
	switch (st) {
	case srtp_err_status_ok:
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

	if (!m || !m->tx.ctx)
		return EIO;
	if (*len > INT_MAX - MSRTP_TRAILER || *len + MSRTP_TRAILER > cap)
		return ENOSPC;
	n = (int)*len;
	st = rtcp ? srtp_protect_rtcp(m->tx.ctx, buf, &n) : srtp_protect(m->tx.ctx, buf, &n);
	if (st != srtp_err_status_ok)
		return EIO;
	*len = (size_t)n;
	return 0;
}

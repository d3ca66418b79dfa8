/*
 * sdp_crypto.c — SDES key attributes (RFC 4568 a=crypto): a lenient parser and the
 * writer for trunx's own. Only what trunx can serve is accepted as usable:
 * AES_CM_128_HMAC_SHA1_80 and _32 with an inline key and no MKI; anything else parses
 * to a reason so the caller can skip the line for another.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sdp.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* Decodes n characters of base64 (padding allowed at the end) into out[max]. */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t max, size_t *outn)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0, i;

	while (n && s[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++) {
		int v = b64_val(s[i]);

		if (v < 0)
			return EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == max)
				return EOVERFLOW;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*outn = o;
	return 0;
}

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static bool digits(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!n || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* "inline:KEY[|LIFETIME][|MKI:LEN]" */
static int key_param(const char *p, size_t n, struct sdp_crypto *c, const char **why)
{
	const char *end = p + n, *bar;
	size_t klen, got;
	uint64_t v;

	if (n < 7 || strncasecmp(p, "inline:", 7) != 0) {
		*why = "key method is not inline";
		return ENOTSUP;
	}
	p += 7;
	bar = memchr(p, '|', (size_t)(end - p));
	klen = (size_t)((bar ? bar : end) - p);
	if (b64_decode(p, klen, c->key, sizeof(c->key), &got) || got != SDP_CRYPTO_KEY_LEN) {
		*why = "key is not 30 bytes of base64";
		return EINVAL;
	}
	while (bar) {
		const char *f = bar + 1, *colon;
		size_t fl;

		bar = memchr(f, '|', (size_t)(end - f));
		fl = (size_t)((bar ? bar : end) - f);
		colon = memchr(f, ':', fl);
		if (colon) {
			/* an MKI: trunx sends and takes packets without one */
			*why = "MKI not supported";
			return ENOTSUP;
		}
		if (fl > 2 && f[0] == '2' && f[1] == '^') {
			if (!digits(f + 2, fl - 2, 63, &v)) {
				*why = "bad key lifetime";
				return EINVAL;
			}
			c->lifetime = 1ull << v;
		} else if (digits(f, fl, UINT64_MAX / 2, &v)) {
			c->lifetime = v;
		} else {
			*why = "bad key lifetime";
			return EINVAL;
		}
	}
	return 0;
}

int sdp_crypto_parse(const char *value, struct sdp_crypto *c, const char **why)
{
	const char *p = value, *t;
	const char *dummy;
	uint64_t v;
	size_t n;
	int err;

	if (!why)
		why = &dummy;
	memset(c, 0, sizeof(*c));
	if (!value) {
		*why = "no value";
		return EINVAL;
	}
	p += strspn(p, " \t");
	n = strcspn(p, " \t");
	if (!digits(p, n, 999999999, &v)) {
		*why = "bad tag";
		return EINVAL;
	}
	c->tag = (uint32_t)v;
	p += n;
	p += strspn(p, " \t");
	n = strcspn(p, " \t");
	if (n == 23 && strncasecmp(p, "AES_CM_128_HMAC_SHA1_80", 23) == 0) {
		c->suite = SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80;
	} else if (n == 23 && strncasecmp(p, "AES_CM_128_HMAC_SHA1_32", 23) == 0) {
		c->suite = SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32;
	} else {
		*why = n ? "unsupported crypto suite" : "no crypto suite";
		return n ? ENOTSUP : EINVAL;
	}
	p += n;
	p += strspn(p, " \t");
	n = strcspn(p, " \t");
	if (!n) {
		*why = "no key";
		return EINVAL;
	}
	/* Several keys may be listed (";"): the first one decides (one key per stream). */
	t = memchr(p, ';', n);
	err = key_param(p, t ? (size_t)(t - p) : n, c, why);
	if (err)
		return err;
	p += n;
	/* Session parameters: the ones that change what is protected; others ignored. */
	while (*(p += strspn(p, " \t"))) {
		n = strcspn(p, " \t");
		if (n == 16 && strncasecmp(p, "UNENCRYPTED_SRTP", 16) == 0)
			c->unencrypted_srtp = true;
		else if (n == 17 && strncasecmp(p, "UNENCRYPTED_SRTCP", 17) == 0)
			c->unencrypted_srtcp = true;
		else if (n == 20 && strncasecmp(p, "UNAUTHENTICATED_SRTP", 20) == 0)
			c->unauthenticated_srtp = true;
		p += n;
	}
	if (c->unencrypted_srtp || c->unencrypted_srtcp || c->unauthenticated_srtp) {
		*why = "unencrypted or unauthenticated SRTP not supported";
		return ENOTSUP;
	}
	return 0;
}

int sdp_crypto_write(const struct sdp_crypto *c, char *out, size_t len)
{
	char key[48];
	int n;

	if (c->suite != SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80 &&
	    c->suite != SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32)
		return -1;
	b64_encode(c->key, SDP_CRYPTO_KEY_LEN, key);
	n = snprintf(out, len, "%u %s inline:%s", (unsigned)c->tag,
		     c->suite == SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80 ? "AES_CM_128_HMAC_SHA1_80"
								    : "AES_CM_128_HMAC_SHA1_32", key);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

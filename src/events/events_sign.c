/*
 * events_sign.c — Standard Webhooks secrets and signatures (see events_sign.h).
 */
#include "events/events_sign.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define PREFIX "whsec_"

int events_secret_new(char *out, size_t len)
{
	uint8_t key[EVENTS_SECRET_BYTES];
	char b64[EVENTS_SECRET_LEN];

	if (!out || len < EVENTS_SECRET_LEN)
		return EINVAL;
	if (RAND_bytes(key, sizeof(key)) != 1)
		return EIO;
	EVP_EncodeBlock((unsigned char *)b64, key, sizeof(key));
	snprintf(out, len, PREFIX "%s", b64);
	return 0;
}

int events_secret_key(const char *secret, uint8_t *key, size_t keymax, size_t *keylen)
{
	const char *b;
	size_t n, pad = 0;
	uint8_t *tmp;
	int got;

	if (!secret || strncmp(secret, PREFIX, strlen(PREFIX)) != 0)
		return EINVAL;
	b = secret + strlen(PREFIX);
	n = strlen(b);
	if (n == 0 || n % 4 != 0 || n > 4 * ((keymax + 2) / 3))
		return EINVAL;
	for (size_t i = 0; i < n; i++) {
		char ch = b[i];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			  (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';

		if (ch == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		if (!ok || pad)
			return EINVAL;
	}
	tmp = malloc(n / 4 * 3);
	if (!tmp)
		return ENOMEM;
	got = EVP_DecodeBlock(tmp, (const unsigned char *)b, (int)n);
	if (got < 0 || (size_t)got < pad || (size_t)got - pad > keymax || (size_t)got == pad) {
		free(tmp);
		return EINVAL;
	}
	*keylen = (size_t)got - pad;
	memcpy(key, tmp, *keylen);
	free(tmp);
	return 0;
}

int events_sign(const char *secret, const char *msg_id, int64_t timestamp,
		const void *body, size_t len, char *out, size_t outlen)
{
	uint8_t key[128], mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	size_t keylen = 0;
	char head[128];
	uint8_t *msg;
	int hn, err;

	if (!msg_id || (!body && len) || !out || outlen < EVENTS_SIG_LEN)
		return EINVAL;
	err = events_secret_key(secret, key, sizeof(key), &keylen);
	if (err)
		return err;
	hn = snprintf(head, sizeof(head), "%s.%" PRId64 ".", msg_id, timestamp);
	if (hn < 0 || (size_t)hn >= sizeof(head))
		return EINVAL;
	msg = malloc((size_t)hn + len + 1);
	if (!msg)
		return ENOMEM;
	memcpy(msg, head, (size_t)hn);
	if (len)
		memcpy(msg + hn, body, len);
	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, (size_t)hn + len, mac, &maclen)) {
		free(msg);
		return ENOMEM;
	}
	free(msg);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
	return 0;
}

int events_sign_header(const char *const *secrets, size_t n, const char *msg_id,
		       int64_t timestamp, const void *body, size_t len, char *out,
		       size_t outlen)
{
	size_t used = 0;

	if (!secrets || n == 0 || !out || outlen == 0)
		return EINVAL;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char sig[EVENTS_SIG_LEN];
		int err = events_sign(secrets[i], msg_id, timestamp, body, len, sig, sizeof(sig));

		if (err)
			return err;
		if (used + strlen(sig) + 2 > outlen)
			return EINVAL;
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? " " : "", sig);
	}
	return 0;
}

/*
 * events_sign.h — Standard Webhooks signatures: webhook secrets ("whsec_" + base64 of
 * the key), and "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" over the exact bytes
 * sent; one signature per secret while a secret rotates, space-separated. Pure code
 * (OpenSSL for HMAC, base64 and random bytes).
 */
#ifndef TRUNX_EVENTS_SIGN_H
#define TRUNX_EVENTS_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define EVENTS_SECRET_BYTES 32     /* key length of the secrets trunx makes */
#define EVENTS_SECRET_LEN   64     /* "whsec_" + base64(32 bytes) + NUL fits */
#define EVENTS_SIG_LEN      52     /* "v1," + base64(32 bytes) + NUL fits */

/**
 * A new secret: "whsec_" + base64 of EVENTS_SECRET_BYTES random bytes.
 * @return 0, EINVAL (out too short), EIO (no randomness)
 */
int events_secret_new(char *out, size_t len);

/**
 * The key of a secret: base64-decoded after "whsec_".
 * @param key     receives up to keymax bytes
 * @return 0, EINVAL (no prefix, not base64, empty, longer than keymax)
 */
int events_secret_key(const char *secret, uint8_t *key, size_t keymax, size_t *keylen);

/**
 * One signature "v1,<base64>" of msg_id "." timestamp "." body.
 * @return 0, EINVAL (bad secret, out too short), ENOMEM
 */
int events_sign(const char *secret, const char *msg_id, int64_t timestamp,
		const void *body, size_t len, char *out, size_t outlen);

/**
 * The webhook-signature header: one signature per secret, space-separated.
 * @return 0, EINVAL, ENOMEM
 */
int events_sign_header(const char *const *secrets, size_t n, const char *msg_id,
		       int64_t timestamp, const void *body, size_t len, char *out,
		       size_t outlen);

#endif

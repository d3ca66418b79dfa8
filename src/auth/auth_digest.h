/*
 * auth_digest.h — SIP digest authentication as a server (RFC 2617 / 3261 §22): parsing
 * an Authorization header, checking a response, and issuing nonces that expire and
 * can be used once (replay-safe), for trunks and peers identified by digest where
 * several share a source address.
 *
 * DESIGN
 * A nonce is 48 hex digits: a 64-bit issue time (ms), a 64-bit serial and the first
 * 8 bytes of HMAC-SHA256(node secret, time | serial). Checking one needs no table: the
 * MAC proves we issued it, the time that it is fresh. Replays are refused with a
 * window of the last AUTH_WINDOW serials, one bit each: a nonce whose bit is set, or
 * whose serial fell out of the window, is stale. The secret is random per process, so
 * a nonce is good only on the node that gave it (a retry reaching another node is
 * simply challenged again). Pure code but for the random secret: no I/O, fuzzed.
 * MD5 only, as the SIP stacks trunx meets (and the stack trunx uses) do.
 */
#ifndef TRUNX_AUTH_DIGEST_H
#define TRUNX_AUTH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_NONCE_LEN 48
#define AUTH_WINDOW    65536   /* serials remembered (a power of two) */

/** What an Authorization: Digest header carries (strings NUL-terminated, unquoted). */
struct auth_creds {
	char username[64];
	char realm[64];
	char nonce[64];
	char uri[256];
	char response[40];
	char algorithm[16];   /**< "" = MD5 */
	char cnonce[128];
	char qop[16];         /**< "" or "auth" */
	char nc[16];
};

/**
 * Parses the value of an Authorization (or Proxy-Authorization) header:
 * `Digest k=v, k="v", ...`. Unknown parameters are ignored; a repeated one, a value too
 * long, or another scheme is refused.
 * @return 0, EINVAL
 */
int auth_parse(const char *value, struct auth_creds *c);

struct auth_nonces;

int auth_nonces_create(struct auth_nonces **np, unsigned ttl_ms);
void auth_nonces_destroy(struct auth_nonces *n);

/** Writes a fresh nonce (AUTH_NONCE_LEN hex digits and a NUL) issued at now_ms. */
void auth_nonce_new(struct auth_nonces *n, uint64_t now_ms, char out[AUTH_NONCE_LEN + 1]);

enum auth_result {
	AUTH_OK = 0,
	AUTH_STALE,       /**< our nonce, but expired or already used: challenge again */
	AUTH_BAD_NONCE,   /**< not a nonce of ours */
	AUTH_MISMATCH,    /**< the response is wrong (password, method or URI) */
	AUTH_MALFORMED,   /**< missing fields, other algorithm or qop */
};

const char *auth_result_name(enum auth_result r);

/**
 * Checks credentials against a password: the nonce ours, fresh and unused, then the
 * response. An accepted nonce is used up (AUTH_OK is returned once per nonce).
 */
enum auth_result auth_check(struct auth_nonces *n, uint64_t now_ms, const struct auth_creds *c,
			    const char *method, const char *password);

/** The hex MD5 response a client would send (for tests and the checker). */
void auth_response(const char *user, const char *realm, const char *password,
		   const char *method, const char *uri, const char *nonce, const char *nc,
		   const char *cnonce, const char *qop, char out[33]);

#endif

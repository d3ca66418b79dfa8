/*
 * auth_digest.c — digest authentication as a server (see auth_digest.h): the
 * Authorization parser, the MD5 response, and nonces that expire and serve once.
 */
#include "auth/auth_digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/evp.h>

struct auth_nonces {
	uint8_t  secret[32];
	unsigned ttl_ms;
	uint64_t serial;                     /**< last issued */
	uint8_t  used[AUTH_WINDOW / 8];      /**< bit per serial modulo the window */
};

const char *auth_result_name(enum auth_result r)
{
	switch (r) {
	case AUTH_OK:        return "ok";
	case AUTH_STALE:     return "stale";
	case AUTH_BAD_NONCE: return "bad_nonce";
	case AUTH_MISMATCH:  return "mismatch";
	case AUTH_MALFORMED: return "malformed";
	}
	return "?";
}

/* ---- parsing ---- */

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-.!%*_+`'~", c));
}

int auth_parse(const char *v, struct auth_creds *c)
{
	static const struct { const char *name; size_t off, size; } fields[] = {
#define F(n) {#n, offsetof(struct auth_creds, n), sizeof(((struct auth_creds *)0)->n)}
		F(username), F(realm), F(nonce), F(uri), F(response), F(algorithm), F(cnonce),
		F(qop), F(nc),
#undef F
	};
	bool seen[sizeof(fields) / sizeof(fields[0])] = {false};
	const char *p = v;

	memset(c, 0, sizeof(*c));
	if (!v)
		return EINVAL;
	p += strspn(p, " \t");
	if (strncasecmp(p, "Digest", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return EINVAL;
	p += 6;
	for (;;) {
		char name[32], val[256];
		size_t n = 0, vn = 0;
		int f = -1;

		p += strspn(p, " \t,");
		if (!*p)
			break;
		while (tchar(*p) && n + 1 < sizeof(name))
			name[n++] = *p++;
		name[n] = '\0';
		if (!n || tchar(*p))
			return EINVAL;
		p += strspn(p, " \t");
		if (*p++ != '=')
			return EINVAL;
		p += strspn(p, " \t");
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if ((unsigned char)*p < 0x20 || vn + 1 >= sizeof(val))
					return EINVAL;
				val[vn++] = *p++;
			}
			if (*p++ != '"')
				return EINVAL;
		} else {
			while (tchar(*p)) {
				if (vn + 1 >= sizeof(val))
					return EINVAL;
				val[vn++] = *p++;
			}
			if (!vn)
				return EINVAL;
		}
		val[vn] = '\0';
		p += strspn(p, " \t");
		if (*p && *p != ',')
			return EINVAL;
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcasecmp(name, fields[i].name) == 0)
				f = (int)i;
		if (f < 0)
			continue;   /* opaque and friends: not ours to check */
		if (seen[f] || vn >= fields[f].size)
			return EINVAL;
		seen[f] = true;
		memcpy((char *)c + fields[f].off, val, vn + 1);
	}
	return 0;
}

/* ---- hashes ---- */

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* MD5 of the parts joined by ':', in hex. */
static void md5_join(char out[33], const char *const *parts, size_t n)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
		EVP_MD_CTX_free(ctx);
		out[0] = '\0';
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			EVP_DigestUpdate(ctx, ":", 1);
		EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
	}
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	hex(md, 16, out);
}

void auth_response(const char *user, const char *realm, const char *password,
		   const char *method, const char *uri, const char *nonce, const char *nc,
		   const char *cnonce, const char *qop, char out[33])
{
	char ha1[33], ha2[33];
	const char *p1[3] = {user, realm, password}, *p2[2] = {method, uri};

	md5_join(ha1, p1, 3);
	md5_join(ha2, p2, 2);
	if (qop && qop[0]) {
		const char *p[6] = {ha1, nonce, nc, cnonce, qop, ha2};

		md5_join(out, p, 6);
	} else {
		const char *p[3] = {ha1, nonce, ha2};

		md5_join(out, p, 3);
	}
}

/* HMAC-SHA256 (RFC 2104) of data, truncated to 8 bytes. */
static void mac8(const uint8_t *key, const uint8_t *data, size_t n, uint8_t out[8])
{
	uint8_t pad[64 + 64], inner[32], md[32];
	unsigned len;

	memset(pad, 0, 64);
	memcpy(pad, key, 32);
	for (int i = 0; i < 64; i++)
		pad[i] ^= 0x36;
	memcpy(pad + 64, data, n);
	EVP_Digest(pad, 64 + n, inner, &len, EVP_sha256(), NULL);
	memset(pad, 0, 64);
	memcpy(pad, key, 32);
	for (int i = 0; i < 64; i++)
		pad[i] ^= 0x5c;
	memcpy(pad + 64, inner, 32);
	EVP_Digest(pad, 64 + 32, md, &len, EVP_sha256(), NULL);
	memcpy(out, md, 8);
}

/* ---- nonces ---- */

int auth_nonces_create(struct auth_nonces **np, unsigned ttl_ms)
{
	struct auth_nonces *n;

	if (!np || !ttl_ms)
		return EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return ENOMEM;
	if (getrandom(n->secret, sizeof(n->secret), 0) != (ssize_t)sizeof(n->secret)) {
		free(n);
		return EIO;
	}
	n->ttl_ms = ttl_ms;
	*np = n;
	return 0;
}

void auth_nonces_destroy(struct auth_nonces *n)
{
	free(n);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void auth_nonce_new(struct auth_nonces *n, uint64_t now_ms, char out[AUTH_NONCE_LEN + 1])
{
	uint8_t b[24];
	uint64_t s = ++n->serial;

	n->used[(s % AUTH_WINDOW) / 8] &= (uint8_t)~(1u << (s % 8));
	put64(b, now_ms);
	put64(b + 8, s);
	mac8(n->secret, b, 16, b + 16);
	hex(b, sizeof(b), out);
}

static int unhex(const char *s, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;

		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return EINVAL;
		}
		b[i] = (uint8_t)v;
	}
	return 0;
}

enum auth_result auth_check(struct auth_nonces *n, uint64_t now_ms, const struct auth_creds *c,
			    const char *method, const char *password)
{
	uint8_t b[24], mac[8], diff = 0;
	uint64_t issued, serial;
	char want[33];
	bool used;

	if (!c->username[0] || !c->nonce[0] || !c->uri[0] || !c->response[0] ||
	    (c->algorithm[0] && strcasecmp(c->algorithm, "MD5") != 0) ||
	    (c->qop[0] && (strcmp(c->qop, "auth") != 0 || !c->cnonce[0] || !c->nc[0])))
		return AUTH_MALFORMED;
	if (strlen(c->nonce) != AUTH_NONCE_LEN || unhex(c->nonce, b, sizeof(b)))
		return AUTH_BAD_NONCE;
	mac8(n->secret, b, 16, mac);
	for (int i = 0; i < 8; i++)
		diff |= (uint8_t)(mac[i] ^ b[16 + i]);
	if (diff)
		return AUTH_BAD_NONCE;
	issued = get64(b);
	serial = get64(b + 8);
	if (serial == 0 || serial > n->serial || issued > now_ms)
		return AUTH_BAD_NONCE;
	if (now_ms - issued > n->ttl_ms || n->serial - serial >= AUTH_WINDOW)
		return AUTH_STALE;
	used = n->used[(serial % AUTH_WINDOW) / 8] & (1u << (serial % 8));
	if (used)
		return AUTH_STALE;
	/* One attempt per nonce, whatever its outcome. */
	n->used[(serial % AUTH_WINDOW) / 8] |= (uint8_t)(1u << (serial % 8));
	auth_response(c->username, c->realm, password, method, c->uri, c->nonce, c->nc,
		      c->cnonce, c->qop, want);
	if (strlen(c->response) != 32 || strcasecmp(want, c->response) != 0)
		return AUTH_MISMATCH;
	return AUTH_OK;
}

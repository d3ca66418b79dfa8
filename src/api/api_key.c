/*
 * api_key.c — API keys: "tk_live_" and 40 base62 characters from the system's
 * random generator (about 238 bits), their SHA-256 (the only form Postgres keeps),
 * and the blocking creation used by `trunxd --create-api-key` to make the first
 * operator key before any exists.
 */
#include "api/api.h"
#include "api/api_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int api_key_generate(char *out, size_t len)
{
	size_t plen = strlen(API_KEY_PREFIX);
	unsigned char rnd[64];
	size_t i = 0, o = plen;

	if (len < API_KEY_LEN + 1)
		return EINVAL;
	memcpy(out, API_KEY_PREFIX, plen);
	while (o < API_KEY_LEN) {
		if (i == 0 && RAND_bytes(rnd, sizeof(rnd)) != 1)
			return EIO;
		if (rnd[i] < 248)   /* 248 = 4 * 62: no modulo bias */
			out[o++] = b62[rnd[i] % 62];
		i = (i + 1) % sizeof(rnd);
	}
	out[o] = 0;
	return 0;
}

void api_key_hash(const char *key, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(key, strlen(key), md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = 0;
}

bool api_key_wellformed(const char *s)
{
	size_t plen = strlen(API_KEY_PREFIX);

	if (!s || strncmp(s, API_KEY_PREFIX, plen) != 0 || strlen(s) != API_KEY_LEN)
		return false;
	for (size_t i = plen; s[i]; i++)
		if (!isalnum((unsigned char)s[i]))
			return false;
	return true;
}

int api_key_create_blocking(const char *conninfo, const char *tenant, const char *name,
			    const char *scopes_csv, char *key, size_t keylen, char *err,
			    size_t errlen)
{
	char hash[65], prefix[16], scopes[512];
	const char *p[5];
	PGconn *c;
	PGresult *res;
	int rc = 0;

	if (tenant && tenant[0] && strspn(tenant, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
					  "qrstuvwxyz0123456789_.-") != strlen(tenant)) {
		snprintf(err, errlen, "bad tenant id");
		return EINVAL;
	}
	/* "a,b" -> "{a,b}" after checking each scope. */
	snprintf(scopes, sizeof(scopes), "{");
	if (scopes_csv && scopes_csv[0]) {
		char tmp[400], *save = NULL;

		snprintf(tmp, sizeof(tmp), "%s", scopes_csv);
		for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			bool known = false;

			for (size_t i = 0; api_scope_names[i]; i++)
				known |= strcmp(api_scope_names[i], t) == 0;
			if (!known) {
				snprintf(err, errlen, "unknown scope %s", t);
				return EINVAL;
			}
			strncat(scopes, t, sizeof(scopes) - strlen(scopes) - 2);
			strncat(scopes, ",", sizeof(scopes) - strlen(scopes) - 2);
		}
		scopes[strlen(scopes) - 1] = 0;
	}
	strncat(scopes, "}", sizeof(scopes) - strlen(scopes) - 1);
	if (api_key_generate(key, keylen)) {
		snprintf(err, errlen, "no randomness");
		return EIO;
	}
	api_key_hash(key, hash);
	snprintf(prefix, sizeof(prefix), "%.12s", key);
	p[0] = hash;
	p[1] = prefix;
	p[2] = name ? name : "";
	p[3] = tenant && tenant[0] ? tenant : NULL;
	p[4] = scopes;
	c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(c));
		PQfinish(c);
		return EIO;
	}
	res = PQexecParams(c, "INSERT INTO api_keys (key_hash, prefix, name, tenant_id, scopes) "
			   "VALUES ($1, $2, $3, $4, $5::text[]) RETURNING id", 5, NULL, p, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		rc = EIO;
	}
	PQclear(res);
	PQfinish(c);
	if (rc)
		memset(key, 0, keylen);
	return rc;
}

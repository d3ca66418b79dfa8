/*
 * api_idem.c — the Idempotency-Key of POST /v1/calls, kept in Redis for 24 h so that
 * every trunxd node gives a retried request the first one's answer.
 *
 * DESIGN
 * One Redis string per (tenant, key): "trunx:idem:{tenant}:<sha256 of the key>"
 * holding {"h": sha256 of the request, "s": status, "b": answer body}. A request
 * claims its key with SET NX and a pending marker (s = 0) that expires after
 * IDEM_PENDING_S, so that of two requests racing with one key only one places a
 * call; the other finds the marker (409 while the first is in flight). The answer
 * then replaces the marker for IDEM_TTL_S; answers that invite a retry (429, 5xx)
 * remove it instead, so the retry is a new attempt. A key met again with another
 * request (another body or tenant_id) is a misuse: 422.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "kv/kv.h"

#define IDEM_TTL_S     86400
#define IDEM_PENDING_S 120

struct idem_job {
	struct api_req *r;
	api_idem_h     *h;
	char            rkey[160];
	char            hash[65];
};

static int cmd(struct kv *kv, kv_reply_h *h, void *arg, int argc, const char **argv)
{
	size_t len[8];

	for (int i = 0; i < argc && i < 8; i++)
		len[i] = strlen(argv[i]);
	return kv_command(kv, h, arg, argc, argv, len);
}

static void hex_sha256(const char *s, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_Digest(s, n, md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

bool api_idem_key_ok(const char *key)
{
	size_t n = key ? strlen(key) : 0;

	if (n < 1 || n > API_IDEM_KEY_MAX)
		return false;
	for (const char *p = key; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return false;
	return true;
}

void api_idem_names(const char *tenant, const char *key, const json_t *body,
		    struct api_idem *out)
{
	char kh[65], *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);

	hex_sha256(key, strlen(key), kh);
	snprintf(out->rkey, sizeof(out->rkey), "trunx:idem:{%s}:%s", tenant, kh);
	hex_sha256(canon ? canon : "", canon ? strlen(canon) : 0, out->hash);
	free(canon);
}

static void on_get(int err, struct redisReply *rep, void *arg)
{
	struct idem_job *j = arg;
	json_t *v = NULL, *b;
	const char *h;
	int s;

	if (err || !rep || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL)) {
		j->h(j->r, API_IDEM_DOWN, 0, NULL);
		free(j);
		return;
	}
	if (rep->type == REDIS_REPLY_NIL) {
		/* The first one ended meanwhile with an answer that was not kept (429,
		 * 5xx): this request may be tried again. */
		j->h(j->r, API_IDEM_BUSY, 0, NULL);
		free(j);
		return;
	}
	v = json_loadb(rep->str, rep->len, 0, NULL);
	h = json_string_value(json_object_get(v, "h"));
	s = (int)json_integer_value(json_object_get(v, "s"));
	b = json_object_get(v, "b");
	if (!h || strcmp(h, j->hash) != 0)
		j->h(j->r, API_IDEM_REUSED, 0, NULL);
	else if (s == 0)
		j->h(j->r, API_IDEM_BUSY, 0, NULL);
	else
		j->h(j->r, API_IDEM_REPLAY, s, b);
	json_decref(v);
	free(j);
}

static void on_claim(int err, struct redisReply *rep, void *arg)
{
	struct idem_job *j = arg;
	const char *argv[2] = {"GET", j->rkey};

	if (err || !rep || rep->type == REDIS_REPLY_ERROR) {
		j->h(j->r, API_IDEM_DOWN, 0, NULL);
		free(j);
		return;
	}
	if (rep->type == REDIS_REPLY_STATUS) {   /* OK: ours */
		j->h(j->r, API_IDEM_NEW, 0, NULL);
		free(j);
		return;
	}
	if (cmd(api_kv(j->r->api), on_get, j, 2, argv) != 0) {
		j->h(j->r, API_IDEM_DOWN, 0, NULL);
		free(j);
	}
}

void api_idem_claim(struct api_req *r, const struct api_idem *id, api_idem_h *h)
{
	struct idem_job *j = calloc(1, sizeof(*j));
	char val[128], ttl[16];
	const char *argv[6];
	struct kv *kv = api_kv(r->api);

	if (!j || !kv) {
		free(j);
		h(r, API_IDEM_DOWN, 0, NULL);
		return;
	}
	j->r = r;
	j->h = h;
	snprintf(j->rkey, sizeof(j->rkey), "%s", id->rkey);
	snprintf(j->hash, sizeof(j->hash), "%s", id->hash);
	snprintf(val, sizeof(val), "{\"h\":\"%s\",\"s\":0}", id->hash);
	snprintf(ttl, sizeof(ttl), "%d", IDEM_PENDING_S);
	argv[0] = "SET";
	argv[1] = j->rkey;
	argv[2] = val;
	argv[3] = "NX";
	argv[4] = "EX";
	argv[5] = ttl;
	if (cmd(kv, on_claim, j, 6, argv) != 0) {
		free(j);
		h(r, API_IDEM_DOWN, 0, NULL);
	}
}

static void on_done(int err, struct redisReply *rep, void *arg)
{
	(void)err;
	(void)rep;
	(void)arg;
}

void api_idem_finish(struct api *a, const struct api_idem *id, int status, const json_t *body)
{
	struct kv *kv = api_kv(a);
	json_t *v;
	char *s, ttl[16];
	const char *argv[5];

	if (!kv)
		return;
	if (status == 429 || status >= 500) {
		argv[0] = "DEL";
		argv[1] = id->rkey;
		cmd(kv, on_done, NULL, 2, argv);
		return;
	}
	v = json_pack("{s:s,s:i,s:O}", "h", id->hash, "s", status, "b", body);
	s = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	if (!s)
		return;
	snprintf(ttl, sizeof(ttl), "%d", IDEM_TTL_S);
	argv[0] = "SET";
	argv[1] = id->rkey;
	argv[2] = s;
	argv[3] = "EX";
	argv[4] = ttl;
	cmd(kv, on_done, NULL, 5, argv);
	free(s);
}

/*
 * sipua_tls.c — SIP over TLS: the files sofia-sip's TLS transport reads, trunx's own
 * certificate verification per peer, and which sources speak TLS.
 *
 * WHY
 * The stack's TLS transport has one verification policy for every connection, set
 * when its context is made, and tells its user neither which transport a request came
 * on (TLS and TCP look alike in a message) nor whose certificate was checked. trunx
 * needs verification per trunk, and to know whether a leg's signalling is TLS before
 * it sends SDES keys on it. The stack sets up its context with SSL_CTX_set_verify()
 * through its PLT; a definition in the executable comes first, so that call lands
 * here while the agent's stack is being created (sipua_tls_attach(), on that thread).
 * The context then gets:
 *  - the whole certificate chain (the stack loads only the first certificate);
 *  - SSL_VERIFY_PEER with trunx's callback: for a connection trunx opens, a peer that
 *    policy says to verify must chain to tls_ca and carry the expected name, or the
 *    handshake fails before anything is sent on it; others pass;
 *  - a ClientHello callback for connections peers open: a source that nothing it sends
 *    could be served for (no trunk, no host we call, no dialog's peer) is refused
 *    there, before any public-key work; a peer to verify must present a client
 *    certificate that chains to tls_ca (SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
 *    every such connection is registered by its peer address and port until the
 *    stack frees it (an ex_data free callback), which is how trunx tells a request
 *    that came over TLS from one that came over TCP.
 *  - TLS 1.2 at least, no renegotiation, the server's cipher order, and (through the
 *    stack's SSL_CTX_set_cipher_list() call, taken over too) forward-secret AEAD
 *    ciphers only.
 * The stack's own policy stays "verify nothing", so its post-handshake check passes
 * what trunx's callbacks passed. SSL_shutdown() is taken over too: the stack never
 * frees its connections' SSL objects (see there); and SSL_get1_peer_certificate(),
 * whose result the stack's post-connection check would leak from (see there).
 * SSL_read(), SSL_write(), SSL_pending() and SSL_get_error() are taken over for the
 * front: an incoming connection's decrypted bytes go through the same framing and
 * per-message checks as a TCP connection's before the stack parses them
 * (sipua_front.c; see SSL_read).
 *
 * STATE
 * The agent being attached is one process-wide pointer (an SSL_CTX_set_verify() call
 * carries no context), set only around nua_create() and read only on that thread.
 * Everything else hangs off the SSL objects (ex_data) and the agent, on the signalling
 * thread, which runs every handshake.
 */
#include "sipua_int.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"

/** TLS 1.2 ciphers of the SIP context: forward secrecy (ECDHE) and AEAD only. */
#define SIPUA_TLS_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"

/** A connection's verification state, on its SSL (ex_data). */
struct sipua_tls_conn {
	struct sipua          *ua;
	struct sipua_tls_conn *next, *prev;   /**< ua->tls_conns, incoming ones only */
	bool                   linked;
	bool                   decided;
	bool                   verify;
	bool                   incoming;
	bool                   want_read;     /**< our SSL_read said "nothing yet" */
	bool                   write_pending; /**< the stack's last SSL_write is unfinished */
	struct sockaddr_storage peer;
	char                   name[SIPUA_HOST_MAX];
};

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sipua *attaching;
static pthread_t attaching_thread;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;
static int ctx_idx = -1, ssl_idx = -1;

static void conn_unlink(struct sipua_tls_conn *c)
{
	if (!c->linked)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->ua->tls_conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->linked = false;
}

/* The stack freed a connection's SSL: forget the connection. */
static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
		      void *argp)
{
	struct sipua_tls_conn *c = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (!c)
		return;
	conn_unlink(c);
	free(c);
}

static void idx_init(void)
{
	ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
}

void sipua_tls_attach(struct sipua *ua)
{
	pthread_once(&idx_once, idx_init);
	pthread_mutex_lock(&attach_lock);
	attaching = ua;
	attaching_thread = pthread_self();
	pthread_mutex_unlock(&attach_lock);
}

void sipua_set_tls_verify(struct sipua *ua, sipua_tls_verify_h *h, void *arg)
{
	if (!ua)
		return;
	ua->tls_verify = h;
	ua->tls_verify_arg = arg;
}

bool sipua_tls_source(const struct sipua *ua, const struct sockaddr *src)
{
	for (const struct sipua_tls_conn *c = ua->tls_conns; c; c = c->next) {
		const struct sockaddr *p = (const struct sockaddr *)&c->peer;

		if (!sipua_same_ip(p, src))
			continue;
		if (p->sa_family == AF_INET && src->sa_family == AF_INET &&
		    ((const struct sockaddr_in *)p)->sin_port ==
		    ((const struct sockaddr_in *)src)->sin_port)
			return true;
		if (p->sa_family == AF_INET6 && src->sa_family == AF_INET6 &&
		    ((const struct sockaddr_in6 *)p)->sin6_port ==
		    ((const struct sockaddr_in6 *)src)->sin6_port)
			return true;
	}
	return false;
}

/* The state of ssl's connection, decided on first use: who the peer is and whether
 * policy wants its certificate verified. NULL when nothing can be known (then the
 * connection is treated as one to verify). */
static struct sipua_tls_conn *conn_of(SSL *ssl)
{
	struct sipua_tls_conn *c = SSL_get_ex_data(ssl, ssl_idx);
	struct sipua *ua;
	socklen_t len;

	if (c)
		return c;
	ua = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_idx);
	c = ua ? calloc(1, sizeof(*c)) : NULL;
	if (!c)
		return NULL;
	c->ua = ua;
	c->incoming = SSL_is_server(ssl);
	len = sizeof(c->peer);
	if (getpeername(SSL_get_fd(ssl), (struct sockaddr *)&c->peer, &len) != 0) {
		free(c);
		return NULL;
	}
	c->verify = !ua->tls_verify ||
		    ua->tls_verify((struct sockaddr *)&c->peer, c->incoming, c->name,
				   sizeof(c->name), ua->tls_verify_arg);
	c->decided = true;
	if (!SSL_set_ex_data(ssl, ssl_idx, c)) {
		free(c);
		return NULL;
	}
	return c;
}

static void refused(struct sipua_tls_conn *c, const char *why, int err)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer;
	struct log_rec r;

	atomic_fetch_add(&c->ua->st_tls_refused, 1);
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip,
			  sizeof(ip));
	if (log_begin(&r, LOG_WARN, "sip.tls_refused")) {
		log_str(&r, "peer", ip);
		log_str(&r, "direction", c->incoming ? "incoming" : "outgoing");
		log_str(&r, "reason", why);
		if (err)
			log_str(&r, "detail", X509_verify_cert_error_string(err));
		log_end(&r);
	}
}

/* OpenSSL's verification of each certificate of the peer's chain (signalling thread). */
static int on_verify(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct sipua_tls_conn *c = ssl ? conn_of(ssl) : NULL;
	int depth = X509_STORE_CTX_get_error_depth(store);

	if (c && !c->verify)
		return 1;
	if (!c)
		return 0;
	if (!ok) {
		refused(c, "certificate not verified", X509_STORE_CTX_get_error(store));
		return 0;
	}
	if (depth == 0 && !c->incoming && c->name[0]) {
		X509 *cert = X509_STORE_CTX_get_current_cert(store);
		int m = strchr(c->name, ':') || strspn(c->name, "0123456789.") == strlen(c->name)
			? X509_check_ip_asc(cert, c->name, 0)
			: X509_check_host(cert, c->name, 0, 0, NULL);

		if (m != 1) {
			X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
			refused(c, "certificate does not name the peer", 0);
			return 0;
		}
	}
	return 1;
}

/* A peer opened a connection to us: refuse it if nothing it could send would be
 * served, register it, and ask it for a certificate when policy wants one verified.
 * This runs on the ClientHello, before any key exchange or signature: a source that
 * is no trunk, no host we call and no live dialog's peer costs no public-key
 * operation however often it starts a handshake (its requests would all be refused,
 * 403 or silence, anyway). */
static int on_client_hello(SSL *ssl, int *al, void *arg)
{
	struct sipua_tls_conn *c = conn_of(ssl);

	(void)arg;
	if (!c)
		return SSL_CLIENT_HELLO_ERROR;
	if (!sipua_tls_welcome(c->ua, (const struct sockaddr *)&c->peer)) {
		atomic_fetch_add(&c->ua->st_tls_stranger, 1);
		*al = SSL_AD_ACCESS_DENIED;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (!c->linked) {
		c->prev = NULL;
		c->next = c->ua->tls_conns;
		if (c->next)
			c->next->prev = c;
		c->ua->tls_conns = c;
		c->linked = true;
	}
	if (c->verify)
		SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, on_verify);
	else
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* The library's own definition of a function taken over here (the next after the
 * executable's), looked up once. Without libssl below us nothing can work. */
static void *library_next(_Atomic(void *) *slot, const char *name)
{
	void *fn = atomic_load(slot);

	if (!fn) {
		fn = dlsym(RTLD_NEXT, name);
		if (!fn)
			abort();
		atomic_store(slot, fn);
	}
	return fn;
}

typedef void (set_verify_f)(SSL_CTX *, int, SSL_verify_cb);

/* The stack's call (see WHY); any other caller gets the library's function as is. */
void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, SSL_verify_cb cb)
{
	static _Atomic(void *) next;
	set_verify_f *fn = (set_verify_f *)library_next(&next, "SSL_CTX_set_verify");
	struct sipua *ua;

	pthread_mutex_lock(&attach_lock);
	ua = attaching && pthread_equal(attaching_thread, pthread_self()) ? attaching : NULL;
	pthread_mutex_unlock(&attach_lock);
	if (!ua) {
		fn(ctx, mode, cb);
		return;
	}
	/* The chain (intermediates included) and the CAs trunx was configured with. */
	if (SSL_CTX_use_certificate_chain_file(ctx, ua->cfg.tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, ua->cfg.tls_key, SSL_FILETYPE_PEM) != 1)
		log_msg(LOG_ERROR, "sip.tls", "cannot load %s / %s", ua->cfg.tls_cert,
			ua->cfg.tls_key);
	/* without tls_ca, the system's CAs */
	if (ua->cfg.tls_ca[0] ? SSL_CTX_load_verify_locations(ctx, ua->cfg.tls_ca, NULL) != 1
			      : SSL_CTX_set_default_verify_paths(ctx) != 1)
		log_msg(LOG_ERROR, "sip.tls", "cannot load CAs from %s",
			ua->cfg.tls_ca[0] ? ua->cfg.tls_ca : "the system's store");
	/* Protocols: TLS 1.2 and 1.3 only (RFC 8996), no renegotiation (a peer could
	 * otherwise make us redo the public-key work at will inside one connection), our
	 * cipher order (SSL_CTX_set_cipher_list below sets the list). */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
			    SSL_OP_NO_COMPRESSION);
	ERR_clear_error();
	SSL_CTX_set_ex_data(ctx, ctx_idx, ua);
	SSL_CTX_set_client_hello_cb(ctx, on_client_hello, NULL);
	fn(ctx, SSL_VERIFY_PEER, on_verify);
}

typedef int (cipher_list_f)(SSL_CTX *, const char *);

/*
 * The stack sets its context's TLS 1.2 cipher list right after SSL_CTX_set_verify()
 * to "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH": key exchanges without forward secrecy,
 * CBC modes, SHA-1 MACs, anonymous ECDH. trunx's context gets SIPUA_TLS_CIPHERS:
 * ECDHE key exchange with AEAD ciphers only (TLS 1.3's suites are set apart and stay
 * OpenSSL's, all AEAD), or the operator's [sip] tls_ciphers when set (a peer that
 * speaks nothing else). Any other caller's list is set as given.
 */
int SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *list)
{
	static _Atomic(void *) next;
	cipher_list_f *fn = (cipher_list_f *)library_next(&next, "SSL_CTX_set_cipher_list");

	if (ctx && ctx_idx >= 0) {
		const struct sipua *ua = SSL_CTX_get_ex_data(ctx, ctx_idx);

		if (ua)
			list = ua->cfg.tls_ciphers[0] ? ua->cfg.tls_ciphers : SIPUA_TLS_CIPHERS;
	}
	return fn(ctx, list);
}

typedef int (shutdown_f)(SSL *);

/*
 * The stack ends a TLS connection (its tls_free()) with SSL_shutdown(), then frees the
 * BIO it gave the SSL and drops a reference on the shared SSL_CTX (a connection's
 * state is marked as the master's, so it "frees" the context too), but never frees
 * the SSL itself: every TLS connection would leak the SSL (about 40 KB with its
 * buffers), whose own reference on the context is what keeps that extra drop from
 * freeing the context; and trunx's record of the connection (ex_data, freed with the
 * SSL) would outlive it. For the stack's SSLs, the SSL is freed here, right after its
 * shutdown, with one reference kept on the BIO for the BIO_free() that comes next and
 * one on the context for the SSL_CTX_free() after it.
 */
int SSL_shutdown(SSL *ssl)
{
	static _Atomic(void *) next;
	shutdown_f *fn = (shutdown_f *)library_next(&next, "SSL_shutdown");
	int r;

	r = fn(ssl);
	if (ssl && ctx_idx >= 0 && SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_idx)) {
		BIO *rb = SSL_get_rbio(ssl), *wb = SSL_get_wbio(ssl);

		if (rb)
			BIO_up_ref(rb);
		if (wb && wb != rb)
			BIO_up_ref(wb);
		SSL_CTX_up_ref(SSL_get_SSL_CTX(ssl));
		SSL_free(ssl);
		if (wb && wb != rb)
			BIO_free(wb);   /* the stack frees only the one it knows */
	}
	return r;
}

typedef X509 *(peer_cert_f)(const SSL *);

/*
 * The stack's post-connection check (its only caller of this function) lists the
 * names in the peer's certificate for its own subject policy, which trunx does not
 * use (its policy is "verify nothing"; trunx verified the peer in the handshake), and
 * leaks the decoded subjectAltName each time (X509V3_EXT_d2i and the method's i2v,
 * never freed: a few hundred bytes per handshake with such a certificate). For the
 * stack's SSLs it is told there is no certificate, which its policy passes.
 */
X509 *SSL_get1_peer_certificate(const SSL *ssl)
{
	static _Atomic(void *) next;
	peer_cert_f *fn = (peer_cert_f *)library_next(&next, "SSL_get1_peer_certificate");

	if (ssl && ctx_idx >= 0 && SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_idx))
		return NULL;
	return fn(ssl);
}

/* ---- the front on decrypted bytes ----------------------------------------------- */

/* An incoming connection of the stack's context that passed its ClientHello: the
 * front frames what is read on it. */
static struct sipua_tls_conn *framed_conn(const SSL *ssl)
{
	struct sipua_tls_conn *c;

	if (!ssl || ctx_idx < 0 || !SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_idx))
		return NULL;
	c = SSL_get_ex_data(ssl, ssl_idx);
	return c && c->incoming && c->linked ? c : NULL;
}

typedef int (ssl_io_f)(SSL *, void *, int);
typedef int (ssl_wio_f)(SSL *, const void *, int);
typedef int (ssl_error_f)(const SSL *, int);

static ssl_wio_f *next_write(void)
{
	static _Atomic(void *) next;

	return (ssl_wio_f *)library_next(&next, "SSL_write");
}

/* The front's stateless answer on a TLS connection: one record, or nothing when the
 * stack's own write is unfinished (OpenSSL would take ours for its retry). */
static bool sealed_write(void *warg, const void *buf, size_t n)
{
	SSL *ssl = warg;
	struct sipua_tls_conn *c = SSL_get_ex_data(ssl, ssl_idx);

	if (!c || c->write_pending || n > INT_MAX)
		return false;
	return next_write()(ssl, buf, (int)n) == (int)n;
}

/*
 * The stack's reads of a connection's decrypted bytes (tls_read(): SSL_read into its
 * 16 KB buffer, once per readable event and again while SSL_pending() says more is
 * decrypted). On an incoming connection the bytes go through the front first
 * (sipua_front_sealed(): framing, per-source request rate, stateless answers, held
 * requests of refused sources), as a TCP connection's do in recvmsg(); the stack gets
 * what is left, in place. When a read leaves nothing, the next record is read, up to
 * SEALED_READS per call; then "nothing yet" (-1, and SSL_get_error() below says
 * SSL_ERROR_WANT_READ, as OpenSSL itself would): the rest waits in the socket, which
 * stays readable, so the stack is woken again. OpenSSL reads no further than the
 * record it returns (no read-ahead) and the stack's buffer holds a whole record, so
 * nothing is left decrypted behind a "nothing yet".
 */
#define SEALED_READS 32

int SSL_read(SSL *ssl, void *buf, int num)
{
	static _Atomic(void *) next;
	ssl_io_f *fn = (ssl_io_f *)library_next(&next, "SSL_read");
	struct sipua_tls_conn *c;
	size_t kept;

	c = framed_conn(ssl);
	if (!c || num <= 0)
		return fn(ssl, buf, num);
	c->want_read = false;
	kept = sipua_front_sealed_take(c->ua, SSL_get_fd(ssl), buf, (size_t)num);
	if (kept)
		return (int)kept;
	for (int i = 0; i < SEALED_READS; i++) {
		int r = fn(ssl, buf, num);

		if (r <= 0)
			return r;
		kept = sipua_front_sealed(c->ua, SSL_get_fd(ssl), buf, (size_t)r, (size_t)num,
					  sealed_write, ssl);
		if (kept)
			return (int)kept;
	}
	c->want_read = true;
	return -1;
}

typedef int (ssl_pending_f)(const SSL *);

/* Decrypted bytes the stack has yet to read: OpenSSL's, and a held request the front
 * let through that did not fit in one read (the stack reads again while this says
 * there are some; the socket may have nothing more to wake it). */
int SSL_pending(const SSL *ssl)
{
	static _Atomic(void *) next;
	ssl_pending_f *fn = (ssl_pending_f *)library_next(&next, "SSL_pending");
	struct sipua_tls_conn *c;
	size_t left;
	int n;

	n = fn(ssl);
	c = framed_conn(ssl);
	if (!c)
		return n;
	left = sipua_front_sealed_left(c->ua, SSL_get_fd(ssl));
	return left > (size_t)(INT_MAX - n) ? INT_MAX : n + (int)left;
}

/* The stack's writes: whether one is unfinished (see sealed_write). */
int SSL_write(SSL *ssl, const void *buf, int num)
{
	struct sipua_tls_conn *c = framed_conn(ssl);
	int r = next_write()(ssl, buf, num);

	if (c) {
		c->write_pending = r <= 0;
		c->want_read = false;   /* SSL_get_error() is about this call now */
	}
	return r;
}

/* "Nothing yet" after an SSL_read of ours that the front left empty (see SSL_read). */
int SSL_get_error(const SSL *ssl, int ret)
{
	static _Atomic(void *) next;
	ssl_error_f *fn = (ssl_error_f *)library_next(&next, "SSL_get_error");
	struct sipua_tls_conn *c;

	if (ret <= 0 && (c = framed_conn(ssl)) && c->want_read)
		return SSL_ERROR_WANT_READ;
	return fn(ssl, ret);
}

/* ---- files for the stack -------------------------------------------------------- */

static int append_file(FILE *out, const char *path)
{
	FILE *in = fopen(path, "r");
	char buf[4096];
	size_t n;
	int err = 0;

	if (!in)
		return errno;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			err = EIO;
	if (ferror(in))
		err = EIO;
	fclose(in);
	return err;
}

static int check_files(const struct sipua_cfg *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	const char *what = NULL;

	if (!ctx)
		return ENOMEM;
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1)
		what = "tls_cert: not a readable PEM certificate";
	else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1)
		what = "tls_key: not a readable PEM private key";
	else if (SSL_CTX_check_private_key(ctx) != 1)
		what = "tls_key does not match tls_cert";
	else if (cfg->tls_ca[0] && SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1)
		what = "tls_ca: no readable PEM certificate";
	else if (cfg->tls_ciphers[0] && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1)
		what = "tls_ciphers: OpenSSL knows no TLS 1.2 cipher in this list";
	SSL_CTX_free(ctx);
	ERR_clear_error();
	if (what) {
		log_msg(LOG_ERROR, "sip.tls", "%s (%s, %s)", what, cfg->tls_cert, cfg->tls_key);
		return EINVAL;
	}
	return 0;
}

int sipua_tls_prepare(struct sipua *ua)
{
	const char *tmp = getenv("TMPDIR");
	char path[sizeof(ua->tls_dir) + 16];
	FILE *f;
	int err;

	if (!ua->cfg.tls)
		return 0;
	err = check_files(&ua->cfg);
	if (err)
		return err;
	if (!tmp || !tmp[0] || strlen(tmp) > sizeof(ua->tls_dir) - 20)
		tmp = "/tmp";
	snprintf(ua->tls_dir, sizeof(ua->tls_dir), "%s/trunx-tls-XXXXXX", tmp);
	if (!mkdtemp(ua->tls_dir)) {
		err = errno;
		log_msg(LOG_ERROR, "sip.tls", "cannot make a directory in %s: %s", tmp,
			strerror(err));
		ua->tls_dir[0] = '\0';
		return err;
	}
	/* agent.pem: key and certificate in one file, as the stack reads them */
	snprintf(path, sizeof(path), "%s/agent.pem", ua->tls_dir);
	f = fopen(path, "w");
	if (!f) {
		err = errno;
	} else {
		(void)fchmod(fileno(f), 0600);
		err = append_file(f, ua->cfg.tls_key);
		if (!err)
			err = append_file(f, ua->cfg.tls_cert);
		if (fclose(f) != 0 && !err)
			err = EIO;
	}
	if (err) {
		log_msg(LOG_ERROR, "sip.tls", "cannot prepare the TLS files: %s", strerror(err));
		sipua_tls_unprepare(ua);
	}
	return err;
}

void sipua_tls_unprepare(struct sipua *ua)
{
	char path[sizeof(ua->tls_dir) + 16];

	if (!ua->tls_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/agent.pem", ua->tls_dir);
	(void)unlink(path);
	(void)rmdir(ua->tls_dir);
	ua->tls_dir[0] = '\0';
}

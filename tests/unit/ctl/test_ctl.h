/* test_ctl.h — shared helpers of the control plane unit tests (real Unix sockets). */
#ifndef TEST_CTL_H
#define TEST_CTL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl/ctl.h"

int test_ctl_proto_run(void);
int test_ctl_sock_run(void);
int test_ctl_server_run(void);
int test_ctl_conf_run(void);
int test_ctl_signal_run(void);

/* A scratch directory, removed by tdir_remove (with the files tests put in it). */
void tdir_make(char *dir, size_t len);
void tdir_remove(const char *dir);

/* Client side. */
int tc_connect(const char *path);                       /* fd or -1 */
int tc_send(int fd, const char *text);                  /* 0 or -1 */
/* Reads one reply line (without LF) into buf; 0, or -1 on EOF/error/timeout. */
int tc_read_line(int fd, char *buf, size_t len, int timeout_ms);
/* True when the peer closes within timeout_ms (after any pending bytes). */
bool tc_wait_eof(int fd, int timeout_ms);
/* Sends one request and parses its reply; NULL on failure. */
json_t *tc_request(const char *path, const char *line);
/* Helpers on a reply object. */
bool tc_ok(const json_t *rep);
const char *tc_error(const json_t *rep);

/*
 * Fake daemon behind the ops: a "signalling" thread of its own answers queries
 * through an mq, like the B2BUA does. In hold mode queries are kept until
 * fake_release() answers them from the calling thread.
 */
struct fake {
	pthread_mutex_t lock;
	bool            hold;
	int             list_err;       /* list_calls returns this (0 = posts) */
	size_t          big_reply;      /* >0: calls answer is an array this many bytes long */
	const char     *calls_json;     /* answer of calls; NULL -> "[]" */
	int             reload_err;     /* reload returns this with reload_msg */
	const char     *reload_msg;
	unsigned        reloads;        /* reload calls seen */
	pthread_t       reload_thread;  /* thread the last reload ran on */
	unsigned        status_calls;
	struct fake_q  *held;           /* queries kept in hold mode */
	size_t          n_held;
	struct mq      *mq;             /* to the fake signalling thread */
	pthread_t       thread;
	bool            stop;
};

/* Sets one of the fields above under the lock (the fake thread reads them). */
#define FAKE_SET(f, field, value)                   \
	do {                                        \
		pthread_mutex_lock(&(f)->lock);     \
		(f)->field = (value);               \
		pthread_mutex_unlock(&(f)->lock);   \
	} while (0)

void fake_init(struct fake *f);
void fake_fini(struct fake *f);
/* Answers every held query now (from the calling thread). Returns how many. */
size_t fake_release(struct fake *f);
size_t fake_held(struct fake *f);
extern const struct ctl_ops fake_ops;

#endif

/* test_sync.c — the journal's sync thread (src/cdr/cdr_sync.c): records from two
 * producers journaled in each one's order; no acknowledgement while the sync is held,
 * nor after a failed one (the records are written again, then acknowledged); a stop
 * writes what is queued; commits delete the segments sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cdr/cdr_journal.h"
#include "cdr/cdr_sync.h"

static char dir[256];
static char err[256];

/* The sync stand-in: counts calls, fails when asked, waits while the gate is shut. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	bool            shut;
	int             fail;     /**< the next calls that fail */
	int             calls;
	int             done;     /**< syncs that have returned 0 */
};

static struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0, 0};

static int gate_sync(int fd, void *arg)
{
	int rc = 0;

	(void)arg;
	pthread_mutex_lock(&g.lock);
	g.calls++;
	while (g.shut)
		pthread_cond_wait(&g.cond, &g.lock);
	if (g.fail > 0) {
		g.fail--;
		rc = EIO;
		g.shut = true;   /* and the next sync (the retry) is held */
	} else if (fdatasync(fd) == 0) {
		g.done++;
	} else {
		rc = errno;
	}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

static void gate_set(bool shut)
{
	pthread_mutex_lock(&g.lock);
	g.shut = shut;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
}

static int gate_calls(void)
{
	int n;

	pthread_mutex_lock(&g.lock);
	n = g.calls;
	pthread_mutex_unlock(&g.lock);
	return n;
}

/* What the control thread has been told. */
struct acks {
	uint64_t           n, calls;
	int                syncs_seen;   /**< g.done when the last acknowledgement came */
	struct journal_pos durable;
};

static void on_ack(uint64_t n, uint64_t dropped, const struct journal_pos *durable, void *arg)
{
	struct acks *a = arg;

	assert_int_equal(dropped, 0);
	pthread_mutex_lock(&g.lock);
	a->syncs_seen = g.done;
	pthread_mutex_unlock(&g.lock);
	a->n += n;
	a->calls++;
	a->durable = *durable;
}

/* Runs the loop until want records are acknowledged or ms pass. */
static void loop_until(struct event_base *base, struct acks *a, uint64_t want, int ms)
{
	for (int i = 0; i < ms && a->n < want; i++) {
		struct timespec ts = {0, 1000000};

		event_base_loop(base, EVLOOP_NONBLOCK);
		nanosleep(&ts, NULL);
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/trunx-jsync-XXXXXX");
	assert_non_null(mkdtemp(dir));
	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cond, NULL);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void submit(struct cdr_sync *s, int producer, int i)
{
	char *rec = malloc(64);
	int n;

	assert_non_null(rec);
	n = snprintf(rec, 64, "{\"kind\":\"cdr\",\"p\":%d,\"n\":%d}", producer, i);
	cdr_sync_submit(s, rec, (size_t)n);
}

struct producer {
	struct cdr_sync *s;
	int              id, count;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < p->count; i++)
		submit(p->s, p->id, i);
	return NULL;
}

/* Reads the journal up to limit: each producer's records must come in its order. */
static int read_in_order(struct journal *j, const struct journal_pos *limit, int producers)
{
	struct journal_pos pos = journal_tail(j);
	int next[4] = {0}, total = 0;
	char *rec;
	size_t len;

	while (journal_read_to(j, &pos, limit, &rec, &len) == 0) {
		int p, n;

		assert_int_equal(sscanf(rec, "{\"kind\":\"cdr\",\"p\":%d,\"n\":%d}", &p, &n), 2);
		assert_true(p >= 0 && p < producers);
		assert_int_equal(n, next[p]);
		next[p]++;
		total++;
		free(rec);
	}
	return total;
}

static void test_ack_after_sync_in_order(void **state)
{
	struct event_base *base = event_base_new();
	struct journal *j;
	struct cdr_sync *s;
	struct acks a = {0};

	(void)state;
	assert_non_null(base);
	assert_int_equal(journal_open(&j, dir, 4096, err, sizeof(err)), 0);
	journal_set_sync(j, gate_sync, NULL);
	assert_int_equal(cdr_sync_create(&s, j, base, 2, on_ack, &a), 0);

	/* Held in the sync: written, not acknowledged. */
	gate_set(true);
	submit(s, 0, 0);
	submit(s, 0, 1);
	for (int i = 0; i < 10000 && gate_calls() == 0; i++)
		loop_until(base, &a, 1, 1);
	assert_int_equal(gate_calls(), 1);
	loop_until(base, &a, 1, 100);
	assert_int_equal(a.n, 0);
	gate_set(false);
	loop_until(base, &a, 2, 5000);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.syncs_seen, 1);

	/* A failed sync: kept, written again a second later (that sync held), only
	 * acknowledged once that one is done. */
	pthread_mutex_lock(&g.lock);
	g.fail = 1;
	pthread_mutex_unlock(&g.lock);
	submit(s, 0, 2);
	for (int i = 0; i < 20000 && gate_calls() < 3; i++)
		loop_until(base, &a, 3, 1);
	assert_int_equal(gate_calls(), 3);
	loop_until(base, &a, 3, 50);
	assert_int_equal(a.n, 2);
	gate_set(false);
	loop_until(base, &a, 3, 5000);
	assert_int_equal(a.n, 3);

	/* Written once: the failed write was cut off, the journal holds 3 records. */
	assert_int_equal(read_in_order(j, &a.durable, 1), 3);
	cdr_sync_destroy(s);
	journal_close(j);
	event_base_free(base);
}

static void test_order_across_producers(void **state)
{
	struct event_base *base = event_base_new();
	struct journal *j;
	struct cdr_sync *s;
	struct acks a = {0};
	struct producer p[3];
	pthread_t t[3];

	(void)state;
	assert_int_equal(journal_open(&j, dir, 4096, err, sizeof(err)), 0);
	assert_int_equal(cdr_sync_create(&s, j, base, 2, on_ack, &a), 0);
	for (int k = 0; k < 3; k++) {
		p[k] = (struct producer){s, k, 300};
		assert_int_equal(pthread_create(&t[k], NULL, produce, &p[k]), 0);
	}
	for (int k = 0; k < 3; k++)
		pthread_join(t[k], NULL);
	loop_until(base, &a, 900, 10000);
	assert_int_equal(a.n, 900);
	assert_true(a.calls < 900);   /* grouped: fewer syncs than records */
	/* Everything acknowledged reads back, each producer's in its order. */
	assert_int_equal(read_in_order(j, &a.durable, 3), 900);
	cdr_sync_destroy(s);
	journal_close(j);
	event_base_free(base);
}

static int count_segments(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "cdr-", 4) == 0;
	closedir(d);
	return n;
}

static void test_stop_drains_and_commits(void **state)
{
	struct event_base *base = event_base_new();
	struct journal_stats st;
	struct journal *j;
	struct cdr_sync *s;
	struct acks a = {0};

	(void)state;
	/* A long gather: the records are still queued when the stop comes. */
	assert_int_equal(journal_open(&j, dir, 4096, err, sizeof(err)), 0);
	assert_int_equal(cdr_sync_create(&s, j, base, 60000, on_ack, &a), 0);
	for (int i = 0; i < 300; i++)
		submit(s, 0, i);
	cdr_sync_destroy(s);
	assert_int_equal(a.n, 0);   /* the loop never ran: nothing was told */
	journal_close(j);
	assert_int_equal(journal_open(&j, dir, 4096, err, sizeof(err)), 0);
	journal_get_stats(j, &st);
	assert_int_equal(st.records_open, 300);
	assert_true(count_segments() >= 2);   /* one batch, then a new segment */

	/* All of it sent: a commit at the head leaves the newest segment only. */
	{
		struct journal_pos head = journal_head(j);

		assert_int_equal(read_in_order(j, &head, 1), 300);
		assert_int_equal(cdr_sync_create(&s, j, base, 2, on_ack, &a), 0);
		cdr_sync_commit(s, &head);
		cdr_sync_destroy(s);
	}
	assert_int_equal(count_segments(), 1);
	journal_close(j);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ack_after_sync_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_across_producers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_drains_and_commits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

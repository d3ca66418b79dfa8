/* test_journal.c — the call-record journal: records in order across segments and a
 * reopen, commits deleting segments, a torn tail cut at open, damage in an older
 * segment skipped, and the record framing itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdr/cdr_journal.h"

static char dir[256];
static char err[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/trunx-journal-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void append_n(struct journal *j, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		char rec[64];
		const char *r = rec;
		size_t len = (size_t)snprintf(rec, sizeof(rec), "{\"kind\":\"cdr\",\"n\":%d}", i);

		assert_int_equal(journal_append(j, &r, &len, 1), 0);
	}
}

/* Reads every record from the tail; checks they are from..from+n-1 in order. */
static struct journal_pos read_all(struct journal *j, int from, int n)
{
	struct journal_pos pos = journal_tail(j);
	char *rec;
	size_t len;
	int i = from;

	while (journal_read(j, &pos, &rec, &len) == 0) {
		char want[64];

		snprintf(want, sizeof(want), "{\"kind\":\"cdr\",\"n\":%d}", i++);
		assert_string_equal(rec, want);
		assert_int_equal(len, strlen(want));
		free(rec);
	}
	assert_int_equal(i, from + n);
	return pos;
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

static void test_order_segments_commit(void **state)
{
	struct journal *j;
	struct journal_pos pos;
	struct journal_stats st;

	(void)state;
	/* Tiny segments: many files. */
	assert_int_equal(journal_open(&j, dir, 200, err, sizeof(err)), 0);
	append_n(j, 0, 50);
	assert_true(count_segments() > 5);
	pos = read_all(j, 0, 50);
	journal_close(j);
	/* Reopened: the same records, found for replay. */
	assert_int_equal(journal_open(&j, dir, 200, err, sizeof(err)), 0);
	journal_get_stats(j, &st);
	assert_int_equal(st.records_open, 50);
	assert_int_equal(st.repaired, 0);
	pos = read_all(j, 0, 50);
	append_n(j, 50, 10);
	journal_commit(j, &pos);   /* the first 50 are safe */
	assert_true(count_segments() <= 3);
	read_all(j, 50, 10);
	journal_close(j);
}

static void test_torn_tail(void **state)
{
	struct journal *j;
	struct journal_stats st;
	char path[300];
	int fd;

	(void)state;
	assert_int_equal(journal_open(&j, dir, 1 << 20, err, sizeof(err)), 0);
	append_n(j, 0, 5);
	journal_close(j);
	/* A crash mid-write: half a header and a payload without it. */
	snprintf(path, sizeof(path), "%s/cdr-%020d.log", dir, 1);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "TXJ1\x40\x00", 6), 6);
	close(fd);
	assert_int_equal(journal_open(&j, dir, 1 << 20, err, sizeof(err)), 0);
	journal_get_stats(j, &st);
	assert_int_equal(st.records_open, 5);
	assert_int_equal(st.repaired, 6);
	append_n(j, 5, 2);   /* lands right after the good ones */
	read_all(j, 0, 7);
	journal_close(j);
}

static void test_damaged_older_segment(void **state)
{
	struct journal *j;
	char path[300];
	int fd;

	(void)state;
	assert_int_equal(journal_open(&j, dir, 100, err, sizeof(err)), 0);
	append_n(j, 0, 6);   /* 3 records of 33 bytes + 12 each per segment */
	journal_close(j);
	/* Flip a payload byte of the first segment's second record. */
	snprintf(path, sizeof(path), "%s/cdr-%020d.log", dir, 1);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 45 + 14), 1);
	close(fd);
	assert_int_equal(journal_open(&j, dir, 100, err, sizeof(err)), 0);
	{
		struct journal_pos pos = journal_tail(j);
		char *rec;
		size_t len;
		int got = 0;

		while (journal_read(j, &pos, &rec, &len) == 0) {
			got++;
			free(rec);
		}
		/* record 0, then the rest of segment 1 skipped, then segments 2.. */
		assert_true(got >= 3 && got < 6);
		assert_true(journal_skipped(j) > 0);
	}
	journal_close(j);
}

static void test_framing(void **state)
{
	uint8_t buf[64];
	const uint8_t *pl;
	size_t used;
	uint32_t n;

	(void)state;
	journal_rec_header(buf, "hello", 5);
	memcpy(buf + JOURNAL_HDR, "hello", 5);
	assert_int_equal(journal_rec_parse(buf, JOURNAL_HDR + 5, &used, &pl, &n), 0);
	assert_int_equal(used, JOURNAL_HDR + 5);
	assert_int_equal(n, 5);
	assert_memory_equal(pl, "hello", 5);
	assert_int_equal(journal_rec_parse(buf, JOURNAL_HDR + 4, &used, &pl, &n), EAGAIN);
	assert_int_equal(journal_rec_parse(buf, 2, &used, &pl, &n), EAGAIN);
	buf[JOURNAL_HDR] = 'j';
	assert_int_equal(journal_rec_parse(buf, JOURNAL_HDR + 5, &used, &pl, &n), EBADMSG);
	assert_int_equal(journal_rec_parse((const uint8_t *)"XXJ1", 4, &used, &pl, &n), EBADMSG);
	assert_int_equal(journal_crc32("123456789", 9), 0xcbf43926u);
	{
		const char *r = "";
		size_t len = 0;
		struct journal *j;

		assert_int_equal(journal_open(&j, dir, 0, err, sizeof(err)), 0);
		assert_int_equal(journal_append(j, &r, &len, 1), EINVAL);
		journal_close(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_segments_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_older_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

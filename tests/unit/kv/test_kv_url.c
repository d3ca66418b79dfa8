/* test_kv_url.c — Redis URLs: TCP with password, port and database; IPv6; Unix
 * sockets; and the ones refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "kv/kv.h"

static void test_good(void **state)
{
	struct kv_addr a;

	(void)state;
	assert_int_equal(kv_url_parse("redis://127.0.0.1", &a), 0);
	assert_false(a.unix_socket);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 6379);
	assert_int_equal(a.db, 0);
	assert_string_equal(a.password, "");
	assert_int_equal(kv_url_parse("redis://:s3cret@redis.example:6380/2", &a), 0);
	assert_string_equal(a.host, "redis.example");
	assert_int_equal(a.port, 6380);
	assert_int_equal(a.db, 2);
	assert_string_equal(a.password, "s3cret");
	assert_int_equal(kv_url_parse("redis://user:pw@h/", &a), 0);
	assert_string_equal(a.password, "pw");
	assert_int_equal(kv_url_parse("redis://[::1]:7000", &a), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 7000);
	assert_int_equal(kv_url_parse("unix:/var/run/redis.sock", &a), 0);
	assert_true(a.unix_socket);
	assert_string_equal(a.path, "/var/run/redis.sock");
	assert_int_equal(kv_url_parse("unix:///tmp/r.sock", &a), 0);
	assert_string_equal(a.path, "/tmp/r.sock");
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"", "http://x", "redis://", "redis://:6379", "redis://h:0", "redis://h:65536",
		"redis://h:12a", "redis://h/x", "unix:", "unix:relative.sock", "redis://[::1",
		"redis://h o", "redis://h:123456",
	};
	struct kv_addr a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (kv_url_parse(bad[i], &a) != EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

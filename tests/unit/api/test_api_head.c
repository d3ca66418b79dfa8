/* test_api_head.c — the chunk size line the API's connection filter reads before
 * evhttp: sizes, chunk extensions (checked, then ignored) and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "api/api_head.h"

static int chunk(const char *line, uint64_t *size)
{
	struct api_verdict v = {0};
	int rc;

	*size = UINT64_MAX;
	rc = api_chunk_size(line, strlen(line), size, &v);
	if (rc != 0) {
		assert_int_equal(v.status, 400);
		assert_string_equal(v.code, "bad_request");
		assert_non_null(v.message);
	}
	return rc;
}

static void test_chunk_sizes(void **state)
{
	uint64_t size;

	(void)state;
	assert_int_equal(chunk("0", &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(chunk("1aF\r", &size), 0);
	assert_int_equal(size, 0x1af);
	assert_int_equal(chunk("0000000000000010", &size), 0);
	assert_int_equal(size, 16);
	assert_int_equal(chunk("ffffffffffffffff", &size), 0);
	assert_int_equal(size, UINT64_MAX);
	assert_int_equal(chunk("5 \t", &size), 0);
	assert_int_equal(size, 5);
}

static void test_chunk_extensions(void **state)
{
	static const char *const good[] = {
		"5;a", "5;a=b", "5 ; a = b ;c", "5;name=\"quoted ; value\"",
		"5;q=\"esc \\\" quote\"", "5;q=\"\"\r", "5;a=b;c=\"d\";e\r",
	};
	uint64_t size;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(chunk(good[i], &size), 0);
		assert_int_equal(size, 5);
	}
}

static void test_chunk_refusals(void **state)
{
	static const char *const bad[] = {
		"", "\r", "x", "-1", "+5", "0x10", "10000000000000000", "5 5", ";a",
		"5;", "5;;a", "5;=b", "5;a=", "5;a=b c", "5;a=\"open", "5;a=\"ctl\x01\"",
		"5;a=\"end\\", "5;a\"b\"", "5;a=b,c", "5,a",
	};
	uint64_t size;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(chunk(bad[i], &size), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_sizes),
		cmocka_unit_test(test_chunk_extensions),
		cmocka_unit_test(test_chunk_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

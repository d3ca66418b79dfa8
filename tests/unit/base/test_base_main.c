/* test_base_main.c — runs every base/ test group. */
#include "test_base.h"

int main(void)
{
	int failed = 0;

	failed += test_addrtab_run();
	failed += test_log_run();
	failed += test_mq_run();
	return failed ? 1 : 0;
}

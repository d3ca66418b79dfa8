/* test_base.h — test groups of the base/ unit tests, run by test_base_main.c. */
#ifndef TEST_BASE_H
#define TEST_BASE_H
int test_addrtab_run(void);
int test_log_run(void);
int test_mq_run(void);
#endif

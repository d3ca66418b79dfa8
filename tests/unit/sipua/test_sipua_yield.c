/*
 * test_sipua_yield.c — trunx's su_root_yield() (sip/ua/sipua_yield.c): the stack's
 * mid-timer poll runs nothing, so a datagram waiting in a socket is processed by the
 * event loop after the timer routine, never inside it; and the executable's
 * definition is the one the stack's calls resolve to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

/* From sipua_int.h, which defines the stack's magic types for sip/ua's own use. */
bool sipua_yield_interposed(void);

struct fx {
	su_root_t *root;
	int        sv[2];
	int        reg;
	unsigned   woken;
};

static int on_readable(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct fx *f = arg;
	char byte;

	(void)magic;
	(void)w;
	if (read(f->sv[0], &byte, 1) == 1)
		f->woken++;
	return 0;
}

static int setup(void **state)
{
	static struct fx f;
	su_wait_t w[1];

	f.woken = 0;
	assert_int_equal(su_init(), 0);
	f.root = su_root_create(NULL);
	assert_non_null(f.root);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, f.sv), 0);
	assert_int_equal(su_wait_create(w, f.sv[0], SU_WAIT_IN), 0);
	f.reg = su_root_register(f.root, w, on_readable, &f, 0);
	assert_true(f.reg >= 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	su_root_deregister(f->root, f->reg);
	su_root_destroy(f->root);
	close(f->sv[0]);
	close(f->sv[1]);
	su_deinit();
	return 0;
}

/* The stack's PLT call lands on ours: the executable exports it. */
static void test_yield_is_interposed(void **state)
{
	(void)state;
	assert_true(sipua_yield_interposed());
}

/* A readable socket is not serviced by a yield (the library's would: a 0 ms poll
 * that runs its callback); the loop itself still services it. */
static void test_yield_runs_nothing(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write(f->sv[1], "x", 1), 1);
	for (int i = 0; i < 5; i++)
		su_root_yield(f->root);
	assert_int_equal(f->woken, 0);
	su_root_step(f->root, 0);
	assert_int_equal(f->woken, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_yield_is_interposed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yield_runs_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

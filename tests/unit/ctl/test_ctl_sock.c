/* test_ctl_sock.c — the control socket file: mode, stale and live sockets, removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_ctl.h"

static struct ctl_cfg cfg_for(const char *dir, const char *name)
{
	struct ctl_cfg cfg = {0};
	char full[512];
	size_t n;

	/* Longer paths are cut to the field, as a config value would have to be. */
	n = (size_t)snprintf(full, sizeof(full), "%s/%s", dir, name);
	if (n >= sizeof(cfg.socket_path))
		n = sizeof(cfg.socket_path) - 1;
	memcpy(cfg.socket_path, full, n);
	return cfg;
}

static void test_mode_and_unlink(void **state)
{
	char dir[64];
	struct ctl_cfg cfg;
	struct ctl *ctl;
	struct stat st;
	mode_t old = umask(0);   /* the mode must not depend on the umask */

	(void)state;
	tdir_make(dir, sizeof(dir));
	cfg = cfg_for(dir, "ctl.sock");
	assert_int_equal(ctl_create(&ctl, &cfg, &fake_ops, NULL), 0);
	umask(old);
	assert_int_equal(lstat(cfg.socket_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	ctl_destroy(ctl);
	assert_int_equal(lstat(cfg.socket_path, &st), -1);
	assert_int_equal(errno, ENOENT);
	tdir_remove(dir);
}

static void test_live_and_stale(void **state)
{
	char dir[64];
	struct ctl_cfg cfg;
	struct ctl *a, *b;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fake f;
	json_t *rep;
	int fd;

	(void)state;
	fake_init(&f);
	tdir_make(dir, sizeof(dir));
	cfg = cfg_for(dir, "ctl.sock");
	assert_int_equal(ctl_create(&a, &cfg, &fake_ops, &f), 0);
	/* A live server keeps its path. */
	assert_int_equal(ctl_create(&b, &cfg, &fake_ops, &f), EADDRINUSE);
	ctl_destroy(a);

	/* A socket nobody listens on (a crashed daemon's) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg.socket_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(ctl_create(&b, &cfg, &fake_ops, &f), 0);
	assert_int_equal(ctl_start(b), 0);
	rep = tc_request(cfg.socket_path, "status\n");
	assert_true(tc_ok(rep));
	json_decref(rep);
	ctl_destroy(b);
	fake_fini(&f);
	tdir_remove(dir);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void test_refusals(void **state)
{
	char dir[64], longname[200];
	struct ctl_cfg cfg;
	struct ctl *ctl;
	struct stat st;
	int fd;

	(void)state;
	tdir_make(dir, sizeof(dir));
	/* Not a socket: never removed. */
	cfg = cfg_for(dir, "file");
	fd = open(cfg.socket_path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ctl_create(&ctl, &cfg, &fake_ops, NULL), EEXIST);
	assert_int_equal(lstat(cfg.socket_path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	/* Missing directory. */
	cfg = cfg_for(dir, "nodir/ctl.sock");
	assert_int_equal(ctl_create(&ctl, &cfg, &fake_ops, NULL), ENOENT);
	/* The longest path sun_path holds (107 bytes) works. */
	memset(longname, 'n', sizeof(longname));
	longname[107 - strlen(dir) - 1] = '\0';
	cfg = cfg_for(dir, longname);
	assert_int_equal(strlen(cfg.socket_path), 107);
	assert_int_equal(ctl_create(&ctl, &cfg, &fake_ops, NULL), 0);
	ctl_destroy(ctl);
	cfg.socket_path[0] = '\0';
	assert_int_equal(ctl_create(&ctl, &cfg, &fake_ops, NULL), EINVAL);
	/* Nothing left behind but the regular file. */
	assert_int_equal(count_entries(dir), 1);
	tdir_remove(dir);
}

static void test_replaced_file_kept(void **state)
{
	char dir[64];
	struct ctl_cfg cfg;
	struct ctl *ctl;
	struct stat st;
	int fd;

	(void)state;
	tdir_make(dir, sizeof(dir));
	cfg = cfg_for(dir, "ctl.sock");
	assert_int_equal(ctl_create(&ctl, &cfg, &fake_ops, NULL), 0);
	/* Someone else takes the path over: ctl must not remove their file. */
	assert_int_equal(unlink(cfg.socket_path), 0);
	fd = open(cfg.socket_path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	ctl_destroy(ctl);
	assert_int_equal(lstat(cfg.socket_path, &st), 0);
	tdir_remove(dir);
}

int test_ctl_sock_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_and_unlink),
		cmocka_unit_test(test_live_and_stale),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_replaced_file_kept),
	};
	return cmocka_run_group_tests_name("ctl_sock", tests, NULL, NULL);
}

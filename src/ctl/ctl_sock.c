/*
 * ctl_sock.c — the control socket file: creation with mode 0660, safe replacement of
 * a stale file left by a dead process, and removal on exit (only if it is still ours).
 *
 * An existing path is probed first: a socket nobody listens on (connect refused) is
 * stale and removed; a live server's socket (connect succeeds) or anything that is
 * not a socket is left alone and reported. The new socket gets its mode with chmod
 * after bind and before listen, so nobody can connect while it briefly has the
 * umask's mode. Any path that fits sun_path works (no temporary name is needed).
 */
#include "ctl/ctl_priv.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define CTL_SOCK_MODE 0660
#define CTL_BACKLOG   64

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n == 0)
		return EINVAL;
	if (n >= sizeof(sa->sun_path))
		return ENAMETOOLONG;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

/* 0 when path is free or a stale socket, else why it may not be taken. */
static int probe_existing(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, err;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : errno;
	if (!S_ISSOCK(st.st_mode))
		return EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		err = EADDRINUSE;
	else if (errno == ECONNREFUSED)
		err = 0;          /* nobody listens: stale */
	else if (errno == EAGAIN || errno == EINPROGRESS)
		err = EADDRINUSE; /* a live server with a full backlog */
	else
		err = errno;
	close(fd);
	return err;
}

int ctl_sock_listen(struct ctl *ctl, int *fdp)
{
	const char *path = ctl->cfg.socket_path;
	struct sockaddr_un sa;
	struct stat st;
	int fd = -1, err;

	err = fill_addr(&sa, path);
	if (err)
		goto out;
	err = probe_existing(path, &sa);
	if (err)
		goto out;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	if (unlink(path) != 0 && errno != ENOENT) {   /* the stale socket, if any */
		err = errno;
		goto out;
	}
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		err = errno;
		goto out;
	}
	if (chmod(path, CTL_SOCK_MODE) != 0 || listen(fd, CTL_BACKLOG) != 0 ||
	    stat(path, &st) != 0) {
		err = errno;
		(void)unlink(path);
		goto out;
	}
	ctl->sock_dev = st.st_dev;
	ctl->sock_ino = st.st_ino;
	ctl->sock_made = true;
	*fdp = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (err)
		log_msg(LOG_ERROR, "ctl.listen_failed", "control socket %s: %s", path,
			err == EADDRINUSE ? "another process is serving it" :
			err == EEXIST ? "exists and is not a socket" : strerror(err));
	return err;
}

void ctl_sock_unlink(struct ctl *ctl)
{
	struct stat st;

	if (!ctl->sock_made)
		return;
	ctl->sock_made = false;
	/* Another instance may have replaced the file since; leave theirs alone. */
	if (lstat(ctl->cfg.socket_path, &st) == 0 && st.st_dev == ctl->sock_dev &&
	    st.st_ino == ctl->sock_ino)
		(void)unlink(ctl->cfg.socket_path);
}

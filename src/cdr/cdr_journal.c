/*
 * cdr_journal.c — the call-record journal (see cdr_journal.h): record framing, the
 * segment files, the check of a torn tail at open, reading and committing.
 */
#include "cdr/cdr_journal.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

struct journal {
	char     dir[256];
	size_t   seg_max;
	uint64_t first;      /**< oldest segment on disk */
	uint64_t cur;        /**< segment being written */
	int      fd;         /**< cur, open for appending */
	uint64_t cur_size;
	struct journal_pos tail;   /**< commit position */
	struct journal_stats st;
	int    (*sync)(int fd, void *arg);   /**< fdatasync unless a test sets one */
	void    *sync_arg;
	/* The reader's side (journal_read_to): touches none of the fields above. */
	uint64_t skipped;
	int      rfd;        /**< segment rseg, open for reading; -1 */
	uint64_t rseg;
};

/* ---- records ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t journal_crc32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = 0xffffffffu;

	pthread_once(&crc_once, crc_init);
	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void journal_rec_header(uint8_t *hdr, const void *payload, uint32_t len)
{
	put32(hdr, JOURNAL_MAGIC);
	put32(hdr + 4, len);
	put32(hdr + 8, journal_crc32(payload, len));
}

int journal_rec_parse(const uint8_t *buf, size_t len, size_t *used, const uint8_t **payload,
		      uint32_t *plen)
{
	uint32_t n;

	if (len < 4)
		return len && memcmp(buf, "TXJ1", len) != 0 ? EBADMSG : EAGAIN;
	if (get32(buf) != JOURNAL_MAGIC)
		return EBADMSG;
	if (len < JOURNAL_HDR)
		return EAGAIN;
	n = get32(buf + 4);
	if (n == 0 || n > JOURNAL_REC_MAX)
		return EBADMSG;
	if (len - JOURNAL_HDR < n)
		return EAGAIN;
	if (journal_crc32(buf + JOURNAL_HDR, n) != get32(buf + 8))
		return EBADMSG;
	*used = JOURNAL_HDR + n;
	*payload = buf + JOURNAL_HDR;
	*plen = n;
	return 0;
}

/* ---- segments ---- */

static void seg_path(const struct journal *j, uint64_t seg, char *out, size_t len)
{
	snprintf(out, len, "%s/cdr-%020" PRIu64 ".log", j->dir, seg);
}

static void sync_dir(const struct journal *j)
{
	int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int mkdirs(const char *dir)
{
	char p[256];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return ENAMETOOLONG;
	memcpy(p, dir, n + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0750) != 0 && errno != EEXIST)
			return errno;
		*s = '/';
	}
	if (mkdir(p, 0750) != 0 && errno != EEXIST)
		return errno;
	return 0;
}

static int open_cur(struct journal *j)
{
	char path[320];
	struct stat st;

	seg_path(j, j->cur, path, sizeof(path));
	j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (j->fd < 0)
		return errno;
	if (fstat(j->fd, &st) != 0)
		return errno;
	j->cur_size = (uint64_t)st.st_size;
	sync_dir(j);
	return 0;
}

/*
 * Walks a segment's records; with repair, a damaged tail is cut off. Returns the count of
 * good records; *good_end receives where they end.
 */
static uint64_t scan_segment(struct journal *j, uint64_t seg, bool repair, int *errp)
{
	char path[320];
	uint8_t *buf = NULL;
	struct stat st;
	uint64_t recs = 0;
	size_t off = 0;
	int fd;

	*errp = 0;
	seg_path(j, seg, path, sizeof(path));
	fd = open(path, (repair ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		*errp = errno;
		return 0;
	}
	if (fstat(fd, &st) != 0 || (st.st_size && !(buf = malloc((size_t)st.st_size)))) {
		*errp = errno ? errno : ENOMEM;
		close(fd);
		return 0;
	}
	if (st.st_size && pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		*errp = EIO;
		free(buf);
		close(fd);
		return 0;
	}
	while (off < (size_t)st.st_size) {
		size_t used;
		const uint8_t *pl;
		uint32_t n;

		if (journal_rec_parse(buf + off, (size_t)st.st_size - off, &used, &pl, &n) != 0)
			break;
		off += used;
		recs++;
	}
	if (off < (size_t)st.st_size) {
		uint64_t cut = (uint64_t)st.st_size - off;

		if (repair) {
			log_msg(LOG_WARN, "cdr.journal_repair", "%s: %" PRIu64 " bytes after the "
				"last whole record cut off (a write torn by a crash)", path, cut);
			if (ftruncate(fd, (off_t)off) != 0 || fdatasync(fd) != 0)
				*errp = errno;
			j->st.repaired += cut;
		} else {
			log_msg(LOG_ERROR, "cdr.journal_damage", "%s: %" PRIu64 " damaged bytes at "
				"offset %zu: the rest of this segment is skipped", path, cut, off);
		}
	}
	free(buf);
	close(fd);
	return recs;
}

int journal_open(struct journal **jp, const char *dir, size_t seg_max, char *err,
		 size_t errlen)
{
	struct journal *j;
	struct dirent *de;
	DIR *d;
	bool any = false;
	int rc;

	if (!jp || !dir || strlen(dir) >= sizeof(j->dir))
		return EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	snprintf(j->dir, sizeof(j->dir), "%s", dir);
	j->seg_max = seg_max ? seg_max : 4u << 20;
	j->fd = -1;
	j->rfd = -1;
	rc = mkdirs(dir);
	if (rc) {
		snprintf(err, errlen, "journal %s: %s", dir, strerror(rc));
		free(j);
		return rc;
	}
	d = opendir(dir);
	if (!d) {
		rc = errno;
		snprintf(err, errlen, "journal %s: %s", dir, strerror(rc));
		free(j);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		unsigned long long n;
		char tail[8];

		if (sscanf(de->d_name, "cdr-%20llu.%7s", &n, tail) != 2 || strcmp(tail, "log") != 0)
			continue;
		if (!any || n < j->first)
			j->first = n;
		if (!any || n > j->cur)
			j->cur = n;
		any = true;
		j->st.segments++;
	}
	closedir(d);
	if (!any)
		j->first = j->cur = 1;
	/* Every segment is checked: the newest may end in a torn record. */
	for (uint64_t s = j->first; any && s <= j->cur; s++) {
		int e;
		uint64_t n = scan_segment(j, s, s == j->cur, &e);

		if (e && e != ENOENT) {
			snprintf(err, errlen, "journal segment %" PRIu64 ": %s", s, strerror(e));
			journal_close(j);
			return e;
		}
		j->st.records_open += n;
	}
	j->tail.seg = j->first;
	j->tail.off = 0;
	rc = open_cur(j);
	if (rc) {
		snprintf(err, errlen, "journal %s: %s", dir, strerror(rc));
		journal_close(j);
		return rc;
	}
	*jp = j;
	return 0;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (j->rfd >= 0)
		close(j->rfd);
	free(j);
}

void journal_set_sync(struct journal *j, int (*sync)(int fd, void *arg), void *arg)
{
	j->sync = sync;
	j->sync_arg = arg;
}

static int rotate(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	j->cur++;
	j->cur_size = 0;
	return open_cur(j);
}

int journal_append(struct journal *j, const char *const *recs, const size_t *lens, size_t n)
{
	uint8_t (*hdrs)[JOURNAL_HDR];
	struct iovec *iov;
	size_t done = 0;
	uint64_t start;
	int rc = 0;

	if (!j || (n && (!recs || !lens)))
		return EINVAL;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!lens[i] || lens[i] > JOURNAL_REC_MAX)
			return EINVAL;
	if (j->fd < 0 && (rc = open_cur(j)) != 0)
		return rc;
	start = j->cur_size;
	hdrs = malloc(n * JOURNAL_HDR);
	iov = malloc(2 * n * sizeof(*iov));
	if (!hdrs || !iov) {
		free(hdrs);
		free(iov);
		return ENOMEM;
	}
	while (done < n) {
		size_t k = 0, bytes = 0;
		ssize_t w;

		/* writev takes at most IOV_MAX (1024) vectors. */
		for (size_t i = done; i < n && k < 1024; i++) {
			journal_rec_header(hdrs[i], recs[i], (uint32_t)lens[i]);
			iov[k].iov_base = hdrs[i];
			iov[k++].iov_len = JOURNAL_HDR;
			iov[k].iov_base = (void *)recs[i];
			iov[k++].iov_len = lens[i];
			bytes += JOURNAL_HDR + lens[i];
		}
		w = writev(j->fd, iov, (int)k);
		if (w < 0 || (size_t)w != bytes) {
			rc = w < 0 ? errno : EIO;
			break;
		}
		j->cur_size += bytes;
		done += k / 2;
	}
	free(hdrs);
	free(iov);
	if (!rc && (j->sync ? (rc = j->sync(j->fd, j->sync_arg)) != 0 : fdatasync(j->fd) != 0))
		rc = rc ? rc : errno;
	if (rc) {
		/* Not durable, so not acknowledged: the caller writes them again. Cut what this
		 * call wrote (a torn record, or whole ones) so that they are not there twice. */
		if (ftruncate(j->fd, (off_t)start) == 0)
			j->cur_size = start;
		return rc;
	}
	/* The records are durable whatever happens next: a new segment that cannot be
	 * opened now is opened by the next append. */
	if (j->cur_size >= j->seg_max && (rc = rotate(j)) != 0)
		log_msg(LOG_WARN, "cdr.journal", "cannot start segment %" PRIu64 ": %s", j->cur,
			strerror(rc));
	return 0;
}

struct journal_pos journal_head(const struct journal *j)
{
	struct journal_pos p = {j->cur, j->cur_size};

	return p;
}

struct journal_pos journal_tail(const struct journal *j)
{
	return j->tail;
}

/* The reader's descriptor for segment seg (kept open while reading it). */
static int reader_fd(struct journal *j, uint64_t seg)
{
	char path[320];

	if (j->rfd >= 0 && j->rseg == seg)
		return j->rfd;
	if (j->rfd >= 0)
		close(j->rfd);
	seg_path(j, seg, path, sizeof(path));
	j->rfd = open(path, O_RDONLY | O_CLOEXEC);
	j->rseg = seg;
	return j->rfd;
}

int journal_read(struct journal *j, struct journal_pos *pos, char **rec, size_t *len)
{
	struct journal_pos head = journal_head(j);

	return journal_read_to(j, pos, &head, rec, len);
}

int journal_read_to(struct journal *j, struct journal_pos *pos,
		    const struct journal_pos *limit, char **rec, size_t *len)
{
	uint8_t hdr[JOURNAL_HDR];
	const uint8_t *pl;
	size_t used;
	uint32_t n;
	char *buf;
	ssize_t r;
	int fd;

	for (;;) {
		if (pos->seg > limit->seg || (pos->seg == limit->seg && pos->off >= limit->off))
			return ENOENT;
		fd = reader_fd(j, pos->seg);
		if (fd < 0) {
			if (errno != ENOENT || pos->seg == limit->seg)
				return errno;
			pos->seg++;   /* a gap in the numbering, or committed and removed */
			pos->off = 0;
			continue;
		}
		r = pread(fd, hdr, sizeof(hdr), (off_t)pos->off);
		if (r == 0 && pos->seg < limit->seg) {
			pos->seg++;
			pos->off = 0;
			continue;
		}
		if (r != (ssize_t)sizeof(hdr) || get32(hdr) != JOURNAL_MAGIC ||
		    get32(hdr + 4) == 0 || get32(hdr + 4) > JOURNAL_REC_MAX)
			goto damaged;
		n = get32(hdr + 4);
		buf = malloc(JOURNAL_HDR + (size_t)n + 1);
		if (!buf)
			return ENOMEM;
		memcpy(buf, hdr, JOURNAL_HDR);
		r = pread(fd, buf + JOURNAL_HDR, n, (off_t)(pos->off + JOURNAL_HDR));
		if (r != (ssize_t)n ||
		    journal_rec_parse((uint8_t *)buf, JOURNAL_HDR + (size_t)n, &used, &pl, &n) != 0) {
			free(buf);
			goto damaged;
		}
		memmove(buf, buf + JOURNAL_HDR, n);
		buf[n] = '\0';
		*rec = buf;
		*len = n;
		pos->off += used;
		return 0;
damaged:
		{
			struct stat st;
			uint64_t size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : pos->off;
			char path[320];

			if (pos->seg == limit->seg)
				return ENOENT;   /* being written: nothing more yet */
			seg_path(j, pos->seg, path, sizeof(path));
			log_msg(LOG_ERROR, "cdr.journal_damage", "%s: damaged record at offset %"
				PRIu64 ": the rest of this segment (%" PRIu64 " bytes) is skipped",
				path, pos->off, size > pos->off ? size - pos->off : 0);
			j->skipped += size > pos->off ? size - pos->off : 0;
			pos->seg++;
			pos->off = 0;
		}
	}
}

void journal_commit(struct journal *j, const struct journal_pos *pos)
{
	char path[320];
	bool removed = false;

	j->tail = *pos;
	/* The current segment wholly committed and big enough: start a new one, so that
	 * this one can go. */
	if (pos->seg == j->cur && pos->off == j->cur_size && j->cur_size >= (1u << 20) &&
	    rotate(j) == 0) {
		j->tail.seg = j->cur;
		j->tail.off = 0;
	}
	while (j->first < j->tail.seg) {
		seg_path(j, j->first, path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT) {
			log_msg(LOG_WARN, "cdr.journal", "cannot remove %s: %s", path, strerror(errno));
			break;
		}
		j->first++;
		removed = true;
	}
	if (removed)
		sync_dir(j);
}

void journal_get_stats(const struct journal *j, struct journal_stats *st)
{
	struct journal_stats s = j->st;

	s.segments = j->cur - j->first + 1;
	s.bytes = j->cur_size;
	*st = s;
}

uint64_t journal_skipped(const struct journal *j)
{
	return j->skipped;
}

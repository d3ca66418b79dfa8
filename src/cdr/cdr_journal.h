/*
 * cdr_journal.h — the append-only, fsynced journal of call records and events: every
 * record is written here before Postgres sees it, and read back from here to be sent,
 * so a record survives a Postgres outage, a crash (kill -9) and a restart.
 *
 * DESIGN
 * The journal is a directory of segment files, "cdr-<20 digits>.log", numbered in
 * order. A record is a 12-byte header — magic "TXJ1", payload length, CRC-32 of the
 * payload, all little-endian — and the payload (a JSON object). Appends go to the
 * newest segment with one write and one fdatasync per batch. A reader keeps a
 * position (segment, offset); what lies before the commit position is in Postgres, so
 * segments wholly before it are deleted. At open, the newest segment's tail is checked:
 * a record torn by a crash (short, wrong magic, wrong CRC) and whatever follows it is
 * cut off, and the damage is reported; damage in an older segment ends that segment.
 * Two threads may share a journal: one writer (append, commit, stats: the journal's sync
 * thread, cdr_sync.h) and one reader that reads only up to a position the writer has
 * made durable and handed over (journal_read_to); records are replayed in order.
 */
#ifndef TRUNX_CDR_JOURNAL_H
#define TRUNX_CDR_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_MAGIC    0x314a5854u   /* "TXJ1" read little-endian */
#define JOURNAL_HDR      12
#define JOURNAL_REC_MAX  (1u << 20)    /* longest payload */

struct journal;

struct journal_pos {
	uint64_t seg;   /**< segment number */
	uint64_t off;   /**< byte offset in it */
};

struct journal_stats {
	uint64_t segments;      /**< files in the directory */
	uint64_t bytes;         /**< their total size */
	uint64_t repaired;      /**< bytes cut off torn tails at open */
	uint64_t records_open;  /**< records found at open (to replay) */
};

/**
 * Checks one record at the start of buf.
 * @param used     bytes the record takes (header + payload) when 0 is returned
 * @param payload  points into buf
 * @return 0, EAGAIN (incomplete: more bytes needed), EBADMSG (not a record)
 */
int journal_rec_parse(const uint8_t *buf, size_t len, size_t *used, const uint8_t **payload,
		      uint32_t *plen);

/** Writes the header of a record of `len` payload bytes into hdr[JOURNAL_HDR]. */
void journal_rec_header(uint8_t *hdr, const void *payload, uint32_t len);

/** CRC-32 (IEEE 802.3) of data. */
uint32_t journal_crc32(const void *data, size_t len);

/**
 * Opens (creating the directory if needed) and checks the journal.
 * @param seg_max  a new segment is started when the current one grows past this
 * @return 0, or an errno value (err says what)
 */
int journal_open(struct journal **jp, const char *dir, size_t seg_max, char *err,
		 size_t errlen);

void journal_close(struct journal *j);

/**
 * Appends n records and makes them durable (one fdatasync). On an error nothing of
 * them stays in the journal (what was written is cut off): write them again.
 * @return 0, EINVAL (a record too long), or the errno of the write or the sync
 */
int journal_append(struct journal *j, const char *const *recs, const size_t *lens, size_t n);

/** The position after the last record written. */
struct journal_pos journal_head(const struct journal *j);

/** The oldest position still held (the first record not yet committed). */
struct journal_pos journal_tail(const struct journal *j);

/**
 * Reads the record at *pos into a malloc'd, NUL-terminated buffer and moves *pos past
 * it. A damaged record ends its segment (the rest of it is skipped and counted).
 * @return 0, ENOENT (nothing more before the head), ENOMEM, or an I/O errno
 */
int journal_read(struct journal *j, struct journal_pos *pos, char **rec, size_t *len);

/**
 * The same, up to limit (a position journal_head() gave after a durable append) rather
 * than the head: the reader's call, safe while the writer appends beyond limit.
 */
int journal_read_to(struct journal *j, struct journal_pos *pos,
		    const struct journal_pos *limit, char **rec, size_t *len);

/** Tests: makes appends call sync(fd, arg) (0 or an errno) instead of fdatasync. */
void journal_set_sync(struct journal *j, int (*sync)(int fd, void *arg), void *arg);

/**
 * Everything before pos is safe elsewhere: segments wholly before it are deleted (and a
 * large current segment, once wholly committed, is closed for a new one).
 */
void journal_commit(struct journal *j, const struct journal_pos *pos);

void journal_get_stats(const struct journal *j, struct journal_stats *st);

/** Bytes skipped as damaged by journal_read() since open. */
uint64_t journal_skipped(const struct journal *j);

#endif

/* fuzz_journal.c — the journal reader on arbitrary bytes: the input is written as a
 * journal segment, opened (the torn-tail check) and read to the end; the framing parser
 * walks it as a stream too. Whatever it holds, reading ends, and every record read
 * back is one the framing accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdr/cdr_journal.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128], err[256];
	struct journal *j;
	struct journal_pos pos;
	size_t off = 0;
	FILE *f;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/trunx-fuzz-journal-%d", (int)getpid());
		log_set_level(LOG_OFF);
	}
	mkdir(dir, 0700);
	/* The stream parser: each step consumes, waits for more, or stops. */
	while (off < size) {
		const uint8_t *pl;
		uint32_t n;
		size_t used;

		if (journal_rec_parse(data + off, size - off, &used, &pl, &n) != 0)
			break;
		if (used <= JOURNAL_HDR || used > size - off)
			abort();
		off += used;
	}
	snprintf(path, sizeof(path), "%s/cdr-%020d.log", dir, 1);
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (journal_open(&j, dir, 1 << 20, err, sizeof(err)) == 0) {
		char *rec;
		size_t len;
		unsigned n = 0;

		pos = journal_tail(j);
		while (journal_read(j, &pos, &rec, &len) == 0) {
			if (strlen(rec) > len || ++n > size)
				abort();
			free(rec);
		}
		journal_close(j);
	}
	unlink(path);
	return 0;
}

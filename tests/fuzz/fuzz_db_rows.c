/* fuzz_db_rows.c — the database rows and LISTEN payloads trunxd reads (src/db/db_rows.c)
 * on arbitrary bytes. The first byte picks the row type (0 carrier, 1 peer, 2 tenant,
 * 3 DID, 4 route, 5 outbound rule, 6 pool, 7 setting, 8 NOTIFY payload); the rest are
 * columns separated by 0x1f. Whatever a parser accepts, the routing snapshot must
 * accept too (a lone trunk, DID, route...), or the two disagree. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_rows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXC 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *cols[MAXC];
	const char *ccols[MAXC];
	size_t n = 0;
	char why[256];
	struct route_table *rt;
	unsigned kind;

	if (size < 1 || size > 65536)
		return 0;
	kind = data[0] % 9;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	cols[n++] = buf;
	for (char *p = buf; p < buf + size - 1 && n < MAXC; p++) {
		if (*p == '\x1f') {
			*p = '\0';
			cols[n++] = p + 1;
		}
	}
	for (size_t i = 0; i < n; i++)
		ccols[i] = cols[i];
	if (route_table_create(&rt) != 0) {
		free(buf);
		return 0;
	}
	switch (kind) {
	case 0:
	case 1: {
		struct trunk_cfg t;

		if (db_row_trunk(ccols, n, kind ? TRUNK_KIND_PEER : TRUNK_KIND_CARRIER, &t, why,
				 sizeof(why)) == 0 &&
		    route_table_add_trunk(rt, &t, why, sizeof(why)) != 0)
			abort();
		break;
	}
	case 2: {
		struct tenant_cfg t;

		if (db_row_tenant(ccols, n, &t, why, sizeof(why)) == 0 &&
		    route_table_add_tenant(rt, &t, why, sizeof(why)) != 0)
			abort();
		break;
	}
	case 3: {
		struct did_cfg d;
		struct route_dids *ds;
		struct did_view v;

		if (db_row_did(ccols, n, &d, why, sizeof(why)) == 0 &&
		    route_dids_create(&ds, 1) == 0) {
			if (route_dids_put(ds, &d) != 0 || !route_dids_get(ds, d.number, &v))
				abort();
			route_dids_unref(ds);
		}
		break;
	}
	case 4: {
		struct route_cfg r;

		/* A route names trunks; the table refuses unknown ones, so only parse. */
		db_row_route(ccols, n, &r, why, sizeof(why));
		break;
	}
	case 5: {
		struct oroute_cfg o;

		db_row_oroute(ccols, n, &o, why, sizeof(why));
		break;
	}
	case 6: {
		struct pool_cfg p;

		if (db_row_pool(ccols, n, &p, why, sizeof(why)) == 0 &&
		    route_table_add_pool(rt, &p, why, sizeof(why)) != 0)
			abort();
		break;
	}
	case 7: {
		struct route_settings s;

		route_settings_default(&s);
		db_row_setting(ccols, n, &s, why, sizeof(why));
		if (s.answer_unassigned < 300 || s.answer_unassigned > 699)
			abort();
		break;
	}
	default: {
		struct db_notify nt;

		db_notify_parse(buf, &nt);
		if (nt.kind == DB_NOTIFY_DIDS && (nt.n == 0 || nt.n > DB_NOTIFY_MAX_DIDS))
			abort();
		break;
	}
	}
	route_table_freeze(rt);
	route_table_unref(rt);
	free(buf);
	return 0;
}

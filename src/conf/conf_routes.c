/*
 * conf_routes.c — turns a configuration's trunks and routes into the frozen routing
 * snapshot (sip/include/route.h) the signalling thread reads.
 */
#include <errno.h>
#include <stdio.h>

#include "conf.h"

int conf_build_routes(const struct conf *cf, struct route_table **rtp, char *err,
		      size_t errlen)
{
	struct route_table *rt = NULL;
	int rc;

	if (!cf || !rtp)
		return EINVAL;
	*rtp = NULL;
	rc = route_table_create(&rt);
	if (rc)
		goto out;
	for (size_t i = 0; i < cf->n_trunks && !rc; i++)
		rc = route_table_add_trunk(rt, &cf->trunks[i], err, errlen);
	for (size_t i = 0; i < cf->n_routes && !rc; i++)
		rc = route_table_add_route(rt, &cf->routes[i], err, errlen);
	if (!rc)
		rc = route_table_freeze(rt);
out:
	if (rc) {
		if (rc == ENOMEM && err && errlen)
			snprintf(err, errlen, "out of memory");
		route_table_unref(rt);
		return rc;
	}
	*rtp = rt;
	return 0;
}

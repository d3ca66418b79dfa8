/*
 * db_seed.h — `trunxd --seed`: a configuration file's [trunk] and [route] sections
 * written into the database (see db_seed.c).
 */
#ifndef TRUNX_DB_SEED_H
#define TRUNX_DB_SEED_H

#include <stddef.h>

#include "conf/conf.h"

/**
 * Inserts the file's trunks as carrier_trunks rows and its routes as routes rows, in
 * one transaction, skipping names that exist. Blocking.
 * @param trunks, routes  receive how many rows were added
 * @return 0, ECONNREFUSED, EIO or EINVAL (err says why)
 */
int db_seed(const char *conninfo, const struct conf *cf, int *trunks, int *routes, char *err,
	    size_t errlen);

#endif

/*
 * sipua_peers.c — the addresses (IP only) of the peers of live dialogs, counted: a
 * source in this set may send a Contact (see sipua_mclass.c) even when no trunk
 * matches it, e.g. the host of a route URI that answered our INVITE. A counted
 * address table (base/addrtab) that doubles when full, so the set has no cap of its
 * own (the dialogs bound it); signalling thread only.
 */
#include "sipua_peers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addrtab.h"

#define PEERS_FIRST 256   /**< addresses before the first doubling */

struct sipua_peers {
	struct addrtab *t;
};

int sipua_peers_create(struct sipua_peers **pp)
{
	struct sipua_peers *p;
	int err;

	if (!pp)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	err = addrtab_create(&p->t, PEERS_FIRST, 128);
	if (err) {
		free(p);
		return err;
	}
	*pp = p;
	return 0;
}

void sipua_peers_destroy(struct sipua_peers *p)
{
	if (!p)
		return;
	addrtab_destroy(p->t);
	free(p);
}

int sipua_peers_add(struct sipua_peers *p, const struct sockaddr *sa)
{
	int err;

	if (!p)
		return EINVAL;
	err = addrtab_add(p->t, sa, 0);
	if (err == ENOSPC) {
		err = addrtab_grow(p->t, 2 * addrtab_max(p->t));
		if (!err)
			err = addrtab_add(p->t, sa, 0);
	}
	return err == EAFNOSUPPORT ? EINVAL : err;
}

void sipua_peers_del(struct sipua_peers *p, const struct sockaddr *sa)
{
	if (p)
		(void)addrtab_del(p->t, sa);
}

bool sipua_peers_has(const struct sipua_peers *p, const struct sockaddr *sa)
{
	return p && addrtab_count(p->t, sa) > 0;
}

bool sipua_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	uint8_t ka[16], kb[16];

	return !addrtab_key(a, 128, ka) && !addrtab_key(b, 128, kb) &&
	       memcmp(ka, kb, sizeof(ka)) == 0;
}

size_t sipua_peers_count(const struct sipua_peers *p)
{
	return p ? addrtab_size(p->t) : 0;
}

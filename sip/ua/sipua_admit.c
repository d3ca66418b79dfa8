/*
 * sipua_admit.c — the admission handler's settings and its count of admissions in
 * flight, apart from the front (sipua_front.c) so the call layer's tests can replace
 * them without the rest of the agent.
 */
#include "sipua_int.h"

#include "guard.h"

void sipua_set_admit(struct sipua *ua, sipua_admit_h *fn)
{
	if (ua && !ua->thread_started)
		ua->admit = fn;
}

unsigned sipua_admit_pending(const struct sipua *ua)
{
	return ua ? (unsigned)guard_recent_count(ua->front.recent, GUARD_RECENT_ADMITTED) : 0;
}

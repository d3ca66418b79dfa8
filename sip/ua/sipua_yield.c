/*
 * sipua_yield.c — trunxd's own su_root_yield(): a no-op, so the stack never runs its
 * event loop from inside its own timer routines.
 *
 * WHY
 * In this version of the stack, the transaction layer's timer (nta.c agent_timer())
 * stores "now" in the agent (sa_millisec), runs the client transactions' timers, then
 * the server transactions' timers, which read "now" back from the agent. The client
 * part calls su_root_yield() after every fifth retransmission ("handle received
 * packets"): a 0 ms poll that reads the SIP socket and processes what waits there.
 * Processing a message ends with sa_millisec = 0, so when the timer goes on to the
 * server transactions their "now" is 0. Timeouts are milliseconds modulo 2^32
 * compared by signed difference: while the stack's clock (NTP-epoch ms) has its top
 * bit set, every server timer reads as expired at once — timer H (no ACK yet: the
 * stack ends the call with "408 ACK Timeout" and a BYE moments after our 200),
 * timer J (a BYE's transaction freed, so its retransmission is answered 481), timers
 * G, N1, N2 (responses resent); in the other half of the 49.7-day cycle, those
 * timers are skipped instead. It happens only when five or more requests are
 * retransmitted in one tick while datagrams wait in the socket: exactly when the
 * signalling thread is behind (docs/PERFORMANCE.md, "The unexpected BYE failures").
 * The NUA's one-second handle sweep also yields once per handle, i.e. thousands of
 * polls a second at high call rates, each able to run events (and our callbacks)
 * in the middle of its walk over the handle list.
 *
 * HOW
 * The stack calls su_root_yield() through its PLT; a definition in the executable
 * comes first in the symbol search order (as for sip/guard's socket hooks), so its
 * calls land here and return without polling. Packets waiting are read when the
 * timer routine returns, a few milliseconds later (at most 30 retransmissions a
 * tick). trunxd's only su_root is the signalling thread's; nothing of ours calls
 * su_root_yield().
 */
#include "sipua_int.h"

#include <dlfcn.h>

int su_root_yield(su_root_t *root)
{
	(void)root;
	return 0;
}

bool sipua_yield_interposed(void)
{
	/* The first definition in the global search order is the one the stack's PLT
	 * resolves to: ours when the executable exports it. */
	return dlsym(RTLD_DEFAULT, "su_root_yield") == (void *)su_root_yield;
}

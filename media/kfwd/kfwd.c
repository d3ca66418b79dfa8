/*
 * kfwd.c — loads the embedded tc program (kfwd_tc.bpf), attaches it to the media
 * interface's ingress and gives the workers its forwarding table.
 *
 * DESIGN
 * The object is compiled at build time and linked in as bytes (kfwd_obj.c), so
 * nothing is read from disk at run time. It is attached as a tcx link: the link
 * belongs to this process and the kernel detaches it when the process ends, so a
 * crashed trunxd never leaves a stale table rewriting packets for ports another
 * process reuses, and several trunxd on one interface each run their own program and
 * table (a miss goes on to the next). Kernels without tcx (before 6.6) get a clsact
 * filter instead only when asked (KFWD_TC_FALLBACK: kernel_forward = on): such a
 * filter survives a SIGKILL with its entries, and the next trunxd would hand out
 * the same ports under it. Nothing here is fatal to trunxd: the caller logs the
 * reason and the userspace relay carries every call.
 */
#include "kfwd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TRUNX_HAVE_KFWD
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kfwd_obj.h"

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46   /* enum bpf_attach_type, Linux 6.6 */
#endif

struct kfwd {
	struct bpf_object *obj;
	int                map_fd;
	int                link_fd;   /**< tcx link, or -1 */
	bool               tc;        /**< attached as a clsact filter instead */
	int                prog_fd;   /**< only for kfwd_test_run() (detached), else -1 */
	struct bpf_tc_hook hook;
	struct bpf_tc_opts tc_opts;
	unsigned           ifindex;
	bool               local;
	uint8_t            ttl;       /**< what this host's UDP sockets send with */
};

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;   /* the verifier's log is not trunx's log: the caller says why */
}

/* The interface holding the IPv4 address a (network order). */
static int find_ifindex(uint32_t a, unsigned *ifindex, bool *loopback)
{
	struct ifaddrs *ifa, *i;
	int err = ENODEV;

	if ((ntohl(a) >> 24) == 127) {
		*ifindex = if_nametoindex("lo");
		*loopback = true;
		return *ifindex ? 0 : ENODEV;
	}
	if (getifaddrs(&ifa) < 0)
		return errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr != a)
			continue;
		*ifindex = if_nametoindex(i->ifa_name);
		*loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
		err = *ifindex ? 0 : ENODEV;
		break;
	}
	freeifaddrs(ifa);
	return err;
}

static int attach(struct kfwd *k, int prog_fd, unsigned flags, const char **why)
{
	int err = ENOTSUP;

	if (!(flags & KFWD_NO_TCX)) {
		k->link_fd = bpf_link_create(prog_fd, (int)k->ifindex, BPF_TCX_INGRESS, NULL);
		if (k->link_fd >= 0)
			return 0;
		err = errno ? errno : EINVAL;
	}
	if (!(flags & KFWD_TC_FALLBACK)) {
		*why = "no tcx link on the interface's ingress (Linux 6.6 or later): a tc "
		       "filter instead would outlive trunxd if it were killed, so only "
		       "kernel_forward = on uses one";
		return err == EINVAL ? ENOTSUP : err;   /* EINVAL: attach type unknown */
	}
	*why = "cannot attach to the interface's tc ingress";
	k->hook = (struct bpf_tc_hook){.sz = sizeof(k->hook), .ifindex = (int)k->ifindex,
				       .attach_point = BPF_TC_INGRESS};
	err = bpf_tc_hook_create(&k->hook);
	if (err && err != -EEXIST)
		return -err;
	k->tc_opts = (struct bpf_tc_opts){.sz = sizeof(k->tc_opts), .prog_fd = prog_fd};
	err = bpf_tc_attach(&k->hook, &k->tc_opts);
	if (err)
		return -err;
	k->tc = true;
	return 0;
}

/* Whether the interface forwards IPv4 (net.ipv4.conf.<if>.forwarding): the kernel's
 * route lookup for BPF (bpf_fib_lookup) refuses every packet where it does not, so
 * routed delivery could never forward anything there. */
static bool forwarding(unsigned ifindex)
{
	char name[IF_NAMESIZE], path[64 + IF_NAMESIZE];
	FILE *f;
	int c = 0;

	if (!if_indextoname(ifindex, name))
		return false;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", name);
	f = fopen(path, "re");
	if (!f)
		return false;
	c = fgetc(f);
	fclose(f);
	return c == '1';
}

/* The TTL a UDP socket of this host sends with (net.ipv4.ip_default_ttl). */
static uint8_t default_ttl(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ttl = 64;
	socklen_t l = sizeof(ttl);

	if (fd >= 0) {
		if (getsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, &l) < 0 || ttl < 1 || ttl > 255)
			ttl = 64;
		close(fd);
	}
	return (uint8_t)ttl;
}

/* Loads the object (program and table), attached nowhere yet. */
static int load(struct kfwd *k, int *prog_fd, const char **why)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	libbpf_set_print(silent);
	k->obj = bpf_object__open_mem(kfwd_tc_obj, kfwd_tc_obj_len, NULL);
	if (!k->obj) {
		*why = "cannot open the BPF object";
		return errno ? errno : EINVAL;
	}
	err = -bpf_object__load(k->obj);
	if (err == EPERM || err == EACCES)
		*why = "no permission to load BPF programs (trunxd needs root, or CAP_BPF "
		       "and CAP_NET_ADMIN)";
	else if (err == ENOSYS)
		*why = "the kernel has no BPF support";
	else if (err)
		*why = "the kernel refused the BPF program (verifier)";
	if (err)
		return err > 0 && err < 4000 ? err : EINVAL;   /* not libbpf's own codes */
	prog = bpf_object__find_program_by_name(k->obj, "kfwd_ingress");
	map = bpf_object__find_map_by_name(k->obj, "kfwd_flows");
	if (!prog || !map) {
		*why = "the BPF object lacks its program or map";
		return ENOENT;
	}
	k->map_fd = bpf_map__fd(map);
	*prog_fd = bpf_program__fd(prog);
	k->ttl = default_ttl();
	return 0;
}

int kfwd_create(struct kfwd **kp, const union media_sa *addr, unsigned flags,
		const char **why)
{
	struct kfwd *k;
	int err, prog_fd;

	*kp = NULL;
	*why = "";
	if (addr->sa.sa_family != AF_INET || sa_is_any(addr)) {
		*why = "needs an IPv4 media bind address (not the wildcard)";
		return ENOTSUP;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return ENOMEM;
	k->link_fd = -1;
	k->prog_fd = -1;
	err = find_ifindex(addr->in.sin_addr.s_addr, &k->ifindex, &k->local);
	if (err) {
		*why = "no interface holds the media address";
		goto fail;
	}
	if (!k->local && !forwarding(k->ifindex)) {
		err = ENOTSUP;
		*why = "routed delivery needs IPv4 forwarding on the media interface "
		       "(net.ipv4.conf.<interface>.forwarding = 1)";
		goto fail;
	}
	err = load(k, &prog_fd, why);
	if (err)
		goto fail;
	err = attach(k, prog_fd, flags, why);
	if (err)
		goto fail;
	*kp = k;
	return 0;
fail:
	kfwd_destroy(k);
	return err;
}

int kfwd_open_detached(struct kfwd **kp, bool local, const char **why)
{
	struct kfwd *k;
	int err;

	*kp = NULL;
	*why = "";
	k = calloc(1, sizeof(*k));
	if (!k)
		return ENOMEM;
	k->link_fd = -1;
	k->local = local;
	err = load(k, &k->prog_fd, why);
	if (err) {
		kfwd_destroy(k);
		return err;
	}
	*kp = k;
	return 0;
}

int kfwd_test_run(struct kfwd *k, unsigned ifindex, const void *pkt, size_t len, void *out,
		  size_t *out_len, int *verdict)
{
	struct __sk_buff ctx = {.ifindex = ifindex, .ingress_ifindex = ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = (__u32)*out_len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err;

	if (k->prog_fd < 0)
		return EINVAL;
	err = bpf_prog_test_run_opts(k->prog_fd, &o);
	if (err)
		return errno ? errno : EINVAL;
	*out_len = o.data_size_out;
	*verdict = (int)o.retval;
	return 0;
}

void kfwd_destroy(struct kfwd *k)
{
	if (!k)
		return;
	if (k->link_fd >= 0)
		close(k->link_fd);
	if (k->tc) {
		struct bpf_tc_opts o = {.sz = sizeof(o), .handle = k->tc_opts.handle,
					.priority = k->tc_opts.priority};

		(void)bpf_tc_detach(&k->hook, &o);   /* the clsact qdisc stays: others' */
	}
	bpf_object__close(k->obj);
	free(k);
}

int kfwd_tc_filter(const struct kfwd *k, unsigned *ifindex, unsigned *handle,
		   unsigned *priority)
{
	if (!k->tc)
		return ENOENT;
	*ifindex = k->ifindex;
	*handle = k->tc_opts.handle;
	*priority = k->tc_opts.priority;
	return 0;
}

bool kfwd_local(const struct kfwd *k)
{
	return k->local;
}

uint8_t kfwd_ttl(const struct kfwd *k)
{
	return k->ttl;
}

int kfwd_put(struct kfwd *k, const struct kfwd_key *key, const struct kfwd_val *val)
{
	return bpf_map_update_elem(k->map_fd, key, val, BPF_ANY) ? errno : 0;
}

int kfwd_get(struct kfwd *k, const struct kfwd_key *key, struct kfwd_val *val)
{
	return bpf_map_lookup_elem_flags(k->map_fd, key, val, BPF_F_LOCK) ? errno : 0;
}

int kfwd_del(struct kfwd *k, const struct kfwd_key *key, struct kfwd_val *last)
{
	int err;

	/* One step where the kernel has it (5.14): no packet counted after the copy. */
	if (!bpf_map_lookup_and_delete_elem(k->map_fd, key, last))
		return 0;
	if (errno == ENOENT)
		return ENOENT;
	err = kfwd_get(k, key, last);

	if (err)
		return err;
	return bpf_map_delete_elem(k->map_fd, key) ? errno : 0;
}

unsigned kfwd_count(struct kfwd *k)
{
	struct kfwd_key a, b;
	unsigned n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(k->map_fd, prev, n & 1 ? &a : &b)) {
		prev = n & 1 ? &a : &b;
		n++;
	}
	return n;
}

#else /* !TRUNX_HAVE_KFWD: built without libbpf or clang */

int kfwd_create(struct kfwd **kp, const union media_sa *addr, unsigned flags,
		const char **why)
{
	(void)addr, (void)flags;
	*kp = NULL;
	*why = "trunx was built without BPF support (libbpf-dev, clang)";
	return ENOTSUP;
}

void kfwd_destroy(struct kfwd *k)
{
	(void)k;
}

int kfwd_tc_filter(const struct kfwd *k, unsigned *ifindex, unsigned *handle,
		   unsigned *priority)
{
	(void)k, (void)ifindex, (void)handle, (void)priority;
	return ENOENT;
}

bool kfwd_local(const struct kfwd *k)
{
	(void)k;
	return false;
}

uint8_t kfwd_ttl(const struct kfwd *k)
{
	(void)k;
	return 0;
}

int kfwd_open_detached(struct kfwd **kp, bool local, const char **why)
{
	(void)local;
	*kp = NULL;
	*why = "trunx was built without BPF support (libbpf-dev, clang)";
	return ENOTSUP;
}

int kfwd_test_run(struct kfwd *k, unsigned ifindex, const void *pkt, size_t len, void *out,
		  size_t *out_len, int *verdict)
{
	(void)k, (void)ifindex, (void)pkt, (void)len, (void)out, (void)out_len, (void)verdict;
	return ENOTSUP;
}

int kfwd_put(struct kfwd *k, const struct kfwd_key *key, const struct kfwd_val *val)
{
	(void)k, (void)key, (void)val;
	return ENOTSUP;
}

int kfwd_get(struct kfwd *k, const struct kfwd_key *key, struct kfwd_val *val)
{
	(void)k, (void)key, (void)val;
	return ENOTSUP;
}

int kfwd_del(struct kfwd *k, const struct kfwd_key *key, struct kfwd_val *last)
{
	(void)k, (void)key, (void)last;
	return ENOTSUP;
}

unsigned kfwd_count(struct kfwd *k)
{
	(void)k;
	return 0;
}
#endif

/*
 * capcheck's rules: what each tool of the debug shell needs (the table below,
 * documented in docs/capcheck.md) and how a verdict is reached. No I/O but
 * the PATH lookup, so unit tests can drive it with made-up facts.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/capcheck.h"
#include "lib/caps.h"
#include "lib/retina.h"

#define C(n) CAPBIT(CAPN_##n)

/*
 * The requirements table. Capabilities are the least that works; SYS_ADMIN
 * also satisfies BPF and PERFMON (the kernel's own rule).
 */
#define WAY(c, n) { .caps = (c), .needs = (n) }
#define ALT(c, n, h) { .caps = (c), .needs = (n), .how = (h) }
#define TOOL(name, exe_, ...) { .tool = (name), .exe = (exe_), .ways = { __VA_ARGS__ } }
/* a feature of a built-in tool, named NAME for `capcheck NAME` */
#define FEATURE(name, runs_, ...) { .tool = (name), .runs = (runs_), .ways = { __VA_ARGS__ } }
const struct tool_req capcheck_tools[] = {
	/* retina's tracer: tp_btf/raw_tp programs, no tracefs or kprobes needed */
	TOOL("trace", NULL, WAY(C(BPF) | C(PERFMON), NEED_BTF | NEED_BPF_LOAD)),
	/* its stacks are named from /proc/kallsyms, whose addresses the kernel shows only to SYSLOG */
	FEATURE("trace-stack", "trace --stack",
		WAY(C(BPF) | C(PERFMON) | C(SYSLOG), NEED_BTF | NEED_BPF_LOAD | NEED_KALLSYMS)),
	/* it adds (and removes) an nftables table that turns tracing on */
	FEATURE("trace-nft", "trace --nft --allow-system-changes",
		WAY(C(BPF) | C(PERFMON) | C(NET_ADMIN), NEED_BTF | NEED_BPF_LOAD)),
	/* listing every program and map needs SYS_ADMIN (BPF_*_GET_NEXT_ID) */
	TOOL("bpftool", "bpftool", WAY(C(SYS_ADMIN), NEED_BTF)),
	/* bpftool net: its flow dissector query (BPF_PROG_QUERY) takes NET_ADMIN (older
	 * kernels accept no other), and bpf() must pass the runtime's seccomp filter (SYS_ADMIN) */
	{ .tool = "bpftool-net", .exe = "bpftool", .runs = "bpftool net",
	  .ways = { WAY(C(SYS_ADMIN) | C(NET_ADMIN), 0) } },
	/* pwru attaches kprobes to every skb function */
	TOOL("pwru", "pwru", WAY(C(SYS_ADMIN), NEED_BTF | NEED_KPROBES)),
	/* Inspektor Gadget: reads other processes' namespaces and the runtime via /host */
	TOOL("ig", "ig", WAY(C(SYS_ADMIN) | C(NET_ADMIN) | C(SYS_PTRACE),
			     NEED_BTF | NEED_TRACEFS | NEED_HOST_PID | NEED_HOST_FS)),
	/* iptables-legacy opens a raw socket; both read rules over NET_ADMIN */
	TOOL("iptables", "iptables", WAY(C(NET_ADMIN) | C(NET_RAW), 0)),
	/* the image's iptables-nft is the node's own, run by chroot into /host */
	TOOL("iptables-nft", "iptables-nft", WAY(C(NET_ADMIN) | C(SYS_CHROOT), NEED_HOST_FS)),
	TOOL("nft", "nft", WAY(C(NET_ADMIN), 0)),
	/* an AF_PACKET socket; promiscuous mode through it needs nothing more */
	TOOL("tcpdump", "tcpdump", WAY(C(NET_RAW), 0)),
	/* strace -p: ptrace of a process it did not start (strace CMD needs nothing) */
	TOOL("strace", "strace", WAY(C(SYS_PTRACE), 0)),
	/* a JSON filter */
	TOOL("jq", "jq", WAY(0, 0)),
	/* TCP/UDP/UNIX relays (a port below 1024 needs NET_BIND_SERVICE, ip4-raw NET_RAW) */
	TOOL("socat", "socat", WAY(0, 0)),
	/* DNS queries from an unprivileged port */
	TOOL("drill", "drill", WAY(0, 0)),
	/* chroot /host: a shell with the node's own tools */
	TOOL("chroot", "chroot", WAY(C(SYS_CHROOT), NEED_HOST_FS)),
	/* chroot /host systemctl: talks to the host's systemd, which must be visible */
	TOOL("systemctl", "chroot", WAY(C(SYS_CHROOT), NEED_HOST_FS | NEED_HOST_PID)),
	/* sysctl -w: containers get /proc/sys read-only; the host's /proc via /host is not */
	TOOL("sysctl", "sysctl", WAY(0, NEED_ROOT | NEED_PROC_SYS_RW),
	     ALT(C(SYS_CHROOT), NEED_ROOT | NEED_HOST_FS_RW, "chroot /host sysctl -w KEY=VALUE")),
	/* retina's ping: a raw ICMP socket, or else an unprivileged ICMP datagram socket */
	TOOL("ping", NULL, WAY(C(NET_RAW), 0), ALT(0, NEED_PING_GROUP, "ping (ICMP datagram socket)")),
	/* retina's exec and syscall tracers: raw_tp programs too */
	TOOL("execsnoop", NULL, WAY(C(BPF) | C(PERFMON), NEED_BTF | NEED_BPF_LOAD)),
	TOOL("traceloop", NULL, WAY(C(BPF) | C(PERFMON), NEED_BTF | NEED_BPF_LOAD | NEED_BPF_ATOMICS)),
	/* retina nsenter --pod: setns, other users' /proc/PID/ns, the node's PIDs (SYS_CHROOT only for --root) */
	TOOL("nsenter", NULL, WAY(C(SYS_ADMIN) | C(SYS_PTRACE), NEED_HOST_PID)),
};
const size_t capcheck_ntools = ARRAY_SIZE(capcheck_tools);

const struct tool_req *capcheck_find(const char *tool)
{
	for (size_t i = 0; i < capcheck_ntools; i++)
		if (!strcmp(capcheck_tools[i].tool, tool))
			return &capcheck_tools[i];
	return NULL;
}

static bool on_path(const char *exe)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		char cand[PATH_MAX];

		snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, n ? path : ".", exe);
		if (!access(cand, X_OK))
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

static uint64_t caps_missing(const struct facts *f, uint64_t want)
{
	const uint64_t bpf_perfmon = C(BPF) | C(PERFMON);
	uint64_t have = f->cap_eff;

	if (have & C(SYS_ADMIN))
		have |= bpf_perfmon;
	/* Kernels before 5.8 have no CAP_BPF/PERFMON: only SYS_ADMIN serves. */
	if (f->cap_known <= CAPN_BPF && (want & bpf_perfmon))
		want = (want & ~bpf_perfmon) | C(SYS_ADMIN);
	return want & ~have;
}

static bool tracefs_reachable(const struct facts *f)
{
	return f->tracefs || f->debugfs || (!caps_missing(f, C(SYS_ADMIN)) && !f->apparmor_confined);
}

static void judge_way(const struct facts *f, const struct way *w, struct verdict *v)
{
	const unsigned needs = w->needs;

	memset(v, 0, sizeof(*v));
	v->missing_caps = caps_missing(f, w->caps);
	if ((needs & NEED_ROOT) && f->uid != 0)
		v->missing |= NEED_ROOT;
	if ((needs & NEED_BTF) && !f->btf)
		v->missing |= NEED_BTF;
	if ((needs & NEED_KPROBES) && !f->kprobes)
		v->missing |= NEED_KPROBES;
	if ((needs & NEED_BPF_ATOMICS) && f->no_bpf_atomics)
		v->missing |= NEED_BPF_ATOMICS;
	if ((needs & NEED_TRACEFS) && !tracefs_reachable(f))
		v->missing |= NEED_TRACEFS;
	if ((needs & NEED_HOST_FS) && f->host_fs != 1)
		v->missing |= NEED_HOST_FS;
	if ((needs & NEED_HOST_FS_RW) && (f->host_fs != 1 || !f->host_fs_rw))
		v->missing |= NEED_HOST_FS_RW;
	if ((needs & NEED_HOST_PID) && f->host_pid != 1)
		v->missing |= NEED_HOST_PID;
	if ((needs & NEED_PROC_SYS_RW) && !f->proc_sys_rw)
		v->missing |= NEED_PROC_SYS_RW;
	if ((needs & NEED_PING_GROUP) && !f->ping_group_ok)
		v->missing |= NEED_PING_GROUP;
	/*
	 * kallsyms: addresses already shown (SYSLOG, or kptr_restrict=0 with
	 * perf_event_paranoid <= 1) need nothing more; kptr_restrict=2 hides
	 * them from everyone, and SYSLOG held yet refused means a user
	 * namespace (the kernel asks for it in the initial one): no flag helps.
	 */
	if (needs & NEED_KALLSYMS) {
		if (f->kallsyms_addrs == 1)
			v->missing_caps &= ~C(SYSLOG);
		else if (f->kptr_restrict >= 2 || !(v->missing_caps & C(SYSLOG)))
			v->missing |= NEED_KALLSYMS;
	}
	/*
	 * A failed load with the capabilities present is the runtime's doing:
	 * a seccomp filter refusing bpf(), most likely.
	 */
	if ((needs & NEED_BPF_LOAD) && !f->bpf_ok) {
		v->missing |= NEED_BPF_LOAD;
		if (!v->missing_caps && f->seccomp == 2 && (f->bpf_err == EPERM || f->bpf_err == EACCES))
			v->missing |= NEED_SECCOMP_OFF;
	}
	if ((v->missing & NEED_TRACEFS) && f->apparmor_confined)
		v->missing |= NEED_APPARMOR_OFF;
	v->ok = !v->missing && !v->missing_caps;
}

/* What no shell flag can grant: the kernel's or the image's doing. */
#define NEED_UNGRANTABLE (NEED_BTF | NEED_KPROBES | NEED_BPF_ATOMICS | NEED_PROC_SYS_RW | NEED_PING_GROUP | NEED_ROOT | NEED_KALLSYMS)

void capcheck_judge(const struct facts *f, const struct tool_req *t, struct verdict *v)
{
	struct verdict alt;

	judge_way(f, &t->ways[0], v);
	if (!v->ok && t->ways[1].how) {
		judge_way(f, &t->ways[1], &alt);
		/* The way that works, else the one that flags can fix. */
		if (alt.ok || ((v->missing & NEED_UNGRANTABLE) && !(alt.missing & NEED_UNGRANTABLE))) {
			*v = alt;
			v->way = 1;
		}
	}
	if (t->exe && !on_path(t->exe)) {
		v->not_installed = true;
		v->ok = false;
	}
}

static size_t append(char *buf, size_t len, size_t used, const char *sep, const char *s)
{
	if (used >= len)
		return used;
	int n = snprintf(buf + used, len - used, "%s%s", used ? sep : "", s);
	return n < 0 ? used : used + n;
}

void capcheck_flags(const struct verdict *v, char *buf, size_t len)
{
	char caps[768], flag[800];
	size_t used = 0;

	buf[0] = '\0';
	if (v->missing_caps) {
		snprintf(flag, sizeof(flag), "--capabilities %s", caps_format(v->missing_caps, caps, sizeof(caps)));
		used = append(buf, len, used, " ", flag);
	}
	if (v->missing & NEED_HOST_FS_RW)
		used = append(buf, len, used, " ", "--allow-host-filesystem-write");
	else if (v->missing & NEED_HOST_FS)
		used = append(buf, len, used, " ", "--mount-host-filesystem");
	if (v->missing & NEED_HOST_PID)
		used = append(buf, len, used, " ", "--host-pid");
	if (v->missing & NEED_SECCOMP_OFF)
		used = append(buf, len, used, " ", "--seccomp-unconfined");
	if (v->missing & NEED_APPARMOR_OFF)
		append(buf, len, used, " ", "--apparmor-unconfined");
}

static const struct { unsigned need; const char *text; } need_text[] = {
	{ NEED_ROOT, "run as root (uid 0)" },
	{ NEED_BTF, "kernel BTF (/sys/kernel/btf/vmlinux)" },
	{ NEED_BPF_LOAD, "a BPF program to load" },
	{ NEED_KPROBES, "kprobes (CONFIG_KPROBES)" },
	{ NEED_TRACEFS, "tracefs mounted (or SYS_ADMIN to mount it)" },
	{ NEED_HOST_FS, "the host's / at $HOST_ROOT" },
	{ NEED_HOST_FS_RW, "the host's / writable at $HOST_ROOT" },
	{ NEED_HOST_PID, "the host PID namespace" },
	{ NEED_PROC_SYS_RW, "/proc/sys writable" },
	{ NEED_PING_GROUP, "this gid in net.ipv4.ping_group_range" },
	{ NEED_KALLSYMS,
	  "kernel addresses in /proc/kallsyms (kernel.kptr_restrict below 2; not in a user namespace)" },
	{ NEED_SECCOMP_OFF, "bpf() allowed by seccomp" },
	{ NEED_APPARMOR_OFF, "mount allowed by AppArmor" },
	{ NEED_BPF_ATOMICS, "BPF atomic fetch-and-add (kernel 5.12+)" },
};

void capcheck_needs_text(unsigned needs, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(need_text); i++)
		if (needs & need_text[i].need)
			used = append(buf, len, used, "; ", need_text[i].text);
}

void capcheck_missing_text(const struct verdict *v, char *buf, size_t len)
{
	char caps[768], one[800];
	size_t used = 0;
	unsigned missing = v->missing;

	buf[0] = '\0';
	if (v->not_installed)
		used = append(buf, len, used, "; ", "not installed in this image");
	if (v->missing_caps) {
		snprintf(one, sizeof(one), "cap %s", caps_format(v->missing_caps, caps, sizeof(caps)));
		used = append(buf, len, used, "; ", one);
	}
	/* Once the reason a load fails is named, "a program to load" adds nothing. */
	if (v->missing_caps || (missing & NEED_SECCOMP_OFF))
		missing &= ~NEED_BPF_LOAD;
	capcheck_needs_text(missing, one, sizeof(one));
	if (one[0])
		append(buf, len, used, "; ", one);
}

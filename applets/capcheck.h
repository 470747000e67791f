/*
 * capcheck's model: the facts gathered about this process, the requirements
 * of each debug-shell tool (the table in capcheck_rules.c), and the verdict.
 * Judging is pure (facts in, verdict out) so unit tests can drive it.
 */
#ifndef RETINA_CAPCHECK_H
#define RETINA_CAPCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Tri-state fields: 1 yes, 0 no, -1 cannot be known from here. */
struct facts {
	uid_t uid;
	uint64_t cap_eff, cap_prm, cap_bnd;
	int cap_known;		/* capabilities this kernel has (cap_last_cap + 1) */
	int seccomp;		/* 0 disabled, 1 strict, 2 filter, -1 unknown */
	int no_new_privs;
	bool apparmor_enabled, apparmor_confined;
	char apparmor[128];
	int user_ns_init;
	int host_pid, host_net;
	char host_net_why[128];
	char host_root[256];
	int host_fs;		/* $HOST_ROOT is a mount point */
	int host_fs_is_root;
	bool host_fs_rw;
	char kernel[128];
	bool btf;
	long btf_size;
	bool bpffs, tracefs, debugfs, kprobes;
	char bpffs_at[256], tracefs_at[256], debugfs_at[256];
	bool proc_sys_rw;
	int kallsyms_addrs;	/* /proc/kallsyms shows real addresses to us */
	int kptr_restrict, perf_event_paranoid;	/* -1 unknown */
	bool ping_group_ok;
	bool no_bpf_atomics;	/* the kernel predates BPF atomic fetch-and-add (5.12) */
	int bpf_ok;
	int bpf_err;		/* errno of the failed step */
	char bpf_detail[160];
};

enum need {
	NEED_ROOT = 1 << 0,
	NEED_BTF = 1 << 1,
	NEED_BPF_LOAD = 1 << 2,
	NEED_KPROBES = 1 << 3,
	NEED_TRACEFS = 1 << 4,
	NEED_HOST_FS = 1 << 5,
	NEED_HOST_FS_RW = 1 << 6,
	NEED_HOST_PID = 1 << 7,
	NEED_PROC_SYS_RW = 1 << 8,
	NEED_PING_GROUP = 1 << 9,
	/* kernel addresses in /proc/kallsyms: CAP_SYSLOG (in the caps) unless shown to all, kptr_restrict < 2 */
	NEED_KALLSYMS = 1 << 10,
	/* only in verdicts: why a requirement above is unmet */
	NEED_SECCOMP_OFF = 1 << 11,
	NEED_APPARMOR_OFF = 1 << 12,
	/* BPF atomic fetch-and-add (5.12+): traceloop's ring heads */
	NEED_BPF_ATOMICS = 1 << 13,
};

/* One way to run a tool: these capabilities and these needs, all of them. */
struct way {
	uint64_t caps;
	unsigned needs;
	const char *how;	/* for a second way: the command it implies */
};

struct tool_req {
	const char *tool;	/* the name given to `capcheck TOOL` */
	const char *exe;	/* looked up on PATH; NULL: built into retina */
	struct way ways[2];	/* usable when either way's needs all hold */
	const char *runs;	/* a built-in feature: the command line that uses it */
};

struct verdict {
	bool ok;
	bool not_installed;
	int way;		/* which way the verdict is about */
	uint64_t missing_caps;
	unsigned missing;	/* enum need bits */
};

extern const struct tool_req capcheck_tools[];
extern const size_t capcheck_ntools;

const struct tool_req *capcheck_find(const char *tool);
void capcheck_gather(struct facts *f, bool verbose);
void capcheck_judge(const struct facts *f, const struct tool_req *t, struct verdict *v);
/* "--capabilities NET_RAW --host-pid": the shell flags granting what v lacks. */
void capcheck_flags(const struct verdict *v, char *buf, size_t len);
/* "cap NET_RAW; the host PID namespace": what v lacks, in words. */
void capcheck_missing_text(const struct verdict *v, char *buf, size_t len);
/* The needs in words, "; "-separated. */
void capcheck_needs_text(unsigned needs, char *buf, size_t len);

#endif

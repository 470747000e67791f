/*
 * capcheck: what this process may do here, and for each tool of the debug
 * shell, what it lacks and the `kubectl retina shell` flags that grant it.
 *
 * Facts come from /proc and /sys of the running process; "can BPF work" is
 * answered by really loading and attaching bpf/probe.bpf.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "applets/capcheck.h"
#include "bpf/probe.skel.h"
#include "lib/caps.h"
#include "lib/libbpf_log.h"
#include "lib/proc.h"
#include "lib/retina.h"
#include "lib/table.h"

const char capcheck_help[] =
	"usage: retina capcheck [-o table|json] [-q] [-v] [TOOL...]\n"
	"       retina capcheck --requirements\n"
	"\n"
	"Report what this process may do (capabilities, seccomp, AppArmor, host\n"
	"namespaces, /host, BTF, bpffs/tracefs, whether a BPF program loads) and, for\n"
	"each tool of the debug shell, OK or what is missing with the\n"
	"`kubectl retina shell` flags that would grant it.\n"
	"\n"
	"  -o, --output FMT     table (default) or json\n"
	"  -q, --quiet          print nothing; only the exit status answers\n"
	"  -v, --verbose        show libbpf's messages from the BPF load test\n"
	"  -r, --requirements   print what each tool needs, as a table, and exit\n"
	"\n"
	"Tools: trace trace-stack trace-nft bpftool bpftool-net pwru ig iptables\n"
	"       iptables-nft nft tcpdump strace jq socat drill chroot systemctl sysctl\n"
	"       ping execsnoop traceloop nsenter\n"
	"(trace-stack: trace --stack; trace-nft: trace --nft --allow-system-changes;\n"
	" bpftool-net: bpftool net)\n"
	"\n"
	"Exit status: with TOOLs, 0 when all of them are usable, 1 when any is not;\n"
	"without, 0 after the report. 2 on bad usage.\n"
	"\n"
	"Examples:\n"
	"  retina capcheck                 full report\n"
	"  retina capcheck trace ping      can I trace and ping from here?\n"
	"  retina capcheck trace-stack     can trace --stack name the kernel's functions?\n"
	"  retina capcheck -q trace && retina trace --drops\n"
	"  retina capcheck -o json | jq .tools\n";

/* init_user_ns and init_pid_ns have fixed inode numbers (PROC_*_INIT_INO). */
#define INIT_PID_NS_INO 0xEFFFFFFCUL
#define INIT_USER_NS_INO 0xEFFFFFFDUL
#define INIT_NET_NS_INO 0xEFFFFFF9UL	/* since 6.18 */

static const char *tri(int v, const char *yes, const char *no)
{
	return v > 0 ? yes : v == 0 ? no : "unknown";
}

/* ---- gathering facts ---------------------------------------------------- */

static void read_status(struct facts *f)
{
	struct proc_status st;

	proc_self_status(&st);
	f->cap_eff = st.cap_eff;
	f->cap_prm = st.cap_prm;
	f->cap_bnd = st.cap_bnd;
	f->seccomp = st.seccomp;
	f->no_new_privs = st.no_new_privs;
}

static void read_apparmor(struct facts *f)
{
	char enabled[8] = "";

	/* The attr file exists with other LSMs too; only trust it when AppArmor is on. */
	if (read_first_line("/sys/module/apparmor/parameters/enabled", enabled, sizeof(enabled)) || enabled[0] != 'Y')
		return;
	f->apparmor_enabled = true;
	if (read_first_line("/proc/self/attr/apparmor/current", f->apparmor, sizeof(f->apparmor)) &&
	    read_first_line("/proc/self/attr/current", f->apparmor, sizeof(f->apparmor)))
		snprintf(f->apparmor, sizeof(f->apparmor), "unknown");
	f->apparmor_confined = strcmp(f->apparmor, "unconfined") != 0 && !strstr(f->apparmor, "(unconfined)") &&
			       !strstr(f->apparmor, "(complain)");
}

static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

static int ns_ino(const char *path, unsigned long *ino)
{
	struct stat st;

	if (stat(path, &st))
		return -1;
	*ino = st.st_ino;
	return 0;
}

static void read_namespaces(struct facts *f)
{
	unsigned long mine, init;

	if (!ns_ino("/proc/self/ns/user", &mine))
		f->user_ns_init = mine == INIT_USER_NS_INO;
	if (!ns_ino("/proc/self/ns/pid", &mine))
		f->host_pid = mine == INIT_PID_NS_INO;

	/*
	 * Since 6.18 the initial network namespace has a fixed inode too; other
	 * namespaces get numbers from 0xF0000000 up, so a match is proof on any
	 * kernel. Before 6.18, compare with PID 1's, which is the host's init
	 * only when we share the host PID namespace.
	 */
	if (!ns_ino("/proc/self/ns/net", &mine) && mine == INIT_NET_NS_INO) {
		f->host_net = 1;
		snprintf(f->host_net_why, sizeof(f->host_net_why), "the initial network namespace");
		return;
	}
	if (kernel_at_least(6, 18)) {
		f->host_net = 0;
		snprintf(f->host_net_why, sizeof(f->host_net_why), "not the initial network namespace");
		return;
	}
	if (f->host_pid != 1) {
		snprintf(f->host_net_why, sizeof(f->host_net_why),
			 "PID 1 here is not the host's init; with --host-pid it can be compared");
		return;
	}
	if (ns_ino("/proc/self/ns/net", &mine) || ns_ino("/proc/1/ns/net", &init)) {
		snprintf(f->host_net_why, sizeof(f->host_net_why), "cannot read /proc/1/ns/net: %s", strerror(errno));
		return;
	}
	f->host_net = mine == init;
	snprintf(f->host_net_why, sizeof(f->host_net_why), "%s network namespace as PID 1",
		 f->host_net ? "same" : "different");
}

/* The last (topmost) mount at path, which must be canonical. */
static bool mount_at(const char *path, struct proc_mount *out)
{
	struct proc_mount m;
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	if (!fp)
		return false;
	while (proc_mount_next(fp, &m))
		if (!strcmp(m.point, path)) {
			*out = m;
			found = true;
		}
	fclose(fp);
	return found;
}

/*
 * Is $HOST_ROOT (default /host) the host's / as kubelet mounts it for
 * --mount-host-filesystem? A mount point whose root is "/" of its filesystem;
 * the same inode as the host init's root is proof, else /etc and /usr must be there.
 */
static void read_host_fs(struct facts *f)
{
	const char *root = getenv("HOST_ROOT");
	struct proc_mount m;
	struct statvfs vfs;
	struct stat st, init_root;
	char real[PATH_MAX], probe[PATH_MAX + 8];

	snprintf(f->host_root, sizeof(f->host_root), "%s", root && *root ? root : "/host");
	if (!realpath(f->host_root, real) || stat(real, &st) || !S_ISDIR(st.st_mode) || !mount_at(real, &m))
		return;
	f->host_fs = 1;
	if (f->host_pid == 1 && !stat("/proc/1/root/", &init_root)) {
		f->host_fs_is_root = st.st_dev == init_root.st_dev && st.st_ino == init_root.st_ino;
	} else {
		snprintf(probe, sizeof(probe), "%s/etc", real);
		bool etc = !access(probe, F_OK);
		snprintf(probe, sizeof(probe), "%s/usr", real);
		f->host_fs_is_root = strcmp(m.root, "/") || !etc || access(probe, F_OK) ? 0 : -1;
	}
	if (!statvfs(real, &vfs))
		f->host_fs_rw = !(vfs.f_flag & ST_RDONLY);
}

static void read_ping_group(struct facts *f)
{
	char buf[64];
	long lo, hi;

	/* Unprivileged ICMP sockets are allowed for gids in this range. */
	if (read_first_line("/proc/sys/net/ipv4/ping_group_range", buf, sizeof(buf)) ||
	    sscanf(buf, "%ld %ld", &lo, &hi) != 2)
		return;
	/* The kernel accepts the effective gid or any supplementary group. */
	gid_t groups[256];
	int n = getgroups(ARRAY_SIZE(groups), groups);
	f->ping_group_ok = (long)getegid() >= lo && (long)getegid() <= hi;
	for (int i = 0; i < n && !f->ping_group_ok; i++)
		f->ping_group_ok = (long)groups[i] >= lo && (long)groups[i] <= hi;
}

/* An int sysctl; -1 when unreadable. */
static int read_sysctl_int(const char *path)
{
	char buf[32];

	return read_first_line(path, buf, sizeof(buf)) ? -1 : atoi(buf);
}

/*
 * Does /proc/kallsyms show us real addresses? The kernel prints 0 for every
 * symbol to a reader it does not trust (kptr_restrict, CAP_SYSLOG): a few
 * lines tell.
 */
static void read_kallsyms(struct facts *f)
{
	char line[256];
	int n = 0;
	FILE *fp = fopen("/proc/kallsyms", "re");

	f->kptr_restrict = read_sysctl_int("/proc/sys/kernel/kptr_restrict");
	f->perf_event_paranoid = read_sysctl_int("/proc/sys/kernel/perf_event_paranoid");
	f->kallsyms_addrs = -1;
	if (!fp)
		return;
	while (n < 64 && fgets(line, sizeof(line), fp)) {
		unsigned long long addr;
		if (sscanf(line, "%llx", &addr) != 1)
			continue;
		n++;
		if (addr) {
			f->kallsyms_addrs = 1;
			break;
		}
	}
	if (n && f->kallsyms_addrs != 1)
		f->kallsyms_addrs = 0;
	fclose(fp);
}

/*
 * Load and attach the probe, make a syscall, and check it was seen with the
 * right tgid (which also proves the CO-RE relocation against this kernel).
 */
static void try_bpf(struct facts *f, bool verbose)
{
	struct probe_bpf *skel;
	char ebuf[16];
	int err;

	libbpf_messages(verbose);
	skel = probe_bpf__open();
	if (!skel) {
		f->bpf_err = errno;
		snprintf(f->bpf_detail, sizeof(f->bpf_detail), "open failed: %s", errno_name(errno, ebuf));
		return;
	}
	struct stat ns;
	if (stat("/proc/self/ns/pid", &ns)) {
		f->bpf_err = errno;
		snprintf(f->bpf_detail, sizeof(f->bpf_detail), "cannot stat /proc/self/ns/pid: %s",
			 errno_name(errno, ebuf));
		goto out;
	}
	skel->rodata->target_tgid = getpid();
	skel->rodata->pidns_dev = ns.st_dev;
	skel->rodata->pidns_ino = ns.st_ino;
	err = probe_bpf__load(skel);
	if (err) {
		f->bpf_err = -err;
		snprintf(f->bpf_detail, sizeof(f->bpf_detail), "load failed: %s", errno_name(err, ebuf));
		goto out;
	}
	err = probe_bpf__attach(skel);
	if (err) {
		f->bpf_err = -err;
		snprintf(f->bpf_detail, sizeof(f->bpf_detail), "attach to raw_tp/sys_enter failed: %s",
			 errno_name(err, ebuf));
		goto out;
	}
	(void)getppid();
	if (!skel->bss->hits) {
		f->bpf_err = EIO;
		snprintf(f->bpf_detail, sizeof(f->bpf_detail), "attached, but saw no syscall of this process");
	} else if (skel->bss->core_tgid != skel->bss->helper_tgid) {
		/* Both are the global tgid: in a container neither is getpid(). */
		f->bpf_err = EIO;
		snprintf(f->bpf_detail, sizeof(f->bpf_detail), "CO-RE read task_struct.tgid=%u, expected %u",
			 skel->bss->core_tgid, skel->bss->helper_tgid);
	} else {
		f->bpf_ok = 1;
		snprintf(f->bpf_detail, sizeof(f->bpf_detail), "raw_tp program loaded, attached, saw %llu syscalls",
			 (unsigned long long)skel->bss->hits);
	}
out:
	probe_bpf__destroy(skel);
}

void capcheck_gather(struct facts *f, bool verbose)
{
	struct utsname u;
	struct stat st;
	char buf[32];

	memset(f, 0, sizeof(*f));
	f->user_ns_init = -1;
	f->host_pid = -1;
	f->host_net = -1;
	f->host_fs_is_root = -1;
	f->uid = geteuid();
	read_status(f);
	f->cap_known = read_first_line("/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) ? CAP_COUNT : atoi(buf) + 1;
	read_apparmor(f);
	read_namespaces(f);
	read_host_fs(f);
	if (!uname(&u))
		snprintf(f->kernel, sizeof(f->kernel), "%s %s", u.release, u.machine);
	if (!stat("/sys/kernel/btf/vmlinux", &st)) {
		f->btf = true;
		f->btf_size = st.st_size;
	}
	f->bpffs = proc_mount_of("bpf", f->bpffs_at, sizeof(f->bpffs_at));
	f->tracefs = proc_mount_of("tracefs", f->tracefs_at, sizeof(f->tracefs_at));
	f->debugfs = proc_mount_of("debugfs", f->debugfs_at, sizeof(f->debugfs_at));
	/* The kprobe PMU shows in sysfs when the kernel has kprobe events. */
	f->kprobes = !access("/sys/bus/event_source/devices/kprobe", F_OK);
	f->no_bpf_atomics = !kernel_at_least(5, 12);
	f->proc_sys_rw = !access("/proc/sys/net/ipv4/ip_forward", W_OK);
	read_ping_group(f);
	read_kallsyms(f);
	try_bpf(f, verbose);
}

/* ---- output ------------------------------------------------------------- */

/* "all (41)", "none", "all but SYS_RESOURCE", or the list: whichever is shortest to read. */
static void caps_line(const char *label, uint64_t mask, int known)
{
	char buf[768];
	uint64_t all = known >= 64 ? ~0ULL : (CAPBIT(known) - 1);

	mask &= all;
	if (mask == all)
		printf("  %-14s all (%d)\n", label, known);
	else if (!mask)
		printf("  %-14s none\n", label);
	else if (__builtin_popcountll(mask) > known / 2)
		printf("  %-14s all but %s\n", label, caps_format(all & ~mask, buf, sizeof(buf)));
	else
		printf("  %-14s %s\n", label, caps_format(mask, buf, sizeof(buf)));
}

static void print_table(const struct facts *f, const struct tool_req *tools[], const struct verdict verdicts[],
			size_t n)
{
	char buf[1024];

	printf("PROCESS\n");
	printf("  %-14s %u%s\n", "uid", f->uid, f->user_ns_init == 0 ? " (inside a user namespace: capabilities apply only there)" : "");
	caps_line("effective", f->cap_eff, f->cap_known);
	caps_line("bounding", f->cap_bnd, f->cap_known);
	printf("  %-14s %s\n", "seccomp", f->seccomp == 0 ? "disabled" : f->seccomp == 1 ? "strict" :
		 f->seccomp == 2 ? "filter" : "unknown");
	printf("  %-14s %s\n", "no_new_privs", tri(f->no_new_privs, "yes", "no"));
	printf("  %-14s %s\n", "apparmor", f->apparmor_enabled ? f->apparmor : "not enabled");
	printf("  %-14s %s\n", "host pid ns", tri(f->host_pid, "yes", "no"));
	printf("  %-14s %s (%s)\n", "host net ns", tri(f->host_net, "yes", "no"), f->host_net_why);
	if (f->host_fs == 1)
		printf("  %-14s %s mounted, %s%s\n", "host fs", f->host_root, f->host_fs_rw ? "writable" : "read-only",
		       f->host_fs_is_root == 1 ? ", the host's /" : f->host_fs_is_root == 0 ? ", NOT the host's /" : "");
	else
		printf("  %-14s %s not mounted (--mount-host-filesystem)\n", "host fs", f->host_root);

	printf("\nKERNEL\n");
	printf("  %-14s %s\n", "release", f->kernel);
	if (f->btf)
		printf("  %-14s /sys/kernel/btf/vmlinux (%ld KiB)\n", "btf", f->btf_size / 1024);
	else
		printf("  %-14s missing: CO-RE tools cannot run (kernel built without CONFIG_DEBUG_INFO_BTF)\n", "btf");
	printf("  %-14s %s\n", "bpffs", f->bpffs ? f->bpffs_at : "not mounted");
	printf("  %-14s %s\n", "tracefs", f->tracefs ? f->tracefs_at : "not mounted (retina trace does not need it)");
	printf("  %-14s %s\n", "debugfs", f->debugfs ? f->debugfs_at : "not mounted");
	printf("  %-14s %s\n", "kprobes", f->kprobes ? "available" : "not available (tracepoint-based tools only)");
	if (f->kallsyms_addrs == 1)
		printf("  %-14s addresses shown (trace --stack names functions)\n", "kallsyms");
	else if (f->kallsyms_addrs == 0 && f->kptr_restrict >= 2)
		printf("  %-14s addresses hidden from everyone (kernel.kptr_restrict=%d)\n", "kallsyms",
		       f->kptr_restrict);
	else if (f->kallsyms_addrs == 0)
		printf("  %-14s addresses hidden (kernel.kptr_restrict=%d: CAP_SYSLOG shows them)\n", "kallsyms",
		       f->kptr_restrict);
	else
		printf("  %-14s cannot be read\n", "kallsyms");
	printf("  %-14s %s: %s\n", "bpf load", f->bpf_ok ? "ok" : "FAILED", f->bpf_detail);

	printf("\n");
	struct table t;
	static const char *const head[] = { "TOOL", "STATUS", "MISSING", "GRANT WITH" };
	table_init(&t, 4, head);
	uint64_t all_caps = 0;
	unsigned all_missing = 0;
	for (size_t i = 0; i < n; i++) {
		char missing[512], flags[512];
		const struct verdict *v = &verdicts[i];

		capcheck_missing_text(v, missing, sizeof(missing));
		capcheck_flags(v, flags, sizeof(flags));
		if (!v->ok && v->way && flags[0]) {
			size_t l = strlen(flags);
			snprintf(flags + l, sizeof(flags) - l, ", then: %s", tools[i]->ways[1].how);
		}
		const char *row[] = { tools[i]->tool, v->ok ? "ok" : "missing", v->ok ? "" : missing,
				      v->ok ? "" : flags };
		if (table_add(&t, row))
			die(EXIT_FAIL, "out of memory");
		if (!v->ok) {
			all_caps |= v->missing_caps;
			all_missing |= v->missing;
		}
	}
	table_print(&t, stdout);
	table_free(&t);

	struct verdict all = { .missing_caps = all_caps, .missing = all_missing };
	capcheck_flags(&all, buf, sizeof(buf));
	if (buf[0])
		printf("\nFor all of them: kubectl retina shell <node> %s\n", buf);
}

static void json_caps(cJSON *o, const char *key, uint64_t mask)
{
	cJSON *arr = cJSON_AddArrayToObject(o, key);

	for (int i = 0; i < CAP_COUNT; i++)
		if (mask & CAPBIT(i))
			cJSON_AddItemToArray(arr, cJSON_CreateString(cap_name(i)));
}

static void json_tri(cJSON *o, const char *key, int v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddBoolToObject(o, key, v);
}

static void print_json(const struct facts *f, const struct tool_req *tools[], const struct verdict verdicts[],
		       size_t n)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *p = cJSON_AddObjectToObject(root, "process");
	cJSON *k = cJSON_AddObjectToObject(root, "kernel");
	cJSON *ts = cJSON_AddArrayToObject(root, "tools");
	char buf[1024];

	cJSON_AddNumberToObject(p, "uid", f->uid);
	json_tri(p, "user_ns_init", f->user_ns_init);
	json_caps(p, "effective", f->cap_eff);
	json_caps(p, "permitted", f->cap_prm);
	json_caps(p, "bounding", f->cap_bnd);
	cJSON_AddStringToObject(p, "seccomp", f->seccomp == 0 ? "disabled" : f->seccomp == 1 ? "strict" :
				f->seccomp == 2 ? "filter" : "unknown");
	json_tri(p, "no_new_privs", f->no_new_privs);
	if (f->apparmor_enabled)
		cJSON_AddStringToObject(p, "apparmor", f->apparmor);
	else
		cJSON_AddNullToObject(p, "apparmor");
	json_tri(p, "host_pid", f->host_pid);
	json_tri(p, "host_net", f->host_net);
	cJSON_AddStringToObject(p, "host_net_detail", f->host_net_why);
	cJSON *h = cJSON_AddObjectToObject(p, "host_fs");
	cJSON_AddStringToObject(h, "path", f->host_root);
	cJSON_AddBoolToObject(h, "mounted", f->host_fs == 1);
	json_tri(h, "is_host_root", f->host_fs == 1 ? f->host_fs_is_root : 0);
	cJSON_AddBoolToObject(h, "writable", f->host_fs == 1 && f->host_fs_rw);

	cJSON_AddStringToObject(k, "release", f->kernel);
	cJSON_AddBoolToObject(k, "btf", f->btf);
	cJSON_AddItemToObject(k, "bpffs", f->bpffs ? cJSON_CreateString(f->bpffs_at) : cJSON_CreateNull());
	cJSON_AddItemToObject(k, "tracefs", f->tracefs ? cJSON_CreateString(f->tracefs_at) : cJSON_CreateNull());
	cJSON_AddItemToObject(k, "debugfs", f->debugfs ? cJSON_CreateString(f->debugfs_at) : cJSON_CreateNull());
	cJSON_AddBoolToObject(k, "kprobes", f->kprobes);
	json_tri(k, "kallsyms_addresses", f->kallsyms_addrs);
	if (f->kptr_restrict >= 0)
		cJSON_AddNumberToObject(k, "kptr_restrict", f->kptr_restrict);
	else
		cJSON_AddNullToObject(k, "kptr_restrict");
	cJSON_AddBoolToObject(k, "bpf_load", f->bpf_ok);
	cJSON_AddStringToObject(k, "bpf_load_detail", f->bpf_detail);

	for (size_t i = 0; i < n; i++) {
		cJSON *t = cJSON_CreateObject();
		const struct verdict *v = &verdicts[i];

		cJSON_AddStringToObject(t, "tool", tools[i]->tool);
		cJSON_AddBoolToObject(t, "ok", v->ok);
		cJSON_AddBoolToObject(t, "installed", !v->not_installed);
		capcheck_missing_text(v, buf, sizeof(buf));
		cJSON_AddStringToObject(t, "missing", v->ok ? "" : buf);
		json_caps(t, "missing_capabilities", v->missing_caps);
		capcheck_flags(v, buf, sizeof(buf));
		cJSON_AddStringToObject(t, "flags", v->ok ? "" : buf);
		if (v->way && tools[i]->ways[1].how)
			cJSON_AddStringToObject(t, "run_as", tools[i]->ways[1].how);
		cJSON_AddItemToArray(ts, t);
	}
	char *s = cJSON_PrintUnformatted(root);
	if (!s)
		die(EXIT_FAIL, "out of memory");
	puts(s);
	free(s);
	cJSON_Delete(root);
}

static void print_requirements(void)
{
	struct table t;
	static const char *const head[] = { "TOOL", "RUNS", "CAPABILITIES", "ALSO NEEDS" };

	table_init(&t, 4, head);
	for (size_t i = 0; i < capcheck_ntools; i++) {
		const struct tool_req *r = &capcheck_tools[i];
		for (int w = 0; w < 2 && (w == 0 || r->ways[w].how); w++) {
			char caps[768], needs[512];

			capcheck_needs_text(r->ways[w].needs, needs, sizeof(needs));
			caps_format(r->ways[w].caps, caps, sizeof(caps));
			const char *runs = w ? r->ways[w].how : r->runs ? r->runs : r->exe ? r->exe : "(built in)";
			const char *row[] = { w ? "" : r->tool, runs,
					      caps[0] ? caps : "-", needs[0] ? needs : "-" };
			if (table_add(&t, row))
				die(EXIT_FAIL, "out of memory");
		}
	}
	table_print(&t, stdout);
	table_free(&t);
}

int capcheck_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' }, { "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },	    { "requirements", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },	    { NULL, 0, NULL, 0 },
	};
	bool json = false, quiet = false, verbose = false;
	int c;

	while ((c = next_opt(argc, argv, "o:qvrh", longopts)) != -1) {
		switch (c) {
		case 'o':
			json = output_is_json(optarg);
			break;
		case 'q': quiet = true; break;
		case 'v': verbose = true; break;
		case 'r': print_requirements(); return EXIT_OK;
		case 'h': show_help(capcheck_help);
		}
	}

	const struct tool_req *tools[capcheck_ntools];
	struct verdict verdicts[capcheck_ntools];
	size_t n = 0;

	if (optind == argc) {
		for (size_t i = 0; i < capcheck_ntools; i++)
			tools[n++] = &capcheck_tools[i];
	}
	for (int i = optind; i < argc; i++) {
		const struct tool_req *r = capcheck_find(argv[i]);
		if (!r) {
			char list[256];
			size_t used = 0;
			for (size_t j = 0; j < capcheck_ntools && used < sizeof(list); j++)
				used += snprintf(list + used, sizeof(list) - used, "%s%s", j ? ", " : "",
						 capcheck_tools[j].tool);
			usage_error("unknown tool '%s' (tools: %s)", argv[i], list);
		}
		if (n < capcheck_ntools)
			tools[n++] = r;
	}

	struct facts f;
	capcheck_gather(&f, verbose);
	bool all_ok = true;
	for (size_t i = 0; i < n; i++) {
		capcheck_judge(&f, tools[i], &verdicts[i]);
		all_ok &= verdicts[i].ok;
	}
	if (!quiet) {
		if (json)
			print_json(&f, tools, verdicts, n);
		else
			print_table(&f, tools, verdicts, n);
	}
	if (optind == argc)
		return EXIT_OK;
	return all_ok ? EXIT_OK : EXIT_FAIL;
}

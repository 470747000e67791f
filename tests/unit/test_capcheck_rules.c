/*
 * Unit tests for capcheck's rules: made-up facts in, verdicts and suggested
 * `kubectl retina shell` flags out. The real-process checks are in
 * tests/integration/test_capcheck.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "applets/capcheck.h"
#include "lib/caps.h"

#define C(n) CAPBIT(CAPN_##n)

/* A container with the default runtime capabilities, nothing extra. */
static struct facts plain_pod(void)
{
	struct facts f = {
		.uid = 0,
		.cap_eff = CAPBIT(0) | CAPBIT(1) | CAPBIT(3) | CAPBIT(4) | CAPBIT(5) | CAPBIT(6) | CAPBIT(7) |
			   CAPBIT(8) | CAPBIT(10) | CAPBIT(18) | CAPBIT(27) | CAPBIT(29) | CAPBIT(31),
		.cap_known = 41,
		.seccomp = 2,
		.host_pid = 0,
		.host_net = 1,
		.host_fs = 0,
		.btf = true,
		.kprobes = true,
		.bpf_ok = 0,
		.bpf_err = EPERM,
	};
	return f;
}

static struct verdict judge(const struct facts *f, const char *tool)
{
	struct verdict v;
	const struct tool_req *t = capcheck_find(tool);

	assert_non_null(t);
	capcheck_judge(f, t, &v);
	return v;
}

static void flags_of(const struct verdict *v, char *buf)
{
	capcheck_flags(v, buf, 512);
}

static void trace_without_bpf_caps_asks_for_bpf_and_perfmon(void **state)
{
	struct facts f = plain_pod();
	char flags[512];
	(void)state;

	struct verdict v = judge(&f, "trace");
	assert_false(v.ok);
	assert_int_equal(v.missing_caps, C(BPF) | C(PERFMON));
	flags_of(&v, flags);
	assert_string_equal(flags, "--capabilities PERFMON,BPF");
}

/* bpftool lists with SYS_ADMIN; its `net` also queries the flow dissector: NET_ADMIN. */
static void bpftool_net_needs_net_admin_too(void **state)
{
	struct facts f = plain_pod();
	char flags[512];
	(void)state;

	f.cap_eff |= C(SYS_ADMIN);
	assert_true(judge(&f, "bpftool").ok);
	struct verdict v = judge(&f, "bpftool-net");
	assert_false(v.ok);
	assert_int_equal(v.missing_caps, C(NET_ADMIN));
	flags_of(&v, flags);
	assert_string_equal(flags, "--capabilities NET_ADMIN");
}

static void sys_admin_stands_in_for_bpf_and_perfmon(void **state)
{
	struct facts f = plain_pod();
	(void)state;

	f.cap_eff |= C(SYS_ADMIN);
	f.bpf_ok = 1;
	struct verdict v = judge(&f, "trace");
	assert_true(v.ok);
}

/* 5.10 refuses traceloop's fetch-and-add: no flag helps, and the text names the kernel feature. */
static void traceloop_before_5_12_names_bpf_atomics(void **state)
{
	struct facts f = plain_pod();
	char flags[512], text[512];

	(void)state;
	f.cap_eff |= C(BPF) | C(PERFMON);
	f.bpf_ok = 1;
	f.no_bpf_atomics = true;
	struct verdict v = judge(&f, "traceloop");
	assert_false(v.ok);
	assert_int_equal(v.missing, NEED_BPF_ATOMICS);
	flags_of(&v, flags);
	assert_string_equal(flags, "");
	capcheck_missing_text(&v, text, sizeof(text));
	assert_string_equal(text, "BPF atomic fetch-and-add (kernel 5.12+)");
	/* trace and execsnoop need no atomics */
	assert_true(judge(&f, "trace").ok);
	assert_true(judge(&f, "execsnoop").ok);
}

static void old_kernel_without_cap_bpf_needs_sys_admin(void **state)
{
	struct facts f = plain_pod();
	char flags[512];
	(void)state;

	f.cap_known = 38;	/* 5.4: CAP_AUDIT_READ is the last */
	struct verdict v = judge(&f, "trace");
	assert_int_equal(v.missing_caps, C(SYS_ADMIN));
	flags_of(&v, flags);
	assert_string_equal(flags, "--capabilities SYS_ADMIN");
}

static void failed_load_with_caps_under_seccomp_blames_seccomp(void **state)
{
	struct facts f = plain_pod();
	char flags[512], text[512];
	(void)state;

	f.cap_eff |= C(BPF) | C(PERFMON);
	struct verdict v = judge(&f, "trace");
	assert_false(v.ok);
	assert_int_equal(v.missing_caps, 0);
	assert_true(v.missing & NEED_SECCOMP_OFF);
	flags_of(&v, flags);
	assert_string_equal(flags, "--seccomp-unconfined");
	capcheck_missing_text(&v, text, sizeof(text));
	assert_string_equal(text, "bpf() allowed by seccomp");

	/* Without a seccomp filter, seccomp is not the one to blame. */
	f.seccomp = 0;
	v = judge(&f, "trace");
	assert_false(v.missing & NEED_SECCOMP_OFF);
	assert_true(v.missing & NEED_BPF_LOAD);
}

static void systemctl_needs_host_fs_and_host_pid(void **state)
{
	struct facts f = plain_pod();
	char flags[512];
	(void)state;

	struct verdict v = judge(&f, "systemctl");
	assert_false(v.ok);
	assert_int_equal(v.missing_caps, 0);	/* SYS_CHROOT is a runtime default */
	flags_of(&v, flags);
	assert_string_equal(flags, "--mount-host-filesystem --host-pid");

	f.host_fs = 1;
	f.host_pid = 1;
	v = judge(&f, "systemctl");
	assert_int_equal(v.missing, 0);
}

static void sysctl_falls_back_to_chroot_into_writable_host(void **state)
{
	struct facts f = plain_pod();
	char flags[512];
	(void)state;

	f.proc_sys_rw = false;
	struct verdict v = judge(&f, "sysctl");
	assert_false(v.ok);
	assert_int_equal(v.way, 1);	/* the way flags can fix */
	flags_of(&v, flags);
	assert_string_equal(flags, "--allow-host-filesystem-write");

	f.host_fs = 1;
	f.host_fs_rw = true;
	v = judge(&f, "sysctl");
	assert_int_equal(v.missing, 0);
	assert_int_equal(v.way, 1);

	f.proc_sys_rw = true;
	v = judge(&f, "sysctl");
	assert_int_equal(v.missing, 0);
	assert_int_equal(v.way, 0);
}

static void ping_works_without_net_raw_when_ping_group_allows(void **state)
{
	struct facts f = plain_pod();
	char flags[512];
	(void)state;

	struct verdict v = judge(&f, "ping");
	assert_int_equal(v.missing_caps, C(NET_RAW));
	flags_of(&v, flags);
	assert_string_equal(flags, "--capabilities NET_RAW");

	f.ping_group_ok = true;
	v = judge(&f, "ping");
	assert_int_equal(v.missing_caps, 0);
	assert_int_equal(v.missing, 0);
}

static void pwru_without_kprobes_is_not_fixable_by_flags(void **state)
{
	struct facts f = plain_pod();
	char flags[512], text[512];
	(void)state;

	f.kprobes = false;
	f.cap_eff |= C(SYS_ADMIN);
	struct verdict v = judge(&f, "pwru");
	assert_true(v.missing & NEED_KPROBES);
	flags_of(&v, flags);
	assert_string_equal(flags, "");
	capcheck_missing_text(&v, text, sizeof(text));
	assert_non_null(strstr(text, "kprobes"));
}

static void tracefs_under_apparmor_suggests_unconfined(void **state)
{
	struct facts f = plain_pod();
	char flags[512];
	(void)state;

	f.cap_eff |= C(SYS_ADMIN) | C(NET_ADMIN) | C(SYS_PTRACE);
	f.host_pid = 1;
	f.host_fs = 1;
	f.apparmor_enabled = f.apparmor_confined = true;
	struct verdict v = judge(&f, "ig");
	assert_true(v.missing & NEED_TRACEFS);
	flags_of(&v, flags);
	assert_string_equal(flags, "--apparmor-unconfined");

	f.tracefs = true;	/* already mounted: AppArmor does not matter */
	v = judge(&f, "ig");
	assert_int_equal(v.missing, 0);
}

/* A pod that can trace: BPF and PERFMON granted, the probe loads. */
static struct facts tracing_pod(void)
{
	struct facts f = plain_pod();

	f.cap_eff |= C(BPF) | C(PERFMON);
	f.bpf_ok = 1;
	f.bpf_err = 0;
	f.kptr_restrict = 1;
	f.kallsyms_addrs = 0;
	return f;
}

static void trace_stack_needs_syslog_while_kallsyms_hides_addresses(void **state)
{
	struct facts f = tracing_pod();
	char flags[512], text[512];
	(void)state;

	struct verdict v = judge(&f, "trace-stack");
	assert_false(v.ok);
	assert_int_equal(v.missing_caps, C(SYSLOG));
	assert_int_equal(v.missing, 0);
	flags_of(&v, flags);
	assert_string_equal(flags, "--capabilities SYSLOG");
	capcheck_missing_text(&v, text, sizeof(text));
	assert_string_equal(text, "cap SYSLOG");
	assert_true(judge(&f, "trace").ok);	/* plain trace does not care */

	f.cap_eff |= C(SYSLOG);
	f.kallsyms_addrs = 1;
	assert_true(judge(&f, "trace-stack").ok);
}

static void trace_stack_without_syslog_is_fine_when_addresses_are_shown_to_all(void **state)
{
	struct facts f = tracing_pod();
	(void)state;

	/* kptr_restrict=0 with perf_event_paranoid <= 1: every reader sees them */
	f.kptr_restrict = 0;
	f.kallsyms_addrs = 1;
	struct verdict v = judge(&f, "trace-stack");
	assert_true(v.ok);
	assert_int_equal(v.missing_caps, 0);
}

static void trace_stack_under_kptr_restrict_2_is_not_fixable_by_flags(void **state)
{
	struct facts f = tracing_pod();
	char flags[512], text[512];
	(void)state;

	f.kptr_restrict = 2;
	f.cap_eff |= C(SYSLOG);
	struct verdict v = judge(&f, "trace-stack");
	assert_false(v.ok);
	assert_true(v.missing & NEED_KALLSYMS);
	flags_of(&v, flags);
	assert_string_equal(flags, "");
	capcheck_missing_text(&v, text, sizeof(text));
	assert_string_equal(text,
			    "kernel addresses in /proc/kallsyms (kernel.kptr_restrict below 2; not in a user namespace)");

	/* SYSLOG held yet refused (a user namespace): no flag either */
	f.kptr_restrict = 1;
	v = judge(&f, "trace-stack");
	assert_true(v.missing & NEED_KALLSYMS);
	assert_int_equal(v.missing_caps, 0);
}

static void trace_nft_needs_net_admin_too(void **state)
{
	struct facts f = tracing_pod();
	char flags[512];
	(void)state;

	struct verdict v = judge(&f, "trace-nft");
	assert_false(v.ok);
	assert_int_equal(v.missing_caps, C(NET_ADMIN));
	flags_of(&v, flags);
	assert_string_equal(flags, "--capabilities NET_ADMIN");

	f = plain_pod();	/* nothing granted: all three at once */
	v = judge(&f, "trace-nft");
	flags_of(&v, flags);
	assert_string_equal(flags, "--capabilities NET_ADMIN,PERFMON,BPF");

	f = tracing_pod();
	f.cap_eff |= C(NET_ADMIN);
	assert_true(judge(&f, "trace-nft").ok);
}

static void toolbox_tcpdump_and_iptables_nft(void **state)
{
	struct facts f = plain_pod();
	char flags[512];
	(void)state;

	struct verdict v = judge(&f, "tcpdump");
	assert_false(v.ok);
	assert_int_equal(v.missing_caps, C(NET_RAW));
	flags_of(&v, flags);
	assert_string_equal(flags, "--capabilities NET_RAW");
	f.cap_eff |= C(NET_RAW);
	v = judge(&f, "tcpdump");	/* ok but for being on this machine's PATH */
	assert_int_equal(v.missing_caps, 0);
	assert_int_equal(v.missing, 0);

	/* the node's iptables-nft runs by chroot into /host: that and the flag */
	f = plain_pod();
	f.cap_eff |= C(NET_ADMIN) | C(SYS_CHROOT);
	v = judge(&f, "iptables-nft");
	assert_false(v.ok);
	assert_int_equal(v.missing_caps, 0);
	flags_of(&v, flags);
	assert_string_equal(flags, "--mount-host-filesystem");
}

static void toolbox_tools_that_need_no_capability(void **state)
{
	struct facts f = plain_pod();
	(void)state;

	/* nothing granted: only being installed (not on this machine's PATH) */
	for (const char *const *t = (const char *const[]){ "jq", "socat", "drill", NULL }; *t; t++) {
		struct verdict v = judge(&f, *t);
		assert_int_equal(v.missing_caps, 0);
		assert_int_equal(v.missing, 0);
	}
}

static void toolbox_strace_p_needs_sys_ptrace(void **state)
{
	struct facts f = plain_pod();
	char flags[512];
	(void)state;

	struct verdict v = judge(&f, "strace");
	assert_false(v.ok);
	assert_int_equal(v.missing_caps, C(SYS_PTRACE));
	flags_of(&v, flags);
	assert_string_equal(flags, "--capabilities SYS_PTRACE");
	f.cap_eff |= C(SYS_PTRACE);
	assert_int_equal(judge(&f, "strace").missing_caps, 0);
}

static void unknown_tool_is_not_found(void **state)
{
	(void)state;
	assert_null(capcheck_find("tshark"));
	assert_non_null(capcheck_find("nft"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trace_without_bpf_caps_asks_for_bpf_and_perfmon),
		cmocka_unit_test(sys_admin_stands_in_for_bpf_and_perfmon),
		cmocka_unit_test(bpftool_net_needs_net_admin_too),
		cmocka_unit_test(old_kernel_without_cap_bpf_needs_sys_admin),
		cmocka_unit_test(failed_load_with_caps_under_seccomp_blames_seccomp),
		cmocka_unit_test(systemctl_needs_host_fs_and_host_pid),
		cmocka_unit_test(sysctl_falls_back_to_chroot_into_writable_host),
		cmocka_unit_test(ping_works_without_net_raw_when_ping_group_allows),
		cmocka_unit_test(pwru_without_kprobes_is_not_fixable_by_flags),
		cmocka_unit_test(tracefs_under_apparmor_suggests_unconfined),
		cmocka_unit_test(trace_stack_needs_syslog_while_kallsyms_hides_addresses),
		cmocka_unit_test(trace_stack_without_syslog_is_fine_when_addresses_are_shown_to_all),
		cmocka_unit_test(trace_stack_under_kptr_restrict_2_is_not_fixable_by_flags),
		cmocka_unit_test(trace_nft_needs_net_admin_too),
		cmocka_unit_test(toolbox_tcpdump_and_iptables_nft),
		cmocka_unit_test(toolbox_tools_that_need_no_capability),
		cmocka_unit_test(toolbox_strace_p_needs_sys_ptrace),
		cmocka_unit_test(unknown_tool_is_not_found),
		cmocka_unit_test(traceloop_before_5_12_names_bpf_atomics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/: value parsers, errno names, capability names, tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "lib/caps.h"
#include "lib/proc.h"
#include "lib/retina.h"
#include "lib/sys.h"
#include "lib/table.h"

static void duration_accepts_go_style_units(void **state)
{
	uint64_t ms;
	(void)state;

	assert_int_equal(parse_duration_ms("30s", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(parse_duration_ms("1m30s", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(parse_duration_ms("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(parse_duration_ms("2h", &ms), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(parse_duration_ms("1m500ms", &ms), 0);
	assert_int_equal(ms, 60500);
	assert_int_equal(parse_duration_ms("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(parse_duration_ms("45", &ms), 0);	/* bare number: seconds */
	assert_int_equal(ms, 45000);
}

static void duration_rejects_junk(void **state)
{
	uint64_t ms = 7;
	(void)state;

	const char *bad[] = { "", "s", "10x", "-5s", "1.5s", "10 s", "5sec", "m", "99999999999999999999s",
			      "18446744073709551615h" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(parse_duration_ms(bad[i], &ms), -1);
		assert_int_equal(ms, 7);	/* untouched on error */
	}
	assert_int_equal(parse_duration_ms(NULL, &ms), -1);
}

static void u64_checks_range_and_junk(void **state)
{
	uint64_t v;
	(void)state;

	assert_int_equal(parse_u64("65535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(parse_u64("65536", 1, 65535, &v), -1);
	assert_int_equal(parse_u64("0", 1, 65535, &v), -1);
	assert_int_equal(parse_u64("12a", 0, 100, &v), -1);
	assert_int_equal(parse_u64(" 12", 0, 100, &v), -1);
	assert_int_equal(parse_u64("-1", 0, UINT64_MAX, &v), -1);
	assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -1);
}

static void errno_names_round_trip(void **state)
{
	char buf[16];
	(void)state;

	assert_string_equal(errno_name(ECONNREFUSED, buf), "ECONNREFUSED");
	assert_string_equal(errno_name(-ETIMEDOUT, buf), "ETIMEDOUT");	/* kernel-style negative */
	assert_string_equal(errno_name(EHOSTUNREACH, buf), "EHOSTUNREACH");
	assert_string_equal(errno_name(524, buf), "ENOTSUPP");
	assert_string_equal(errno_name(4000, buf), "E4000");
	/* any int, e.g. a kernel value read as an errno (found by fuzz_trace_format) */
	assert_string_equal(errno_name(-2147483647 - 1, buf), "E2147483648");
	assert_string_equal(errno_name(-4000, buf), "E4000");
	assert_int_equal(errno_from_name("econnreset"), ECONNRESET);
	assert_int_equal(errno_from_name("ENOPE"), -1);
}

static void cap_names_accept_any_spelling(void **state)
{
	(void)state;

	assert_int_equal(cap_from_name("NET_ADMIN"), 12);
	assert_int_equal(cap_from_name("cap_net_admin"), 12);
	assert_int_equal(cap_from_name("Net_Raw"), 13);
	assert_int_equal(cap_from_name("BPF"), 39);
	assert_int_equal(cap_from_name("CAP_CHECKPOINT_RESTORE"), 40);
	assert_int_equal(cap_from_name("NET_ADMINX"), -1);
	assert_int_equal(cap_from_name("CAP_"), -1);
	assert_string_equal(cap_name(21), "SYS_ADMIN");
	assert_null(cap_name(41));
	assert_null(cap_name(-1));
}

static void cap_list_parses_and_formats_in_order(void **state)
{
	uint64_t mask = 0;
	const char *bad = NULL;
	char buf[768];
	(void)state;

	assert_int_equal(caps_parse_list("sys_admin,CAP_NET_RAW,net_admin", &mask, &bad), 0);
	assert_int_equal(mask, CAPBIT(21) | CAPBIT(13) | CAPBIT(12));
	assert_string_equal(caps_format(mask, buf, sizeof(buf)), "NET_ADMIN,NET_RAW,SYS_ADMIN");
	assert_int_equal(caps_parse_list("NET_ADMIN,NOPE", &mask, &bad), -1);
	assert_string_equal(bad, "NOPE");
	assert_int_equal(caps_parse_list("NET_ADMIN,", &mask, &bad), -1);	/* empty name */
	assert_string_equal(bad, "");
	assert_string_equal(caps_format(0, buf, sizeof(buf)), "");
}

static void table_aligns_columns_without_trailing_blanks(void **state)
{
	static const char *const head[] = { "TOOL", "STATUS", "NOTE" };
	struct table t;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	(void)state;

	table_init(&t, 3, head);
	assert_int_equal(table_add(&t, (const char *const[]){ "trace", "ok", "" }), 0);
	assert_int_equal(table_add(&t, (const char *const[]){ "iptables", "missing", "cap NET_ADMIN" }), 0);
	assert_int_equal(table_add(&t, (const char *const[]){ "x", NULL, "y" }), 0);
	table_print(&t, out);
	fclose(out);
	table_free(&t);
	assert_string_equal(text,
			    "TOOL      STATUS   NOTE\n"
			    "trace     ok\n"
			    "iptables  missing  cap NET_ADMIN\n"
			    "x         -        y\n");
	free(text);
}

static void write_all_writes_past_a_pipe_buffer(void **state)
{
	(void)state;
	enum { N = 200000 };	/* over a pipe's 64 KiB: the writer blocks until read */
	static char out[N], in[N];
	int fds[2];
	pid_t pid;
	size_t got = 0;

	for (size_t i = 0; i < N; i++)
		out[i] = (char)(i * 7);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fds[0]);
		_exit(write_all(fds[1], out, N) ? 1 : 0);
	}
	close(fds[1]);
	for (ssize_t r; (r = read(fds[0], in + got, N - got)) > 0;)
		got += (size_t)r;
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(got, N);
	assert_memory_equal(in, out, N);
	assert_int_equal(write_all(-1, out, 1), -1);
}

static void clock_and_stop_signals(void **state)
{
	(void)state;
	long long ms = mono_ms(), us = mono_us();
	uint64_t ns = now_ns(CLOCK_MONOTONIC);

	/* one clock in three units: each reading is at or after the one before */
	assert_true(ms > 0 && us / 1000 >= ms && ns / 1000 >= (uint64_t)us);
	assert_true(now_ns(CLOCK_REALTIME) > 1500000000ull * 1000000000ull);

	stop_signal = 0;
	catch_stop_signals(0, true);
	raise(SIGHUP);
	assert_int_equal(stop_signal, SIGHUP);
	raise(SIGTERM);
	assert_int_equal(stop_signal, SIGTERM);
	signal(SIGHUP, SIG_DFL);
	stop_signal = 0;
	catch_stop_signals(SA_RESETHAND, false);	/* SIGHUP not caught: left as it was */
	struct sigaction sa;
	sigaction(SIGHUP, NULL, &sa);
	assert_true(sa.sa_handler == SIG_DFL);
	raise(SIGINT);
	assert_int_equal(stop_signal, SIGINT);
	sigaction(SIGINT, NULL, &sa);
	assert_true(sa.sa_handler == SIG_DFL);	/* SA_RESETHAND: a second one is not caught */
	signal(SIGTERM, SIG_DFL);
}

/* /proc/self/status and mountinfo as lib/proc.c reads them (fuzz_proc feeds them any bytes) */
static void proc_status_and_mountinfo_parse(void **state)
{
	static const char status[] = "Name:\tx\nCapPrm:\t00000000a80425fb\nCapEff:\t0000000000000400\n"
				     "NoNewPrivs:\t1\nSeccomp:\t2\n";
	static const char mounts[] = "junk line\n"
				     "36 35 98:0 /mnt\\040dir /mnt/a\\134b rw master:1 - ext3 /dev/root rw\n"
				     "37 1 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	struct proc_status st;
	struct proc_mount m;
	(void)state;

	FILE *f = fmemopen((void *)status, sizeof(status) - 1, "r");
	proc_status_parse(f, &st);
	fclose(f);
	assert_int_equal(st.cap_prm, 0xa80425fb);
	assert_int_equal(st.cap_eff, 0x400);
	assert_int_equal(st.cap_bnd, 0);
	assert_int_equal(st.no_new_privs, 1);
	assert_int_equal(st.seccomp, 2);
	proc_status_parse(NULL, &st);
	assert_int_equal(st.seccomp, -1);

	f = fmemopen((void *)mounts, sizeof(mounts) - 1, "r");
	assert_true(proc_mount_next(f, &m));
	assert_string_equal(m.root, "/mnt dir");
	assert_string_equal(m.point, "/mnt/a\\b");
	assert_string_equal(m.type, "ext3");
	assert_true(proc_mount_next(f, &m));
	assert_string_equal(m.point, "/sys/fs/cgroup");
	assert_string_equal(m.type, "cgroup2");
	assert_false(proc_mount_next(f, &m));
	fclose(f);

	/* this process's own mounts: /proc is procfs, a made-up type is nowhere */
	char at[512];
	assert_true(proc_mount_of("proc", at, sizeof(at)));
	assert_string_equal(at, "/proc");
	assert_false(proc_mount_of("no-such-fs", at, sizeof(at)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(duration_accepts_go_style_units),
		cmocka_unit_test(duration_rejects_junk),
		cmocka_unit_test(u64_checks_range_and_junk),
		cmocka_unit_test(errno_names_round_trip),
		cmocka_unit_test(cap_names_accept_any_spelling),
		cmocka_unit_test(cap_list_parses_and_formats_in_order),
		cmocka_unit_test(table_aligns_columns_without_trailing_blanks),
		cmocka_unit_test(write_all_writes_past_a_pipe_buffer),
		cmocka_unit_test(clock_and_stop_signals),
		cmocka_unit_test(proc_status_and_mountinfo_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

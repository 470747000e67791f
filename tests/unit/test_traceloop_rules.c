/* Unit tests for applets/traceloop_rules.c: the seed demo's line format and the decoders. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "applets/traceloop/traceloop.h"

static struct tl_record rec(int kind, int nr, uint64_t ts, const char *comm)
{
	struct tl_record r;

	memset(&r, 0, sizeof(r));
	r.kind = (__u8)kind;
	r.nr = (__u16)nr;
	r.ts_ns = ts;
	r.pid = r.tid = 31022;
	r.cpu = 1;
	snprintf(r.comm, sizeof(r.comm), "%s", comm);
	return r;
}

static void set_data(struct tl_record *r, const void *d, size_t n)
{
	memcpy(r->data, d, n);
	r->data_len = (__u8)n;
}

#ifdef SYS_open	/* x86_64: arm64 has no open() */
static void open_line_is_the_seed_demos(void **state)
{
	struct tl_record e = rec(TL_ENTER, SYS_open, 1068748841ULL, "sh"), x = rec(TL_EXIT, SYS_open, 1068750000ULL, "sh");
	char line[1024];
	(void)state;

	set_data(&e, "/tmp/file-32298", 16);
	e.args[1] = 577;
	e.args[2] = 438;
	x.args[0] = 3;
	tl_format_line(&e, &x, 1000000000ULL, line, sizeof(line));
	assert_string_equal(line, "00:00.068748841 cpu#1 pid 31022 [sh] open(filename=\"/tmp/file-32298\", flags=577, "
				  "mode=438) = 3");
}
#endif

static void openat_failure_shows_errno_name(void **state)
{
	struct tl_record e = rec(TL_ENTER, SYS_openat, 61000000000ULL, "cat"), x = rec(TL_EXIT, SYS_openat, 0, "cat");
	char line[1024];
	(void)state;

	e.args[0] = (__u64)-100;
	set_data(&e, "/tmp/file-1", 12);
	x.args[0] = (__u64)-2;
	tl_format_line(&e, &x, 0, line, sizeof(line));
	assert_string_equal(line, "01:01.000000000 cpu#1 pid 31022 [cat] openat(dfd=-100, filename=\"/tmp/file-1\", "
				  "flags=0, mode=0) = -1 ENOENT");
}

static void read_and_write_show_a_quoted_preview(void **state)
{
	struct tl_record w = rec(TL_ENTER, SYS_write, 0, "bc"), r = rec(TL_EXIT, SYS_read, 0, "bc");
	char buf[512];
	(void)state;

	set_data(&w, "42\n", 3);
	w.args[0] = 1;
	w.args[2] = 3;
	tl_format_args(&w, buf, sizeof(buf));
	assert_string_equal(buf, "fd=1, buf=\"42\\n\", count=3");
	set_data(&r, "3*7*2\n", 6);
	r.args[0] = 6;
	tl_format_ret(&r, buf, sizeof(buf));
	assert_string_equal(buf, "6 \"3*7*2\\n\"");
	/* long data: 32 bytes shown, then "..." */
	char big[TL_DATA];
	memset(big, 'a', sizeof(big));
	set_data(&r, big, sizeof(big));
	r.args[0] = 4096;
	tl_format_ret(&r, buf, sizeof(buf));
	assert_string_equal(buf, "4096 \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"...");
	/* binary bytes are escaped */
	set_data(&w, "\x7f" "E\"\\\t", 5);
	w.args[2] = 5;
	tl_format_args(&w, buf, sizeof(buf));
	assert_string_equal(buf, "fd=1, buf=\"\\x7fE\\\"\\\\\\t\", count=5");
}

static void connect_decodes_v4_v6_and_unix(void **state)
{
	unsigned char sa[28] = { 0 };
	char buf[128];
	unsigned short fam;
	(void)state;

	fam = AF_INET;
	memcpy(sa, &fam, 2);
	sa[2] = 0, sa[3] = 80;
	inet_pton(AF_INET, "192.0.2.2", sa + 4);
	tl_sockaddr(sa, 16, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.2:80");
	fam = AF_INET6;
	memset(sa, 0, sizeof(sa));
	memcpy(sa, &fam, 2);
	sa[2] = 0, sa[3] = 53;
	inet_pton(AF_INET6, "2001:db8::2", sa + 8);
	tl_sockaddr(sa, 28, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::2]:53");
	fam = AF_UNIX;
	memset(sa, 0, sizeof(sa));
	memcpy(sa, &fam, 2);
	memcpy(sa + 2, "/run/x.sock", 11);
	tl_sockaddr(sa, 28, buf, sizeof(buf));
	assert_string_equal(buf, "unix:/run/x.sock");
	tl_sockaddr(sa, 1, buf, sizeof(buf));
	assert_string_equal(buf, "?");
	fam = AF_INET;
	memcpy(sa, &fam, 2);
	tl_sockaddr(sa, 4, buf, sizeof(buf));	/* too short for an address */
	assert_string_equal(buf, "family=2");

	struct tl_record e = rec(TL_ENTER, SYS_connect, 0, "curl");
	fam = AF_INET;
	memset(sa, 0, sizeof(sa));
	memcpy(sa, &fam, 2);
	sa[3] = 80;
	inet_pton(AF_INET, "192.0.2.2", sa + 4);
	set_data(&e, sa, 16);
	e.args[0] = 5;
	e.args[2] = 16;
	tl_format_args(&e, buf, sizeof(buf));
	assert_string_equal(buf, "fd=5, addr=192.0.2.2:80, addrlen=16");
}

static void execve_argv_clone_exit_group_and_raw(void **state)
{
	struct tl_record e = rec(TL_ENTER, SYS_execve, 0, "bash");
	char buf[512];
	(void)state;

	set_data(&e, "cat\0/tmp/file-2\0", 16);
	tl_format_args(&e, buf, sizeof(buf));
	assert_string_equal(buf, "argv=[\"cat\", \"/tmp/file-2\"]");
	e = rec(TL_ENTER, SYS_clone, 0, "bash");
	e.args[0] = 0x1200011;
	tl_format_args(&e, buf, sizeof(buf));
	assert_string_equal(buf, "flags=0x1200011");
	e = rec(TL_ENTER, SYS_exit_group, 0, "cat");
	e.args[0] = 1;
	tl_format_line(&e, NULL, 0, buf, sizeof(buf));
	assert_string_equal(buf, "00:00.000000000 cpu#1 pid 31022 [cat] exit_group(status=1) = ?");
	e = rec(TL_ENTER, SYS_getpid, 0, "x");	/* no arguments */
	tl_format_args(&e, buf, sizeof(buf));
	assert_string_equal(buf, "");
	e = rec(TL_ENTER, SYS_fstat, 0, "x");	/* two, raw */
	e.args[0] = 3, e.args[1] = 0x7ffd0000;
	tl_format_args(&e, buf, sizeof(buf));
	assert_string_equal(buf, "0x3, 0x7ffd0000");
	/* an exit whose entry was overwritten */
	struct tl_record x = rec(TL_EXIT, SYS_write, 5, "x");
	x.args[0] = 6;
	tl_format_line(NULL, &x, 0, buf, sizeof(buf));
	assert_string_equal(buf, "00:00.000000005 cpu#1 pid 31022 [x] write(...) = 6");
	/* an unreadable path */
	e = rec(TL_ENTER, SYS_openat, 0, "x");
	e.args[0] = (__u64)-100;
	tl_format_args(&e, buf, sizeof(buf));
	assert_string_equal(buf, "dfd=-100, filename=(unreadable), flags=0, mode=0");
}

static void names_and_quote_bounds(void **state)
{
	char nb[24], out[16];
	(void)state;

	assert_string_equal(tl_syscall_name(SYS_read, nb), "read");
	assert_string_equal(tl_syscall_name(SYS_openat, nb), "openat");
	assert_string_equal(tl_syscall_name(SYS_exit_group, nb), "exit_group");
	assert_string_equal(tl_syscall_name(SYS_clone, nb), "clone");
	assert_string_equal(tl_syscall_name(SYS_getrandom, nb), "getrandom");
#if defined(__aarch64__)	/* the generic table's numbers, not x86_64's */
	assert_string_equal(tl_syscall_name(56, nb), "openat");
	assert_string_equal(tl_syscall_name(221, nb), "execve");
	assert_string_equal(tl_syscall_name(2, nb), "io_submit");
#else
	assert_string_equal(tl_syscall_name(2, nb), "open");
	assert_string_equal(tl_syscall_name(59, nb), "execve");
#endif
	assert_string_equal(tl_syscall_name(9999, nb), "syscall_9999");
	tl_quote("abcdefghijklmnopqrstuvwxyz", 26, out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
	assert_string_equal(out, "\"abcdefghij\"...");
	tl_quote("ab", 2, out, 4);	/* too small for anything: empty */
	assert_string_equal(out, "");
}

#if defined(__x86_64__)	/* i386 compat records exist on x86_64 only */
static void i386_calls_are_named_from_their_table_with_raw_args(void **state)
{
	struct tl_record e = rec(TL_ENTER, 11, 1000, "ia32"), x = rec(TL_EXIT, 11, 2000, "ia32");
	char nb[32], line[1024];
	(void)state;

	e.flags = x.flags = TL_COMPAT;
	e.args[0] = 0x804a000, e.args[1] = 0x804a020, e.args[2] = 0;
	x.args[0] = (__u64)-2;
	assert_string_equal(tl_record_name(&e, nb), "i386:execve");	/* 11 is munmap on x86_64 */
	tl_format_line(&e, &x, 1000, line, sizeof(line));
	assert_string_equal(line, "00:00.000000000 cpu#1 pid 31022 [ia32] i386:execve(0x804a000, 0x804a020, 0x0) = -1 ENOENT");
	e.nr = 3;	/* i386 read: no data preview even when the exit carries bytes */
	x.nr = 3;
	x.args[0] = 5;
	set_data(&x, "hello", 5);
	tl_format_line(&e, &x, 1000, line, sizeof(line));
	assert_non_null(strstr(line, "i386:read("));
	assert_null(strstr(line, "hello"));
	e.nr = 999;
	assert_string_equal(tl_record_name(&e, nb), "i386:syscall_999");
	e.flags = 0;
	e.nr = SYS_munmap;	/* 11: the same number read natively */
	assert_string_equal(tl_record_name(&e, nb), "munmap");
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifdef SYS_open
		cmocka_unit_test(open_line_is_the_seed_demos),
#endif
		cmocka_unit_test(openat_failure_shows_errno_name),
		cmocka_unit_test(read_and_write_show_a_quoted_preview),
		cmocka_unit_test(connect_decodes_v4_v6_and_unix),
		cmocka_unit_test(execve_argv_clone_exit_group_and_raw),
		cmocka_unit_test(names_and_quote_bounds),
#if defined(__x86_64__)
		cmocka_unit_test(i386_calls_are_named_from_their_table_with_raw_args),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

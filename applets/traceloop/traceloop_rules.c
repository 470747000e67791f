/* traceloop's pure formatting (see traceloop.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "applets/traceloop/traceloop.h"
#include "lib/retina.h"

/* Records carry the traced CPU's syscall numbers: this build's (the tracer
 * and the traced run on one kernel). SYS_* come from the libc of the target,
 * names from the per-architecture table; i386 records (TL_COMPAT) are named
 * from its own table and not decoded. */
#include "applets/traceloop/traceloop_syscalls.h"
#ifndef SYS_openat2
#define SYS_openat2 437	/* the same number on every architecture */
#endif

const char *tl_syscall_name(unsigned int nr, char buf[24])
{
	if (nr < ARRAY_SIZE(syscall_names) && syscall_names[nr])
		return syscall_names[nr];
	snprintf(buf, 24, "syscall_%u", nr);
	return buf;
}

const char *tl_record_name(const struct tl_record *r, char buf[32])
{
	if (!(r->flags & TL_COMPAT))
		return tl_syscall_name(r->nr, buf);
	if (r->nr < ARRAY_SIZE(compat_syscall_names) && compat_syscall_names[r->nr])
		snprintf(buf, 32, "i386:%s", compat_syscall_names[r->nr]);
	else
		snprintf(buf, 32, "i386:syscall_%u", r->nr);
	return buf;
}

bool tl_is_exec(const struct tl_record *r)
{
	return !(r->flags & TL_COMPAT) && (r->nr == SYS_execve || r->nr == SYS_execveat);
}

void tl_quote(const char *data, size_t n, char *out, size_t len)
{
	size_t used = 0;

	if (len < 8) {
		if (len)
			out[0] = '\0';
		return;
	}
	out[used++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)data[i];
		char esc[8];
		if (c == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (c == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			snprintf(esc, sizeof(esc), "%c", c);
		size_t el = strlen(esc);
		if (used + el + 5 > len) {	/* room for "..." and the closing quote */
			memcpy(out + used, "\"...", 4);
			out[used + 4] = '\0';
			return;
		}
		memcpy(out + used, esc, el);
		used += el;
	}
	out[used++] = '"';
	out[used] = '\0';
}

void tl_sockaddr(const unsigned char *d, size_t n, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned short family;

	if (n < 2) {
		snprintf(out, len, "?");
		return;
	}
	memcpy(&family, d, 2);
	if (family == AF_INET && n >= 8 && inet_ntop(AF_INET, d + 4, ip, sizeof(ip)))
		snprintf(out, len, "%s:%u", ip, (unsigned)(d[2] << 8 | d[3]));
	else if (family == AF_INET6 && n >= 24 && inet_ntop(AF_INET6, d + 8, ip, sizeof(ip)))
		snprintf(out, len, "[%s]:%u", ip, (unsigned)(d[2] << 8 | d[3]));
	else if (family == AF_UNIX)
		snprintf(out, len, "unix:%.*s", (int)strnlen((const char *)d + 2, n - 2), (const char *)d + 2);
	else
		snprintf(out, len, "family=%u", family);
}

/* Arguments shown for syscalls not decoded (0: none; the default is 3), by name: the same on every architecture. */
static int nargs(const struct tl_record *r)
{
	static const struct { const char *name; unsigned char n; } t[] = {
		{ "close", 1 },	     { "fstat", 2 },	     { "lseek", 3 },	    { "mmap", 6 },
		{ "mprotect", 3 },   { "munmap", 2 },	     { "brk", 1 },	    { "rt_sigaction", 4 },
		{ "rt_sigprocmask", 4 }, { "ioctl", 3 },     { "access", 2 },	    { "pipe", 1 },
		{ "dup", 1 },	     { "dup2", 2 },	     { "nanosleep", 2 },    { "getpid", 0 },
		{ "socket", 3 },     { "accept", 3 },	     { "fork", 0 },	    { "vfork", 0 },
		{ "exit", 1 },	     { "wait4", 4 },	     { "kill", 2 },	    { "fcntl", 3 },
		{ "getuid", 0 },     { "getgid", 0 },	     { "geteuid", 0 },	    { "getegid", 0 },
		{ "getppid", 0 },    { "arch_prctl", 2 },    { "gettid", 0 },	    { "getdents64", 3 },
		{ "set_tid_address", 1 }, { "exit_group", 1 }, { "newfstatat", 4 }, { "set_robust_list", 2 },
		{ "pipe2", 2 },	     { "prlimit64", 4 },     { "getrandom", 3 },    { "rseq", 4 },
	};
	char buf[32];
	const char *name = tl_record_name(r, buf);

	if (r->flags & TL_COMPAT)
		name += 5;	/* "i386:" */
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (!strcmp(t[i].name, name))
			return t[i].n;
	return 3;
}

#define PREVIEW 32	/* bytes of read/write data shown; the record keeps TL_DATA */

static size_t data_len(const struct tl_record *r)
{
	return r->data_len < TL_DATA ? r->data_len : TL_DATA;
}

static size_t preview_len(const struct tl_record *r)
{
	return data_len(r) < PREVIEW ? data_len(r) : PREVIEW;
}

/* A NUL-terminated string in data (drop the NUL the kernel counted). */
static void quote_str(const struct tl_record *r, char *out, size_t len)
{
	size_t n = data_len(r);

	if (!n) {	/* the page was not resident: BPF cannot fault it in */
		snprintf(out, len, "(unreadable)");
		return;
	}
	if (!r->data[n - 1])
		n--;
	tl_quote(r->data, n, out, len);
	if (n == TL_DATA - 1 && len > 4)	/* cut by the kernel side */
		snprintf(out + strlen(out), len - strlen(out), "...");
}

void tl_format_args(const struct tl_record *e, char *out, size_t len)
{
	char q[TL_DATA * 4 + 8];
	const __u64 *a = e->args;

	if (e->flags & TL_COMPAT)	/* i386: raw arguments (32-bit values), nothing copied */
		goto raw;
	switch (e->nr) {
	case SYS_read: case SYS_pread64: case SYS_recvfrom:	/* the data comes with the exit */
		snprintf(out, len, "fd=%d, count=%llu", (int)a[0], (unsigned long long)a[2]);
		return;
	case SYS_write: case SYS_pwrite64: case SYS_sendto:
		tl_quote(e->data, preview_len(e), q, sizeof(q));
		snprintf(out, len, "fd=%d, buf=%s%s, count=%llu", (int)a[0], q, a[2] > preview_len(e) ? "..." : "",
			 (unsigned long long)a[2]);
		return;
#ifdef SYS_open
	case SYS_open:
		quote_str(e, q, sizeof(q));
		snprintf(out, len, "filename=%s, flags=%d, mode=%d", q, (int)a[1], (int)a[2]);
		return;
#endif
	case SYS_openat:
		quote_str(e, q, sizeof(q));
		snprintf(out, len, "dfd=%d, filename=%s, flags=%d, mode=%d", (int)a[0], q, (int)a[2], (int)a[3]);
		return;
	case SYS_openat2:
		quote_str(e, q, sizeof(q));
		snprintf(out, len, "dfd=%d, filename=%s", (int)a[0], q);
		return;
	case SYS_connect: case SYS_bind:
		tl_sockaddr((const unsigned char *)e->data, data_len(e), q, sizeof(q));
		snprintf(out, len, "fd=%d, addr=%s, addrlen=%d", (int)a[0], q, (int)a[2]);
		return;
	case SYS_execve: case SYS_execveat: {	/* argv as NUL-separated strings */
		size_t used = (size_t)snprintf(out, len, "argv=[");
		for (size_t off = 0, n = data_len(e); off < n && used < len;) {
			size_t l = strnlen(e->data + off, n - off);
			tl_quote(e->data + off, l, q, sizeof(q));
			used += (size_t)snprintf(out + used, len - used, "%s%s%s", off ? ", " : "", q,
						 l == TL_ARG_MAX - 1 ? "..." : "");
			off += l + 1;
		}
		if (used < len)
			snprintf(out + used, len - used, "]");
		return;
	}
	case SYS_clone:
		snprintf(out, len, "flags=0x%llx", (unsigned long long)a[0]);
		return;
	case SYS_exit_group: case SYS_exit:
		snprintf(out, len, "status=%d", (int)a[0]);
		return;
	case SYS_close:
		snprintf(out, len, "fd=%d", (int)a[0]);
		return;
	}
raw:;
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < nargs(e) && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s0x%llx", i ? ", " : "", (unsigned long long)a[i]);
}

void tl_format_ret(const struct tl_record *x, char *out, size_t len)
{
	long long ret = (long long)x->args[0];
	char q[TL_DATA * 4 + 8], ebuf[16];

	if (ret < 0 && ret >= -4095)
		snprintf(out, len, "-1 %s", errno_name((int)-ret, ebuf));
	else if (ret > 0xffffffffLL)
		snprintf(out, len, "0x%llx", (unsigned long long)ret);
	else if (!(x->flags & TL_COMPAT) && (x->nr == SYS_read || x->nr == SYS_pread64 || x->nr == SYS_recvfrom) &&
		 ret > 0) {
		tl_quote(x->data, preview_len(x), q, sizeof(q));
		snprintf(out, len, "%lld %s%s", ret, q, (unsigned long long)ret > preview_len(x) ? "..." : "");
	} else
		snprintf(out, len, "%lld", ret);
}

void tl_format_line(const struct tl_record *e, const struct tl_record *x, uint64_t t0_ns, char *out, size_t len)
{
	const struct tl_record *r = e ? e : x;
	char name[32], args[768], ret[384];

	if (!r) {
		snprintf(out, len, "?");
		return;
	}
	uint64_t t = r->ts_ns >= t0_ns ? r->ts_ns - t0_ns : 0;
	if (e)
		tl_format_args(e, args, sizeof(args));
	else
		snprintf(args, sizeof(args), "...");
	if (x)
		tl_format_ret(x, ret, sizeof(ret));
	else
		snprintf(ret, sizeof(ret), "?");
	snprintf(out, len, "%02llu:%02llu.%09llu cpu#%u pid %u [%.16s] %s(%s) = %s",
		 (unsigned long long)(t / 60000000000ULL), (unsigned long long)(t / 1000000000ULL % 60),
		 (unsigned long long)(t % 1000000000ULL), r->cpu, r->pid, r->comm,
		 tl_record_name(r, name), args, ret);
}

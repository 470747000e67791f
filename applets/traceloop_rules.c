/* traceloop's pure formatting (see traceloop.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "applets/traceloop.h"
#include "lib/retina.h"

/* Records carry the traced CPU's syscall numbers: this build's (the tracer
 * and the traced run on one kernel). SYS_* come from the libc of the target. */
#if defined(__aarch64__)
#include "applets/traceloop_syscalls_arm64.h"
#elif defined(__x86_64__)
#include "applets/traceloop_syscalls.h"
#else
#error "traceloop decodes x86_64 and arm64 syscalls only"
#endif
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

/* Arguments shown for syscalls not decoded by name (0: none; the default is 3). */
static int nargs(unsigned int nr)
{
	static const struct { unsigned short nr; unsigned char n; } t[] = {
		{ SYS_close, 1 }, { SYS_fstat, 2 }, { SYS_lseek, 3 }, { SYS_mmap, 6 }, { SYS_mprotect, 3 },
		{ SYS_munmap, 2 }, { SYS_brk, 1 }, { SYS_rt_sigaction, 4 }, { SYS_rt_sigprocmask, 4 },
		{ SYS_ioctl, 3 }, { SYS_dup, 1 }, { SYS_nanosleep, 2 }, { SYS_getpid, 0 }, { SYS_socket, 3 },
		{ SYS_accept, 3 }, { SYS_exit, 1 }, { SYS_wait4, 4 }, { SYS_kill, 2 }, { SYS_fcntl, 3 },
		{ SYS_getuid, 0 }, { SYS_getgid, 0 }, { SYS_geteuid, 0 }, { SYS_getegid, 0 }, { SYS_getppid, 0 },
		{ SYS_gettid, 0 }, { SYS_getdents64, 3 }, { SYS_set_tid_address, 1 }, { SYS_exit_group, 1 },
		{ SYS_newfstatat, 4 }, { SYS_set_robust_list, 2 }, { SYS_pipe2, 2 }, { SYS_prlimit64, 4 },
		{ SYS_getrandom, 3 }, { SYS_rseq, 4 },
#ifdef SYS_open	/* x86_64 only: arm64 has just the *at() forms */
		{ SYS_access, 2 }, { SYS_pipe, 1 }, { SYS_dup2, 2 }, { SYS_fork, 0 }, { SYS_vfork, 0 },
		{ SYS_arch_prctl, 2 },
#endif
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (t[i].nr == nr)
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
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < nargs(e->nr) && used < len; i++)
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
	else if ((x->nr == SYS_read || x->nr == SYS_pread64 || x->nr == SYS_recvfrom) && ret > 0) {
		tl_quote(x->data, preview_len(x), q, sizeof(q));
		snprintf(out, len, "%lld %s%s", ret, q, (unsigned long long)ret > preview_len(x) ? "..." : "");
	} else
		snprintf(out, len, "%lld", ret);
}

void tl_format_line(const struct tl_record *e, const struct tl_record *x, uint64_t t0_ns, char *out, size_t len)
{
	const struct tl_record *r = e ? e : x;
	char name[24], args[768], ret[384];

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
		 tl_syscall_name(r->nr, name), args, ret);
}

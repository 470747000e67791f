/* traceloop's pure formatting (see traceloop.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "applets/traceloop.h"
#include "applets/traceloop_syscalls.h"
#include "lib/retina.h"

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
		{ 3, 1 },   { 5, 2 },	{ 8, 3 },   { 9, 6 },	{ 10, 3 },  { 11, 2 },	{ 12, 1 },  { 13, 4 },
		{ 14, 4 },  { 16, 3 },	{ 21, 2 },  { 22, 1 },	{ 32, 1 },  { 33, 2 },	{ 35, 2 },  { 39, 0 },
		{ 41, 3 },  { 43, 3 },	{ 57, 0 },  { 58, 0 },	{ 60, 1 },  { 61, 4 },	{ 62, 2 },  { 72, 3 },
		{ 102, 0 }, { 104, 0 }, { 107, 0 }, { 108, 0 }, { 110, 0 }, { 158, 2 }, { 186, 0 }, { 217, 3 },
		{ 218, 1 }, { 231, 1 }, { 262, 4 }, { 273, 2 }, { 293, 2 }, { 302, 4 }, { 318, 3 }, { 334, 4 },
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
	case 0: case 17: case 45:	/* read, pread64, recvfrom: the data comes with the exit */
		snprintf(out, len, "fd=%d, count=%llu", (int)a[0], (unsigned long long)a[2]);
		return;
	case 1: case 18: case 44:	/* write, pwrite64, sendto */
		tl_quote(e->data, preview_len(e), q, sizeof(q));
		snprintf(out, len, "fd=%d, buf=%s%s, count=%llu", (int)a[0], q, a[2] > preview_len(e) ? "..." : "",
			 (unsigned long long)a[2]);
		return;
	case 2:				/* open */
		quote_str(e, q, sizeof(q));
		snprintf(out, len, "filename=%s, flags=%d, mode=%d", q, (int)a[1], (int)a[2]);
		return;
	case 257:			/* openat */
		quote_str(e, q, sizeof(q));
		snprintf(out, len, "dfd=%d, filename=%s, flags=%d, mode=%d", (int)a[0], q, (int)a[2], (int)a[3]);
		return;
	case 437:			/* openat2 */
		quote_str(e, q, sizeof(q));
		snprintf(out, len, "dfd=%d, filename=%s", (int)a[0], q);
		return;
	case 42: case 49:		/* connect, bind */
		tl_sockaddr((const unsigned char *)e->data, data_len(e), q, sizeof(q));
		snprintf(out, len, "fd=%d, addr=%s, addrlen=%d", (int)a[0], q, (int)a[2]);
		return;
	case 59: case 322: {		/* execve, execveat: argv as NUL-separated strings */
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
	case 56:			/* clone */
		snprintf(out, len, "flags=0x%llx", (unsigned long long)a[0]);
		return;
	case 231: case 60:		/* exit_group, exit */
		snprintf(out, len, "status=%d", (int)a[0]);
		return;
	case 3:				/* close */
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
	else if ((x->nr == 0 || x->nr == 17 || x->nr == 45) && ret > 0) {
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

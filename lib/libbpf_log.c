/* libbpf's print callback, once for every applet that loads BPF (lib/libbpf_log.h). */
#include <stdarg.h>
#include <stdio.h>

#include <bpf/libbpf.h>

#include "lib/libbpf_log.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

static int verbose(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	fprintf(stderr, "libbpf: ");
	return vfprintf(stderr, fmt, ap);
}

void libbpf_messages(bool on)
{
	libbpf_set_print(on ? verbose : quiet);
}

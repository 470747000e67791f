/*
 * Fuzz traceloop's record formatting: records come from the kernel, but their
 * data is whatever a traced program passed to a syscall (paths, buffers,
 * sockaddrs, argv), so the decoders must hold for any bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "applets/traceloop/traceloop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tl_record e, x;
	char line[4096];

	if (size < 2 * sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	memcpy(&x, data + sizeof(e), sizeof(x));
	e.nr = x.nr = (__u16)(e.nr % 500);
	tl_format_line(&e, &x, 0, line, sizeof(line));
	if (strlen(line) >= sizeof(line))
		__builtin_trap();
	tl_format_line(&e, NULL, e.ts_ns / 2, line, sizeof(line));
	tl_format_line(NULL, &x, 0, line, 40);
	tl_sockaddr((const unsigned char *)e.data, size % (TL_DATA + 1), line, 64);
	return 0;
}

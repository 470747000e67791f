/*
 * Fuzz the WebSocket frame parser: walk the input frame by frame, and check
 * that what the builder makes of the input parses back to the same payload.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t copy[1 << 16], out[(1 << 16) + 14];
	struct ws_frame f;
	char err[128];
	size_t off = 0;

	if (size > sizeof(copy))
		return 0;
	memcpy(copy, data, size);
	for (;;) {
		long long n = ws_parse_frame(copy + off, size - off, &f, err, sizeof(err));
		if (n <= 0)
			break;
		if ((size_t)n > size - off || f.header_len > (size_t)n || f.header_len + f.len != (uint64_t)n)
			__builtin_trap();
		if (f.masked)
			ws_mask(copy + off + f.header_len, f.len, f.mask, 0);
		off += n;
	}
	const uint8_t mask[4] = { size & 0xff, 0x5a, 0xa5, 0x0f };
	size_t n = ws_build_frame(out, sizeof(out), WS_BINARY, true, data, size, mask);
	if (!n || ws_parse_frame(out, n, &f, err, sizeof(err)) != (long long)n)
		__builtin_trap();
	ws_mask(out + f.header_len, f.len, f.mask, 0);
	if (f.len != size || memcmp(out + f.header_len, data, size))
		__builtin_trap();
	return 0;
}

/*
 * Fuzz the chunked decoder: whatever the input, decoding it in one piece and
 * in pieces of the size given by the first byte (with a tiny output buffer)
 * must agree on the result, the bytes produced and where decoding stopped.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/http.h"

static int decode(const uint8_t *in, size_t len, size_t step, size_t room, uint8_t *out, size_t *olen, size_t *stop)
{
	struct http_chunked d = { 0 };
	size_t i = 0, o = 0, used, made;
	int st = HTTP_CHUNK_MORE;

	while (st == HTTP_CHUNK_MORE && i < len) {
		size_t n = len - i < step ? len - i : step;
		st = http_chunked_decode(&d, in + i, n, &used, out + o, room, &made);
		if (used > n || made > room)
			__builtin_trap();
		if (!used && !made && st == HTTP_CHUNK_MORE)
			__builtin_trap();	/* no progress: would spin forever */
		i += used;
		o += made;
	}
	*olen = o;
	*stop = i;
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t a[1 << 16], b[1 << 16];
	size_t alen, astop, blen, bstop;

	if (size < 1 || size > sizeof(a))
		return 0;
	size_t step = data[0] % 7 + 1;
	data++;
	size--;
	int sa = decode(data, size, size ? size : 1, sizeof(a), a, &alen, &astop);
	int sb = decode(data, size, step, step, b, &blen, &bstop);
	if (sa != sb || alen != blen || memcmp(a, b, alen))
		__builtin_trap();
	if (sa != HTTP_CHUNK_BAD && astop != bstop)
		__builtin_trap();
	return 0;
}

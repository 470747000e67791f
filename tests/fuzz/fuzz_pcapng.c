/*
 * Fuzz retina trace -w's pcapng writer (net/pcapng.c, comments from applets/trace/trace_pcap_rules.c) with
 * random events: whatever the ring buffer hands over (codes, ifname bytes,
 * packet lengths) and whatever room the buffer has, a block is either 0
 * (no room, nothing promised) or a well-formed enhanced packet block that a
 * reader walks back to the same packet and a printable comment. ASan sees
 * every write outside the buffer, which is exactly as long as the caller said.
 * Input: a struct trace_event, 8 bytes of time, 2 bytes of room, the packet.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "applets/trace/trace.h"
#include "net/pcapng.h"

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* The comment option of a block's options, walked as a reader does; NULL when absent. */
static const uint8_t *comment_of(const uint8_t *o, size_t len, size_t *n)
{
	while (len >= 4) {
		uint16_t code, olen;
		memcpy(&code, o, 2);
		memcpy(&olen, o + 2, 2);
		if (!code)
			return len == 4 ? NULL : (__builtin_trap(), NULL);	/* opt_endofopt ends them */
		size_t padded = (olen + 3u) & ~3u;
		if (4 + padded > len)
			__builtin_trap();
		if (code == 1) {
			*n = olen;
			return o + 4;
		}
		o += 4 + padded;
		len -= 4 + padded;
	}
	__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct reason_table drop;
	struct trace_names nm = { &drop, &drop, NULL };
	struct trace_event e;
	uint64_t ts;
	uint16_t room;
	char comment[256];

	if (!drop.n)
		reason_add(&drop, "skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET", 3);
	if (size < sizeof(e) + 10)
		return 0;
	memcpy(&e, data, sizeof(e));
	memcpy(&ts, data + sizeof(e), 8);
	memcpy(&room, data + sizeof(e) + 8, 2);
	const uint8_t *pkt = data + sizeof(e) + 10;
	uint32_t caplen = size - sizeof(e) - 10;

	format_pcap_comment(&nm, &e, comment, sizeof(comment));
	for (const char *c = comment; *c; c++)
		if (*c < ' ' || *c >= 0x7f)
			__builtin_trap();	/* the event's bytes never reach a reader raw */
	uint8_t *buf = malloc(room ? room : 1);	/* exactly room bytes: ASan guards the end */
	if (!buf)
		return 0;
	size_t n = pcapng_epb(buf, room, 7, ts, pkt, caplen, e.pid, comment);	/* pid: any origlen */
	size_t want = 28 + ((caplen + 3) & ~3u) + 4 + ((strlen(comment) + 3) & ~3u) + 4 + 4;
	if (!comment[0])
		want -= 8;
	if (n != (room >= want ? want : 0))
		__builtin_trap();
	if (n) {
		size_t clen = 0;
		if (get32(buf) != PCAPNG_EPB || get32(buf + 4) != n || get32(buf + n - 4) != n || get32(buf + 8) != 7 ||
		    get32(buf + 12) != (uint32_t)(ts >> 32) || get32(buf + 16) != (uint32_t)ts ||
		    get32(buf + 20) != caplen || get32(buf + 24) < caplen || memcmp(buf + 28, pkt, caplen))
			__builtin_trap();
		size_t opts = 28 + ((caplen + 3) & ~3u);
		const uint8_t *c = comment_of(buf + opts, n - 4 - opts, &clen);
		if (comment[0] && (!c || clen != strlen(comment) || memcmp(c, comment, clen)))
			__builtin_trap();
	}
	free(buf);
	return 0;
}

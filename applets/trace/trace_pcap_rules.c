/*
 * retina trace -w, the pure part: pcapng blocks (section header, interface
 * description, enhanced packet) built in a caller's buffer, in host byte
 * order (the section header's byte-order magic tells readers which).
 * Unit-tested for lengths and padding, block by block.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "applets/trace/trace.h"

#define PAD4(n) (((n) + 3u) & ~3u)

struct blk {
	uint8_t *p;
	size_t len, used;
	bool overflow;
};

static void put(struct blk *b, const void *v, size_t n)
{
	if (b->overflow || n > b->len - b->used) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->used, v, n);
	b->used += n;
}

static void put32(struct blk *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put16(struct blk *b, uint16_t v)
{
	put(b, &v, 2);
}

static void pad(struct blk *b)
{
	static const uint8_t zero[4];
	put(b, zero, PAD4(b->used) - b->used);
}

/* One option: code, length, value, zero padding to 4. Values over 65535 bytes are cut. */
static void option(struct blk *b, uint16_t code, const void *v, size_t n)
{
	if (n > PCAPNG_MAX_OPTION)
		n = PCAPNG_MAX_OPTION;
	put16(b, code);
	put16(b, n);
	put(b, v, n);
	pad(b);
}

static void begin(struct blk *b, uint32_t type)
{
	put32(b, type);
	put32(b, 0);	/* total length, set by end() */
}

/* End of options, trailing length; the length is written at both ends. 0: no room. */
static size_t end(struct blk *b, bool options)
{
	if (options)
		put32(b, 0);	/* opt_endofopt */
	put32(b, b->used + 4);
	if (b->overflow)
		return 0;
	uint32_t total = b->used;
	memcpy(b->p + 4, &total, 4);
	return total;
}

size_t pcapng_shb(uint8_t *buf, size_t len, const char *appl)
{
	struct blk b = { buf, len, 0, false };

	begin(&b, PCAPNG_SHB);
	put32(&b, 0x1A2B3C4D);	/* byte-order magic */
	put16(&b, 1);		/* version 1.0 */
	put16(&b, 0);
	put32(&b, 0xffffffff);	/* section length: not given */
	put32(&b, 0xffffffff);
	if (appl)
		option(&b, 4, appl, strlen(appl));	/* shb_userappl */
	return end(&b, appl != NULL);
}

size_t pcapng_idb(uint8_t *buf, size_t len, uint16_t linktype, uint32_t snaplen, const char *ifname)
{
	struct blk b = { buf, len, 0, false };
	const uint8_t nanoseconds = 9;

	begin(&b, PCAPNG_IDB);
	put16(&b, linktype);
	put16(&b, 0);
	put32(&b, snaplen);
	if (ifname)
		option(&b, 2, ifname, strlen(ifname));	/* if_name */
	option(&b, 9, &nanoseconds, 1);			/* if_tsresol: 10^-9 */
	return end(&b, true);
}

size_t pcapng_epb(uint8_t *buf, size_t len, uint32_t ifid, uint64_t ts_ns, const uint8_t *pkt, uint32_t caplen,
		  uint32_t origlen, const char *comment)
{
	struct blk b = { buf, len, 0, false };

	if (origlen < caplen)
		origlen = caplen;
	begin(&b, PCAPNG_EPB);
	put32(&b, ifid);
	put32(&b, ts_ns >> 32);
	put32(&b, (uint32_t)ts_ns);
	put32(&b, caplen);
	put32(&b, origlen);
	put(&b, pkt, caplen);
	pad(&b);
	if (comment && *comment)
		option(&b, 1, comment, strlen(comment));	/* opt_comment */
	return end(&b, comment && *comment);
}

char *format_pcap_comment_text(const char *type, const char *reason, const char *probe, unsigned netns,
				const char *ifname, char *buf, size_t len)
{
	char name[17];
	size_t n;

	/* an interface name is whatever its creator chose: printable ASCII only */
	for (n = 0; n < sizeof(name) - 1 && ifname && ifname[n]; n++)
		name[n] = ifname[n] > ' ' && ifname[n] < 0x7f ? ifname[n] : '?';
	name[n] = '\0';
	n = snprintf(buf, len, "type=%s reason=%s probe=%s", type, reason, probe);
	if (netns && n < len)
		n += snprintf(buf + n, len - n, " netns=%u", netns);
	if (name[0] && n < len)
		snprintf(buf + n, len - n, " ifname=%s", name);
	return buf;
}

char *format_pcap_comment(const struct trace_names *nm, const struct trace_event *e, char *buf, size_t len)
{
	char rbuf[64], ifname[sizeof(e->ifname) + 1];

	memcpy(ifname, e->ifname, sizeof(e->ifname));
	ifname[sizeof(e->ifname)] = '\0';
	return format_pcap_comment_text(e->type < TT_COUNT ? trace_type_names[e->type] : "?",
					event_reason(nm, e, rbuf, sizeof(rbuf)),
					e->type < TT_COUNT ? trace_probe_names[e->type] : "?", e->netns, ifname, buf, len);
}

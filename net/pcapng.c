/*
 * pcapng, the file format of tshark and Wireshark: blocks built in a
 * caller's buffer (section header, interface description, enhanced packet;
 * host byte order, which the section header's byte-order magic tells readers)
 * and a writer of such a file (or stdout) with interfaces of link type RAW.
 * Used by retina trace -w and kubectl retina bpftrace -w. The block builders
 * are unit-tested for lengths and padding, block by block.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/retina.h"
#include "net/pcapng.h"

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

/* ---- the file ---------------------------------------------------------- */

/* The block out, flushed: -1 with errno on failure (the file closed then). */
static int put_block(struct pcap_out *p, const uint8_t *buf, size_t n)
{
	if (fwrite(buf, 1, n, p->f) != n || fflush(p->f) == EOF) {
		int err = errno;
		if (p->f != stdout)
			fclose(p->f);
		p->f = NULL;
		errno = err;
		return -1;
	}
	return 0;
}

int pcap_create(struct pcap_out *p, const char *path, const char *appl)
{
	uint8_t buf[256];

	memset(p, 0, sizeof(*p));
	if (!strcmp(path, "-")) {
		p->f = stdout;
		p->name = "stdout";
	} else {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		p->f = fdopen(fd, "w");
		if (!p->f) {
			close(fd);
			return -1;
		}
		p->name = path;
	}
	return put_block(p, buf, pcapng_shb(buf, sizeof(buf), appl));
}

int pcap_add_iface(struct pcap_out *p, uint32_t snaplen, const char *ifname)
{
	uint8_t buf[512];
	size_t n = pcapng_idb(buf, sizeof(buf), PCAPNG_LINKTYPE_RAW, snaplen, ifname);

	if (!p->f || !n || put_block(p, buf, n))
		return -1;
	return p->ifaces++;
}

void pcap_write_raw(struct pcap_out *p, uint32_t ifid, uint64_t wall_ns, const uint8_t *pkt, uint32_t caplen,
		    uint32_t pktlen, const char *comment)
{
	uint8_t buf[PCAP_CAPLEN_MAX + 512];
	size_t n;

	if (p->failed || caplen > PCAP_CAPLEN_MAX)
		return;
	n = pcapng_epb(buf, sizeof(buf), ifid, wall_ns, pkt, caplen, pktlen, comment);
	if (n && fwrite(buf, 1, n, p->f) == n)
		p->packets++;
}

int pcap_flush(struct pcap_out *p)
{
	if (p->failed)
		return -1;
	if (fflush(p->f) == EOF || ferror(p->f)) {
		/* a reader that went away (| tshark -r - ended) is the end, not an error */
		if (errno != EPIPE)
			warnx("writing %s failed: %s; stopping", p->name, strerror(errno));
		p->failed = true;
		return -1;
	}
	return 0;
}

void pcap_close(struct pcap_out *p)
{
	if (!p->failed && fflush(p->f) == EOF && errno != EPIPE)
		warnx("writing %s failed: %s", p->name, strerror(errno));
	if (p->f != stdout)
		fclose(p->f);
	p->f = NULL;
}

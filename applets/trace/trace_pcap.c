/*
 * retina trace -w: dropped packets into a pcapng file (or stdout), one
 * interface (kubectl retina bpftrace -w: one per node) of link type RAW (the packet from its IP header: no link layer to
 * make up), a comment per packet naming the event. Blocks are built by
 * applets/trace_pcap_rules.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "applets/applets.h"
#include "applets/trace/trace_io.h"
#include "lib/retina.h"

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

int pcap_open(struct pcap_out *p, const char *path, uint32_t snaplen)
{
	if (pcap_create(p, path, "retina trace") || pcap_add_iface(p, snaplen, "dropped") < 0)
		return -1;
	return 0;
}

void pcap_write_raw(struct pcap_out *p, uint32_t ifid, uint64_t wall_ns, const uint8_t *pkt, uint32_t caplen,
		    uint32_t pktlen, const char *comment)
{
	uint8_t buf[TRACE_SNAPLEN_MAX + 512];
	size_t n;

	if (p->failed || caplen > TRACE_SNAPLEN_MAX)
		return;
	n = pcapng_epb(buf, sizeof(buf), ifid, wall_ns, pkt, caplen, pktlen, comment);
	if (n && fwrite(buf, 1, n, p->f) == n)
		p->packets++;
}

void pcap_write(struct pcap_out *p, const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns,
		const uint8_t *pkt, uint32_t caplen, uint32_t pktlen)
{
	if (p->failed)
		return;
	/* a drop storm repeats one comment: format it only when what it says changes */
	if (!p->comment[0] || p->last_type != e->type || p->last_reason != e->reason || p->last_netns != e->netns ||
	    memcmp(p->last_ifname, e->ifname, sizeof(e->ifname))) {
		format_pcap_comment(nm, e, p->comment, sizeof(p->comment));
		p->last_type = e->type;
		p->last_reason = e->reason;
		p->last_netns = e->netns;
		memcpy(p->last_ifname, e->ifname, sizeof(e->ifname));
	}
	pcap_write_raw(p, 0, wall_ns, pkt, caplen, pktlen, p->comment);
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

/*
 * retina trace -w: dropped packets into a pcapng file (or stdout), one
 * interface of link type RAW (the packet from its IP header: no link layer to
 * make up), a comment per packet naming the event. The file is net/pcapng.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "applets/applets.h"
#include "applets/trace/trace_io.h"
#include "lib/retina.h"

/* a drop storm repeats one comment: it is formatted only when what it says changes */
static struct {
	char text[200];
	uint8_t type;
	uint32_t reason, netns;
	char ifname[16];
} comment;

int pcap_open(struct pcap_out *p, const char *path, uint32_t snaplen)
{
	if (pcap_create(p, path, "retina trace") || pcap_add_iface(p, snaplen, "dropped") < 0)
		return -1;
	return 0;
}

void pcap_write(struct pcap_out *p, const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns,
		const uint8_t *pkt, uint32_t caplen, uint32_t pktlen)
{
	if (p->failed)
		return;
	if (!comment.text[0] || comment.type != e->type || comment.reason != e->reason || comment.netns != e->netns ||
	    memcmp(comment.ifname, e->ifname, sizeof(e->ifname))) {
		format_pcap_comment(nm, e, comment.text, sizeof(comment.text));
		comment.type = e->type;
		comment.reason = e->reason;
		comment.netns = e->netns;
		memcpy(comment.ifname, e->ifname, sizeof(e->ifname));
	}
	pcap_write_raw(p, 0, wall_ns, pkt, caplen, pktlen, comment.text);
}

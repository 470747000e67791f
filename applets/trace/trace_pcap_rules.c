/*
 * retina trace -w, the pure part: each packet's comment naming its event.
 * (The pcapng blocks are net/pcapng.c.)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "applets/trace/trace.h"

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

/*
 * retina trace's forensics I/O: the kernel's symbols for --stack
 * (applets/trace_stack.c) and the pcapng file of -w (applets/trace_pcap.c).
 */
#ifndef RETINA_TRACE_IO_H
#define RETINA_TRACE_IO_H

#include <stdio.h>

#include "applets/trace.h"

/*
 * Read /proc/kallsyms (RETINA_KALLSYMS overrides the path, for tests) into k.
 * false when stacks can only be shown as raw addresses: a warning says why
 * (unreadable, or addresses hidden by kptr_restrict) and what to do.
 */
bool load_kallsyms(struct ksyms *k);

struct pcap_out {
	FILE *f;
	const char *name;	/* for messages: the path, or "stdout" */
	uint64_t packets;
	bool failed;
};
/* Create path (mode 0600: packets may hold secrets) or use stdout for "-"; write the headers. */
int pcap_open(struct pcap_out *p, const char *path, uint32_t snaplen);
void pcap_write(struct pcap_out *p, const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns,
		const uint8_t *pkt, uint32_t caplen, uint32_t pktlen);
/* -1 (with a warning) when the file cannot be written: the trace stops. */
int pcap_flush(struct pcap_out *p);
void pcap_close(struct pcap_out *p);

#endif

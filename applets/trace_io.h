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
 * (unreadable, or addresses hidden by kptr_restrict) and what to do; what
 * says what suffers ("--stack shows", "DROP locations show").
 */
bool load_kallsyms(struct ksyms *k, const char *what);

struct pcap_out {
	FILE *f;
	const char *name;	/* for messages: the path, or "stdout" */
	uint64_t packets;
	uint32_t ifaces;
	bool failed;
	char comment[200];	/* the last packet comment, and what it was made of */
	uint8_t last_type;
	uint32_t last_reason, last_netns;
	char last_ifname[16];
};
/* Create path (mode 0600: packets may hold secrets) or use stdout for "-"; write the headers. */
int pcap_open(struct pcap_out *p, const char *path, uint32_t snaplen);
void pcap_write(struct pcap_out *p, const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns,
		const uint8_t *pkt, uint32_t caplen, uint32_t pktlen);
/*
 * The same in parts, for several interfaces (kubectl retina bpftrace -w:
 * one per node): the file and its section header (appl: the writer's
 * name), then each interface (its id: 0, 1, ... in the order added; -1 on
 * a write error), then packets with their comment.
 */
int pcap_create(struct pcap_out *p, const char *path, const char *appl);
int pcap_add_iface(struct pcap_out *p, uint32_t snaplen, const char *ifname);
void pcap_write_raw(struct pcap_out *p, uint32_t ifid, uint64_t wall_ns, const uint8_t *pkt, uint32_t caplen,
		    uint32_t pktlen, const char *comment);
/* -1 (with a warning) when the file cannot be written: the trace stops. */
int pcap_flush(struct pcap_out *p);
void pcap_close(struct pcap_out *p);

/* --nft (applets/trace_nft.c) */
#define NFT_RECENT 1024
#define NFT_PACKETS 256
struct nft_recent {
	struct nft_trace t;
	uint64_t at_ns;		/* CLOCK_MONOTONIC when read */
	bool used;
};
struct nft_mon {
	int fd;
	bool table_added, owner;
	uint32_t seq;
	unsigned netns;		/* inode of our network namespace: the one traced */
	struct nft_recent recent[NFT_RECENT];	/* drop verdicts not yet matched */
	struct nft_packet {			/* headers by trace id (id % NFT_PACKETS) */
		uint32_t id;
		bool valid;
		uint8_t family, proto;
		uint8_t saddr[16], daddr[16];
		uint16_t sport, dport;
	} packets[NFT_PACKETS];
	size_t next;
	uint64_t messages, named, unnamed, overruns;
	int qfd;		/* asks for table and chain handles: no trace messages on it */
	struct nft_names {
		uint8_t nfproto;
		char table[64], chain[64];
		uint64_t table_handle, chain_handle;
	} names[64];		/* handles by name, asked once each */
	size_t nnames;
};
/* Add the tracing table (dies with one clear line on failure) and listen to trace messages. */
void nft_start(struct nft_mon *m);
/* Read the trace messages that have come, without waiting. */
void nft_drain(struct nft_mon *m);
/* The rule that dropped e's packet, NULL when no trace message matches. */
const struct nft_trace *nft_lookup(struct nft_mon *m, const struct trace_event *e);
/* Remove the table, close the socket. */
void nft_stop(struct nft_mon *m);

#endif

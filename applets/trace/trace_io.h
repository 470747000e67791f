/*
 * retina trace's forensics I/O: the kernel's symbols for --stack
 * (applets/trace_stack.c) and the pcapng file of -w (applets/trace_pcap.c).
 */
#ifndef RETINA_TRACE_IO_H
#define RETINA_TRACE_IO_H

#include <stdio.h>

#include "applets/trace/trace.h"
#include "net/pcapng.h"

/*
 * Read /proc/kallsyms (RETINA_KALLSYMS overrides the path, for tests) into k.
 * false when stacks can only be shown as raw addresses: a warning says why
 * (unreadable, or addresses hidden by kptr_restrict) and what to do; what
 * says what suffers ("--stack shows", "DROP locations show").
 */
bool load_kallsyms(struct ksyms *k, const char *what);

/* --stack: the kernel's stack map (bpf/trace.bpf.c), each id's frames read once. */
struct stack_ids {
	int map_fd;
	struct stack_id_frames {
		uint32_t n;
		uint64_t frames[TRACE_MAX_FRAMES];
	} *v[TRACE_STACK_IDS];
	uint64_t read, missing;	/* ids read from the map; events without a stack */
};
/* The symbolised stack of an event's stack id (an empty one when it has none); NULL when out of memory. */
const struct stack_entry *stack_by_id(struct stack_ids *s, struct stack_cache *c, int32_t id);
void stack_ids_free(struct stack_ids *s);

/* -w: a pcapng file (net/pcapng.h) with one interface, "dropped"; each packet's comment names its event. */
int pcap_open(struct pcap_out *p, const char *path, uint32_t snaplen);
void pcap_write(struct pcap_out *p, const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns,
		const uint8_t *pkt, uint32_t caplen, uint32_t pktlen);

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

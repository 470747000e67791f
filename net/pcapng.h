/* pcapng files: their blocks, and a writer of packets with a comment each (net/pcapng.c). */
#ifndef RETINA_NET_PCAPNG_H
#define RETINA_NET_PCAPNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * pcapng blocks in buf, host byte order. Each returns the block's length (a
 * multiple of 4), 0 when buf is too small.
 */
#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 1u
#define PCAPNG_EPB 6u
#define PCAPNG_LINKTYPE_RAW 101	/* raw IPv4 or IPv6, no link layer */
#define PCAPNG_MAX_OPTION 65532	/* an option value's length field is 16 bits */
size_t pcapng_shb(uint8_t *buf, size_t len, const char *appl);
size_t pcapng_idb(uint8_t *buf, size_t len, uint16_t linktype, uint32_t snaplen, const char *ifname);
size_t pcapng_epb(uint8_t *buf, size_t len, uint32_t ifid, uint64_t ts_ns, const uint8_t *pkt, uint32_t caplen,
		  uint32_t origlen, const char *comment);

/* A pcapng file being written. */
struct pcap_out {
	FILE *f;
	const char *name;	/* for messages: the path, or "stdout" */
	uint64_t packets;
	uint32_t ifaces;
	bool failed;
};
#define PCAP_CAPLEN_MAX 4096	/* longer packets are not written (the block is built on the stack) */
/*
 * Create path (mode 0600: packets may hold secrets) or use stdout for "-",
 * and write the section header (appl: the writer's name). Then each
 * interface (its id: 0, 1, ... in the order added; -1 on a write error),
 * then packets with their comment.
 */
int pcap_create(struct pcap_out *p, const char *path, const char *appl);
int pcap_add_iface(struct pcap_out *p, uint32_t snaplen, const char *ifname);
void pcap_write_raw(struct pcap_out *p, uint32_t ifid, uint64_t wall_ns, const uint8_t *pkt, uint32_t caplen,
		    uint32_t pktlen, const char *comment);
/* -1 (with a warning) when the file cannot be written: the caller stops. */
int pcap_flush(struct pcap_out *p);
void pcap_close(struct pcap_out *p);

#endif

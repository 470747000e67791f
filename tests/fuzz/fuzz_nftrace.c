/*
 * Fuzz retina trace --nft's parser of nftables trace messages (netlink
 * datagrams from NFNLGRP_NFTRACE): whatever the bytes, no read past them, and
 * every parsed message formats into one printable line of its names.
 */
#include <stdint.h>
#include <string.h>

#include "applets/trace/trace.h"

static void check(void *ctx, const struct nft_trace *t)
{
	char buf[256];
	struct trace_event e = { .family = t->family, .proto = t->proto };

	(void)ctx;
	if (!t->table[0] || strlen(t->table) >= sizeof(t->table) || strlen(t->chain) >= sizeof(t->chain))
		__builtin_trap();
	nft_trace_format(t, buf, sizeof(buf));
	for (const char *p = buf; *p; p++)
		if (*p < ' ' || *p >= 0x7f || *p == '"' || *p == '\\')
			__builtin_trap();
	nft_trace_is_drop(t);
	nft_trace_matches(t, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t handle;

	nft_parse_datagram(data, size, check, NULL);
	nft_parse_handle(data, size, 0, &handle);
	return 0;
}

/* Fuzz the DNS message parser: any bytes a server (or an attacker) sends. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg m;
	char err[256];

	if (dns_msg_parse(&m, data, size, err, sizeof(err)))
		return 0;
	/* A validated message must print without failing, in every section. */
	for (int s = 0; s < DNS_S_COUNT; s++) {
		struct dns_iter it;
		struct dns_rr rr;
		unsigned n = 0;

		dns_iter_init(&it, &m, (enum dns_section)s);
		while (dns_iter_next(&it, &rr)) {
			n++;
			if (rr.type == DNS_T_OPT)
				continue;
			size_t tl = dns_rdata_text_max(&rr);
			char *text = malloc(tl);
			if (!text)
				return 0;
			if (dns_rdata_format(&m, &rr, text, tl, err, sizeof(err)) || strlen(text) >= tl)
				__builtin_trap();
			free(text);
		}
		if (n != m.count[s])
			__builtin_trap();
	}
	/* Names read back must encode again. */
	if (m.qname[0]) {
		uint8_t wire[DNS_NAME_WIRE_MAX + 1];
		if (dns_name_to_wire(m.qname, wire, sizeof(wire)) < 0)
			__builtin_trap();
	}
	return 0;
}

/* Fuzz resolv.conf parsing and search-list expansion (a file any image may ship). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/resolv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolv_conf rc;
	char names[RESOLV_MAXSEARCH + 1][DNS_NAME_TEXT];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	resolv_conf_defaults(&rc);
	resolv_conf_parse(text, &rc);
	if (rc.nns > RESOLV_MAXNS || rc.nsearch > RESOLV_MAXSEARCH || rc.ndots < 0 || rc.ndots > 15 ||
	    rc.timeout_s < 1 || rc.timeout_s > 30 || rc.attempts < 1 || rc.attempts > 5)
		__builtin_trap();
	/* The first line doubles as a name to look up. */
	char name[300];
	size_t n = strcspn(text, "\n");
	if (n < sizeof(name)) {
		memcpy(name, text, n);
		name[n] = '\0';
		int got = resolv_search_names(&rc, name, names, RESOLV_MAXSEARCH + 1);
		for (int i = 0; i < got; i++) {
			uint8_t wire[DNS_NAME_WIRE_MAX + 1];
			if (dns_name_to_wire(names[i], wire, sizeof(wire)) < 0)
				__builtin_trap();
		}
	}
	free(text);
	return 0;
}

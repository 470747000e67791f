/* Fuzz the parsers of user-typed addresses (--ip, --cidr, host:port). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], buf[64];
	const char *host, *port;
	struct ipaddr a;
	struct cidr c;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!ipaddr_parse(s, &a)) {
		char out[IPADDR_STRLEN];
		ipaddr_format(&a, out, sizeof(out));
		ipaddr_unmap(&a);
	}
	if (!cidr_parse(s, &c)) {
		if (c.prefix < 0 || c.prefix > (c.addr.family == 2 ? 32 : 128))
			__builtin_trap();
		if (!cidr_contains(&c, &c.addr))	/* a prefix contains its own network address */
			__builtin_trap();
	}
	hostport_split(s, buf, sizeof(buf), &host, &port);
	return 0;
}

/* Fuzz the ICMP reply parser with what any host on the path may send back. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/icmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct icmp_pkt k;
	char buf[96];

	if (size < 1)
		return 0;
	/* The first byte picks the socket kind, as the applet would have it. */
	int family = (data[0] & 1) ? AF_INET6 : AF_INET;
	bool with_ip = family == AF_INET && (data[0] & 2);
	bool id_check = data[0] & 4;
	if (icmp_parse(family, with_ip, data + 1, size - 1, id_check, 0x1234, &k))
		return 0;
	if (k.kind == ICMP_K_ECHO_REPLY && (k.data + k.data_len > data + size || k.icmp_len > size))
		__builtin_trap();
	if (id_check && k.kind != ICMP_K_OTHER && k.id != 0x1234)
		__builtin_trap();
	icmp_error_text(family, k.type, k.code, k.info, buf, sizeof(buf));
	return 0;
}

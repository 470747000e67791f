/*
 * Fuzz retina trace's output of kernel events: whatever bytes the ring buffer
 * hands over (comm and ifname are arbitrary bytes, codes any value), the JSON
 * line must parse as one JSON object and the table row must stay one line.
 * Input: a struct trace_event, then 8 bytes of wall-clock time.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "applets/trace/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct reason_table drop;
	struct trace_names nm = { &drop, &drop, NULL };
	struct trace_event e;
	uint64_t wall = 0;
	char buf[1024];

	if (!drop.n) {
		reason_add(&drop, "skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET", 3);
		reason_add(&drop, "skb_drop_reason_subsys", "SKB_DROP_REASON_SUBSYS_OPENVSWITCH", 2);
	}
	if (size < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	if (size >= sizeof(e) + 8)
		memcpy(&wall, data + sizeof(e), 8);
	wall %= UINT64_C(16725225600) * 1000000000u;	/* before the year 2500 */

	format_json(&nm, &e, wall, buf, sizeof(buf));
	cJSON *j = cJSON_Parse(buf);
	if (!j || !cJSON_IsObject(j))
		__builtin_trap();
	if (strcmp(buf, "{}") && !cJSON_GetObjectItem(j, "type"))
		__builtin_trap();
	cJSON_Delete(j);

	format_row(&nm, &e, wall, buf, sizeof(buf));
	if (strchr(buf, '\n'))
		__builtin_trap();
	return 0;
}

/*
 * Fuzz the reading of `retina trace --count -o json` lines (count_parse_json,
 * what kubectl retina bpftrace --count merges its nodes with): any bytes from
 * a pod, line by line, under two nodes. A line is added whole or not at all;
 * no key text keeps a control character; the totals stay the sums of the
 * entries; the merged table and the JSON print without fault.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/trace/trace_count.h"

static void check_text(const char *s, size_t len)
{
	if (strnlen(s, len) == len)
		__builtin_trap();
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct count_table t = { 0 };
	char *buf = malloc(size + 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	int line = 0;
	for (char *p = buf, *nl; p; p = nl ? nl + 1 : NULL, line++) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		size_t before = t.n;
		uint64_t total = t.total;
		int r = count_parse_json(&t, line & 1 ? "node-b" : "node-a", p);
		if (r < -1 || r > 2 || (r <= 0 && (t.n != before || t.total != total)))
			__builtin_trap();
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < t.n; i++) {
		const struct count_key *k = &t.v[i].k;
		check_text(k->type, sizeof(k->type));
		check_text(k->reason, sizeof(k->reason));
		check_text(k->location, sizeof(k->location));
		check_text(k->ifname, sizeof(k->ifname));
		check_text(k->proto, sizeof(k->proto));
		if (k->dport > 65535 || t.v[i].delta > t.v[i].total)
			__builtin_trap();
		sum += t.v[i].total;
	}
	if (sum != t.total)
		__builtin_trap();
	FILE *devnull = fopen("/dev/null", "w");
	if (devnull) {
		struct count_view v = { .title = "t", .secs = 1, .by_delta = size & 1, .node_col = true, .top = size % 5 };
		count_print_table(&t, &v, devnull);
		count_print_json(&t, "ts", 1, size & 2, 0, devnull);
		fclose(devnull);
	}
	count_table_free(&t);
	free(buf);
	return 0;
}

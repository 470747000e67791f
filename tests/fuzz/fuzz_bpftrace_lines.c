/*
 * Fuzz kubectl retina bpftrace's handling of a trace pod's log: any bytes
 * from the cluster, split into lines, rendered as table and JSON, summed up.
 * Nothing the pod sends reaches the terminal as a control character on stderr,
 * and in JSON mode every line on stdout is one JSON object with our "node".
 * With -w (data[0] & 4) every packet handed on fits the snaplen and no line
 * on stdout keeps the packet's bytes; bt_packet_suffix() cuts only what it
 * promises.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "applets/kubectl/kubectl_bpftrace.h"
#include "applets/trace/trace.h"

static void on_packet(void *ctx, struct bt_stream *s, const struct bt_packet *p)
{
	(void)ctx;
	(void)s;
	if (!p->caplen || p->caplen > TRACE_SNAPLEN_MAX || !p->comment || strncmp(p->comment, "node=node-a ", 12))
		__builtin_trap();
	uint8_t sum = 0;	/* every byte readable (ASan) */
	for (uint32_t i = 0; i < p->caplen; i++)
		sum += p->data[i];
	if (p->caplen == 1 && sum != p->data[0])
		__builtin_trap();
}

/* The cut, if any, leaves a prefix followed by exactly the packet fields. */
static void check_suffix(const char *line)
{
	size_t n = strlen(line);
	long cut = bt_packet_suffix(line, n);

	if (cut < 0)
		return;
	if ((size_t)cut >= n || strncmp(line + cut, ",\"packet_len\":", 14) || line[n - 1] != '}' ||
	    memchr(line + cut + 14, '}', n - cut - 15))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct bt_stream *s = calloc(1, sizeof(*s));
	char *line = malloc(size + 1), *err = NULL, *out = NULL;
	size_t errlen = 0, outlen = 0;
	FILE *e = open_memstream(&err, &errlen), *o = open_memstream(&out, &outlen);

	if (!null)
		null = fopen("/dev/null", "w");
	s->node = "node-a";
	struct bt_render r = { .json = size && data[0] & 1, .node_width = size && data[0] & 2 ? 6 : 0 };
	bool write = size && data[0] & 4;
	if (write)
		r.packet = on_packet;
	size_t used = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == '\n') {
			line[used] = '\0';
			check_suffix(line);
			bt_handle_line(s, &r, line, o, e);
			used = 0;
		} else if (data[i]) {
			line[used++] = data[i];
		}
	}
	bt_print_summary(s, "x", 1.0, NULL, null);
	fclose(e);
	fclose(o);
	for (char *p = out, *nl; r.json && p && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		cJSON *j = cJSON_ParseWithOpts(p, NULL, true);
		const cJSON *node = cJSON_GetObjectItemCaseSensitive(j, "node");
		if (!cJSON_IsObject(j) || !cJSON_IsString(node))
			__builtin_trap();
		if (write && (cJSON_GetObjectItemCaseSensitive(j, "packet") ||
			      cJSON_GetObjectItemCaseSensitive(j, "packet_len")))
			__builtin_trap();
		cJSON_Delete(j);
	}
	free(out);
	for (size_t i = 0; i < errlen; i++)
		if ((unsigned char)err[i] < 0x20 && err[i] != '\n')
			__builtin_trap();
	free(err);
	free(line);
	free(s);
	return 0;
}

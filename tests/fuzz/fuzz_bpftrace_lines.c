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

/*
 * stdout and stderr land in static buffers through streams opened once:
 * an open_memstream per run cost more than the code under test (its
 * buffers are fresh pages each time under ASan's quarantine).
 */
static char out[1 << 20], err[1 << 20];

static size_t drain(FILE *f, char *buf, size_t cap)
{
	fflush(f);
	long n = ftell(f);
	if (n < 0 || (size_t)n >= cap - 1)
		return 0;	/* more than -max_len could make: nothing to check */
	buf[n] = '\0';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null, *o, *e;
	struct bt_stream *s = calloc(1, sizeof(*s));
	char *line = malloc(size + 1);

	if (!null) {
		null = fopen("/dev/null", "w");
		o = fmemopen(out, sizeof(out), "w");
		e = fmemopen(err, sizeof(err), "w");
		if (!null || !o || !e)
			abort();
	}
	rewind(o);
	rewind(e);
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
	size_t outlen = drain(o, out, sizeof(out)), errlen = drain(e, err, sizeof(err));
	for (char *p = out, *nl; r.json && outlen && (nl = strchr(p, '\n')); p = nl + 1) {
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
	for (size_t i = 0; i < errlen; i++)
		if ((unsigned char)err[i] < 0x20 && err[i] != '\n')
			__builtin_trap();
	free(line);
	free(s);
	return 0;
}

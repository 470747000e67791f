/*
 * Fuzz kubectl retina bpftrace's handling of a trace pod's log: any bytes
 * from the cluster, split into lines, rendered as table and JSON, summed up.
 * Nothing the pod sends reaches the terminal as a control character on stderr,
 * and in JSON mode every line on stdout is one JSON object with our "node".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "applets/kubectl_bpftrace.h"

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
	size_t used = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == '\n') {
			line[used] = '\0';
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

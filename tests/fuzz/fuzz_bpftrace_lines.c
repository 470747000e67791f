/*
 * Fuzz kubectl retina bpftrace's handling of a trace pod's log: any bytes
 * from the cluster, split into lines, rendered as table and JSON, summed up.
 * Nothing the pod sends reaches the terminal as a control character on stderr.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/kubectl_bpftrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct bt_stream *s = calloc(1, sizeof(*s));
	char *line = malloc(size + 1), *err = NULL;
	size_t errlen = 0;
	FILE *e = open_memstream(&err, &errlen);

	if (!null)
		null = fopen("/dev/null", "w");
	s->node = "node-a";
	struct bt_render r = { .json = size && data[0] & 1, .node_width = size && data[0] & 2 ? 6 : 0 };
	size_t used = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == '\n') {
			line[used] = '\0';
			bt_handle_line(s, &r, line, null, e);
			used = 0;
		} else if (data[i]) {
			line[used++] = data[i];
		}
	}
	bt_print_summary(s, "x", 1.0, NULL, null);
	fclose(e);
	for (size_t i = 0; i < errlen; i++)
		if ((unsigned char)err[i] < 0x20 && err[i] != '\n')
			__builtin_trap();
	free(err);
	free(line);
	free(s);
	return 0;
}

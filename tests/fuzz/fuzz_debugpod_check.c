/*
 * Fuzz what kube/debugpod.c reads of a debug pod the API server describes
 * (debugpod_check, while waiting for the pod): any JSON gives running (1),
 * waiting (0, with a phase word) or a failure (-1) with one printable error
 * line, never raw server bytes on the terminal. The first byte picks the
 * container's kind (ephemeral or not).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kube/debugpod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";
	const char *phase = NULL;

	if (!size)
		return 0;
	cJSON *pod = cJSON_ParseWithLength((const char *)data + 1, size - 1);
	int rc = debugpod_check(pod, "retina-shell", data[0] & 1, &phase, err, sizeof(err));
	if (rc < -1 || rc > 1 || (rc == -1 && !err[0]) || (rc == 0 && (!phase || !phase[0])))
		__builtin_trap();
	for (const char *p = err; *p; p++)
		if ((unsigned char)*p < ' ' && *p != '\n')
			__builtin_trap();	/* server bytes never reach the terminal raw */
	cJSON_Delete(pod);
	return 0;
}

/*
 * Fuzz a pod watch stream as kube/watch.c reads it (kube_watch_event), one
 * event per line: whatever the API server (or a man in the middle) sends, the
 * resourceVersion kept is digits only and fits, done only ever sees objects,
 * and an error is one printable line. done's answer comes from the pod's
 * "metadata.name" so every step (go on, done, fail, relist) is reached.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kube/client.h"

static int done(const cJSON *pod, void *arg, char *err, size_t errlen)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");

	(*(int *)arg)++;
	if (!cJSON_IsObject(pod))
		__builtin_trap();
	if (!cJSON_IsString(name))
		return 0;
	if (!strcmp(name->valuestring, "fail")) {
		snprintf(err, errlen, "pod failed");
		return -1;
	}
	return !strcmp(name->valuestring, "ready");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char rv[32] = "", err[512], *text = malloc(size + 1);
	int calls = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *line = text, *nl; line; line = nl) {
		if ((nl = strchr(line, '\n')))
			*nl++ = '\0';
		err[0] = '\0';
		int before = calls;
		int step = kube_watch_event(line, rv, sizeof(rv), "default", "web", done, &calls, err, sizeof(err));
		if (step < KW_GO_ON || step > KW_FAIL || calls - before > 1 || (step == KW_DONE && calls == before))
			__builtin_trap();
		if (strspn(rv, "0123456789") != strlen(rv))
			__builtin_trap();
		for (const char *p = err; *p; p++)
			if ((unsigned char)*p < ' ' && *p != '\n')
				__builtin_trap();	/* server bytes never reach the terminal raw */
		if (step == KW_FAIL && !err[0])
			__builtin_trap();
		if (step != KW_GO_ON)
			break;	/* as the watch: the stream is closed */
	}
	free(text);
	return 0;
}

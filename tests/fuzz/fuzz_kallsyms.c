/*
 * Fuzz retina trace --stack's reading of /proc/kallsyms and its symbolised
 * stacks: whatever the file holds, every stack's JSON must parse as an array
 * of as many strings as frames shown, and its table text must be one line per
 * frame. Input: kallsyms text, a NUL, then 8-byte return addresses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "applets/trace/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct stack_cache *c;
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	uint64_t frames[TRACE_MAX_FRAMES] = { 0 };
	uint32_t n = 0;
	struct ksyms k;

	if (!c && !(c = calloc(1, sizeof(*c))))
		return 0;
	FILE *f = fmemopen((void *)data, tlen ? tlen : 1, "r");
	if (!f)
		return 0;
	if (ksyms_load(&k, f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	if (nul) {
		size_t rest = size - tlen - 1;
		n = rest / 8 > TRACE_MAX_FRAMES ? TRACE_MAX_FRAMES : rest / 8;
		memcpy(frames, nul + 1, n * 8);
	}
	stack_cache_free(c);
	c->ksyms = &k;
	const struct stack_entry *e = stack_cache_get(c, frames, n);
	if (e) {
		cJSON *j = cJSON_Parse(e->json);
		if (!j || !cJSON_IsArray(j) || cJSON_GetArraySize(j) != (int)e->shown)
			__builtin_trap();
		cJSON *s;
		cJSON_ArrayForEach(s, j)
			if (!cJSON_IsString(s) || strchr(s->valuestring, '\n'))
				__builtin_trap();
		cJSON_Delete(j);
		size_t lines = 0;
		for (const char *p = e->text; (p = strchr(p, '\n')); p++)
			lines++;
		if (lines != e->shown)
			__builtin_trap();
		if (e != stack_cache_get(c, frames, n))
			__builtin_trap();
	}
	stack_cache_free(c);
	ksyms_free(&k);
	return 0;
}

/*
 * retina trace --stack, the pure parts: the kernel's symbols from
 * /proc/kallsyms (text symbols, sorted, one string blob), `function+0xoff`
 * for a return address, and a cache that symbolises each distinct stack
 * once (a drop storm repeats the same few stacks). Unit-tested with made-up
 * symbol files.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/trace/trace.h"
#include "lib/retina.h"

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 1024;
	while (ncap < need)
		ncap *= 2;
	void *nv = realloc(*v, ncap * size);
	if (!nv)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* A symbol name as it may appear in output: no quotes, controls or spaces. */
static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == '"' || *s == '\\')
			return false;
	return true;
}

int ksyms_load(struct ksyms *k, FILE *f)
{
	char line[512];
	size_t zero = 0;

	memset(k, 0, sizeof(*k));
	while (fgets(line, sizeof(line), f)) {
		char type, name[256], mod[128] = "";
		unsigned long long addr;

		if (!strchr(line, '\n') && !feof(f)) {
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;	/* an absurdly long line: skipped */
			continue;
		}
		int got = sscanf(line, "%llx %c %255s [%127[^]]]", &addr, &type, name, mod);
		if (got < 3)
			continue;
		k->nread++;
		if (!addr)
			zero++;
		/* text symbols only: return addresses point into code */
		if ((type != 't' && type != 'T' && type != 'w' && type != 'W') || !addr || !name_ok(name))
			continue;
		char full[400];
		int n = got == 4 && name_ok(mod) ? snprintf(full, sizeof(full), "%s [%s]", name, mod)
						 : snprintf(full, sizeof(full), "%s", name);
		if (grow((void **)&k->v, &k->cap, k->n + 1, sizeof(*k->v)) ||
		    grow((void **)&k->names, &k->ncap, k->nlen + n + 1, 1)) {
			ksyms_free(k);
			return -1;
		}
		k->v[k->n].addr = addr;
		k->v[k->n].name = k->nlen;
		memcpy(k->names + k->nlen, full, n + 1);
		k->nlen += n + 1;
		k->n++;
	}
	/* kptr_restrict (or no CAP_SYSLOG): the names are there, every address reads 0 */
	k->hidden = k->nread > 0 && zero == k->nread;
	if (k->n)
		qsort(k->v, k->n, sizeof(*k->v), cmp_ksym);
	return 0;
}

void ksyms_free(struct ksyms *k)
{
	free(k->v);
	free(k->names);
	memset(k, 0, sizeof(*k));
}

const char *ksyms_find(const struct ksyms *k, uint64_t addr, uint64_t *off)
{
	size_t lo = 0, hi = k->n;

	/* the last symbol at or below addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k->v[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	*off = addr - k->v[lo - 1].addr;
	/* far past the last known symbol: not a kernel text address we know */
	if (lo == k->n && *off > (1u << 24))
		return NULL;
	return k->names + k->v[lo - 1].name;
}

char *ksyms_frame(const struct ksyms *k, uint64_t addr, char *buf, size_t len)
{
	uint64_t off;
	const char *name = k ? ksyms_find(k, addr, &off) : NULL;

	if (!name) {
		snprintf(buf, len, "0x%" PRIx64, addr);
		return buf;
	}
	/* "name [mod]": the offset goes after the name, as the kernel prints it */
	const char *sp = strchr(name, ' ');
	if (sp)
		snprintf(buf, len, "%.*s+0x%" PRIx64 "%s", (int)(sp - name), name, off, sp);
	else
		snprintf(buf, len, "%s+0x%" PRIx64, name, off);
	return buf;
}

/* The tracer's own frames (the BPF program and the tracepoint glue) come first: not the drop's. */
static bool tracer_frame(const char *f)
{
	static const char *const prefixes[] = { "bpf_prog_", "bpf_trace_run", "__bpf_trace_", "__traceiter_",
						"bpf_get_stack", "__bpf_get_stack", "get_perf_callchain",
						"perf_callchain_kernel" };

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (!strncmp(f, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static uint64_t hash_frames(const uint64_t *frames, uint32_t n)
{
	uint64_t h = 1469598103934665603ull ^ n;

	for (uint32_t i = 0; i < n; i++) {
		h ^= frames[i];
		h *= 1099511628211ull;
		h ^= h >> 29;
	}
	return h;
}

static void entry_free(struct stack_entry *e)
{
	free(e->text);
	free(e->json);
	memset(e, 0, sizeof(*e));
}

/* Only the slots in use: clearing all 4096 (1 MiB) was most of the cost of a small cache. */
void stack_cache_free(struct stack_cache *c)
{
	for (size_t i = c->lo; i <= c->hi && c->used; i++)
		if (c->slots[i].text) {
			entry_free(&c->slots[i]);
			c->used--;
		}
	c->used = c->lo = c->hi = 0;
}

/* Symbolise frames into e: the table text (a line per frame) and a JSON array. */
static int symbolise(const struct ksyms *k, struct stack_entry *e)
{
	char f[TRACE_MAX_FRAMES][320];
	size_t tlen = 1, jlen = 3;
	uint32_t first = 0, n = e->nframes;

	for (uint32_t i = 0; i < n; i++)
		ksyms_frame(k, e->frames[i], f[i], sizeof(f[i]));
	while (first < n && tracer_frame(f[first]))
		first++;
	if (first == n)
		first = 0;	/* nothing but tracer frames: show them rather than nothing */
	char cut[64] = "";
	if (e->cut)
		snprintf(cut, sizeof(cut), STACK_CUT_LINE, e->nframes);
	for (uint32_t i = first; i < n; i++) {
		tlen += 5 + strlen(f[i]);
		jlen += 3 + strlen(f[i]);
	}
	tlen += strlen(cut);
	e->text = malloc(tlen);
	e->json = malloc(jlen);
	if (!e->text || !e->json) {
		entry_free(e);
		return -1;
	}
	char *t = e->text, *j = e->json;
	*j++ = '[';
	for (uint32_t i = first; i < n; i++) {
		size_t m = strlen(f[i]);
		memcpy(t, "\n    ", 5);
		memcpy(t + 5, f[i], m);
		t += 5 + m;
		if (i > first)
			*j++ = ',';
		*j++ = '"';
		memcpy(j, f[i], m);	/* names are checked on load: nothing to escape */
		j += m;
		*j++ = '"';
	}
	strcpy(t, cut);
	*j++ = ']';
	*j = '\0';
	e->shown = n - first;
	return 0;
}

const struct stack_entry *stack_cache_get(struct stack_cache *c, const uint64_t *frames, uint32_t n)
{
	if (n > TRACE_MAX_FRAMES)
		n = TRACE_MAX_FRAMES;
	uint64_t h = hash_frames(frames, n);
	size_t i = h % STACK_CACHE_SLOTS;

	for (;;) {
		struct stack_entry *e = &c->slots[i];
		if (!e->text)
			break;
		if (e->hash == h && e->nframes == n && !memcmp(e->frames, frames, n * sizeof(*frames))) {
			c->hits++;
			return e;
		}
		i = (i + 1) % STACK_CACHE_SLOTS;
	}
	/* Bounded memory: when the table is three quarters full, start over. */
	if (c->used >= STACK_CACHE_SLOTS * 3 / 4) {
		stack_cache_free(c);
		i = h % STACK_CACHE_SLOTS;
	}
	struct stack_entry *e = &c->slots[i];
	e->hash = h;
	e->nframes = n;
	e->cut = c->depth && n >= c->depth;
	memcpy(e->frames, frames, n * sizeof(*frames));
	if (symbolise(c->ksyms, e))
		return NULL;
	if (!c->used || i < c->lo)
		c->lo = i;
	if (!c->used || i > c->hi)
		c->hi = i;
	c->used++;
	c->misses++;
	return e;
}

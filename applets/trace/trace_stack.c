/*
 * retina trace --stack: load the kernel's symbols, and say plainly when the
 * kernel hides its addresses (then stacks are raw addresses).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "applets/applets.h"
#include "applets/trace/trace_io.h"
#include "lib/caps.h"
#include "lib/proc.h"
#include "lib/retina.h"

static int kptr_restrict(void)
{
	FILE *f = fopen("/proc/sys/kernel/kptr_restrict", "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool has_syslog(void)
{
	struct proc_status st;

	return !proc_self_status(&st) && (st.cap_eff & CAPBIT(CAPN_SYSLOG));
}

bool load_kallsyms(struct ksyms *k, const char *what)
{
	const char *path = getenv("RETINA_KALLSYMS");
	FILE *f;

	if (!path || !*path)
		path = "/proc/kallsyms";
	f = fopen(path, "r");
	if (!f) {
		warnx("cannot read %s (%s): %s raw addresses", path, strerror(errno), what);
		return false;
	}
	int err = ksyms_load(k, f);
	fclose(f);
	if (err)
		die(EXIT_FAIL, "out of memory reading %s", path);
	if (k->hidden) {
		int kr = kptr_restrict();
		if (kr >= 2)
			warnx("%s shows every address as 0 (kernel.kptr_restrict=2 hides them from everyone): "
			      "%s raw addresses; 'sysctl kernel.kptr_restrict=1' and CAP_SYSLOG would "
			      "name the functions", path, what);
		else if (has_syslog())
			warnx("%s shows every address as 0 although this process has CAP_SYSLOG "
			      "(kernel.kptr_restrict=%d): the kernel wants it in the initial user namespace, "
			      "and this is another one; %s raw addresses", path, kr, what);
		else
			warnx("%s shows every address as 0 (kernel.kptr_restrict=%d and this process lacks "
			      "CAP_SYSLOG): %s raw addresses; add SYSLOG "
			      "(kubectl retina shell --capabilities SYSLOG,BPF,PERFMON NODE) to name the functions",
			      path, kr, what);
		ksyms_free(k);
		return false;
	}
	if (!k->n) {
		warnx("%s lists no kernel functions: %s raw addresses", path, what);
		return false;
	}
	return true;
}

/*
 * An event's stack by its id in the kernel's stack map: read once per id
 * (the map never replaces a kept stack: ids are stable for the run), then
 * symbolised once per distinct stack by the cache.
 */
const struct stack_entry *stack_by_id(struct stack_ids *s, struct stack_cache *c, int32_t id)
{
	static const uint64_t none[1];

	if (id < 0 || id >= TRACE_STACK_IDS) {
		s->missing++;
		return stack_cache_get(c, none, 0);
	}
	if (!s->v[id]) {
		uint64_t frames[TRACE_MAX_FRAMES] = { 0 };
		if (bpf_map_lookup_elem(s->map_fd, &id, frames)) {
			s->missing++;
			return stack_cache_get(c, none, 0);
		}
		s->v[id] = calloc(1, sizeof(*s->v[id]));
		if (!s->v[id])
			return NULL;
		while (s->v[id]->n < TRACE_MAX_FRAMES && frames[s->v[id]->n])
			s->v[id]->n++;
		memcpy(s->v[id]->frames, frames, sizeof(frames));
		s->read++;
	}
	return stack_cache_get(c, s->v[id]->frames, s->v[id]->n);
}

void stack_ids_free(struct stack_ids *s)
{
	for (size_t i = 0; i < TRACE_STACK_IDS; i++)
		free(s->v[i]);
	memset(s->v, 0, sizeof(s->v));
}

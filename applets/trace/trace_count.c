/*
 * retina trace --count: the kernel counts (bpf/trace.bpf.c, a per-CPU hash
 * by key, with per-CPU slots in front of it for drops), we read both every
 * --interval and print what grew. Nothing
 * goes through the ring buffer, so nothing is lost at any rate; the only
 * events not counted are those the kernel did not run the program for
 * (a tracepoint firing inside another on one CPU), and it counts those:
 * the summary says so.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "applets/applets.h"
#include "applets/trace/trace.h"
#include "applets/trace/trace_count.h"
#include "bpf/trace.skel.h"
#include "lib/retina.h"
#include "lib/sys.h"

/* What we last read of each kernel key: its total, so each pass adds the growth. */
struct seen {
	struct trace_count_key k;
	uint64_t total;
	uint64_t now;		/* this pass: the hash's count and the slots' */
	char ifname[17];
	bool used;
};

struct counter {
	const struct count_opts *o;
	struct trace_bpf *skel;
	struct count_table t;
	struct seen *seen;
	size_t nseen, capseen;	/* capseen: a power of 2 */
	struct trace_count_val *vals;	/* one per possible CPU */
	struct trace_count_slot *slots;	/* one per possible CPU */
	int ncpus;
	uint64_t unkeyed_seen;
};

static size_t key_hash(const struct trace_count_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* The slot of k (added when new); NULL when out of memory. */
static struct seen *seen_slot(struct counter *c, const struct trace_count_key *k)
{
	if ((c->nseen + 1) * 2 > c->capseen) {
		size_t ncap = c->capseen ? c->capseen * 2 : 1024;
		struct seen *nv = calloc(ncap, sizeof(*nv));
		if (!nv)
			return NULL;
		for (size_t i = 0; i < c->capseen; i++) {
			if (!c->seen[i].used)
				continue;
			size_t j = key_hash(&c->seen[i].k) & (ncap - 1);
			while (nv[j].used)
				j = (j + 1) & (ncap - 1);
			nv[j] = c->seen[i];
		}
		free(c->seen);
		c->seen = nv;
		c->capseen = ncap;
	}
	size_t j = key_hash(k) & (c->capseen - 1);
	while (c->seen[j].used && memcmp(&c->seen[j].k, k, sizeof(*k)))
		j = (j + 1) & (c->capseen - 1);
	if (!c->seen[j].used) {
		c->seen[j] = (struct seen){ .k = *k, .used = true };
		c->nseen++;
	}
	return &c->seen[j];
}

/* A kernel key as text: names from the kernel's enums, the location symbolised. */
static void key_text(const struct count_opts *o, const struct trace_count_key *k, const char *ifname,
		     struct count_key *t)
{
	struct trace_event e = { .type = k->type, .reason = k->reason };
	const char *proto = proto_name(k->proto);

	memset(t, 0, sizeof(*t));
	snprintf(t->type, sizeof(t->type), "%s", k->type < TT_COUNT ? trace_type_names[k->type] : "?");
	char rbuf[64];
	snprintf(t->reason, sizeof(t->reason), "%s", event_reason(o->names, &e, rbuf, sizeof(rbuf)));
	if (k->location)
		ksyms_frame(o->ksyms, k->location, t->location, sizeof(t->location));
	snprintf(t->ifname, sizeof(t->ifname), "%.16s", ifname);
	if (proto)
		snprintf(t->proto, sizeof(t->proto), "%s", proto);
	else if (k->proto)
		snprintf(t->proto, sizeof(t->proto), "%u", k->proto);
	t->netns = k->netns;
	t->ifindex = k->ifindex;
	t->dport = k->dport;
}

/* A key's count on this pass: n more, and its interface's name if it had none. */
static int add_now(struct counter *c, const struct trace_count_key *k, uint64_t n, const char *ifname)
{
	struct seen *s = seen_slot(c, k);

	if (!s)
		return -1;
	s->now += n;
	if (!s->ifname[0] && ifname[0])
		snprintf(s->ifname, sizeof(s->ifname), "%.16s", ifname);
	return 0;
}

/*
 * One pass over the kernel's hash and slots: each key's count is its hash
 * entry's (every CPU) plus its slots' (a slot counts only its own key).
 */
static int read_kernel(struct counter *c)
{
	int fd = bpf_map__fd(c->skel->maps.counts);
	struct trace_count_key k, next;
	bool first = true;

	for (size_t i = 0; i < c->capseen; i++)
		c->seen[i].now = 0;
	while (!bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		first = false;
		k = next;
		if (bpf_map_lookup_elem(fd, &k, c->vals))
			continue;	/* cannot happen: keys are never deleted */
		uint64_t n = 0;
		const char *ifname = "";
		for (int i = 0; i < c->ncpus; i++) {
			n += c->vals[i].count;
			if (!ifname[0] && c->vals[i].ifname[0])
				ifname = c->vals[i].ifname;
		}
		if (add_now(c, &k, n, ifname))	/* one table lookup per key, not per CPU */
			return -1;
	}
	fd = bpf_map__fd(c->skel->maps.count_slots);
	for (uint32_t i = 0; i < TRACE_COUNT_SLOTS; i++) {
		if (bpf_map_lookup_elem(fd, &i, c->slots))
			break;
		for (int j = 0; j < c->ncpus; j++)
			if (c->slots[j].used && c->slots[j].v.count &&
			    add_now(c, &c->slots[j].k, c->slots[j].v.count, c->slots[j].v.ifname))
				return -1;
	}
	return 0;
}

/* One pass: each key's growth into the table. */
static int read_counts(struct counter *c)
{
	if (read_kernel(c))
		return -1;
	for (size_t i = 0; i < c->capseen; i++) {
		struct seen *s = &c->seen[i];
		if (!s->used || s->now <= s->total)
			continue;
		struct count_key t;
		key_text(c->o, &s->k, s->ifname, &t);
		if (count_table_add(&c->t, "", &t, s->now - s->total))
			return -1;
		s->total = s->now;
	}
	uint64_t unkeyed = 0;
	for (int i = 0; i < TT_COUNT; i++)
		unkeyed += c->skel->bss->unkeyed[i];
	c->t.unkeyed_delta += unkeyed - c->unkeyed_seen;
	c->t.unkeyed_total += unkeyed - c->unkeyed_seen;
	c->unkeyed_seen = unkeyed;
	return 0;
}

/* Events the kernel did not run our programs for (nested on one CPU): never counted. */
uint64_t trace_recursion_misses(const struct trace_bpf *skel)
{
	struct bpf_program *p;
	uint64_t n = 0;

	bpf_object__for_each_program(p, skel->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (bpf_program__fd(p) >= 0 && !bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			n += info.recursion_misses;
	}
	return n;
}

static void print_interval(struct counter *c, double secs)
{
	char ts[40];

	if (c->o->json) {
		count_print_json(&c->t, format_rfc3339(now_ns(CLOCK_REALTIME), ts, sizeof(ts)), secs, false, 0, stdout);
		return;
	}
	time_t now = time(NULL);
	struct tm tm;
	char title[64];
	gmtime_r(&now, &tm);
	snprintf(title, sizeof(title), "%02d:%02d:%02d UTC, last %.1fs", tm.tm_hour, tm.tm_min, tm.tm_sec, secs);
	struct count_view v = { .title = title, .secs = secs, .by_delta = true, .top = c->o->top };
	if (c->o->refresh)
		fputs("\033[H\033[J", stdout);	/* top-like: the table in place */
	else
		fputc('\n', stdout);
	count_print_table(&c->t, &v, stdout);
}

int trace_count_loop(struct trace_bpf *skel, const struct count_opts *o, volatile sig_atomic_t *stop)
{
	struct counter c = { .o = o, .skel = skel };
	uint64_t start = now_ns(CLOCK_MONOTONIC), last = start;
	uint64_t interval_ns = o->interval_ms * 1000000u, next = start + interval_ns;
	int ret = 0;

	c.ncpus = libbpf_num_possible_cpus();
	if (c.ncpus <= 0 || !(c.vals = calloc(c.ncpus, sizeof(*c.vals))) ||
	    !(c.slots = calloc(c.ncpus, sizeof(*c.slots))))
		die(EXIT_FAIL, "cannot size the per-CPU counts: %s", strerror(c.ncpus < 0 ? -c.ncpus : ENOMEM));
	for (;;) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		bool done = *stop || (o->duration_ms && now - start >= o->duration_ms * 1000000u);
		if (done)
			break;
		if (now >= next) {
			if (read_counts(&c)) {
				warnx("out of memory reading the counts");
				ret = -1;
				break;
			}
			print_interval(&c, (now - last) / 1e9);
			if (fflush(stdout) == EOF && errno == EPIPE)
				break;
			count_table_tick(&c.t);
			last = now;
			while (next <= now)
				next += interval_ns;
		}
		uint64_t until = next;
		if (o->duration_ms && start + o->duration_ms * 1000000u < until)
			until = start + o->duration_ms * 1000000u;
		poll(NULL, 0, until > now ? (int)((until - now + 999999) / 1000000) : 0);	/* a signal ends it */
	}
	/* detached first: what is read now is the whole count */
	trace_bpf__detach(skel);
	uint64_t end = now_ns(CLOCK_MONOTONIC);
	if (!read_counts(&c)) {
		char ts[40];
		uint64_t missed = trace_recursion_misses(skel);
		format_rfc3339(now_ns(CLOCK_REALTIME), ts, sizeof(ts));
		if (o->json) {
			if (c.t.delta || c.t.unkeyed_delta)	/* the last part-interval: deltas sum to the totals */
				count_print_json(&c.t, ts, (end - last) / 1e9, false, 0, stdout);
			count_print_json(&c.t, ts, (end - start) / 1e9, true, missed, stdout);
		} else {
			char title[64];
			snprintf(title, sizeof(title), "totals over %.1fs", (end - start) / 1e9);
			struct count_view v = { .title = title, .secs = (end - start) / 1e9, .top = o->top };
			fputc('\n', stdout);
			count_print_table(&c.t, &v, stdout);
		}
		fflush(stdout);
		fprintf(stderr,
			"%s: %.1fs, %llu events counted in the kernel, %zu keys; exact: no ring buffer, 0 lost",
			applet_name, (end - start) / 1e9, (unsigned long long)c.t.total, c.nseen);
		if (c.t.unkeyed_total)
			fprintf(stderr, "; %llu of them under no key (the key table of %d was full)",
				(unsigned long long)c.t.unkeyed_total, TRACE_COUNT_KEYS);
		if (missed)
			fprintf(stderr, "; %llu events not counted: the kernel skipped the program (it fired "
				"inside itself on one CPU)", (unsigned long long)missed);
		fputc('\n', stderr);
	} else {
		warnx("out of memory reading the counts");
		ret = -1;
	}
	count_table_free(&c.t);
	free(c.seen);
	free(c.vals);
	free(c.slots);
	return ret;
}

/*
 * retina trace: the eBPF network-problem tracer (what `kubectl retina
 * bpftrace` runs on a node). Five BTF tracepoints (bpf/trace.bpf.c), filters
 * applied in the kernel, reason names from the running kernel's BTF.
 * Pure logic (names, filters, formatting) lives in trace_rules.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter/nf_tables.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "applets/applets.h"
#include "applets/trace/trace.h"
#include "applets/trace/trace_count.h"
#include "applets/trace/trace_io.h"
#include "applets/trace/trace_opts.h"
#include "applets/trace/trace_pods.h"
#include "bpf/trace.skel.h"
#include "lib/base64.h"
#include "lib/caps.h"
#include "lib/libbpf_log.h"
#include "lib/proc.h"
#include "lib/retina.h"
#include "lib/sys.h"

/* How long an event may wait in the ring buffer below the wake threshold. */
#define POLL_MS 25
#define BUSY_POLL_MS 2
#define BUSY_EVENTS 64

static bool verbose;

/* --stack-rate's walks per second per site, or STACK_EVERY. */
static uint32_t stack_rate(const struct trace_opts *o)
{
	return o->f.stack_rate ? o->f.stack_rate : TRACE_STACK_RATE;
}

/*
 * libbpf parses the kernel's BTF again to load the programs (1.1 cannot be
 * given one). The link wraps its btf__load_vmlinux_btf (-Wl,--wrap in the
 * Makefile): a parse handed over here is taken instead, once, and libbpf
 * frees it after loading. Anything else gets a parse of its own.
 */
static struct btf *vmlinux_handoff;
struct btf *__real_btf__load_vmlinux_btf(void);
struct btf *__wrap_btf__load_vmlinux_btf(void);

struct btf *__wrap_btf__load_vmlinux_btf(void)
{
	struct btf *btf = vmlinux_handoff;

	vmlinux_handoff = NULL;
	return btf ? btf : __real_btf__load_vmlinux_btf();
}

/* What one pass over the kernel's BTF tells. */
struct btf_facts {
	bool drop_enum, rst_enum;	/* the reason arguments exist with their enums */
	bool rdonly_cast;		/* the kfunc bpf_rdonly_cast (6.2+) */
	unsigned tracepoints;		/* bit per enum trace_type: btf_trace_NAME exists */
};

/*
 * Feed every enum of btf that names drop or RST reasons (ids from first),
 * and note the tracepoints it has: one pass over the types, not one per name.
 */
static int scan_btf(const struct btf *btf, __u32 first, struct reason_table *drop, struct reason_table *rst,
		    struct btf_facts *facts)
{
	__u32 n = btf__type_cnt(btf);

	for (__u32 id = first; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		bool is_enum = btf_is_any_enum(t);
		if (btf_is_func(t)) {
			if (!facts->rdonly_cast && first == 1 &&
			    !strcmp(btf__name_by_offset(btf, t->name_off), "bpf_rdonly_cast"))
				facts->rdonly_cast = true;
			continue;
		}
		if (!is_enum && !btf_is_typedef(t))
			continue;
		const char *ename = btf__name_by_offset(btf, t->name_off);
		if (!ename || !*ename)
			continue;
		if (!is_enum) {
			if (!strncmp(ename, "btf_trace_", 10))
				for (int tt = 0; tt < TT_COUNT; tt++)
					if (!strcmp(ename + 10, trace_tp_names[tt]))
						facts->tracepoints |= 1u << tt;
			continue;
		}
		bool is_rst = !strcmp(ename, "sk_rst_reason");
		if (!is_rst && !strstr(ename, "drop_reason"))
			continue;
		facts->rst_enum |= is_rst;
		facts->drop_enum |= !strcmp(ename, "skb_drop_reason");
		struct reason_table *tab = is_rst ? rst : drop;
		for (int i = 0; i < btf_vlen(t); i++) {
			const char *name;
			int64_t value;

			if (btf_is_enum(t)) {
				const struct btf_enum *e = btf_enum(t) + i;
				name = btf__name_by_offset(btf, e->name_off);
				value = btf_kflag(t) ? (int64_t)e->val : (int64_t)(uint32_t)e->val;
			} else {
				const struct btf_enum64 *e = btf_enum64(t) + i;
				name = btf__name_by_offset(btf, e->name_off);
				value = (int64_t)btf_enum64_value(e);
			}
			if (name && reason_add(tab, ename, name, value) < 0)
				return -1;
		}
	}
	return 0;
}

/*
 * The kernel's reasons, and (6.4+) those of drop-reason subsystems whose
 * module is loaded: their enums live in the module's BTF, not in vmlinux's.
 */
static int read_btf(const struct btf *btf, struct reason_table *drop, struct reason_table *rst,
		    struct btf_facts *facts)
{
	if (scan_btf(btf, 1, drop, rst, facts))
		return -1;
	for (size_t i = 0; i < drop->nsubsys; i++) {
		char mod[64], path[96];
		bool seen = false;

		subsys_module(drop->subsys[i].name, mod, sizeof(mod));
		for (size_t j = 0; j < i; j++) {
			char other[64];
			seen |= !strcmp(subsys_module(drop->subsys[j].name, other, sizeof(other)), mod);
		}
		snprintf(path, sizeof(path), "/sys/kernel/btf/%s", mod);
		if (seen || access(path, R_OK))
			continue;
		struct btf *mb = btf__parse_split(path, (struct btf *)btf);
		if (!mb)
			continue;
		struct btf_facts ignored = { 0 };
		int err = scan_btf(mb, btf__type_cnt(btf), drop, rst, &ignored);
		btf__free(mb);
		if (err)
			return -1;
	}
	return 0;
}

static int cmp_reason(const void *a, const void *b)
{
	const struct reason_entry *x = a, *y = b;
	return x->code < y->code ? -1 : x->code > y->code;
}

/* What the bpf() refusal most likely means here, and the flag that fixes it. */
static void explain_eperm(const char *what)
{
	struct proc_status st;
	uint64_t eff, need;
	char miss[256];
	struct utsname u;
	int major = 0, minor = 0;

	proc_self_status(&st);
	eff = st.cap_eff;
	if (!uname(&u))
		sscanf(u.release, "%d.%d", &major, &minor);
	/* BPF and PERFMON exist since 5.8; before, only SYS_ADMIN would do. */
	bool split = major > 5 || (major == 5 && minor >= 8);
	need = split ? CAPBIT(CAPN_BPF) | CAPBIT(CAPN_PERFMON) : CAPBIT(CAPN_SYS_ADMIN);
	if (eff & CAPBIT(CAPN_SYS_ADMIN))
		need = 0;
	need &= ~eff;
	if (need) {
		caps_format(need, miss, sizeof(miss));
		die(EXIT_FAIL,
		    "%s: permission denied (EPERM): this process lacks the %s capabilit%s; "
		    "start the debug pod with: kubectl retina shell --capabilities %s NODE",
		    what, miss, strchr(miss, ',') ? "ies" : "y", miss);
	}
	die(EXIT_FAIL,
	    "%s: permission denied (EPERM) although this process has %s: a seccomp profile or an LSM "
	    "refuses bpf(); try kubectl retina shell --seccomp-unconfined --apparmor-unconfined, and run "
	    "'retina capcheck trace'",
	    what, eff & CAPBIT(CAPN_SYS_ADMIN) ? "SYS_ADMIN" : split ? "BPF and PERFMON" : "SYS_ADMIN");
}

/* Resolve --reason names against this kernel's enum into the BPF config. */
static void resolve_reasons(const struct trace_opts *o, const struct reason_table *drop, struct trace_bpf *skel)
{
	char *list, *save = NULL;
	unsigned n = 0;

	if (!o->f.reasons[0])
		return;
	if (!drop->n)
		die(EXIT_USAGE, "--reason: this kernel gives kfree_skb no drop reasons (5.17+); each DROP names "
				"its location instead: filter with --ip/--cidr/--port");
	list = strdup(o->f.reasons);
	if (!list)
		die(EXIT_FAIL, "out of memory");
	for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		int64_t code = reason_code(drop, name);
		if (code < 0)
			usage_error("unknown drop reason '%s' on this kernel; 'retina trace --list-reasons' lists them",
				    name);
		if (n == TRACE_MAX_REASONS)
			usage_error("too many --reason names (at most %d)", TRACE_MAX_REASONS);
		skel->rodata->reasons[n++] = code;
	}
	if (!n)
		usage_error("--reason needs at least one name");
	skel->rodata->n_reasons = n;
	free(list);
}

struct run {
	const struct trace_opts *o;
	struct trace_names names;
	struct trace_counts counts;
	uint64_t wall_offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t delivered;
	FILE *out;			/* event lines: stdout, or stderr with -w - */
	struct stack_cache *stacks;	/* --stack */
	struct stack_ids *stack_ids;
	struct ksyms ksyms;		/* --stack, DROP locations: loaded at most once */
	bool ksyms_tried;
	uint64_t not_drops;		/* before 5.17: kfree_skb of handled packets, hidden */
	struct trace_batch_state *staged;	/* per CPU, as read_staged last read them */
	int ncpu;
	long stranded;			/* staged events no flush could send at exit; -1: unknown */
	uint64_t stacks_reused;		/* --stack-rate: events that carry their site's earlier walk */
	struct pcap_out pcap;		/* -w */
	struct nft_mon *nft;		/* --nft */
	uint32_t netfilter_drop;	/* the code of NETFILTER_DROP; ~0 unknown */
	struct trace_pods *pods;	/* --pods */
	/* the run's kernel side */
	struct reason_table drop, rst;	/* the kernel's reasons (names points at them) */
	struct btf_facts facts;
	struct trace_bpf *skel;
	char attached[128];		/* "DROP,RST_SENT": the types attached */
	uint64_t t0, start;		/* CLOCK_MONOTONIC ns: at the start, and once attached */
};

static int on_event(void *ctx, void *data, size_t size);

/* Staged events sent together (trace_event.h): a header event, then its reason's count of them. */
static int on_batch(void *ctx, const struct trace_batch *b, size_t size)
{
	for (uint32_t i = 0; i < b->hdr.reason && i < (size - sizeof(b->hdr)) / sizeof(b->ev[0]); i++)
		if (on_event(ctx, (void *)&b->ev[i], sizeof(b->ev[i])))
			return -1;
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct run *r = ctx;
	const struct trace_event *e = data;
	const struct trace_extra *x = NULL;
	const struct stack_entry *st = NULL;
	char line[1024];

	if (size < sizeof(*e))
		return 0;
	if (e->type == TT_BATCH)
		return on_batch(ctx, data, size);
	if (size >= offsetof(struct trace_record, x.pkt))
		x = &((const struct trace_record *)data)->x;
	/* Symbols only once a drop needs them: a trace that sees none never reads kallsyms. */
	if (e->type == TT_DROP && e->location && !r->ksyms_tried) {
		r->ksyms_tried = true;
		if (load_kallsyms(&r->ksyms, "DROP locations show"))
			r->names.ksyms = &r->ksyms;
	}
	if (e->type == TT_DROP && !r->names.drop->n && !r->o->f.all_reasons && r->names.ksyms) {
		char lbuf[128];
		const char *loc = event_location(&r->names, e, lbuf, sizeof(lbuf));
		if (loc && location_not_a_drop(loc)) {
			r->not_drops++;
			return 0;
		}
	}
	r->delivered++;
	counts_add(&r->counts, e);
	if (x && (x->flags & TX_STACK) && r->stacks)
		st = stack_by_id(r->stack_ids, r->stacks, x->stack_id);
	bool reused = st && x && (x->flags & TX_STACK_REUSED);
	r->stacks_reused += reused;
	const struct nft_trace *rule = NULL;
	char rbuf[192];
	if (r->nft && e->type == TT_DROP && e->reason == r->netfilter_drop && e->netns == r->nft->netns)
		rule = nft_lookup(r->nft, e);
	if (r->o->json) {
		format_json(&r->names, e, e->ts_ns + r->wall_offset_ns, line, sizeof(line));
		line[strlen(line) - 1] = '\0';	/* the closing brace: more fields may follow */
		fputs(line, r->out);
		const char *pod = r->pods ? trace_pods_name(r->pods, e->netns) : NULL;
		if (pod)
			fprintf(r->out, ",\"pod\":\"%s\"", pod);
		if (rule) {
			fprintf(r->out, ",\"nft\":{\"family\":\"%s\",\"table\":\"%s\",\"chain\":\"%s\",",
				nft_family_name(rule->nfproto), rule->table, rule->chain);
			if (rule->table_handle && rule->chain_handle)
				fprintf(r->out, "\"table_handle\":%llu,\"chain_handle\":%llu,",
					(unsigned long long)rule->table_handle, (unsigned long long)rule->chain_handle);
			if (rule->has_handle && rule->type != NFT_TRACETYPE_POLICY)
				fprintf(r->out, "\"handle\":%llu,\"verdict\":\"drop\"}", (unsigned long long)rule->handle);
			else
				fputs("\"policy\":\"drop\"}", r->out);
		}
		if (x && (x->flags & TX_STACK))
			fprintf(r->out, ",\"stack\":%s", st ? st->json : "[]");
		if (st && st->cut)	/* the walk reached --stack-depth: there may be more */
			fprintf(r->out, ",\"stack_cut\":%u", st->nframes);
		if (reused)
			fputs(",\"stack_reused\":true", r->out);
		/* last, so a reader can cut it off the line as it is (kubectl_bpftrace.h) */
		if (r->o->emit_packets && x && (x->flags & TX_PKT)) {
			char b64[BASE64_LEN(TRACE_SNAPLEN_MAX) + 1];
			uint32_t cap = x->caplen;
			if (cap > size - offsetof(struct trace_record, x.pkt))
				cap = size - offsetof(struct trace_record, x.pkt);
			if (cap > TRACE_SNAPLEN_MAX)
				cap = TRACE_SNAPLEN_MAX;
			base64_encode_to(b64, x->pkt, cap);
			fprintf(r->out, ",\"packet_len\":%u,\"packet\":\"%s\"", x->pktlen, b64);
		}
		fputs("}\n", r->out);
	} else {
		format_row(&r->names, e, e->ts_ns + r->wall_offset_ns, line, sizeof(line));
		fputs(line, r->out);
		const char *pod = r->pods ? trace_pods_name(r->pods, e->netns) : NULL;
		if (pod)
			fprintf(r->out, "\n    pod: %s", pod);
		if (rule)
			fprintf(r->out, "\n    nft: %s", nft_trace_format(rule, rbuf, sizeof(rbuf)));
		if (st)
			fputs(st->text, r->out);
		if (reused)
			fputs(STACK_REUSED_LINE, r->out);
		fputc('\n', r->out);
	}
	if (x && (x->flags & TX_PKT) && r->pcap.f) {
		uint32_t cap = x->caplen;
		if (cap > size - offsetof(struct trace_record, x.pkt))
			cap = size - offsetof(struct trace_record, x.pkt);
		pcap_write(&r->pcap, &r->names, e, e->ts_ns + r->wall_offset_ns, x->pkt, cap, x->pktlen);
	}
	return 0;
}

/*
 * --stats-interval: what was delivered and lost so far, as a JSON line in
 * the event stream. A reader of our log (kubectl retina bpftrace) has our
 * counts even when the pod is deleted before our exit summary reaches it.
 */
static void print_stats(const struct run *r, const struct trace_bpf *skel, uint64_t wall_ns, bool final)
{
	uint64_t lost = 0;
	char ts[40];

	for (int t = 0; t < TT_COUNT; t++)
		lost += skel->bss->lost[t];
	fprintf(r->out, "{\"type\":\"STATS\",\"ts\":\"%s\",\"events\":%llu,\"lost\":%llu,\"lost_by_type\":{",
		format_rfc3339(wall_ns, ts, sizeof(ts)), (unsigned long long)r->delivered, (unsigned long long)lost);
	for (int t = 0, n = 0; t < TT_COUNT; t++)
		if (skel->bss->lost[t])
			fprintf(r->out, "%s\"%s\":%llu", n++ ? "," : "", trace_type_names[t],
				(unsigned long long)skel->bss->lost[t]);
	fprintf(r->out, "},\"final\":%s}\n", final ? "true" : "false");
}

static void print_summary(const struct run *r, const struct trace_bpf *skel, double secs)
{
	uint64_t lost = 0;
	char rbuf[64];

	for (int t = 0; t < TT_COUNT; t++)
		lost += skel->bss->lost[t];
	fprintf(stderr, "%s: %.1fs, %llu events, %llu lost (ring buffer full)\n", applet_name, secs,
		(unsigned long long)r->delivered, (unsigned long long)lost);
	for (int t = 0; t < TT_COUNT; t++) {
		if (!r->counts.per_type[t] && !skel->bss->lost[t])
			continue;
		fprintf(stderr, "  %-9s %llu", trace_type_names[t], (unsigned long long)r->counts.per_type[t]);
		if (skel->bss->lost[t])
			fprintf(stderr, " (+%llu lost)", (unsigned long long)skel->bss->lost[t]);
		fputc('\n', stderr);
		for (size_t i = 0; i < r->counts.nreasons; i++) {
			if (r->counts.per_reason[i].type != t)
				continue;
			struct trace_event e = { .type = t, .reason = r->counts.per_reason[i].reason };
			fprintf(stderr, "    %-28s %llu\n", event_reason(&r->names, &e, rbuf, sizeof(rbuf)),
				(unsigned long long)r->counts.per_reason[i].n);
		}
	}
	uint64_t missed = trace_recursion_misses(skel);
	if (missed)
		fprintf(stderr, "  %llu events missed by the kernel (a program of ours was already running on "
			"that CPU)\n", (unsigned long long)missed);
	if (r->stranded > 0)
		fprintf(stderr, "  %ld events still staged on a CPU at exit, not shown (the flush program never "
			"found its batch free)\n", r->stranded);
	else if (r->stranded < 0)
		fputs("  events staged at exit may be missing (the batch map could not be read)\n", stderr);
	if (r->not_drops)
		fprintf(stderr, "  %llu kfree_skb of handled packets hidden (icmpv6_rcv, ip6_mc_input; "
			"--all-reasons shows them)\n", (unsigned long long)r->not_drops);
	if (r->counts.overflow)
		fprintf(stderr, "  (%llu events of further reasons not itemized)\n",
			(unsigned long long)r->counts.overflow);
	if (r->stacks) {
		fprintf(stderr, "  %llu distinct stacks symbolised\n", (unsigned long long)r->stacks->misses);
		if (r->stacks_reused)
			fprintf(stderr, "  %llu events carry the stack their site walked less than 1/%u s before "
				"(--stack-rate %u; 0 walks every event)\n", (unsigned long long)r->stacks_reused,
				stack_rate(r->o), stack_rate(r->o));
		if (r->stack_ids->missing)
			fprintf(stderr, "  %llu events without their stack (the kernel gave none, or the stack map "
				"had no slot for it)\n", (unsigned long long)r->stack_ids->missing);
	}
	if (r->pcap.f)
		fprintf(stderr, "  %llu packets written to %s\n", (unsigned long long)r->pcap.packets, r->pcap.name);
	if (r->nft) {
		fprintf(stderr, "  nft: %llu netfilter drops named by their rule, %llu not",
			(unsigned long long)r->nft->named, (unsigned long long)r->nft->unnamed);
		if (r->nft->overruns)
			fprintf(stderr, " (the kernel dropped trace messages %llu times: socket buffer full)",
				(unsigned long long)r->nft->overruns);
		fputc('\n', stderr);
	}
}

static struct bpf_program *prog_of(struct trace_bpf *skel, int type)
{
	switch (type) {
	case TT_DROP: return skel->progs.trace_kfree_skb;
	case TT_RST_SENT: return skel->progs.trace_tcp_send_reset;
	case TT_RST_RECV: return skel->progs.trace_tcp_receive_reset;
	case TT_SOCK_ERR: return skel->progs.trace_inet_sk_error_report;
	case TT_RETRANS: return skel->progs.trace_tcp_retransmit_skb;
	}
	return NULL;
}

/* A test pretending this kernel lacks name (a tracepoint or kfunc): RETINA_TRACE_MISSING=a,b. */
static bool tracepoint_pretends_missing(const char *name)
{
	const char *pretend = getenv("RETINA_TRACE_MISSING");
	size_t n = strlen(name);

	for (const char *p = pretend; p && (p = strstr(p, name)); p += n)
		if ((p == pretend || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/* A tracepoint this kernel lacks (or a test pretending so): RETINA_TRACE_MISSING=a,b. */
static bool tracepoint_exists(const struct btf_facts *facts, int type)
{
	return !tracepoint_pretends_missing(trace_tp_names[type]) && (facts->tracepoints & (1u << type));
}

/* The run's kernel side and what the loop kept, freed. */
static void run_free(struct run *r)
{
	trace_bpf__destroy(r->skel);
	reason_free(&r->drop);
	reason_free(&r->rst);
	if (r->stacks)
		stack_cache_free(r->stacks);
	free(r->stacks);
	if (r->stack_ids)
		stack_ids_free(r->stack_ids);
	free(r->stack_ids);
	ksyms_free(&r->ksyms);
	free(r->staged);
	trace_pods_free(r->pods);
}

/* --count, once attached: the loop is trace_count.c's. */
static int count_main(const struct trace_opts *o, struct run *r)
{
	struct count_opts co = { .names = &r->names, .interval_ms = o->f.interval_ms, .duration_ms = o->duration_ms,
				 .top = o->top, .json = o->json, .refresh = !o->json && isatty(STDOUT_FILENO) };

	/* drop locations are kernel text addresses: named from kallsyms (raw when hidden, said once) */
	if (o->f.types & (1u << TT_DROP))
		co.ksyms = r->names.ksyms = load_kallsyms(&r->ksyms, "DROP locations show") ? &r->ksyms : NULL;
	fprintf(stderr, "%s: attached %s in %.0f ms (%u ip/cidr, %u port filters in the kernel); counting in the "
		"kernel, every %.3gs; %s\n", applet_name, r->attached, (now_ns(CLOCK_MONOTONIC) - r->t0) / 1e6,
		o->f.nnets, o->f.nports, o->f.interval_ms / 1e3,
		o->duration_ms ? "stops after --duration" : "Ctrl-C to stop");
	int err = trace_count_loop(r->skel, &co, &stop_signal);
	run_free(r);
	return err ? EXIT_FAIL : EXIT_OK;
}

/* The kernel's BTF, with its reasons and tracepoints read into r. */
static struct btf *read_kernel(struct run *r)
{
	struct btf *btf = btf__load_vmlinux_btf();

	if (!btf) {
		int why = access("/sys/kernel/btf/vmlinux", R_OK) ? errno : EINVAL;
		if (why == ENOENT)
			die(EXIT_FAIL, "this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): retina trace "
				       "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or later)");
		die(EXIT_FAIL, "cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): %s", strerror(why));
	}
	if (read_btf(btf, &r->drop, &r->rst, &r->facts))
		die(EXIT_FAIL, "out of memory");
	return btf;
}

/* --list-reasons */
static int list_reasons(struct reason_table *drop)
{
	if (!drop->n)
		die(EXIT_FAIL, "this kernel has no drop reasons (enum skb_drop_reason came in 5.17): each DROP "
			       "names the kernel function that freed the packet (location) instead");
	qsort(drop->v, drop->n, sizeof(*drop->v), cmp_reason);
	for (size_t i = 0; i < drop->n; i++)
		printf("%u=%s\n", drop->v[i].code, drop->v[i].name);
	return EXIT_OK;
}

static uint32_t stack_depth(const struct trace_opts *o)
{
	return o->f.stack_depth ? o->f.stack_depth : TRACE_STACK_DEPTH;
}

/* The BPF object for o: filters in its read-only data, each map at its least. */
static void configure(const struct trace_opts *o, struct run *r)
{
	struct trace_bpf *skel = r->skel;
	int64_t code;

	resolve_reasons(o, &r->drop, skel);
	memcpy((void *)skel->rodata->nets, o->f.nets, sizeof(o->f.nets));
	skel->rodata->n_nets = o->f.nnets;
	memcpy((void *)skel->rodata->ports, o->f.ports, sizeof(o->f.ports));
	skel->rodata->n_ports = o->f.nports;
	skel->rodata->all_reasons = o->f.all_reasons;
	skel->rodata->has_drop_reason = r->facts.drop_enum;
	if (!r->facts.drop_enum && (o->f.types & (1u << TT_DROP)))
		warnx("this kernel gives kfree_skb no drop reason (5.17+): each DROP names where the packet "
		      "was freed instead (location), IP packets only, handled ones hidden unless --all-reasons");
	skel->rodata->has_rst_reason = r->facts.rst_enum;
	/* RETINA_TRACE_MISSING=bpf_rdonly_cast: a test (or bench) takes the 5.10-6.1 path here */
	skel->rodata->has_rdonly_cast = r->facts.rdonly_cast && !tracepoint_pretends_missing("bpf_rdonly_cast");
	skel->rodata->stack_types = o->f.stack_types & o->f.types;
	skel->rodata->count_mode = o->f.count;
	/* RETINA_TRACE_MISSING=batching: each event straight to the ring (a test or bench compares) */
	skel->rodata->batching = !o->f.count && !(o->f.stack_types & o->f.types) && !o->f.packets &&
				 !tracepoint_pretends_missing("batching");
	bpf_program__set_autoload(skel->progs.flush_staged, skel->rodata->batching);
	/* counting needs no ring buffer, the other way no key table: each at its least */
	if (o->f.count)
		bpf_map__set_max_entries(skel->maps.events, sysconf(_SC_PAGESIZE));
	else {
		bpf_map__set_max_entries(skel->maps.counts, 1);
		bpf_map__set_max_entries(skel->maps.count_slots, 1);
	}
	if (!(o->f.stack_types & o->f.types)) {
		bpf_map__set_max_entries(skel->maps.stacks, 1);
		bpf_map__set_max_entries(skel->maps.stack_sites, 1);
	} else if (stack_rate(o) != STACK_EVERY) {
		skel->rodata->stack_gap_ns = 1000000000ull / stack_rate(o);
	}
	/* the kernel walks as many frames as a stack holds */
	bpf_map__set_value_size(skel->maps.stacks, stack_depth(o) * sizeof(__u64));
	/* records with a packet are up to 10x longer: a bigger ring holds the same burst (a stack is an id) */
	if (o->f.packets) {
		skel->rodata->snaplen = o->f.snaplen;
		bpf_map__set_max_entries(skel->maps.events, 8 << 20);
	}
	skel->rodata->wake_avail = bpf_map__max_entries(skel->maps.events) / 4;
	if ((code = reason_code(&r->drop, "NOT_DROPPED_YET")) >= 0)
		skel->rodata->reason_not_dropped = code;
	if ((code = reason_code(&r->drop, "CONSUMED")) >= 0)
		skel->rodata->reason_consumed = code;
	if ((code = reason_code(&r->drop, "NOT_SPECIFIED")) >= 0)
		skel->rodata->reason_not_specified = code;
	r->netfilter_drop = (code = reason_code(&r->drop, "NETFILTER_DROP")) >= 0 ? code : ~0u;
}

/* Load the programs of the types asked for that this kernel has; their bits. */
static unsigned load(const struct trace_opts *o, struct run *r, struct btf *btf)
{
	unsigned active = 0;
	int err;

	for (int t = 0; t < TT_COUNT; t++) {
		bool want = o->f.types & (1u << t);
		if (want && !tracepoint_exists(&r->facts, t)) {
			warnx("this kernel has no tracepoint %s: %s events are disabled", trace_tp_names[t],
			      trace_type_names[t]);
			want = false;
		}
		bpf_program__set_autoload(prog_of(r->skel, t), want);
		active |= want ? 1u << t : 0;
	}
	if (!active)
		die(EXIT_FAIL, "none of the requested tracepoints exists on this kernel: nothing to trace");

	vmlinux_handoff = btf;	/* libbpf's now: it frees it after loading */
	err = trace_bpf__load(r->skel);
	btf__free(vmlinux_handoff);	/* not taken (a libbpf that does not call it) */
	vmlinux_handoff = NULL;
	if (err == -EPERM || err == -EACCES)
		explain_eperm("loading the BPF programs");
	if (err)
		die(EXIT_FAIL, "cannot load the BPF programs: %s (run with -v for libbpf's reasons)", strerror(-err));
	return active;
}

/* Attach the loaded programs; r->attached names them. */
static void attach(struct run *r, unsigned active)
{
	struct trace_bpf *skel = r->skel;
	unsigned attached = 0;

	for (int t = 0; t < TT_COUNT; t++) {
		if (!(active & (1u << t)))
			continue;
		struct bpf_link *link = bpf_program__attach(prog_of(skel, t));
		if (!link) {
			if (errno == EPERM)
				explain_eperm("attaching to the tracepoints");
			warnx("cannot attach to tracepoint %s: %s; %s events are disabled", trace_tp_names[t],
			      strerror(errno), trace_type_names[t]);
			continue;
		}
		/* The skeleton owns the link: destroyed (detached) with it. */
		switch (t) {
		case TT_DROP: skel->links.trace_kfree_skb = link; break;
		case TT_RST_SENT: skel->links.trace_tcp_send_reset = link; break;
		case TT_RST_RECV: skel->links.trace_tcp_receive_reset = link; break;
		case TT_SOCK_ERR: skel->links.trace_inet_sk_error_report = link; break;
		case TT_RETRANS: skel->links.trace_tcp_retransmit_skb = link; break;
		}
		attached |= 1u << t;
		snprintf(r->attached + strlen(r->attached), sizeof(r->attached) - strlen(r->attached), "%s%s",
			 r->attached[0] ? "," : "", trace_type_names[t]);
	}
	if (!attached) {
		trace_bpf__destroy(skel);
		die(EXIT_FAIL, "no tracepoint could be attached: nothing to trace");
	}
}

/* What the event loop needs beside the ring: stacks (--stack), the pcapng file (-w). */
static void open_outputs(const struct trace_opts *o, struct run *r)
{
	if (o->f.stack_types) {
		r->stacks = calloc(1, sizeof(*r->stacks));
		r->stack_ids = calloc(1, sizeof(*r->stack_ids));
		if (!r->stacks || !r->stack_ids)
			die(EXIT_FAIL, "out of memory");
		r->stacks->ksyms = r->names.ksyms = load_kallsyms(&r->ksyms, "--stack shows") ? &r->ksyms : NULL;
		r->ksyms_tried = true;
		r->stack_ids->map_fd = bpf_map__fd(r->skel->maps.stacks);
		r->stacks->depth = stack_depth(o);
	}
	if (o->write_path && pcap_open(&r->pcap, o->write_path, o->f.snaplen)) {
		trace_bpf__destroy(r->skel);
		die(EXIT_FAIL, "cannot write %s: %s", o->write_path, strerror(errno));
	}
	r->start = now_ns(CLOCK_MONOTONIC);
	r->wall_offset_ns = now_ns(CLOCK_REALTIME) - r->start;
	fprintf(stderr, "%s: attached %s in %.0f ms (%u ip/cidr, %u port filters in the kernel); %s\n", applet_name,
		r->attached, (r->start - r->t0) / 1e6, o->f.nnets, o->f.nports,
		o->duration_ms ? "stops after --duration" : "Ctrl-C to stop");
	if (!o->json) {
		char head[512];
		format_header(head, sizeof(head));
		fputs(head, r->out);
		fputc('\n', r->out);
	}
	fflush(r->out);
}

/* Every CPU's batch state into r->staged; how many events wait in all, or -1. */
static long read_staged(struct run *r)
{
	__u32 zero = 0;
	long n = 0;

	if (!r->staged) {
		r->ncpu = libbpf_num_possible_cpus();
		if (r->ncpu <= 0 || !(r->staged = calloc(r->ncpu, sizeof(*r->staged))))
			return -1;
	}
	if (bpf_map__lookup_elem(r->skel->maps.batch_state, &zero, sizeof(zero), r->staged,
				 r->ncpu * sizeof(*r->staged), 0))
		return -1;
	for (int cpu = 0; cpu < r->ncpu; cpu++)
		n += r->staged[cpu].n;
	return n;
}

/*
 * Batching: a CPU's staged events wait for the batch to fill or for that
 * CPU's next event. Those that have waited TRACE_BATCH_NS (all, when
 * everything) are sent by running the flush program on their CPU; it
 * leaves a batch alone while a program of ours is staging there (the next
 * pass gets it).
 */
static void flush_staged(struct run *r, bool everything)
{
	if (!r->skel->rodata->batching || read_staged(r) <= 0)
		return;
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	for (int cpu = 0; cpu < r->ncpu; cpu++) {
		if (!r->staged[cpu].n || (!everything && now - r->staged[cpu].first_ns < TRACE_BATCH_NS))
			continue;
		LIBBPF_OPTS(bpf_test_run_opts, run, .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = cpu);
		bpf_prog_test_run_opts(bpf_program__fd(r->skel->progs.flush_staged), &run);
	}
}

/*
 * The end: programs detached first, so that no event comes after the
 * last flush, then every staged event sent, retried while a program
 * detached just now still runs on some CPU. What stays (it should not)
 * is reported, never silently gone.
 */
static void flush_at_exit(struct run *r)
{
	trace_bpf__detach(r->skel);
	if (!r->skel->rodata->batching)
		return;
	long left = -1;
	for (int tries = 0; tries < 100 && left; tries++) {
		if (tries)
			usleep(1000);
		flush_staged(r, true);
		left = read_staged(r);
	}
	r->stranded = left;
}

/*
 * The BPF side wakes us only when a quarter of the ring is unread; the
 * timeout drains the rest (ring_buffer__poll consumes only rings that
 * woke it, so consume explicitly): events show within POLL_MS, and while
 * they pour in (BUSY_EVENTS a pass) every BUSY_POLL_MS, so that the ring
 * rarely fills to the point of a wakeup: each costs the dropping CPU an
 * interrupt.
 */
static void event_loop(const struct trace_opts *o, struct run *r, struct ring_buffer *rb)
{
	uint64_t next_stats = r->start + o->stats_ms * 1000000u;

	int busy = 0;

	while (!stop_signal) {
		int timeout = busy ? BUSY_POLL_MS : POLL_MS, err, got;
		if (o->stats_ms && now_ns(CLOCK_MONOTONIC) >= next_stats) {
			flush_staged(r, true);
			ring_buffer__consume(rb);	/* the count covers every event before the line */
			print_stats(r, r->skel, now_ns(CLOCK_REALTIME), false);
			next_stats += o->stats_ms * 1000000u;
		}
		if (o->duration_ms) {
			uint64_t elapsed = (now_ns(CLOCK_MONOTONIC) - r->start) / 1000000u;
			if (elapsed >= o->duration_ms)
				break;
			if (o->duration_ms - elapsed < (uint64_t)timeout)
				timeout = o->duration_ms - elapsed;
		}
		flush_staged(r, false);
		err = got = ring_buffer__poll(rb, timeout);
		if (err >= 0)
			got += err = ring_buffer__consume(rb);
		busy = err >= 0 && got >= BUSY_EVENTS;
		if (err < 0 && err != -EINTR) {
			warnx("reading the ring buffer failed: %s", strerror(-err));
			break;
		}
		if (fflush(r->out) == EOF && errno == EPIPE)
			break;
		if (r->pcap.f && pcap_flush(&r->pcap))
			break;
		if (r->nft)
			nft_drain(r->nft);	/* keep the socket buffer from filling */
	}
	flush_at_exit(r);
	ring_buffer__consume(rb);
}

/* After the loop: the last STATS line, the summary, files and tables closed. */
static void report(const struct trace_opts *o, struct run *r)
{
	if (o->stats_ms)
		print_stats(r, r->skel, now_ns(CLOCK_REALTIME), true);
	fflush(r->out);
	print_summary(r, r->skel, (now_ns(CLOCK_MONOTONIC) - r->start) / 1e9);
	if (r->pcap.f)
		pcap_close(&r->pcap);
	if (r->nft)
		nft_stop(r->nft);
}

int trace_main(int argc, char **argv)
{
	static struct nft_mon nft;
	static struct run r;	/* (static: the reason tables inside are pointed at) */
	struct trace_opts o;
	struct ring_buffer *rb;
	struct btf *btf;

	trace_parse_args(argc, argv, &o, &verbose);
	libbpf_messages(verbose);
	r = (struct run){ .o = &o, .names = { &r.drop, &r.rst, NULL } };
	r.out = o.write_path && !strcmp(o.write_path, "-") ? stderr : stdout;
	if (o.pods && !(r.pods = trace_pods_new()))
		die(EXIT_FAIL, "out of memory");
	r.t0 = now_ns(CLOCK_MONOTONIC);
	btf = read_kernel(&r);
	if (o.list_reasons) {
		btf__free(btf);
		return list_reasons(&r.drop);
	}
	r.skel = trace_bpf__open();
	if (!r.skel)
		die(EXIT_FAIL, "cannot open the BPF object: %s", strerror(errno));
	configure(&o, &r);
	unsigned active = load(&o, &r, btf);
	/* The tracing table before attaching: no netfilter drop goes unnamed for want of it. */
	if (o.f.nft) {
		if (r.netfilter_drop == ~0u)
			die(EXIT_FAIL, "--nft: this kernel has no NETFILTER_DROP drop reason (5.17+): netfilter drops "
				       "cannot be told apart");
		nft_start(&nft);
		r.nft = &nft;
	}
	/*
	 * Handlers before attaching: a signal from now on ends the loop, never
	 * the process. SA_RESTART: a write blocked on a slow reader must finish,
	 * since musl's stdio drops its buffer on EINTR (a line cut in two); the
	 * poll still returns at once (epoll_wait is never restarted).
	 * SA_RESETHAND: a second Ctrl-C, when the reader is stuck, quits at once
	 * (programs and links are fd-owned: nothing stays attached).
	 */
	catch_stop_signals(SA_RESTART | SA_RESETHAND, true);
	signal(SIGPIPE, SIG_IGN);
	attach(&r, active);
	if (o.f.count)
		return count_main(&o, &r);
	rb = ring_buffer__new(bpf_map__fd(r.skel->maps.events), on_event, &r, NULL);
	if (!rb) {
		trace_bpf__destroy(r.skel);
		die(EXIT_FAIL, "cannot map the ring buffer: %s", strerror(errno));
	}
	open_outputs(&o, &r);
	event_loop(&o, &r, rb);
	report(&o, &r);
	ring_buffer__free(rb);
	run_free(&r);
	return EXIT_OK;
}

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

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "applets/applets.h"
#include "applets/trace/trace.h"
#include "applets/trace/trace_pods.h"
#include "applets/trace/trace_count.h"
#include "applets/trace/trace_io.h"
#include "bpf/trace.skel.h"
#include "lib/base64.h"
#include "lib/caps.h"
#include "lib/libbpf_log.h"
#include "lib/proc.h"
#include "lib/retina.h"
#include "lib/sys.h"

const char trace_help[] =
	"usage: retina trace [EVENTS] [FILTERS] [-o table|json] [--duration D]\n"
	"                    [--stack[=all]] [-w FILE.pcapng] [--snaplen N]\n"
	"                    [--nft --allow-system-changes] [-o json --emit-packets]\n"
	"       retina trace -c|--count [EVENTS] [FILTERS] [--interval D] [--top N] [-o table|json]\n"
	"       retina trace --list-reasons\n"
	"\n"
	"Trace network problems as the kernel sees them: packet drops with the\n"
	"kernel's reason, TCP resets, socket errors and retransmissions. Filters run\n"
	"in the kernel. Needs BTF and the BPF and PERFMON capabilities (see\n"
	"docs/trace.md); no tracefs, debugfs or kprobes.\n"
	"\n"
	"Events (none given: all):\n"
	"  --drops              DROP: skb:kfree_skb, with the drop reason name\n"
	"  --rst                RST_SENT (tcp:tcp_send_reset), RST_RECV (tcp:tcp_receive_reset)\n"
	"  --errors             SOCK_ERR: sock:inet_sk_error_report, with the errno name\n"
	"  --retransmits        RETRANS: tcp:tcp_retransmit_skb, with the TCP state\n"
	"  --all                all of the above\n"
	"Filters (repeatable; an event matches when its source or destination does):\n"
	"  --ip ADDR            an IPv4 or IPv6 address\n"
	"  --cidr NET           an IPv4 or IPv6 network (10.0.0.0/8, fd00::/8)\n"
	"  --port N             a TCP/UDP port\n"
	"  --reason NAME[,NAME] only these drop reasons (DROP events)\n"
	"  --all-reasons        include NOT_SPECIFIED drops too\n"
	"Output:\n"
	"  -o, --output FORMAT  table (default) or json (one object per line on stdout)\n"
	"  -d, --duration D     stop after D (30s, 5m); 0 (default): until Ctrl-C or SIGTERM\n"
	"  --stats-interval D   with -o json: every D, and once at exit, a line\n"
	"                       {\"type\":\"STATS\",\"events\":N,\"lost\":N,...} (for\n"
	"                       kubectl retina bpftrace, whose summary needs the lost count)\n"
	"  --list-reasons       print this kernel's drop reasons (code=name) and exit\n"
	"Counting (a drop storm: how many, of what, where):\n"
	"  -c, --count          count in the kernel instead of sending each event: by type,\n"
	"                       reason, drop location, network namespace, interface,\n"
	"                       protocol and destination port. Exact at any rate (no ring\n"
	"                       buffer, nothing lost); filters apply as without it\n"
	"  --interval D         print the busiest keys every D (default 1s): count so far and\n"
	"                       rate (a table redrawn in place on a terminal); the totals at the end.\n"
	"                       -o json: a line {\"type\":\"COUNTS\",...,\"keys\":[{...,\"count\":N,\n"
	"                       \"rate\":R}]} per interval with the keys that grew (deltas), and\n"
	"                       one with \"final\":true and the totals\n"
	"  --top N              table rows: the N busiest keys (default 20; 0: all)\n"
	"  -v, --verbose        show libbpf's messages\n"
	"Forensics:\n"
	"  --stack[=all]        the kernel stack of each DROP (=all: of every event),\n"
	"                       symbolised from /proc/kallsyms, under the row / as \"stack\"\n"
	"  -w, --write FILE     write each dropped packet to FILE as pcapng (raw IP, a\n"
	"                       comment with type, reason, probe); - for stdout, then the\n"
	"                       event lines go to stderr\n"
	"  --snaplen N          bytes of each packet from its IP header (default 256, max 1024)\n"
	"  --pods               name each event's pod from the node alone (its network namespace's\n"
	"                       processes, their cgroup's pod UID, the runtime's state): \"pod\"\n"
	"                       in JSON, \"pod: NS/NAME\" under the row (with --host-pid or on the node)\n"
	"  --emit-packets       with -o json: each dropped packet in its event's line, as\n"
	"                       \"packet_len\":N,\"packet\":\"BASE64\" (the first --snaplen bytes\n"
	"                       from the IP header); kubectl retina bpftrace -w merges them\n"
	"  --nft                the nftables rule that dropped each NETFILTER_DROP (table,\n"
	"                       chain, handle), from nftables tracing in this network namespace:\n"
	"                       adds the table inet retina_nftrace while it runs, so it\n"
	"                       needs --allow-system-changes\n"
	"  --allow-system-changes  allow --nft to add (and remove) its tracing table\n"
	"\n"
	"Banner, warnings and the exit summary (counts per type and reason, events\n"
	"lost) go to stderr.\n"
	"\n"
	"Examples:\n"
	"  retina trace                                  everything, until Ctrl-C\n"
	"  retina trace --drops --cidr 10.244.0.0/16     drops to or from the pod network\n"
	"  retina trace --rst --errors --port 443 -d 1m  resets and errors on port 443\n"
	"  retina trace --drops --reason NETFILTER_DROP,NO_SOCKET -o json\n"
	"  retina trace --drops --stack --reason NETFILTER_DROP\n"
	"  retina trace --drops -w - --ip 10.0.0.12 | tshark -r -\n"
	"  retina trace --drops --nft --allow-system-changes\n"
	"  retina trace --count --drops --interval 5s --top 10\n"
	"  retina trace --list-reasons\n";

/* How long an event may wait in the ring buffer below the wake threshold. */
#define POLL_MS 25

static bool verbose;

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

struct opts {
	unsigned types;			/* bit per enum trace_type */
	struct trace_net nets[TRACE_MAX_NETS];
	unsigned nnets;
	uint16_t ports[TRACE_MAX_PORTS];
	unsigned nports;
	char *reasons;			/* --reason, resolved once BTF is read */
	bool all_reasons, list_reasons, json;
	uint64_t duration_ms;
	unsigned stack_types;		/* --stack: bit per enum trace_type */
	const char *write_path;		/* -w */
	uint32_t snaplen;
	bool nft, allow_changes;
	bool emit_packets;		/* --emit-packets: the packet in each DROP's JSON line */
	bool pods;			/* --pods: trace_pods.c */
	uint64_t stats_ms;		/* --stats-interval: STATS lines in JSON */
	bool count;			/* --count */
	uint64_t interval_ms;		/* --interval; 0: not given */
	uint64_t top;
	bool top_given;
};

/* --count sends no event: what needs one does not go with it. */
static void check_count_opts(const struct opts *o)
{
	const char *other = o->stack_types ? "--stack" : o->write_path ? "-w" : o->emit_packets ? "--emit-packets"
			  : o->nft ? "--nft" : o->stats_ms ? "--stats-interval" : NULL;

	if (other)
		usage_error("%s works on each event, --count only counts them in the kernel: use one or the other",
			    other);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_DROPS = 256, O_RST, O_ERRORS, O_RETRANS, O_ALL, O_IP, O_CIDR, O_PORT, O_REASON,
	       O_ALL_REASONS, O_LIST_REASONS, O_STACK, O_SNAPLEN, O_NFT, O_ALLOW_CHANGES, O_STATS,
	       O_EMIT_PACKETS, O_INTERVAL, O_TOP, O_PODS };
	static const struct option longopts[] = {
		{ "drops", no_argument, NULL, O_DROPS },
		{ "rst", no_argument, NULL, O_RST },
		{ "errors", no_argument, NULL, O_ERRORS },
		{ "retransmits", no_argument, NULL, O_RETRANS },
		{ "all", no_argument, NULL, O_ALL },
		{ "ip", required_argument, NULL, O_IP },
		{ "cidr", required_argument, NULL, O_CIDR },
		{ "port", required_argument, NULL, O_PORT },
		{ "reason", required_argument, NULL, O_REASON },
		{ "all-reasons", no_argument, NULL, O_ALL_REASONS },
		{ "list-reasons", no_argument, NULL, O_LIST_REASONS },
		{ "stack", optional_argument, NULL, O_STACK },
		{ "write", required_argument, NULL, 'w' },
		{ "snaplen", required_argument, NULL, O_SNAPLEN },
		{ "nft", no_argument, NULL, O_NFT },
		{ "allow-system-changes", no_argument, NULL, O_ALLOW_CHANGES },
		{ "stats-interval", required_argument, NULL, O_STATS },
		{ "emit-packets", no_argument, NULL, O_EMIT_PACKETS },
		{ "pods", no_argument, NULL, O_PODS },
		{ "count", no_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "top", required_argument, NULL, O_TOP },
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = next_opt(argc, argv, "co:d:w:vh", longopts)) != -1) {
		switch (c) {
		case O_DROPS: o->types |= 1u << TT_DROP; break;
		case O_RST: o->types |= 1u << TT_RST_SENT | 1u << TT_RST_RECV; break;
		case O_ERRORS: o->types |= 1u << TT_SOCK_ERR; break;
		case O_RETRANS: o->types |= 1u << TT_RETRANS; break;
		case O_ALL: o->types |= (1u << TT_COUNT) - 1; break;
		case O_IP:
		case O_CIDR:
			if (o->nnets == TRACE_MAX_NETS)
				usage_error("too many --ip/--cidr filters (at most %d)", TRACE_MAX_NETS);
			if (trace_net_parse(optarg, c == O_CIDR, &o->nets[o->nnets]))
				usage_error(c == O_IP ? "bad --ip '%s': give an IPv4 or IPv6 address (for a network use --cidr)"
						      : "bad --cidr '%s': give a network like 10.0.0.0/8 or fd00::/8",
					    optarg);
			o->nnets++;
			break;
		case O_PORT:
			if (o->nports == TRACE_MAX_PORTS)
				usage_error("too many --port filters (at most %d)", TRACE_MAX_PORTS);
			if (parse_u64(optarg, 1, 65535, &v))
				usage_error("bad --port '%s': give a number from 1 to 65535", optarg);
			o->ports[o->nports++] = v;
			break;
		case O_REASON: o->reasons = optarg; break;
		case O_ALL_REASONS: o->all_reasons = true; break;
		case O_LIST_REASONS: o->list_reasons = true; break;
		case 'o':
			o->json = !strcmp(optarg, "json");	/* the last one given */
			if (!o->json && strcmp(optarg, "table"))
				usage_error("bad output format '%s': use table or json", optarg);
			break;
		case 'd':
			if (parse_duration_ms(optarg, &o->duration_ms))
				usage_error("bad --duration '%s': use e.g. 30s, 5m, 1h, or 0 for until Ctrl-C", optarg);
			break;
		case O_STACK:
			if (!optarg || !strcmp(optarg, "drops"))
				o->stack_types |= 1u << TT_DROP;
			else if (!strcmp(optarg, "all"))
				o->stack_types = (1u << TT_COUNT) - 1;
			else
				usage_error("bad --stack '%s': use --stack (drops) or --stack=all (every event)", optarg);
			break;
		case 'w': o->write_path = optarg; break;
		case O_SNAPLEN:
			if (parse_u64(optarg, 1, TRACE_SNAPLEN_MAX, &v))
				usage_error("bad --snaplen '%s': give a number of bytes from 1 to %d", optarg,
					    TRACE_SNAPLEN_MAX);
			o->snaplen = v;
			break;
		case O_NFT: o->nft = true; break;
		case O_ALLOW_CHANGES: o->allow_changes = true; break;
		case O_EMIT_PACKETS: o->emit_packets = true; break;
		case O_PODS: o->pods = true; break;
		case O_STATS:
			if (parse_duration_ms(optarg, &o->stats_ms) || !o->stats_ms)
				usage_error("bad --stats-interval '%s': a duration like 1s or 500ms", optarg);
			break;
		case 'c': o->count = true; break;
		case O_INTERVAL:
			if (parse_duration_ms(optarg, &o->interval_ms) || o->interval_ms < 10 ||
			    o->interval_ms > 86400000)
				usage_error("bad --interval '%s': a duration from 10ms to 24h, like 1s or 500ms", optarg);
			break;
		case O_TOP:
			if (parse_u64(optarg, 0, 1000000, &o->top))
				usage_error("bad --top '%s': a number of rows (0: all)", optarg);
			o->top_given = true;
			break;
		case 'v': verbose = true; break;
		case 'h': show_help(trace_help);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->types)
		o->types = (1u << TT_COUNT) - 1;
	if (o->stack_types && !(o->stack_types & o->types))
		usage_error("--stack shows the stacks of DROP events: add --drops, or use --stack=all for every event");
	if (o->write_path && !(o->types & (1u << TT_DROP)))
		usage_error("-w writes dropped packets: use it with --drops (or no event flag)");
	if (o->emit_packets && !o->json)
		usage_error("--emit-packets puts each dropped packet in its JSON line: use it with -o json");
	if (o->emit_packets && !(o->types & (1u << TT_DROP)))
		usage_error("--emit-packets carries dropped packets: use it with --drops (or no event flag)");
	if (o->snaplen && !o->write_path && !o->emit_packets)
		usage_error("--snaplen sets how much of each packet -w writes: use it with -w FILE");
	if (o->write_path && !*o->write_path)
		usage_error("-w needs a file name (or - for stdout)");
	if (!o->snaplen)
		o->snaplen = 256;
	if (o->nft && !(o->types & (1u << TT_DROP)))
		usage_error("--nft names the rule of netfilter drops: use it with --drops (or no event flag)");
	if (o->stats_ms && !o->json)
		usage_error("--stats-interval writes JSON lines: use it with -o json");
	if (o->count)
		check_count_opts(o);
	else if (o->interval_ms || o->top_given)
		usage_error("--%s sets how --count prints: use it with --count (-c)", o->interval_ms ? "interval" : "top");
	if (!o->interval_ms)
		o->interval_ms = 1000;
	if (!o->top_given)
		o->top = 20;
	if (o->nft && !o->allow_changes)
		usage_error("--nft changes this system: it adds the nftables table inet %s (nftrace on every packet "
			    "of this network namespace) while it runs; allow that with --allow-system-changes",
			    NFT_TRACE_TABLE);
}

/* Resolve --reason names against this kernel's enum into the BPF config. */
static void resolve_reasons(const struct opts *o, const struct reason_table *drop, struct trace_bpf *skel)
{
	char *list, *save = NULL;
	unsigned n = 0;

	if (!o->reasons)
		return;
	if (!(o->types & (1u << TT_DROP)))
		usage_error("--reason selects drop reasons: use it with --drops (or no event flag)");
	if (!drop->n)
		die(EXIT_USAGE, "--reason: this kernel gives kfree_skb no drop reasons (5.17+); each DROP names "
				"its location instead: filter with --ip/--cidr/--port");
	list = strdup(o->reasons);
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
	const struct opts *o;
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
	struct pcap_out pcap;		/* -w */
	struct nft_mon *nft;		/* --nft */
	uint32_t netfilter_drop;	/* the code of NETFILTER_DROP; ~0 unknown */
	struct trace_pods *pods;	/* --pods */
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct run *r = ctx;
	const struct trace_event *e = data;
	const struct trace_extra *x = NULL;
	const struct stack_entry *st = NULL;
	char line[1024];

	if (size < sizeof(*e))
		return 0;
	if (size >= offsetof(struct trace_record, x.pkt))
		x = &((const struct trace_record *)data)->x;
	/* Symbols only once a drop needs them: a trace that sees none never reads kallsyms. */
	if (e->type == TT_DROP && e->location && !r->ksyms_tried) {
		r->ksyms_tried = true;
		if (load_kallsyms(&r->ksyms, "DROP locations show"))
			r->names.ksyms = &r->ksyms;
	}
	if (e->type == TT_DROP && !r->names.drop->n && !r->o->all_reasons && r->names.ksyms) {
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
	if (r->not_drops)
		fprintf(stderr, "  %llu kfree_skb of handled packets hidden (icmpv6_rcv, ip6_mc_input; "
			"--all-reasons shows them)\n", (unsigned long long)r->not_drops);
	if (r->counts.overflow)
		fprintf(stderr, "  (%llu events of further reasons not itemized)\n",
			(unsigned long long)r->counts.overflow);
	if (r->stacks) {
		fprintf(stderr, "  %llu distinct stacks symbolised\n", (unsigned long long)r->stacks->misses);
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

/* A tracepoint this kernel lacks (or a test pretending so): RETINA_TRACE_MISSING=a,b. */
static bool tracepoint_exists(const struct btf_facts *facts, int type)
{
	const char *pretend = getenv("RETINA_TRACE_MISSING"), *tp = trace_tp_names[type];

	if (pretend) {
		size_t n = strlen(tp);
		for (const char *p = pretend; (p = strstr(p, tp)); p += n)
			if ((p == pretend || p[-1] == ',') && (p[n] == ',' || !p[n]))
				return false;
	}
	return facts->tracepoints & (1u << type);
}

/* --count, once attached: the loop is trace_count.c's. */
static int count_main(const struct opts *o, struct run *r, struct trace_bpf *skel, const char *names, uint64_t t0,
		      struct reason_table *drop, struct reason_table *rst)
{
	struct count_opts co = { .names = &r->names, .interval_ms = o->interval_ms, .duration_ms = o->duration_ms,
				 .top = o->top, .json = o->json, .refresh = !o->json && isatty(STDOUT_FILENO) };

	/* drop locations are kernel text addresses: named from kallsyms (raw when hidden, said once) */
	if (o->types & (1u << TT_DROP))
		co.ksyms = r->names.ksyms = load_kallsyms(&r->ksyms, "DROP locations show") ? &r->ksyms : NULL;
	fprintf(stderr, "%s: attached %s in %.0f ms (%u ip/cidr, %u port filters in the kernel); counting in the "
		"kernel, every %.3gs; %s\n", applet_name, names, (now_ns(CLOCK_MONOTONIC) - t0) / 1e6, o->nnets,
		o->nports, o->interval_ms / 1e3, o->duration_ms ? "stops after --duration" : "Ctrl-C to stop");
	int err = trace_count_loop(skel, &co, &stop_signal);
	trace_bpf__destroy(skel);
	reason_free(drop);
	reason_free(rst);
	ksyms_free(&r->ksyms);
	return err ? EXIT_FAIL : EXIT_OK;
}

int trace_main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct reason_table drop = { 0 }, rst = { 0 };
	struct run r = { .o = &o, .names = { &drop, &rst, NULL } };
	struct ring_buffer *rb = NULL;
	struct trace_bpf *skel;
	struct btf *btf;
	int err;

	parse_opts(argc, argv, &o);
	libbpf_messages(verbose);
	r.out = o.write_path && !strcmp(o.write_path, "-") ? stderr : stdout;
	if (o.pods && !(r.pods = trace_pods_new()))
		die(EXIT_FAIL, "out of memory");

	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		int why = access("/sys/kernel/btf/vmlinux", R_OK) ? errno : EINVAL;
		if (why == ENOENT)
			die(EXIT_FAIL, "this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): retina trace "
				       "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or later)");
		die(EXIT_FAIL, "cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): %s", strerror(why));
	}
	struct btf_facts facts = { 0 };
	if (read_btf(btf, &drop, &rst, &facts))
		die(EXIT_FAIL, "out of memory");
	if (o.list_reasons) {
		if (!drop.n)
			die(EXIT_FAIL, "this kernel has no drop reasons (enum skb_drop_reason came in 5.17): each DROP "
				       "names the kernel function that freed the packet (location) instead");
		qsort(drop.v, drop.n, sizeof(*drop.v), cmp_reason);
		for (size_t i = 0; i < drop.n; i++)
			printf("%u=%s\n", drop.v[i].code, drop.v[i].name);
		btf__free(btf);
		return EXIT_OK;
	}

	skel = trace_bpf__open();
	if (!skel)
		die(EXIT_FAIL, "cannot open the BPF object: %s", strerror(errno));
	resolve_reasons(&o, &drop, skel);
	memcpy((void *)skel->rodata->nets, o.nets, sizeof(o.nets));
	skel->rodata->n_nets = o.nnets;
	memcpy((void *)skel->rodata->ports, o.ports, sizeof(o.ports));
	skel->rodata->n_ports = o.nports;
	skel->rodata->all_reasons = o.all_reasons;
	skel->rodata->has_drop_reason = facts.drop_enum;
	if (!facts.drop_enum && (o.types & (1u << TT_DROP)))
		warnx("this kernel gives kfree_skb no drop reason (5.17+): each DROP names where the packet "
		      "was freed instead (location), IP packets only, handled ones hidden unless --all-reasons");
	skel->rodata->has_rst_reason = facts.rst_enum;
	skel->rodata->stack_types = o.stack_types & o.types;
	skel->rodata->count_mode = o.count;
	/* counting needs no ring buffer, the other way no key table: each at its least */
	if (o.count)
		bpf_map__set_max_entries(skel->maps.events, sysconf(_SC_PAGESIZE));
	else
		bpf_map__set_max_entries(skel->maps.counts, 1);
	if (!(o.stack_types & o.types))
		bpf_map__set_max_entries(skel->maps.stacks, 1);
	if (o.write_path || o.emit_packets)
		skel->rodata->snaplen = o.snaplen;
	/* records with a packet are up to 10x longer: a bigger ring holds the same burst (a stack is an id) */
	if (o.write_path || o.emit_packets)
		bpf_map__set_max_entries(skel->maps.events, 8 << 20);
	int64_t code;
	if ((code = reason_code(&drop, "NOT_DROPPED_YET")) >= 0)
		skel->rodata->reason_not_dropped = code;
	if ((code = reason_code(&drop, "CONSUMED")) >= 0)
		skel->rodata->reason_consumed = code;
	if ((code = reason_code(&drop, "NOT_SPECIFIED")) >= 0)
		skel->rodata->reason_not_specified = code;
	r.netfilter_drop = (code = reason_code(&drop, "NETFILTER_DROP")) >= 0 ? code : ~0u;

	unsigned active = 0;
	for (int t = 0; t < TT_COUNT; t++) {
		bool want = o.types & (1u << t);
		if (want && !tracepoint_exists(&facts, t)) {
			warnx("this kernel has no tracepoint %s: %s events are disabled", trace_tp_names[t],
			      trace_type_names[t]);
			want = false;
		}
		bpf_program__set_autoload(prog_of(skel, t), want);
		active |= want ? 1u << t : 0;
	}
	if (!active)
		die(EXIT_FAIL, "none of the requested tracepoints exists on this kernel: nothing to trace");

	vmlinux_handoff = btf;	/* libbpf's now: it frees it after loading */
	err = trace_bpf__load(skel);
	btf__free(vmlinux_handoff);	/* not taken (a libbpf that does not call it) */
	vmlinux_handoff = NULL;
	if (err == -EPERM || err == -EACCES)
		explain_eperm("loading the BPF programs");
	if (err)
		die(EXIT_FAIL, "cannot load the BPF programs: %s (run with -v for libbpf's reasons)", strerror(-err));

	/* The tracing table before attaching: no netfilter drop goes unnamed for want of it. */
	static struct nft_mon nft;
	if (o.nft) {
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

	char names[128] = "";
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
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", names[0] ? "," : "",
			 trace_type_names[t]);
	}
	if (!attached) {
		trace_bpf__destroy(skel);
		die(EXIT_FAIL, "no tracepoint could be attached: nothing to trace");
	}
	if (o.count)
		return count_main(&o, &r, skel, names, t0, &drop, &rst);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &r, NULL);
	if (!rb) {
		trace_bpf__destroy(skel);
		die(EXIT_FAIL, "cannot map the ring buffer: %s", strerror(errno));
	}

	if (o.stack_types) {
		r.stacks = calloc(1, sizeof(*r.stacks));
		if (!r.stacks)
			die(EXIT_FAIL, "out of memory");
		r.stacks->ksyms = r.names.ksyms = load_kallsyms(&r.ksyms, "--stack shows") ? &r.ksyms : NULL;
		r.ksyms_tried = true;
		r.stack_ids = calloc(1, sizeof(*r.stack_ids));
		if (!r.stack_ids)
			die(EXIT_FAIL, "out of memory");
		r.stack_ids->map_fd = bpf_map__fd(skel->maps.stacks);
	}
	if (o.write_path && pcap_open(&r.pcap, o.write_path, o.snaplen)) {
		trace_bpf__destroy(skel);
		die(EXIT_FAIL, "cannot write %s: %s", o.write_path, strerror(errno));
	}

	uint64_t start = now_ns(CLOCK_MONOTONIC);
	r.wall_offset_ns = now_ns(CLOCK_REALTIME) - start;
	fprintf(stderr, "%s: attached %s in %.0f ms (%u ip/cidr, %u port filters in the kernel); %s\n", applet_name,
		names, (start - t0) / 1e6, o.nnets, o.nports,
		o.duration_ms ? "stops after --duration" : "Ctrl-C to stop");
	if (!o.json) {
		char head[512];
		format_header(head, sizeof(head));
		fputs(head, r.out);
		fputc('\n', r.out);
	}
	fflush(r.out);

	/*
	 * The BPF side wakes us only when a byte threshold is crossed; the
	 * timeout drains the rest (ring_buffer__poll consumes only rings that
	 * woke it, so consume explicitly): events show within POLL_MS.
	 */
	uint64_t next_stats = start + o.stats_ms * 1000000u;
	while (!stop_signal) {
		int timeout = POLL_MS;
		if (o.stats_ms && now_ns(CLOCK_MONOTONIC) >= next_stats) {
			ring_buffer__consume(rb);	/* the count covers every event before the line */
			print_stats(&r, skel, now_ns(CLOCK_REALTIME), false);
			next_stats += o.stats_ms * 1000000u;
		}
		if (o.duration_ms) {
			uint64_t elapsed = (now_ns(CLOCK_MONOTONIC) - start) / 1000000u;
			if (elapsed >= o.duration_ms)
				break;
			if (o.duration_ms - elapsed < (uint64_t)timeout)
				timeout = o.duration_ms - elapsed;
		}
		err = ring_buffer__poll(rb, timeout);
		if (err >= 0)
			err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR) {
			warnx("reading the ring buffer failed: %s", strerror(-err));
			break;
		}
		if (fflush(r.out) == EOF && errno == EPIPE)
			break;
		if (r.pcap.f && pcap_flush(&r.pcap))
			break;
		if (r.nft)
			nft_drain(r.nft);	/* keep the socket buffer from filling */
	}
	ring_buffer__consume(rb);
	if (o.stats_ms)
		print_stats(&r, skel, now_ns(CLOCK_REALTIME), true);
	fflush(r.out);
	print_summary(&r, skel, (now_ns(CLOCK_MONOTONIC) - start) / 1e9);
	if (r.pcap.f)
		pcap_close(&r.pcap);
	if (r.nft)
		nft_stop(r.nft);
	ring_buffer__free(rb);
	trace_bpf__destroy(skel);
	reason_free(&drop);
	reason_free(&rst);
	if (r.stacks)
		stack_cache_free(r.stacks);
	free(r.stacks);
	if (r.stack_ids)
		stack_ids_free(r.stack_ids);
	free(r.stack_ids);
	ksyms_free(&r.ksyms);
	trace_pods_free(r.pods);
	return EXIT_OK;
}

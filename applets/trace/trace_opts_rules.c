/*
 * The trace flags of retina trace and kubectl retina bpftrace: one table,
 * their checks, their help and the plugin's `retina trace` command
 * (applets/trace/trace_opts.h says how to add one).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "applets/trace/trace_opts.h"
#include "lib/retina.h"

#define TT(t) (1u << (t))
#define TT_ALL ((1u << TT_COUNT) - 1)
#define OFF(field) offsetof(struct trace_opts, field)
#define STR_(x) #x
#define STR(x) STR_(x)

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

static int set_types(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	(void)arg, (void)err, (void)n;
	o->f.types |= f->param;
	return 0;
}

/* A bool of struct trace_opts, at offset param. */
static int set_bool(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	(void)arg, (void)err, (void)n;
	*(bool *)((char *)o + f->param) = true;
	return 0;
}

static int set_net(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	if (o->f.nnets == TRACE_MAX_NETS)
		return fail(err, n, "too many --ip/--cidr filters (at most %d)", TRACE_MAX_NETS);
	if (trace_net_parse(arg, f->param, &o->f.nets[o->f.nnets]))
		return fail(err, n, f->param ? "bad --cidr '%s': give a network like 10.0.0.0/8 or fd00::/8"
					     : "bad --ip '%s': give an IPv4 or IPv6 address (for a network use --cidr)",
			    arg);
	o->f.nnets++;
	return 0;
}

static int set_port(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	uint64_t v;

	(void)f;
	if (o->f.nports == TRACE_MAX_PORTS)
		return fail(err, n, "too many --port filters (at most %d)", TRACE_MAX_PORTS);
	if (parse_u64(arg, 1, 65535, &v))
		return fail(err, n, "bad --port '%s': give a number from 1 to 65535", arg);
	o->f.ports[o->f.nports++] = v;
	return 0;
}

/* The names are the running kernel's: checked against its BTF by retina trace, on the node. */
static int set_reason(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	unsigned names = 0;

	(void)f;
	for (const char *p = arg; *p; p += strcspn(p, ","), p += *p == ',')
		names += strcspn(p, ",") > 0;
	if (!names)
		return fail(err, n, "--reason needs at least one name");
	if (names > TRACE_MAX_REASONS)
		return fail(err, n, "too many --reason names (at most %d)", TRACE_MAX_REASONS);
	if (strlen(arg) >= sizeof(o->f.reasons))
		return fail(err, n, "--reason '%.40s...' is too long: give at most %d names", arg, TRACE_MAX_REASONS);
	memset(o->f.reasons, 0, sizeof(o->f.reasons));	/* the last one given */
	strcpy(o->f.reasons, arg);
	return 0;
}

static int set_stack(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	(void)f;
	if (!arg || !strcmp(arg, "drops"))
		o->f.stack_types |= TT(TT_DROP);
	else if (!strcmp(arg, "all"))
		o->f.stack_types = TT_ALL;
	else
		return fail(err, n, "bad --stack '%s': use --stack (drops) or --stack=all (every event)", arg);
	return 0;
}

static int set_stack_depth(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	uint64_t v;

	(void)f;
	if (parse_u64(arg, 1, TRACE_MAX_FRAMES, &v))
		return fail(err, n, "bad --stack-depth '%s': give a number of frames from 1 to %d", arg,
			    TRACE_MAX_FRAMES);
	o->f.stack_depth = v;
	return 0;
}

static int set_stack_rate(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	uint64_t v;

	(void)f;
	if (parse_u64(arg, 0, 1000000, &v))
		return fail(err, n, "bad --stack-rate '%s': give stack walks per second per drop site, 0 to 1000000 "
			    "(0: walk every event)", arg);
	o->f.stack_rate = v ? (uint32_t)v : STACK_EVERY;
	return 0;
}

static int set_write(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	(void)f;
	if (!*arg)
		return fail(err, n, "-w needs a file name (or - for stdout)");
	o->write_path = arg;
	o->f.packets = true;
	return 0;
}

static int set_emit(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	(void)f, (void)arg, (void)err, (void)n;
	o->emit_packets = o->f.packets = true;
	return 0;
}

static int set_snaplen(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	uint64_t v;

	(void)f;
	if (parse_u64(arg, 1, TRACE_SNAPLEN_MAX, &v))
		return fail(err, n, "bad --snaplen '%s': give a number of bytes from 1 to %d", arg, TRACE_SNAPLEN_MAX);
	o->f.snaplen = v;
	return 0;
}

static int set_output(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	(void)f;
	if (strcmp(arg, "json") && strcmp(arg, "table"))
		return fail(err, n, "bad output format '%s': use table or json", arg);
	o->json = !strcmp(arg, "json");	/* the last one given */
	return 0;
}

static int set_duration(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	(void)f;
	if (parse_duration_ms(arg, &o->duration_ms))
		return fail(err, n, "bad --duration '%s': use e.g. 30s, 5m, 1h, or 0 for until Ctrl-C", arg);
	return 0;
}

static int set_stats(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	(void)f;
	if (parse_duration_ms(arg, &o->stats_ms) || !o->stats_ms)
		return fail(err, n, "bad --stats-interval '%s': a duration like 1s or 500ms", arg);
	return 0;
}

static int set_interval(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	uint64_t ms;

	(void)f;
	if (parse_duration_ms(arg, &ms) || ms < 10 || ms > 86400000)
		return fail(err, n, "bad --interval '%s': a duration from 10ms to 24h, like 1s or 500ms", arg);
	o->f.interval_ms = ms;
	return 0;
}

static int set_top(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	(void)f;
	if (parse_u64(arg, 0, 1000000, &o->top))
		return fail(err, n, "bad --top '%s': a number of rows (0: all)", arg);
	o->top_given = true;
	return 0;
}

const char *const trace_sections[] = {
	"Events (none given: all):",
	"Filters (repeatable; an event matches when its source or destination does):",
	"Output:",
	"Counting (a drop storm: how many, of what, where):",
	"Forensics:",
};

/* { name, letter, has_arg, where, fwd, repeat, section, set, param, arg, help } */
const struct trace_flag trace_flags[] = {
	{ "--drops", 0, no_argument, TF_BOTH, TF_FWD_GIVEN, false, 0, set_types, TT(TT_DROP), NULL,
	  "DROP: skb:kfree_skb, with the drop reason name" },
	{ "--rst", 0, no_argument, TF_BOTH, TF_FWD_GIVEN, false, 0, set_types, TT(TT_RST_SENT) | TT(TT_RST_RECV), NULL,
	  "RST_SENT (tcp:tcp_send_reset), RST_RECV (tcp:tcp_receive_reset)" },
	{ "--errors", 0, no_argument, TF_BOTH, TF_FWD_GIVEN, false, 0, set_types, TT(TT_SOCK_ERR), NULL,
	  "SOCK_ERR: sock:inet_sk_error_report, with the errno name" },
	{ "--retransmits", 0, no_argument, TF_BOTH, TF_FWD_GIVEN, false, 0, set_types, TT(TT_RETRANS), NULL,
	  "RETRANS: tcp:tcp_retransmit_skb, with the TCP state" },
	{ "--all", 0, no_argument, TF_BOTH, TF_FWD_GIVEN, false, 0, set_types, TT_ALL, NULL, "all of the above" },
	{ "--ip", 0, required_argument, TF_BOTH, TF_FWD_GIVEN, true, 1, set_net, false, "ADDR",
	  "an IPv4 or IPv6 address" },
	{ "--cidr", 0, required_argument, TF_BOTH, TF_FWD_GIVEN, true, 1, set_net, true, "NET",
	  "an IPv4 or IPv6 network (10.0.0.0/8, fd00::/8)" },
	{ "--port", 0, required_argument, TF_BOTH, TF_FWD_GIVEN, true, 1, set_port, 0, "N", "a TCP/UDP port" },
	{ "--reason", 0, required_argument, TF_BOTH, TF_FWD_GIVEN, false, 1, set_reason, 0, "NAME[,NAME]",
	  "only these drop reasons (DROP events), as the\n"
	  "tracing kernel names them (retina trace --help lists how)" },
	{ "--all-reasons", 0, no_argument, TF_BOTH, TF_FWD_GIVEN, false, 1, set_bool, OFF(f.all_reasons), NULL,
	  "include NOT_SPECIFIED drops too" },
	{ "--output", 'o', required_argument, TF_BOTH, TF_FWD_NONE, false, 2, set_output, 0, "FORMAT",
	  "table (default) or json (one object per line on\n"
	  "stdout; kubectl retina bpftrace adds \"node\")" },
	{ "--duration", 'd', required_argument, TF_BOTH, TF_FWD_NONE, false, 2, set_duration, 0, "D",
	  "stop after D (30s, 5m); 0 (default): until Ctrl-C or SIGTERM" },
	{ "--stats-interval", 0, required_argument, TF_TRACE, TF_FWD_NONE, false, 2, set_stats, 0, "D",
	  "with -o json: every D, and once at exit, a line\n"
	  "{\"type\":\"STATS\",\"events\":N,\"lost\":N,...} (for\n"
	  "kubectl retina bpftrace, whose summary needs the lost count)" },
	{ "--list-reasons", 0, no_argument, TF_TRACE, TF_FWD_NONE, false, 2, set_bool, OFF(list_reasons), NULL,
	  "print this kernel's drop reasons (code=name) and exit" },
	{ "--pods", 0, no_argument, TF_TRACE, TF_FWD_NONE, false, 2, set_bool, OFF(pods), NULL,
	  "name each event's pod from the node alone (its network\n"
	  "namespace's processes, their cgroup's pod UID, the runtime's\n"
	  "state): \"pod\" in JSON, \"pod: NS/NAME\" under the row (with\n"
	  "--host-pid or on the node; kubectl retina bpftrace names\n"
	  "pods from the API instead)" },
	{ "--count", 'c', no_argument, TF_BOTH, TF_FWD_CONFIG, false, 3, set_bool, OFF(f.count), NULL,
	  "count in the kernel instead of sending each event: by type,\n"
	  "reason, drop location, network namespace, interface,\n"
	  "protocol and destination port. Exact at any rate (no ring\n"
	  "buffer, nothing lost); filters apply as without it. kubectl\n"
	  "retina bpftrace: every node's counts in one table with a NODE\n"
	  "column and a \"*\" row per key across nodes" },
	{ "--interval", 0, required_argument, TF_BOTH, TF_FWD_CONFIG, false, 3, set_interval, 0, "D",
	  "print the busiest keys every D (default 1s): count so far and\n"
	  "rate (a table redrawn in place on a terminal); the totals at the end.\n"
	  "-o json: a line {\"type\":\"COUNTS\",...,\"keys\":[{...,\"count\":N,\n"
	  "\"rate\":R}]} per interval with the keys that grew (deltas), and\n"
	  "one with \"final\":true and the totals" },
	{ "--top", 0, required_argument, TF_BOTH, TF_FWD_NONE, false, 3, set_top, 0, "N",
	  "table rows: the N busiest keys (default 20; 0: all)" },
	{ "--stack", 0, optional_argument, TF_BOTH, TF_FWD_CONFIG, false, 4, set_stack, 0, "all",
	  "the kernel stack of each DROP (=all: of every event),\n"
	  "symbolised from /proc/kallsyms, under the row / as \"stack\"\n"
	  "(kubectl retina bpftrace gives its pods SYSLOG for the symbols)" },
	{ "--stack-depth", 0, required_argument, TF_BOTH, TF_FWD_CONFIG, false, 4, set_stack_depth, 0, "N",
	  "frames --stack walks (default " STR(TRACE_STACK_DEPTH) ", max " STR(TRACE_MAX_FRAMES) "): each costs\n"
	  "the dropping CPU ~30 ns; a stack that reaches N says it was cut" },
	{ "--stack-rate", 0, required_argument, TF_BOTH, TF_FWD_CONFIG, false, 4, set_stack_rate, 0, "N",
	  "stack walks per second per site (type, reason, location) and\n"
	  "CPU (default " STR(TRACE_STACK_RATE) "; 0: every event). A walk costs the dropping\n"
	  "CPU ~1 us, more than all the rest: in a storm a site's other\n"
	  "events carry the stack it last walked, marked as such" },
	{ "--write", 'w', required_argument, TF_BOTH, TF_FWD_CONFIG, false, 4, set_write, 0, "FILE",
	  "write each dropped packet to FILE as pcapng (raw IP, a\n"
	  "comment with type, reason, probe; kubectl retina bpftrace:\n"
	  "every node's in one file, an interface per node); - for\n"
	  "stdout, then the event lines go to stderr" },
	{ "--snaplen", 0, required_argument, TF_BOTH, TF_FWD_CONFIG, false, 4, set_snaplen, 0, "N",
	  "bytes of each packet from its IP header (default 256, max 1024)" },
	{ "--emit-packets", 0, no_argument, TF_TRACE, TF_FWD_NONE, false, 4, set_emit, 0, NULL,
	  "with -o json: each dropped packet in its event's line, as\n"
	  "\"packet_len\":N,\"packet\":\"BASE64\" (the first --snaplen bytes\n"
	  "from the IP header); kubectl retina bpftrace -w merges them" },
	{ "--nft", 0, no_argument, TF_BOTH, TF_FWD_CONFIG, false, 4, set_bool, OFF(f.nft), NULL,
	  "the nftables rule that dropped each NETFILTER_DROP (table,\n"
	  "chain, handle), from nftables tracing in the traced network\n"
	  "namespace: adds the table inet " NFT_TRACE_TABLE " while it\n"
	  "runs (kubectl retina bpftrace: on each node, with NET_ADMIN),\n"
	  "so it needs --allow-system-changes" },
	{ "--allow-system-changes", 0, no_argument, TF_BOTH, TF_FWD_CONFIG, false, 4, set_bool, OFF(f.allow_changes),
	  NULL, "allow --nft to add (and remove) its tracing table" },
};
const size_t trace_nflags = sizeof(trace_flags) / sizeof(trace_flags[0]);

void trace_opts_init(struct trace_opts *o)
{
	memset(o, 0, sizeof(*o));
}

const struct trace_flag *trace_flag_of(int val)
{
	if (val >= TRACE_OPT_BASE && (size_t)(val - TRACE_OPT_BASE) < trace_nflags)
		return &trace_flags[val - TRACE_OPT_BASE];
	for (size_t i = 0; val > 0 && val < 128 && i < trace_nflags; i++)
		if (trace_flags[i].letter == val)
			return &trace_flags[i];
	return NULL;
}

int trace_opts_set(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n)
{
	if (f->set(o, f, arg, err, n))
		return -1;
	if (f->fwd == TF_FWD_GIVEN) {
		if (o->ngiven == TRACE_MAX_GIVEN)
			return fail(err, n, "too many filters and event flags (at most %d)", TRACE_MAX_GIVEN);
		o->given[o->ngiven++] = (struct trace_given){ f, arg };
	}
	return 0;
}

/* A flag that needs DROP events (--drops, or no event flag). */
static const char *needs_drops(const struct trace_opts *o)
{
	if (o->f.types & TT(TT_DROP))
		return NULL;
	if (o->f.stack_types && !(o->f.stack_types & o->f.types))
		return "--stack shows the stacks of DROP events: add --drops, or use --stack=all for every event";
	if (o->write_path)
		return "-w writes dropped packets: use it with --drops (or no event flag)";
	if (o->emit_packets && o->json)
		return "--emit-packets carries dropped packets: use it with --drops (or no event flag)";
	if (o->f.nft)
		return "--nft names the rule of netfilter drops: use it with --drops (or no event flag)";
	if (o->f.reasons[0])
		return "--reason selects drop reasons: use it with --drops (or no event flag)";
	return NULL;
}

/* --count sends no event: what needs one does not go with it. */
static const char *count_conflict(const struct trace_opts *o)
{
	const char *other = o->f.stack_types ? "--stack" : o->write_path ? "-w" : o->emit_packets ? "--emit-packets"
			  : o->f.nft ? "--nft" : o->stats_ms ? "--stats-interval" : o->pods ? "--pods" : NULL;

	return other;
}

int trace_opts_check(struct trace_opts *o, unsigned where, char *err, size_t n)
{
	const char *why;

	if (!o->f.types)
		o->f.types = TT_ALL;
	if ((why = needs_drops(o)))
		return fail(err, n, "%s", why);
	if (o->emit_packets && !o->json)
		return fail(err, n, "--emit-packets puts each dropped packet in its JSON line: use it with -o json");
	if (o->f.snaplen && !o->f.packets)
		return fail(err, n, "--snaplen sets how much of each packet -w writes: use it with -w FILE");
	if (!o->f.snaplen)
		o->f.snaplen = TRACE_SNAPLEN_DEFAULT;
	if (o->stats_ms && !o->json)
		return fail(err, n, "--stats-interval writes JSON lines: use it with -o json");
	if (o->f.stack_depth && !o->f.stack_types)
		return fail(err, n, "--stack-depth sets how deep --stack walks: use it with --stack");
	if (o->f.stack_rate && !o->f.stack_types)
		return fail(err, n, "--stack-rate sets how often --stack walks: use it with --stack");
	if (o->f.count && (why = count_conflict(o)))
		return fail(err, n, "%s works on each event, --count only counts them in the kernel: use one or the other",
			    why);
	if (!o->f.count && (o->f.interval_ms || o->top_given))
		return fail(err, n, "--%s sets how --count prints: use it with --count (-c)",
			    o->f.interval_ms ? "interval" : "top");
	if (!o->f.interval_ms)
		o->f.interval_ms = 1000;
	if (!o->top_given)
		o->top = 20;
	if (o->f.nft && !o->f.allow_changes)
		return fail(err, n, "--nft changes %s the nftables table inet %s (nftrace on every packet of %s network "
			    "namespace) while it runs%s; allow that with --allow-system-changes",
			    where & TF_PLUGIN ? "the nodes: each trace pod adds" : "this system: it adds", NFT_TRACE_TABLE,
			    where & TF_PLUGIN ? "the node's" : "this",
			    where & TF_PLUGIN ? ", and needs NET_ADMIN for it" : "");
	if (o->f.allow_changes && !o->f.nft)
		return fail(err, n, "--allow-system-changes allows --nft's tracing table: use it with --nft");
	return 0;
}

int trace_opts_getopt(unsigned where, const struct option *own, const char *own_short, struct option *opts,
		      size_t nopts, char *shortopts, size_t nshort)
{
	size_t k = 0, s = 0;

	for (size_t i = 0; i < trace_nflags; i++) {
		const struct trace_flag *f = &trace_flags[i];
		if (!(f->where & where))
			continue;
		for (const struct option *p = own; p && p->name; p++)
			if (!strcmp(p->name, f->name + 2) || (f->letter && p->val == f->letter))
				return -1;
		if (k + 1 >= nopts || s + 3 >= nshort)
			return -1;
		opts[k++] = (struct option){ f->name + 2, f->has_arg, NULL, f->letter ? f->letter : TRACE_OPT_BASE + (int)i };
		if (f->letter) {
			shortopts[s++] = f->letter;
			if (f->has_arg != no_argument)
				shortopts[s++] = ':';
			if (f->has_arg == optional_argument)
				shortopts[s++] = ':';
		}
	}
	for (const struct option *p = own; p && p->name; p++) {
		if (k + 1 >= nopts)
			return -1;
		opts[k++] = *p;
	}
	if (s + strlen(own_short) >= nshort)
		return -1;
	strcpy(shortopts + s, own_short);
	opts[k] = (struct option){ 0 };
	return 0;
}

int trace_opts_next(int argc, char **argv, const char *shortopts, const struct option *longopts,
		    struct trace_opts *o)
{
	char err[300];
	int c;

	while ((c = next_opt(argc, argv, shortopts, longopts)) != -1) {
		const struct trace_flag *f = trace_flag_of(c);
		if (!f)
			return c;
		if (trace_opts_set(o, f, optarg, err, sizeof(err)))
			usage_error("%s", err);
	}
	return -1;
}

static int push(const char **argv, int *argc, int max, const char *s)
{
	if (*argc >= max - 1)
		return -1;
	argv[(*argc)++] = s;
	return 0;
}

int trace_opts_argv(const struct trace_opts *o, const char **argv, int max, char *buf, size_t len)
{
	const struct trace_filter *f = &o->f;
	int n = 0, bad = 0;

	if (len < 48)
		return -1;
	/* buf holds the numbers: the interval in its first half, then snaplen, the stack depth and rate */
	char *snap = buf + len / 2, *depth, *rate;
	snprintf(buf, len / 2, "%llums", (unsigned long long)f->interval_ms);
	snprintf(snap, len - len / 2, "%u", f->snaplen);
	depth = snap + strlen(snap) + 1;	/* at most 11 + 3 + 8 bytes of the 24 there are */
	snprintf(depth, buf + len - depth, "%u", f->stack_depth);
	rate = depth + strlen(depth) + 1;
	snprintf(rate, buf + len - rate, "%u", f->stack_rate == STACK_EVERY ? 0 : f->stack_rate);
	bad |= push(argv, &n, max, "retina") | push(argv, &n, max, "trace");
	bad |= push(argv, &n, max, "-o") | push(argv, &n, max, "json");
	/* a count line per interval instead of STATS lines: either tells the plugin the node's counts */
	bad |= push(argv, &n, max, f->count ? "--interval" : "--stats-interval");
	bad |= push(argv, &n, max, f->count ? buf : TRACE_STATS_INTERVAL);
	for (unsigned i = 0; i < o->ngiven; i++) {
		bad |= push(argv, &n, max, o->given[i].flag->name);
		if (o->given[i].flag->has_arg == required_argument)
			bad |= push(argv, &n, max, o->given[i].arg);
	}
	if (f->count)
		bad |= push(argv, &n, max, "--count");
	if (f->stack_types)
		bad |= push(argv, &n, max, f->stack_types == TT(TT_DROP) ? "--stack" : "--stack=all");
	if (f->stack_depth)
		bad |= push(argv, &n, max, "--stack-depth") | push(argv, &n, max, depth);
	if (f->stack_rate)
		bad |= push(argv, &n, max, "--stack-rate") | push(argv, &n, max, rate);
	if (f->nft)
		bad |= push(argv, &n, max, "--nft");
	if (f->allow_changes)
		bad |= push(argv, &n, max, "--allow-system-changes");
	/* the packets come in the JSON lines: a pod's log carries text only */
	if (f->packets)
		bad |= push(argv, &n, max, "--emit-packets") | push(argv, &n, max, "--snaplen") |
		       push(argv, &n, max, snap);
	argv[n] = NULL;
	return bad ? -1 : n;
}

/* One row's help: "  -w, --write FILE" then its lines from column 23. */
static void help_row(FILE *out, const struct trace_flag *f)
{
	char label[64];
	const char *p = f->help;

	int k = snprintf(label, sizeof(label), "  ");

	if (f->letter)
		k += snprintf(label + k, sizeof(label) - k, "-%c, ", f->letter);
	snprintf(label + k, sizeof(label) - k, f->has_arg == optional_argument ? "%s[=%s]" : f->arg ? "%s %s" : "%s",
		 f->name, f->arg);
	if (strlen(label) > 22)
		fprintf(out, "%s\n%23s", label, "");
	else
		fprintf(out, "%-23s", label);
	for (size_t l; (l = strcspn(p, "\n")), *p; p += l + (p[l] == '\n'))
		fprintf(out, "%s%.*s\n", p == f->help ? "" : "                       ", (int)l, p);
}

void trace_opts_help(FILE *out, unsigned where)
{
	int section = -1;

	for (size_t i = 0; i < trace_nflags; i++) {
		const struct trace_flag *f = &trace_flags[i];
		if (!(f->where & where))
			continue;
		if (f->section != section)
			fprintf(out, "%s\n", trace_sections[section = f->section]);
		help_row(out, f);
	}
}

/* ---- retina trace's front end ---- */

/* (the applet list's help is empty: trace_parse_args prints it, from the table) */
const char trace_help[] = "";

static const char trace_usage[] =
	"usage: retina trace [EVENTS] [FILTERS] [-o table|json] [--duration D]\n"
	"                    [--stack[=all] [--stack-depth N] [--stack-rate N]] [-w FILE.pcapng] [--snaplen N]\n"
	"                    [--nft --allow-system-changes] [-o json --emit-packets]\n"
	"       retina trace -c|--count [EVENTS] [FILTERS] [--interval D] [--top N] [-o table|json]\n"
	"       retina trace --list-reasons\n"
	"\n"
	"Trace network problems as the kernel sees them: packet drops with the\n"
	"kernel's reason, TCP resets, socket errors and retransmissions. Filters run\n"
	"in the kernel. Needs BTF and the BPF and PERFMON capabilities (see\n"
	"docs/trace.md); no tracefs, debugfs or kprobes.\n"
	"\n";

static const char trace_usage_tail[] =
	"Other:\n"
	"  -v, --verbose        show libbpf's messages\n"
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

void trace_parse_args(int argc, char **argv, struct trace_opts *o, bool *verbose)
{
	static const struct option own[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct option longopts[48];
	char shortopts[32], err[300];
	int c;

	if (trace_opts_getopt(TF_TRACE, own, "vh", longopts, 48, shortopts, sizeof(shortopts)))
		abort();	/* the tables above are wrong: test_trace_opts says which */
	trace_opts_init(o);
	optind = 0;	/* from the start (glibc, musl), for a second parse too */
	while ((c = trace_opts_next(argc, argv, shortopts, longopts, o)) != -1) {
		if (c == 'v') {
			*verbose = true;
		} else {
			fputs(trace_usage, stdout);
			trace_opts_help(stdout, TF_TRACE);
			fputs(trace_usage_tail, stdout);
			exit(EXIT_OK);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (trace_opts_check(o, TF_TRACE, err, sizeof(err)))
		usage_error("%s", err);
}

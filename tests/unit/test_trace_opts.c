/*
 * The trace flag table (applets/trace/trace_opts_rules.c) and its two front
 * ends: every row runs through retina trace's parser and through kubectl
 * retina bpftrace's (whose `retina trace` command is parsed again), and the
 * filters must be the same. A row without a sample here fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "applets/kubectl/kubectl_bpftrace.h"
#include "applets/kubectl/kubectl_retina.h"
#include "applets/trace/trace_opts.h"
#include "lib/caps.h"

/* For each row: flags that make it valid (base), and the row's own. */
static const struct sample {
	const char *name;
	const char *base[3];
	const char *args[3];
} samples[] = {
	{ "--drops", { 0 }, { "--drops" } },
	{ "--rst", { 0 }, { "--rst" } },
	{ "--errors", { 0 }, { "--errors" } },
	{ "--retransmits", { 0 }, { "--retransmits" } },
	{ "--all", { "--drops" }, { "--all" } },
	{ "--ip", { 0 }, { "--ip", "10.0.0.1" } },
	{ "--cidr", { 0 }, { "--cidr", "fd00::/8" } },
	{ "--port", { 0 }, { "--port", "443" } },
	{ "--reason", { 0 }, { "--reason", "NO_SOCKET,NETFILTER_DROP" } },
	{ "--all-reasons", { 0 }, { "--all-reasons" } },
	{ "--output", { 0 }, { "-o", "json" } },
	{ "--duration", { 0 }, { "--duration", "30s" } },
	{ "--stats-interval", { "-o", "json" }, { "--stats-interval", "2s" } },
	{ "--list-reasons", { 0 }, { "--list-reasons" } },
	{ "--pods", { 0 }, { "--pods" } },
	{ "--count", { 0 }, { "-c" } },
	{ "--interval", { "--count" }, { "--interval", "500ms" } },
	{ "--top", { "-c" }, { "--top", "5" } },
	{ "--stack", { 0 }, { "--stack=all" } },
	{ "--stack-depth", { "--stack" }, { "--stack-depth", "8" } },
	{ "--stack-rate", { "--stack" }, { "--stack-rate", "0" } },
	{ "--write", { 0 }, { "-w", "x.pcapng" } },
	{ "--snaplen", { "-w", "x.pcapng" }, { "--snaplen", "64" } },
	{ "--emit-packets", { "-o", "json" }, { "--emit-packets" } },
	{ "--nft", { 0 }, { "--nft", "--allow-system-changes" } },
	{ "--allow-system-changes", { 0 }, { "--allow-system-changes", "--nft" } },
};

static const struct sample *sample_of(const char *name)
{
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (!strcmp(samples[i].name, name))
			return &samples[i];
	return NULL;
}

/* argv = first, then the NULL-ended lists given (at most 16 words) */
static int build(char **argv, const char *first, const char *const *a, const char *const *b, const char *last)
{
	int n = 0;

	argv[n++] = (char *)first;
	for (int i = 0; a && i < 3 && a[i]; i++)
		argv[n++] = (char *)a[i];
	for (int i = 0; b && i < 3 && b[i]; i++)
		argv[n++] = (char *)b[i];
	if (last)
		argv[n++] = (char *)last;
	argv[n] = NULL;
	return n;
}

static void trace_parse(struct trace_opts *o, const char *const *base, const char *const *args)
{
	char *argv[16];
	bool verbose = false;

	trace_parse_args(build(argv, "trace", base, args, NULL), argv, o, &verbose);
}

/* The plugin's parse, then its pods' command through retina trace's parse. */
static void plugin_parse(struct bt_args *a, struct trace_opts *on_node, const char *const *base,
			 const char *const *args)
{
	char *argv[16];
	bool verbose = false;

	memset(a, 0, sizeof(*a));
	a->default_version = "test";
	bt_parse_args(build(argv, "bpftrace", base, args, "node-1"), argv, a);
	assert_string_equal(a->argv[0], "retina");
	assert_string_equal(a->argv[1], "trace");
	trace_parse_args(a->argc - 1, (char **)a->argv + 1, on_node, &verbose);
	free(a->names);
}

/* What a front end shows and how it stops: the same parse, both sides. */
static bool same_view(const struct trace_opts *x, const struct trace_opts *y)
{
	return x->json == y->json && x->duration_ms == y->duration_ms && x->top == y->top &&
	       x->stats_ms == y->stats_ms && x->list_reasons == y->list_reasons && x->emit_packets == y->emit_packets &&
	       x->pods == y->pods &&
	       !x->write_path == !y->write_path && (!x->write_path || !strcmp(x->write_path, y->write_path));
}

/* The plugin refuses a flag of retina trace alone (exit 2, "unknown option"). */
static void plugin_refuses(const char *const *base, const char *const *args)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct bt_args a = { 0 };
		char *argv[16];
		if (!freopen("/dev/null", "w", stderr))
			_exit(99);
		a.default_version = "test";
		bt_parse_args(build(argv, "bpftrace", base, args, "node-1"), argv, &a);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
}

static void every_flag_through_both_front_ends(void **state)
{
	(void)state;
	for (size_t i = 0; i < trace_nflags; i++) {
		const struct trace_flag *f = &trace_flags[i];
		const struct sample *s = sample_of(f->name);
		struct trace_opts direct, without, on_node;
		struct bt_args a;

		if (!s)
			fail_msg("trace flag %s has no sample in tests/unit/test_trace_opts.c samples[]", f->name);
		print_message("  %s\n", f->name);
		trace_parse(&direct, s->base, s->args);
		trace_parse(&without, s->base, NULL);
		/* the sample does something, to the filter or to the view */
		assert_true(memcmp(&direct.f, &without.f, sizeof(direct.f)) || !same_view(&direct, &without));
		if (!(f->where & TF_PLUGIN)) {
			plugin_refuses(s->base, s->args);
			continue;
		}
		plugin_parse(&a, &on_node, s->base, s->args);
		/* what the node's tracer does is what retina trace would do here */
		if (memcmp(&direct.f, &on_node.f, sizeof(direct.f)))
			fail_msg("%s: the plugin's retina trace command does not filter as retina trace does", f->name);
		/* and the plugin took its view from the same rows */
		assert_true(same_view(&direct, &a.t));
	}
	/* and no sample of a row that is gone */
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		bool found = false;
		for (size_t j = 0; j < trace_nflags; j++)
			found |= !strcmp(trace_flags[j].name, samples[i].name);
		if (!found)
			fail_msg("sample %s: no such trace flag", samples[i].name);
	}
}

/* The drift that was: the plugin recorded only RST_SENT for --rst. */
static void rst_is_sent_and_received_in_both(void **state)
{
	static const char *const rst[] = { "--rst", NULL };
	struct trace_opts direct, on_node;
	struct bt_args a;

	(void)state;
	trace_parse(&direct, NULL, rst);
	plugin_parse(&a, &on_node, NULL, rst);
	assert_int_equal(direct.f.types, 1u << TT_RST_SENT | 1u << TT_RST_RECV);
	assert_int_equal(a.t.f.types, direct.f.types);
	assert_int_equal(on_node.f.types, direct.f.types);
}

static void argv_text(const struct bt_args *a, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < a->argc; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s ", a->argv[i]);
}

/* The pods' command: given flags in order, then the config's; the capabilities they need. */
static void plugin_command_and_capabilities(void **state)
{
	static const struct {
		const char *base[3], *args[3], *argv;
		uint64_t caps;
	} cases[] = {
		{ { "--rst", "--port", "9" }, { "--ip", "10.0.0.4", "--drops" },
		  "retina trace -o json --stats-interval 1s --rst --port 9 --ip 10.0.0.4 --drops ", 0 },
		{ { "--drops", "--stack", "--nft" }, { "--allow-system-changes" },
		  "retina trace -o json --stats-interval 1s --drops --stack --nft --allow-system-changes ",
		  CAPBIT(CAPN_SYSLOG) | CAPBIT(CAPN_NET_ADMIN) },
		{ { 0 }, { "-c", "--interval", "5s" }, "retina trace -o json --interval 5000ms --count ", 0 },
		{ { "--stack-depth", "32" }, { "--stack" },
		  "retina trace -o json --stats-interval 1s --stack --stack-depth 32 ", CAPBIT(CAPN_SYSLOG) },
		{ { "--stack-rate", "0" }, { "--stack", "--stack-depth", "4" },
		  "retina trace -o json --stats-interval 1s --stack --stack-depth 4 --stack-rate 0 ", CAPBIT(CAPN_SYSLOG) },
		{ { "--stack" }, { "--stack-rate", "1000000" },
		  "retina trace -o json --stats-interval 1s --stack --stack-rate 1000000 ", CAPBIT(CAPN_SYSLOG) },
		{ { 0 }, { "--drops", "-w", "-" },
		  "retina trace -o json --stats-interval 1s --drops --emit-packets --snaplen 256 ", 0 },
	};
	struct trace_opts on_node;
	struct bt_args a;
	char buf[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		plugin_parse(&a, &on_node, cases[i].base, cases[i].args);
		argv_text(&a, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].argv);
		assert_int_equal(a.spec.caps, CAPBIT(CAPN_BPF) | CAPBIT(CAPN_PERFMON) | cases[i].caps);
	}
	/* -w: the packets in the pods' JSON lines, the file written here */
	assert_true(on_node.emit_packets && !on_node.write_path && on_node.json);
	assert_string_equal(a.t.write_path, "-");
}

/* Each bad value and combination: one line naming the input and the fix. */
static void bad_values_and_combinations_name_the_fix(void **state)
{
	static const struct {
		unsigned where;
		const char *args[4];
		const char *msg;
	} bad[] = {
		{ TF_BOTH, { "--ip", "300.1.1.1" }, "bad --ip '300.1.1.1': give an IPv4 or IPv6 address" },
		{ TF_BOTH, { "--ip", "10.0.0.0/8" }, "(for a network use --cidr)" },
		{ TF_BOTH, { "--cidr", "10.0.0.0/33" }, "bad --cidr '10.0.0.0/33'" },
		{ TF_BOTH, { "--port", "0" }, "bad --port '0': give a number from 1 to 65535" },
		{ TF_BOTH, { "--reason", "," }, "--reason needs at least one name" },
		{ TF_BOTH, { "--reason", "A,B,C,D,E,F,G,H,I,J,K,L,M,N,O,P,Q" }, "too many --reason names (at most 16)" },
		{ TF_BOTH, { "--stack=some" }, "bad --stack 'some'" },
		{ TF_BOTH, { "--stack", "--stack-depth", "33" }, "bad --stack-depth '33': give a number of frames from 1 to 32" },
		{ TF_BOTH, { "--stack", "--stack-depth", "0" }, "bad --stack-depth '0'" },
		{ TF_BOTH, { "--stack-depth", "8" }, "--stack-depth sets how deep --stack walks: use it with --stack" },
		{ TF_BOTH, { "--stack-rate", "5" }, "--stack-rate sets how often --stack walks: use it with --stack" },
		{ TF_BOTH, { "--stack", "--stack-rate", "-1" }, "bad --stack-rate '-1': give stack walks per second" },
		{ TF_BOTH, { "--stack", "--stack-rate", "1000001" }, "bad --stack-rate '1000001'" },
		{ TF_BOTH, { "-w", "" }, "-w needs a file name" },
		{ TF_BOTH, { "-w", "x", "--snaplen", "1025" }, "bad --snaplen '1025'" },
		{ TF_BOTH, { "-o", "yaml" }, "bad output format 'yaml'" },
		{ TF_BOTH, { "-d", "soon" }, "bad --duration 'soon'" },
		{ TF_BOTH, { "-c", "--interval", "0" }, "bad --interval '0'" },
		{ TF_BOTH, { "-c", "--top", "x" }, "bad --top 'x'" },
		{ TF_TRACE, { "--stats-interval", "0" }, "bad --stats-interval '0'" },
		{ TF_BOTH, { "--rst", "--stack" }, "--stack shows the stacks of DROP events" },
		{ TF_BOTH, { "--rst", "-w", "x" }, "-w writes dropped packets: use it with --drops" },
		{ TF_BOTH, { "--rst", "--reason", "NO_SOCKET" }, "--reason selects drop reasons: use it with --drops" },
		{ TF_BOTH, { "--rst", "--nft" }, "--nft names the rule of netfilter drops" },
		{ TF_BOTH, { "--snaplen", "64" }, "--snaplen sets how much of each packet -w writes: use it with -w FILE" },
		{ TF_TRACE, { "--emit-packets" }, "--emit-packets puts each dropped packet in its JSON line" },
		{ TF_TRACE, { "--stats-interval", "1s" }, "--stats-interval writes JSON lines: use it with -o json" },
		{ TF_BOTH, { "-c", "--stack" }, "--stack works on each event, --count only counts" },
		{ TF_BOTH, { "-c", "-w", "x" }, "-w works on each event" },
		{ TF_TRACE, { "-c", "--pods" }, "--pods works on each event" },
		{ TF_BOTH, { "-c", "--nft" }, "--nft works on each event" },
		{ TF_BOTH, { "--top", "3" }, "--top sets how --count prints: use it with --count (-c)" },
		{ TF_BOTH, { "--interval", "3s" }, "--interval sets how --count prints" },
		{ TF_TRACE, { "--nft" }, "--nft changes this system: it adds the nftables table inet retina_nftrace" },
		{ TF_PLUGIN, { "--nft" }, "--nft changes the nodes: each trace pod adds" },
		{ TF_BOTH, { "--nft" }, "allow that with --allow-system-changes" },
		{ TF_BOTH, { "--allow-system-changes" }, "--allow-system-changes allows --nft's tracing table: use it with --nft" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (unsigned where = TF_TRACE; where <= TF_PLUGIN; where <<= 1) {
			struct trace_opts o;
			char err[300] = "";
			int r = 0;

			if (!(bad[i].where & where))
				continue;
			trace_opts_init(&o);
			for (int k = 0; k < 4 && bad[i].args[k] && !r; k++) {
				const char *w = bad[i].args[k], *arg = NULL;
				const struct trace_flag *f = NULL;
				for (size_t j = 0; j < trace_nflags && !f; j++) {
					size_t n = strlen(trace_flags[j].name);
					if (!strncmp(w, trace_flags[j].name, n) && (!w[n] || w[n] == '='))
						f = &trace_flags[j], arg = w[n] == '=' ? w + n + 1 : NULL;
					else if (w[0] == '-' && w[1] == trace_flags[j].letter && !w[2])
						f = &trace_flags[j];
				}
				assert_non_null(f);
				if (f->has_arg == required_argument)
					arg = bad[i].args[++k];
				r = trace_opts_set(&o, f, arg, err, sizeof(err));
			}
			if (!r)
				r = trace_opts_check(&o, where, err, sizeof(err));
			if (r != -1 || !strstr(err, bad[i].msg))
				fail_msg("%s ...: got '%s', want '%s'", bad[i].args[0], err, bad[i].msg);
			assert_null(strchr(err, '\n'));
		}
	}
}

/* The front ends' getopt tables come from the rows; an own option may not shadow one. */
static void getopt_tables_from_the_rows(void **state)
{
	static const struct option clash[] = { { "drops", no_argument, NULL, 'x' }, { 0 } };
	static const struct option letter[] = { { "cache", no_argument, NULL, 'c' }, { 0 } };
	const struct kubectl_cmd *cmd = kubectl_cmd_find("bpftrace");
	struct option opts[64];
	char shortopts[32];

	(void)state;
	assert_int_equal(trace_opts_getopt(TF_TRACE, clash, "x", opts, 64, shortopts, 32), -1);
	assert_int_equal(trace_opts_getopt(TF_TRACE, letter, "c", opts, 64, shortopts, 32), -1);
	assert_int_equal(trace_opts_getopt(TF_TRACE, NULL, "vh", opts, 3, shortopts, 32), -1);
	assert_int_equal(trace_opts_getopt(TF_TRACE, NULL, "vh", opts, 64, shortopts, 32), 0);
	assert_string_equal(shortopts, "o:d:cw:vh");
	/* the plugin: every row it takes, none it does not, by name in its completion table */
	for (size_t i = 0; i < trace_nflags; i++) {
		const struct option *o = cmd->longopts;
		while (o->name && strcmp(o->name, trace_flags[i].name + 2))
			o++;
		assert_int_equal(!!o->name, !!(trace_flags[i].where & TF_PLUGIN));
		if (o->name) {
			assert_ptr_equal(trace_flag_of(o->val), &trace_flags[i]);
			assert_int_equal(kubectl_opt_repeatable(o), trace_flags[i].repeat);
		}
	}
	assert_string_equal(cmd->shortopts, "o:d:cw:l:n:v:h");
	assert_null(trace_flag_of('l'));
	assert_null(trace_flag_of(TRACE_OPT_BASE + (int)trace_nflags));
}

/* Help lists each row its front end takes, and no other. */
static void help_lists_the_rows_of_each_front_end(void **state)
{
	(void)state;
	for (unsigned where = TF_TRACE; where <= TF_PLUGIN; where <<= 1) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		trace_opts_help(f, where);
		fclose(f);
		for (size_t i = 0; i < trace_nflags; i++) {
			char label[64];
			if (trace_flags[i].letter)
				snprintf(label, sizeof(label), "\n  -%c, %s", trace_flags[i].letter, trace_flags[i].name);
			else
				snprintf(label, sizeof(label), "\n  %s", trace_flags[i].name);
			bool listed = strstr(text, label) != NULL;
			if (listed != !!(trace_flags[i].where & where))
				fail_msg("help for %u: %s %s", where, trace_flags[i].name, listed ? "listed" : "missing");
			/* the plugin's help names no flag it does not take */
			if (where == TF_PLUGIN && !(trace_flags[i].where & TF_PLUGIN))
				assert_null(strstr(text, trace_flags[i].name));
		}
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_flag_through_both_front_ends),
		cmocka_unit_test(rst_is_sent_and_received_in_both),
		cmocka_unit_test(plugin_command_and_capabilities),
		cmocka_unit_test(bad_values_and_combinations_name_the_fix),
		cmocka_unit_test(getopt_tables_from_the_rows),
		cmocka_unit_test(help_lists_the_rows_of_each_front_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

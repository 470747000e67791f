/* Unit tests for applets/kubectl_complete_rules.c: what `kubectl retina` completes, word by word. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "applets/kubectl/kubectl_retina.h"
#include "kube/kubeconfig.h"

/* Drop the "\tdescription" of each line (tested on its own in subcommands_are_described). */
static void strip_descriptions(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		if (*r == '\t') {
			r += strcspn(r, "\n");
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

/* The answer for these words (NULL-terminated), as kubectl would read it, without descriptions. */
static char *answer(struct kcomp *c, const char **names_from_api, const char *first, ...)
{
	char *words[32];
	int n = 0;
	va_list ap;

	va_start(ap, first);
	for (const char *w = first; w && n < 32; w = va_arg(ap, const char *))
		words[n++] = (char *)w;
	va_end(ap);
	memset(c, 0, sizeof(*c));
	kcomp_run(c, n, words);
	/* the applet asks the API only when the engine says what for */
	for (const char **p = names_from_api; c->fetch != KCF_NONE && p && *p; p++)
		assert_int_equal(kcomp_add(c, *p), 0);
	char *out = kcomp_format(c);
	assert_non_null(out);
	strip_descriptions(out);
	return out;
}

#define CHECK(api, want, ...)							\
	do {									\
		struct kcomp c_;						\
		char *out_ = answer(&c_, api, __VA_ARGS__, (const char *)NULL);	\
		assert_string_equal(out_, want);				\
		free(out_);							\
		kcomp_free(&c_);						\
	} while (0)

static const char *nodes[] = { "node-1", "node-2", "win-1", NULL };

static void subcommands_first(void **state)
{
	(void)state;
	CHECK(NULL, "shell\nbpftrace\ncleanup\ncompletion\n:4\n", "");
	CHECK(NULL, "cleanup\ncompletion\n:4\n", "c");
	CHECK(NULL, ":4\n", "x");
	CHECK(NULL, "--help\n-h\n:4\n", "-");
	/* no words at all counts as one empty word */
	struct kcomp c = { 0 };
	kcomp_run(&c, 0, NULL);
	char *out = kcomp_format(&c);
	strip_descriptions(out);
	assert_string_equal(out, "shell\nbpftrace\ncleanup\ncompletion\n:4\n");
	free(out);
	kcomp_free(&c);
}

static void subcommands_are_described(void **state)
{
	struct kcomp c = { 0 };
	char *words[] = { "sh" };
	(void)state;

	kcomp_run(&c, 1, words);
	char *out = kcomp_format(&c);
	assert_string_equal(out, "shell\tstart a debug shell on a node (host network) or in a pod\n:4\n");
	free(out);
	kcomp_free(&c);
	/* and the description does not hide a duplicate (before kcomp_run ends) */
	c.match = "";
	assert_int_equal(kcomp_add(&c, "x"), 0);
	assert_int_equal(kcomp_add(&c, "x"), 0);
	assert_int_equal(c.n, 1);
	kcomp_free(&c);
}

static void unknown_subcommand_offers_nothing(void **state)
{
	(void)state;
	CHECK(nodes, ":4\n", "nope", "");
	CHECK(nodes, ":4\n", "--kubeconfig", "x", "");
}

static void flags_from_the_option_table(void **state)
{
	(void)state;
	CHECK(NULL, "--all-namespaces\n--namespace\n--kubeconfig\n--context\n--request-timeout\n--help\n:4\n", "cleanup", "--");
	CHECK(NULL, "--all-namespaces\n:4\n", "cleanup", "--all");
	CHECK(NULL, "-A\n:4\n", "cleanup", "-A");
	CHECK(NULL, "--all-namespaces\n-A\n--namespace\n-n\n--kubeconfig\n--context\n--request-timeout\n--help\n-h\n:4\n", "cleanup", "-");
}

static void flags_already_given_are_not_offered_again(void **state)
{
	(void)state;
	CHECK(NULL, "--namespace\n--kubeconfig\n--context\n--request-timeout\n--help\n:4\n", "cleanup", "-A", "--");
	CHECK(NULL, "--all-namespaces\n--kubeconfig\n--context\n--request-timeout\n--help\n:4\n", "cleanup", "-nweb", "--");
	/* repeatable filters stay */
	CHECK(NULL, "--ip\n--interval\n:4\n", "bpftrace", "--ip", "10.0.0.1", "--i");
	CHECK(NULL, ":4\n", "bpftrace", "--drops", "--dr");
	CHECK(NULL, ":4\n", "bpftrace", "-o", "json", "--outp");
}

static void values_of_finite_flags(void **state)
{
	(void)state;
	CHECK(NULL, "table\njson\n:4\n", "bpftrace", "-o", "");
	CHECK(NULL, "json\n:4\n", "bpftrace", "node-1", "--output", "j");
	CHECK(NULL, "table\njson\n:4\n", "bpftrace", "--output=");
	CHECK(NULL, "json\n:4\n", "bpftrace", "--out=js");
	CHECK(NULL, "drops\nall\n:4\n", "bpftrace", "--stack=");
	CHECK(NULL, "all\n:4\n", "bpftrace", "--stack=a");
	CHECK(NULL, ":0\n", "bpftrace", "-w", "");	/* a file: the shell completes it */
	CHECK(NULL, "NET_ADMIN\n:4\n", "shell", "-c", "NET_AD");
	CHECK(NULL, "net_raw,SYS_PTRACE\n:4\n", "shell", "--capabilities", "net_raw,SYS_PT");
	CHECK(NULL, "BPF\n:4\n", "shell", "--capabilities=BP");
	CHECK(NULL, "NET_RAW,BPF\n:4\n", "shell", "--capabilities=NET_RAW,BP");
	/* names already in the list are not offered again, in any spelling */
	CHECK(NULL, "cap_net_admin,NET_RAW,NET_BIND_SERVICE\ncap_net_admin,NET_RAW,NET_BROADCAST\n:4\n", "shell", "-c",
	      "cap_net_admin,NET_RAW,NET_");
	CHECK(NULL, "NET_ADMIN,NET_BIND_SERVICE\nNET_ADMIN,NET_BROADCAST\n:4\n", "shell", "-c", "NET_ADMIN,NET_B");
	CHECK(NULL, "NET_ADMIN,NET_BIND_SERVICE\nNET_ADMIN,NET_BROADCAST\nNET_ADMIN,NET_RAW\n:4\n", "shell", "-c",
	      "NET_ADMIN,NET_");
	/* a file: directive 0, the shell's file completion */
	CHECK(NULL, ":0\n", "shell", "--kubeconfig", "");
	/* a flag without a value, then the value of the next */
	CHECK(NULL, "table\njson\n:4\n", "bpftrace", "--drops", "-o", "");
	/* values that are free text: nothing, and no file names */
	CHECK(NULL, ":4\n", "bpftrace", "--port", "");
	CHECK(NULL, ":4\n", "shell", "--timeout", "3");
}

static void node_and_pod_targets(void **state)
{
	struct kcomp c;
	(void)state;

	CHECK(nodes, "node-1\nnode-2\nwin-1\n:4\n", "shell", "");
	CHECK(nodes, "node-1\nnode-2\n:4\n", "bpftrace", "--drops", "no");
	CHECK(nodes, "node/win-1\n:4\n", "bpftrace", "node/w");
	CHECK(nodes, "nodes/node-1\nnodes/node-2\nnodes/win-1\n:4\n", "shell", "nodes/");
	/* shell offers pods/ to a word that may start it, with no space after it */
	CHECK(nodes, "pods/\n:6\n", "shell", "po");
	CHECK(NULL, "pods/\n:6\n", "shell", "p");
	/* one target only; after `--` the remote command */
	CHECK(nodes, ":4\n", "shell", "node-1", "");
	CHECK(nodes, ":4\n", "shell", "node-1", "--", "");
	CHECK(nodes, ":4\n", "cleanup", "");
	/* bpftrace: nodes only */
	CHECK(nodes, ":4\n", "bpftrace", "pods/");

	free(answer(&c, NULL, "shell", "-n", "web", "pods/w", NULL));
	assert_int_equal(c.fetch, KCF_PODS);
	assert_string_equal(c.namespace, "web");
	assert_string_equal(c.emit, "pods/");
	assert_string_equal(c.match, "w");
	kcomp_add(&c, "web-1");
	kcomp_add(&c, "api-1");
	char *out = kcomp_format(&c);
	assert_string_equal(out, "pods/web-1\n:4\n");
	free(out);
	kcomp_free(&c);
}

static void connection_flags_are_remembered(void **state)
{
	struct kcomp c;
	(void)state;

	free(answer(&c, NULL, "shell", "--kubeconfig", "/k", "--context=prod", "-nkube-system", "", NULL));
	assert_int_equal(c.fetch, KCF_NODES);
	assert_string_equal(c.kubeconfig, "/k");
	assert_string_equal(c.context, "prod");
	assert_string_equal(c.namespace, "kube-system");
	kcomp_free(&c);
	/* -mw then -c: short flags combined; the value of -n after a flag group */
	free(answer(&c, NULL, "shell", "-mwn", "web", "--kubeconfig=/x", "pods/", NULL));
	assert_int_equal(c.fetch, KCF_PODS);
	assert_string_equal(c.namespace, "web");
	assert_string_equal(c.kubeconfig, "/x");
	kcomp_free(&c);
	/* long options abbreviated as getopt_long allows */
	free(answer(&c, NULL, "shell", "--kubec", "/k", "--names", "ns1", "--cont", "", NULL));
	assert_int_equal(c.fetch, KCF_CONTEXTS);
	assert_string_equal(c.kubeconfig, "/k");
	assert_string_equal(c.namespace, "ns1");
	kcomp_free(&c);
	/* ambiguous (--retina-shell-image-*): not an option that takes the next word */
	free(answer(&c, NULL, "shell", "--retina", "x", "", NULL));
	assert_int_equal(c.fetch, KCF_NONE);
	kcomp_free(&c);
	free(answer(&c, NULL, "bpftrace", "--context", "", NULL));
	assert_int_equal(c.fetch, KCF_CONTEXTS);
	kcomp_free(&c);
	free(answer(&c, NULL, "cleanup", "-n", "", NULL));
	assert_int_equal(c.fetch, KCF_NAMESPACES);
	kcomp_free(&c);
}

static void completion_shells(void **state)
{
	(void)state;
	CHECK(NULL, "bash\nzsh\n:4\n", "completion", "");
	CHECK(NULL, "zsh\n:4\n", "completion", "z");
	CHECK(NULL, ":4\n", "completion", "bash", "");
}

static void names_with_newlines_or_empty_are_dropped(void **state)
{
	static const char *bad[] = { "ok-1", "evil\n:0", "", NULL };
	(void)state;
	CHECK(bad, "ok-1\n:4\n", "shell", "");
}

static void option_tables_match_getopt_strings(void **state)
{
	(void)state;
	/* every single-letter option of the short string has its long name, and back */
	for (size_t i = 0; i < kubectl_ncmds; i++) {
		const struct kubectl_cmd *cmd = &kubectl_cmds[i];
		for (const char *p = cmd->shortopts; *p; p++) {
			if (*p == ':')
				continue;
			const struct option *o = cmd->longopts;
			while (o->name && o->val != *p)
				o++;
			assert_non_null(o->name);
			assert_int_equal(o->has_arg == required_argument, p[1] == ':');
		}
		for (const struct option *o = cmd->longopts; o->name; o++)
			if (o->val < 256)
				assert_non_null(strchr(cmd->shortopts, o->val));
	}
	assert_ptr_equal(kubectl_cmd_find("shell"), &kubectl_cmds[0]);
	assert_null(kubectl_cmd_find("she"));
}

/* The flags every subcommand shares are stored by one function, for all of them. */
static void connection_options_are_shared(void **state)
{
	struct kube_load_opts lo = { 0 };

	(void)state;
	assert_true(kubectl_connection_opt(KO_KUBECONFIG, "/tmp/kc", &lo));
	assert_true(kubectl_connection_opt(KO_CONTEXT, "prod", &lo));
	assert_true(kubectl_connection_opt('n', "web", &lo));
	assert_true(kubectl_connection_opt(KO_REQTIMEOUT, "1m", &lo));
	assert_string_equal(lo.kubeconfig, "/tmp/kc");
	assert_string_equal(lo.context, "prod");
	assert_string_equal(lo.namespace, "web");
	assert_int_equal(lo.request_timeout_ms, 60000);
	assert_false(kubectl_connection_opt('o', "json", &lo));
	assert_false(kubectl_connection_opt(KO_MAX_NODES, "80", &lo));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(subcommands_first),
		cmocka_unit_test(subcommands_are_described),
		cmocka_unit_test(unknown_subcommand_offers_nothing),
		cmocka_unit_test(flags_from_the_option_table),
		cmocka_unit_test(flags_already_given_are_not_offered_again),
		cmocka_unit_test(values_of_finite_flags),
		cmocka_unit_test(node_and_pod_targets),
		cmocka_unit_test(connection_flags_are_remembered),
		cmocka_unit_test(completion_shells),
		cmocka_unit_test(names_with_newlines_or_empty_are_dropped),
		cmocka_unit_test(option_tables_match_getopt_strings),
		cmocka_unit_test(connection_options_are_shared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

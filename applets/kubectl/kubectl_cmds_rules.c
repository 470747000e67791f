/*
 * The option tables of `kubectl retina` subcommands: each subcommand parses
 * its arguments with its table here, and completion lists flags from the same
 * table, so what completes is what parses.
 */
#include <stdlib.h>
#include <string.h>

#include "applets/kubectl/kubectl_retina.h"
#include "applets/trace/trace_opts.h"
#include "kube/kubeconfig.h"
#include "lib/retina.h"

/* The last rows of shell's and bpftrace's tables: the cluster, -v, help. */
#define CLUSTER_OPTIONS \
	{ "kubeconfig", required_argument, NULL, KO_KUBECONFIG }, \
	{ "context", required_argument, NULL, KO_CONTEXT }, \
	{ "request-timeout", required_argument, NULL, KO_REQTIMEOUT }, \
	{ "namespace", required_argument, NULL, 'n' }, \
	{ "verbose", required_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ NULL, 0, NULL, 0 }

static const struct option shell_opts[] = {
	{ "mount-host-filesystem", no_argument, NULL, 'm' },
	{ "allow-host-filesystem-write", no_argument, NULL, 'w' },
	{ "capabilities", required_argument, NULL, 'c' },
	{ "host-pid", no_argument, NULL, KO_HOSTPID },
	{ "apparmor-unconfined", no_argument, NULL, KO_APPARMOR },
	{ "seccomp-unconfined", no_argument, NULL, KO_SECCOMP },
	{ "timeout", required_argument, NULL, KO_TIMEOUT },
	{ "retina-shell-image-repo", required_argument, NULL, KO_REPO },
	{ "retina-shell-image-version", required_argument, NULL, KO_VERSION },
	{ "target-container", required_argument, NULL, KO_TARGET },
	{ "ship-binary", no_argument, NULL, KO_SHIP },
	{ "retina-binaries", required_argument, NULL, KO_BINARIES },
	CLUSTER_OPTIONS,
};

/* bpftrace: the trace flags' rows (applets/trace/trace_opts.h), then these of its own */
static const struct option bpftrace_own[] = {
	{ "selector", required_argument, NULL, 'l' },
	{ "pod-selector", required_argument, NULL, KO_POD_SELECTOR },
	{ "max-nodes", required_argument, NULL, KO_MAX_NODES },
	{ "startup-timeout", required_argument, NULL, KO_STARTUP },
	{ "retina-shell-image-repo", required_argument, NULL, KO_REPO },
	{ "retina-shell-image-version", required_argument, NULL, KO_VERSION },
	{ "ship-binary", no_argument, NULL, KO_SHIP },
	{ "retina-binaries", required_argument, NULL, KO_BINARIES },
	CLUSTER_OPTIONS,
};
static struct option bpftrace_opts[64];
static char bpftrace_short[32];

/* Before main (and before any test): the table is data, merged once. */
__attribute__((constructor)) static void bpftrace_table(void)
{
	if (trace_opts_getopt(TF_PLUGIN, bpftrace_own, "l:n:v:h", bpftrace_opts, 64, bpftrace_short,
			      sizeof(bpftrace_short)))
		abort();	/* a name or letter of both tables: test_trace_opts says which */
}

static const struct option cleanup_opts[] = {
	{ "all-namespaces", no_argument, NULL, 'A' },
	{ "namespace", required_argument, NULL, 'n' },
	{ "kubeconfig", required_argument, NULL, KO_KUBECONFIG },
	{ "context", required_argument, NULL, KO_CONTEXT },
	{ "request-timeout", required_argument, NULL, KO_REQTIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option completion_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

const struct kubectl_cmd kubectl_cmds[] = {
	{ "shell", "start a debug shell on a node (host network) or in a pod", shell_opts, "mwc:n:v:h", KA_TARGET },
	{ "bpftrace", "trace packet drops, RSTs, socket errors and retransmits on a node", bpftrace_opts,
	  bpftrace_short, KA_NODE },
	{ "cleanup", "delete debug pods left behind (-A: in every namespace)", cleanup_opts, "An:h", KA_NONE },
	{ "completion", "print a bash or zsh completion script", completion_opts, "h", KA_SHELL_NAME },
};
const size_t kubectl_ncmds = sizeof(kubectl_cmds) / sizeof(kubectl_cmds[0]);

const struct kubectl_cmd *kubectl_cmd_find(const char *name)
{
	for (size_t i = 0; i < kubectl_ncmds; i++)
		if (!strcmp(kubectl_cmds[i].name, name))
			return &kubectl_cmds[i];
	return NULL;
}

bool kubectl_opt_repeatable(const struct option *o)
{
	const struct trace_flag *f = trace_flag_of(o->val);

	return f && f->repeat;
}

bool kubectl_connection_opt(int c, const char *arg, struct kube_load_opts *lo)
{
	switch (c) {
	case KO_KUBECONFIG: lo->kubeconfig = arg; return true;
	case KO_CONTEXT: lo->context = arg; return true;
	case 'n': lo->namespace = arg; return true;
	case KO_REQTIMEOUT:
		if (kube_parse_request_timeout(arg, &lo->request_timeout_ms))
			usage_error("bad --request-timeout '%s': a duration like 10s or 1m, or 0 for none", arg);
		return true;
	}
	return false;
}

/*
 * kubectl-retina: found by kubectl on PATH, run as `kubectl retina ...` with
 * the raw arguments. shell is applets/kubectl_shell.c, bpftrace
 * applets/kubectl_bpftrace.c.
 */
#include <stdio.h>
#include <string.h>

#include "applets/kubectl/kubectl_retina.h"
#include "applets/kubectl/kubectl_ship.h"
#include "lib/retina.h"

const char kubectl_retina_help[] =
	"usage: kubectl retina COMMAND [ARGS...]\n"
	"\n"
	"Debug Kubernetes node networking from your workstation.\n"
	"\n"
	"Commands:\n"
	"  shell      start a debug shell on a node (host network) or in a pod\n"
	"  bpftrace   trace packet drops, RSTs, socket errors and retransmits on a node\n"
	"  cleanup    delete debug pods left behind (-A: in every namespace)\n"
	"  completion print a bash or zsh completion script (kubectl 1.26+ completes\n"
	"             plugins itself through the kubectl_complete-retina link)\n"
	"  version    this plugin's version and default image (also --version)\n"
	"\n"
	"Examples:\n"
	"  kubectl retina shell node-1\n"
	"  kubectl retina shell -n web pods/frontend-7d4b9\n"
	"  kubectl retina bpftrace node-1 --drops --ip 10.0.0.4\n"
	"  kubectl retina cleanup --all-namespaces\n"
	"  source <(kubectl retina completion bash)\n"
	"\n"
	"Install: put kubectl-retina and kubectl_complete-retina (links to retina) on PATH;\n"
	"`retina --install -s DIR` makes them.\n";

int kubectl_retina_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(kubectl_retina_help, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help"))
		show_help(kubectl_retina_help);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		kubectl_print_version();
		return EXIT_OK;
	}
	if (!strcmp(cmd, "shell")) {
		applet_name = "kubectl-retina shell";
		return kubectl_shell_main(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "cleanup")) {
		applet_name = "kubectl-retina cleanup";
		return kubectl_cleanup_main(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "bpftrace")) {
		applet_name = "kubectl-retina bpftrace";
		return kubectl_bpftrace_main(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "completion")) {
		applet_name = "kubectl-retina completion";
		return kubectl_completion_main(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "__complete"))
		return kubectl_complete_words(argc - 1, argv + 1);
	if (cmd[0] == '-')
		usage_error("unknown option '%s' (options come after the command)", cmd);
	usage_error("unknown command '%s'; commands are: shell, bpftrace, cleanup, completion", cmd);
}

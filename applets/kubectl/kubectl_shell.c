/*
 * kubectl retina shell: a debug shell on a node (a host-network pod) or in a
 * pod (an ephemeral container). The work runs in a child process; the parent
 * (debugpod_supervise) only waits and deletes the node pod afterwards, so the
 * pod goes away whatever ends the child: the shell's exit, an error, a
 * timeout, Ctrl-C, SIGTERM, SIGHUP or a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/kubectl/kubectl_retina.h"
#include "applets/kubectl/kubectl_ship.h"
#include "kube/client.h"
#include "kube/debugpod.h"
#include "kube/kubeconfig.h"
#include "lib/caps.h"
#include "lib/retina.h"
#include "version.h"

/* after the attach ends: how long the kubelet may take to report the shell's exit */
#define ATTACH_EXIT_WAIT_MS 10000

const char kubectl_shell_help[] =
	"usage: kubectl retina shell [OPTIONS] NODE | node/NODE | pods/POD [-- COMMAND [ARGS...]]\n"
	"\n"
	"Start a debug shell with retina's image on a node (a pod in the node's network\n"
	"namespace) or in a pod (an ephemeral container in the pod's network namespace).\n"
	"The node pod is deleted when the shell ends, on errors, timeouts and signals.\n"
	"The remote command's exit code becomes ours.\n"
	"\n"
	"Options:\n"
	"  -m, --mount-host-filesystem       node: the host's / at /host, read-only\n"
	"  -w, --allow-host-filesystem-write node: /host writable (implies -m)\n"
	"  -c, --capabilities A,B            add these capabilities (all others are dropped);\n"
	"                                    names with or without CAP_, any case\n"
	"      --host-pid                    node: the host's PID namespace\n"
	"      --apparmor-unconfined         no AppArmor profile\n"
	"      --seccomp-unconfined          no seccomp filter\n"
	"      --target-container NAME       pod: share NAME's process namespace\n"
	"      --timeout D                   how long to wait for the shell to start (30s)\n"
	"      --retina-shell-image-repo R   image repository (env RETINA_SHELL_IMAGE_REPO;\n"
	"                                    default: the build's: kubectl retina version)\n"
	"      --retina-shell-image-version V  image tag (env RETINA_SHELL_IMAGE_VERSION;\n"
	"                                    default this binary's version, " RETINA_VERSION ")\n"
	"      --ship-binary                 node, -- APPLET ARGS: no registry: this binary goes to the\n"
	"                                    node in a ConfigMap and runs retina APPLET in an image the\n"
	"                                    node has (its pause image); the output comes from its log\n"
	"      --retina-binaries DIR         with --ship-binary: where the retina of another\n"
	"                                    architecture is (make dist's retina-V-linux-ARCH/)\n"
	"      --kubeconfig FILE             kubeconfig file (else KUBECONFIG, ~/.kube/config)\n"
	"      --context NAME                kubeconfig context\n"
	"      --request-timeout D           give up on an API request after D (30s; 0: never)\n"
	"  -n, --namespace NS                namespace of the pod (node shells: where the pod runs)\n"
	"  -v, --verbose N                   log API requests (1: method, URL, status, latency)\n"
	"\n"
	"Examples:\n"
	"  kubectl retina shell node-1\n"
	"  kubectl retina shell node-1 -c NET_ADMIN,NET_RAW -- ip route\n"
	"  kubectl retina shell node/node-1 -m --host-pid -c SYS_PTRACE,SYS_ADMIN\n"
	"  kubectl retina shell -n web pods/frontend-7d4b9 --target-container app\n"
	"  echo 'ip addr' | kubectl retina shell node-1\n";

struct shell_args {
	const char *target;		/* node or pod name */
	bool pod;
	struct debugpod_spec spec;
	uint64_t timeout_ms;
	struct kube_load_opts load;
	int verbosity;
	char image[512];
	char name[64];
	struct ship ship;	/* --ship-binary (kubectl_ship.c) */
};

static void parse_target(struct shell_args *a, const char *t)
{
	const char *slash = strchr(t, '/');

	a->target = t;
	if (slash) {
		size_t n = slash - t;
		if ((n == 4 && !strncmp(t, "node", 4)) || (n == 5 && !strncmp(t, "nodes", 5)) ||
		    (n == 2 && !strncmp(t, "no", 2))) {
			a->target = slash + 1;
		} else if ((n == 3 && !strncmp(t, "pod", 3)) || (n == 4 && !strncmp(t, "pods", 4)) ||
			   (n == 2 && !strncmp(t, "po", 2))) {
			a->target = slash + 1;
			a->pod = true;
		} else {
			usage_error("'%s': the target is NODE, node/NODE or pods/POD", t);
		}
	}
	if (!a->target[0] || strspn(a->target, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(a->target) ||
	    strlen(a->target) > 253)
		usage_error("'%s' is not a valid %s name (lowercase letters, digits, '-' and '.')", a->target,
			    a->pod ? "pod" : "node");
}

static void parse_args(int argc, char **argv, struct shell_args *a, char ***command)
{
	const struct kubectl_cmd *cmd = kubectl_cmd_find("shell");
	const char *repo = NULL, *version = NULL, *bad;
	uint64_t v;
	int c, dash = argc;

	/* "-- CMD": cut it off first, as getopt's permutation would lose where it began */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dash = i;
			break;
		}
	*command = dash < argc ? argv + dash + 1 : NULL;
	if (*command && !**command)
		usage_error("nothing after '--': give a command, or leave '--' out for a shell");
	a->timeout_ms = 30000;
	optind = 1;
	while ((c = next_opt(dash, argv, cmd->shortopts, cmd->longopts)) != -1) {
		if (kubectl_connection_opt(c, optarg, &a->load))
			continue;
		switch (c) {
		case 'm': a->spec.mount_host = true; break;
		case 'w': a->spec.mount_host = a->spec.host_write = true; break;
		case 'c':
			if (caps_parse_list(optarg, &a->spec.caps, &bad)) {
				char all[1024] = "";
				for (int i = 0; cap_name(i); i++)
					snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? "," : "",
						 cap_name(i));
				usage_error("unknown capability '%s' in --capabilities; valid names: %s", bad, all);
			}
			break;
		case KO_HOSTPID: a->spec.host_pid = true; break;
		case KO_APPARMOR: a->spec.apparmor_unconfined = true; break;
		case KO_SECCOMP: a->spec.seccomp_unconfined = true; break;
		case KO_TIMEOUT:
			if (parse_duration_ms(optarg, &a->timeout_ms) || !a->timeout_ms || a->timeout_ms > 86400000)
				usage_error("bad --timeout '%s': a duration like 30s, 2m or 1m30s", optarg);
			break;
		case KO_REPO: repo = optarg; break;
		case KO_VERSION: version = optarg; break;
		case KO_TARGET: a->spec.target_container = optarg; break;
		case KO_SHIP: a->ship.on = true; break;
		case KO_BINARIES: a->ship.bin_dir = optarg; break;
		case 'v':
			if (parse_u64(optarg, 0, 9, &v))
				usage_error("bad -v '%s': a level from 0 to 9", optarg);
			a->verbosity = (int)v;
			break;
		case 'h': show_help(kubectl_shell_help);
		}
	}
	if (optind >= dash)
		usage_error("which node or pod? give NODE, node/NODE or pods/POD");
	if (optind + 1 < dash)
		usage_error("one target only, got '%s' and '%s' (a command goes after '--')", argv[optind],
			    argv[optind + 1]);
	parse_target(a, argv[optind]);
	if (a->pod) {
		if (a->spec.mount_host)
			usage_error("%s is for node shells; a pod's files are under /proc/1/root with "
				    "--target-container", a->spec.host_write ? "-w/--allow-host-filesystem-write"
									  : "-m/--mount-host-filesystem");
		if (a->spec.host_pid)
			usage_error("--host-pid is for node shells; for a pod use --target-container");
	} else if (a->spec.target_container) {
		usage_error("--target-container is for pods (pods/POD); a node shell sees the node");
	}
	ship_check_flags(&a->ship, repo, version);
	if (a->ship.on) {
		ship_check_shell_args(a->pod, command);
		return;
	}
	char err[300];
	if (debugpod_image(a->image, sizeof(a->image), repo, version, kubectl_image_repo, RETINA_VERSION, err,
			   sizeof(err)))
		usage_error("%s", err);
	a->spec.image = a->image;
}

static void progress(const char *phase, void *arg)
{
	const struct shell_args *a = arg;

	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K%s %s/%s: %s", a->pod ? "ephemeral container" : "pod", a->spec.ns,
			a->spec.name, phase);
	else
		fprintf(stderr, "%s: %s %s/%s: %s\n", applet_name, a->pod ? "ephemeral container" : "pod",
			a->spec.ns, a->spec.name, phase);
}

/* The child: everything that talks to the cluster. Returns our exit code. */
static int run_shell(struct shell_args *a, char **command, const struct kube_config *cfg, int created_fd)
{
	char err[1024];
	struct kube_client *k = kube_client_new(cfg, a->verbosity, err, sizeof(err));
	const char *container = a->pod ? a->spec.name : DEBUGPOD_CONTAINER;
	const char *pod = a->pod ? a->target : a->spec.name;
	bool in_tty = isatty(STDIN_FILENO);
	int code;

	if (!k)
		goto fail;
	if (a->ship.on)
		return ship_shell(&a->ship, k, created_fd, &a->spec, command, (int)a->timeout_ms);
	a->spec.open_stdin = true;
	a->spec.tty = in_tty;
	if (a->pod) {
		cJSON *c = debugpod_ephemeral(&a->spec), *out = NULL;
		int rc = kube_add_ephemeral_container(k, a->spec.ns, a->target, c, &out, err, sizeof(err));
		cJSON_Delete(c);
		cJSON_Delete(out);
		if (rc)
			goto fail;
	} else {
		if (debugpod_check_node(k, a->target, "retina's shell", err, sizeof(err)))
			goto fail;
		if (debugpod_create(k, created_fd, &a->spec, err, sizeof(err)))
			goto fail;
	}
	struct debugpod_wait w = { .container = container, .ephemeral = a->pod, .progress = progress, .arg = a };
	if (debugpod_wait(k, a->spec.ns, pod, (int)a->timeout_ms, &w, err, sizeof(err))) {
		debugpod_progress_end();
		warnx("%s", err);
		if (strstr(err, "timed out") || strstr(err, "runtime refused"))
			debugpod_print_events(k, a->spec.ns, pod);
		return EXIT_FAIL;
	}
	debugpod_progress_end();
	struct kube_exec_opts eo = {
		.ns = a->spec.ns, .pod = pod, .container = container,
		.command = (const char *const *)command, .attach = !command,
		.tty = command ? in_tty && isatty(STDOUT_FILENO) : in_tty,
		.in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO,
	};
	if (!command && in_tty)
		fputs("If you don't see a command prompt, try pressing enter.\r\n", stderr);
	if (kube_exec(k, &eo, &code, err, sizeof(err)))
		goto fail;
	if (!command && code == 0) {
		/* attach ends with Success whatever the shell did: its exit code is in the pod's status */
		if (debugpod_exit_code(k, a->spec.ns, pod, container, a->pod, ATTACH_EXIT_WAIT_MS, &code,
				       err, sizeof(err))) {
			warnx("the shell's connection ended but its exit code is unknown: %s", err);
			return EXIT_FAIL;
		}
	}
	return code < 0 ? EXIT_FAIL : code;
fail:
	debugpod_progress_end();
	warnx("%s", err);
	return EXIT_FAIL;
}

struct shell_run {
	struct shell_args *a;
	char **command;
	const struct kube_config *cfg;
};

static int shell_child(void *arg, int created_fd)
{
	struct shell_run *r = arg;

	return run_shell(r->a, r->command, r->cfg, created_fd);
}

int kubectl_shell_main(int argc, char **argv)
{
	struct shell_args a = { 0 };
	struct kube_config cfg = { 0 };
	char **command, err[1024];

	parse_args(argc, argv, &a, &command);
	if (kube_config_load(&a.load, &cfg, err, sizeof(err)))
		die(EXIT_FAIL, "%s", err);
	a.spec.ns = cfg.namespace;
	/* named here, not by generateName: the parent can delete it even if the create's answer is lost */
	debugpod_name(a.name, sizeof(a.name), "retina-shell-");
	a.spec.name = a.name;
	a.spec.node = a.pod ? NULL : a.target;

	struct shell_run r = { &a, command, &cfg };
	struct debugpod_super sup = { .cfg = &cfg, .verbosity = a.verbosity, .signal_sets_code = true,
				      .child = shell_child, .arg = &r };
	int code = debugpod_supervise(&sup);
	kube_config_free(&cfg);
	ship_free(&a.ship);
	return code;
}

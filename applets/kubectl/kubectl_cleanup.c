/*
 * kubectl retina cleanup: delete debug pods left behind (the shell deletes
 * its own; this is for a client killed with SIGKILL or a lost connection).
 */
#include <stdio.h>
#include <string.h>

#include "applets/kubectl/kubectl_retina.h"
#include "kube/client.h"
#include "kube/debugpod.h"
#include "kube/kubeconfig.h"
#include "lib/retina.h"

const char kubectl_cleanup_help[] =
	"usage: kubectl retina cleanup [-A] [-n NS] [--kubeconfig FILE] [--context NAME] [--request-timeout D]\n"
	"\n"
	"Delete the pods retina started (label app.kubernetes.io/managed-by=kubectl-retina)\n"
	"in the namespace, or in every namespace with -A.\n"
	"\n"
	"Options:\n"
	"  -A, --all-namespaces   every namespace\n"
	"  -n, --namespace NS     this namespace (default: the context's)\n"
	"      --kubeconfig FILE  kubeconfig file\n"
	"      --context NAME     kubeconfig context\n"
	"      --request-timeout D  give up on an API request after D (30s; 0: never)\n"
	"\n"
	"Examples:\n"
	"  kubectl retina cleanup\n"
	"  kubectl retina cleanup --all-namespaces\n";

int kubectl_cleanup_main(int argc, char **argv)
{
	const struct kubectl_cmd *cmd = kubectl_cmd_find("cleanup");
	struct kube_load_opts lo = { 0 };
	struct kube_config cfg = { 0 };
	bool all = false;
	char err[1024];
	int c, failed = 0, n = 0;

	optind = 1;
	while ((c = next_opt(argc, argv, cmd->shortopts, cmd->longopts)) != -1) {
		if (kubectl_connection_opt(c, optarg, &lo))
			continue;
		switch (c) {
		case 'A': all = true; break;
		case 'h': show_help(kubectl_cleanup_help);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (all && lo.namespace)
		usage_error("-A and -n exclude each other");
	if (kube_config_load(&lo, &cfg, err, sizeof(err)))
		die(EXIT_FAIL, "%s", err);
	struct kube_client *k = kube_client_new(&cfg, 0, err, sizeof(err));
	cJSON *list = NULL, *pod;
	if (!k || debugpod_list_managed(k, all ? NULL : cfg.namespace, &list, err, sizeof(err)))
		die(EXIT_FAIL, "%s", err);
	cJSON_ArrayForEach(pod, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
		cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
		cJSON *ns = cJSON_GetObjectItemCaseSensitive(md, "namespace");
		if (!cJSON_IsString(name) || !cJSON_IsString(ns))
			continue;
		if (kube_delete_pod(k, ns->valuestring, name->valuestring, err, sizeof(err))) {
			warnx("%s", err);
			failed++;
		} else {
			printf("pod %s/%s deleted\n", ns->valuestring, name->valuestring);
			n++;
		}
	}
	if (!n && !failed)
		printf("no pods left by kubectl-retina %s%s\n", all ? "in any namespace" : "in namespace ",
		       all ? "" : cfg.namespace);
	cJSON_Delete(list);
	kube_client_free(k);
	kube_config_free(&cfg);
	return failed ? EXIT_FAIL : EXIT_OK;
}

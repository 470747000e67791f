/*
 * kubectl_complete-retina: kubectl 1.26+ completes `kubectl retina ...` by
 * running this (found on PATH) with the words typed after "retina", the last
 * one being the word under the cursor, and reading candidate lines plus a
 * ":DIRECTIVE" line. `kubectl-retina __complete WORDS...` answers the same
 * (the scripts of `kubectl retina completion bash|zsh` call it).
 * Whatever happens, it exits 0 quickly: a completion must never hang a shell.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/kubectl/kubectl_retina.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "lib/retina.h"

/* Each network step (connect, TLS, a read) gets this long; the whole answer COMPLETE_DEADLINE_S. */
#define COMPLETE_TIMEOUT_MS 2000
#define COMPLETE_DEADLINE_S 3

const char kubectl_complete_retina_help[] =
	"usage: kubectl_complete-retina [__complete] WORDS... CURRENT\n"
	"\n"
	"Shell completion for `kubectl retina`: kubectl 1.26+ runs this link (found on PATH)\n"
	"with the words after \"retina\", the last one being the word to complete (\"\" for a\n"
	"new word), and reads one candidate a line and a last line \":N\" (cobra's\n"
	"ShellCompDirective: 2 no space, 4 no file names). Subcommands, flags, -o and\n"
	"--capabilities values, contexts, and node, pod and namespace names from the API\n"
	"server (each step at most 2 s, all of it at most 3 s; no server, no names).\n"
	"RETINA_COMPLETION_DEBUG=1 prints why names are missing to stderr.\n"
	"\n"
	"Examples:\n"
	"  kubectl_complete-retina shell ''\n"
	"  kubectl_complete-retina bpftrace node-1 --\n"
	"  kubectl __complete retina shell -n web pods/   (what kubectl does on <TAB>)\n";

const char kubectl_completion_help[] =
	"usage: kubectl retina completion bash|zsh\n"
	"\n"
	"Print a shell completion script for kubectl-retina and `kubectl retina`, for shells\n"
	"where kubectl's own completion does not complete plugins (kubectl before 1.26, or\n"
	"kubectl's completion not loaded). It asks `kubectl-retina __complete` for candidates.\n"
	"Load it after kubectl's own completion.\n"
	"\n"
	"Examples:\n"
	"  source <(kubectl retina completion bash)      # in ~/.bashrc\n"
	"  source <(kubectl retina completion zsh)       # in ~/.zshrc, after compinit\n";

static const char bash_script[] =
	"# bash completion for kubectl-retina and `kubectl retina`\n"
	"# install: source <(kubectl retina completion bash), after kubectl's own completion\n"
	"_kubectl_retina() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} start=1 out directive=0 line cut i n\n"
	"\tlocal -a words lines\n"
	"\t# bash splits words at '=' and ':' (COMP_WORDBREAKS): glue them back\n"
	"\tfor ((i = 0; i <= COMP_CWORD; i++)); do\n"
	"\t\tif ((i > 1)) && [[ ${COMP_WORDS[i]} == [=:] || ${COMP_WORDS[i-1]} == [=:] ]]; then\n"
	"\t\t\twords[${#words[@]}-1]+=${COMP_WORDS[i]}\n"
	"\t\telse\n"
	"\t\t\twords+=(\"${COMP_WORDS[i]}\")\n"
	"\t\tfi\n"
	"\tdone\n"
	"\t# readline replaces the text after the last '=' or ':'; candidates lose what is before it\n"
	"\tcut=${words[${#words[@]}-1]}\n"
	"\t[[ $cur == [=:] ]] || cut=${cut%\"$cur\"}\n"
	"\t[[ ${words[0]##*/} == kubectl ]] && start=2\n"
	"\tCOMPREPLY=()\n"
	"\tout=$(kubectl-retina __complete \"${words[@]:start}\" 2>/dev/null) || return 0\n"
	"\tmapfile -t lines <<<\"$out\"\n"
	"\tn=${#lines[@]}\n"
	"\tif ((n)) && [[ ${lines[n-1]} == :* ]]; then\n"
	"\t\tdirective=${lines[n-1]#:}\n"
	"\t\t((n--))\n"
	"\tfi\n"
	"\t((directive & 1)) && return 0\n"
	"\tfor ((i = 0; i < n; i++)); do\n"
	"\t\tline=${lines[i]%%$'\\t'*}\n"
	"\t\t[[ -n $line ]] && COMPREPLY+=(\"${line#\"$cut\"}\")\n"
	"\tdone\n"
	"\tif ((directive & 2)); then compopt -o nospace 2>/dev/null; fi\n"
	"\tif ((directive & 4)); then compopt +o default 2>/dev/null; fi\n"
	"\treturn 0\n"
	"}\n"
	"# `kubectl retina ...` here, anything else to kubectl's own completion\n"
	"_kubectl_retina_kubectl() {\n"
	"\tif ((COMP_CWORD >= 2)) && [[ ${COMP_WORDS[1]} == retina ]]; then\n"
	"\t\t_kubectl_retina\n"
	"\telif [[ -n ${_kubectl_retina_orig-} ]]; then\n"
	"\t\t\"$_kubectl_retina_orig\" \"$@\"\n"
	"\tfi\n"
	"}\n"
	"if [[ $(complete -p kubectl 2>/dev/null) =~ -F\\ ([^ ]+) && ${BASH_REMATCH[1]} != _kubectl_retina_kubectl ]]; then\n"
	"\t_kubectl_retina_orig=${BASH_REMATCH[1]}\n"
	"fi\n"
	"complete -o default -F _kubectl_retina kubectl-retina\n"
	"complete -o default -F _kubectl_retina_kubectl kubectl\n";

static const char zsh_script[] =
	"#compdef kubectl-retina\n"
	"# zsh completion for kubectl-retina and `kubectl retina`\n"
	"# install: source <(kubectl retina completion zsh), after compinit and kubectl's completion\n"
	"_kubectl_retina() {\n"
	"\tlocal -a args lines comps\n"
	"\tlocal out line directive=0 pfx=\n"
	"\tif [[ ${words[1]:t} == kubectl ]]; then\n"
	"\t\targs=(\"${(@)words[3,CURRENT]}\")\n"
	"\telse\n"
	"\t\targs=(\"${(@)words[2,CURRENT]}\")\n"
	"\tfi\n"
	"\tout=$(kubectl-retina __complete \"${(@)args}\" 2>/dev/null) || return 1\n"
	"\tlines=(\"${(@f)out}\")\n"
	"\tif [[ ${lines[-1]} == :* ]]; then\n"
	"\t\tdirective=${lines[-1]#:}\n"
	"\t\tlines[-1]=()\n"
	"\tfi\n"
	"\t(( directive & 1 )) && return 1\n"
	"\t# --flag=VALUE: the candidates are values; the flag goes before them\n"
	"\t[[ ${words[CURRENT]} == -*=* ]] && pfx=\"${words[CURRENT]%%=*}=\"\n"
	"\tfor line in \"${(@)lines}\"; do\n"
	"\t\t[[ -n $line ]] && comps+=(\"${line%%$'\\t'*}\")\n"
	"\tdone\n"
	"\tif (( ${#comps} )); then\n"
	"\t\tif (( directive & 2 )); then\n"
	"\t\t\tcompadd -Q -P \"$pfx\" -S '' -- \"${(@)comps}\"\n"
	"\t\telse\n"
	"\t\t\tcompadd -Q -P \"$pfx\" -- \"${(@)comps}\"\n"
	"\t\tfi\n"
	"\telif (( !(directive & 4) )); then\n"
	"\t\t_files\n"
	"\tfi\n"
	"}\n"
	"_kubectl_retina_kubectl() {\n"
	"\tif (( CURRENT > 2 )) && [[ ${words[2]} == retina ]]; then\n"
	"\t\t_kubectl_retina\n"
	"\telif [[ -n ${_kubectl_retina_orig-} ]]; then\n"
	"\t\t\"$_kubectl_retina_orig\" \"$@\"\n"
	"\telse\n"
	"\t\t_files\n"
	"\tfi\n"
	"}\n"
	"if (( $+functions[compdef] )); then\n"
	"\tif [[ -n ${_comps[kubectl]-} && ${_comps[kubectl]} != _kubectl_retina_kubectl ]]; then\n"
	"\t\t_kubectl_retina_orig=${_comps[kubectl]}\n"
	"\tfi\n"
	"\tcompdef _kubectl_retina kubectl-retina\n"
	"\tcompdef _kubectl_retina_kubectl kubectl\n"
	"else\n"
	"\techo 'kubectl-retina completion: run compinit first (autoload -U compinit; compinit)' >&2\n"
	"fi\n";

int kubectl_completion_main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		show_help(kubectl_completion_help);
	if (argc != 2)
		usage_error("which shell? kubectl retina completion bash|zsh");
	if (!strcmp(argv[1], "bash"))
		fputs(bash_script, stdout);
	else if (!strcmp(argv[1], "zsh"))
		fputs(zsh_script, stdout);
	else
		usage_error("no completion for shell '%s': bash or zsh", argv[1]);
	return EXIT_OK;
}

/* The deadline passed: no names, and the shell goes on (stderr is /dev/null unless debugging). */
static void on_alarm(int sig)
{
	static const char answer[] = ":4\n";
	static const char why[] = "kubectl_complete-retina: no names within the deadline\n";
	ssize_t r;

	(void)sig;
	r = write(STDOUT_FILENO, answer, sizeof(answer) - 1);
	r = write(STDERR_FILENO, why, sizeof(why) - 1);
	(void)r;
	_exit(0);
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n <= 253 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") == n;
}

/* items[].metadata.name of a list from the API. */
static int add_names(struct kcomp *c, struct kube_client *k, const char *path, char *err, size_t errlen)
{
	cJSON *list = NULL, *item;

	if (kube_request(k, "GET", path, NULL, NULL, &list, NULL, err, errlen))
		return -1;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		cJSON *md = cJSON_GetObjectItemCaseSensitive(item, "metadata");
		cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
		if (cJSON_IsString(name) && kcomp_add(c, name->valuestring))
			break;
	}
	cJSON_Delete(list);
	return 0;
}

static int fetch(struct kcomp *c, char *err, size_t errlen)
{
	struct kube_load_opts lo = { .kubeconfig = c->kubeconfig, .context = c->context, .namespace = c->namespace };
	struct kube_config cfg;
	struct kube_client *k;
	char path[320];
	int rc = -1;

	if (c->fetch == KCF_CONTEXTS) {
		char **names;
		size_t n;
		if (kube_config_contexts(&lo, &names, &n, err, errlen))
			return -1;
		for (size_t i = 0; i < n; i++) {
			kcomp_add(c, names[i]);
			free(names[i]);
		}
		free(names);
		return 0;
	}
	if (kube_config_load(&lo, &cfg, err, errlen))
		return -1;
	if (!(k = kube_client_new(&cfg, 0, err, errlen)))
		goto out;
	kube_client_set_timeout(k, COMPLETE_TIMEOUT_MS);
	/* names only: a big cluster's full NodeList is tens of MB, its metadata a tenth */
	kube_client_set_accept(k, "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json");
	switch (c->fetch) {
	case KCF_NODES:
		rc = add_names(c, k, "/api/v1/nodes", err, errlen);
		break;
	case KCF_PODS:
		if (!name_ok(cfg.namespace)) {
			snprintf(err, errlen, "namespace '%s' is not a valid name", cfg.namespace);
			break;
		}
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", cfg.namespace);
		rc = add_names(c, k, path, err, errlen);
		break;
	case KCF_NAMESPACES:
		rc = add_names(c, k, "/api/v1/namespaces", err, errlen);
		break;
	default:
		rc = 0;
	}
	kube_client_free(k);
out:
	kube_config_free(&cfg);
	return rc;
}

int kubectl_complete_words(int argc, char **argv)
{
	struct kcomp c = { 0 };
	char err[1024] = "";

	/* kubectl hands the terminal's stderr on: warnings (insecure TLS, an exec
	 * plugin's chatter) would land in the middle of the command line */
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		if (!getenv("RETINA_COMPLETION_DEBUG"))
			dup2(fd, STDERR_FILENO);
		/* and stdin is the terminal: no credential plugin may prompt on it */
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(COMPLETE_DEADLINE_S);
	kcomp_run(&c, argc - 1, argv + 1);
	if (c.fetch != KCF_NONE && fetch(&c, err, sizeof(err)) && getenv("RETINA_COMPLETION_DEBUG"))
		fprintf(stderr, "kubectl_complete-retina: %s\n", err);
	alarm(0);
	char *out = kcomp_format(&c);
	fputs(out ? out : ":4\n", stdout);
	free(out);
	kcomp_free(&c);
	return EXIT_OK;
}

int kubectl_complete_retina_main(int argc, char **argv)
{
	/* kubectl runs us with the words alone; the cobra spelling with __complete works too */
	if (argc > 1 && !strcmp(argv[1], "__complete"))
		argc--, argv++;
	return kubectl_complete_words(argc, argv);
}

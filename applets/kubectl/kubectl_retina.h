/*
 * Subcommands of the kubectl plugin (applets/kubectl_retina.c dispatches),
 * their option tables (applets/kubectl_cmds_rules.c: getopt parsing and shell
 * completion read the same table, so they cannot drift) and the completion
 * engine (applets/kubectl_complete_rules.c).
 */
#ifndef RETINA_APPLETS_KUBECTL_RETINA_H
#define RETINA_APPLETS_KUBECTL_RETINA_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

extern const char kubectl_shell_help[];
/* argv[0] is "shell". */
int kubectl_shell_main(int argc, char **argv);

extern const char kubectl_cleanup_help[];
int kubectl_cleanup_main(int argc, char **argv);

/* (its help is built from the trace flag table: bt_parse_args prints it) */
int kubectl_bpftrace_main(int argc, char **argv);

extern const char kubectl_completion_help[];
/* `kubectl retina completion bash|zsh`: print the script. */
int kubectl_completion_main(int argc, char **argv);
/* `kubectl-retina __complete WORDS... CURRENT`: what kubectl_complete-retina prints. */
int kubectl_complete_words(int argc, char **argv);

/* getopt ids of the long-only options (single-letter options use the letter). */
enum kubectl_opt_id {
	KO_KUBECONFIG = 256, KO_CONTEXT, KO_TIMEOUT, KO_REPO, KO_VERSION, KO_TARGET, KO_HOSTPID,
	KO_APPARMOR, KO_SECCOMP, KO_STARTUP, KO_MAX_NODES, KO_REQTIMEOUT,
	KO_POD_SELECTOR,
	/* (the trace flags of bpftrace are applets/trace/trace_opts.h's rows) */
	KO_SHIP, KO_BINARIES,
};

struct kube_load_opts;
/* The connection options every subcommand shares (--kubeconfig, --context,
 * -n, --request-timeout): stores option c's arg in lo and returns true, or
 * returns false for any other option. A bad value exits 2. */
bool kubectl_connection_opt(int c, const char *arg, struct kube_load_opts *lo);

/* What a subcommand's positional arguments are, for completion. */
enum kubectl_args {
	KA_NONE,	/* cleanup */
	KA_NODE,	/* bpftrace NODE | node/NODE */
	KA_TARGET,	/* shell NODE | node/NODE | pods/POD [-- COMMAND] */
	KA_SHELL_NAME,	/* completion bash|zsh */
};

struct kubectl_cmd {
	const char *name;
	const char *summary;		/* as `kubectl retina --help` lists it; completion shows it too */
	const struct option *longopts;	/* the getopt table the subcommand parses with */
	const char *shortopts;
	enum kubectl_args args;
};

/* shell, bpftrace, cleanup, completion: in the order help lists them. */
extern const struct kubectl_cmd kubectl_cmds[];
extern const size_t kubectl_ncmds;
const struct kubectl_cmd *kubectl_cmd_find(const char *name);
/* Options that may be given more than once (completion offers them again). */
bool kubectl_opt_repeatable(const struct option *o);

/* ---- completion (pure: no I/O; the applet fetches names from the API) ---- */

/* Cobra's ShellCompDirective bits, as kubectl reads them from ":N". */
enum {
	KCOMP_ERROR = 1,
	KCOMP_NOSPACE = 2,
	KCOMP_NOFILE = 4,
};

/* Names the completion needs from the cluster or the kubeconfig. */
enum kcomp_fetch {
	KCF_NONE,
	KCF_NODES,
	KCF_PODS,		/* in the namespace of -n, else the context's */
	KCF_CONTEXTS,
	KCF_NAMESPACES,
};

struct kcomp {
	/* --kubeconfig/--context/-n typed before the word being completed */
	const char *kubeconfig, *context, *namespace;
	enum kcomp_fetch fetch;
	const char *match;	/* candidates (without emit) must start with this */
	char emit[128];		/* printed before each candidate: "pods/", "NET_RAW," */
	int directive;
	char **cands;
	size_t n, cap;
	bool ran;		/* kcomp_run is done: what is added now comes from the API */
	size_t nstatic;		/* candidates kcomp_run added */
};

/*
 * Decide what to complete. words: what follows `kubectl retina`, the last
 * one being the word under the cursor ("" for a new word); nwords 0 means [""].
 * Static candidates (subcommands, flags, finite values) are added here;
 * for "--flag=VAL" the candidates are values alone, as cobra gives them;
 * c->fetch says what else the caller should look up and kcomp_add.
 */
void kcomp_run(struct kcomp *c, int nwords, char *const words[]);
/* Add name when it starts with c->match (stored with c->emit before it) and is not a candidate
 * kcomp_run added (names of one API list are unique). 0, or -1 out of memory.
 * Subcommands carry a description: "shell\tstart a debug shell..." (cobra's format). */
int kcomp_add(struct kcomp *c, const char *name);
/* The answer kubectl reads: one candidate a line, then ":DIRECTIVE". malloc'd. */
char *kcomp_format(const struct kcomp *c);
void kcomp_free(struct kcomp *c);

#endif

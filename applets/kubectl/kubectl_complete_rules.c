/*
 * Completion of `kubectl retina ...` words: kubectl 1.26+ runs
 * `kubectl_complete-retina WORDS... CURRENT` and reads candidate lines and a
 * last ":N" line (cobra's ShellCompDirective). This file decides what to
 * offer from the subcommand's option table; the applet (kubectl_complete.c)
 * adds the names that come from the cluster.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/kubectl/kubectl_retina.h"
#include "lib/caps.h"

/* name (after c->emit), and "\tdesc" when given: cobra's candidate with a description. */
static int add(struct kcomp *c, const char *name, const char *desc)
{
	const char *m = c->match ? c->match : "";
	size_t el = strlen(c->emit), nl = strlen(name), dl = desc ? strlen(desc) + 1 : 0;

	if (strncmp(name, m, strlen(m)) || !nl || strpbrk(name, "\n\r\t"))
		return 0;
	/* names of one API list are unique: only the static candidates need a look */
	for (size_t i = 0; i < (c->ran && c->nstatic < c->n ? c->nstatic : c->n); i++)
		if (!strncmp(c->cands[i], c->emit, el) && !strncmp(c->cands[i] + el, name, nl) &&
		    (!c->cands[i][el + nl] || c->cands[i][el + nl] == '\t'))
			return 0;	/* once is enough */
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **v = realloc(c->cands, cap * sizeof(*v));
		if (!v)
			return -1;
		c->cands = v;
		c->cap = cap;
	}
	char *s = malloc(el + nl + dl + 1);
	if (!s)
		return -1;
	memcpy(s, c->emit, el);
	memcpy(s + el, name, nl + 1);
	if (desc) {
		s[el + nl] = '\t';
		memcpy(s + el + nl + 1, desc, dl);
	}
	c->cands[c->n++] = s;
	return 0;
}

int kcomp_add(struct kcomp *c, const char *name)
{
	return add(c, name, NULL);
}

void kcomp_free(struct kcomp *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->cands[i]);
	free(c->cands);
	c->cands = NULL;
	c->n = c->cap = c->nstatic = 0;
	c->ran = false;
}

char *kcomp_format(const struct kcomp *c)
{
	size_t len = 16;
	int directive = c->directive;
	bool all_dirs = c->n > 0;

	for (size_t i = 0; i < c->n; i++) {
		size_t l = strcspn(c->cands[i], "\t");
		len += strlen(c->cands[i]) + 1;
		all_dirs = all_dirs && c->cands[i][l - 1] == '/';
	}
	/* "pods/" alone: the user goes on typing the name, no space after it */
	if (all_dirs)
		directive |= KCOMP_NOSPACE;
	char *out = malloc(len), *p = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		p += sprintf(p, "%s\n", c->cands[i]);
	sprintf(p, ":%d\n", directive);
	return out;
}

static const struct option *opt_by_val(const struct kubectl_cmd *cmd, int val)
{
	for (const struct option *o = cmd->longopts; o->name; o++)
		if (o->val == val)
			return o;
	return NULL;
}

/* As getopt_long finds it: the exact name, else a prefix of exactly one. */
static const struct option *opt_by_name(const struct kubectl_cmd *cmd, const char *name, size_t len)
{
	const struct option *found = NULL;
	int n = 0;

	for (const struct option *o = cmd->longopts; o->name; o++) {
		if (strncmp(o->name, name, len))
			continue;
		if (strlen(o->name) == len)
			return o;
		found = o;
		n++;
	}
	return len && n == 1 ? found : NULL;
}

static void set_emit(struct kcomp *c, const char *s, size_t len)
{
	if (len >= sizeof(c->emit))
		len = 0;	/* absurdly long: offer nothing rather than a wrong prefix */
	memcpy(c->emit, s, len);
	c->emit[len] = '\0';
}

/* The capabilities named in the first len bytes of a comma list (unknown names ignored). */
static uint64_t caps_listed(const char *list, size_t len)
{
	uint64_t mask = 0;
	char name[64];

	while (len) {
		size_t n = strcspn(list, ",");
		if (n > len)
			n = len;
		if (n < sizeof(name)) {
			memcpy(name, list, n);
			name[n] = '\0';
			int cap = cap_from_name(name);
			if (cap >= 0)
				mask |= CAPBIT(cap);
		}
		list += n;
		len -= n;
		if (len) {
			list++;
			len--;
		}
	}
	return mask;
}

/* The value of option o; cur is what is typed of it so far. */
static void complete_value(struct kcomp *c, const struct option *o, const char *cur)
{
	c->match = cur;
	if (!strcmp(o->name, "output")) {
		kcomp_add(c, "table");
		kcomp_add(c, "json");
	} else if (!strcmp(o->name, "capabilities")) {
		/* a comma list: complete its last element */
		const char *comma = strrchr(cur, ',');
		uint64_t given = 0;
		if (comma) {
			set_emit(c, cur, comma + 1 - cur);
			c->match = comma + 1;
			given = caps_listed(cur, comma - cur);
		}
		for (int i = 0; cap_name(i); i++)
			if (!(given & CAPBIT(i)))
				kcomp_add(c, cap_name(i));
	} else if (!strcmp(o->name, "stack")) {
		kcomp_add(c, "drops");
		kcomp_add(c, "all");
	} else if (!strcmp(o->name, "kubeconfig") || !strcmp(o->name, "write")) {
		c->directive = 0;	/* a file: the shell's own file completion */
	} else if (!strcmp(o->name, "context")) {
		c->fetch = KCF_CONTEXTS;
	} else if (!strcmp(o->name, "namespace")) {
		c->fetch = KCF_NAMESPACES;
	}
}

/* NODE, node/NODE, or (shell) pods/POD. */
static void complete_target(struct kcomp *c, const char *cur, bool pods)
{
	static const char *const node_kinds[] = { "node", "nodes", "no" };
	static const char *const pod_kinds[] = { "pods", "pod", "po" };
	const char *slash = strchr(cur, '/');

	c->match = cur;
	if (!slash) {
		c->fetch = KCF_NODES;
		/* not for "": with no server it would be the only candidate, typed in for the user */
		if (pods && cur[0])
			kcomp_add(c, "pods/");
		return;
	}
	size_t n = slash - cur;
	for (size_t i = 0; i < 3; i++) {
		if (strlen(node_kinds[i]) == n && !strncmp(cur, node_kinds[i], n))
			c->fetch = KCF_NODES;
		if (pods && strlen(pod_kinds[i]) == n && !strncmp(cur, pod_kinds[i], n))
			c->fetch = KCF_PODS;
	}
	if (c->fetch != KCF_NONE) {
		set_emit(c, cur, n + 1);
		c->match = slash + 1;
	}
}

static void remember(struct kcomp *c, const struct option *o, const char *value)
{
	if (o->val == KO_KUBECONFIG)
		c->kubeconfig = value;
	else if (o->val == KO_CONTEXT)
		c->context = value;
	else if (o->val == 'n')
		c->namespace = value;
}

static void run(struct kcomp *c, int nwords, char *const words[]);

void kcomp_run(struct kcomp *c, int nwords, char *const words[])
{
	run(c, nwords, words);
	c->ran = true;
	c->nstatic = c->n;
}

/* What the words before the current one were, walked as getopt would. */
struct walk {
	const struct option *pending;	/* the last word is an option whose value is being typed */
	bool dashdash;
	int positionals;
	unsigned char seen[64];		/* by index in cmd->longopts */
};

/* -mw, -nfoo, -n foo; returns the index of the last word it took. */
static int walk_short(struct kcomp *c, const struct kubectl_cmd *cmd, int nwords, char *const words[], int i,
		      struct walk *w)
{
	const struct option *o;

	for (const char *p = words[i] + 1; *p; p++) {
		const char *s = strchr(cmd->shortopts, *p);
		if (!s || *p == ':' || !(o = opt_by_val(cmd, *p)))
			break;
		w->seen[(o - cmd->longopts) & 63] = 1;
		if (s[1] != ':')
			continue;
		if (p[1])
			remember(c, o, p + 1);
		else if (i + 1 < nwords - 1)
			remember(c, o, words[++i]);
		else
			w->pending = o;
		break;
	}
	return i;
}

static void walk(struct kcomp *c, const struct kubectl_cmd *cmd, int nwords, char *const words[], struct walk *w)
{
	for (int i = 1; i < nwords - 1; i++) {
		const char *word = words[i];
		if (w->dashdash || word[0] != '-' || !word[1]) {
			w->positionals++;
			continue;
		}
		if (!strcmp(word, "--")) {
			w->dashdash = true;
			continue;
		}
		if (word[1] != '-') {
			i = walk_short(c, cmd, nwords, words, i, w);
			continue;
		}
		const char *eq = strchr(word, '=');
		const struct option *o = opt_by_name(cmd, word + 2, eq ? (size_t)(eq - word - 2) : strlen(word + 2));
		if (!o)
			continue;
		w->seen[(o - cmd->longopts) & 63] = 1;
		if (o->has_arg != required_argument)
			continue;
		if (eq)
			remember(c, o, eq + 1);
		else if (i + 1 < nwords - 1)
			remember(c, o, words[++i]);
		else
			w->pending = o;
	}
}

/* The flags not given yet (and the repeatable ones), long and short. */
static void offer_flags(struct kcomp *c, const struct kubectl_cmd *cmd, const struct walk *w, const char *cur)
{
	c->match = cur;
	for (const struct option *o = cmd->longopts; o->name; o++) {
		char name[80];
		if (w->seen[(o - cmd->longopts) & 63] && !kubectl_opt_repeatable(o))
			continue;
		snprintf(name, sizeof(name), "--%s", o->name);
		kcomp_add(c, name);
		if (o->val < 256 && strchr(cmd->shortopts, o->val)) {
			snprintf(name, sizeof(name), "-%c", o->val);
			kcomp_add(c, name);
		}
	}
}

/* The first positional word: a node, a pod, a shell's name. */
static void offer_positional(struct kcomp *c, const struct kubectl_cmd *cmd, const char *cur)
{
	switch (cmd->args) {
	case KA_TARGET:
		complete_target(c, cur, true);
		break;
	case KA_NODE:
		complete_target(c, cur, false);
		break;
	case KA_SHELL_NAME:
		c->match = cur;
		kcomp_add(c, "bash");
		kcomp_add(c, "zsh");
		break;
	case KA_NONE:
		break;
	}
}

static void run(struct kcomp *c, int nwords, char *const words[])
{
	static char *const empty[] = { "" };
	const struct kubectl_cmd *cmd;
	struct walk w = { 0 };

	c->directive = KCOMP_NOFILE;
	c->match = "";
	if (nwords <= 0) {
		nwords = 1;
		words = empty;
	}
	const char *cur = words[nwords - 1];
	if (nwords == 1) {
		c->match = cur;
		if (cur[0] == '-') {
			kcomp_add(c, "--help");
			kcomp_add(c, "-h");
			return;
		}
		for (size_t i = 0; i < kubectl_ncmds; i++)
			add(c, kubectl_cmds[i].name, kubectl_cmds[i].summary);
		return;
	}
	if (!(cmd = kubectl_cmd_find(words[0])))
		return;
	walk(c, cmd, nwords, words, &w);
	if (w.pending) {
		complete_value(c, w.pending, cur);
		return;
	}
	if (w.dashdash)
		return;		/* the command run in the shell: nothing to offer from here */
	if (cur[0] == '-' && cur[1] == '-' && strchr(cur, '=')) {
		const char *eq = strchr(cur, '=');
		const struct option *o = opt_by_name(cmd, cur + 2, eq - cur - 2);
		/* the value alone, as cobra answers: its shells complete the text after '=' */
		if (o && o->has_arg != no_argument)	/* --stack=all: an optional value only ever follows '=' */
			complete_value(c, o, eq + 1);
		return;
	}
	if (cur[0] == '-')
		offer_flags(c, cmd, &w, cur);
	else if (!w.positionals)
		offer_positional(c, cmd, cur);
}

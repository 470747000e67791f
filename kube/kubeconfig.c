/* kubeconfig files: parsing with libyaml and kubectl's merge rules (see kubeconfig.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "kube/kubeconfig.h"

/* ---- small helpers ---- */

char *kube_read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, used = 0;
	char *buf = NULL;

	if (fd < 0)
		return NULL;
	for (;;) {
		if (!buf || used == cap) {
			if (buf)
				cap *= 2;
			if (cap > max + 1)
				cap = max + 1;
			char *p = realloc(buf, cap + 1);
			if (!p || (buf && used == cap)) {
				free(p ? p : buf);
				close(fd);
				errno = p ? EFBIG : ENOMEM;
				return NULL;
			}
			buf = p;
		}
		ssize_t n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		used += n;
		if (used > max) {
			free(buf);
			close(fd);
			errno = EFBIG;
			return NULL;
		}
	}
	close(fd);
	buf[used] = '\0';
	if (len)
		*len = used;
	return buf;
}

/* ---- YAML document walking ---- */

struct doc {
	yaml_document_t d;
	char *err;
	size_t errlen;
};

static yaml_node_t *node(struct doc *y, int i)
{
	return yaml_document_get_node(&y->d, i);
}

static yaml_node_t *map_get(struct doc *y, yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(y, p->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return node(y, p->value);
	}
	return NULL;
}

/* The scalar at key (NULL when absent or null); -1 when it is not a scalar. */
static int get_str(struct doc *y, yaml_node_t *m, const char *key, const char *where, char **out)
{
	yaml_node_t *n = map_get(y, m, key);

	if (!n)
		return 0;
	if (n->type != YAML_SCALAR_NODE) {
		snprintf(y->err, y->errlen, "%s: '%s' must be a string", where, key);
		return -1;
	}
	const char *v = (const char *)n->data.scalar.value;
	/* an unquoted ~ or null is YAML's null */
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (!strcmp(v, "~") || !strcmp(v, "null")))
		return 0;
	free(*out);
	*out = strdup(v);
	return *out ? 0 : -1;
}

static int get_bool(struct doc *y, yaml_node_t *m, const char *key, const char *where, bool *out)
{
	char *s = NULL;

	if (get_str(y, m, key, where, &s))
		return -1;
	if (!s)
		return 0;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
		*out = true;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
		*out = false;
	else {
		snprintf(y->err, y->errlen, "%s: '%s' must be true or false, not '%.20s'", where, key, s);
		free(s);
		return -1;
	}
	free(s);
	return 0;
}

/* Resolve a path from a kubeconfig against its directory, in place. */
static int resolve(char **path, const char *dir)
{
	if (!*path || !**path || **path == '/' || !dir)
		return 0;
	size_t n = strlen(dir) + strlen(*path) + 2;
	char *p = malloc(n);
	if (!p)
		return -1;
	snprintf(p, n, "%s/%s", dir, *path);
	free(*path);
	*path = p;
	return 0;
}

static char **str_list(struct doc *y, yaml_node_t *seq, const char *where, const char *key)
{
	size_t n = 0;
	char **v;

	if (seq && seq->type != YAML_SEQUENCE_NODE) {
		snprintf(y->err, y->errlen, "%s: '%s' must be a list", where, key);
		return NULL;
	}
	if (seq)
		n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	if (!(v = calloc(n + 1, sizeof(*v))))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = node(y, seq->data.sequence.items.start[i]);
		if (!it || it->type != YAML_SCALAR_NODE) {
			snprintf(y->err, y->errlen, "%s: '%s' must be a list of strings", where, key);
			goto bad;
		}
		if (!(v[i] = strdup((const char *)it->data.scalar.value)))
			goto bad;
	}
	return v;
bad:
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
	return NULL;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void exec_free(struct kc_exec *e)
{
	if (!e)
		return;
	free(e->api_version);
	free(e->command);
	free(e->install_hint);
	free_list(e->args);
	free_list(e->env);
	free(e);
}

static struct kc_exec *parse_exec(struct doc *y, yaml_node_t *m, const char *where, const char *dir)
{
	struct kc_exec *e = calloc(1, sizeof(*e));
	yaml_node_t *env;

	if (!e)
		return NULL;
	if (get_str(y, m, "apiVersion", where, &e->api_version) || get_str(y, m, "command", where, &e->command) ||
	    get_str(y, m, "installHint", where, &e->install_hint) ||
	    get_bool(y, m, "provideClusterInfo", where, &e->provide_cluster_info) ||
	    !(e->args = str_list(y, map_get(y, m, "args"), where, "exec.args")))
		goto bad;
	if (!e->command || !e->command[0]) {
		snprintf(y->err, y->errlen, "%s: exec needs a command", where);
		goto bad;
	}
	/* Like kubectl: a command with a slash is a path relative to the file; a bare name is looked up on PATH. */
	if (strchr(e->command, '/') && resolve(&e->command, dir))
		goto bad;
	env = map_get(y, m, "env");
	size_t n = env && env->type == YAML_SEQUENCE_NODE ? env->data.sequence.items.top - env->data.sequence.items.start : 0;
	if (env && env->type != YAML_SEQUENCE_NODE && !(env->type == YAML_SCALAR_NODE && !env->data.scalar.length)) {
		snprintf(y->err, y->errlen, "%s: exec.env must be a list of {name, value}", where);
		goto bad;
	}
	if (!(e->env = calloc(n + 1, sizeof(char *))))
		goto bad;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = node(y, env->data.sequence.items.start[i]);
		char *name = NULL, *value = NULL;
		if (get_str(y, it, "name", where, &name) || get_str(y, it, "value", where, &value) || !name ||
		    !name[0] || strchr(name, '=')) {
			free(name);
			free(value);
			if (!y->err[0])
				snprintf(y->err, y->errlen, "%s: exec.env entries need a name (without '=') and a value", where);
			goto bad;
		}
		size_t len = strlen(name) + (value ? strlen(value) : 0) + 2;
		if ((e->env[i] = malloc(len)))
			snprintf(e->env[i], len, "%s=%s", name, value ? value : "");
		free(name);
		free(value);
		if (!e->env[i])
			goto bad;
	}
	return e;
bad:
	exec_free(e);
	return NULL;
}

/* ---- the three lists ---- */

static bool have_name(const void *arr, size_t n, size_t size, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(*(char *const *)((const char *)arr + i * size), name))
			return true;
	return false;
}

/* Grow arr by one zeroed element; NULL when out of memory. */
static void *push(void **arr, size_t *n, size_t size)
{
	char *p = realloc(*arr, (*n + 1) * size);

	if (!p)
		return NULL;
	*arr = p;
	memset(p + *n * size, 0, size);
	return p + (*n)++ * size;
}

static void cluster_free(struct kc_cluster *c)
{
	free(c->name);
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	free(c->tls_server_name);
	free(c->proxy_url);
}

static void user_free(struct kc_user *u)
{
	free(u->name);
	free(u->cert_file);
	free(u->cert_data);
	free(u->key_file);
	free(u->key_data);
	free(u->token);
	free(u->token_file);
	free(u->auth_provider);
	exec_free(u->exec);
}

static void context_free(struct kc_context *c)
{
	free(c->name);
	free(c->cluster);
	free(c->user);
	free(c->namespace);
}

void kubeconfig_free(struct kubeconfig *kc)
{
	for (size_t i = 0; i < kc->nclusters; i++)
		cluster_free(&kc->clusters[i]);
	for (size_t i = 0; i < kc->nusers; i++)
		user_free(&kc->users[i]);
	for (size_t i = 0; i < kc->ncontexts; i++)
		context_free(&kc->contexts[i]);
	free(kc->clusters);
	free(kc->users);
	free(kc->contexts);
	free(kc->current_context);
	memset(kc, 0, sizeof(*kc));
}

/* Each entry of a named list: { name: N, KIND: { ... } }; returns its name and body. */
static int entry(struct doc *y, yaml_node_t *it, const char *list, const char *kind, size_t i,
		 char **name, yaml_node_t **body, char *where, size_t wlen)
{
	snprintf(where, wlen, "%s[%zu]", list, i);
	if (!it || it->type != YAML_MAPPING_NODE) {
		snprintf(y->err, y->errlen, "%s must be a mapping with name and %s", where, kind);
		return -1;
	}
	if (get_str(y, it, "name", where, name))
		return -1;
	if (!*name || !**name) {
		snprintf(y->err, y->errlen, "%s has no name", where);
		return -1;
	}
	snprintf(where, wlen, "%s \"%s\"", kind, *name);
	*body = map_get(y, it, kind);
	if (*body && (*body)->type != YAML_MAPPING_NODE) {
		snprintf(y->err, y->errlen, "%s: '%s' must be a mapping", where, kind);
		return -1;
	}
	return 0;
}

#define ITEMS(seq) ((seq) && (seq)->type == YAML_SEQUENCE_NODE ? \
	(size_t)((seq)->data.sequence.items.top - (seq)->data.sequence.items.start) : 0)

static int parse_lists(struct doc *y, yaml_node_t *root, struct kubeconfig *kc, const char *dir)
{
	static const char *const lists[] = { "clusters", "users", "contexts" };
	char where[320];

	for (size_t l = 0; l < 3; l++) {
		yaml_node_t *seq = map_get(y, root, lists[l]);
		if (seq && seq->type != YAML_SEQUENCE_NODE &&
		    !(seq->type == YAML_SCALAR_NODE && (!seq->data.scalar.length || !strcmp((char *)seq->data.scalar.value, "null")))) {
			snprintf(y->err, y->errlen, "'%s' must be a list", lists[l]);
			return -1;
		}
	}

	yaml_node_t *seq = map_get(y, root, "clusters");
	for (size_t i = 0; i < ITEMS(seq); i++) {
		char *name = NULL;
		yaml_node_t *b;
		if (entry(y, node(y, seq->data.sequence.items.start[i]), "clusters", "cluster", i, &name, &b, where, sizeof(where))) {
			free(name);
			return -1;
		}
		if (have_name(kc->clusters, kc->nclusters, sizeof(*kc->clusters), name)) {
			free(name);	/* an earlier file (or entry) set it: that one wins */
			continue;
		}
		struct kc_cluster *c = push((void **)&kc->clusters, &kc->nclusters, sizeof(*c));
		if (!c) {
			free(name);
			return -1;
		}
		c->name = name;
		if (get_str(y, b, "server", where, &c->server) ||
		    get_str(y, b, "certificate-authority", where, &c->ca_file) ||
		    get_str(y, b, "certificate-authority-data", where, &c->ca_data) ||
		    get_str(y, b, "tls-server-name", where, &c->tls_server_name) ||
		    get_str(y, b, "proxy-url", where, &c->proxy_url) ||
		    get_bool(y, b, "insecure-skip-tls-verify", where, &c->insecure) || resolve(&c->ca_file, dir))
			return -1;
	}

	seq = map_get(y, root, "users");
	for (size_t i = 0; i < ITEMS(seq); i++) {
		char *name = NULL;
		yaml_node_t *b, *ap, *ex;
		if (entry(y, node(y, seq->data.sequence.items.start[i]), "users", "user", i, &name, &b, where, sizeof(where))) {
			free(name);
			return -1;
		}
		if (have_name(kc->users, kc->nusers, sizeof(*kc->users), name)) {
			free(name);
			continue;
		}
		struct kc_user *u = push((void **)&kc->users, &kc->nusers, sizeof(*u));
		if (!u) {
			free(name);
			return -1;
		}
		u->name = name;
		char *username = NULL;
		if (get_str(y, b, "client-certificate", where, &u->cert_file) ||
		    get_str(y, b, "client-certificate-data", where, &u->cert_data) ||
		    get_str(y, b, "client-key", where, &u->key_file) ||
		    get_str(y, b, "client-key-data", where, &u->key_data) ||
		    get_str(y, b, "token", where, &u->token) ||
		    get_str(y, b, "tokenFile", where, &u->token_file) ||
		    get_str(y, b, "username", where, &username) ||
		    resolve(&u->cert_file, dir) || resolve(&u->key_file, dir) || resolve(&u->token_file, dir))
			return -1;
		u->basic_auth = username != NULL;
		free(username);
		if ((ap = map_get(y, b, "auth-provider"))) {
			if (get_str(y, ap, "name", where, &u->auth_provider))
				return -1;
			if (!u->auth_provider)
				u->auth_provider = strdup("unnamed");
		}
		if ((ex = map_get(y, b, "exec")) && ex->type == YAML_MAPPING_NODE) {
			if (!(u->exec = parse_exec(y, ex, where, dir)))
				return -1;
		} else if (ex && !(ex->type == YAML_SCALAR_NODE && !strcmp((char *)ex->data.scalar.value, "null"))) {
			snprintf(y->err, y->errlen, "%s: exec must be a mapping", where);
			return -1;
		}
	}

	seq = map_get(y, root, "contexts");
	for (size_t i = 0; i < ITEMS(seq); i++) {
		char *name = NULL;
		yaml_node_t *b;
		if (entry(y, node(y, seq->data.sequence.items.start[i]), "contexts", "context", i, &name, &b, where, sizeof(where))) {
			free(name);
			return -1;
		}
		if (have_name(kc->contexts, kc->ncontexts, sizeof(*kc->contexts), name)) {
			free(name);
			continue;
		}
		struct kc_context *c = push((void **)&kc->contexts, &kc->ncontexts, sizeof(*c));
		if (!c) {
			free(name);
			return -1;
		}
		c->name = name;
		if (get_str(y, b, "cluster", where, &c->cluster) || get_str(y, b, "user", where, &c->user) ||
		    get_str(y, b, "namespace", where, &c->namespace))
			return -1;
	}

	if (!kc->current_context || !kc->current_context[0]) {
		free(kc->current_context);
		kc->current_context = NULL;
		if (get_str(y, root, "current-context", "kubeconfig", &kc->current_context))
			return -1;
	}
	return 0;
}

int kubeconfig_merge(struct kubeconfig *kc, const char *text, size_t len, const char *dir,
		     char *err, size_t errlen)
{
	yaml_parser_t p;
	struct doc y = { .err = err, .errlen = errlen };
	int rc = -1;

	err[0] = '\0';
	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &y.d)) {
		snprintf(err, errlen, "not valid YAML or JSON: %s at line %zu column %zu",
			 p.problem ? p.problem : "syntax error", p.problem_mark.line + 1, p.problem_mark.column + 1);
		yaml_parser_delete(&p);
		return -1;
	}
	yaml_node_t *root = yaml_document_get_root_node(&y.d);
	if (!root) {
		rc = 0;		/* an empty file configures nothing */
	} else if (root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "a kubeconfig must be a mapping (apiVersion, clusters, users, contexts)");
	} else {
		rc = parse_lists(&y, root, kc, dir);
		if (rc && !err[0])
			snprintf(err, errlen, "out of memory");
	}
	yaml_document_delete(&y.d);
	yaml_parser_delete(&p);
	return rc;
}

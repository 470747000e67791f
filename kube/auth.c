/* Request credentials: token, tokenFile, exec plugins (see auth.h). */
#define _GNU_SOURCE	/* execvpe, pipe2, strptime, timegm */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kube/auth.h"
#include "kube/kubeconfig.h"
#include "lib/base64.h"

extern char **environ;

struct kube_auth {
	const struct kube_config *cfg;
	char *file_token;
	struct timespec file_mtime;
	off_t file_size;
	ino_t file_ino;
	bool exec_valid;
	char *exec_token, *exec_cert, *exec_key;
	size_t exec_cert_len, exec_key_len;
	time_t exec_expiry;		/* 0: no expiry given */
	unsigned generation;
};

static void wipe_free(char *s, size_t len)
{
	if (s)
		explicit_bzero(s, len ? len : strlen(s));
	free(s);
}

static void exec_forget(struct kube_auth *a)
{
	wipe_free(a->exec_token, 0);
	wipe_free(a->exec_cert, a->exec_cert_len);
	wipe_free(a->exec_key, a->exec_key_len);
	a->exec_token = a->exec_cert = a->exec_key = NULL;
	a->exec_valid = false;
}

struct kube_auth *kube_auth_new(const struct kube_config *cfg)
{
	struct kube_auth *a = calloc(1, sizeof(*a));

	if (a)
		a->cfg = cfg;
	return a;
}

void kube_auth_free(struct kube_auth *a)
{
	if (!a)
		return;
	exec_forget(a);
	wipe_free(a->file_token, 0);
	free(a);
}

time_t kube_parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *p;
	time_t t;

	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	t = timegm(&tm);
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
		   p[3] == ':' && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		int off = ((p[1] - '0') * 10 + p[2] - '0') * 3600 + ((p[4] - '0') * 10 + p[5] - '0') * 60;
		t += *p == '+' ? -off : off;
		p += 6;
	} else {
		return -1;
	}
	return *p ? -1 : t;
}

/* tokenFile: read again whenever the file changes (projected tokens rotate). */
static int read_token_file(struct kube_auth *a, char *err, size_t errlen)
{
	const char *path = a->cfg->token_file;
	struct stat st;

	if (stat(path, &st)) {
		snprintf(err, errlen, "cannot read tokenFile %s: %s", path, strerror(errno));
		return -1;
	}
	if (a->file_token && st.st_ino == a->file_ino && st.st_size == a->file_size &&
	    st.st_mtim.tv_sec == a->file_mtime.tv_sec && st.st_mtim.tv_nsec == a->file_mtime.tv_nsec)
		return 0;
	char *tok = kube_read_file(path, 1 << 20, NULL);
	if (!tok) {
		snprintf(err, errlen, "cannot read tokenFile %s: %s", path, strerror(errno));
		return -1;
	}
	size_t n = strlen(tok);
	while (n && isspace((unsigned char)tok[n - 1]))
		tok[--n] = '\0';
	if (!n) {
		free(tok);
		snprintf(err, errlen, "tokenFile %s is empty", path);
		return -1;
	}
	wipe_free(a->file_token, 0);
	a->file_token = tok;
	a->file_ino = st.st_ino;
	a->file_size = st.st_size;
	a->file_mtime = st.st_mtim;
	return 0;
}

static char *exec_info(const struct kube_config *cfg)
{
	const struct kc_exec *e = cfg->exec;
	cJSON *root = cJSON_CreateObject(), *spec = cJSON_AddObjectToObject(root, "spec");
	char *out;

	cJSON_AddStringToObject(root, "apiVersion", e->api_version);
	cJSON_AddStringToObject(root, "kind", "ExecCredential");
	cJSON_AddBoolToObject(spec, "interactive", false);
	if (e->provide_cluster_info) {
		cJSON *c = cJSON_AddObjectToObject(spec, "cluster");
		cJSON_AddStringToObject(c, "server", cfg->server);
		if (cfg->tls_server_name)
			cJSON_AddStringToObject(c, "tls-server-name", cfg->tls_server_name);
		if (cfg->insecure)
			cJSON_AddBoolToObject(c, "insecure-skip-tls-verify", true);
		if (cfg->proxy_url)
			cJSON_AddStringToObject(c, "proxy-url", cfg->proxy_url);
		if (cfg->ca_pem) {
			char *b64 = base64_encode(cfg->ca_pem, cfg->ca_len);
			if (b64)
				cJSON_AddStringToObject(c, "certificate-authority-data", b64);
			free(b64);
		}
	}
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* Run the plugin; its stdout (malloc'd) in *out. 0, or -1 with err. */
static int run_plugin(const struct kube_config *cfg, char **out, char *err, size_t errlen)
{
	const struct kc_exec *e = cfg->exec;
	size_t nargs = 0, nenv = 0, nextra = 0;
	int outp[2], errp[2];
	char *info = exec_info(cfg), *infoenv = NULL;

	while (e->args && e->args[nargs])
		nargs++;
	while (environ[nenv])
		nenv++;
	while (e->env && e->env[nextra])
		nextra++;
	char **argv = calloc(nargs + 2, sizeof(*argv)), **envp = calloc(nenv + nextra + 2, sizeof(*envp));
	if (!info || !argv || !envp || asprintf(&infoenv, "KUBERNETES_EXEC_INFO=%s", info) < 0) {
		free(info);
		free(argv);
		free(envp);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	free(info);
	argv[0] = e->command;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = e->args[i];
	/* The kubeconfig's env wins over ours, as in client-go. */
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++) {
		size_t nl = strcspn(environ[i], "=");
		bool shadowed = !strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21);
		for (size_t j = 0; j < nextra && !shadowed; j++)
			shadowed = !strncmp(environ[i], e->env[j], nl + 1);
		if (!shadowed)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < nextra; j++)
		envp[k++] = e->env[j];
	envp[k++] = infoenv;

	if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		free(argv);
		free(envp);
		free(infoenv);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(outp[1], 1);
		signal(SIGPIPE, SIG_DFL);
		/* execvpe: PATH lookup for bare names, never a shell */
		execvpe(argv[0], argv, envp);
		int code = errno;
		if (write(errp[1], &code, sizeof(code)) < 0)
			_exit(126);
		_exit(127);
	}
	close(outp[1]);
	close(errp[1]);
	free(argv);
	free(envp);
	wipe_free(infoenv, 0);
	if (pid < 0) {
		close(outp[0]);
		close(errp[0]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;
	while (buf && (n = read(outp[0], buf + used, cap - used)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		used += n;
		if (used == cap) {
			if (cap >= (1u << 20))
				break;	/* a credential is never this big */
			char *p = realloc(buf, (cap *= 2) + 1);
			if (!p)
				break;
			buf = p;
		}
	}
	close(outp[0]);
	int code = 0, st = 0;
	ssize_t got = read(errp[0], &code, sizeof(code));
	close(errp[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got == sizeof(code)) {
		free(buf);
		if (code == ENOENT)
			snprintf(err, errlen, "exec plugin \"%s\" not found%s%s", e->command,
				 e->install_hint ? ": " : " (install it or fix exec.command in the kubeconfig)",
				 e->install_hint ? e->install_hint : "");
		else
			snprintf(err, errlen, "cannot run exec plugin \"%s\": %s", e->command, strerror(code));
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		free(buf);
		if (WIFEXITED(st))
			snprintf(err, errlen, "exec plugin \"%s\" failed with exit status %d (its messages are above)",
				 e->command, WEXITSTATUS(st));
		else
			snprintf(err, errlen, "exec plugin \"%s\" was killed by signal %d", e->command, WTERMSIG(st));
		return -1;
	}
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	buf[used] = '\0';
	*out = buf;
	return 0;
}

int kube_exec_credential_parse(const char *out, const char *api_version, const char *cmd, struct kube_exec_cred *c,
			       char *err, size_t errlen)
{
	cJSON *root = cJSON_Parse(out);

	memset(c, 0, sizeof(*c));
	cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
	cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "apiVersion");
	cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!root || !cJSON_IsString(kind) || strcmp(kind->valuestring, "ExecCredential") || !cJSON_IsObject(status)) {
		snprintf(err, errlen, "exec plugin \"%s\" did not print an ExecCredential with a status", cmd);
		goto bad;
	}
	if (!cJSON_IsString(ver) || strcmp(ver->valuestring, api_version)) {
		char said[80];	/* the plugin's words, printable only */
		snprintf(said, sizeof(said), "%s", cJSON_IsString(ver) ? ver->valuestring : "");
		for (char *p = said; *p; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				*p = '?';
		snprintf(err, errlen, "exec plugin \"%s\" answered apiVersion \"%s\", the kubeconfig asked for \"%s\"",
			 cmd, said, api_version);
		goto bad;
	}
	cJSON *tok = cJSON_GetObjectItemCaseSensitive(status, "token");
	cJSON *cert = cJSON_GetObjectItemCaseSensitive(status, "clientCertificateData");
	cJSON *key = cJSON_GetObjectItemCaseSensitive(status, "clientKeyData");
	cJSON *exp = cJSON_GetObjectItemCaseSensitive(status, "expirationTimestamp");
	bool has_tok = cJSON_IsString(tok) && tok->valuestring[0];
	bool has_cert = cJSON_IsString(cert) && cert->valuestring[0], has_key = cJSON_IsString(key) && key->valuestring[0];
	if (has_cert != has_key || (!has_tok && !has_cert)) {
		snprintf(err, errlen, "exec plugin \"%s\" gave %s", cmd, has_cert != has_key ?
			 "only one of clientCertificateData and clientKeyData" : "neither a token nor a client certificate");
		goto bad;
	}
	if (cJSON_IsString(exp) && (c->expiry = kube_parse_time(exp->valuestring)) == -1) {
		c->expiry = 0;
		snprintf(err, errlen, "exec plugin \"%s\" gave a bad expirationTimestamp", cmd);
		goto bad;
	}
	c->token = has_tok ? strdup(tok->valuestring) : NULL;
	if (has_cert) {
		/* cert/key "Data" from a plugin are PEM text, not base64 */
		c->cert = strdup(cert->valuestring);
		c->key = strdup(key->valuestring);
	}
	if ((has_tok && !c->token) || (has_cert && (!c->cert || !c->key))) {
		kube_exec_cred_free(c);
		snprintf(err, errlen, "exec plugin \"%s\": out of memory", cmd);
		goto bad;
	}
	if (tok && cJSON_IsString(tok))
		explicit_bzero(tok->valuestring, strlen(tok->valuestring));
	if (key && cJSON_IsString(key))
		explicit_bzero(key->valuestring, strlen(key->valuestring));
	cJSON_Delete(root);
	return 0;
bad:
	cJSON_Delete(root);
	return -1;
}

void kube_exec_cred_free(struct kube_exec_cred *c)
{
	wipe_free(c->token, 0);
	wipe_free(c->cert, 0);
	wipe_free(c->key, 0);
	memset(c, 0, sizeof(*c));
}

static int run_exec(struct kube_auth *a, char *err, size_t errlen)
{
	const struct kube_config *cfg = a->cfg;
	struct kube_exec_cred c;
	char *out;

	if (run_plugin(cfg, &out, err, errlen))
		return -1;
	int rc = kube_exec_credential_parse(out, cfg->exec->api_version, cfg->exec->command, &c, err, errlen);
	wipe_free(out, 0);
	if (rc)
		return -1;
	exec_forget(a);
	a->exec_token = c.token;
	if (c.cert) {
		a->exec_cert = c.cert;
		a->exec_key = c.key;
		a->exec_cert_len = strlen(a->exec_cert);
		a->exec_key_len = strlen(a->exec_key);
		a->generation++;
	}
	a->exec_expiry = c.expiry;
	a->exec_valid = true;
	return 0;
}

int kube_auth_get(struct kube_auth *a, struct kube_creds *c, char *err, size_t errlen)
{
	const struct kube_config *cfg = a->cfg;

	memset(c, 0, sizeof(*c));
	if (cfg->exec) {
		/* refresh a little before expiry, as client-go does */
		if (!a->exec_valid || (a->exec_expiry && time(NULL) + 10 >= a->exec_expiry))
			if (run_exec(a, err, errlen))
				return -1;
		c->token = a->exec_token;
		c->cert_pem = a->exec_cert;
		c->key_pem = a->exec_key;
		c->cert_len = a->exec_cert_len;
		c->key_len = a->exec_key_len;
		c->generation = a->generation;
		if (c->token || c->cert_pem)
			return 0;
	}
	if (cfg->token_file) {
		if (!read_token_file(a, err, errlen)) {
			c->token = a->file_token;
			return 0;
		}
		if (!cfg->token)
			return -1;
	}
	c->token = cfg->token;
	return 0;
}

int kube_auth_unauthorized(struct kube_auth *a)
{
	if (a->cfg->exec) {
		exec_forget(a);
		return 1;
	}
	if (a->cfg->token_file) {
		wipe_free(a->file_token, 0);
		a->file_token = NULL;
		return 1;
	}
	return 0;
}

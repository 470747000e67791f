/* kube/kubeconfig + kube/config: kubectl's merge rules, paths, contexts, in-cluster, auth entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/kubeconfig.h"
#include "lib/base64.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *path_of(const char *name)
{
	static char p[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/retina-kc-XXXXXX");
	assert_non_null(mkdtemp(dir));
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("HOME", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);	/* our own mkdtemp name: no input in it */
	return system(cmd) ? -1 : 0;
}

static const char first[] =
	"apiVersion: v1\nkind: Config\n"
	"clusters:\n"
	"- name: prod\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority: ca.crt\n"
	"contexts:\n"
	"- name: prod\n  context: {cluster: prod, user: admin, namespace: kube-system}\n"
	"users:\n"
	"- name: admin\n  user:\n    token: first-token\n";

static const char second[] =
	"apiVersion: v1\ncurrent-context: prod\n"
	"clusters:\n"
	"- name: prod\n  cluster: {server: 'https://evil.example:6443', insecure-skip-tls-verify: true}\n"
	"- name: dev\n  cluster: {server: 'http://127.0.0.1:8080'}\n"
	"contexts:\n"
	"- name: dev\n  context: {cluster: dev}\n"
	"- name: prod\n  context: {cluster: dev}\n"
	"users:\n"
	"- name: admin\n  user: {token: second-token}\n";

static void merge_first_file_wins(void **state)
{
	struct kube_load_opts o = { 0 };
	struct kube_config c;
	char err[512], env[256];
	(void)state;

	put("a/config", first);
	put("a/ca.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	put("b/config", second);
	snprintf(env, sizeof(env), "%s::%s:%s", path_of("a/config"), path_of("missing"), path_of("b/config"));
	setenv("KUBECONFIG", env, 1);
	if (kube_config_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	/* current-context from the only file with one; every entry from the first file naming it */
	assert_string_equal(c.context, "prod");
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	assert_false(c.insecure);
	assert_string_equal(c.token, "first-token");
	assert_string_equal(c.namespace, "kube-system");
	/* ca.crt was relative to a/config */
	assert_non_null(c.ca_pem);
	assert_non_null(strstr(c.ca_pem, "BEGIN CERTIFICATE"));
	kube_config_free(&c);

	/* --context reaches the second file's entries; -n wins over everything */
	o.context = "dev";
	o.namespace = "team-a";
	assert_int_equal(kube_config_load(&o, &c, err, sizeof(err)), 0);
	assert_string_equal(c.server, "http://127.0.0.1:8080");
	assert_null(c.user);
	assert_string_equal(c.namespace, "team-a");
	kube_config_free(&c);
	o.namespace = NULL;
	assert_int_equal(kube_config_load(&o, &c, err, sizeof(err)), 0);
	assert_string_equal(c.namespace, "default");
	kube_config_free(&c);

	o.context = "staging";
	assert_int_equal(kube_config_load(&o, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "context \"staging\" does not exist"));
	assert_non_null(strstr(err, "contexts: prod, dev"));

	/* --kubeconfig: that file alone, where context prod means cluster dev and no user */
	struct kube_load_opts only = { .kubeconfig = path_of("b/config") };
	assert_int_equal(kube_config_load(&only, &c, err, sizeof(err)), 0);
	assert_string_equal(c.server, "http://127.0.0.1:8080");
	assert_null(c.token);
	kube_config_free(&c);
	struct kube_load_opts gone = { .kubeconfig = path_of("nope") };
	assert_int_equal(kube_config_load(&gone, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	unsetenv("KUBECONFIG");
}

static void json_and_home_default(void **state)
{
	struct kube_load_opts o = { 0 };
	struct kube_config c;
	char err[512];
	(void)state;

	char *cert = base64_encode("CERT", 4), *key = base64_encode("KEY", 3), json[1024];
	snprintf(json, sizeof(json),
		 "{\"apiVersion\":\"v1\",\"current-context\":\"j\","
		 "\"clusters\":[{\"name\":\"j\",\"cluster\":{\"server\":\"https://[2001:db8::1]:443\","
		 "\"insecure-skip-tls-verify\":true,\"tls-server-name\":\"api.internal\",\"proxy-url\":\"http://proxy:3128\"}}],"
		 "\"users\":[{\"name\":\"u\",\"user\":{\"client-certificate-data\":\"%s\",\"client-key-data\":\"%s\","
		 "\"tokenFile\":\"tok\"}}],"
		 "\"contexts\":[{\"name\":\"j\",\"context\":{\"cluster\":\"j\",\"user\":\"u\"}}]}", cert, key);
	free(cert);
	free(key);
	put(".kube/config", json);
	if (kube_config_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(c.insecure);
	assert_null(c.ca_pem);
	assert_string_equal(c.tls_server_name, "api.internal");
	assert_string_equal(c.proxy_url, "http://proxy:3128");
	assert_int_equal(c.cert_len, 4);
	assert_memory_equal(c.cert_pem, "CERT", 4);
	assert_memory_equal(c.key_pem, "KEY", 3);
	assert_string_equal(c.token_file, path_of(".kube/tok"));
	kube_config_free(&c);
}

static void refused_entries_say_why(void **state)
{
	struct kube_config c;
	char err[512];
	(void)state;
	static const struct { const char *yaml, *msg; } cases[] = {
		{ "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h'}}]\n"
		  "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n"
		  "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
		  "auth-provider \"gcp\", which is not supported" },
		{ "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h'}}]\n"
		  "users: [{name: u, user: {username: a, password: b}}]\n"
		  "contexts: [{name: x, context: {cluster: c, user: u}}]\n", "username/password" },
		{ "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: true, "
		  "certificate-authority-data: QUJD}}]\ncontexts: [{name: x, context: {cluster: c}}]\n",
		  "insecure flag is not allowed" },
		{ "current-context: x\nclusters: [{name: c, cluster: {certificate-authority: ca}}]\n"
		  "contexts: [{name: x, context: {cluster: c}}]\n", "cluster \"c\" has no server" },
		{ "current-context: x\ncontexts: [{name: x, context: {cluster: nope}}]\n",
		  "names cluster \"nope\", which" },
		{ "clusters: [{name: c, cluster: {server: 'https://h'}}]\ncontexts: [{name: x, context: {cluster: c}}]\n",
		  "no current-context" },
		{ "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '!!'}}]\n"
		  "contexts: [{name: x, context: {cluster: c}}]\n", "not valid base64" },
		{ "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h', certificate-authority: no.pem}}]\n"
		  "contexts: [{name: x, context: {cluster: c}}]\n", "cannot read certificate-authority" },
		{ "clusters:\n- name: c\n  cluster: [1, 2]\n", "'cluster' must be a mapping" },
		{ "clusters: {name: c}\n", "'clusters' must be a list" },
		{ "clusters:\n  - name: c\n bad indent: [\n", "not valid YAML or JSON" },
		{ "- a\n- b\n", "must be a mapping" },
		{ "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: maybe}}]\n",
		  "must be true or false" },
		{ "current-context: x\nclusters: [{name: c, cluster: {server: 'http://h'}}]\n"
		  "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}}}]\n"
		  "contexts: [{name: x, context: {cluster: c, user: u}}]\n", "v1alpha1\" is not supported" },
		{ "current-context: x\nclusters: [{name: c, cluster: {server: 'http://h'}}]\n"
		  "users: [{name: u, user: {client-certificate-data: QUJD}}]\n"
		  "contexts: [{name: x, context: {cluster: c, user: u}}]\n", "but no client key" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put("bad/config", cases[i].yaml);
		struct kube_load_opts o = { .kubeconfig = path_of("bad/config") };
		if (!kube_config_load(&o, &c, err, sizeof(err)))
			fail_msg("case %zu accepted", i);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
	}
}

static void exec_entries(void **state)
{
	struct kube_config c;
	char err[512];
	(void)state;

	put("e/config",
	    "current-context: x\nclusters: [{name: c, cluster: {server: 'http://h'}}]\n"
	    "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
	    "users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
	    "      command: ./bin/plugin\n      args: [get-token, --cluster, prod]\n"
	    "      env:\n      - {name: FOO, value: bar}\n      - {name: EMPTY, value: ''}\n"
	    "      installHint: install it\n      provideClusterInfo: true\n");
	struct kube_load_opts o = { .kubeconfig = path_of("e/config") };
	if (kube_config_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_non_null(c.exec);
	assert_string_equal(c.exec->command, path_of("e/./bin/plugin"));
	assert_string_equal(c.exec->args[0], "get-token");
	assert_string_equal(c.exec->args[2], "prod");
	assert_null(c.exec->args[3]);
	assert_string_equal(c.exec->env[0], "FOO=bar");
	assert_string_equal(c.exec->env[1], "EMPTY=");
	assert_true(c.exec->provide_cluster_info);
	assert_string_equal(c.exec->install_hint, "install it");
	kube_config_free(&c);

	/* a bare command is looked up on PATH, not next to the file */
	put("e/config",
	    "current-context: x\nclusters: [{name: c, cluster: {server: 'http://h'}}]\n"
	    "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
	    "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: kubelogin}}}]\n");
	assert_int_equal(kube_config_load(&o, &c, err, sizeof(err)), 0);
	assert_string_equal(c.exec->command, "kubelogin");
	assert_null(c.exec->args[0]);
	kube_config_free(&c);
}

static void in_cluster_config(void **state)
{
	struct kube_config c;
	char err[512];
	(void)state;

	put("sa/token", "sa-token\n");
	put("sa/ca.crt", "CA");
	put("sa/namespace", "monitoring\n");
	put("home/.keep", "");
	setenv("HOME", path_of("home"), 1);
	struct kube_load_opts o = { .sa_dir = path_of("sa") };
	assert_int_equal(kube_config_load(&o, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no kubeconfig found"));

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	if (kube_config_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(c.in_cluster);
	assert_string_equal(c.server, "https://[fd00::1]:443");
	assert_string_equal(c.namespace, "monitoring");
	assert_string_equal(c.token_file, path_of("sa/token"));
	assert_memory_equal(c.ca_pem, "CA", 2);
	kube_config_free(&c);

	unlink(path_of("sa/token"));
	assert_int_equal(kube_config_load(&o, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "service account token"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("HOME", dir, 1);
}

static void base64_round_trip(void **state)
{
	size_t len;
	(void)state;
	const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (size_t i = 0; i < 7; i++) {
		char *e = base64_encode(in[i], strlen(in[i]));
		assert_string_equal(e, out[i]);
		unsigned char *d = base64_decode(e, &len);
		assert_int_equal(len, strlen(in[i]));
		assert_memory_equal(d, in[i], len);
		free(e);
		free(d);
	}
	unsigned char *d = base64_decode("Zm9v\nYmFy", &len);	/* line breaks as in PEM-ish data */
	assert_memory_equal(d, "foobar", 6);
	free(d);
	assert_null(base64_decode("Zm9v!", &len));
	assert_null(base64_decode("Z", &len));
	assert_null(base64_decode("Zg==Zg", &len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(merge_first_file_wins),
		cmocka_unit_test(json_and_home_default),
		cmocka_unit_test(refused_entries_say_why),
		cmocka_unit_test(exec_entries),
		cmocka_unit_test(in_cluster_config),
		cmocka_unit_test(base64_round_trip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

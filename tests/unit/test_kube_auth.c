/* kube/auth: tokenFile re-reads, exec credential plugins (caching, 401 refresh, errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/auth.h"
#include "kube/kubeconfig.h"

static char dir[64];

static const char plugin[] =
	"#!/bin/sh\n"
	"# test exec plugin: counts its runs, keeps its input, prints what MODE says\n"
	"n=$(cat \"$DIR/runs\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > \"$DIR/runs\"\n"
	"printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$DIR/info\"\n"
	"echo \"$@\" > \"$DIR/args\"\n"
	"case \"$MODE\" in\n"
	"token) printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
	"\"status\":{\"token\":\"tok-%s\",\"expirationTimestamp\":\"%s\"}}' $n \"$EXP\" ;;\n"
	"cert) printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
	"\"status\":{\"clientCertificateData\":\"CERT\\\\n\",\"clientKeyData\":\"KEY\"}}' ;;\n"
	"half) printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
	"\"status\":{\"clientKeyData\":\"KEY\"}}' ;;\n"
	"oldver) printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"x\"}}' ;;\n"
	"fail) echo 'login required' >&2; exit 3 ;;\n"
	"*) echo hello ;;\n"
	"esac\n";

static int setup(void **state)
{
	char path[128];
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/retina-auth-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/plugin", dir);
	FILE *f = fopen(path, "w");
	fputs(plugin, f);
	fclose(f);
	chmod(path, 0755);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

static int runs(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/runs", dir);
	char *s = kube_read_file(path, 100, NULL);
	int n = s ? atoi(s) : 0;
	free(s);
	return n;
}

/* A config whose user runs the test plugin in MODE, expiring at exp. */
struct fixture {
	struct kube_config cfg;
	struct kc_exec exec;
	char cmd[128], env_dir[128], env_mode[64], env_exp[64];
	char *args[3], *env[4];
};

static void make(struct fixture *f, const char *mode, const char *exp)
{
	memset(f, 0, sizeof(*f));
	char runs_path[128];
	snprintf(runs_path, sizeof(runs_path), "%s/runs", dir);
	unlink(runs_path);
	snprintf(f->cmd, sizeof(f->cmd), "%s/plugin", dir);
	snprintf(f->env_dir, sizeof(f->env_dir), "DIR=%s", dir);
	snprintf(f->env_mode, sizeof(f->env_mode), "MODE=%s", mode);
	snprintf(f->env_exp, sizeof(f->env_exp), "EXP=%s", exp);
	f->args[0] = "get-token";
	f->args[1] = "--cluster=prod";
	f->env[0] = f->env_dir;
	f->env[1] = f->env_mode;
	f->env[2] = f->env_exp;
	f->exec.api_version = "client.authentication.k8s.io/v1";
	f->exec.command = f->cmd;
	f->exec.args = f->args;
	f->exec.env = f->env;
	f->exec.install_hint = "brew install the-plugin";
	f->exec.provide_cluster_info = true;
	f->cfg.exec = &f->exec;
	f->cfg.server = "https://10.0.0.1:6443";
	f->cfg.ca_pem = "CA PEM";
	f->cfg.ca_len = 6;
}

static void plugin_token_cached_until_expiry(void **state)
{
	struct fixture f;
	struct kube_creds c;
	char err[256], exp[64];
	(void)state;

	time_t later = time(NULL) + 3600;
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&later));
	make(&f, "token", exp);
	struct kube_auth *a = kube_auth_new(&f.cfg);
	if (kube_auth_get(a, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.token, "tok-1");
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), 0);
	assert_string_equal(c.token, "tok-1");
	assert_int_equal(runs(), 1);	/* cached */

	/* what the plugin saw: args, env, ExecCredential with cluster info */
	char path[128];
	snprintf(path, sizeof(path), "%s/args", dir);
	char *args = kube_read_file(path, 1000, NULL);
	assert_string_equal(args, "get-token --cluster=prod\n");
	free(args);
	snprintf(path, sizeof(path), "%s/info", dir);
	char *info = kube_read_file(path, 4000, NULL);
	assert_non_null(strstr(info, "\"kind\":\"ExecCredential\""));
	assert_non_null(strstr(info, "\"apiVersion\":\"client.authentication.k8s.io/v1\""));
	assert_non_null(strstr(info, "\"server\":\"https://10.0.0.1:6443\""));
	assert_non_null(strstr(info, "\"certificate-authority-data\":\"Q0EgUEVN\""));
	assert_non_null(strstr(info, "\"interactive\":false"));
	free(info);

	/* a 401 makes the next request run it again, once */
	assert_int_equal(kube_auth_unauthorized(a), 1);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), 0);
	assert_string_equal(c.token, "tok-2");
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), 0);
	assert_int_equal(runs(), 2);
	kube_auth_free(a);

	/* an expired credential is not reused */
	make(&f, "token", "2020-01-01T00:00:00.123+02:00");
	a = kube_auth_new(&f.cfg);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), 0);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), 0);
	assert_string_equal(c.token, "tok-2");
	assert_int_equal(runs(), 2);
	kube_auth_free(a);
}

static void plugin_certificate_and_errors(void **state)
{
	struct fixture f;
	struct kube_creds c;
	char err[256];
	(void)state;

	make(&f, "cert", "");
	struct kube_auth *a = kube_auth_new(&f.cfg);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), 0);
	assert_null(c.token);
	assert_string_equal(c.cert_pem, "CERT\n");
	assert_string_equal(c.key_pem, "KEY");
	assert_int_equal(c.generation, 1);
	kube_auth_free(a);

	static const struct { const char *mode, *msg; } bad[] = {
		{ "fail", "failed with exit status 3" },
		{ "garbage", "did not print an ExecCredential" },
		{ "half", "only one of clientCertificateData and clientKeyData" },
		{ "oldver", "answered apiVersion \"client.authentication.k8s.io/v1beta1\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make(&f, bad[i].mode, "");
		a = kube_auth_new(&f.cfg);
		assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].msg))
			fail_msg("%s: '%s' lacks '%s'", bad[i].mode, err, bad[i].msg);
		kube_auth_free(a);
	}

	make(&f, "token", "");
	f.exec.command = "retina-no-such-plugin";
	a = kube_auth_new(&f.cfg);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), -1);
	assert_string_equal(err, "exec plugin \"retina-no-such-plugin\" not found: brew install the-plugin");
	kube_auth_free(a);
}

/* v1beta1 as configured is what the plugin is told and must answer; no cluster info unless asked */
static void plugin_v1beta1(void **state)
{
	struct fixture f;
	struct kube_creds c;
	char err[256], path[128];
	(void)state;

	make(&f, "oldver", "");
	f.exec.api_version = "client.authentication.k8s.io/v1beta1";
	f.exec.provide_cluster_info = false;
	struct kube_auth *a = kube_auth_new(&f.cfg);
	if (kube_auth_get(a, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.token, "x");
	snprintf(path, sizeof(path), "%s/info", dir);
	char *info = kube_read_file(path, 4000, NULL);
	assert_non_null(strstr(info, "\"apiVersion\":\"client.authentication.k8s.io/v1beta1\""));
	assert_null(strstr(info, "\"cluster\""));
	free(info);
	kube_auth_free(a);

	/* configured v1beta1, answered v1: refused as kubectl refuses it */
	make(&f, "token", "");
	f.exec.api_version = "client.authentication.k8s.io/v1beta1";
	a = kube_auth_new(&f.cfg);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), -1);
	if (!strstr(err, "answered apiVersion \"client.authentication.k8s.io/v1\""))
		fail_msg("'%s'", err);
	kube_auth_free(a);
}

static void token_file_reread_when_changed(void **state)
{
	struct kube_config cfg = { 0 };
	struct kube_creds c;
	char err[256], path[128];
	(void)state;

	snprintf(path, sizeof(path), "%s/token", dir);
	FILE *f = fopen(path, "w");
	fputs("first\n", f);
	fclose(f);
	cfg.token_file = path;
	cfg.token = "static";
	struct kube_auth *a = kube_auth_new(&cfg);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), 0);
	assert_string_equal(c.token, "first");
	/* kubelet rotates projected tokens by replacing the file */
	char tmp[140];
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	fputs("second-longer\n", f);
	fclose(f);
	rename(tmp, path);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), 0);
	assert_string_equal(c.token, "second-longer");
	/* unreadable file: the static token still works */
	unlink(path);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof(err)), 0);
	assert_string_equal(c.token, "static");
	kube_auth_free(a);
}

static void times(void **state)
{
	(void)state;
	assert_int_equal(kube_parse_time("1970-01-01T00:01:00Z"), 60);
	assert_int_equal(kube_parse_time("1970-01-01T01:00:00+01:00"), 0);
	assert_int_equal(kube_parse_time("1970-01-01T00:00:00.999999Z"), 0);
	assert_int_equal(kube_parse_time("1970-01-01"), -1);
	assert_int_equal(kube_parse_time("1970-01-01T00:00:00"), -1);
	assert_int_equal(kube_parse_time("1970-01-01T00:00:00Zjunk"), -1);
}

/* The plugin's stdout taken apart without running one (fuzz_exec_credential feeds it any bytes). */
static void exec_credential_parse(void **state)
{
	struct kube_exec_cred c;
	char err[256];
	(void)state;

	assert_int_equal(kube_exec_credential_parse("{\"kind\":\"ExecCredential\",\"apiVersion\":\"v9\",\"status\":"
						    "{\"token\":\"t\",\"expirationTimestamp\":\"1970-01-01T00:01:00Z\"}}",
						    "v9", "p", &c, err, sizeof(err)), 0);
	assert_string_equal(c.token, "t");
	assert_null(c.cert);
	assert_int_equal(c.expiry, 60);
	kube_exec_cred_free(&c);
	/* the plugin's words in the error are printable */
	assert_int_equal(kube_exec_credential_parse("{\"kind\":\"ExecCredential\",\"apiVersion\":\"v\\u001b[2J\","
						    "\"status\":{\"token\":\"t\"}}", "v9", "p", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "exec plugin \"p\" answered apiVersion \"v?[2J\", the kubeconfig asked for \"v9\"");
	assert_null(c.token);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plugin_token_cached_until_expiry),
		cmocka_unit_test(plugin_certificate_and_errors),
		cmocka_unit_test(plugin_v1beta1),
		cmocka_unit_test(token_file_reread_when_changed),
		cmocka_unit_test(times),
		cmocka_unit_test(exec_credential_parse),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

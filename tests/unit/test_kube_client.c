#define _GNU_SOURCE	/* posix_openpt, ptsname */
/*
 * kube/client against the fake API server (tests/fixtures/fake_apiserver.py,
 * itself proven with the real kubectl): nodes, the pod lifecycle, watch
 * resume and relist, 401 refresh, kubectl-style errors, HTTP CONNECT proxy
 * (Debian's tinyproxy on loopback).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/client.h"
#include "kube/kubeconfig.h"

#define TOKEN "fake-token-0123456789"

static char dir[64];

struct server {
	pid_t pid;
	char port[8];
};
static struct server plain, hostile, v4only, once;

static void run_argv(char *const argv[])
{
	int st;
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static char *at(const char *name)
{
	static char p[8][160];
	static int i;
	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void wait_portfile(const char *pf, char *port)
{
	for (int i = 0; i < 400; i++) {
		FILE *f = fopen(pf, "r");
		if (f) {
			assert_non_null(fgets(port, 8, f));
			fclose(f);
			return;
		}
		usleep(25000);
	}
	fail_msg("%s never appeared", pf);
}

static struct server start_api(const char *tag, char *const extra[])
{
	struct server s;
	char pf[160], log[160];
	snprintf(pf, sizeof(pf), "%s/%s.port", dir, tag);
	snprintf(log, sizeof(log), "%s/%s.log", dir, tag);
	s.pid = fork();
	if (s.pid == 0) {
		char *argv[32] = { "python3", "tests/fixtures/fake_apiserver.py", "--verbose",
				   "--cert", at("server-ip.crt"), "--key", at("server-ip.key"),
				   "--client-ca", at("ca.crt"), "--token", TOKEN };
		int n = 11;
		for (int i = 0; extra && extra[i]; i++)
			argv[n++] = extra[i];
		argv[n++] = pf;
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	wait_portfile(pf, s.port);
	return s;
}

/* A kubeconfig for a server; user_yaml is the user: mapping. */
static char *kubeconfig(const char *name, const struct server *s, const char *user_yaml)
{
	char *path = at(name);
	FILE *f = fopen(path, "w");
	fprintf(f, "apiVersion: v1\ncurrent-context: t\n"
		"clusters:\n- name: t\n  cluster:\n    server: https://127.0.0.1:%s\n    certificate-authority: ca.crt\n"
		"contexts:\n- name: t\n  context: {cluster: t, user: u, namespace: default}\n"
		"users:\n- name: u\n  user:\n%s", s->port, user_yaml);
	fclose(f);
	return path;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/retina-kube-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char *argv[] = { "tests/fixtures/mkpki.sh", dir, NULL };
	run_argv(argv);
	plain = start_api("plain", NULL);
	char *h[] = { "--cut-watch", "1", "--gone-once", "--unauthorized-once", "--forbid", "delete:pods", NULL };
	hostile = start_api("hostile", h);
	char *v4[] = { "--ws-protocols", "v4.channel.k8s.io", NULL };
	v4only = start_api("v4only", v4);
	char *o1[] = { "--unauthorized-once", NULL };
	once = start_api("once", o1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kill(plain.pid, SIGTERM);
	kill(hostile.pid, SIGTERM);
	kill(v4only.pid, SIGTERM);
	kill(once.pid, SIGTERM);
	waitpid(v4only.pid, NULL, 0);
	waitpid(once.pid, NULL, 0);
	waitpid(plain.pid, NULL, 0);
	waitpid(hostile.pid, NULL, 0);
	char *argv[] = { "rm", "-rf", dir, NULL };
	run_argv(argv);
	return 0;
}

static struct kube_client *client_for(const char *kc, struct kube_config *cfg)
{
	char err[512];
	struct kube_load_opts o = { .kubeconfig = kc };
	if (kube_config_load(&o, cfg, err, sizeof(err)))
		fail_msg("%s", err);
	struct kube_client *k = kube_client_new(cfg, 0, err, sizeof(err));
	if (!k)
		fail_msg("%s", err);
	return k;
}

static const char *str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
	x = b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static void nodes_and_errors(void **state)
{
	struct kube_config cfg;
	char err[1024];
	cJSON *o;
	(void)state;

	struct kube_client *k = client_for(kubeconfig("ec.yaml", &plain,
		"    client-certificate: client-ec.crt\n    client-key: client-ec.p8.key\n"), &cfg);
	assert_int_equal(kube_get_node(k, "node-1", &o, err, sizeof(err)), 0);
	assert_string_equal(str(o, "metadata", "name"), "node-1");
	cJSON_Delete(o);
	assert_int_equal(kube_list_nodes(k, &o, err, sizeof(err)), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "items")), 2);
	cJSON_Delete(o);
	assert_int_equal(kube_get_node(k, "nope", &o, err, sizeof(err)), -1);
	assert_string_equal(err, "Error from server (NotFound): nodes \"nope\" not found");
	assert_int_equal(kube_get_node(k, "../etc", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a valid name"));
	kube_client_free(k);
	kube_config_free(&cfg);

	/* a wrong token: kubectl's words */
	k = client_for(kubeconfig("bad.yaml", &plain, "    token: wrong\n"), &cfg);
	assert_int_equal(kube_list_nodes(k, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "error: You must be logged in to the server (Unauthorized)"));
	kube_client_free(k);
	kube_config_free(&cfg);
}

static int until_running(const cJSON *pod, void *arg, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	const char *phase = str(pod, "status", "phase");
	return phase && !strcmp(phase, "Running");
}

static void pod_lifecycle(void **state)
{
	struct kube_config cfg;
	char err[1024];
	cJSON *o;
	(void)state;

	struct kube_client *k = client_for(kubeconfig("rsa.yaml", &plain,
		"    client-certificate: client-rsa.crt\n    client-key: client-rsa.key\n"), &cfg);
	cJSON *pod = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"generateName\":\"retina-\"},"
		"\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"main\",\"image\":\"x\","
		"\"command\":[\"sh\",\"-c\",\"echo hello; sleep 0.5; echo world; sleep 30\"]}]}}");
	if (kube_create_pod(k, "default", pod, &o, err, sizeof(err)))
		fail_msg("%s", err);
	cJSON_Delete(pod);
	char name[64];
	snprintf(name, sizeof(name), "%s", str(o, "metadata", "name"));
	cJSON_Delete(o);
	assert_memory_equal(name, "retina-", 7);

	if (kube_watch_pod(k, "default", name, 10000, until_running, NULL, err, sizeof(err)))
		fail_msg("%s", err);

	cJSON *c = cJSON_Parse("{\"name\":\"debugger\",\"image\":\"retina\",\"stdin\":true,\"tty\":true}");
	assert_int_equal(kube_add_ephemeral_container(k, "default", name, c, &o, err, sizeof(err)), 0);
	cJSON_Delete(c);
	cJSON *eph = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "ephemeralContainers"), 0);
	assert_string_equal(str(eph, "name", NULL), "debugger");
	cJSON_Delete(o);

	/* logs: the first lines, then the watch ends the stream when the pod goes away */
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(kube_stream_logs(k, "default", name, "main", 0, p[1], err, sizeof(err)), 0);
	close(p[1]);
	char logs[256] = "";
	ssize_t n = read(p[0], logs, sizeof(logs) - 1);
	close(p[0]);
	assert_true(n > 0);
	assert_memory_equal(logs, "hello\n", 6);

	assert_int_equal(kube_list_pod_events(k, "default", name, &o, err, sizeof(err)), 0);
	cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "items"), 0);
	assert_string_equal(str(ev, "reason", NULL), "Scheduled");
	cJSON_Delete(o);

	assert_int_equal(kube_delete_pod(k, "default", name, err, sizeof(err)), 0);
	assert_int_equal(kube_get_pod(k, "default", name, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Error from server (NotFound): pods"));
	assert_int_equal(kube_delete_pod(k, "default", name, err, sizeof(err)), 0);	/* gone already: fine */
	assert_int_equal(kube_watch_pod(k, "default", name, 2000, until_running, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not exist"));
	kube_client_free(k);
	kube_config_free(&cfg);
}

static int count_in_log(const char *tag, const char *needle)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s.log", dir, tag);
	char *log = kube_read_file(path, 1 << 22, NULL);
	int n = 0;
	for (char *p = log; p && (p = strstr(p, needle)); p++)
		n++;
	free(log);
	return n;
}

static void hostile_server(void **state)
{
	struct kube_config cfg;
	char err[1024];
	cJSON *o;
	(void)state;

	/* tokenFile: after the injected 401 the client re-reads it and retries once */
	FILE *f = fopen(at("token"), "w");
	fputs(TOKEN "\n", f);
	fclose(f);
	struct kube_client *k = client_for(kubeconfig("hostile.yaml", &hostile, "    tokenFile: token\n"), &cfg);
	if (kube_get_node(k, "node-1", &o, err, sizeof(err)))
		fail_msg("%s", err);
	cJSON_Delete(o);

	cJSON *pod = cJSON_Parse("{\"metadata\":{\"name\":\"cut\"},\"spec\":{\"containers\":[{\"name\":\"main\","
				 "\"image\":\"x\",\"command\":[\"sleep\",\"30\"]}]}}");
	assert_int_equal(kube_create_pod(k, "default", pod, &o, err, sizeof(err)), 0);
	cJSON_Delete(pod);
	cJSON_Delete(o);
	/* every watch is cut after one event, the first one with a version answers 410: still Running */
	if (kube_watch_pod(k, "default", "cut", 15000, until_running, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(count_in_log("hostile", "watch=1") >= 2);
	assert_true(count_in_log("hostile", "fieldSelector=metadata.name%3Dcut HTTP") >= 2);	/* relisted */

	assert_int_equal(kube_delete_pod(k, "default", "cut", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Error from server (Forbidden): pods is forbidden: User \"token-user\" cannot delete"));
	assert_non_null(strstr(err, "docs/rbac.md"));
	kube_client_free(k);
	kube_config_free(&cfg);
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void through_a_proxy(void **state)
{
	struct kube_config cfg;
	char err[1024], conf[160], port[8];
	cJSON *o;
	(void)state;

	/* tinyproxy on loopback; no ConnectPort line: CONNECT to any port */
	snprintf(conf, sizeof(conf), "%s/tinyproxy.conf", dir);
	FILE *f = fopen(conf, "w");
	snprintf(port, sizeof(port), "%d", free_port());
	fprintf(f, "Port %s\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nLogFile \"%s/tinyproxy.log\"\n"
		"LogLevel Info\nMaxClients 10\n", port, dir);
	fclose(f);
	pid_t tp = fork();
	if (tp == 0) {
		char *argv[] = { "tinyproxy", "-d", "-c", conf, NULL };
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	usleep(300000);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%s", port);
	setenv("HTTPS_PROXY", url, 1);
	unsetenv("NO_PROXY");
	struct kube_client *k = client_for(kubeconfig("proxy.yaml", &plain, "    token: " TOKEN "\n"), &cfg);
	int rc = kube_get_node(k, "node-1", &o, err, sizeof(err));
	kube_client_free(k);
	kube_config_free(&cfg);
	if (rc == 0)
		cJSON_Delete(o);

	/* NO_PROXY matching the server: straight there (the proxy is not asked) */
	setenv("NO_PROXY", "localhost,127.0.0.0/8", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
	k = client_for(kubeconfig("proxy.yaml", &plain, "    token: " TOKEN "\n"), &cfg);
	int rc2 = kube_list_nodes(k, &o, err, sizeof(err));
	kube_client_free(k);
	kube_config_free(&cfg);
	if (rc2 == 0)
		cJSON_Delete(o);
	unsetenv("NO_PROXY");
	unsetenv("HTTPS_PROXY");
	kill(tp, SIGTERM);
	waitpid(tp, NULL, 0);
	assert_int_equal(rc, 0);
	assert_int_equal(rc2, 0);
	char logp[160];
	snprintf(logp, sizeof(logp), "%s/tinyproxy.log", dir);
	char *log = kube_read_file(logp, 1 << 20, NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "CONNECT"));
	free(log);
}

static void status_words(void **state)
{
	char err[512];
	(void)state;
	static const char forbidden[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		"\"message\":\"nodes is forbidden: User \\\"x\\\" cannot list resource \\\"nodes\\\"\",\"reason\":\"Forbidden\",\"code\":403}";
	kube_status_error(403, forbidden, sizeof(forbidden) - 1, err, sizeof(err));
	assert_non_null(strstr(err, "Error from server (Forbidden): nodes is forbidden: User \"x\" cannot list"));
	assert_non_null(strstr(err, "get/list nodes"));
	kube_status_error(502, "<html>bad gateway\n</html>", 25, err, sizeof(err));
	assert_string_equal(err, "Error from server (Unknown): <html>bad gateway </html>");
	kube_status_error(503, NULL, 0, err, sizeof(err));
	assert_string_equal(err, "Error from server (ServiceUnavailable): the server responded with HTTP status 503");
}

/* Run argv in a fresh running pod on server s; stdin_text (or NULL) is fed and closed. */
static int exec_in(const struct server *s, const char *tag, const char *const *argv, const char *stdin_text,
		   char *out, char *errout, int *code, char *err, size_t errlen)
{
	struct kube_config cfg;
	char pod_name[32];
	cJSON *o;
	struct kube_client *k = client_for(kubeconfig(tag, s, "    token: " TOKEN "\n"), &cfg);

	snprintf(pod_name, sizeof(pod_name), "exec-%s", tag);
	char *dot = strchr(pod_name, '.');
	if (dot)
		*dot = '\0';
	cJSON *pod = cJSON_CreateObject(), *md = cJSON_AddObjectToObject(pod, "metadata");
	cJSON_AddStringToObject(md, "name", pod_name);
	cJSON *ctr = cJSON_Parse("{\"containers\":[{\"name\":\"main\",\"image\":\"x\",\"command\":[\"sleep\",\"60\"]}]}");
	cJSON_AddItemToObject(pod, "spec", ctr);
	assert_int_equal(kube_create_pod(k, "default", pod, &o, err, errlen), 0);
	cJSON_Delete(pod);
	cJSON_Delete(o);
	if (kube_watch_pod(k, "default", pod_name, 10000, until_running, NULL, err, errlen))
		fail_msg("%s", err);

	int in[2] = { -1, -1 }, po[2], pe[2];
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	if (stdin_text) {
		assert_int_equal(pipe(in), 0);
		assert_int_equal(write(in[1], stdin_text, strlen(stdin_text)), (ssize_t)strlen(stdin_text));
		close(in[1]);
	}
	struct kube_exec_opts eo = { .ns = "default", .pod = pod_name, .container = "main", .command = argv,
				     .in_fd = in[0], .out_fd = po[1], .err_fd = pe[1] };
	int rc = kube_exec(k, &eo, code, err, errlen);
	close(po[1]);
	close(pe[1]);
	if (in[0] >= 0)
		close(in[0]);
	ssize_t n = read(po[0], out, 255);
	out[n > 0 ? n : 0] = '\0';
	n = read(pe[0], errout, 255);
	errout[n > 0 ? n : 0] = '\0';
	close(po[0]);
	close(pe[0]);
	kube_delete_pod(k, "default", pod_name, err + 128, errlen - 128);
	kube_client_free(k);
	kube_config_free(&cfg);
	return rc;
}

static void exec_exit_codes_and_stdin(void **state)
{
	char out[256], errout[256], err[1024];
	int code;
	(void)state;

	static const char *const sh[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	if (exec_in(&plain, "e1.yaml", sh, NULL, out, errout, &code, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(out, "out\n");
	assert_string_equal(errout, "err\n");
	assert_int_equal(code, 3);

	/* v5: the end of our stdin reaches the process ([255, 0]) */
	static const char *const tr[] = { "tr", "a-z", "A-Z", NULL };
	if (exec_in(&plain, "e2.yaml", tr, "hello\n", out, errout, &code, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(out, "HELLO\n");
	assert_int_equal(code, 0);

	/* a server that speaks only v4 (before Kubernetes 1.30) */
	static const char *const ok[] = { "sh", "-c", "echo v4; exit 0", NULL };
	if (exec_in(&v4only, "e3.yaml", ok, NULL, out, errout, &code, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(out, "v4\n");
	assert_int_equal(code, 0);
	assert_true(count_in_log("v4only", "/exec?command=sh&command=-c&command=echo%20v4%3B%20exit%200") == 1);
}

static void exec_tty_sends_size_and_restores(void **state)
{
	struct kube_config cfg;
	char err[1024], out[256];
	cJSON *o;
	int code;
	(void)state;

	int m = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(m >= 0 && !grantpt(m) && !unlockpt(m));
	int tty = open(ptsname(m), O_RDWR | O_NOCTTY);
	struct winsize ws = { .ws_row = 40, .ws_col = 100 };
	assert_int_equal(ioctl(tty, TIOCSWINSZ, &ws), 0);
	struct termios before, after;
	tcgetattr(tty, &before);

	struct kube_client *k = client_for(kubeconfig("tty.yaml", &plain, "    token: " TOKEN "\n"), &cfg);
	cJSON *pod = cJSON_Parse("{\"metadata\":{\"name\":\"tty\"},\"spec\":{\"containers\":[{\"name\":\"main\","
				 "\"image\":\"x\",\"command\":[\"sleep\",\"60\"]}]}}");
	assert_int_equal(kube_create_pod(k, "default", pod, &o, err, sizeof(err)), 0);
	cJSON_Delete(pod);
	cJSON_Delete(o);
	assert_int_equal(kube_watch_pod(k, "default", "tty", 10000, until_running, NULL, err, sizeof(err)), 0);
	int po[2];
	assert_int_equal(pipe(po), 0);
	static const char *const cmd[] = { "sh", "-c", "sleep 0.3; echo hi", NULL };
	struct kube_exec_opts eo = { .ns = "default", .pod = "tty", .command = cmd, .tty = true,
				     .in_fd = tty, .out_fd = po[1], .err_fd = po[1] };
	if (kube_exec(k, &eo, &code, err, sizeof(err)))
		fail_msg("%s", err);
	close(po[1]);
	ssize_t n = read(po[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	close(po[0]);
	assert_string_equal(out, "hi\n");
	tcgetattr(tty, &after);
	assert_int_equal(after.c_lflag, before.c_lflag);	/* raw mode undone */
	assert_true(count_in_log("plain", "resize {\"Width\":100,\"Height\":40}") >= 1);
	kube_delete_pod(k, "default", "tty", err, sizeof(err));
	kube_client_free(k);
	kube_config_free(&cfg);
	close(tty);
	close(m);
}

static void exec_plugin_rerun_after_401_and_quiet_logs(void **state)
{
	struct kube_config cfg;
	char err[1024];
	cJSON *o;
	(void)state;

	/* the plugin counts its runs; its token is good, but the server says 401 once */
	FILE *f = fopen(at("plugin.sh"), "w");
	fprintf(f, "#!/bin/sh\necho x >> \"%s\"\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
		"\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}'\n", at("plugin.runs"), TOKEN);
	fclose(f);
	chmod(at("plugin.sh"), 0755);
	char user[512];
	snprintf(user, sizeof(user), "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
		 "      command: ./plugin.sh\n");
	struct kube_load_opts lo = { .kubeconfig = kubeconfig("plugin.yaml", &once, user) };
	assert_int_equal(kube_config_load(&lo, &cfg, err, sizeof(err)), 0);
	struct kube_client *k = kube_client_new(&cfg, 1, err, sizeof(err));
	assert_non_null(k);

	/* -v 1: each request on stderr, never the token */
	fflush(stderr);
	int saved = dup(2), logfd = open(at("v.log"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(logfd, 2);
	int rc = kube_get_node(k, "node-1", &o, err, sizeof(err));
	if (rc == 0)
		cJSON_Delete(o);
	int rc2 = kube_list_nodes(k, &o, err, sizeof(err)) == 0 ? 0 : -1;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(logfd);
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(rc2, 0);
	cJSON_Delete(o);

	char *runs = kube_read_file(at("plugin.runs"), 100, NULL);
	assert_string_equal(runs, "x\nx\n");	/* ran, got a 401, ran again; then cached */
	free(runs);
	char *vlog = kube_read_file(at("v.log"), 1 << 16, NULL);
	char want[128];
	snprintf(want, sizeof(want), "retina: GET https://127.0.0.1:%s/api/v1/nodes/node-1 401 Unauthorized in ", once.port);
	assert_non_null(strstr(vlog, want));
	assert_non_null(strstr(vlog, "/api/v1/nodes/node-1 200 OK in "));
	assert_non_null(strstr(vlog, "/api/v1/nodes 200 OK in "));
	assert_null(strstr(vlog, TOKEN));
	free(vlog);
	kube_client_free(k);
	kube_config_free(&cfg);
}

static void attach_echoes_stdin(void **state)
{
	char out[256], errout[256], err[1024];
	int code;
	(void)state;

	/* attach joins the container's process (cat): what we type comes back, the end of our
	 * stdin closes its stdin (stdinOnce, v5), it ends, and the attach ends with Success */
	struct kube_config cfg;
	cJSON *o;
	struct kube_client *k = client_for(kubeconfig("attach.yaml", &plain, "    token: " TOKEN "\n"), &cfg);
	cJSON *pod = cJSON_Parse("{\"metadata\":{\"name\":\"att\"},\"spec\":{\"containers\":[{\"name\":\"main\","
				 "\"image\":\"x\",\"command\":[\"cat\"],\"stdin\":true,\"stdinOnce\":true}]}}");
	assert_int_equal(kube_create_pod(k, "default", pod, &o, err, sizeof(err)), 0);
	cJSON_Delete(pod);
	cJSON_Delete(o);
	assert_int_equal(kube_watch_pod(k, "default", "att", 10000, until_running, NULL, err, sizeof(err)), 0);
	int in[2], po[2], pe[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	assert_int_equal(write(in[1], "typed\n", 6), 6);
	close(in[1]);
	struct kube_exec_opts eo = { .ns = "default", .pod = "att", .attach = true, .in_fd = in[0],
				     .out_fd = po[1], .err_fd = pe[1] };
	if (kube_exec(k, &eo, &code, err, sizeof(err)))
		fail_msg("%s", err);
	close(po[1]);
	close(pe[1]);
	close(in[0]);
	ssize_t n = read(po[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	(void)errout;
	close(po[0]);
	close(pe[0]);
	assert_string_equal(out, "typed\n");
	assert_int_equal(code, 0);
	kube_delete_pod(k, "default", "att", err, sizeof(err));
	kube_client_free(k);
	kube_config_free(&cfg);
}

static int ready_when_running(const cJSON *pod, void *arg, char *err, size_t errlen)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
	const cJSON *ph = cJSON_GetObjectItemCaseSensitive(st, "phase");
	(void)arg;

	if (cJSON_IsString(ph) && !strcmp(ph->valuestring, "Failed")) {
		snprintf(err, errlen, "failed");
		return -1;
	}
	return cJSON_IsString(ph) && !strcmp(ph->valuestring, "Running");
}

/* One watch line at a time, as kube_watch_pod takes them (fuzz_kube_watch feeds it any bytes). */
static void watch_events(void **state)
{
	char rv[32] = "", err[256] = "";
	(void)state;

#define EV(l) kube_watch_event(l, rv, sizeof(rv), "ns", "p", ready_when_running, NULL, err, sizeof(err))
	assert_int_equal(EV("not json"), KW_GO_ON);
	assert_int_equal(EV("{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"17\"}}}"), KW_GO_ON);
	assert_string_equal(rv, "17");
	assert_int_equal(EV("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1x\"}}}"), KW_GO_ON);
	assert_string_equal(rv, "17");	/* not digits: kept the last good one */
	assert_int_equal(EV("{\"type\":\"MODIFIED\",\"object\":{\"status\":{\"phase\":\"Running\"}}}"), KW_DONE);
	assert_int_equal(EV("{\"type\":\"MODIFIED\",\"object\":{\"status\":{\"phase\":\"Failed\"}}}"), KW_FAIL);
	assert_string_equal(err, "failed");
	assert_int_equal(EV("{\"type\":\"ERROR\",\"object\":{\"code\":410}}"), KW_RELIST);
	assert_int_equal(EV("{\"type\":\"DELETED\",\"object\":{}}"), KW_FAIL);
	assert_string_equal(err, "pod ns/p was deleted while waiting for it");
#undef EV
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_words),
		cmocka_unit_test(watch_events),
		cmocka_unit_test(nodes_and_errors),
		cmocka_unit_test(pod_lifecycle),
		cmocka_unit_test(hostile_server),
		cmocka_unit_test(through_a_proxy),
		cmocka_unit_test(exec_exit_codes_and_stdin),
		cmocka_unit_test(exec_tty_sends_size_and_restores),
		cmocka_unit_test(exec_plugin_rerun_after_401_and_quiet_logs),
		cmocka_unit_test(attach_echoes_stdin),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The parent that deletes debug pods whatever ends the child making them
 * (see debugpod.h), and the image a debug pod runs. kubectl retina shell and
 * bpftrace share it, so every exit path of both cleans up the same way.
 *
 * The child announces each pod on a pipe before creating it ("c NS NAME\n")
 * and after the server answered ("C NS NAME\n"); the parent reads the pipe
 * while waiting, so any number of pods fits, and afterwards deletes each.
 * ConfigMaps (--ship-binary, kube/configmap.c) are told as "m"/"M" and
 * deleted after the pods that mount them.
 */
#define _GNU_SOURCE	/* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/configmap.h"
#include "kube/debugpod.h"
#include "lib/retina.h"
#include "lib/sys.h"

static bool image_part_ok(const char *s)
{
	return s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:/@") == strlen(s);
}

int debugpod_image(char *buf, size_t len, const char *repo, const char *version, const char *default_repo,
		   const char *default_version, char *err, size_t errlen)
{
	if (!repo || !repo[0])
		repo = getenv("RETINA_SHELL_IMAGE_REPO");
	if (!repo || !repo[0])
		repo = default_repo;
	if (!repo || !repo[0]) {
		snprintf(err, errlen, "which image? this build has no default image repository (make IMAGE_REPO=...): "
			 "pass --retina-shell-image-repo REPO (or set RETINA_SHELL_IMAGE_REPO), or use --ship-binary "
			 "to run this binary in an image the node already has");
		return -1;
	}
	if (!version || !version[0])
		version = getenv("RETINA_SHELL_IMAGE_VERSION");
	if (!version || !version[0])
		version = default_version;
	if (!image_part_ok(repo)) {
		snprintf(err, errlen, "bad image repository '%s'", repo);
		return -1;
	}
	if (!image_part_ok(version)) {
		snprintf(err, errlen, "bad image version '%s'", version);
		return -1;
	}
	if ((size_t)snprintf(buf, len, "%s%s%s", repo, strchr(version, ':') ? "@" : ":", version) >= len) {
		snprintf(err, errlen, "image name too long: '%s'", repo);
		return -1;
	}
	return 0;
}

int debugpod_tell(int fd, char what, const char *ns, const char *name)
{
	char msg[400];
	int n = snprintf(msg, sizeof(msg), "%c %s %s\n", what, ns, name);

	if (n <= 0 || (size_t)n >= sizeof(msg))
		return -1;
	return write(fd, msg, n) == n ? 0 : -1;	/* < PIPE_BUF: one atomic write */
}

int debugpod_create(struct kube_client *k, int created_fd, const struct debugpod_spec *spec, char *err,
		    size_t errlen)
{
	cJSON *p = debugpod_node_pod(spec), *out = NULL;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (debugpod_tell(created_fd, 'c', spec->ns, spec->name)) {	/* from here on the parent deletes the pod */
		cJSON_Delete(p);
		snprintf(err, errlen, "internal: cannot tell the parent: %s", strerror(errno));
		return -1;
	}
	int rc = kube_create_pod(k, spec->ns, p, &out, err, errlen);
	/* the answer came (were this lost, the parent would only delete twice) */
	debugpod_tell(created_fd, 'C', spec->ns, spec->name);
	cJSON_Delete(p);
	cJSON_Delete(out);
	return rc;
}

struct announced {
	char ns[254], name[254];
	bool answered, configmap;
};

/* Parse the child's "c NS NAME" / "C NS NAME" lines in buf[0..*used); keep a partial line. */
static void parse_told(char *buf, size_t *used, struct announced **v, size_t *n)
{
	char *start = buf, *nl;

	while ((nl = memchr(start, '\n', buf + *used - start))) {
		char what, ns[254], name[254];
		*nl = '\0';
		if (sscanf(start, "%c %253s %253s", &what, ns, name) == 3) {
			bool cm = what == 'm' || what == 'M';
			size_t i;
			for (i = 0; i < *n; i++)
				if (!strcmp((*v)[i].ns, ns) && !strcmp((*v)[i].name, name) && (*v)[i].configmap == cm)
					break;
			if (i == *n) {
				struct announced *nv = realloc(*v, (*n + 1) * sizeof(**v));
				if (nv) {
					*v = nv;
					memset(&nv[i], 0, sizeof(nv[i]));
					snprintf(nv[i].ns, sizeof(nv[i].ns), "%s", ns);
					snprintf(nv[i].name, sizeof(nv[i].name), "%s", name);
					nv[i].configmap = cm;
					(*n)++;
				}
			}
			if ((what == 'C' || what == 'M') && i < *n)
				(*v)[i].answered = true;
		}
		start = nl + 1;
	}
	*used = buf + *used - start;
	memmove(buf, start, *used);
}

/*
 * Another run's pod that mounts ConfigMap ns/name (the label debugpod_node_pod
 * puts on it) and is not going away: two --ship-binary runs of the same
 * binary share its ConfigMap, and the last to end deletes it. A list that
 * fails (no RBAC verb list on pods) says "not in use": the ConfigMap is
 * deleted as before, rather than left behind on every run.
 */
static bool configmap_in_use(struct kube_client *k, const char *ns, const char *name, const struct announced *v,
			     size_t n, char *who, size_t wholen)
{
	char path[700], err[512];
	cJSON *list = NULL;
	bool used = false;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=%s%%3D%s", ns,
		 DEBUGPOD_CONFIGMAP_LABEL_Q, name);
	if (kube_request(k, "GET", path, NULL, NULL, &list, NULL, err, sizeof(err)))
		return false;
	const cJSON *pod;
	cJSON_ArrayForEach(pod, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
		const cJSON *pname = cJSON_GetObjectItemCaseSensitive(md, "name");
		bool ours = false;
		if (!cJSON_IsString(pname) || cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp"))
			continue;	/* being deleted: ours, or another run's that is ending */
		for (size_t i = 0; i < n && !ours; i++)
			ours = !v[i].configmap && !strcmp(v[i].ns, ns) && !strcmp(v[i].name, pname->valuestring);
		if (!ours) {
			snprintf(who, wholen, "pod %s/%.200s of another run still mounts it", ns, pname->valuestring);
			used = true;
			break;
		}
	}
	cJSON_Delete(list);
	return used;
}

/* Pods first, then the ConfigMaps they mount (unless another run's pod still does). */
static void delete_announced(const struct debugpod_super *s, const struct announced *v, size_t n)
{
	char err[1024], who[300];
	/* a fresh client: the child's connections died with it */
	struct kube_client *k = kube_client_new(s->cfg, s->verbosity, err, sizeof(err));
	bool slept = false;

	for (int cm = 0; cm <= 1; cm++)
		for (size_t i = 0; i < n; i++) {
			if (v[i].configmap != cm)
				continue;
			int (*del)(struct kube_client *, const char *, const char *, char *, size_t) =
				cm ? kube_delete_configmap : kube_delete_pod;
			const char *what = cm ? "configmap" : "pod";
			if (cm && k && configmap_in_use(k, v[i].ns, v[i].name, v, n, who, sizeof(who))) {
				fprintf(stderr, "%s: configmap %s/%s kept: %s; the last run to end deletes it\n",
					applet_name, v[i].ns, v[i].name, who);
				continue;
			}
			int rc = k ? del(k, v[i].ns, v[i].name, err, sizeof(err)) : -1;
			if (!rc && !v[i].answered) {
				if (!slept)	/* the create was in flight: it may land after this delete */
					sleep(1);
				slept = true;
				rc = del(k, v[i].ns, v[i].name, err, sizeof(err));
			}
			if (rc)
				warnx("could not delete %s %s/%s: %s; delete it with: kubectl delete %s -n %s %s",
				      what, v[i].ns, v[i].name, err, what, v[i].ns, v[i].name);
			else
				fprintf(stderr, "%s: %s %s/%s deleted\n", applet_name, what, v[i].ns, v[i].name);
		}
	kube_client_free(k);
}

int debugpod_supervise(const struct debugpod_super *s)
{
	char buf[1024];
	size_t used = 0, n = 0;
	struct announced *v = NULL;
	int status, pipefd[2];
	bool forwarded = false;

	catch_stop_signals(0, true);	/* no SA_RESTART: read() and waitpid() see EINTR */
	/* close-on-exec: a credential plugin the child runs must not hold the pipe open */
	if (pipe2(pipefd, O_CLOEXEC))
		die(EXIT_FAIL, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die(EXIT_FAIL, "fork: %s", strerror(errno));
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);	/* the child installs its own handlers where it stops gracefully */
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		close(pipefd[0]);
		int code = s->child(s->arg, pipefd[1]);
		fflush(NULL);
		_exit(code);
	}
	close(pipefd[1]);
	for (;;) {
		if (stop_signal && !forwarded) {
			kill(pid, SIGTERM);	/* the child stops (restores a terminal, prints a summary) */
			forwarded = true;
		}
		ssize_t r = read(pipefd[0], buf + used, sizeof(buf) - used);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;	/* the child and everything it forked are gone, or closed the pipe */
		used += r;
		parse_told(buf, &used, &v, &n);
		if (used == sizeof(buf))	/* a line that long is not ours */
			used = 0;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			die(EXIT_FAIL, "waitpid: %s", strerror(errno));
		if (stop_signal && !forwarded) {
			kill(pid, SIGTERM);
			forwarded = true;
		}
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (stop_signal && s->signal_sets_code)
		code = 128 + stop_signal;
	if (n)
		delete_announced(s, v, n);
	free(v);
	return code;
}

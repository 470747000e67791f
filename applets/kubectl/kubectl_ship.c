/*
 * --ship-binary: the retina binary for each node's architecture carried in a
 * ConfigMap, run in an image the node already has (see kubectl_ship.h). The
 * ConfigMaps are made through the supervisor (kube/debugpod_run.c), which
 * deletes them after the pods on every exit path.
 */
#define _GNU_SOURCE	/* memmem */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applets/kubectl/kubectl_ship.h"
#include "kube/client.h"
#include "kube/configmap.h"
#include "lib/retina.h"
#include "image_repo.h"
#include "version.h"

const char kubectl_image_repo[] = RETINA_IMAGE_REPO;
/* what ship_check_binary() looks for in a binary of another architecture */
static const char build_tag[] = SHIP_TAG RETINA_VERSION;

#if defined(__x86_64__)
#define OWN_ARCH 0
#elif defined(__aarch64__)
#define OWN_ARCH 1
#else
#error "retina builds for amd64 and arm64"
#endif

void kubectl_print_version(void)
{
	printf("kubectl-retina %s\nbuilt with: musl, %s\n", build_tag + strlen(SHIP_TAG), RETINA_DEPS);
	if (kubectl_image_repo[0])
		printf("default image: %s:%s\n", kubectl_image_repo, RETINA_VERSION);
	else
		puts("default image: none (built without IMAGE_REPO): pass --retina-shell-image-repo, or use "
		     "--ship-binary");
}

/* A whole file, when it is no larger than a ConfigMap holds with our key. */
static unsigned char *read_binary(const char *path, size_t *len, char *err, size_t errlen)
{
	const size_t max = CONFIGMAP_MAX_BYTES - strlen(SHIP_KEY);
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		if (S_ISREG(st.st_mode))
			snprintf(err, errlen, "%s is %lld bytes, %lld over what a ConfigMap holds (%d bytes with its "
				 "key '%s'): --ship-binary cannot carry it; use the image (--retina-shell-image-repo)",
				 path, (long long)st.st_size, (long long)(st.st_size - max), CONFIGMAP_MAX_BYTES, SHIP_KEY);
		else
			snprintf(err, errlen, "%s is not a file", path);
		close(fd);
		return NULL;
	}
	unsigned char *data = malloc(st.st_size ? st.st_size : 1);
	size_t got = 0;
	while (data && got < (size_t)st.st_size) {
		ssize_t r = read(fd, data + got, st.st_size - got);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, r < 0 ? strerror(errno) : "shorter than it said");
			free(data);
			data = NULL;
			break;
		}
		got += r;
	}
	if (!data && !err[0])
		snprintf(err, errlen, "out of memory");
	close(fd);
	*len = got;
	return data;
}

/* Try one candidate file: true when it is the binary for arch; else its reason appended to tried. */
static bool try_binary(struct ship_bin *b, const char *path, int arch, char *tried, size_t tlen)
{
	char why[600] = "";
	size_t n = strlen(tried);

	if (access(path, F_OK))
		return false;
	b->data = read_binary(path, &b->len, why, sizeof(why));
	if (b->data && !ship_check_binary(b->data, b->len, arch, RETINA_VERSION, why, sizeof(why))) {
		snprintf(b->path, sizeof(b->path), "%s", path);
		return true;
	}
	free(b->data);
	b->data = NULL;
	snprintf(tried + n, tlen - n, "%s%s (%s)", n ? "; " : "", path, why);
	return false;
}

/*
 * The binary for arch: this one for our own; another next to this plugin
 * or in --retina-binaries DIR, as `make dist` unpacks (retina-V-linux-ARCH/
 * retina) or a build tree holds it (build/arm64/retina beside build/retina).
 */
static int find_binary(struct ship *s, int arch, char *err, size_t errlen)
{
	struct ship_bin *b = &s->bins[arch];
	char self[PATH_MAX], dirs[3][PATH_MAX], tried[1500] = "", looked[1200] = "";
	int nd = 0;

	if (b->data)
		return 0;
	if (arch == OWN_ARCH) {
		char why[600] = "";
		if (!(b->data = read_binary("/proc/self/exe", &b->len, why, sizeof(why)))) {
			snprintf(err, errlen, "this plugin's own binary: %s", why);
			return -1;
		}
		snprintf(b->path, sizeof(b->path), "/proc/self/exe");
		return 0;
	}
	if (s->bin_dir)
		snprintf(dirs[nd++], PATH_MAX, "%s", s->bin_dir);
	if (realpath("/proc/self/exe", self)) {	/* its folder, and the one above (dist's layout) */
		snprintf(dirs[nd++], PATH_MAX, "%s", dirname(self));
		snprintf(dirs[nd++], PATH_MAX, "%s", dirname(self));
	}
	for (int d = 0; d < nd; d++) {
		char pat[PATH_MAX + 300], suffix[32];
		size_t ln = strlen(looked);
		snprintf(looked + ln, sizeof(looked) - ln, "%s%s", ln ? ", " : "", dirs[d]);
		/* retina-*-linux-ARCH/retina (no glob(): musl's fnmatch brings 24 KB of wide-char tables) */
		snprintf(suffix, sizeof(suffix), "-linux-%s", ship_arch_name(arch));
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;
		while (dir && (e = readdir(dir))) {
			size_t nl = strlen(e->d_name), sl = strlen(suffix);
			if (nl <= 7 + sl || strncmp(e->d_name, "retina-", 7) || strcmp(e->d_name + nl - sl, suffix))
				continue;
			snprintf(pat, sizeof(pat), "%s/%s/retina", dirs[d], e->d_name);
			if (try_binary(b, pat, arch, tried, sizeof(tried))) {
				closedir(dir);
				return 0;
			}
		}
		if (dir)
			closedir(dir);
		snprintf(pat, sizeof(pat), "%s/%s/retina", dirs[d], ship_arch_name(arch));
		if (try_binary(b, pat, arch, tried, sizeof(tried)))
			return 0;
	}
	snprintf(err, errlen, "no %s retina of version %s found (looked in %s%s%s): download the release's "
		 "retina-VERSION-linux-%s.tar.gz (the one whose retina --version is %s) and unpack it beside this "
		 "plugin or into a folder given with --retina-binaries DIR (from a source checkout: make ARCH=%s)",
		 ship_arch_name(arch), RETINA_VERSION, looked[0] ? looked : "nowhere", tried[0] ? "; rejected: " : "",
		 tried, ship_arch_name(arch), RETINA_VERSION, ship_arch_name(arch));
	return -1;
}

/* 403 on a ConfigMap: what to grant, in one line (the generic RBAC list goes). */
static void forbidden(char *err, size_t errlen, const char *verb, const char *ns)
{
	char server[600];

	snprintf(server, sizeof(server), "%.*s", (int)strcspn(err, "\n"), err);
	snprintf(err, errlen, "%s; --ship-binary needs RBAC verbs create and delete on resource configmaps in "
		 "namespace %s (docs/rbac.md; this was %s), or run without --ship-binary", server, ns, verb);
}

/* One ConfigMap per binary; a leftover of that name is reused only when its bytes are ours. */
static int make_configmap(struct ship_bin *b, struct kube_client *k, int created_fd, const char *ns, char *err,
			  size_t errlen)
{
	int st;

	ship_configmap_name(b->data, b->len, b->configmap, sizeof(b->configmap));
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!debugpod_create_configmap(k, created_fd, ns, b->configmap, SHIP_KEY, b->data, b->len, &st, err,
					       errlen)) {
			b->made = true;
			return 0;
		}
		if (st == 403) {
			forbidden(err, errlen, "create", ns);
			return -1;
		}
		if (st != 409)
			return -1;
		cJSON *cm = NULL;
		size_t len = 0;
		unsigned char *have = NULL;
		if (!kube_get_configmap(k, ns, b->configmap, &cm, err, errlen))
			have = configmap_binary(cm, SHIP_KEY, &len);
		cJSON_Delete(cm);
		bool same = have && len == b->len && !memcmp(have, b->data, len);
		free(have);
		if (same) {	/* named after these bytes, and holding them: a leftover that is no stale copy */
			b->made = true;
			return 0;
		}
		if (kube_delete_configmap(k, ns, b->configmap, err, errlen))
			return -1;
	}
	snprintf(err, errlen, "configmap %s/%s keeps coming back with other bytes", ns, b->configmap);
	return -1;
}

/* Node name's architecture and image; a node that cannot run it gets why. -1: the run cannot go on. */
static int look_at_node(struct ship *s, struct kube_client *k, const char *name, struct ship_node *sn, char *err,
			size_t errlen)
{
	cJSON *node = NULL, *pods = NULL;
	char path[400];

	if (kube_get_node(k, name, &node, err, errlen))
		return -1;
	const cJSON *arch = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "status"), "nodeInfo"),
		"architecture");
	sn->arch = ship_arch_index(cJSON_IsString(arch) ? arch->valuestring : NULL);
	if (sn->arch < 0) {
		snprintf(sn->why, sizeof(sn->why), "node %s runs architecture %.32s (status.nodeInfo.architecture), and "
			 "retina builds for amd64 and arm64", name, cJSON_IsString(arch) ? arch->valuestring : "unknown");
		cJSON_Delete(node);
		return 0;
	}
	if (!ship_pick_image(node, NULL, sn->image, sizeof(sn->image))) {
		snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", name);
		if (kube_request(k, "GET", path, NULL, NULL, &pods, NULL, err, errlen))
			pods = NULL;	/* (list forbidden: then no image of a running pod either) */
		if (!ship_pick_image(node, pods, sn->image, sizeof(sn->image)))
			snprintf(sn->why, sizeof(sn->why), "no usable image on node %s for --ship-binary: it lists no "
				 "pause image in status.images and runs no container whose image could host retina; "
				 "run without --ship-binary (the retina-shell image)", name);
	}
	cJSON_Delete(node);
	cJSON_Delete(pods);
	return sn->why[0] || !find_binary(s, sn->arch, err, errlen) ? 0 : -1;
}

int ship_prepare(struct ship *s, struct kube_client *k, int created_fd, const char *ns, const char *const *nodes,
		 size_t n, char *err, size_t errlen)
{
	if (!(s->nodes = calloc(n ? n : 1, sizeof(*s->nodes)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->n = n;
	for (size_t i = 0; i < n; i++) {
		char why[1200];
		if (look_at_node(s, k, nodes[i], &s->nodes[i], why, sizeof(why))) {
			snprintf(err, errlen, "node %s: %s", nodes[i], why);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct ship_bin *b = &s->bins[s->nodes[i].arch >= 0 ? s->nodes[i].arch : 0];
		if (s->nodes[i].why[0] || b->made)
			continue;
		if (make_configmap(b, k, created_fd, ns, err, errlen))
			return -1;
		fprintf(stderr, "%s: configmap %s/%s holds the %s retina (%zu bytes)\n", applet_name, ns, b->configmap,
			ship_arch_name(s->nodes[i].arch), b->len);
	}
	return 0;
}

void ship_spec(struct ship *s, size_t i, struct debugpod_spec *spec)
{
	if (!s->argv && spec->command) {	/* the same argv, its program the mounted binary */
		size_t n = 0;
		while (spec->command[n])
			n++;
		if ((s->argv = calloc(n + 1, sizeof(*s->argv)))) {
			memcpy(s->argv, spec->command, n * sizeof(*s->argv));
			s->argv[0] = SHIP_PATH;
		}
	}
	spec->image = s->nodes[i].image;
	spec->configmap = s->bins[s->nodes[i].arch].configmap;
	spec->command = s->argv;
}

void ship_free(struct ship *s)
{
	for (int i = 0; i < SHIP_ARCHES; i++)
		free(s->bins[i].data);
	free(s->nodes);
	free(s->argv);
	memset(s, 0, sizeof(*s));
}

void ship_check_flags(const struct ship *s, const char *repo, const char *version)
{
	if (s->bin_dir && !s->on)
		usage_error("--retina-binaries says where --ship-binary finds binaries: use it with --ship-binary");
	if (s->on && (repo || version))
		usage_error("--ship-binary runs in an image the node already has: --retina-shell-image-%s does not "
			    "apply (use one or the other)", repo ? "repo" : "version");
}

void ship_check_shell_args(bool pod, char ***command)
{
	if (pod)
		usage_error("--ship-binary is for node shells: an ephemeral container cannot mount a ConfigMap");
	if (*command && **command && !strcmp(**command, "retina"))
		(*command)++;
	if (!*command || !**command)
		usage_error("--ship-binary runs one of retina's applets (-- capcheck|trace|ping|dig|nc|curl|nsenter|"
			    "execsnoop|traceloop ARGS): an interactive shell needs the image's sh "
			    "(--retina-shell-image-repo)");
	if (!ship_applet_ok(**command))
		usage_error("--ship-binary runs retina's applets, and '%s' is none (capcheck, trace, ping, dig, nc, "
			    "curl, nsenter, execsnoop, traceloop); other tools need the image (--retina-shell-image-repo)",
			    **command);
}

/* Waiting for an applet that may be done before we look: running or ended both do. */
static int started(const cJSON *pod, void *arg, char *err, size_t errlen)
{
	const cJSON *cs, *state = NULL;
	const char *phase;

	(void)arg;
	cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "status"),
								 "containerStatuses"))
		state = cJSON_GetObjectItemCaseSensitive(cs, "state");
	if (cJSON_GetObjectItemCaseSensitive(state, "running") || cJSON_GetObjectItemCaseSensitive(state, "terminated"))
		return 1;
	return debugpod_check(pod, DEBUGPOD_CONTAINER, false, &phase, err, errlen);
}

int ship_shell(struct ship *s, struct kube_client *k, int created_fd, struct debugpod_spec *spec, char **command,
	       int timeout_ms)
{
	const char *node = spec->node, **argv;
	char err[1500];
	size_t n = 0;
	int code = -1;

	while (command[n])
		n++;
	if (!(argv = calloc(n + 2, sizeof(*argv)))) {
		warnx("out of memory");
		return EXIT_FAIL;
	}
	argv[0] = "retina";
	memcpy(argv + 1, command, n * sizeof(*argv));
	spec->command = argv;
	spec->open_stdin = spec->tty = false;
	if (debugpod_check_node(k, node, "retina", err, sizeof(err)) ||
	    ship_prepare(s, k, created_fd, spec->ns, &node, 1, err, sizeof(err)))
		goto fail;
	if (s->nodes[0].why[0]) {
		snprintf(err, sizeof(err), "%s", s->nodes[0].why);
		goto fail;
	}
	ship_spec(s, 0, spec);
	if (debugpod_create(k, created_fd, spec, err, sizeof(err)))
		goto fail;
	if (kube_watch_pod(k, spec->ns, spec->name, timeout_ms, started, NULL, err, sizeof(err))) {
		warnx("%s", err);
		debugpod_print_events(k, spec->ns, spec->name);
		free(argv);
		return EXIT_FAIL;
	}
	if (kube_stream_logs(k, spec->ns, spec->name, DEBUGPOD_CONTAINER, 1, STDOUT_FILENO, err, sizeof(err)) ||
	    debugpod_exit_code(k, spec->ns, spec->name, DEBUGPOD_CONTAINER, false, 10000, &code, err, sizeof(err)))
		goto fail;
	free(argv);
	return code < 0 ? EXIT_FAIL : code;
fail:
	warnx("%s", err);
	free(argv);
	return EXIT_FAIL;
}

/*
 * --ship-binary (kubectl retina bpftrace and shell): no registry needed.
 * The plugin puts the retina binary for each node's architecture into a
 * ConfigMap (binaryData, named after the binary's sha256), and the debug pod
 * runs it from there (mounted with mode 0555) in an image the node already
 * has, with imagePullPolicy: Never: a pause image from the node's
 * status.images, else the image of a pod running on that node.
 *
 * kubectl_ship_rules.c is the pure part (image choice, ELF checks, names);
 * kubectl_ship.c talks to the cluster and reads the binaries.
 */
#ifndef RETINA_APPLETS_KUBECTL_SHIP_H
#define RETINA_APPLETS_KUBECTL_SHIP_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "kube/debugpod.h"

#define SHIP_KEY "retina"		/* the ConfigMap's key: the file's name in the mount */
#define SHIP_PATH DEBUGPOD_SHIP_MOUNT "/" SHIP_KEY
#define SHIP_TAG "retina-build:"	/* + the version: how a binary says which build it is */
#define SHIP_ARCHES 2			/* amd64, arm64 */

/* ---- pure (kubectl_ship_rules.c) ---- */

/* "amd64" / "arm64" by index, and back (-1: not one retina builds for). */
const char *ship_arch_name(int arch);
int ship_arch_index(const char *name);
/* A pause image's reference: its repository's last path component is "pause". */
bool ship_is_pause(const char *ref);
/*
 * The image to run in on this node (a Node object; pods: a PodList of the
 * pods on it, or NULL): a pause image from status.images (a tag before a
 * digest), else the image of a running container of one of the pods. false
 * when there is none.
 */
bool ship_pick_image(const cJSON *node, const cJSON *pods, char *out, size_t len);
/*
 * Whether data is a retina for arch (ELF machine), static (no PT_INTERP)
 * and of this version (SHIP_TAG version NUL inside). -1 with err saying
 * which check failed.
 */
int ship_check_binary(const unsigned char *data, size_t len, int arch, const char *version, char *err,
		      size_t errlen);
/* The ConfigMap's name: "retina-bin-" + the first 40 hex digits of the sha256 of data. */
void ship_configmap_name(const unsigned char *data, size_t len, char *out, size_t outlen);
/* The retina applets that run without the image's shell (shell --ship-binary -- APPLET). */
bool ship_applet_ok(const char *name);

/* ---- the run (kubectl_ship.c) ---- */

struct kube_client;

struct ship_bin {
	char path[4096];
	unsigned char *data;
	size_t len;
	char configmap[64];
	bool made;		/* its ConfigMap exists for this run */
};

struct ship_node {
	int arch;
	char image[512];
	char why[512];		/* no image: why, and the node is not traced */
};

struct ship {
	bool on;		/* --ship-binary */
	const char *bin_dir;	/* --retina-binaries DIR */
	struct ship_bin bins[SHIP_ARCHES];
	struct ship_node *nodes;
	size_t n;
	const char **argv;	/* the command, its argv[0] the mounted binary */
};

/* The build's default image repository ("" when built without IMAGE_REPO). */
extern const char kubectl_image_repo[];
/* kubectl retina --version: the version, the libraries and the default image. */
void kubectl_print_version(void);

/*
 * Before any pod: each node's architecture and image, the binary for each
 * architecture needed (a missing one fails the run, naming what to
 * download), and one ConfigMap per binary, made through the supervisor. A
 * node without a usable image gets why set (it is not traced); -1 with err
 * when the run cannot go on.
 */
int ship_prepare(struct ship *s, struct kube_client *k, int created_fd, const char *ns, const char *const *nodes,
		 size_t n, char *err, size_t errlen);
/* Node i's pod: its image, the ConfigMap mounted, Never pulled, argv[0] the mounted binary. */
void ship_spec(struct ship *s, size_t i, struct debugpod_spec *spec);
void ship_free(struct ship *s);

/* --retina-binaries without --ship-binary, or an image flag with it: a usage error (exit 2). */
void ship_check_flags(const struct ship *s, const char *repo, const char *version);
/* shell --ship-binary: a node and -- APPLET (a leading "retina" dropped), else a usage error (exit 2). */
void ship_check_shell_args(bool pod, char ***command);
/*
 * shell NODE --ship-binary -- APPLET ARGS: the applet is the pod's command;
 * its log (stdout and stderr, as the kubelet keeps them) comes to our stdout
 * and its exit code becomes ours.
 */
int ship_shell(struct ship *s, struct kube_client *k, int created_fd, struct debugpod_spec *spec, char **command,
	       int timeout_ms);

#endif

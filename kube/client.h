/*
 * Kubernetes API client: requests with auth and kubectl-style errors, and
 * the calls retina makes (nodes, pods, watch, logs, events, ephemeral
 * containers). JSON goes in and out as cJSON trees.
 */
#ifndef RETINA_KUBE_CLIENT_H
#define RETINA_KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

struct kube_config;
struct kube_client;

/* NULL with err when the server URL or the TLS material cannot be used. verbosity: -v N. */
struct kube_client *kube_client_new(const struct kube_config *cfg, int verbosity, char *err, size_t errlen);
void kube_client_free(struct kube_client *k);
/* Bound connecting (TCP and TLS) and each read to timeout_ms (default 15 s and 30 s). */
void kube_client_set_timeout(struct kube_client *k, int timeout_ms);
/* The Accept header of kube_request from now on (NULL: application/json); accept must outlive k. */
void kube_client_set_accept(struct kube_client *k, const char *accept);

/*
 * One request; path starts with "/". body may be NULL. On 2xx: 0 and the
 * decoded JSON body in *out (NULL when empty or out is NULL). Otherwise -1
 * and err as kubectl says it ("Error from server (NotFound): pods \"x\" not
 * found"); *status (when given) holds the HTTP status or 0 when no answer.
 */
int kube_request(struct kube_client *k, const char *method, const char *path, const char *content_type,
		 const char *body, cJSON **out, int *status, char *err, size_t errlen);

/*
 * kubectl's words for a failed answer: the metav1.Status in body when there
 * is one, else the HTTP status. 403 also names what retina needs (docs/rbac.md).
 */
void kube_status_error(int http_status, const char *body, size_t len, char *err, size_t errlen);

/* The exec status (channel 3, a metav1.Status): 0 with the exit code, or -1 with the server's message. */
int kube_exit_status(const char *data, size_t len, int *code, char *err, size_t errlen);

int kube_get_node(struct kube_client *k, const char *name, cJSON **node, char *err, size_t errlen);
int kube_list_nodes(struct kube_client *k, cJSON **list, char *err, size_t errlen);
/* pod: a Pod object (generateName allowed); *created: what the server made of it. */
int kube_create_pod(struct kube_client *k, const char *ns, const cJSON *pod, cJSON **created,
		    char *err, size_t errlen);
int kube_get_pod(struct kube_client *k, const char *ns, const char *name, cJSON **pod, char *err, size_t errlen);
/* Delete with gracePeriodSeconds=0; a pod already gone counts as deleted. */
int kube_delete_pod(struct kube_client *k, const char *ns, const char *name, char *err, size_t errlen);
/* Add an ephemeral container (a Container-like object) to a pod. */
int kube_add_ephemeral_container(struct kube_client *k, const char *ns, const char *name,
				 const cJSON *container, cJSON **pod, char *err, size_t errlen);
/* Events whose involvedObject is this pod, oldest first. */
int kube_list_pod_events(struct kube_client *k, const char *ns, const char *name, cJSON **list,
			 char *err, size_t errlen);
/* Stream the container's log to fd (follow: until it ends). */
int kube_stream_logs(struct kube_client *k, const char *ns, const char *name, const char *container,
		     int follow, int fd, char *err, size_t errlen);

/*
 * A streaming GET (watch, logs) on its own connection. open: 0, -410 when
 * the server said 410 Gone, -403 Forbidden (with err), -1 with err. line: the next '\n'-terminated line
 * (malloc'd, without the newline), NULL at the end, on a timeout or an
 * error (err then says which; "" at a clean end).
 */
struct kube_stream;
int kube_stream_open(struct kube_client *k, const char *path, int timeout_ms, struct kube_stream **s,
		     char *err, size_t errlen);
char *kube_stream_line(struct kube_stream *s, int timeout_ms, char *err, size_t errlen);
ssize_t kube_stream_read(struct kube_stream *s, void *buf, size_t len, int timeout_ms, char *err, size_t errlen);
void kube_stream_close(struct kube_stream *s);

/*
 * Watch one pod until done(pod, arg) returns non-zero (1: success, -1: give
 * up with its message in err) or timeout_ms passes. done also sees the pod
 * as first listed. A dropped stream resumes from the last resourceVersion; a
 * 410 Gone lists again. A deleted pod ends the watch with an error.
 */
int kube_watch_pod(struct kube_client *k, const char *ns, const char *name, int timeout_ms,
		   int (*done)(const cJSON *pod, void *arg, char *err, size_t errlen), void *arg,
		   char *err, size_t errlen);
/*
 * One line of the watch stream, as kube_watch_pod takes it: rv follows the
 * object's resourceVersion; done sees each ADDED/MODIFIED pod.
 */
enum { KW_GO_ON, KW_RELIST, KW_DONE, KW_FAIL };
int kube_watch_event(const char *line, char *rv, size_t rvlen, const char *ns, const char *name,
		     int (*done)(const cJSON *pod, void *arg, char *err, size_t errlen), void *arg, char *err,
		     size_t errlen);

/*
 * List a collection (path: "/api/v1/pods", "/api/v1/namespaces/NS/services"),
 * then watch it from the list's resourceVersion until cb returns non-zero:
 * cb("BEGIN", NULL), cb("ADDED", item) per item, cb("END", NULL), then each
 * watch event's type and object (BOOKMARKs too). A dropped stream resumes;
 * 410 Gone lists again (BEGIN ... END anew). -1 with err (and the HTTP
 * status in *status) when the list fails, or the watch is forbidden (403
 * after END): the caller decides (403: RBAC).
 */
int kube_list_watch(struct kube_client *k, const char *path, int (*cb)(const char *type, const cJSON *obj, void *arg),
		    void *arg, int *status, char *err, size_t errlen);

/* A WebSocket to the API server with this client's credentials (exec, attach). */
struct ws;
int kube_ws_open(struct kube_client *k, const char *path, const char *const *protocols, struct ws **ws,
		 char *err, size_t errlen);

struct kube_exec_opts {
	const char *ns, *pod, *container;
	const char *const *command;	/* NULL-terminated argv; unused for attach */
	bool attach, tty;
	int in_fd;			/* -1: no stdin */
	int out_fd, err_fd;
};
/*
 * exec (or attach) over WebSocket, v5.channel.k8s.io preferred, v4 accepted:
 * channels 0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, 255 close
 * (v5: the end of stdin is sent as [255, 0]). 0 with the command's exit code
 * in *exit_code (from the metav1.Status on channel 3), or -1 with err.
 */
int kube_exec(struct kube_client *k, const struct kube_exec_opts *o, int *exit_code, char *err, size_t errlen);

#endif

/*
 * ConfigMaps retina makes for `--ship-binary` (kube/configmap.c): the
 * retina binary itself in binaryData, mounted into the debug pod. Created
 * through the supervisor (debugpod.h), which deletes them with the pods.
 */
#ifndef RETINA_KUBE_CONFIGMAP_H
#define RETINA_KUBE_CONFIGMAP_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct kube_client;

/* What the API server accepts in one ConfigMap: the sum of its keys' and values' lengths. */
#define CONFIGMAP_MAX_BYTES 1048576

/*
 * Create ConfigMap ns/name holding data under key in binaryData (base64 on
 * the wire), labelled managed-by kubectl-retina and immutable (the kubelet
 * then stops watching it). 0, or -1 with err and *status the HTTP status
 * (409: it exists already).
 */
int kube_create_configmap(struct kube_client *k, const char *ns, const char *name, const char *key,
			  const void *data, size_t len, int *status, char *err, size_t errlen);
int kube_get_configmap(struct kube_client *k, const char *ns, const char *name, cJSON **cm, char *err,
		       size_t errlen);
/* One already gone counts as deleted. */
int kube_delete_configmap(struct kube_client *k, const char *ns, const char *name, char *err, size_t errlen);
/* The bytes under key in cm's binaryData (malloc'd, *len), or NULL when it has none or bad base64. */
unsigned char *configmap_binary(const cJSON *cm, const char *key, size_t *len);

/*
 * Through the supervisor: announce ns/name (so the parent deletes it
 * whatever ends the child), create it, say the answer came.
 */
int debugpod_create_configmap(struct kube_client *k, int created_fd, const char *ns, const char *name,
			      const char *key, const void *data, size_t len, int *status, char *err, size_t errlen);

#endif

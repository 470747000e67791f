/* ConfigMaps for --ship-binary: create (binaryData), get, delete (see configmap.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/client.h"
#include "kube/configmap.h"
#include "kube/debugpod.h"
#include "lib/base64.h"

static int names_ok(const char *ns, const char *name, char *err, size_t errlen)
{
	const char *ok = "abcdefghijklmnopqrstuvwxyz0123456789-.";

	if (!ns || !ns[0] || strlen(ns) > 63 || strspn(ns, ok) != strlen(ns) || !name || !name[0] ||
	    strlen(name) > 253 || strspn(name, ok) != strlen(name)) {
		snprintf(err, errlen, "configmap '%s/%s' is not a valid name", ns ? ns : "", name ? name : "");
		return -1;
	}
	return 0;
}

int kube_create_configmap(struct kube_client *k, const char *ns, const char *name, const char *key,
			  const void *data, size_t len, int *status, char *err, size_t errlen)
{
	char path[400];
	size_t head = 512 + strlen(name) + strlen(key);

	*status = 0;
	if (names_ok(ns, name, err, errlen))
		return -1;
	/* the body is written here, not built as a tree: the value is about 1.2 MB of base64 */
	char *body = malloc(head + BASE64_LEN(len) + 1);
	if (!body) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int n = snprintf(body, head, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
			 "\"namespace\":\"%s\",\"labels\":{\"%s\":\"%s\"}},\"immutable\":true,"
			 "\"binaryData\":{\"%s\":\"", name, ns, DEBUGPOD_MANAGED_BY_LABEL, DEBUGPOD_MANAGED_BY, key);
	n += base64_encode_to(body + n, data, len);
	memcpy(body + n, "\"}}", 4);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	int rc = kube_request(k, "POST", path, "application/json", body, NULL, status, err, errlen);
	free(body);
	return rc;
}

int kube_get_configmap(struct kube_client *k, const char *ns, const char *name, cJSON **cm, char *err,
		       size_t errlen)
{
	char path[400];

	if (names_ok(ns, name, err, errlen))
		return -1;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	return kube_request(k, "GET", path, NULL, NULL, cm, NULL, err, errlen);
}

int kube_delete_configmap(struct kube_client *k, const char *ns, const char *name, char *err, size_t errlen)
{
	char path[400];
	int st;

	if (names_ok(ns, name, err, errlen))
		return -1;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	if (kube_request(k, "DELETE", path, NULL, NULL, NULL, &st, err, errlen))
		return st == 404 ? 0 : -1;
	return 0;
}

unsigned char *configmap_binary(const cJSON *cm, const char *key, size_t *len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cm, "binaryData"), key);

	return cJSON_IsString(v) ? base64_decode(v->valuestring, len) : NULL;
}

int debugpod_create_configmap(struct kube_client *k, int created_fd, const char *ns, const char *name,
			      const char *key, const void *data, size_t len, int *status, char *err, size_t errlen)
{
	if (debugpod_tell(created_fd, 'm', ns, name)) {	/* from here on the parent deletes it */
		snprintf(err, errlen, "internal: cannot tell the parent");
		*status = 0;
		return -1;
	}
	int rc = kube_create_configmap(k, ns, name, key, data, len, status, err, errlen);
	debugpod_tell(created_fd, 'M', ns, name);
	return rc;
}

/* metav1.Status answers in kubectl's words (pure: fuzzed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kube/client.h"

#define RBAC_HINT "retina needs these RBAC permissions (see docs/rbac.md): get/list nodes; " \
	"create/get/list/watch/delete pods; get pods/log; patch pods/ephemeralcontainers; " \
	"create pods/exec and pods/attach; list events; --ship-binary: create/get/delete configmaps"

static const char *reason_of(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "AlreadyExists";
	case 410: return "Expired";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return "Unknown";
	}
}

/* Printable copy of at most n bytes of s (no control characters from a server). */
static void clean(char *dst, size_t dlen, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && s[i] && o + 1 < dlen; i++)
		dst[o++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	dst[o] = '\0';
}

void kube_status_error(int http_status, const char *body, size_t len, char *err, size_t errlen)
{
	cJSON *st = body ? cJSON_ParseWithLength(body, len) : NULL;
	cJSON *kind = cJSON_GetObjectItemCaseSensitive(st, "kind");
	cJSON *msg = cJSON_GetObjectItemCaseSensitive(st, "message");
	cJSON *reason = cJSON_GetObjectItemCaseSensitive(st, "reason");
	char m[768], r[64];
	const char *hint = "";

	if (cJSON_IsString(kind) && !strcmp(kind->valuestring, "Status") && cJSON_IsString(msg)) {
		clean(m, sizeof(m), msg->valuestring, strlen(msg->valuestring));
		clean(r, sizeof(r), cJSON_IsString(reason) && reason->valuestring[0] ? reason->valuestring
			 : reason_of(http_status), 63);
	} else {
		/* not a Status: kubectl quotes the body (trimmed) */
		clean(m, sizeof(m), body ? body : "", body ? (len < 200 ? len : 200) : 0);
		if (!m[0])
			snprintf(m, sizeof(m), "the server responded with HTTP status %d", http_status);
		snprintf(r, sizeof(r), "%s", reason_of(http_status));
	}
	cJSON_Delete(st);
	if (http_status == 401) {
		snprintf(err, errlen, "error: You must be logged in to the server (%s): check the kubeconfig "
			 "user's token, client certificate or exec plugin", r[0] ? r : "Unauthorized");
		return;
	}
	if (http_status == 403)
		hint = "\n" RBAC_HINT;
	snprintf(err, errlen, "Error from server (%s): %s%s", r, m, hint);
}

/* Channel 3: a metav1.Status. 0 with the exit code, or -1 with the server's message. */
int kube_exit_status(const char *data, size_t len, int *code, char *err, size_t errlen)
{
	cJSON *st = cJSON_ParseWithLength(data, len);
	cJSON *status = cJSON_GetObjectItemCaseSensitive(st, "status");
	cJSON *reason = cJSON_GetObjectItemCaseSensitive(st, "reason");
	int rc = -1;

	if (cJSON_IsString(status) && !strcmp(status->valuestring, "Success")) {
		*code = 0;
		rc = 0;
	} else if (cJSON_IsString(reason) && !strcmp(reason->valuestring, "NonZeroExitCode")) {
		cJSON *causes = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "details"), "causes");
		cJSON *c;
		cJSON_ArrayForEach(c, causes) {
			cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "reason");
			cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "message");
			if (cJSON_IsString(r) && !strcmp(r->valuestring, "ExitCode") && cJSON_IsString(m)) {
				char *end;
				long v = strtol(m->valuestring, &end, 10);
				if (*end || end == m->valuestring || v < 0 || v > 255)
					continue;	/* exit codes are 0..255 */
				*code = v;
				rc = 0;
			}
		}
		if (rc)
			snprintf(err, errlen, "the command failed, but the server gave no exit code");
	} else {
		kube_status_error(500, data, len, err, errlen);
	}
	cJSON_Delete(st);
	return rc;
}


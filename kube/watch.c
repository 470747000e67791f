/*
 * Watch one pod until a condition holds: list to learn its state and the
 * resourceVersion, then watch from there; resume from the last version seen
 * when the stream drops, list again on 410 Gone.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/client.h"
#include "lib/sys.h"

static void set_rv(char *rv, size_t len, const cJSON *obj)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *v = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");

	if (cJSON_IsString(v) && strspn(v->valuestring, "0123456789") == strlen(v->valuestring))
		snprintf(rv, len, "%s", v->valuestring);
}

int kube_watch_event(const char *line, char *rv, size_t rvlen, const char *ns, const char *name,
		     int (*done)(const cJSON *pod, void *arg, char *err, size_t errlen), void *arg, char *err,
		     size_t errlen)
{
	cJSON *e = cJSON_Parse(line);
	cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(e, "object");
	int step = KW_GO_ON;

	if (!cJSON_IsString(type) || !cJSON_IsObject(obj)) {
		cJSON_Delete(e);
		return KW_GO_ON;	/* not an event: skip it */
	}
	const char *t = type->valuestring;
	if (!strcmp(t, "ERROR")) {
		cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		if (cJSON_IsNumber(code) && code->valueint == 410) {
			step = KW_RELIST;
		} else {
			char *txt = cJSON_PrintUnformatted(obj);
			kube_status_error(cJSON_IsNumber(code) ? code->valueint : 500, txt, txt ? strlen(txt) : 0,
					  err, errlen);
			free(txt);
			step = KW_FAIL;
		}
	} else {
		set_rv(rv, rvlen, obj);
		if (!strcmp(t, "DELETED")) {
			snprintf(err, errlen, "pod %s/%s was deleted while waiting for it", ns, name);
			step = KW_FAIL;
		} else if (strcmp(t, "BOOKMARK")) {
			int rc = done(obj, arg, err, errlen);
			step = rc > 0 ? KW_DONE : rc < 0 ? KW_FAIL : KW_GO_ON;
		}
	}
	cJSON_Delete(e);
	return step;
}

int kube_watch_pod(struct kube_client *k, const char *ns, const char *name, int timeout_ms,
		   int (*done)(const cJSON *pod, void *arg, char *err, size_t errlen), void *arg,
		   char *err, size_t errlen)
{
	long long deadline = mono_ms() + timeout_ms;
	char path[900], rv[32] = "", line_err[512];
	int rc;

	for (const char *c = name; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-.", *c))
			goto badname;
	for (const char *c = ns; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-.", *c))
			goto badname;
	if (!name[0] || !ns[0])
		goto badname;

relist:;
	cJSON *list;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?fieldSelector=metadata.name%%3D%s", ns, name);
	if (kube_request(k, "GET", path, NULL, NULL, &list, NULL, err, errlen))
		return -1;
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
	cJSON *pod = cJSON_GetArrayItem(items, 0);
	set_rv(rv, sizeof(rv), list);
	if (!pod) {
		cJSON_Delete(list);
		snprintf(err, errlen, "pod %s/%s does not exist (deleted?)", ns, name);
		return -1;
	}
	rc = done(pod, arg, err, errlen);
	cJSON_Delete(list);
	if (rc)
		return rc > 0 ? 0 : -1;

	for (;;) {
		long long left = deadline - mono_ms();
		if (left <= 0)
			break;
		struct kube_stream *s;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?watch=1&fieldSelector=metadata.name%%3D%s"
			 "&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%lld", ns, name, rv,
			 (left + 999) / 1000);
		int st = kube_stream_open(k, path, (int)left, &s, err, errlen);
		if (st == -410)
			goto relist;
		if (st)
			return -1;
		char *ev;
		long long wait;
		while ((wait = deadline - mono_ms()) > 0 &&
		       (ev = kube_stream_line(s, (int)wait, line_err, sizeof(line_err)))) {
			int step = kube_watch_event(ev, rv, sizeof(rv), ns, name, done, arg, err, errlen);
			free(ev);
			if (step == KW_GO_ON)
				continue;
			kube_stream_close(s);
			if (step == KW_RELIST)
				goto relist;	/* our version is too old: start over */
			return step == KW_DONE ? 0 : -1;
		}
		/* the stream ended or dropped: resume from rv (the loop), unless out of time */
		kube_stream_close(s);
	}
	snprintf(err, errlen, "timed out after %d s waiting for pod %s/%s", (timeout_ms + 999) / 1000, ns, name);
	return -1;
badname:
	snprintf(err, errlen, "pod '%s/%s' is not a valid namespace/name", ns, name);
	return -1;
}

/*
 * A collection listed, then watched from the list's resourceVersion for as
 * long as cb wants: the names of pods, services and nodes for kubectl retina
 * bpftrace. A dropped stream resumes from the last version seen; 410 Gone
 * (or an ERROR event saying it) lists again, between BEGIN and END.
 */
#define LIST_PAGE 500

int kube_list_watch(struct kube_client *k, const char *path, int (*cb)(const char *type, const cJSON *obj, void *arg),
		    void *arg, int *status, char *err, size_t errlen)
{
	char url[2400], rv[32] = "", line_err[512];
	const char *sep = strchr(path, '?') ? "&" : "?";
	cJSON *list = NULL, *item;

relist:
	rv[0] = '\0';
	/* in pages of LIST_PAGE (limit + continue): 10,000 pods in one answer would be ~100 MB of JSON */
	char cont[1024] = "";
	bool first = true;
	do {
		snprintf(url, sizeof(url), "%s%slimit=%d%s%s", path, sep, LIST_PAGE, cont[0] ? "&continue=" : "", cont);
		if (kube_request(k, "GET", url, NULL, NULL, &list, status, err, errlen))
			return -1;
		set_rv(rv, sizeof(rv), list);
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(list, "metadata"),
								  "continue");
		cont[0] = '\0';
		/* the token is opaque base64(url): escaped as a query value must be */
		for (size_t i = 0, j = 0; cJSON_IsString(c) && c->valuestring[i] && j + 4 < sizeof(cont); i++) {
			unsigned char ch = (unsigned char)c->valuestring[i];
			j += snprintf(cont + j, sizeof(cont) - j, isalnum(ch) || strchr("-_.~", ch) ? "%c" : "%%%02X", ch);
		}
		if (first && cb("BEGIN", NULL, arg))
			goto stop;
		first = false;
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(list, "items"))
			if (cb("ADDED", item, arg))
				goto stop;
		cJSON_Delete(list);
		list = NULL;
	} while (cont[0]);
	if (cb("END", NULL, arg))
		goto stop;
	for (;;) {
		struct kube_stream *s;
		snprintf(url, sizeof(url), "%s%swatch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=300",
			 path, sep, rv);
		int st = kube_stream_open(k, url, 330000, &s, err, errlen);
		if (st == -410)
			goto relist;
		if (st == -403) {	/* may list, may not watch (RBAC): the caller says so; no retry forever */
			*status = 403;
			return -1;
		}
		if (st) {	/* the server is away for a moment: again, not in a busy loop */
			sleep(1);
			continue;
		}
		char *ev;
		while ((ev = kube_stream_line(s, 330000, line_err, sizeof(line_err)))) {
			cJSON *e = cJSON_Parse(ev);
			cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
			cJSON *obj = cJSON_GetObjectItemCaseSensitive(e, "object");
			int rc = 0;
			free(ev);
			if (cJSON_IsString(type) && cJSON_IsObject(obj)) {
				if (!strcmp(type->valuestring, "ERROR")) {
					cJSON_Delete(e);
					kube_stream_close(s);
					goto relist;	/* 410 Expired, or anything: start over from a list */
				}
				set_rv(rv, sizeof(rv), obj);
				rc = cb(type->valuestring, obj, arg);
			}
			cJSON_Delete(e);
			if (rc) {
				kube_stream_close(s);
				return 0;
			}
		}
		kube_stream_close(s);
	}
stop:
	cJSON_Delete(list);
	return 0;
}

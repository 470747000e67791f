/*
 * Pods and cgroups on this node, the pure part (see node/pods.h): a
 * /proc/PID/cgroup line split, a cgroup path -> pod UID, container ID and QoS
 * class, pod UIDs as users type them, and what a pod's hostname and
 * resolv.conf say about its name and namespace. No I/O: cmocka and libFuzzer
 * drive it directly.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/pods.h"

int cgroup_line_split(char *line, int *hier, char **controllers, char **path)
{
	char *c1 = strchr(line, ':'), *c2, *end;
	long h;

	if (!c1)
		return -1;
	c2 = strchr(c1 + 1, ':');
	if (!c2 || c1 == line)
		return -1;
	errno = 0;
	h = strtol(line, &end, 10);
	if (end != c1 || errno || h < 0 || h > 1000000)
		return -1;
	line[strcspn(line, "\n")] = '\0';
	if (c2[1] != '/')	/* a path is absolute (in the reader's cgroup namespace) */
		return -1;
	*c1 = *c2 = '\0';
	*hier = (int)h;
	*controllers = c1 + 1;
	*path = c2 + 1;
	return 0;
}

static bool is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * A pod UID at s (exactly len chars): 8-4-4-4-12 hex with '-' or '_', or the
 * 32 hex digits of a static pod's UID (a hash of its manifest).
 */
static int uid_from(const char *s, size_t len, char out[POD_UID_MAX])
{
	if (len == 36) {
		for (size_t i = 0; i < 36; i++) {
			bool sep = i == 8 || i == 13 || i == 18 || i == 23;
			if (sep ? (s[i] != '-' && s[i] != '_') : !is_hex(s[i]))
				return -1;
			out[i] = sep ? '-' : (char)tolower((unsigned char)s[i]);
		}
		out[36] = '\0';
		return 0;
	}
	if (len == 32) {
		for (size_t i = 0; i < 32; i++) {
			if (!is_hex(s[i]))
				return -1;
			out[i] = (char)tolower((unsigned char)s[i]);
		}
		out[32] = '\0';
		return 0;
	}
	return -1;
}

int pod_uid_normalize(const char *in, char out[POD_UID_MAX])
{
	return in ? uid_from(in, strlen(in), out) : -1;
}

static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

static bool ends(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

/* An ancestor that makes "pod<uid>" under it a kubelet pod cgroup (cgroupfs driver). */
static bool kube_parent(const char *s, size_t len)
{
	return starts(s, len, "kubepods") || starts(s, len, "kubelet-kubepods") ||
	       (len == 10 && !memcmp(s, "besteffort", 10)) || (len == 9 && !memcmp(s, "burstable", 9)) ||
	       (len == 2 && !memcmp(s, "..", 2));	/* above our cgroup namespace's root */
}

/*
 * Is component s the pod's cgroup? systemd: "kubepods[-QOS]-pod<uid>.slice"
 * (also kind's "kubelet-kubepods-..."); cgroupfs: "pod<uid>" under a kube parent.
 */
static bool pod_component(const char *s, size_t len, bool under_kube, struct cgroup_ref *ref)
{
	const char *p;
	size_t plen;

	if (ends(s, len, ".slice")) {
		len -= 6;
		if (!starts(s, len, "kubepods-") && !starts(s, len, "kubelet-kubepods-"))
			return false;
		/* The UID is last: "...-pod" + 36 or 32 chars. */
		for (size_t ulen = 36; ulen >= 32; ulen -= 4) {
			if (len < ulen + 4)
				continue;
			p = s + len - ulen - 4;
			if (memcmp(p, "-pod", 4) || uid_from(p + 4, ulen, ref->pod_uid))
				continue;
			plen = (size_t)(p - s);
			if (ends(s, plen, "-besteffort"))
				snprintf(ref->qos, sizeof(ref->qos), "besteffort");
			else if (ends(s, plen, "-burstable"))
				snprintf(ref->qos, sizeof(ref->qos), "burstable");
			else
				snprintf(ref->qos, sizeof(ref->qos), "guaranteed");
			return true;
		}
		return false;
	}
	if (!under_kube || !starts(s, len, "pod"))
		return false;
	return uid_from(s + 3, len - 3, ref->pod_uid) == 0;
}

/* The container ID in the component below the pod's: strip the runtime's prefix and ".scope". */
static void container_component(const char *s, size_t len, struct cgroup_ref *ref)
{
	static const char *const prefixes[] = { "cri-containerd-", "crio-", "cri-o-", "docker-", "containerd-",
						"libpod-" };

	if (ends(s, len, ".scope"))
		len -= 6;
	if (starts(s, len, "crio-conmon-")) {
		ref->conmon = true;
		s += 12, len -= 12;
	} else {
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
			if (starts(s, len, prefixes[i])) {
				s += strlen(prefixes[i]);
				len -= strlen(prefixes[i]);
				break;
			}
	}
	if (len >= CONTAINER_ID_MAX)
		len = CONTAINER_ID_MAX - 1;
	for (size_t i = 0; i < len; i++)
		ref->container_id[i] = (char)tolower((unsigned char)s[i]);
	ref->container_id[len] = '\0';
}

int cgroup_path_pod(const char *path, struct cgroup_ref *ref)
{
	const char *s = path;
	bool under_kube = false, found = false;
	char prev_qos[12] = "";

	memset(ref, 0, sizeof(*ref));
	while (*s) {
		size_t len = strcspn(s, "/");

		if (!len) {
			s++;
			continue;
		}
		if (found) {
			container_component(s, len, ref);
			break;
		}
		/* containerd with the systemd driver on cgroup v1: "POD.slice:cri-containerd:ID". */
		const char *colon = memchr(s, ':', len);
		if (colon) {
			const char *last = s + len;
			while (last > colon && last[-1] != ':')
				last--;
			if (pod_component(s, (size_t)(colon - s), under_kube, ref)) {
				if (!ref->qos[0])
					snprintf(ref->qos, sizeof(ref->qos), "%s", prev_qos[0] ? prev_qos : "guaranteed");
				container_component(last, (size_t)(s + len - last), ref);
				return 0;
			}
		} else if (pod_component(s, len, under_kube, ref)) {
			found = true;
			ref->pod_path_len = (size_t)(s + len - path);
			if (!ends(s, len, ".slice"))
				snprintf(ref->qos, sizeof(ref->qos), "%s", prev_qos[0] ? prev_qos : "guaranteed");
		} else {
			under_kube = kube_parent(s, len);
			if (len == 10 && !memcmp(s, "besteffort", 10))
				snprintf(prev_qos, sizeof(prev_qos), "besteffort");
			else if (len == 9 && !memcmp(s, "burstable", 9))
				snprintf(prev_qos, sizeof(prev_qos), "burstable");
			else
				prev_qos[0] = '\0';
		}
		s += len;
	}
	if (!found)
		memset(ref, 0, sizeof(*ref));
	return found ? 0 : -1;
}

bool pod_hostname_matches(const char *name, const char *hostname)
{
	char want[64];
	size_t n = strlen(name);

	if (!*name || !hostname)
		return false;
	if (n <= 63)
		return !strcmp(name, hostname);
	memcpy(want, name, 63);
	n = 63;
	while (n && (want[n - 1] == '-' || want[n - 1] == '.'))
		n--;
	want[n] = '\0';
	return n && !strcmp(want, hostname);
}

int resolv_pod_namespace(const char *text, char *ns, size_t len)
{
	const char *line = text;

	while (line && *line) {
		size_t ll = strcspn(line, "\n");
		if (ll > 7 && !memcmp(line, "search", 6) && (line[6] == ' ' || line[6] == '\t')) {
			const char *p = line + 7, *end = line + ll;
			while (p < end) {
				while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
					p++;
				size_t wl = 0;
				while (p + wl < end && p[wl] != ' ' && p[wl] != '\t' && p[wl] != '\r')
					wl++;
				const char *dot = memchr(p, '.', wl);
				/* "NS.svc.cluster.local": NS is a DNS label, then "svc." and a domain. */
				if (dot && dot > p && (size_t)(dot - p) <= 63 && (size_t)(p + wl - dot) > 5 &&
				    !memcmp(dot, ".svc.", 5) && (size_t)(dot - p) < len) {
					memcpy(ns, p, (size_t)(dot - p));
					ns[dot - p] = '\0';
					return 0;
				}
				p += wl ? wl : 1;	/* always move on */
			}
		}
		line = line[ll] ? line + ll + 1 : NULL;
	}
	return -1;
}

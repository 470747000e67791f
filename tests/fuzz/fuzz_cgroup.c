/* Fuzz the /proc/PID/cgroup line parser and the pod/container path rules. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/pods.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[4096], *ctl, *path;
	struct cgroup_ref r;
	int hier;

	if (size >= sizeof(line))
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	const char *target = line;
	if (!cgroup_line_split(line, &hier, &ctl, &path))
		target = path;
	if (!cgroup_path_pod(target, &r)) {
		size_t n = strlen(r.pod_uid);
		char again[POD_UID_MAX];
		/* A UID found is well formed: normalizing it again gives itself. */
		if ((n != 36 && n != 32) || pod_uid_normalize(r.pod_uid, again) || strcmp(again, r.pod_uid))
			__builtin_trap();
		if (strlen(r.container_id) >= CONTAINER_ID_MAX || !r.qos[0])
			__builtin_trap();
	} else if (r.pod_uid[0] || r.container_id[0]) {
		__builtin_trap();
	}
	char ns[64];
	resolv_pod_namespace(line, ns, sizeof(ns));
	return 0;
}

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/caps.h"
#include "lib/retina.h"

static const char *const names[CAP_COUNT] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

const char *cap_name(int cap)
{
	return cap >= 0 && cap < CAP_COUNT ? names[cap] : NULL;
}

int cap_from_name(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (int i = 0; i < CAP_COUNT; i++)
		if (!strcasecmp(names[i], name))
			return i;
	return -1;
}

int caps_parse_list(const char *list, uint64_t *mask, const char **bad)
{
	static char badname[64];
	uint64_t m = 0;
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");
		char one[64];
		int cap = -1;

		if (n > 0 && n < sizeof(one)) {
			memcpy(one, p, n);
			one[n] = '\0';
			cap = cap_from_name(one);
		}
		if (cap < 0) {
			snprintf(badname, sizeof(badname), "%.*s", (int)(n < 60 ? n : 60), p);
			*bad = badname;
			return -1;
		}
		m |= CAPBIT(cap);
		if (!p[n])
			break;
		p += n + 1;
	}
	*mask = m;
	return 0;
}

char *caps_format(uint64_t mask, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < CAP_COUNT; i++) {
		if (!(mask & CAPBIT(i)))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", names[i]);
		if (n < 0 || (size_t)n >= len - used)
			break;	/* truncated: callers size buf for all names */
		used += n;
	}
	return buf;
}

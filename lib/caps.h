/* Linux capability names, as `kubectl retina shell --capabilities` takes them. */
#ifndef RETINA_CAPS_H
#define RETINA_CAPS_H

#include <stddef.h>
#include <stdint.h>

#define CAP_COUNT 41	/* CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40) */
#define CAPBIT(n) (UINT64_C(1) << (n))

/* The numbers retina's rules refer to (linux/capability.h, without its macros). */
enum {
	CAPN_NET_ADMIN = 12,
	CAPN_NET_RAW = 13,
	CAPN_SYS_CHROOT = 18,
	CAPN_SYS_PTRACE = 19,
	CAPN_SYS_ADMIN = 21,
	CAPN_SYS_RESOURCE = 24,
	CAPN_SYSLOG = 34,
	CAPN_PERFMON = 38,
	CAPN_BPF = 39,
};

/* "NET_ADMIN" for 12 (no CAP_ prefix: the Kubernetes spelling); NULL past the table. */
const char *cap_name(int cap);
/* 12 for "NET_ADMIN", "cap_net_admin", "Net_Admin"; -1 when unknown. */
int cap_from_name(const char *name);
/*
 * Parse "NET_ADMIN,cap_sys_admin" into a mask. On an unknown name returns -1
 * and points *bad at it (inside a copy the caller need not free: static).
 */
int caps_parse_list(const char *list, uint64_t *mask, const char **bad);
/* "NET_ADMIN,SYS_ADMIN" (ascending order) into buf; "" for an empty mask. */
char *caps_format(uint64_t mask, char *buf, size_t len);

#endif

/* Small readers of /proc and /sys shared by applets. */
#ifndef RETINA_LIB_PROC_H
#define RETINA_LIB_PROC_H

#include <stddef.h>
#include <stdint.h>

struct proc_status {
	uint64_t cap_eff, cap_prm, cap_bnd;
	int seccomp;		/* 0 disabled, 1 strict, 2 filter, -1 unknown */
	int no_new_privs;	/* -1 unknown */
};

/* This process's /proc/self/status; fields it lacks stay 0 (caps) or -1. -1 when unreadable. */
int proc_self_status(struct proc_status *st);
/* The first line of a small file (a sysctl, a /sys flag), newline stripped. 0 or -1. */
int read_first_line(const char *path, char *buf, size_t len);

#endif

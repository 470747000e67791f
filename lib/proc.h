/* Small readers of /proc and /sys shared by applets. */
#ifndef RETINA_LIB_PROC_H
#define RETINA_LIB_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct proc_status {
	uint64_t cap_eff, cap_prm, cap_bnd;
	int seccomp;		/* 0 disabled, 1 strict, 2 filter, -1 unknown */
	int no_new_privs;	/* -1 unknown */
};

/* This process's /proc/self/status; fields it lacks stay 0 (caps) or -1. -1 when unreadable. */
int proc_self_status(struct proc_status *st);
/* The same from a status file's text (NULL: nothing known). */
void proc_status_parse(FILE *fp, struct proc_status *st);

/* One line of /proc/PID/mountinfo: "id parent maj:min root point opts ... - type source superopts". */
struct proc_mount {
	char root[512];		/* the part of the filesystem mounted: "/" for a whole fs */
	char point[512];	/* unescaped (\040 is a space) */
	char type[64];
};
/* The next mount of fp (lines that are not one are skipped); false at the end. */
bool proc_mount_next(FILE *fp, struct proc_mount *m);
/* The mount point of the first mount of fstype in this process's mountinfo into out; false when none. */
bool proc_mount_of(const char *fstype, char *out, size_t len);
/* The first line of a small file (a sysctl, a /sys flag), newline stripped. 0 or -1. */
int read_first_line(const char *path, char *buf, size_t len);

#endif

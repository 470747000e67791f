/*
 * Fuzz lib/proc.c's readers of /proc text: a status file and a mountinfo
 * file, any bytes (a container's /proc can be a FUSE mount, lxcfs, or just
 * odd). Every mount read is NUL-terminated within its field, and the status
 * fields hold only what a line said. The input is both files at once.
 */
#define _GNU_SOURCE	/* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_status st;
	struct proc_mount m;
	FILE *f = fmemopen((void *)data, size ? size : 1, "r");

	if (!f)
		return 0;
	if (!size)
		fgetc(f);	/* an empty file */
	proc_status_parse(f, &st);
	if (st.seccomp != -1 && !memmem(data, size, "Seccomp:", 8))
		__builtin_trap();
	if (st.no_new_privs != -1 && !memmem(data, size, "NoNewPrivs:", 11))
		__builtin_trap();
	rewind(f);
	for (int n = 0; proc_mount_next(f, &m); n++) {
		if (strnlen(m.root, sizeof(m.root)) == sizeof(m.root) ||
		    strnlen(m.point, sizeof(m.point)) == sizeof(m.point) || !m.type[0] ||
		    strnlen(m.type, sizeof(m.type)) == sizeof(m.type) || n > (int)size)
			__builtin_trap();
	}
	fclose(f);
	return 0;
}

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/proc.h"

int proc_self_status(struct proc_status *st)
{
	char line[256];
	FILE *fp = fopen("/proc/self/status", "re");

	memset(st, 0, sizeof(*st));
	st->seccomp = st->no_new_privs = -1;
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long v;
		int i;

		if (sscanf(line, "CapEff: %llx", &v) == 1)
			st->cap_eff = v;
		else if (sscanf(line, "CapPrm: %llx", &v) == 1)
			st->cap_prm = v;
		else if (sscanf(line, "CapBnd: %llx", &v) == 1)
			st->cap_bnd = v;
		else if (sscanf(line, "Seccomp: %d", &i) == 1)
			st->seccomp = i;
		else if (sscanf(line, "NoNewPrivs: %d", &i) == 1)
			st->no_new_privs = i;
	}
	fclose(fp);
	return 0;
}

int read_first_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

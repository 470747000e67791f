#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/proc.h"

int proc_self_status(struct proc_status *st)
{
	FILE *fp = fopen("/proc/self/status", "re");

	if (!fp) {
		proc_status_parse(NULL, st);
		return -1;
	}
	proc_status_parse(fp, st);
	fclose(fp);
	return 0;
}

void proc_status_parse(FILE *fp, struct proc_status *st)
{
	char line[256];

	memset(st, 0, sizeof(*st));
	st->seccomp = st->no_new_privs = -1;
	while (fp && fgets(line, sizeof(line), fp)) {
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
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

bool proc_mount_next(FILE *fp, struct proc_mount *m)
{
	char line[2048];

	while (fgets(line, sizeof(line), fp)) {
		const char *sep = strstr(line, " - ");

		if (!strchr(line, '\n') && !feof(fp)) {
			int c;
			while ((c = fgetc(fp)) != EOF && c != '\n')
				;	/* longer than any mount we look for: skipped whole */
			continue;
		}
		if (!sep || sscanf(line, "%*s %*s %*s %511s %511s", m->root, m->point) != 2 ||
		    sscanf(sep + 3, "%63s", m->type) != 1)
			continue;
		unescape(m->root);
		unescape(m->point);
		return true;
	}
	return false;
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

bool proc_mount_of(const char *fstype, char *out, size_t len)
{
	struct proc_mount m;
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	if (!fp)
		return false;
	while (!found && proc_mount_next(fp, &m))
		if (!strcmp(m.type, fstype)) {
			snprintf(out, len, "%s", m.point);
			found = true;
		}
	fclose(fp);
	return found;
}

/*
 * fake_container: a "container" for nsenter tests. Its init gets new mount,
 * UTS, IPC and PID namespaces (and a new network namespace, unless --netns
 * PATH joins one), /proc, and as root an empty tmpfs holding only what the
 * options put there: no binaries unless --copy adds one. Prints the init's
 * PID (as seen from here) once it is ready, then waits; SIGTERM ends both.
 *
 * usage: fake_container [--netns PATH] [--hostname NAME] [--comm NAME]
 *                       [--file PATH=CONTENT]... [--tmpfs PATH]... [--copy SRC=DST]...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXN 16

static void fail(const char *what)
{
	fprintf(stderr, "fake_container: %s: %s\n", what, strerror(errno));
	_exit(1);
}

/* mkdir -p of root + rel's parent directories. */
static void mkparents(const char *root, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
}

static void write_file(const char *root, const char *rel, const char *content, const char *src)
{
	char path[4096];
	int fd, in;

	mkparents(root, rel);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, src ? 0755 : 0644);
	if (fd < 0)
		fail(path);
	if (content && write(fd, content, strlen(content)) < 0)
		fail(path);
	if (src) {
		char buf[65536];
		ssize_t n;
		if ((in = open(src, O_RDONLY)) < 0)
			fail(src);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				fail(path);
		close(in);
	}
	close(fd);
}

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int main(int argc, char **argv)
{
	const char *netns = NULL, *hostname = "fakectr", *comm = NULL;
	const char *files[MAXN], *tmpfses[MAXN], *copies[MAXN];
	int nfiles = 0, ntmpfs = 0, ncopies = 0, ready[2];
	char root[] = "/tmp/fake_container.XXXXXX";

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--netns"))
			netns = argv[i + 1];
		else if (!strcmp(argv[i], "--hostname"))
			hostname = argv[i + 1];
		else if (!strcmp(argv[i], "--comm"))
			comm = argv[i + 1];
		else if (!strcmp(argv[i], "--file") && nfiles < MAXN)
			files[nfiles++] = argv[i + 1];
		else if (!strcmp(argv[i], "--tmpfs") && ntmpfs < MAXN)
			tmpfses[ntmpfs++] = argv[i + 1];
		else if (!strcmp(argv[i], "--copy") && ncopies < MAXN)
			copies[ncopies++] = argv[i + 1];
		else {
			fprintf(stderr, "fake_container: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (netns) {
		int fd = open(netns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			fail(netns);
		close(fd);
	}
	if (!mkdtemp(root))
		fail("mkdtemp");
	/* Only the PID namespace here: the others are the child's alone (pivot_root would move our root too). */
	if (pipe(ready) || unshare(CLONE_NEWPID))
		fail("unshare");
	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0) {
		char old[4200];

		close(ready[0]);
		if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (netns ? 0 : CLONE_NEWNET)))
			fail("unshare");
		signal(SIGTERM, on_term);	/* PID 1 ignores signals it has no handler for */
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tmpfs", root, "tmpfs", 0, "size=64m,mode=755"))
			fail("mount tmpfs root");
		for (int i = 0; i < nfiles; i++) {
			char *eq = strchr(files[i], '=');
			if (!eq)
				fail("--file needs PATH=CONTENT");
			*eq = '\0';
			write_file(root, files[i] + (files[i][0] == '/'), eq + 1, NULL);
		}
		for (int i = 0; i < ncopies; i++) {
			char *eq = strchr(copies[i], '=');
			if (!eq)
				fail("--copy needs SRC=DST");
			*eq = '\0';
			write_file(root, eq + 1 + (eq[1] == '/'), NULL, copies[i]);
		}
		for (int i = 0; i < ntmpfs; i++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", root, tmpfses[i]);
			mkparents(root, tmpfses[i] + (tmpfses[i][0] == '/'));
			mkdir(path, 0755);
			if (mount("tmpfs", path, "tmpfs", 0, "size=1m"))
				fail(path);
		}
		snprintf(old, sizeof(old), "%s/proc", root);
		mkdir(old, 0555);
		if (mount("proc", old, "proc", 0, NULL))
			fail("mount proc");
		snprintf(old, sizeof(old), "%s/.old", root);
		mkdir(old, 0700);
		if (syscall(SYS_pivot_root, root, old) || chdir("/") || umount2("/.old", MNT_DETACH) || rmdir("/.old"))
			fail("pivot_root");
		if (sethostname(hostname, strlen(hostname)))
			fail("sethostname");
		if (comm)
			prctl(PR_SET_NAME, comm);
		if (write(ready[1], "r", 1) != 1)
			fail("ready");
		close(ready[1]);
		for (;;)
			pause();
	}
	char c;
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(child, NULL, 0);
		rmdir(root);
		return 1;
	}
	printf("%d\n", (int)child);
	fflush(stdout);
	signal(SIGTERM, forward);
	signal(SIGINT, forward);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	rmdir(root);
	return 0;
}

/*
 * shell-init: the debug-shell image's entrypoint. Mount debugfs, tracefs and
 * bpffs where the tools expect them, when this container may, then exec the
 * command (by default a login shell).
 *
 * A pod without CAP_SYS_ADMIN, or with a read-only /sys, or on a kernel
 * without one of these filesystems, must still get its shell: every "may
 * not" is skipped silently, and nothing here can keep the command from
 * running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lib/retina.h"

const char shell_init_help[] =
	"usage: retina shell-init [-v] [--] [COMMAND [ARG...]]\n"
	"\n"
	"The debug-shell image's entrypoint. Mount debugfs at /sys/kernel/debug,\n"
	"tracefs at /sys/kernel/tracing and bpffs at /sys/fs/bpf when this container\n"
	"may (CAP_SYS_ADMIN: kubectl retina shell --capabilities SYS_ADMIN), skip\n"
	"silently when it may not, when the kernel lacks one, or when one is already\n"
	"mounted; then run COMMAND in place of this process (default: /bin/sh -l).\n"
	"Options end at the first argument that does not start with '-', or at '--'.\n"
	"\n"
	"  -v, --verbose   say on stderr what was mounted or skipped, and why\n"
	"\n"
	"Exit status: COMMAND's; 127 when COMMAND is not found, 126 when it cannot\n"
	"be run (as shells do); 2 on bad usage.\n"
	"\n"
	"Examples:\n"
	"  retina shell-init                          mount what it may, start a login shell\n"
	"  retina shell-init -v -- bpftool prog list  say what was mounted, then run bpftool\n"
	"  podman run --rm --privileged retina-shell -- ls /sys/kernel/tracing\n";

/* Magic numbers from linux/magic.h, as statfs() reports them. */
#define DEBUGFS_MAGIC 0x64626720
#define TRACEFS_MAGIC 0x74726163
#define BPF_FS_MAGIC 0xcafe4a11

static const struct pseudo_fs {
	const char *type;
	const char *path;
	unsigned long magic;
	const char *options;	/* same modes as systemd uses on hosts */
} pseudo_fs[] = {
	{ "debugfs", "/sys/kernel/debug", DEBUGFS_MAGIC, "mode=0700" },
	{ "tracefs", "/sys/kernel/tracing", TRACEFS_MAGIC, "mode=0700" },
	{ "bpf", "/sys/fs/bpf", BPF_FS_MAGIC, "mode=0700" },
};

/* Errors that mean "may not here", not "something is wrong": stay quiet. */
static bool expected_refusal(int err)
{
	return err == EPERM || err == EACCES || err == ENOENT || err == ENODEV || err == ENOTDIR ||
	       err == EROFS;
}

static void note(bool verbose, const struct pseudo_fs *fs, const char *what)
{
	if (verbose)
		warnx("%s at %s: %s", fs->type, fs->path, what);
}

static void mount_one(const struct pseudo_fs *fs, bool verbose)
{
	struct statfs sfs;
	struct stat st, parent;
	char parent_path[64], why[96], ebuf[16];

	if (statfs(fs->path, &sfs) < 0 || stat(fs->path, &st) < 0) {
		snprintf(why, sizeof(why), "skipped: no mount point (%s)", errno_name(errno, ebuf));
		note(verbose, fs, why);
		return;
	}
	if ((unsigned long)sfs.f_type == fs->magic) {
		note(verbose, fs, "already mounted");
		return;
	}
	/* Something else mounted there (a hostPath, a tmpfs): leave it be. */
	snprintf(parent_path, sizeof(parent_path), "%s/..", fs->path);
	if (stat(parent_path, &parent) == 0 && parent.st_dev != st.st_dev) {
		snprintf(why, sizeof(why), "skipped: another filesystem (magic 0x%lx) is mounted there",
			 (unsigned long)sfs.f_type);
		note(verbose, fs, why);
		return;
	}
	if (mount(fs->type, fs->path, fs->type, MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME, fs->options) == 0) {
		note(verbose, fs, "mounted");
		return;
	}
	int err = errno;
	if (!expected_refusal(err)) {
		/* Unexpected, so worth a line even when not verbose; the shell still starts. */
		warnx("cannot mount %s at %s: %s (%s); continuing without it", fs->type, fs->path,
		      strerror(err), errno_name(err, ebuf));
		return;
	}
	snprintf(why, sizeof(why), "skipped: %s%s", errno_name(err, ebuf),
		 err == EPERM ? " (needs CAP_SYS_ADMIN: kubectl retina shell --capabilities SYS_ADMIN)" : "");
	note(verbose, fs, why);
}

/* execvp, then the shells' exit codes and one line that says why. */
static _Noreturn void run_command(char **cmd)
{
	execvp(cmd[0], cmd);
	int err = errno;
	char ebuf[16];

	if (err == ENOENT && !strchr(cmd[0], '/')) {
		const char *path = getenv("PATH");
		die(127, "%s: command not found in PATH (%s)", cmd[0], path ? path : "unset");
	}
	die(err == ENOENT ? 127 : 126, "cannot run %s: %s (%s)", cmd[0], strerror(err), errno_name(err, ebuf));
}

int shell_init_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char *login_shell[] = { "/bin/sh", "-l", NULL };
	bool verbose = false;
	int nopts = 1, c;

	/*
	 * Options end at the command: getopt would otherwise take the command's
	 * own flags (`shell-init ls -l`) as ours.
	 */
	while (nopts < argc && argv[nopts][0] == '-' && argv[nopts][1] && strcmp(argv[nopts], "--"))
		nopts++;
	while ((c = next_opt(nopts, argv, "vh", longopts)) != -1) {
		switch (c) {
		case 'v': verbose = true; break;
		case 'h': show_help(shell_init_help);
		}
	}
	char **cmd = argv + nopts;
	if (nopts < argc && !strcmp(argv[nopts], "--"))
		cmd++;

	for (size_t i = 0; i < ARRAY_SIZE(pseudo_fs); i++)
		mount_one(&pseudo_fs[i], verbose);

	fflush(stdout);
	fflush(stderr);
	run_command(*cmd ? cmd : login_shell);
}

"""shell-init, the image's entrypoint, for real: every run that may mount happens in a
private mount namespace and a new network namespace (so /sys can be a fresh sysfs
with empty debug/tracing/bpf directories), as root or with CAP_SYS_ADMIN dropped.
Nothing here ever mounts on the host."""
import re

from conftest import require, run

# Mount a fresh sysfs (a new netns has its own), then run the rest of argv.
FRESH_SYS = ["unshare", "--mount", "--net", "--", "sh", "-c", 'mount -t sysfs sysfs /sys && exec "$@"', "sh"]
# The same, with a tmpfs already on /sys/fs/bpf.
FRESH_SYS_TMPFS_BPF = ["unshare", "--mount", "--net", "--", "sh", "-c",
                       'mount -t sysfs sysfs /sys && mount -t tmpfs retina-test /sys/fs/bpf && exec "$@"', "sh"]
NO_SYS_ADMIN = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-all", "--"]
WANT = {"/sys/kernel/debug": "debugfs", "/sys/kernel/tracing": "tracefs", "/sys/fs/bpf": "bpf"}
MOUNTINFO = ["cat", "/proc/self/mountinfo"]


def mounts(mountinfo):
    """[(mount point, fstype)] of the debug filesystems' mount points, in order."""
    found = []
    for line in mountinfo.splitlines():
        fields, _, rest = line.partition(" - ")
        point, fstype = fields.split()[4], rest.split()[0]
        if point in WANT:
            found.append((point, fstype))
    return found


def shell_init(retina, *args, prefix=FRESH_SYS, **kw):
    require("unshare", "setpriv")
    return run(list(prefix) + [retina, "shell-init", *args], **kw)


def test_root_mounts_debugfs_tracefs_and_bpffs_then_runs_the_command(retina):
    p = shell_init(retina, "--", *MOUNTINFO, check=0)
    assert p.stderr == ""
    assert sorted(mounts(p.stdout)) == sorted(WANT.items())
    # the mount options a host would use
    bpf = next(line for line in p.stdout.splitlines() if " /sys/fs/bpf " in line)
    assert "nosuid" in bpf and "nodev" in bpf and "noexec" in bpf and "mode=700" in bpf


def test_verbose_says_what_it_mounted(retina):
    p = shell_init(retina, "-v", "--", "true", check=0)
    assert p.stderr.splitlines() == [
        "retina shell-init: debugfs at /sys/kernel/debug: mounted",
        "retina shell-init: tracefs at /sys/kernel/tracing: mounted",
        "retina shell-init: bpf at /sys/fs/bpf: mounted",
    ]


def test_without_sys_admin_it_skips_silently_and_still_runs_the_command(retina):
    p = shell_init(retina, "--", *MOUNTINFO, prefix=FRESH_SYS + NO_SYS_ADMIN, check=0)
    assert p.stderr == ""
    assert mounts(p.stdout) == []
    assert "/sys " in p.stdout  # it did run the command


def test_without_sys_admin_verbose_names_the_flag_that_grants_it(retina):
    p = shell_init(retina, "-v", "true", prefix=FRESH_SYS + NO_SYS_ADMIN, check=0)
    lines = p.stderr.splitlines()
    assert len(lines) == 3
    for line in lines:
        assert re.fullmatch(r"retina shell-init: \S+ at \S+: skipped: EPERM \(needs CAP_SYS_ADMIN: "
                            r"kubectl retina shell --capabilities SYS_ADMIN\)", line), line


def test_already_mounted_is_not_mounted_twice(retina):
    p = shell_init(retina, "--", retina, "shell-init", "-v", "--", *MOUNTINFO, check=0)
    assert sorted(mounts(p.stdout)) == sorted(WANT.items())  # each exactly once
    assert p.stderr.count("already mounted") == 3


def test_another_filesystem_on_a_mount_point_is_left_alone(retina):
    p = shell_init(retina, "-v", "--", *MOUNTINFO, prefix=FRESH_SYS_TMPFS_BPF, check=0)
    found = mounts(p.stdout)
    assert ("/sys/fs/bpf", "tmpfs") in found and ("/sys/fs/bpf", "bpf") not in found
    assert ("/sys/kernel/debug", "debugfs") in found
    assert "bpf at /sys/fs/bpf: skipped: another filesystem" in p.stderr


def test_missing_mount_point_is_skipped_silently(retina, tmp_path):
    # /sys is an empty tmpfs here: no mount points exist.
    prefix = ["unshare", "--mount", "--", "sh", "-c", 'mount -t tmpfs retina-test /sys && exec "$@"', "sh"]
    p = shell_init(retina, "--", *MOUNTINFO, prefix=prefix, check=0)
    assert p.stderr == ""
    assert mounts(p.stdout) == []


def test_exit_status_is_the_commands(retina):
    assert shell_init(retina, "--", "sh", "-c", "exit 7").returncode == 7
    assert shell_init(retina, "--", "false").returncode == 1


def test_options_end_at_the_command(retina):
    # -c belongs to sh, not to shell-init, even without "--"
    p = shell_init(retina, "sh", "-c", "echo $0 ran; exit 5", "named")
    assert p.returncode == 5
    assert p.stdout == "named ran\n"


def test_missing_command_exits_127_with_one_line(retina):
    p = shell_init(retina, "--", "no-such-command-xyz")
    assert p.returncode == 127
    assert p.stdout == ""
    assert len(p.stderr.splitlines()) == 1
    assert p.stderr.startswith("retina shell-init: no-such-command-xyz: command not found in PATH (")


def test_missing_command_by_path_exits_127(retina, tmp_path):
    p = shell_init(retina, str(tmp_path / "nope"))
    assert p.returncode == 127
    assert "cannot run" in p.stderr and "ENOENT" in p.stderr


def test_command_that_is_not_executable_exits_126(retina, tmp_path):
    f = tmp_path / "not-executable"
    f.write_text("echo hi\n")
    f.chmod(0o644)
    p = shell_init(retina, "--", str(f))
    assert p.returncode == 126
    assert "EACCES" in p.stderr and len(p.stderr.splitlines()) == 1


def test_no_command_starts_a_login_shell(retina, tmp_path):
    # A login shell reads $HOME/.profile; feed it commands on stdin.
    (tmp_path / ".profile").write_text("echo profile-was-read\n")
    env = {"HOME": str(tmp_path), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    p = shell_init(retina, prefix=FRESH_SYS + NO_SYS_ADMIN, input="echo shell:$0\nexit 3\n", env=env)
    assert p.returncode == 3
    assert "profile-was-read" in p.stdout
    assert "shell:/bin/sh" in p.stdout


def test_unknown_option_is_a_usage_error(retina):
    p = run([retina, "shell-init", "--frob"])
    assert p.returncode == 2
    assert p.stderr == "retina shell-init: unknown option '--frob'; try 'retina shell-init --help'\n"

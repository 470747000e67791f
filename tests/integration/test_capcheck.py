"""capcheck, for real: as root, then with privileges taken away (setpriv, seccomp,
new namespaces), asserting it reports each loss and suggests the right flags."""
import json
import os
import re

import pytest
from conftest import ROOT, require, run


def capcheck_json(retina, *tools, prefix=(), env=None, expect=None):
    p = run(list(prefix) + [retina, "capcheck", "-o", "json", *tools], env=env)
    if expect is not None:
        assert p.returncode == expect, p.stderr
    report = json.loads(p.stdout)
    report["by_tool"] = {t["tool"]: t for t in report["tools"]}
    return report


def env_with(path):
    return dict(os.environ, PATH=path, HOST_ROOT="/nonexistent-host-root")


def test_root_can_load_bpf_and_trace(retina, fake_tools):
    r = capcheck_json(retina, "trace", env=env_with(fake_tools), expect=0)
    assert r["kernel"]["bpf_load"] is True
    assert "saw" in r["kernel"]["bpf_load_detail"]
    assert r["by_tool"]["trace"]["ok"] is True
    assert r["process"]["uid"] == 0
    assert "BPF" in r["process"]["effective"]


def test_reports_kernel_facts(retina):
    r = capcheck_json(retina)
    assert r["kernel"]["release"].split()[0] == os.uname().release
    assert r["kernel"]["btf"] is os.path.exists("/sys/kernel/btf/vmlinux")
    assert r["kernel"]["kprobes"] is os.path.exists("/sys/bus/event_source/devices/kprobe")


def test_no_tools_named_reports_all_and_exits_0(retina):
    p = run([retina, "capcheck"], check=0)
    for tool in ("trace", "bpftool", "pwru", "ig", "iptables", "nft", "chroot", "systemctl", "sysctl", "ping"):
        assert re.search(rf"^{tool} +(ok|missing)", p.stdout, re.M), tool
    assert "bpf load" in p.stdout


def test_dropping_bpf_caps_is_reported_with_the_flags_to_grant_them(retina, fake_tools):
    require("setpriv")
    drop = ["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin", "--inh-caps=-all", "--"]
    r = capcheck_json(retina, "trace", prefix=drop, env=env_with(fake_tools), expect=1)
    assert "BPF" not in r["process"]["effective"]
    assert r["kernel"]["bpf_load"] is False
    assert "EPERM" in r["kernel"]["bpf_load_detail"]
    trace = r["by_tool"]["trace"]
    assert trace["ok"] is False
    assert trace["missing_capabilities"] == ["PERFMON", "BPF"]
    assert trace["flags"] == "--capabilities PERFMON,BPF"


def test_sys_admin_alone_is_enough_to_trace(retina, fake_tools):
    drop = ["setpriv", "--bounding-set=-bpf,-perfmon", "--inh-caps=-all", "--"]
    r = capcheck_json(retina, "trace", prefix=drop, env=env_with(fake_tools), expect=0)
    assert r["by_tool"]["trace"]["ok"] is True


def test_table_shows_missing_and_combined_flags(retina, fake_tools):
    drop = ["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin,-net_admin", "--inh-caps=-all", "--"]
    p = run(drop + [retina, "capcheck", "trace", "nft"], env=env_with(fake_tools))
    assert p.returncode == 1
    assert re.search(r"^trace +missing +cap PERFMON,BPF +--capabilities PERFMON,BPF$", p.stdout, re.M), p.stdout
    assert re.search(r"^nft +missing +cap NET_ADMIN +--capabilities NET_ADMIN$", p.stdout, re.M)
    assert "For all of them: kubectl retina shell <node> --capabilities NET_ADMIN,PERFMON,BPF" in p.stdout


def test_seccomp_filter_refusing_bpf_suggests_seccomp_unconfined(retina, fake_tools, helpers):
    r = capcheck_json(retina, "trace", prefix=[helpers["deny_bpf"]], env=env_with(fake_tools), expect=1)
    assert r["process"]["seccomp"] == "filter"
    assert r["process"]["no_new_privs"] is True
    trace = r["by_tool"]["trace"]
    assert trace["missing_capabilities"] == []
    assert trace["flags"] == "--seccomp-unconfined"
    assert "seccomp" in trace["missing"]


def test_non_root_user_has_no_capabilities(retina, fake_tools):
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    r = capcheck_json(retina, "trace", "sysctl", prefix=drop, env=env_with(fake_tools), expect=1)
    assert r["process"]["uid"] == 65534
    assert r["process"]["effective"] == []
    assert r["by_tool"]["trace"]["flags"] == "--capabilities PERFMON,BPF"
    assert "root" in r["by_tool"]["sysctl"]["missing"]


def test_own_pid_namespace_is_not_the_host_one(retina, fake_tools):
    require("unshare")
    ns = ["unshare", "--pid", "--fork", "--mount-proc"]
    r = capcheck_json(retina, "systemctl", prefix=ns, env=env_with(fake_tools), expect=1)
    assert r["process"]["host_pid"] is False
    assert "--host-pid" in r["by_tool"]["systemctl"]["flags"]
    # outside the new namespace, this machine's shell is in the host's PID namespace
    assert capcheck_json(retina)["process"]["host_pid"] is True


def test_own_network_namespace_is_not_the_host_one(retina):
    host = capcheck_json(retina)["process"]
    r = capcheck_json(retina, prefix=["unshare", "--net"])
    if host["host_net"] is None:
        pytest.skip(f"host network namespace cannot be known here: {host['host_net_detail']}")
    assert host["host_net"] is True
    assert r["process"]["host_net"] is False


def test_ping_verdict_matches_what_retina_ping_can_do(retina):
    # ping_group_range is per network namespace: set it only in a new one, and
    # check capcheck's verdict against retina ping itself in the same setting.
    drop = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-all", "--"]

    def netns_with(group_range, gid=0):
        script = (f'echo "{group_range}" > /proc/sys/net/ipv4/ping_group_range && ip link set lo up && '
                  f'exec setpriv --regid={gid} --clear-groups "$@"')
        return ["unshare", "--net", "sh", "-c", script, "sh"]

    for group_range, gid, usable in (("1 0", 0, False), ("0 0", 0, True), ("100 200", 150, True),
                                     ("100 200", 99, False)):
        prefix = netns_with(group_range, gid) + drop
        r = capcheck_json(retina, "ping", prefix=prefix, expect=0 if usable else 1)
        assert r["by_tool"]["ping"]["ok"] is usable, (group_range, gid)
        if not usable:
            assert r["by_tool"]["ping"]["flags"] == "--capabilities NET_RAW"
        p = run(prefix + [retina, "ping", "-c", "1", "-W", "2", "127.0.0.1"])
        assert (p.returncode == 0) is usable, (group_range, gid, p.stderr)
        if not usable:
            assert "NET_RAW" in p.stderr


def test_ping_group_range_counts_supplementary_groups(retina):
    script = ('echo "300 300" > /proc/sys/net/ipv4/ping_group_range && '
              'exec setpriv --regid=0 --groups=300 --bounding-set=-net_raw --inh-caps=-all -- "$@"')
    r = capcheck_json(retina, "ping", prefix=["unshare", "--net", "sh", "-c", script, "sh"], expect=0)
    assert r["by_tool"]["ping"]["ok"] is True


@pytest.fixture
def host_mount(tmp_path):
    """A private mount namespace where / is bind-mounted at tmp/host, as kubelet's
    hostPath volume does; the mount vanishes with the namespace."""
    host = tmp_path / "host"
    host.mkdir()

    def prefix(read_only):
        opts = "bind,ro" if read_only else "bind"
        script = f'mount --make-rprivate / && mount -o bind / "$0" && mount -o remount,{opts} "$0" && exec "$@"'
        return ["unshare", "--mount", "sh", "-c", script, str(host)]
    return host, prefix


def test_host_filesystem_read_only_is_seen_and_write_flag_suggested(retina, fake_tools, host_mount):
    host, prefix = host_mount
    env = dict(os.environ, PATH=fake_tools, HOST_ROOT=str(host))
    no_proc_sys = ["unshare", "--mount", "sh", "-c", 'mount -o remount,bind,ro /proc/sys 2>/dev/null || '
                   'mount -t proc -o ro proc /proc && exec "$@"', "sh"]
    r = capcheck_json(retina, "chroot", "sysctl", prefix=prefix(True) + no_proc_sys, env=env)
    fs = r["process"]["host_fs"]
    assert fs["mounted"] is True and fs["writable"] is False and fs["path"] == str(host)
    # proof needs /proc/1/root (host PID namespace + ptrace access); else "likely" (null)
    assert fs["is_host_root"] in (True, None)
    assert r["by_tool"]["chroot"]["ok"] is True
    sysctl = r["by_tool"]["sysctl"]
    assert sysctl["ok"] is False
    assert sysctl["flags"] == "--allow-host-filesystem-write"
    assert sysctl["run_as"] == "chroot /host sysctl -w KEY=VALUE"


def test_host_filesystem_writable(retina, fake_tools, host_mount):
    host, prefix = host_mount
    env = dict(os.environ, PATH=fake_tools, HOST_ROOT=str(host))
    r = capcheck_json(retina, "chroot", prefix=prefix(False), env=env, expect=0)
    assert r["process"]["host_fs"]["writable"] is True


def test_a_directory_mounted_at_host_root_is_not_taken_for_the_host(retina, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    script = 'mount --make-rprivate / && mount -o bind /usr "$0" && exec "$@"'
    r = capcheck_json(retina, prefix=["unshare", "--mount", "sh", "-c", script, str(host)],
                      env=dict(os.environ, HOST_ROOT=str(host)))
    assert r["process"]["host_fs"]["mounted"] is True
    assert r["process"]["host_fs"]["is_host_root"] is False


def test_missing_host_filesystem_suggests_mount_flag(retina, fake_tools):
    r = capcheck_json(retina, "chroot", env=env_with(fake_tools), expect=1)
    assert r["process"]["host_fs"]["mounted"] is False
    assert r["by_tool"]["chroot"]["flags"] == "--mount-host-filesystem"


def test_tool_not_in_image_is_reported(retina, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = capcheck_json(retina, "nft", env=dict(os.environ, PATH=str(empty)), expect=1)
    nft = r["by_tool"]["nft"]
    assert nft["installed"] is False
    assert "not installed" in nft["missing"]


def test_quiet_mode_answers_only_with_the_exit_status(retina, fake_tools):
    p = run([retina, "capcheck", "-q", "trace"], env=env_with(fake_tools))
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    drop = ["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin", "--inh-caps=-all", "--"]
    p = run(drop + [retina, "capcheck", "-q", "trace"], env=env_with(fake_tools))
    assert (p.returncode, p.stdout) == (1, "")


def test_no_bpf_program_is_left_loaded(retina):
    require("bpftool")
    def probes():
        out = run(["bpftool", "-j", "prog", "show"], check=0).stdout
        return [p for p in json.loads(out) if p.get("name") == "probe_sys_ente"]
    before = len(probes())
    for _ in range(3):
        run([retina, "capcheck", "-q", "trace"], check=0)
    assert len(probes()) == before


def test_bad_input_is_one_line_and_exit_2(retina):
    p = run([retina, "capcheck", "tshark"])
    assert p.returncode == 2
    assert len(p.stderr.splitlines()) == 1
    assert "unknown tool 'tshark'" in p.stderr and "trace, trace-stack, trace-nft, bpftool" in p.stderr
    p = run([retina, "capcheck", "-o", "yaml"])
    assert p.returncode == 2
    assert "bad output format 'yaml': use table or json" in p.stderr


def test_requirements_table_is_documented(retina):
    """docs/capcheck.md holds the same table `capcheck --requirements` prints."""
    table = run([retina, "capcheck", "--requirements"], check=0).stdout
    doc = (ROOT / "docs" / "capcheck.md").read_text()
    assert table.strip() in doc, "docs/capcheck.md is out of date: paste `retina capcheck --requirements`"
    assert table.startswith("TOOL ")


def test_bpf_load_works_in_a_pid_namespace(retina, fake_tools):
    """In a container getpid() is not the global tgid: the probe matches by PID namespace."""
    require("unshare")
    pidns = ["unshare", "--pid", "--fork", "--mount-proc", "--"]
    r = capcheck_json(retina, "trace", prefix=pidns, env=env_with(fake_tools), expect=0)
    assert r["process"]["host_pid"] is False
    assert r["kernel"]["bpf_load"] is True, r["kernel"]["bpf_load_detail"]
    assert r["by_tool"]["trace"]["ok"] is True


def kallsyms_shown_to_all():
    """kptr_restrict=0 with perf_event_paranoid<=1: every reader sees kernel addresses."""
    read = lambda name: int(open(f"/proc/sys/kernel/{name}").read())  # noqa: E731
    return read("kptr_restrict") == 0 and read("perf_event_paranoid") <= 1


def test_trace_stack_without_syslog_names_it_as_trace_itself_does(retina, fake_tools, netpair):
    require("setpriv")
    r = capcheck_json(retina, "trace-stack", env=env_with(fake_tools), expect=0)
    assert r["kernel"]["kallsyms_addresses"] is True
    assert r["by_tool"]["trace-stack"]["ok"] is True
    if kallsyms_shown_to_all():
        pytest.skip("kptr_restrict=0 with perf_event_paranoid<=1 shows addresses to everyone")
    drop = ["setpriv", "--bounding-set=-syslog", "--inh-caps=-all", "--"]
    r = capcheck_json(retina, "trace", "trace-stack", prefix=drop, env=env_with(fake_tools), expect=1)
    assert r["kernel"]["kallsyms_addresses"] is False
    assert r["by_tool"]["trace"]["ok"] is True
    stack = r["by_tool"]["trace-stack"]
    assert stack["ok"] is False and stack["missing_capabilities"] == ["SYSLOG"], stack
    assert stack["flags"] == "--capabilities SYSLOG"
    p = run(drop + [retina, "capcheck", "trace-stack"], env=env_with(fake_tools))
    assert re.search(r"^trace-stack +missing +cap SYSLOG +--capabilities SYSLOG$", p.stdout, re.M), p.stdout
    assert re.search(r"^  kallsyms +addresses hidden \(kernel.kptr_restrict=\d: CAP_SYSLOG shows them\)$",
                     p.stdout, re.M), p.stdout
    # what trace --stack itself says under the same privileges
    p = run(drop + [retina, "trace", "--drops", "--stack", "-d", "300ms"])
    assert p.returncode == 0, p.stderr
    assert "lacks CAP_SYSLOG" in p.stderr and "--capabilities SYSLOG" in p.stderr, p.stderr


def test_trace_stack_in_a_user_namespace_is_not_fixable_by_flags(retina, fake_tools):
    """SYSLOG held in a user namespace: the kernel wants it in the initial one."""
    require("unshare")
    r = capcheck_json(retina, "trace-stack", prefix=["unshare", "-Ur", "--"], env=env_with(fake_tools), expect=1)
    assert r["process"]["user_ns_init"] is False and "SYSLOG" in r["process"]["effective"]
    assert r["kernel"]["kallsyms_addresses"] is False
    stack = r["by_tool"]["trace-stack"]
    assert "kernel addresses in /proc/kallsyms" in stack["missing"] and "SYSLOG" not in stack["missing"], stack
    assert "SYSLOG" not in stack["flags"], stack


def test_trace_nft_without_net_admin_names_it_as_trace_itself_does(retina, fake_tools, netpair):
    require("setpriv")
    r = capcheck_json(retina, "trace-nft", env=env_with(fake_tools), expect=0)
    assert r["by_tool"]["trace-nft"]["ok"] is True
    drop = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-all", "--"]
    r = capcheck_json(retina, "trace", "trace-nft", prefix=drop, env=env_with(fake_tools), expect=1)
    assert r["by_tool"]["trace"]["ok"] is True
    nft = r["by_tool"]["trace-nft"]
    assert nft["ok"] is False and nft["missing_capabilities"] == ["NET_ADMIN"], nft
    assert nft["flags"] == "--capabilities NET_ADMIN"
    # what trace --nft itself says, in a namespace of the test's (it would add a table there)
    p = netpair.run(netpair.a, drop + [retina, "trace", "--drops", "--nft", "--allow-system-changes", "-d", "1s"])
    assert p.returncode == 1
    assert "needs the NET_ADMIN capability" in p.stderr and "--capabilities NET_ADMIN" in p.stderr, p.stderr

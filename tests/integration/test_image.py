"""The debug-shell image, for real: `make image` (buildah, offline), then podman with
runc and no network. What is in each layer, that the offline image's config is the
Dockerfile's, that retina's applets come before busybox's, and that the entrypoint
mounts debugfs/tracefs/bpffs when the container may and is silent when it may not."""
import io
import json
import re
import shlex
import tarfile

from conftest import ROOT, run
from shellimage import podman

MB = 1024 * 1024
DEBUG_FS = {"/sys/kernel/debug": "debugfs", "/sys/kernel/tracing": "tracefs", "/sys/fs/bpf": "bpf"}


def debug_mounts(mountinfo):
    found = []
    for line in mountinfo.splitlines():
        fields, _, rest = line.partition(" - ")
        point, fstype = fields.split()[4], rest.split()[0]
        if point in DEBUG_FS:
            found.append((point, fstype))
    return sorted(found)


def read_archive(path):
    """(config, [(layer size, {path: TarInfo})]) of the OCI archive's one image."""
    with tarfile.open(path) as t:
        blob = lambda digest: t.extractfile("blobs/sha256/" + digest.split(":")[1]).read()  # noqa: E731
        index = json.loads(t.extractfile("index.json").read())
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        layers = []
        for layer in manifest["layers"]:
            assert layer["mediaType"].endswith("tar"), layer["mediaType"]
            data = blob(layer["digest"])
            with tarfile.open(fileobj=io.BytesIO(data)) as lt:
                layers.append((len(data), {m.name.lstrip("./"): m for m in lt.getmembers()}))
        return config, layers


def dockerfile_stage(name):
    """The instructions of one stage of the Dockerfile: [(INSTRUCTION, text)]."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stage, out = None, []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "FROM":
            stage = rest.split()[-1] if " AS " in rest else None
            continue
        if stage == name:
            out.append((word, rest.strip()))
    return out


def applets(retina):
    return run([retina, "--list"], check=0).stdout.split()


# ---- the archive, offline ---------------------------------------------------

def test_image_is_under_14_mib_with_four_layers(shell_image):
    size = shell_image.archive.stat().st_size
    config, layers = read_archive(shell_image.archive)
    print(f"\nimage archive: {size} bytes; layers: " + ", ".join(str(s) for s, _ in layers))
    assert size <= 14 * MB
    assert len(layers) == 4


def test_layers_hold_busybox_then_certs_then_toolbox_then_retina(shell_image, retina):
    _, [(_, base), (_, certs), (_, toolbox), (_, mine)] = read_archive(shell_image.archive)
    assert base["bin/busybox"].isfile() and base["bin/busybox"].mode & 0o111
    assert base["bin/sh"].issym() and base["bin/sh"].linkname == "/bin/busybox"
    assert base["usr/bin/wc"].linkname == "/bin/busybox"
    assert base["tmp"].mode & 0o7777 == 0o1777
    assert {"etc/passwd", "etc/group", "etc/profile"} <= set(base)
    assert set(p for p in certs if not certs[p].isdir()) == {"etc/ssl/certs/ca-certificates.crt"}
    assert all(p.startswith("usr/sbin/") for p in toolbox if not toolbox[p].isdir())
    assert toolbox["usr/sbin/tcpdump"].isfile() and toolbox["usr/sbin/ip"].isfile()
    assert mine["usr/local/bin/retina"].isfile()
    for name in applets(retina):
        link = mine[f"usr/local/bin/{name}"]
        assert link.issym() and link.linkname == "retina", name
    # the image's retina is the one just built
    assert mine["usr/local/bin/retina"].size == (ROOT / "build" / "retina").stat().st_size


def test_offline_image_config_is_the_dockerfiles_minimal_stage(shell_image):
    config, _ = read_archive(shell_image.archive)
    c = config["config"]
    stage = dockerfile_stage("minimal")
    env = {}
    for word, rest in stage:
        if word == "ENV":
            env.update(dict(kv.split("=", 1) for kv in shlex.split(rest)))
    assert env == dict(kv.split("=", 1) for kv in c["Env"])
    assert env["HOST_ROOT"] == "/host"
    assert env["PATH"].index("/usr/local/bin") < env["PATH"].index(":/bin")
    assert [json.loads(r) for w, r in stage if w == "ENTRYPOINT"] == [c["Entrypoint"]]
    assert [json.loads(r) for w, r in stage if w == "CMD"] == [c["Cmd"]] == [["/bin/sh", "-l"]]
    assert [r for w, r in stage if w == "WORKDIR"] == [c["WorkingDir"]]
    assert c["Entrypoint"] == ["/usr/local/bin/shell-init", "--"]
    # COPY lines in the order the offline build makes its layers
    assert [r for w, r in stage if w == "COPY"] == [
        "--from=build /stage/base/ /", "--from=build /stage/certs/ /", "--from=build /stage/toolbox/ /",
        "--from=build /stage/retina/ /"]


def test_dockerfile_pins_every_tool_for_both_architectures():
    head = (ROOT / "Dockerfile").read_text().split("\nFROM ", 1)[0]
    args = dict(re.findall(r"^ARG (\w+)=(.*)$", head, re.M))
    for tool in ("BPFTOOL", "PWRU", "IG"):
        assert re.fullmatch(r"v\d+\.\d+\.\d+", args[f"{tool}_VERSION"]), tool
        for arch in ("AMD64", "ARM64"):
            # empty (the build then stops and names it) or a real sha256, never anything else
            assert re.fullmatch(r"([0-9a-f]{64})?", args[f"{tool}_SHA256_{arch}"]), (tool, arch)
    assert re.search(r"^FROM scratch AS minimal$", (ROOT / "Dockerfile").read_text(), re.M)


# ---- in podman ----------------------------------------------------------------

def test_retina_list_in_the_image_is_the_built_binarys(shell_image, retina):
    p = shell_image.run("retina", "--list")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == applets(retina)
    assert p.stderr == ""


def test_retina_applets_come_before_busybox_on_path(shell_image, retina):
    names = applets(retina)
    # what exec (the entrypoint, `kubectl retina shell -- NAME`) finds: PATH order
    p = shell_image.run("which", *names, "sh", "ls")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [f"/usr/local/bin/{n}" for n in names] + ["/bin/sh", "/bin/ls"]


def test_login_shell_runs_retinas_applet_even_where_busybox_has_one(shell_image, retina):
    # busybox ash runs its own applets before PATH (FEATURE_SH_STANDALONE): /etc/profile
    # aliases every retina applet to its full path. `ls` stands in for a shared name
    # (ping, nc, nsenter): an alias to a file of our own must beat busybox's ls.
    script = ('printf "#!/bin/sh\\necho retina-ls\\n" > /usr/local/bin/ls; chmod +x /usr/local/bin/ls\n'
              'alias ls=/usr/local/bin/ls\nls\n'
              'for a in ' + " ".join(names := applets(retina)) + '; do type "$a"; done\n')
    p = shell_image.run(opts=["-i"], input=script)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "retina-ls"
    assert lines[1:] == [f"{n} is an alias for /usr/local/bin/{n}" for n in names]


def test_shell_runs_a_command_and_its_exit_status_comes_back(shell_image):
    p = shell_image.run("sh", "-c", "echo ok; ls /etc/ssl/certs; exit 3")
    assert p.returncode == 3
    assert p.stdout.split() == ["ok", "ca-certificates.crt"]
    assert p.stderr == ""


def test_default_command_is_a_login_shell(shell_image):
    p = shell_image.run(opts=["-i"], input='echo "$0|$HOME|$PS1"\nexit 4\n')
    assert p.returncode == 4, p.stderr
    assert p.stdout == "/bin/sh|/root|retina-shell@\\h:\\w\\$ \n"  # PS1 from /etc/profile: a login shell


def test_interactive_shell_gets_the_aliases_too(shell_image):
    # `kubectl exec -it POD -- sh`: not a login shell, but interactive, so it reads $ENV
    p = shell_image.run("sh", "-i", opts=["-i"], input="type capcheck\nexit 0\n")
    assert p.returncode == 0, p.stderr
    assert "capcheck is an alias for /usr/local/bin/capcheck" in p.stdout


def test_make_image_says_what_is_missing(tmp_path, retina):
    build = [str(ROOT / "image" / "build.sh")]
    p = run(build + [str(tmp_path / "none"), str(tmp_path / "x.tar")])
    assert p.returncode == 1 and "is missing: run 'make' first" in p.stderr
    p = run(build + [retina, str(tmp_path / "x.tar")], env={"PATH": "/usr/bin:/bin", "BUSYBOX": "/bin/true"})
    assert p.returncode == 1
    assert p.stderr == "retina image: /bin/true is not statically linked: apt-get install busybox-static " \
                       "(it replaces busybox)\n"
    assert not (tmp_path / "x.tar").exists()


def test_missing_command_exits_127_naming_it(shell_image):
    p = shell_image.run("no-such-tool")
    assert p.returncode == 127
    assert p.stderr.startswith("retina shell-init: no-such-tool: command not found in PATH (/usr/local/sbin:")


def test_ca_bundle_is_where_ssl_cert_file_says(shell_image):
    p = shell_image.run("sh", "-c", 'grep -c "BEGIN CERTIFICATE" "$SSL_CERT_FILE"')
    assert p.returncode == 0, p.stderr
    assert int(p.stdout) > 50


def test_unprivileged_container_starts_silently_without_the_mounts(shell_image):
    p = shell_image.run("cat", "/proc/self/mountinfo")
    assert p.returncode == 0
    assert p.stderr == ""
    assert debug_mounts(p.stdout) == []


def test_privileged_container_gets_debugfs_tracefs_and_bpffs(shell_image):
    p = shell_image.run("cat", "/proc/self/mountinfo", opts=["--privileged"])
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert debug_mounts(p.stdout) == sorted(DEBUG_FS.items())


def test_sys_admin_alone_is_enough_for_the_mounts(shell_image):
    # what `kubectl retina shell --capabilities SYS_ADMIN` grants: /sys stays read-only
    p = shell_image.run("cat", "/proc/self/mountinfo", opts=["--cap-drop", "ALL", "--cap-add", "SYS_ADMIN"])
    assert p.returncode == 0, p.stderr
    assert debug_mounts(p.stdout) == sorted(DEBUG_FS.items())
    assert re.search(r" /sys ro,", p.stdout)


def test_capcheck_reports_a_plain_container(shell_image):
    # what `kubectl retina shell` asks for without flags: capabilities drop ALL
    p = shell_image.run("capcheck", "-o", "json", opts=["--cap-drop", "ALL"])
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    r = json.loads(p.stdout)
    assert r["process"]["uid"] == 0
    assert r["process"]["effective"] == []
    assert r["process"]["host_net"] is False
    assert r["process"]["host_fs"] == {"path": "/host", "mounted": False, "is_host_root": False, "writable": False}
    assert r["kernel"]["bpf_load"] is False
    assert r["kernel"]["bpffs"] is None and r["kernel"]["tracefs"] is None
    tools = {t["tool"]: t for t in r["tools"]}
    assert tools["trace"]["ok"] is False and "--capabilities" in tools["trace"]["flags"]


def test_capcheck_in_a_privileged_container_loads_bpf_and_sees_the_mounts(shell_image):
    p = shell_image.run("capcheck", "-o", "json", "trace", opts=["--privileged", "-v", "/:/host:ro"])
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(p.stdout)
    assert r["kernel"]["bpf_load"] is True, r["kernel"]["bpf_load_detail"]
    assert r["kernel"]["bpffs"] == "/sys/fs/bpf"
    assert r["kernel"]["tracefs"] == "/sys/kernel/tracing"
    assert r["kernel"]["debugfs"] == "/sys/kernel/debug"
    assert r["process"]["host_fs"]["mounted"] is True and r["process"]["host_fs"]["writable"] is False
    assert r["tools"][0]["ok"] is True


def test_host_network_is_reported_as_the_hosts(shell_image):
    p = shell_image.run("capcheck", "-o", "json", opts=["--network", "host"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["process"]["host_net"] is True


def test_non_root_user_gets_its_shell_silently(shell_image):
    p = shell_image.run("sh", "-c", "id -u; echo $HOME", opts=["--user", "65534:65534"])
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert p.stdout.split()[0] == "65534"


def test_runs_in_a_network_namespace_a_test_made(shell_image, netpair):
    # how end-to-end tests put the image on a namespace-isolated "node"
    p = shell_image.run("ip", "-o", "addr", "show", opts=["--network", f"ns:/run/netns/{netpair.a}"])
    assert p.returncode == 0, p.stderr
    assert f"inet {netpair.A4}/24" in p.stdout and f"inet6 {netpair.A6}/64" in p.stdout


def test_runs_leave_no_containers_behind(shell_image):
    shell_image.run("true")
    p = podman("ps", "--all", "--format", "{{.Names}}")
    assert p.returncode == 0, p.stderr
    assert not [n for n in p.stdout.split() if n in shell_image.containers]


# ---- the Dockerfile's tools stage, offline (file:// stands in for GitHub) -----

def fetch_tool(tmp_path, sha, name="bpftool", member="bpftool"):
    import hashlib
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / member).write_text("#!/bin/sh\necho fake tool\n")
    tarball = tmp_path / "release.tar.gz"
    run(["tar", "-czf", str(tarball), "-C", str(src), member], check=0)
    real = hashlib.sha256(tarball.read_bytes()).hexdigest()
    dest = tmp_path / "tools"
    p = run([str(ROOT / "image" / "fetch-tool.sh"), name, f"file://{tarball}", real if sha == "real" else sha,
             "BPFTOOL_SHA256_AMD64", str(dest)])
    return p, dest, real


def test_fetch_tool_installs_a_release_whose_sha256_matches(tmp_path):
    p, dest, real = fetch_tool(tmp_path, "real")
    assert p.returncode == 0, p.stderr
    assert (dest / "bpftool").stat().st_mode & 0o777 == 0o755
    assert real in p.stdout


def test_fetch_tool_without_a_pinned_sha256_stops_naming_the_build_arg(tmp_path):
    p, dest, _ = fetch_tool(tmp_path, "")
    assert p.returncode == 1
    assert p.stderr.startswith("retina image: bpftool: build argument BPFTOOL_SHA256_AMD64 is empty")
    assert "--build-arg BPFTOOL_SHA256_AMD64=<sha256>" in p.stderr and "--target minimal" in p.stderr
    assert "make image-pins" in p.stderr
    assert not dest.exists()


def test_fetch_tool_refuses_a_release_with_another_sha256(tmp_path):
    p, dest, real = fetch_tool(tmp_path, "0" * 64)
    assert p.returncode == 1
    assert f"has sha256 {real}, but BPFTOOL_SHA256_AMD64 pins {'0' * 64}: refusing it" in p.stderr
    assert not dest.exists()


def test_fetch_tool_rejects_a_malformed_sha256(tmp_path):
    p, _, _ = fetch_tool(tmp_path, "ABC")
    assert p.returncode == 1
    assert "is not a lowercase hex sha256" in p.stderr


def test_fetch_tool_names_a_tarball_without_the_binary(tmp_path):
    p, _, _ = fetch_tool(tmp_path, "real", member="other")
    assert p.returncode == 1
    assert "has no file named 'bpftool'" in p.stderr


def test_ping_in_the_image_reaches_loopback(shell_image):
    # --network none still has lo; containers get NET_RAW by default (containers.conf)
    p = shell_image.run("ping", "-c", "1", "-W", "3", "127.0.0.1")
    assert p.returncode == 0, p.stderr
    assert re.search(r"^64 bytes from 127\.0\.0\.1: icmp_seq=1 ttl=64 time=[\d.]+ ms$", p.stdout, re.M)
    assert "1 packets transmitted, 1 received, 0% packet loss" in p.stdout


def test_dig_in_the_image_queries_a_test_server(shell_image, tmp_path):
    from dnsfix import Unbound
    from conftest import require
    require("unbound", "dig")
    server = Unbound(str(tmp_path))
    try:
        # host network: the container reaches the test's unbound on 127.0.0.1 only
        p = shell_image.run("dig", "@127.0.0.1", "-p", str(server.port), "+short", "www.example.test", "A",
                            opts=("--network", "host"))
        assert p.returncode == 0, p.stderr
        assert sorted(p.stdout.split()) == ["192.0.2.10", "192.0.2.11"]
        p = shell_image.run("dig", "@127.0.0.1", "-p", str(server.port), "alias.example.test",
                            opts=("--network", "host"))
        assert "status: NOERROR" in p.stdout
        assert re.search(r"^alias\.example\.test\.\s+\d+\s+IN\s+CNAME\s+www\.example\.test\.$", p.stdout, re.M)
    finally:
        server.close()

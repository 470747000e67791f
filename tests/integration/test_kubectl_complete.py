"""Shell completion of `kubectl retina`: the kubectl_complete-retina link that
kubectl 1.26+ runs, `kubectl-retina __complete`, node and pod names from the
fake API server, unreachable servers, the bash and zsh scripts run by real
bash and zsh, and the real kubectl 1.32 driving the link."""
import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import require, run
from fakeapi import FakeAPI, kubectl_path

SUBCOMMANDS = ["shell", "bpftrace", "cleanup", "completion"]


@pytest.fixture
def bindir(retina, tmp_path):
    """kubectl-retina and kubectl_complete-retina, as `retina --install` makes them."""
    d = tmp_path / "bin"
    d.mkdir()
    run([retina, "--install", "-s", str(d)], check=0)
    assert (d / "kubectl_complete-retina").is_symlink() and (d / "kubectl-retina").is_symlink()
    return d


@pytest.fixture
def env(tmp_path, bindir):
    """No kubeconfig unless a test gives one: HOME is empty, KUBECONFIG unset."""
    e = dict(os.environ, HOME=str(tmp_path), PATH=f"{bindir}:{os.environ['PATH']}")
    for k in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "RETINA_COMPLETION_DEBUG",
              "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        e.pop(k, None)
    return e


def complete(bindir, env, *words, via="link", timeout=30):
    """(candidates, directive, CompletedProcess) for the words after `kubectl retina`."""
    if via == "link":
        argv = [str(bindir / "kubectl_complete-retina"), *words]
    elif via == "link__complete":
        argv = [str(bindir / "kubectl_complete-retina"), "__complete", *words]
    else:
        argv = [str(bindir / "kubectl-retina"), "__complete", *words]
    p = run(argv, env=env, timeout=timeout)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines and re.fullmatch(r":\d+", lines[-1]), p.stdout
    return [l.split("\t")[0] for l in lines[:-1]], int(lines[-1][1:]), p


@pytest.fixture
def cluster(tmp_path, pki):
    api = FakeAPI(tmp_path, "--record", str(tmp_path / "record.jsonl"), pki=pki)
    try:
        yield api
    finally:
        api.close()


def list_requests(api):
    """(kind, Accept header) of each list request the fake answered."""
    rec = api.tmp / "record.jsonl"
    rows = map(json.loads, rec.read_text().splitlines()) if rec.exists() else []
    return [(r["list"], r["accept"]) for r in rows if "list" in r]


@pytest.mark.parametrize("via", ["link", "link__complete", "plugin"])
def test_subcommands_with_no_file_directive(bindir, env, via):
    cands, directive, p = complete(bindir, env, "", via=via)
    assert cands == SUBCOMMANDS
    assert directive == 4		# ShellCompDirectiveNoFileComp
    assert p.stderr == ""
    assert complete(bindir, env, "b", via=via)[:2] == (["bpftrace"], 4)
    assert complete(bindir, env, "nope", via=via)[:2] == ([], 4)


def test_subcommands_are_described_as_help_lists_them(bindir, env):
    """cobra's "NAME<TAB>DESCRIPTION" lines (zsh and fish show them), from the table help agrees with."""
    p = run([str(bindir / "kubectl_complete-retina"), ""], env=env, check=0)
    lines = p.stdout.splitlines()[:-1]
    assert len(lines) == len(SUBCOMMANDS)
    out = run([str(bindir / "kubectl-retina"), "--help"], check=0).stdout
    for line in lines:
        name, desc = line.split("\t")
        assert re.search(rf"^  {name} +{re.escape(desc)}", out, re.M), (name, desc)


def help_flags(bindir, sub):
    """The --flags the subcommand's help documents in its Options section."""
    out = run([str(bindir / "kubectl-retina"), sub, "--help"], check=0).stdout
    opts = out.split("Options:", 1)[1].split("Examples:", 1)[0]
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", opts)) | {"--help"}


@pytest.mark.parametrize("sub", ["shell", "bpftrace", "cleanup"])
def test_flags_are_the_ones_help_documents(bindir, env, sub):
    """Completion and parsing share one option table; help must name each flag."""
    cands, directive, _ = complete(bindir, env, sub, "--")
    assert directive == 4
    assert set(cands) == help_flags(bindir, sub)
    # and every completed flag parses (a usage error would name it as unknown)
    for flag in cands:
        p = run([str(bindir / "kubectl-retina"), sub, flag], env=env)
        assert "unknown option" not in p.stderr, (flag, p.stderr)


def test_bpftrace_flags_after_node(bindir, env):
    cands, directive, _ = complete(bindir, env, "bpftrace", "node-1", "--")
    assert {"--drops", "--rst", "--ip", "--cidr", "--port", "--output", "--kubeconfig"} <= set(cands)
    assert directive == 4
    # given once: not offered again, except the repeatable filters
    cands, _, _ = complete(bindir, env, "bpftrace", "--drops", "--ip", "10.0.0.1", "node-1", "--")
    assert "--drops" not in cands and "--ip" in cands and "--rst" in cands
    # short flags with a single dash
    cands, _, _ = complete(bindir, env, "bpftrace", "-")
    assert {"-o", "-d", "-n", "-v", "--output"} <= set(cands)


def test_flag_values(bindir, env):
    assert complete(bindir, env, "bpftrace", "-o", "")[:2] == (["table", "json"], 4)
    assert complete(bindir, env, "bpftrace", "--output", "j")[:2] == (["json"], 4)
    # --flag=VALUE: the values alone, as cobra answers (its shell scripts complete after the "=")
    assert complete(bindir, env, "bpftrace", "--output=")[:2] == (["table", "json"], 4)
    cands, directive, _ = complete(bindir, env, "shell", "node-1", "-c", "NET_ADMIN,SYS_AD")
    assert (cands, directive) == (["NET_ADMIN,SYS_ADMIN"], 4)
    assert "NET_RAW" in complete(bindir, env, "shell", "--capabilities", "")[0]
    # a file: the shell's own file completion (directive 0)
    assert complete(bindir, env, "shell", "--kubeconfig", "")[:2] == ([], 0)
    assert complete(bindir, env, "completion", "")[:2] == (["bash", "zsh"], 4)
    # after `--` comes the remote command: nothing from here
    assert complete(bindir, env, "shell", "node-1", "--", "")[:2] == ([], 4)


def test_node_names_from_the_api_server(bindir, env, cluster):
    kc = cluster.kubeconfig()
    cands, directive, p = complete(bindir, env, "shell", "--kubeconfig", kc, "")
    assert (cands, directive) == (["node-1", "win-1"], 4), p.stderr
    # names only: the metadata list, plain JSON as the fallback
    assert list_requests(cluster) == [
        ("NodeList", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json")]
    assert complete(bindir, env, "bpftrace", "--kubeconfig", kc, "n")[:2] == (["node-1"], 4)
    assert complete(bindir, env, "bpftrace", f"--kubeconfig={kc}", "node/")[:2] == (["node/node-1", "node/win-1"], 4)
    # KUBECONFIG as kubectl reads it, and the flags after the node too
    e = dict(env, KUBECONFIG=kc)
    assert complete(bindir, e, "shell", "w")[:2] == (["win-1"], 4)
    assert complete(bindir, e, "bpftrace", "-v", "1", "--drops", "")[0] == ["node-1", "win-1"]
    # a second positional is not a node
    assert complete(bindir, e, "bpftrace", "node-1", "")[:2] == ([], 4)
    # --context names from the kubeconfig; an unknown context gives nothing, quietly
    assert complete(bindir, e, "shell", "--context", "")[:2] == (["fake"], 4)
    assert complete(bindir, e, "shell", "--context", "nope", "")[:2] == ([], 4)
    cands, _, p = complete(bindir, e, "shell", "--context=nope", "n")
    assert cands == [] and p.stderr == ""


def test_pod_names_in_the_namespace(bindir, env, cluster, tmp_path):
    kc = cluster.kubeconfig()
    pod = tmp_path / "pod.json"
    for ns, name in (("web", "web-1"), ("web", "api-2"), ("other", "db-0")):
        pod.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                   "spec": {"containers": [{"name": "c", "image": "x:1",
                                                            "command": ["sleep", "60"]}]}}))
        run([kubectl_path(), "create", "--validate=false", "-n", ns, "-f", str(pod)], check=0,
            env=cluster.kubectl_env(kc))
    cands, directive, _ = complete(bindir, env, "shell", "--kubeconfig", kc, "-n", "web", "pods/")
    assert sorted(cands) == ["pods/api-2", "pods/web-1"] and directive == 4
    assert complete(bindir, env, "shell", "--kubeconfig", kc, "-nweb", "po/w")[:2] == (["po/web-1"], 4)
    assert complete(bindir, env, "shell", "--kubeconfig", kc, "--namespace=other", "pods/")[0] == ["pods/db-0"]
    # the context's namespace when -n is not given
    kc_web = cluster.kubeconfig("kc-web", namespace="web")
    assert sorted(complete(bindir, env, "shell", "--kubeconfig", kc_web, "pod/")[0]) == ["pod/api-2", "pod/web-1"]
    # "p" may be the start of pods/: offered with no space after it
    assert complete(bindir, env, "shell", "--kubeconfig", kc, "pod")[:2] == (["pods/"], 4 | 2)
    # -n: namespace names from the API server
    cands, directive, _ = complete(bindir, env, "cleanup", "--kubeconfig", kc, "-n", "")
    assert directive == 4 and {"default", "kube-system", "web", "other"} <= set(cands)
    assert complete(bindir, env, "shell", "--kubeconfig", kc, "--namespace=w")[:2] == (["web"], 4)
    # the fake's namespace list is one the real kubectl reads
    names = run([kubectl_path(), "get", "namespaces", "-o", "name"], check=0, env=cluster.kubectl_env(kc)).stdout.split()
    assert {"namespace/web", "namespace/default"} <= set(names)
    # bpftrace targets are nodes only
    assert complete(bindir, env, "bpftrace", "--kubeconfig", kc, "-n", "web", "pods/")[:2] == ([], 4)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def kubeconfig_for(tmp_path, server):
    f = tmp_path / "kc-unreachable"
    f.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "x",
                             "clusters": [{"name": "x", "cluster": {"server": server,
                                                                     "insecure-skip-tls-verify": True}}],
                             "users": [{"name": "x", "user": {"token": "t"}}],
                             "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
    return str(f)


@pytest.mark.parametrize("kind", ["refused", "blackhole"])
def test_unreachable_server_gives_no_names_and_exits_0(bindir, env, tmp_path, kind):
    hole = None
    if kind == "refused":
        port = closed_port()
    else:
        # accepted by the kernel's backlog, never by anyone: TLS waits for an answer that never comes
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        port = hole.getsockname()[1]
    try:
        kc = kubeconfig_for(tmp_path, f"https://127.0.0.1:{port}")
        start = time.monotonic()
        cands, directive, p = complete(bindir, env, "bpftrace", "--kubeconfig", kc, "")
        elapsed = time.monotonic() - start
        assert (cands, directive, p.stderr) == ([], 4, "")
        assert elapsed < 15, elapsed	# generous: the bound is 3 s
        # the same through the plugin name, and with the reason when asked for
        _, _, p = complete(bindir, dict(env, RETINA_COMPLETION_DEBUG="1"), "shell", "--kubeconfig", kc, "n",
                           via="plugin")
        if kind == "refused":
            assert "refused" in p.stderr.lower(), p.stderr
        else:
            assert "timed out" in p.stderr or p.stderr == "", p.stderr
    finally:
        if hole:
            hole.close()


def test_slow_server_is_given_up_on(bindir, env, tmp_path, pki):
    """TLS is quick, the answer is not (5 s per request): the read timeout ends it."""
    api = FakeAPI(tmp_path, "--slow-ms", "5000", pki=pki)
    try:
        start = time.monotonic()
        cands, directive, p = complete(bindir, env, "shell", "--kubeconfig", api.kubeconfig(), "")
        assert (cands, directive, p.stderr) == ([], 4, "")
        assert time.monotonic() - start < 15
        # a fast one, for contrast, answers with the names
        (tmp_path / "fast").mkdir()
        api2 = FakeAPI(tmp_path / "fast", pki=pki)
        try:
            assert complete(bindir, env, "shell", "--kubeconfig", api2.kubeconfig(), "")[0] == ["node-1", "win-1"]
        finally:
            api2.close()
    finally:
        api.close()


def test_no_kubeconfig_gives_no_names_quietly(bindir, env):
    cands, directive, p = complete(bindir, env, "shell", "")
    assert (cands, directive, p.stderr) == ([], 4, "")
    cands, _, p = complete(bindir, dict(env, KUBECONFIG="/nonexistent/kc"), "shell", "--context", "")
    assert cands == [] and p.stderr == ""


def test_completion_command_usage(bindir, env):
    plugin = str(bindir / "kubectl-retina")
    for args in (["fish"], [], ["bash", "zsh"]):
        p = run([plugin, "completion", *args], env=env)
        assert p.returncode == 2 and p.stdout == ""
        assert len(p.stderr.splitlines()) == 1, p.stderr
    assert "'fish'" in run([plugin, "completion", "fish"], env=env).stderr
    assert run([plugin, "completion", "bash"], check=0, env=env).stdout.startswith("# bash completion")


# COMP_WORDS as bash makes them from the line: split at blanks, then at the
# COMP_WORDBREAKS characters '=' and ':', which become words of their own.
BASH_SPLIT = r'''
set -f
COMP_WORDS=()
for tok in $WORDS; do
	while [[ $tok =~ ^([^=:]*)([=:]+)(.*)$ ]]; do
		[[ -n ${BASH_REMATCH[1]} ]] && COMP_WORDS+=("${BASH_REMATCH[1]}")
		COMP_WORDS+=("${BASH_REMATCH[2]}")
		tok=${BASH_REMATCH[3]}
	done
	[[ -n $tok ]] && COMP_WORDS+=("$tok")
done
set +f
[[ $WORDS == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$WORDS COMP_POINT=${#WORDS}
spec=$(complete -p "${COMP_WORDS[0]}")
fn=${spec##*-F }; fn=${fn%% *}
"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"
'''


def bash_complete(env, line, pre="source <(kubectl-retina completion bash) || exit 9\n"):
    """COMPREPLY for this command line (cursor at its end), from the completion function bash would call."""
    p = run(["bash", "--norc", "--noprofile", "-c", pre + BASH_SPLIT], env=dict(env, WORDS=line))
    assert p.returncode == 0, p.stderr
    return [l for l in p.stdout.splitlines() if l]


def test_bash_script_completes(bindir, env, cluster):
    kc = cluster.kubeconfig()
    assert bash_complete(env, "kubectl retina sh") == ["shell"]
    assert bash_complete(env, "kubectl-retina ") == SUBCOMMANDS
    assert bash_complete(env, f"kubectl retina shell --kubeconfig {kc} ") == ["node-1", "win-1"]
    assert bash_complete(env, f"kubectl-retina bpftrace --kubeconfig {kc} node/w") == ["node/win-1"]
    assert bash_complete(env, "kubectl retina shell -c NET_ADMIN,SYS_PT") == ["NET_ADMIN,SYS_PTRACE"]
    # bash splits "--output=j" into "--output" "=" "j" and replaces the "j"
    assert bash_complete(env, "kubectl retina bpftrace --output=j") == ["json"]
    assert bash_complete(env, "kubectl retina bpftrace --output=") == ["table", "json"]
    # EKS-style context names are split at ':' too
    kc2 = cluster.tmp / "kc-arn"
    kc2.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "contexts": [
        {"name": "arn:aws:eks:us-east-1:1:cluster/prod", "context": {"cluster": "c", "user": "u"}},
        {"name": "arn:aws:eks:eu-west-1:1:cluster/dev", "context": {"cluster": "c", "user": "u"}}]}))
    assert bash_complete(env, f"kubectl retina shell --kubeconfig {kc2} --context arn:aws:eks:us") == \
        ["us-east-1:1:cluster/prod"]
    assert bash_complete(env, f"kubectl retina shell --kubeconfig {kc2} --context arn:aws:eks:") == \
        ["us-east-1:1:cluster/prod", "eu-west-1:1:cluster/dev"]


def test_kubectl_bash_completion_completes_the_plugin(bindir, env, cluster):
    """kubectl's own bash completion (cobra's script, with bash-completion) through the link."""
    require("bash")
    assert Path("/usr/share/bash-completion/bash_completion").exists(), "deps/prereqs.sh test installs bash-completion"
    kbin = bindir / "kubectl"
    kbin.symlink_to(kubectl_path())
    pre = ("source /usr/share/bash-completion/bash_completion || exit 9\n"
           "source <(kubectl completion bash) || exit 9\n")
    kc = cluster.kubeconfig()
    assert bash_complete(env, "kubectl retina sh", pre) == ["shell"]
    assert bash_complete(env, f"kubectl retina shell --kubeconfig {kc} n", pre) == ["node-1"]
    assert bash_complete(env, "kubectl retina bpftrace --output=", pre) == ["table", "json"]
    assert bash_complete(env, "kubectl retina bpftrace --output=j", pre) == ["json"]
    assert bash_complete(env, "kubectl retina shell -c NET_ADMIN,SYS_PT", pre) == ["NET_ADMIN,SYS_PTRACE"]


def test_bash_script_leaves_other_kubectl_words_to_kubectl(bindir, env):
    pre = ('_fake_kubectl() { COMPREPLY=(from-kubectl); }; complete -o default -F _fake_kubectl kubectl\n'
           'source <(kubectl-retina completion bash) || exit 9\n')
    assert bash_complete(env, "kubectl get po", pre) == ["from-kubectl"]
    assert bash_complete(env, "kubectl retina bpft", pre) == ["bpftrace"]
    assert bash_complete(env, "kubectl ret", pre) == ["from-kubectl"]


ZSH_DRIVER = r'''
autoload -U compinit && compinit -u -D
source <(kubectl-retina completion zsh) || exit 9
print -r -- "comps: $_comps[kubectl-retina] $_comps[kubectl]"
compadd() {	# prints what would be inserted: -P prefix + each match
	local p= m
	while (( $# )) && [[ $1 != -- ]]; do [[ $1 == -P ]] && { p=$2; shift; }; shift; done
	shift
	for m in "$@"; do print -r -- "$p$m"; done
}
_files() { print -r -- "(files)"; }
words=(${(z)WORDS})
[[ $WORDS == *" " ]] && words+=("")
CURRENT=${#words}
_kubectl_retina
'''


def test_zsh_script_completes(bindir, env, cluster):
    require("zsh")
    kc = cluster.kubeconfig()

    def zc(words):
        p = run(["zsh", "-f", "-c", ZSH_DRIVER], env=dict(env, WORDS=words))
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert lines[0] == "comps: _kubectl_retina _kubectl_retina_kubectl"
        return lines[1:]

    assert zc("kubectl retina sh") == ["shell"]
    assert zc(f"kubectl-retina shell --kubeconfig {kc} ") == ["node-1", "win-1"]
    assert zc("kubectl retina bpftrace --output=j") == ["--output=json"]
    assert zc("kubectl retina shell --kubeconfig ") == ["(files)"]


def test_real_kubectl_asks_the_completion_link(bindir, env, cluster):
    """kubectl 1.32's own __complete finds kubectl_complete-retina on PATH and relays it."""
    kc = cluster.kubeconfig()
    p = run([kubectl_path(), "__complete", "retina", ""], env=env)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert [l.split("\t")[0] for l in lines] == SUBCOMMANDS + [":4"]
    assert lines[0] == "shell\tstart a debug shell on a node (host network) or in a pod"	# descriptions relayed
    assert "kubectl_complete-retina" in p.stderr	# kubectl's own debug lines name what it ran
    p = run([kubectl_path(), "__complete", "retina", "shell", "--kubeconfig", kc, "n"], env=env)
    assert p.stdout.splitlines() == ["node-1", ":4"], p.stderr
    p = run([kubectl_path(), "__complete", "retina", "bpftrace", "node-1", "--r"], env=env)
    assert p.stdout.splitlines() == ["--rst", "--retransmits", "--reason", "--retina-shell-image-repo",
                                     "--retina-shell-image-version", "--retina-binaries", "--request-timeout", ":4"]
    # without the link, kubectl offers nothing for the plugin's arguments (and files)
    (bindir / "kubectl_complete-retina").unlink()
    p = run([kubectl_path(), "__complete", "retina", "shell", ""], env=env)
    assert p.stdout.splitlines() == [":0"], p.stdout


def test_a_hanging_credential_plugin_is_cut_off(bindir, env, cluster, tmp_path):
    """The whole answer has a deadline, whatever hangs (here an exec credential plugin)."""
    pidfile = tmp_path / "plugin.pid"
    plugin = tmp_path / "hang-credential"
    plugin.write_text(f"#!/bin/sh\necho $$ >> {pidfile}\nexec sleep 60\n")
    plugin.chmod(0o755)
    kc = cluster.kubeconfig("kc-exec", user={"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                       "command": str(plugin), "interactiveMode": "Never"}})
    try:
        start = time.monotonic()
        cands, directive, p = complete(bindir, env, "shell", "--kubeconfig", kc, "")
        assert (cands, directive, p.stderr) == ([], 4, "")
        assert time.monotonic() - start < 15
        assert pidfile.exists()		# it did run, and hung
        # asked why: stderr stays the caller's, so the plugin (still sleeping) holds it: use a file
        errfile = tmp_path / "stderr"
        with open(errfile, "w") as f:
            p = subprocess.run([str(bindir / "kubectl_complete-retina"), "shell", "--kubeconfig", kc, ""],
                               env=dict(env, RETINA_COMPLETION_DEBUG="1"), stdout=subprocess.PIPE, stderr=f,
                               text=True, timeout=30)
        assert (p.returncode, p.stdout) == (0, ":4\n")
        assert "no names within the deadline" in errfile.read_text()
    finally:
        for pid in (pidfile.read_text().split() if pidfile.exists() else []):
            try:
                os.kill(int(pid), 9)	# the plugins we started, by their PIDs
            except ProcessLookupError:
                pass

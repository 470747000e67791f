"""The multicall binary: applet dispatch, --list/--install/--version, help and bad input."""
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run

APPLETS_DEF = ROOT / "applets" / "applets.def"


def declared_applets():
    return re.findall(r'^APPLET\(\w+, "([^"]+)"', APPLETS_DEF.read_text(), re.M)


def test_list_prints_every_applet_in_the_table_one_per_line(retina):
    out = run([retina, "--list"], check=0).stdout
    assert out.splitlines() == declared_applets()
    assert "capcheck" in out.splitlines()


def test_no_arguments_prints_usage_with_applets(retina):
    p = run([retina], check=0)
    assert p.stdout.startswith("usage: retina APPLET")
    for name in declared_applets():
        assert re.search(rf"^  {re.escape(name)} ", p.stdout, re.M)


def test_version_is_git_describe_and_names_libraries(retina):
    out = run([retina, "--version"], check=0).stdout.splitlines()
    describe = subprocess.run(["git", "describe", "--tags", "--always", "--dirty"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
    assert out[0] == f"retina {describe}"
    for lib in ("zlib", "elfutils", "libbpf", "bearssl", "cjson", "libyaml"):
        assert lib in out[1]


def test_unknown_applet_is_one_line_listing_valid_ones_exit_2(retina):
    p = run([retina, "frobnicate"])
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1
    assert "unknown applet 'frobnicate'" in lines[0]
    for name in declared_applets():
        assert name in lines[0]


def test_unknown_top_level_option_exit_2(retina):
    p = run([retina, "--frob"])
    assert p.returncode == 2
    assert p.stderr == "retina: unknown option '--frob'; try 'retina --help'\n"


def test_applet_chosen_by_argv0_basename(retina, tmp_path):
    link = tmp_path / "capcheck"
    link.symlink_to(retina)
    p = run([str(link), "--help"], check=0)
    assert p.stdout.startswith("usage: retina capcheck")


def test_renamed_binary_still_acts_as_retina(retina, tmp_path):
    copy = tmp_path / "retina-v1-linux-amd64"
    copy.symlink_to(retina)
    assert run([str(copy), "--list"], check=0).stdout.splitlines() == declared_applets()


@pytest.mark.parametrize("symbolic", [True, False])
def test_install_creates_a_working_link_per_applet(retina, tmp_path, symbolic):
    # hard links need the same filesystem as the binary: copy it next to the links
    exe = tmp_path / "retina"
    exe.write_bytes(Path(retina).read_bytes())
    exe.chmod(0o755)
    d = tmp_path / "bin"
    d.mkdir()
    run([str(exe), "--install"] + (["-s"] if symbolic else []) + [str(d)], check=0)
    for name in declared_applets():
        link = d / name
        assert link.is_symlink() == symbolic
        assert os.path.samefile(link, exe)
    assert run([str(d / "capcheck"), "-h"], check=0).stdout.startswith("usage: retina capcheck")


def test_install_into_missing_directory_fails_clearly(retina, tmp_path):
    p = run([retina, "--install", "-s", str(tmp_path / "nope")])
    assert p.returncode == 1
    assert "is not a directory" in p.stderr and len(p.stderr.splitlines()) == 1


def test_install_without_directory_is_usage_error(retina):
    p = run([retina, "--install"])
    assert p.returncode == 2
    assert "try" in p.stderr


@pytest.mark.parametrize("applet", declared_applets())
def test_every_applet_has_help_with_usage_and_examples(retina, applet):
    for flag in ("-h", "--help"):
        p = run([retina, applet, flag], check=0)
        assert p.stdout.startswith("usage: "), p.stdout
        assert "Examples:" in p.stdout or "Example" in p.stdout


@pytest.mark.parametrize("applet", ["capcheck"])
def test_unknown_flag_names_it_and_says_try_help(retina, applet):
    p = run([retina, applet, "--no-such-flag"])
    assert p.returncode == 2
    assert p.stderr == f"retina {applet}: unknown option '--no-such-flag'; try 'retina {applet} --help'\n"
    p = run([retina, applet, "-Z"])
    assert p.returncode == 2
    assert p.stderr == f"retina {applet}: unknown option '-Z'; try 'retina {applet} --help'\n"


def test_missing_flag_value_is_named(retina):
    p = run([retina, "capcheck", "-o"])
    assert p.returncode == 2
    assert p.stderr == "retina capcheck: option '-o' needs a value; try 'retina capcheck --help'\n"
    p = run([retina, "capcheck", "--output"])
    assert p.returncode == 2
    assert "option '--output' needs a value" in p.stderr


def test_flag_that_takes_no_value_rejects_one(retina):
    p = run([retina, "capcheck", "--quiet=yes"])
    assert p.returncode == 2
    assert "option '--quiet' takes no value" in p.stderr


def test_kubectl_plugin_usage_lists_shell_and_bpftrace(retina, tmp_path):
    plugin = tmp_path / "kubectl-retina"
    plugin.symlink_to(retina)
    p = run([str(plugin)])
    assert p.returncode == 2
    assert re.search(r"^  shell ", p.stderr, re.M) and re.search(r"^  bpftrace ", p.stderr, re.M)
    assert run([str(plugin), "--help"], check=0).stdout.startswith("usage: kubectl retina")


def test_kubectl_plugin_bpftrace_is_implemented(retina, tmp_path):
    """bpftrace exists (tests/integration/test_kubectl_bpftrace.py drives it); without a node: usage."""
    plugin = tmp_path / "kubectl-retina"
    plugin.symlink_to(retina)
    p = run([str(plugin), "bpftrace"])
    assert p.returncode == 2
    assert "which nodes?" in p.stderr and "not implemented" not in p.stderr


def test_kubectl_plugin_shell_is_implemented(retina, tmp_path):
    """shell exists (tests/integration/test_kubectl_shell.py drives it); without a target: usage."""
    plugin = tmp_path / "kubectl-retina"
    plugin.symlink_to(retina)
    p = run([str(plugin), "shell"])
    assert p.returncode == 2 and "which node or pod?" in p.stderr
    assert run([str(plugin), "shell", "--help"], check=0).stdout.startswith("usage: kubectl retina shell")


def test_kubectl_plugin_unknown_command(retina, tmp_path):
    plugin = tmp_path / "kubectl-retina"
    plugin.symlink_to(retina)
    p = run([str(plugin), "frob"])
    assert p.returncode == 2
    assert "unknown command 'frob'" in p.stderr and "shell, bpftrace" in p.stderr


def test_kubectl_discovers_the_plugin_on_path(retina, tmp_path):
    """The real kubectl finds kubectl-retina on PATH and passes the raw arguments."""
    from fakeapi import kubectl_path
    kubectl = kubectl_path()
    (tmp_path / "kubectl-retina").symlink_to(retina)
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}", KUBECONFIG=str(tmp_path / "none"))
    p = run([kubectl, "retina", "bpftrace", "node-1", "--port", "0"], env=env)
    assert p.returncode == 2
    assert "bad --port '0'" in p.stderr
    p = run([kubectl, "plugin", "list"], env=env)
    assert str(tmp_path / "kubectl-retina") in p.stdout

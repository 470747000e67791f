"""Fixtures for the emulated arm64 tests (make test ARCH=arm64): the aarch64
binary run under qemu-user, and the integration tests' helpers (dnsfix, run)."""
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
# The integration tests' conftest, under another module name (this file is "conftest").
_spec = importlib.util.spec_from_file_location("integration_conftest", ROOT / "tests" / "integration" / "conftest.py")
integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(integration)
run = integration.run
require = integration.require
QEMU = "qemu-aarch64-static"


@pytest.fixture(scope="session")
def retina():
    """The aarch64 binary."""
    path = Path(os.environ.get("RETINA_BIN", ROOT / "build" / "arm64" / "retina"))
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make ARCH=arm64` first (make test ARCH=arm64 does)")
    return str(path)


@pytest.fixture(scope="session")
def emu(retina):
    """argv prefix that runs the aarch64 binary on this machine: binfmt_misc is
    not relied on (often absent in containers), qemu is called by name."""
    if not shutil.which(QEMU):
        pytest.fail(f"{QEMU} is missing: deps/prereqs.sh cross-arm64 installs qemu-user-static")
    return [QEMU, retina]

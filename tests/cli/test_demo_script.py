"""``scripts/demo`` says where to open the demo and how to put the CLI on the PATH.

The venv is a stand-in (its ``python`` installs nothing, its CLI prints its
arguments), so the script's own logic runs for real without touching any venv.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.pty_cli import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "iam-credential-exporter").write_text('#!/bin/sh\necho "CLI $*"\n')
    for exe in bin_dir.iterdir():
        exe.chmod(0o755)
    return tmp_path / "venv"


def demo(venv: Path, *args: str) -> list[str]:
    proc = subprocess.run(
        ["bash", str(Path(ROOT) / "scripts" / "demo"), *args],
        env={**os.environ, "VENV": str(venv)}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_prints_the_url_and_the_path_line_then_serves(venv: Path) -> None:
    lines = demo(venv)
    assert lines[0].startswith("Demo exporter starting: open http://127.0.0.1:10063/ ")
    assert f". {venv}/bin/activate" in lines[2]
    assert "iam-credential-exporter audit --demo" in lines[3]
    assert lines[-1] == "CLI serve --demo --web.listen-address 127.0.0.1:10063"
    # The PATH line it prints does put the CLI on the PATH.
    export = re.search(r'export PATH="[^"]+"', lines[2])
    assert export is not None
    found = subprocess.run(
        ["bash", "-c", f"{export.group(0)}; command -v iam-credential-exporter"],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert found.stdout.strip() == f"{venv}/bin/iam-credential-exporter"


def test_the_url_follows_the_listen_address_given(venv: Path) -> None:
    assert "open http://localhost:9999/ " in demo(venv, "--web.listen-address", ":9999")[0]
    assert "open http://10.0.0.5:80/ " in demo(venv, "--web.listen-address=10.0.0.5:80")[0]
    tls = demo(venv, "--web.config.file", "web.yml")[0]
    assert "https:// if the web config file enables TLS" in tls

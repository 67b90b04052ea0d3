"""Paths of the deployment artefacts, shared by the tests in tests/deploy/."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
AWS = DEPLOY / "aws"
COMPOSE = DEPLOY / "compose"
KUBERNETES = DEPLOY / "kubernetes"
SCHEMAS = Path(__file__).resolve().parent / "schemas"


def tool(name: str) -> str:
    """The path of a command-line tool the deploy checks need; fail (never skip) without it."""
    found = shutil.which(name)
    assert found, f"{name} is not on PATH: run `pip install -e '.[dev]'` (see scripts/test)"
    return found

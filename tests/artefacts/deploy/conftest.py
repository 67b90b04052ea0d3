"""Fixtures of the deployment tests: the kustomize builds, made once per session."""

from __future__ import annotations

import pytest

from tests.artefacts.deploy.k8s import Manifests, kustomize_build


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

"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.moto import FAKE_CREDENTIALS, moto_server

# The moto organisation fixtures (org, ...) serve the sources, daemon and cli tests alike.
pytest_plugins = ["tests.support.org"]


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh moto server, with this process's boto3 pointed at it."""
    with moto_server() as endpoint:
        for key in list(os.environ):
            if key.startswith("AWS_"):
                monkeypatch.delenv(key)
        for key, value in FAKE_CREDENTIALS.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        yield endpoint

"""The compose stack's files seen from inside its containers: mounts mapped to the repo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from tests.artefacts.deploy.paths import COMPOSE

COMPOSE_FILE = COMPOSE / "compose.yaml"


def load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True)
class Mount:
    source: str  # a path on the host (relative to compose.yaml) or a named volume
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith((".", "/"))

    @property
    def host(self) -> Path:
        return (COMPOSE / self.source).resolve()


def mounts(service: dict[str, Any]) -> list[Mount]:
    out = []
    for spec in service.get("volumes", []):
        source, target, *options = spec.split(":")
        out.append(Mount(source, target, "ro" in options))
    return out


def to_host(service: dict[str, Any], container_path: str) -> Path:
    """Where a path inside the container comes from in the repository."""
    path = PurePosixPath(container_path)
    best: Mount | None = None
    for m in mounts(service):
        target = PurePosixPath(m.target)
        covers = m.is_bind and (path == target or target in path.parents)
        if covers and (best is None or len(m.target) > len(best.target)):
            best = m
    assert best is not None, f"{container_path} is not bind-mounted from the repository"
    return best.host / path.relative_to(best.target)


def flag(command: list[str], name: str) -> str:
    values = [a.split("=", 1)[1] for a in command if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name}= in {command}"
    return values[0]

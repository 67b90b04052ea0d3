"""What the rule and dashboard tests need to know about the project's files and PromQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
RULE_FILES = sorted(RULES_DIR.glob("*.rules.yml"))
UNIT_DIR = Path(__file__).resolve().parent / "unit"
UNIT_TESTS = sorted(UNIT_DIR.glob("*.test.yml"))
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
DASHBOARD_FILES = sorted(DASHBOARD_DIR.glob("*.json"))
RUNBOOK = REPO / "docs" / "runbook.md"
ALERTMANAGER_DIR = REPO / "deploy" / "alertmanager"

# Grafana's own variables, given values a test Prometheus scraping every second can serve.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}

_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "bool", "offset", "atan2",
}  # fmt: skip
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def load_rule_groups(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text())["groups"])


def all_rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in RULE_FILES:
        for group in load_rule_groups(path):
            for rule in group["rules"]:
                yield path, rule


def alerts() -> list[dict[str, Any]]:
    return [r for _, r in all_rules() if "alert" in r]


def recorded_names() -> set[str]:
    return {r["record"] for _, r in all_rules() if "record" in r}


def metric_names(expr: str) -> set[str]:
    """Names of the series an expression selects (good enough for this project's PromQL:
    strings, label matchers, label lists, ranges and function calls are skipped)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _LABEL_LIST.sub(" ", text)
    names = set()
    for m in _IDENT.finditer(text):
        rest = text[m.end() :].lstrip()
        word = m.group(0)
        if rest.startswith("(") or word in _KEYWORDS or word.isdigit():
            continue
        names.add(word)
    return names


def load_dashboard(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])


def queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for p in panels(dashboard):
        for t in p.get("targets", []):
            yield p, t


def variables(dashboard: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace $name and ${name} like Grafana; every variable must have a value."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)


LABEL_VALUES = re.compile(r"^label_values\((?:(?P<match>.+),\s*)?(?P<label>\w+)\)$")

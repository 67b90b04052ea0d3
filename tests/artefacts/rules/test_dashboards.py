"""The Grafana dashboards: generated from grafana/build.py, provisionable from files,
and every panel uses the $datasource, $job and $account_id variables."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.artefacts.rules.promql import (
    DASHBOARD_DIR,
    DASHBOARD_FILES,
    REPO,
    load_dashboard,
    panels,
    queries,
    recorded_names,
    variables,
)

DS = {"type": "prometheus", "uid": "${datasource}"}
EXPECTED_UIDS = {
    "aws-iam-overview.json": "aws-iam-credentials-overview",
    "aws-iam-account.json": "aws-iam-credentials-account",
}
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
# Series without an account_id: the exporters' own, and their configuration's exemptions.
JOB_ONLY = {
    "up",
    "aws_iam_exporter_build_info",
    "aws_iam_exemptions",
    "exemption:aws_iam_exemption_expiry_timestamp_seconds:max",
}
# An aggregation that adds up series straight from the exporters: during a rollout
# overlap it counts an account once per instance.
SUM_ACROSS_INSTANCES = re.compile(
    r"\b(?:sum|count|avg)\s*(?:by\s*\([^)]*\)\s*)?\(\s*(?:(?:increase|rate)\()?\s*aws_iam_\w+\{"
)


def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_build", REPO / "grafana" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def visual_panels() -> list[Any]:
    return [
        pytest.param(path, p, id=f"{path.stem}:{p['title']}")
        for path in DASHBOARD_FILES
        for p in panels(load_dashboard(path))
        if p["type"] != "row"
    ]


def test_committed_json_is_what_the_builder_makes() -> None:
    build = builder()
    assert sorted(p.name for p in DASHBOARD_FILES) == sorted(build.DASHBOARDS)
    for path in DASHBOARD_FILES:
        assert path.read_text() == build.render(path.name), f"run python grafana/build.py ({path})"
    assert build.main(["--check"]) == 0


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_dashboard_is_provisionable(path: Path) -> None:
    text = path.read_text()
    dash = load_dashboard(path)
    assert dash["id"] is None
    assert dash["uid"] == EXPECTED_UIDS[path.name]
    assert "__inputs" not in dash and "__requires" not in dash
    assert "${DS_" not in text and "DS_PROMETHEUS" not in text
    assert dash["title"] and dash["tags"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_dashboard_variables(path: Path) -> None:
    vars_ = variables(load_dashboard(path))
    assert list(vars_) == ["datasource", "job", "account_id"]
    assert vars_["datasource"]["type"] == "datasource"
    assert vars_["datasource"]["query"] == "prometheus"
    for name in ("job", "account_id"):
        assert vars_[name]["type"] == "query"
        assert vars_[name]["datasource"] == DS
        assert vars_[name]["query"].startswith("label_values(")
    assert "$job" in vars_["account_id"]["query"], "accounts follow the chosen job"


def test_overview_selects_many_accounts_and_the_account_dashboard_one() -> None:
    overview = variables(load_dashboard(DASHBOARD_DIR / "aws-iam-overview.json"))
    account = variables(load_dashboard(DASHBOARD_DIR / "aws-iam-account.json"))
    assert overview["account_id"]["multi"] and overview["account_id"]["includeAll"]
    assert not account["account_id"]["multi"] and not account["account_id"]["includeAll"]


@pytest.mark.parametrize(("path", "panel"), visual_panels())
def test_every_panel_uses_the_datasource_variable_and_has_unit_and_description(
    path: Path, panel: dict[str, Any]
) -> None:
    assert panel["datasource"] == DS
    assert panel["description"].strip()
    assert panel["fieldConfig"]["defaults"]["unit"]
    assert panel["targets"], "a panel with no query"
    ref_ids = [t["refId"] for t in panel["targets"]]
    assert len(ref_ids) == len(set(ref_ids))
    for t in panel["targets"]:
        assert t["datasource"] == DS
        assert t["expr"].strip()


@pytest.mark.parametrize(("path", "panel"), visual_panels())
def test_every_selector_filters_on_job_and_account(path: Path, panel: dict[str, Any]) -> None:
    for t in panel["targets"]:
        selectors = SELECTOR.findall(t["expr"])
        assert selectors, f"no label selector in {t['expr']}"
        for name, matchers in selectors:
            assert 'job=~"$job"' in matchers, (name, t["expr"])
            if name not in JOB_ONLY:
                assert 'account_id=~"$account_id"' in matchers, (name, t["expr"])


def test_recorded_series_used_by_dashboards_are_recorded_by_the_rules() -> None:
    used = {
        name
        for path in DASHBOARD_FILES
        for _, t in queries(load_dashboard(path))
        for name, _ in SELECTOR.findall(t["expr"])
        if ":" in name
    }
    assert used, "the dashboards read the recording rules"
    assert used <= recorded_names()


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_panels_have_unique_ids_and_do_not_overlap(path: Path) -> None:
    all_panels = list(panels(load_dashboard(path)))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for p in all_panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_critical_and_high_findings_stand_out(path: Path) -> None:
    stats = {p["title"]: p for p in panels(load_dashboard(path)) if p["type"] == "stat"}
    for title, colour in (("Critical findings", "red"), ("High findings", "orange")):
        p = stats[title]
        assert p["options"]["colorMode"] == "background"
        steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps == [{"color": "green", "value": None}, {"color": colour, "value": 1}]
    for title in ("Medium findings", "Low findings"):
        assert stats[title]["options"]["colorMode"] == "value"


def test_overview_has_the_findings_table_with_check_severity_user_key() -> None:
    dash = load_dashboard(DASHBOARD_DIR / "aws-iam-overview.json")
    table = next(p for p in panels(dash) if p["title"] == "Findings" and p["type"] == "table")
    # One row per finding, however many instances export it.
    assert table["targets"][0]["expr"].startswith(
        "max by (job, account_id, check, severity, user, key) (aws_iam_finding{"
    )
    assert table["targets"][0]["format"] == "table"
    organize = next(t for t in table["transformations"] if t["id"] == "organize")
    assert list(organize["options"]["indexByName"]) == [
        "account_id",
        "severity",
        "check",
        "user",
        "key",
    ]


def test_provisioning_files_load_these_dashboards() -> None:
    prov = REPO / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yaml").read_text())
    assert ds["apiVersion"] == 1
    assert [d["type"] for d in ds["datasources"]] == ["prometheus"]
    assert ds["datasources"][0]["url"].startswith("http")
    providers = yaml.safe_load(
        (prov / "dashboards" / "aws-iam-credential-exporter.yaml").read_text()
    )
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")


def all_queries() -> list[Any]:
    return [
        pytest.param(t["expr"], id=f"{path.stem}:{p['title']}:{t['refId']}")
        for path in DASHBOARD_FILES
        for p, t in queries(load_dashboard(path))
    ]


@pytest.mark.parametrize("expr", all_queries())
def test_no_query_sums_exporter_series_across_instances(expr: str) -> None:
    assert not SUM_ACROSS_INSTANCES.search(expr), expr


def test_the_lint_catches_a_sum_across_instances() -> None:
    for bad in (
        'sum(aws_iam_users{job=~"$job"})',
        'sum by (check) (aws_iam_findings{job=~"$job"})',
        'sum by (change) (increase(aws_iam_credential_changes_total{job=~"$job"}[5m]))',
        'count(aws_iam_account_info{job=~"$job"})',
    ):
        assert SUM_ACROSS_INSTANCES.search(bad), bad
    for good in (
        'sum(max by (job, account_id) (aws_iam_users{job=~"$job"}))',
        'sum(account_id_severity:aws_iam_findings:sum{job=~"$job"})',
        'count(max by (account_id) (aws_iam_account_info{job=~"$job"}))',
    ):
        assert not SUM_ACROSS_INSTANCES.search(good), good


def panel_named(path: Path, title: str) -> dict[str, Any]:
    return next(
        p for p in panels(load_dashboard(path)) if p["title"] == title and p["type"] != "row"
    )


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_exemptions_show_with_expired_ones_in_red(path: Path) -> None:
    days = builder().exemption_warning_days()
    stat = panel_named(path, "Exemptions")
    assert [t["legendFormat"] for t in stat["targets"]] == ["active", "expired"]
    (expired,) = stat["fieldConfig"]["overrides"]
    assert expired["matcher"]["options"] == "expired"
    assert expired["properties"][0]["value"]["steps"] == [
        {"color": "green", "value": None},
        {"color": "red", "value": 1},
    ]
    table = panel_named(path, "Exemptions by expiry")
    for t in table["targets"]:
        assert "exemption:aws_iam_exemption_expiry_timestamp_seconds:max" in t["expr"]
    left = next(
        o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "Days left"
    )
    props = {p["id"]: p["value"] for p in left["properties"]}
    assert props["thresholds"]["steps"] == [
        {"color": "red", "value": None},
        {"color": "orange", "value": 0},
        {"color": "green", "value": days},
    ]
    (mapping,) = props["mappings"]
    assert mapping["options"]["to"] == 0 and mapping["options"]["result"]["text"] == "EXPIRED"
    assert f"{days}-day warning" in table["description"]


def test_the_warning_period_comes_from_the_alert_rule(tmp_path: Path) -> None:
    build = builder()
    assert build.exemption_warning_days() == 14
    rules = tmp_path / "alerts.yml"
    rules.write_text(build.ALERT_RULES.read_text().replace("< 14 * 86400", "< 30 * 86400"))
    build.ALERT_RULES = rules
    assert build.exemption_warning_days() == 30
    table = next(p for p in panels(build.overview()) if p["title"] == "Exemptions by expiry")
    assert "30-day warning" in table["description"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_incomplete_reports_have_a_panel(path: Path) -> None:
    (target,) = panel_named(path, "Incomplete reports")["targets"]
    assert 'reason="incomplete_report"' in target["expr"]
    assert "aws_iam_exporter_refresh_errors_total" in target["expr"]

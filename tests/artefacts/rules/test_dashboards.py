"""The Grafana dashboards: generated from grafana/build.py, valid against Grafana's
dashboard schema, provisionable from files, every panel using the $datasource, $job,
$instance and $account_id variables, drawn for hundreds of accounts, and linked to the
documentation at the configured base URL."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.artefacts.rules import grafana_schema
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
from tests.artefacts.rules.test_rule_files import RUNBOOK_BASE, runbook_anchors

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
    "aws_iam_exporter_refresh_interval_seconds",
    "aws_iam_exemptions",
    "exemption:aws_iam_exemption_expiry_timestamp_seconds:max",
}
# A recorded series of accounts, narrowed to the accounts of the selected instances.
SHARD = (
    ' and on (job, account_id) aws_iam_account_info{job=~"$job", instance=~"$instance", '
    'account_id=~"$account_id"})'
)
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
    assert list(vars_) == ["datasource", "job", "instance", "account_id"]
    assert vars_["datasource"]["type"] == "datasource"
    assert vars_["datasource"]["query"] == "prometheus"
    assert vars_["instance"]["multi"] and vars_["instance"]["includeAll"]
    assert '$job"}, instance)' in vars_["instance"]["query"], "instances follow the job"
    assert 'instance=~"$instance"' in vars_["account_id"]["query"], "accounts follow it"
    for name in ("job", "instance", "account_id"):
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
def test_every_selector_filters_on_job_instance_and_account(
    path: Path, panel: dict[str, Any]
) -> None:
    for t in panel["targets"]:
        expr = t["expr"]
        selectors = SELECTOR.findall(expr)
        assert selectors, f"no label selector in {expr}"
        for name, matchers in selectors:
            assert 'job=~"$job"' in matchers, (name, expr)
            if name not in JOB_ONLY:
                assert 'account_id=~"$account_id"' in matchers, (name, expr)
            if ":" not in name:
                assert 'instance=~"$instance"' in matchers, (name, expr)
            elif name.startswith("exemption:"):
                assert "instance" not in matchers, "recorded per job: no instance label"
            else:
                # No instance label either: the shard's accounts are kept instead.
                assert f"{name}{{{matchers}}}{SHARD}" in expr, expr


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


# -- Grafana's dashboard schema ---------------------------------------------------------


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_dashboard_is_valid_against_grafanas_schema(path: Path) -> None:
    assert grafana_schema.problems(load_dashboard(path)) == []


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (lambda d: d.update(timezon="utc"), "/timezon: not in the schema"),
        (lambda d: d.update(graphTooltip=7), "/graph_tooltip: 7 is not one of"),
        (lambda d: d["panels"][1]["gridPos"].update(w="wide"), "grid_pos/w: 'wide' is not int"),
        (lambda d: d["panels"][1]["options"].update(colorMode="loud"), "color_mode: 'loud'"),
        (lambda d: d["panels"][1]["options"].update(colourMode="value"), "/colourMode: not in"),
        (
            lambda d: d["panels"][1]["fieldConfig"]["defaults"]["thresholds"].update(mode="x"),
            "thresholds/mode: 'x' is not one of",
        ),
    ],
    ids=["unknown key", "enum", "type", "panel option", "panel option name", "thresholds"],
)
def test_the_schema_check_finds_what_grafana_would_not_read(spoil: Any, problem: str) -> None:
    dash = load_dashboard(DASHBOARD_DIR / "aws-iam-overview.json")
    spoil(dash)
    found = grafana_schema.problems(dash)
    assert any(problem in p for p in found), found


def test_dashboards_have_the_pinned_schemas_version_and_cannot_be_edited() -> None:
    assert grafana_schema.SCHEMA_VERSION == builder().SCHEMA_VERSION
    for path in DASHBOARD_FILES:
        dash = load_dashboard(path)
        assert dash["schemaVersion"] == grafana_schema.SCHEMA_VERSION
        assert dash["editable"] is False, "provisioning forbids saving"
        assert dash["timezone"] == "utc"


# -- at the scale of an organisation ------------------------------------------------------


def health_row(path: Path) -> list[dict[str, Any]]:
    all_panels = [p for p in load_dashboard(path)["panels"]]
    start = next(i for i, p in enumerate(all_panels) if p["title"] == "Exporter health")
    return all_panels[start + 1 :]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_health_is_one_account_table_not_a_panel_per_account(path: Path) -> None:
    row = health_row(path)
    table = next(p for p in row if p["title"] == "Account health")
    organize = next(t for t in table["transformations"] if t["id"] == "organize")["options"]
    assert list(organize["indexByName"]) == [
        "account_id", "account_name", "State", "Report age", "Since last success",
        "Refresh intervals since success", "Critical", "High", "Medium", "Low",
    ]  # fmt: skip
    assert set(organize["renameByName"].values()) == set(list(organize["indexByName"])[2:])
    assert table["options"]["sortBy"] == [{"displayName": "State", "desc": True}]
    by_column = {
        o["matcher"]["options"]: o["properties"] for o in table["fieldConfig"]["overrides"]
    }
    state = {p["id"]: p["value"] for p in by_column["State"]}
    assert state["custom.cellOptions"] == {"type": "color-background"}
    (mapping,) = state["mappings"]
    assert {v["text"]: v["color"] for v in mapping["options"].values()} == {
        "OK": "green", "STALE": "orange", "FAILED": "red",
    }  # fmt: skip
    for severity, colour in (("Critical", "red"), ("High", "orange"), ("Low", "blue")):
        props = {p["id"]: p["value"] for p in by_column[severity]}
        assert props["custom.cellOptions"] == {"type": "color-background"}
        assert props["thresholds"]["steps"][-1] == {"color": colour, "value": 1}
        assert props["thresholds"]["steps"][0]["color"] == "transparent", "0 is neutral"
    # No stat draws one value per account any more.
    for p in row:
        for t in p["targets"]:
            assert not (p["type"] == "stat" and "{{account_id}}" in t["legendFormat"]), p["title"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_a_line_or_bar_per_account_is_a_topk(path: Path) -> None:
    for p, t in queries(load_dashboard(path)):
        if p["type"] in ("timeseries", "bargauge") and "{{account_id}}" in t["legendFormat"]:
            assert t["expr"].startswith(f"topk({builder().TOP}, "), (p["title"], t["expr"])


def test_failing_accounts_are_counted_with_zero_when_none_fail() -> None:
    for path in DASHBOARD_FILES:
        (failing,) = panel_named(path, "Failing accounts")["targets"]
        assert "aws_iam_exporter_refresh_success" in failing["expr"]
        assert failing["expr"].startswith("count(") and failing["expr"].endswith(
            "== 0) or vector(0)"
        )
        (stale,) = panel_named(path, "Stale reports")["targets"]
        assert stale["expr"].endswith("== 1) or vector(0)")


def unselected(expr: str) -> str:
    """``expr`` without its label matchers, to compare a dashboard's with a rule's."""
    return re.sub(r"\{[^}]*\}", "", expr)


def test_the_report_age_limit_is_the_alerts_and_follows_the_refresh_interval() -> None:
    build = builder()
    limit = unselected(build.REPORT_AGE_LIMIT)
    assert "aws_iam_exporter_refresh_interval_seconds" in limit
    rule = next(a for a in alerts_by_name() if a["alert"] == "AwsIamCredentialReportTooOld")
    assert limit in " ".join(rule["expr"].split())
    table = panel_named(DASHBOARD_DIR / "aws-iam-overview.json", "Account health")
    exprs = " ".join(t["expr"] for t in table["targets"])
    assert build.REPORT_AGE_LIMIT in exprs
    assert "/ on (job, instance) group_left aws_iam_exporter_refresh_interval_seconds" in exprs
    # Nothing in the health row assumes the default hourly refresh any more.
    for path in DASHBOARD_FILES:
        for p in health_row(path):
            for step in p["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", []):
                assert step["value"] in (None, 1), (p["title"], step)


def alerts_by_name() -> list[dict[str, Any]]:
    from tests.artefacts.rules.promql import alerts

    return alerts()


# -- annotations ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_annotations_mark_new_reports_and_firing_alerts(path: Path) -> None:
    dash = load_dashboard(path)
    by_name = {a["name"]: a for a in dash["annotations"]["list"]}
    assert set(by_name) == {"New credential reports", "Firing alerts"}
    for a in by_name.values():
        assert a["datasource"] == DS
    reports = by_name["New credential reports"]
    assert reports["useValueForTime"] is True
    assert "aws_iam_credential_report_generated_timestamp_seconds{" in reports["expr"]
    assert reports["expr"].endswith(") * 1000"), "Grafana reads milliseconds"
    assert reports["enable"] is (path.name == "aws-iam-account.json")
    firing = by_name["Firing alerts"]
    assert firing["enable"] is True
    prefix = builder().ALERT_PREFIX
    assert f'ALERTS{{alertstate="firing", alertname=~"{prefix}.+"' in firing["expr"]
    for label in ("job", "instance", "account_id"):
        assert f'{label}=~"${label}|"' in firing["expr"]


def test_every_alert_of_the_exporter_is_in_the_alerts_annotation() -> None:
    prefix = builder().ALERT_PREFIX
    names = [a["alert"] for a in alerts_by_name()]
    assert names and all(re.fullmatch(f"{prefix}.+", n) for n in names)


# -- documentation links ----------------------------------------------------------------------


def all_links(dash: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, url) of every dashboard, panel and data link."""
    found = [("dashboard", lk["url"]) for lk in dash["links"] if lk["type"] == "link"]
    for p in panels(dash):
        found += [(p["title"], lk["url"]) for lk in p.get("links", [])]
        defaults = p.get("fieldConfig", {}).get("defaults", {})
        found += [(p["title"], lk["url"]) for lk in defaults.get("links", [])]
        for o in p.get("fieldConfig", {}).get("overrides", []):
            for prop in o["properties"]:
                if prop["id"] == "links":
                    found += [(p["title"], lk["url"]) for lk in prop["value"]]
    return found


def check_anchors() -> set[str]:
    text = (REPO / "docs" / "checks.md").read_text()
    return set(re.findall(r"^### `(\w+)`$", text, re.M))


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_documentation_links_land_on_existing_sections(path: Path) -> None:
    base = RUNBOOK_BASE.removesuffix("/runbook.md")
    docs = [(where, url) for where, url in all_links(load_dashboard(path)) if "/d/" not in url]
    assert len(docs) >= 10
    runbook, checks = runbook_anchors(), check_anchors()
    templated = set()
    for where, url in docs:
        assert url.startswith(f"{base}/"), (where, url)
        page, _, anchor = url.removeprefix(f"{base}/").partition("#")
        assert page in ("runbook.md", "checks.md"), (where, url)
        if "${" in anchor:
            templated.add(anchor)
        elif anchor:
            assert anchor in (runbook if page == "runbook.md" else checks), (where, url)
    # A check's cell or bar links to that check's section.
    assert templated <= {"${__value.raw}", "${__field.labels.check}"}
    assert templated


def test_findings_tables_link_each_check_to_its_documentation() -> None:
    base = RUNBOOK_BASE.removesuffix("/runbook.md")
    for path, title in (
        (DASHBOARD_DIR / "aws-iam-overview.json", "Findings"),
        (DASHBOARD_DIR / "aws-iam-account.json", "Findings by check"),
    ):
        table = panel_named(path, title)
        check = next(
            o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "check"
        )
        (links,) = [p["value"] for p in check["properties"] if p["id"] == "links"]
        assert links[0]["url"] == f"{base}/checks.md#${{__value.raw}}"


def test_links_follow_the_configured_base(tmp_path: Path) -> None:
    build = builder()
    config = tmp_path / "generator.yaml"
    config.write_text("docs_base_url: https://docs.example.org/iam/\n")
    build.GENERATOR_CONFIG = config
    dash = build.overview()
    urls = [url for _, url in all_links(dash) if "/d/" not in url]
    assert urls and all(u.startswith("https://docs.example.org/iam/") for u in urls)
    assert "//checks.md" not in json.dumps(dash)

"""The Prometheus rule files: promtool, unit tests that cover every alert both ways,
naming conventions, and runbook links that land on a section of docs/runbook.md."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.core.findings import SEVERITIES
from tests.artefacts.rules.promql import (
    REPO,
    RULE_FILES,
    RUNBOOK,
    UNIT_DIR,
    UNIT_TESTS,
    alerts,
    all_rules,
)

# The documentation's address is configured once, for every generator.
RUNBOOK_BASE = (
    yaml.safe_load((REPO / "deploy" / "generator.yaml").read_text())["docs_base_url"].rstrip("/")
    + "/runbook.md"
)
CATEGORIES = {"credentials", "exporter"}


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def runbook_anchors() -> set[str]:
    """GitHub's anchors for the runbook's headings."""
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        if m := re.match(r"#{1,6}\s+(.*)", line):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def unit_cases() -> dict[str, dict[str, bool]]:
    """``{alertname: {"fires": bool, "quiet": bool}}`` over every unit test file."""
    cases: dict[str, dict[str, bool]] = {}
    for path in UNIT_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                seen = cases.setdefault(case["alertname"], {"fires": False, "quiet": False})
                seen["fires" if case.get("exp_alerts") else "quiet"] = True
    return cases


def test_there_are_rule_files_and_unit_tests() -> None:
    assert {p.name for p in RULE_FILES} == {
        "aws-iam-recording.rules.yml",
        "aws-iam-alerts.rules.yml",
    }
    assert len(UNIT_TESTS) >= 3


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(path: Path) -> None:
    # promtool resolves a test file's rule_files from the working directory.
    result = promtool("test", "rules", path.name, cwd=UNIT_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_unit_tests_load_the_project_rule_files() -> None:
    used: set[Path] = set()
    for path in UNIT_TESTS:
        for name in yaml.safe_load(path.read_text())["rule_files"]:
            rule_file = (UNIT_DIR / name).resolve()
            assert rule_file in RULE_FILES, f"{path.name}: {name} is not a project rule file"
            used.add(rule_file)
    assert used == set(RULE_FILES)


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    cases = unit_cases()
    missing = {
        a["alert"]: cases.get(a["alert"], {"fires": False, "quiet": False})
        for a in alerts()
        if not all(cases.get(a["alert"], {"fires": False}).values())
    }
    assert missing == {}
    assert set(cases) <= {a["alert"] for a in alerts()}, "a unit test names an unknown alert"


def test_unit_tests_fail_when_an_increase_alert_also_fires_on_a_constant(
    tmp_path: Path,
) -> None:
    """The quiet cases matter: make the 'increased' alerts fire on >= (constant values
    too) in a copy of the rules, and the unit tests must catch it."""
    rules_dir = tmp_path / "deploy" / "prometheus" / "rules"
    rules_dir.mkdir(parents=True)
    for path in RULE_FILES:
        text = path.read_text().replace(
            "\n          > min_over_time", "\n          >= min_over_time"
        )
        (rules_dir / path.name).write_text(text)
    assert ">= min_over_time" in (rules_dir / "aws-iam-alerts.rules.yml").read_text()
    unit_copy = tmp_path / "tests" / "artefacts" / "rules" / "unit"
    shutil.copytree(UNIT_DIR, unit_copy)
    result = promtool("test", "rules", "credentials.test.yml", cwd=unit_copy)
    assert result.returncode != 0
    assert "AwsIamConsoleUsersWithoutMfaIncreased" in result.stdout + result.stderr
    assert "AwsIamStaleAccessKeysIncreased" in result.stdout + result.stderr


def test_unit_tests_fail_when_the_rules_sum_across_instances(tmp_path: Path) -> None:
    """The rollout-overlap cases matter: sum the recording rules across instances (as
    they once did) in a copy of the rules, and the unit tests must catch the doubling."""
    rules_dir = tmp_path / "deploy" / "prometheus" / "rules"
    rules_dir.mkdir(parents=True)
    for path in RULE_FILES:
        text = re.sub(r"max by \((job, account_id[^)]*)\)", r"sum by (\1)", path.read_text())
        (rules_dir / path.name).write_text(text)
    assert "max by (job, account_id" not in (rules_dir / "aws-iam-recording.rules.yml").read_text()
    unit_copy = tmp_path / "tests" / "artefacts" / "rules" / "unit"
    shutil.copytree(UNIT_DIR, unit_copy)
    for name, expected in (
        ("credentials.test.yml", "AwsIamStaleAccessKeysIncreased"),
        ("changes.test.yml", "About 2 IAM user(s)"),
        ("recording.test.yml", "account_id_severity:aws_iam_findings:sum"),
    ):
        result = promtool("test", "rules", name, cwd=unit_copy)
        assert result.returncode != 0, name
        assert expected in result.stdout + result.stderr, name


def test_every_recording_rule_over_exporter_series_aggregates_per_instance_first() -> None:
    """An aggregation across instances of a per-account series is a max (or min) of
    per-instance figures, never a sum or a count."""
    for _, rule in all_rules():
        if "record" not in rule:
            continue
        expr = " ".join(rule["expr"].split())
        outer = re.match(r"(\w+) by \(([^)]*)\)", expr)
        assert outer, rule["record"]
        assert outer[1] in ("max", "min"), rule["record"]
        assert "instance" not in outer[2], rule["record"]
        for inner in re.findall(r"\b(?:sum|count) by \(([^)]*)\)", expr):
            assert "instance" in inner, (rule["record"], inner)


def exemption_warning_days() -> int:
    (alert,) = (a for a in alerts() if a["alert"] == "AwsIamExemptionExpiringSoon")
    m = re.fullmatch(
        r"exemption:aws_iam_exemption_expiry_timestamp_seconds:max - time\(\) "
        r"< (\d+) \* 86400 > 0",
        alert["expr"].strip(),
    )
    assert m, alert["expr"]
    return int(m[1])


def test_the_exemption_warning_period_is_written_once_and_documented_as_such() -> None:
    days = exemption_warning_days()
    assert days == 14
    rules = "".join(path.read_text() for path in RULE_FILES)
    # Only the alert's expression holds the number (and the comment above it).
    assert rules.count(f"{days} * 86400") == 1
    assert re.findall(r"\d+ \* 86400", rules) == [f"{days} * 86400"]
    runbook = RUNBOOK.read_text()
    section = runbook[runbook.index("## AwsIamExemptionExpiringSoon") :]
    assert f"within {days} days" in section.split("\n## ")[0]
    readme = (REPO / "README.md").read_text()
    assert f"| `AwsIamExemptionExpiringSoon` | low | an exemption of the configuration " \
        f"stops applying within {days} days |" in readme  # fmt: skip
    assert f"{days}-day warning period is written once" in readme
    configuration = (REPO / "docs" / "configuration.md").read_text()
    assert f"`AwsIamExemptionExpiringSoon` (within {days} days)" in configuration


def alert_params() -> list[Any]:
    return [pytest.param(a, id=a["alert"]) for a in alerts()]


@pytest.mark.parametrize("alert", alert_params())
def test_alert_conventions(alert: dict[str, Any]) -> None:
    assert re.fullmatch(r"AwsIam(?:[A-Z][a-z0-9]+)+", alert["alert"]), "CamelCase, AwsIam prefix"
    labels = alert["labels"]
    assert labels["severity"] in SEVERITIES
    assert labels["category"] in CATEGORIES
    annotations = alert["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert annotations["summary"].strip() and annotations["description"].strip()
    assert "\n" not in annotations["summary"]


@pytest.mark.parametrize("alert", alert_params())
def test_runbook_url_points_at_the_alerts_own_section(alert: dict[str, Any]) -> None:
    url = alert["annotations"]["runbook_url"]
    base, _, anchor = url.partition("#")
    assert base == RUNBOOK_BASE
    assert anchor == alert["alert"].lower()
    assert anchor in runbook_anchors(), f"docs/runbook.md has no '## {alert['alert']}'"


def test_runbook_has_no_section_for_an_alert_that_does_not_exist() -> None:
    sections = set(re.findall(r"^## (AwsIam\w+)$", RUNBOOK.read_text(), flags=re.M))
    assert sections == {a["alert"] for a in alerts()}


def test_runbook_internal_links_resolve() -> None:
    anchors = runbook_anchors()
    links = re.findall(r"\]\(#([\w-]+)\)", RUNBOOK.read_text())
    assert links, "the runbook cross-links its sections"
    assert [a for a in links if a not in anchors] == []


def test_recording_rule_names_follow_level_metric_operations() -> None:
    records = [r["record"] for _, r in all_rules() if "record" in r]
    assert records
    for name in records:
        assert re.fullmatch(r"[a-z_]+:aws_iam_[a-z_]+:[a-z0-9_]+", name), name


def test_every_rule_name_is_unique() -> None:
    names = [r.get("alert") or r["record"] for _, r in all_rules()]
    assert len(names) == len(set(names))


def test_readme_lists_every_alert() -> None:
    readme = (REPO / "README.md").read_text()
    assert [a["alert"] for a in alerts() if f"`{a['alert']}`" not in readme] == []


def test_example_prometheus_config_loads_the_rule_files() -> None:
    config = REPO / "deploy" / "prometheus" / "prometheus.yml"
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = {
        (config.parent / p).resolve() for p in yaml.safe_load(config.read_text())["rule_files"]
    }
    assert loaded == set(RULE_FILES)

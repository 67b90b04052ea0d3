"""The README's metric table lists every family the exporter exports, with its labels,
and nothing else: compared with a real ``serve --demo`` scrape (both directions), and
with the families the code declares, for those the demo cannot show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.daemon.http import _STATS_HELP
from tests.support.exporter_process import exporter_process, parse_samples

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DAEMON = REPO / "exporter" / "daemon"
HEADER = "| metric | labels | meaning |"
# Exported only when the accounts come from AWS Organizations, which the demo cannot do
# (tests/daemon/test_daemon_accounts.py scrapes them from a moto organisation).
ORGANIZATIONS_ONLY = {
    "aws_iam_exporter_discovery_success",
    "aws_iam_exporter_discovery_errors_total",
}
# Exported only with --state.dir, which the demo scrape does not use.
STATE_DIR_ONLY = {"aws_iam_exporter_state_save_errors_total"}
# Exported only with --access-advisor.enabled, which the demo turns on by default.
ACCESS_ADVISOR_ONLY = {
    f"aws_iam_exporter_access_advisor_{name}"
    for name in ("jobs_started_total", "jobs_completed_total", "jobs_failed_total",
                 "principals_pending")
}  # fmt: skip
# Exported only with --labels.owner-tag, which the demo sets to its own tag by default.
OWNER_TAG_ONLY = {"aws_iam_findings_by_owner"}
# The families whose ``owner`` label comes with --labels.owner-tag (so, in the demo).
OWNER_LABELLED = {"aws_iam_finding", "aws_iam_role_finding"}
NOT_IN_DEMO = ORGANIZATIONS_ONLY | STATE_DIR_ONLY
_DECLARED = re.compile(
    r"\b(_gauge|GaugeMetricFamily|CounterMetricFamily|InfoMetricFamily)\(\s*\"(aws_iam_\w+)\""
)
_SUFFIX = {"CounterMetricFamily": "_total", "InfoMetricFamily": "_info"}


def readme_table() -> dict[str, tuple[set[str], str]]:
    """``{family: (labels, meaning)}`` from the README's metric table."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER) + 2  # after the |---| line
    rows: dict[str, tuple[set[str], str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        names, labels, meaning = (cell.strip() for cell in line.strip("|").split(" | "))
        label_set = set() if labels == "(none)" else {x.strip() for x in labels.split(",")}
        for name in re.findall(r"`([a-z_]+)`", names):
            assert name not in rows, f"{name} is listed twice"
            rows[name] = (label_set, meaning)
    return rows


def declared_families() -> set[str]:
    """Every family name the daemon's collectors create, as the text format names it."""
    found = set()
    for path in sorted(DAEMON.glob("*.py")):
        for kind, name in _DECLARED.findall(path.read_text(encoding="utf-8")):
            found.add(name + _SUFFIX.get(kind, ""))
    # The HTTP server's counters are named from one table.
    found.update(f"aws_iam_exporter_http_{name}_total" for name in _STATS_HELP)
    return found


def test_the_table_parses() -> None:
    rows = readme_table()
    assert rows["aws_iam_findings"][0] == {"account_id", "check", "severity"}
    assert rows["aws_iam_exporter_refresh_interval_seconds"][0] == set()
    assert len(rows) >= 30


def test_the_table_lists_every_family_the_code_declares() -> None:
    declared = declared_families()
    assert "aws_iam_exporter_refresh_errors_total" in declared
    assert "aws_iam_exporter_build_info" in declared
    assert set(readme_table()) == declared


def test_access_advisor_only_families_say_so() -> None:
    rows = readme_table()
    assert (
        "only with `--access-advisor.enabled`"
        in rows["aws_iam_exporter_access_advisor_jobs_started_total"][1]
    )
    assert set(rows) >= ACCESS_ADVISOR_ONLY


def test_owner_tag_only_families_say_so() -> None:
    rows = readme_table()
    for name in OWNER_TAG_ONLY:
        assert "only with `--labels.owner-tag`" in rows[name][1], name
    for name in OWNER_LABELLED:
        assert "with `--labels.owner-tag`, also an `owner` label" in rows[name][1], name


def test_organizations_only_families_say_so() -> None:
    rows = readme_table()
    for name in ORGANIZATIONS_ONLY:
        assert "only with `accounts.organizations`" in rows[name][1], name


@pytest.fixture(scope="module")
def demo_scrape() -> Iterator[str]:
    # --metrics.user-facts: the per-user families are off by default.
    with exporter_process("--demo", "--metrics.user-facts") as demo:
        yield demo.metrics()


@pytest.mark.slow
def test_the_table_is_what_serve_demo_exports(demo_scrape: str) -> None:
    exported = {
        line.split()[2] for line in demo_scrape.splitlines() if line.startswith("# TYPE aws_iam_")
    }
    listed = set(readme_table())
    assert exported - listed == set(), "exported but not in the README's metric table"
    assert listed - exported == NOT_IN_DEMO, "in the README but not exported"


@pytest.mark.slow
def test_the_labels_are_the_exported_ones(demo_scrape: str) -> None:
    rows = readme_table()
    labels: dict[str, set[str]] = {}
    for name, samples in parse_samples(demo_scrape).items():
        for sample_labels, _ in samples:
            labels.setdefault(name, set()).update(sample_labels)
    checked = 0
    for name, (documented, _) in rows.items():
        if name in labels:
            owner = {"owner"} if name in OWNER_LABELLED else set()
            assert labels[name] == documented | owner, name
            checked += 1
    # Families without a sample in the demo (no pending source) cannot be compared.
    assert checked >= len(rows) - len(NOT_IN_DEMO) - 1

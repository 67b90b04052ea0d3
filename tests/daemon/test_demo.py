"""The built-in demo account: real AWS format, realistic, and every check fires."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta

import pytest

from exporter.analyse import analyse
from exporter.checks import CATALOGUE
from exporter.config import Config
from exporter.demo import DEMO_ACCOUNT_ID, DEMO_ROLES, DemoSource, demo_report_csv
from exporter.report import COLUMNS, parse_report
from tests.daemon.reports import NOW

REPORT_SCOPES = ("root", "user", "any")


def demo_findings(when=NOW):  # type: ignore[no-untyped-def]
    analysis = analyse(DemoSource(lambda: when).fetch(), Config(), when)
    return analysis, Counter(f.check for f in analysis.evaluation.findings)


@pytest.mark.parametrize(
    "spec", [c for c in CATALOGUE if c.scope in REPORT_SCOPES], ids=lambda c: c.id
)
def test_every_report_check_finds_something(spec) -> None:  # type: ignore[no-untyped-def]
    _, counts = demo_findings()
    assert counts[spec.id] >= 1


def test_findings_do_not_depend_on_when_the_demo_runs() -> None:
    _, now = demo_findings()
    _, later = demo_findings(NOW + timedelta(days=400))
    assert now == later


def test_report_is_in_the_real_aws_format() -> None:
    raw = demo_report_csv(NOW).decode()
    rows = list(csv.reader(io.StringIO(raw)))
    assert tuple(rows[0]) == COLUMNS
    assert rows[1][0] == "<root_account>" and rows[1][1] == f"arn:aws:iam::{DEMO_ACCOUNT_ID}:root"
    # Dates are ISO 8601 with an offset, as AWS writes them.
    assert rows[2][2].endswith("+00:00")
    report = parse_report(raw.encode())
    assert report.account_id == DEMO_ACCOUNT_ID and report.problems == ()


def test_population_is_realistic() -> None:
    analysis, counts = demo_findings()
    users = analysis.report.users
    assert 30 <= len(users) <= 50
    humans = [u for u in users if u.is_human]
    with_mfa = [u for u in humans if u.mfa_active is True]
    assert len(humans) >= 15 and len(with_mfa) > len(humans) / 2
    programmatic = [
        u for u in users if not u.is_human and any(k.active is True for k in u.access_keys)
    ]
    assert len(programmatic) >= 10
    # A minority of users carry findings; the account is neglected, not a wreck.
    flagged = {f.user for f in analysis.evaluation.findings}
    assert len(flagged) < len(users)
    assert counts["root_mfa_disabled"] == 1 and counts["root_used_recently"] >= 1


def test_generated_time_is_recent_and_in_the_past() -> None:
    fetched = DemoSource(lambda: NOW).fetch()
    assert fetched.generated_time is not None
    assert NOW - timedelta(hours=4) < fetched.generated_time < NOW


def test_role_facts_for_the_role_check_are_provided() -> None:
    # role_unused is evaluated elsewhere; the demo describes roles for it, used and unused.
    unused = [r for r in DEMO_ROLES if r[3] is None or r[3] > 90]
    used = [r for r in DEMO_ROLES if r[3] is not None and r[3] <= 90]
    assert unused and used

"""``fingerprint``: equal fingerprints mean ``diff_reports`` finds no change."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.core.diff import diff_reports, fingerprint
from exporter.core.report import parse_report
from tests.support.reports import key, report, root_row, ts, user_row
from tests.support.strategies import report_rows

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def digest(*rows: dict[str, str]) -> bytes:
    return fingerprint(parse_report(report(*rows)))


def test_a_field_diff_reads_changes_the_fingerprint() -> None:
    base = [root_row(), user_row("a", mfa_active="true", **key(1, rotated=ts(30)))]
    same = digest(*base)
    assert digest(*base) == same
    changed = (
        [root_row(), user_row("a", mfa_active="false", **key(1, rotated=ts(30)))],
        [root_row(), user_row("a", mfa_active="true", **key(1, rotated=ts(2)))],
        [root_row(), user_row("a", mfa_active="true", **key(1, "false", rotated=ts(30)))],
        [*base, user_row("b")],
        [root_row(), user_row("a", mfa_active="true", user_creation_time=ts(3),
                              **key(1, rotated=ts(30)))],
    )  # fmt: skip
    for rows in changed:
        assert digest(*rows) != same
        assert diff_reports(parse_report(report(*base)), parse_report(report(*rows)))


def test_fields_diff_does_not_read_leave_it_unchanged() -> None:
    old = [root_row(), user_row("a", **key(1, rotated=ts(30), used=ts(3)))]
    new = [root_row(), user_row("a", password_last_used=ts(1), **key(1, rotated=ts(30),
                                                                   used=ts(1)))]  # fmt: skip
    assert digest(*old) == digest(*new)
    assert diff_reports(parse_report(report(*old)), parse_report(report(*new))) == []


@SETTINGS
@given(report_rows(max_users=6), report_rows(max_users=6), st.integers(0, 3))
def test_equal_fingerprints_mean_no_change(
    old: list[dict[str, str]], new: list[dict[str, str]], shared: int
) -> None:
    # Some users in common, some fields of theirs rewritten: changes or none.
    new = old[:shared] + new
    a, b = parse_report(report(*old)), parse_report(report(*new))
    if fingerprint(a) == fingerprint(b):
        assert diff_reports(a, b) == []
    assert fingerprint(a) == fingerprint(parse_report(report(*old)))


def test_the_fingerprint_is_the_same_in_another_process() -> None:
    # Refresh results may be computed in worker processes: no per-process salt.
    code = (
        "from exporter.core.diff import fingerprint; from exporter.core.report import "
        "parse_report; from tests.support.reports import report, root_row, user_row; "
        "print(fingerprint(parse_report(report(root_row(), user_row('a')))).hex())"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()  # fmt: skip
    assert other == digest(root_row(), user_row("a")).hex()

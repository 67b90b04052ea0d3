"""Upcoming findings: the due date on both sides of each day threshold.

The due date is the UTC date of the first instant at which the check finds the
subject, counted as the check counts days: "more than 90 days" starts at 91 whole
days, so a key rotated 80 days ago at 12:00 is due 11 days later, at 12:00.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.config import config_from_dict
from exporter.core.evaluate import evaluate
from exporter.core.policy import Policy
from exporter.core.records import RoleRecord
from exporter.core.report import parse_report
from exporter.core.upcoming import (
    DEFAULT_WINDOW,
    Upcoming,
    sorted_upcoming,
    upcoming_in_report,
    upcoming_in_roles,
    window_end,
)
from tests.support.real_reports import current_format_reports
from tests.support.reports import ACCOUNT, AS_OF, key, report, root_row, ts, user_row

TODAY = AS_OF.date()


def upcoming(
    *rows: dict[str, str],
    policy: Policy | None = None,
    window: timedelta = DEFAULT_WINDOW,
    now: datetime = AS_OF,
) -> list[Upcoming]:
    parsed = parse_report(report(root_row(), *rows))
    policy = policy or Policy()
    skipped = evaluate(parsed, policy, now).not_evaluated
    return list(upcoming_in_report(parsed, policy, now, window, skipped))


def due(check: str, *rows: dict[str, str], **kw: object) -> list[tuple[str, int | None, date]]:
    return [
        (u.finding.user, u.finding.key, u.due)
        for u in upcoming(*rows, **kw)  # type: ignore[arg-type]
        if u.finding.check == check
    ]


def machine(name: str, rotated_days: float, used_days: float = 1) -> dict[str, str]:
    return user_row(name, **key(1, rotated=ts(rotated_days), used=ts(used_days)))


def human(name: str, **fields: str) -> dict[str, str]:
    base = {"password_enabled": "true", "password_last_used": ts(1), "mfa_active": "true"}
    return user_row(name, **{**base, **fields})


def test_a_key_rotated_80_days_ago_is_due_in_11_days() -> None:
    [u] = [u for u in upcoming(machine("ci", 80)) if u.finding.check == "access_key_not_rotated"]
    assert u.due == TODAY + timedelta(days=11)
    assert (u.finding.account_id, u.finding.user, u.finding.key) == (ACCOUNT, "ci", 1)
    assert u.finding.severity == "high"
    # The finding as it will be on its due date: 91 whole days old.
    assert u.finding.facts == {"age_days": 91}
    assert u.as_dict() == {
        "account_id": ACCOUNT, "user": "ci", "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
        "check": "access_key_not_rotated", "severity": "high", "key": 1,
        "due": (TODAY + timedelta(days=11)).isoformat(),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("rotated_days", "expected"),
    [
        (90, TODAY + timedelta(days=1)),  # 90 days is not "more than 90": due tomorrow
        (91, None),  # already a finding: not upcoming
        (77, TODAY + timedelta(days=14)),  # due on the window's last day: upcoming
        (76, None),  # due the day after the window
        (76.9, TODAY + timedelta(days=14)),  # 76 days and 21.6 h: crosses on day 14
    ],
)
def test_window_edges_and_firing_findings(rotated_days: float, expected: date | None) -> None:
    got = due("access_key_not_rotated", machine("ci", rotated_days))
    assert got == ([] if expected is None else [("ci", 1, expected)])


def test_the_due_instant_keeps_its_hour() -> None:
    # Rotated 80 days and 13 hours before 12:00: 91 days are reached at 23:00 on day 10.
    assert due(
        "access_key_not_rotated",
        machine("ci", 80, 0) | key(1, rotated=ts(80, hours=13), used=ts(1)),
    ) == [("ci", 1, TODAY + timedelta(days=10))]


def test_a_finding_that_starts_later_today_is_due_today() -> None:
    # Rotated 90 days and 14 hours before 12:00: 91 days are reached at 22:00 today.
    row = user_row("ci", **key(1, rotated=ts(90, hours=14), used=ts(1)))
    assert due("access_key_not_rotated", row) == [("ci", 1, TODAY)]
    # Even with a window of 0s, which lists only what is due today.
    assert due("access_key_not_rotated", row, window=timedelta(0)) == [("ci", 1, TODAY)]
    assert due("access_key_not_rotated", machine("ci", 80), window=timedelta(0)) == []


def test_a_shorter_window_leaves_later_findings_out() -> None:
    assert due("access_key_not_rotated", machine("ci", 80), window=timedelta(days=10)) == []
    assert due("access_key_not_rotated", machine("ci", 80), window=timedelta(days=11)) == [
        ("ci", 1, TODAY + timedelta(days=11))
    ]


def test_human_and_programmatic_thresholds() -> None:
    policy = config_from_dict({"checks": {"access_key_not_rotated": {
        "human": {"max_age_days": 30}, "programmatic": {"max_age_days": 90}}}})  # fmt: skip
    rows = (
        human("alice", **key(1, rotated=ts(25), used=ts(1))),  # human: 30-day rule
        machine("ci", 25),  # programmatic: 90-day rule, far away
        machine("batch", 85),
    )
    assert sorted(due("access_key_not_rotated", *rows, policy=policy)) == [
        ("alice", 1, TODAY + timedelta(days=6)),
        ("batch", 1, TODAY + timedelta(days=6)),
    ]


def test_disabled_and_exempted_checks_have_no_upcoming() -> None:
    off = config_from_dict({"checks": {"access_key_not_rotated": {"enabled": False}}})
    assert due("access_key_not_rotated", machine("ci", 80), policy=off) == []
    exempt = config_from_dict({"exemptions": [
        {"user": "ci", "checks": ["access_key_not_rotated"], "reason": "vendor key"}]})  # fmt: skip
    assert due("access_key_not_rotated", machine("ci", 80), machine("db", 80), policy=exempt) == [
        ("db", 1, TODAY + timedelta(days=11))
    ]


def test_an_exemption_that_expires_before_the_due_date_does_not_spare_it() -> None:
    def policy(expires: date) -> Policy:
        return config_from_dict({"exemptions": [{"user": "ci", "reason": "migrating",
                                                 "expires": expires.isoformat()}]})  # fmt: skip

    due_day = TODAY + timedelta(days=11)
    assert due("access_key_not_rotated", machine("ci", 80), policy=policy(due_day)) == []
    assert due("access_key_not_rotated", machine("ci", 80),
               policy=policy(due_day - timedelta(days=1))) == [("ci", 1, due_day)]  # fmt: skip


def test_every_report_threshold_check() -> None:
    rows = (
        # Password last used 85 days ago: unused after more than 90 days.
        human("pw", password_last_used=ts(85)),
        # A password never used, user created 25 days ago: min_user_age_days 30.
        human("new", password_last_used="N/A", user_creation_time=ts(25)),
        # A key idle 88 days: access_key_unused and user_inactive, both past 90.
        user_row("idle", **key(1, rotated=ts(200), used=ts(88))),
    )
    got = {(u.finding.check, u.finding.user): u.due for u in upcoming(*rows)}
    assert got[("password_unused", "pw")] == TODAY + timedelta(days=6)
    assert got[("password_never_used", "new")] == TODAY + timedelta(days=6)
    assert got[("access_key_unused", "idle")] == TODAY + timedelta(days=3)
    assert got[("user_inactive", "idle")] == TODAY + timedelta(days=3)
    # Checks whose hits only go away with time, or that count no days, have none.
    assert not {c for c, _ in got} & {"root_used_recently", "console_without_mfa"}


def test_a_grace_period_is_reached_not_exceeded() -> None:
    # access_key_never_used spares keys younger than N whole days: at N days it fires.
    policy = config_from_dict({"checks": {"access_key_never_used": {"grace_days": 7}}})
    row = user_row("fresh", **key(1, rotated=ts(3)))
    assert due("access_key_never_used", row, policy=policy) == [
        ("fresh", 1, TODAY + timedelta(days=4))
    ]
    # The default grace of 0 flags every never-used key at once: nothing upcoming.
    assert due("access_key_never_used", row) == []


def test_checks_not_evaluated_have_no_upcoming() -> None:
    # The pre-2015 format has no key use dates: access_key_unused is not evaluated.
    from exporter.core.report import COLUMNS

    old = tuple(c for c in COLUMNS if "last_used" not in c or c == "password_last_used")
    row = user_row("idle", **key(1, rotated=ts(85), used=ts(88)))
    parsed = parse_report(report(root_row(), row, columns=old))
    skipped = evaluate(parsed, Policy(), AS_OF).not_evaluated
    assert "access_key_unused" in skipped
    checks = {u.finding.check for u in upcoming_in_report(parsed, Policy(), AS_OF,
                                                          DEFAULT_WINDOW, skipped)}  # fmt: skip
    assert checks == {"access_key_not_rotated"}
    # Named not evaluated by the caller, a check has no upcoming findings either.
    assert upcoming_in_report(parsed, Policy(), AS_OF, DEFAULT_WINDOW,
                              {**skipped, "access_key_not_rotated": "why"}) == ()  # fmt: skip


def role(name: str, created_days: int, used_days: int | None, path: str = "/") -> RoleRecord:
    return RoleRecord(
        name=name, arn=f"arn:aws:iam::{ACCOUNT}:role{path}{name}", path=path,
        created=AS_OF - timedelta(days=created_days),
        last_used=None if used_days is None else AS_OF - timedelta(days=used_days),
        last_used_region=None,
    )  # fmt: skip


def test_roles() -> None:
    roles = [role("ci", 400, 85), role("idle", 400, 95), role("new", 80, None),
             role("svc", 400, 85, path="/aws-service-role/")]  # fmt: skip
    got = upcoming_in_roles(ACCOUNT, roles, Policy(), AS_OF, DEFAULT_WINDOW, {})
    assert sorted((u.finding.facts["role"], u.finding.user, u.due) for u in got) == [
        ("ci", "", TODAY + timedelta(days=6)),
        ("new", "", TODAY + timedelta(days=11)),
    ]
    assert upcoming_in_roles(ACCOUNT, None, Policy(), AS_OF, DEFAULT_WINDOW, {}) == ()
    assert upcoming_in_roles(ACCOUNT, roles, Policy(), AS_OF, DEFAULT_WINDOW,
                             {"role_unused": "not fetched"}) == ()  # fmt: skip


def test_window_end_and_order() -> None:
    late = datetime(2026, 11, 24, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    # 23:30 at UTC-2 is already the 25th in UTC.
    assert window_end(late, timedelta(days=1)).date() == date(2026, 11, 26)
    items = upcoming(machine("b", 85), machine("a", 80))
    assert [u.finding.user for u in sorted_upcoming(items)] == ["b", "a"]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        upcoming(machine("ci", 80), now=AS_OF.replace(tzinfo=None))


def _both_ways(data: bytes, policy: Policy, now: datetime) -> tuple[list[Upcoming], list[Upcoming]]:
    parsed = parse_report(data, None, now)
    evaluation = evaluate(parsed, policy, now)
    skipped = evaluation.not_evaluated
    asked = upcoming_in_report(parsed, policy, now, DEFAULT_WINDOW, skipped)
    current = (*evaluation.findings, *evaluation.exempted)
    known = upcoming_in_report(parsed, policy, now, DEFAULT_WINDOW, skipped, current)
    return list(asked), list(known)


@pytest.mark.parametrize("path", current_format_reports(), ids=lambda p: p.name)
def test_what_fires_now_read_from_the_evaluation_is_what_the_checks_say(path: Path) -> None:
    """Upcoming findings worked out from the evaluation at ``now`` equal those found by
    asking the checks again, on real reports, at several times past their latest date,
    with and without an exemption that lapses within the window (a finding it covers
    today fires already: it is not upcoming, though no exemption spares it then)."""
    data = path.read_bytes()
    latest = _latest_date(data)
    for days in DAYS_PAST_GENERATION:
        now = latest + timedelta(days=days)
        lapsing = config_from_dict({"exemptions": [
            {"user": "*", "checks": ["access_key_not_rotated", "user_inactive"], "reason": "x",
             "expires": (now + timedelta(days=5)).date().isoformat()},
        ]})  # fmt: skip
        for policy in (Policy(), lapsing):
            asked, known = _both_ways(data, policy, now)
            assert known == asked


DAYS_PAST_GENERATION = (0, 20, 80, 85, 170, 365)
_ISO_DATE = re.compile(rb"\b(\d{4}-\d{2}-\d{2})T")


def _latest_date(data: bytes) -> datetime:
    """The report's latest date (most have no generation time), at midnight UTC: the
    times counted from it reach each threshold from both sides."""
    days = sorted(_ISO_DATE.findall(data))
    latest = date.fromisoformat(days[-1].decode()) if days else AS_OF.date()
    return datetime.combine(latest, datetime.min.time(), timezone.utc)


def test_the_real_reports_have_upcoming_findings_at_those_times() -> None:
    """What the test above compares is not empty: the real reports, at those times,
    have upcoming findings."""
    paths = current_format_reports()
    if not paths:
        pytest.skip("shared/real-reports not found beside the repository")
    seen = 0
    for path in paths:
        data = path.read_bytes()
        generated = _latest_date(data)
        for days in DAYS_PAST_GENERATION:
            seen += len(_both_ways(data, Policy(), generated + timedelta(days=days))[0])
    assert seen >= 10


def test_what_fires_now_read_from_the_evaluation_on_a_large_mixed_report() -> None:
    rows = [machine(f"m{n}", rotated_days=n % 120, used_days=n % 7) for n in range(300)]
    rows += [human(f"h{n}", password_last_used=ts(n % 100)) for n in range(300)]
    data = report(root_row(), *rows)
    asked, known = _both_ways(data, Policy(), AS_OF)
    assert known == asked
    assert len(asked) > 20

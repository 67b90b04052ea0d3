"""Upcoming findings: what a check with a day threshold will find within a window.

A key rotated 80 days ago is no finding under a 90-day rule, but it will be one in
11 days. The due date is not recomputed here from each check's columns: the check
itself is asked, at the end of the window and then at the ends of days found by bisection,
so that the day counting (``cutoff``, strict "more than", grace periods, human and
programmatic thresholds) is exactly the check's own. The threshold checks only gain
hits as time passes, which is what makes the bisection sound; a check whose hits
only go away (``root_used_recently``) never has an upcoming finding.

Pure: ``now`` and the window are arguments. A check that is disabled, not evaluated
or without day thresholds has no upcoming finding; neither has a finding that an
exemption still covers on its due date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple

from exporter.core.checks import CHECKS, Thresholds
from exporter.core.checks.spec import CheckSpec
from exporter.core.evaluate import report_batches
from exporter.core.exemptions import Exemption, ExemptionSet
from exporter.core.findings import ROLE_FACT, SEVERITY_RANK, Finding
from exporter.core.policy import Policy
from exporter.core.records import ROOT_USER, CredentialReport, RoleRecord

DEFAULT_WINDOW = timedelta(days=14)


class Upcoming(NamedTuple):
    """A finding that starts on ``due`` (a UTC date), as the check will report it."""

    finding: Finding
    due: date

    def as_dict(self) -> dict[str, Any]:
        f = self.finding
        return {
            "account_id": f.account_id,
            "user": f.user,
            "arn": f.arn,
            "check": f.check,
            "severity": f.severity,
            "key": f.key,
            "due": self.due.isoformat(),
        }

    def sort_key(self) -> tuple[date, int, str, str, str, int]:
        f = self.finding
        return (self.due, SEVERITY_RANK[f.severity], f.account_id, f.check, f.user, f.key or 0)


def window_end(now: datetime, window: timedelta) -> datetime:
    """The last instant of the window: the end of the day ``window`` after ``now``
    (UTC), so that a finding due on that day is upcoming whatever its hour."""
    edge = (now.astimezone(timezone.utc) + window).date()
    return datetime.combine(edge, time.max, timezone.utc)


def upcoming_in_report(
    report: CredentialReport,
    policy: Policy,
    now: datetime,
    window: timedelta,
    not_evaluated: Mapping[str, str],
    current: Iterable[Finding] | None = None,
) -> tuple[Upcoming, ...]:
    """The report checks' findings due after ``now`` and within ``window``.

    ``current``: the findings (exempted included) that evaluating the report at
    ``now`` gave, if known; what fires already is then read from them instead of
    asking the checks again (the same answer, for a third of the cost)."""
    complete = any(r.user == ROOT_USER for r in report.records)
    account = report.account_id or ""
    # A batch of rows at a time, as evaluate does, joined back into check order.
    by_check: dict[str, list[tuple[Finding, date]]] = {cid: [] for cid in policy.checks}
    firing = _firing(current)
    for subjects in report_batches(report.records, complete):
        for cid, severity, row, key, msg, facts, due in _due(
            policy, subjects, now, window, not_evaluated, firing
        ):
            finding = Finding(account, row.user, row.arn, cid, severity, key, msg, facts)
            by_check[cid].append((finding, due))
    found = [item for items in by_check.values() for item in items]
    return _not_exempt(found, policy.exemptions)


# check -> (user, key) of each of its findings at ``now``
Firing = Mapping[str, set[tuple[str, "int | None"]]]


def _firing(current: Iterable[Finding] | None) -> Firing | None:
    if current is None:
        return None
    firing: dict[str, set[tuple[str, int | None]]] = {}
    for f in current:
        firing.setdefault(f.check, set()).add((f.user, f.key))
    return firing


def upcoming_in_roles(
    account_id: str,
    roles: Sequence[RoleRecord] | None,
    policy: Policy,
    now: datetime,
    window: timedelta,
    not_evaluated: Mapping[str, str],
) -> tuple[Upcoming, ...]:
    """The role checks' findings due within ``window``; none when roles are unknown."""
    if roles is None:
        return ()
    audited = [r for r in roles if not r.path.startswith(policy.roles.exclude_paths)]
    found = [
        (
            Finding(account_id, "", role.arn, cid, sev, key, msg, {ROLE_FACT: role.name, **facts}),
            due,
        )
        for cid, sev, role, key, msg, facts, due in _due(
            policy, {"role": audited}, now, window, not_evaluated
        )
    ]
    return _not_exempt(found, policy.exemptions)


def _due(
    policy: Policy,
    subjects: Mapping[str, Sequence[Any]],
    now: datetime,
    window: timedelta,
    skipped: Mapping[str, str],
    known: Firing | None = None,
) -> Iterable[tuple[str, str, Any, int | None, str, dict[str, Any], date]]:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(timezone.utc)
    end = window_end(now, window)
    for cid, cfg in policy.checks.items():
        spec = CHECKS[cid]
        rows = subjects.get(spec.scope)
        if not cfg.enabled or cid in skipped or not spec.thresholds or not rows:
            continue
        t = Thresholds(cfg.human, cfg.programmatic)
        later = spec.fn(rows, t, end)
        if not later:
            continue
        for subject, key in _new(spec, later, t, now, None if known is None else known.get(cid)):
            due, message, facts = _start(spec, subject, key, t, now, end)
            yield cid, cfg.severity, subject, key, message, facts, due


def _new(
    spec: CheckSpec[Any],
    later: Sequence[tuple[Any, ...]],
    t: Thresholds,
    now: datetime,
    firing: set[tuple[str, int | None]] | None,
) -> list[tuple[Any, int | None]]:
    """(subject, key) of the hits at the window's end that are not hits at ``now``
    (``firing``: those at ``now`` by user name, when known)."""
    if firing is not None:
        return [(s, k) for s, k, *_ in later if (s.user, k) not in firing]
    # Only the subjects found at the end of the window can be new findings.
    candidates = list({id(s): s for s, *_ in later}.values())
    hits = {(id(s), k) for s, k, *_ in spec.fn(candidates, t, now)}
    return [(s, k) for s, k, *_ in later if (id(s), k) not in hits]


def _start(
    spec: CheckSpec[Any], subject: Any, key: int | None, t: Thresholds, now: datetime, end: datetime
) -> tuple[date, str, dict[str, Any]]:
    """The first day in [today, end's day] at whose end the check finds ``(subject, key)``:
    the date of the first instant it does, since findings only start as time passes. By
    bisection on whole days; the hit's message and facts are those of that day's end."""

    def hit(day: date) -> tuple[str, dict[str, Any]] | None:
        at = datetime.combine(day, time.max, timezone.utc)
        for _, k, message, facts in spec.fn([subject], t, at):
            if k == key:
                return message, facts
        return None

    today = now.date()
    lo, hi = -1, (end.date() - today).days  # not found at the end of day lo, found at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if hit(today + timedelta(days=mid)) is None:
            lo = mid
        else:
            hi = mid
    due = today + timedelta(days=hi)
    found = hit(due)
    assert found is not None  # found at end, and the checks only gain hits
    return due, found[0], found[1]


def _not_exempt(
    found: Sequence[tuple[Finding, date]], exemptions: Sequence[Exemption]
) -> tuple[Upcoming, ...]:
    """Those no exemption covers on their due date (one that expires before it does
    not spare the finding)."""
    kept: list[Upcoming] = []
    for finding, due in found:
        live = [e for e in exemptions if not e.expired(due)]
        if not live or not ExemptionSet(live).matches(finding):
            kept.append(Upcoming(finding, due))
    return tuple(kept)


def sorted_upcoming(items: Iterable[Upcoming]) -> list[Upcoming]:
    return sorted(items, key=Upcoming.sort_key)

"""Records + config + an explicit ``now`` become findings. Pure: no clock, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from functools import partial
from itertools import repeat
from operator import attrgetter
from typing import NamedTuple

from exporter.core.checks import CHECKS, Thresholds
from exporter.core.exemptions import Exemption
from exporter.core.findings import Finding
from exporter.core.policy import Policy
from exporter.core.records import ROOT_USER, CredentialReport, ParseProblem
from exporter.core.report import gc_paused

# Finding's generated __new__ is a Python-level call per finding; tuple.__new__
# builds the same object without it.
_finding = partial(tuple.__new__, Finding)
_user = attrgetter("user")
_arn = attrgetter("arn")


class Evaluation(NamedTuple):
    findings: tuple[Finding, ...]
    # Findings an exemption matched: kept and counted, not dropped.
    exempted: tuple[Finding, ...]
    # Exemptions past their ``expires`` date: they no longer apply.
    expired_exemptions: tuple[Exemption, ...]
    problems: tuple[ParseProblem, ...]


def evaluate(report: CredentialReport, policy: Policy, now: datetime) -> Evaluation:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    with gc_paused():  # one finding or more per user: see gc_paused
        return _evaluate(report, policy, now.astimezone(timezone.utc))


def _evaluate(report: CredentialReport, policy: Policy, now: datetime) -> Evaluation:
    account = report.account_id or ""
    records = report.records
    roots = [r for r in records if r.user == ROOT_USER]
    users = [r for r in records if r.user != ROOT_USER] if roots else records
    raw: list[Finding] = []
    for cid, cfg in policy.checks.items():
        spec = CHECKS[cid]
        if not cfg.enabled or spec.fn is None:
            continue
        rows = {"root": roots, "user": users, "any": records}.get(spec.scope, ())
        if not rows:
            continue
        hits = spec.fn(rows, Thresholds(cfg.human, cfg.programmatic), now)
        if hits:
            # Column-wise and in C (zip, map): findings can outnumber users.
            recs, keys, messages, facts = zip(*hits, strict=True)
            raw.extend(map(_finding, zip(
                repeat(account), map(_user, recs), map(_arn, recs), repeat(cid),
                repeat(cfg.severity), keys, messages, facts, strict=False,
            )))  # fmt: skip
    return apply_exemptions(raw, policy.exemptions, now, report.problems)


def apply_exemptions(
    raw: Iterable[Finding],
    exemptions: Iterable[Exemption],
    now: datetime,
    problems: tuple[ParseProblem, ...] = (),
) -> Evaluation:
    """Split findings into reported and exempted; list the exemptions that expired.

    An exemption applies up to and including its ``expires`` day (in ``now``'s
    time zone, UTC for the command line and the daemon)."""
    today = now.date()
    exemptions = tuple(exemptions)
    live = [e for e in exemptions if not e.expired(today)]
    expired = tuple(e for e in exemptions if e.expired(today))
    if not live:
        return Evaluation(tuple(raw), (), expired, problems)
    findings: list[Finding] = []
    exempted: list[Finding] = []
    for f in raw:
        (exempted if any(e.matches(f) for e in live) else findings).append(f)
    return Evaluation(tuple(findings), tuple(exempted), expired, problems)


def merge(*evaluations: Evaluation) -> Evaluation:
    """Several evaluations as one (accounts, or an account's report and role checks)."""
    expired = dict.fromkeys(e for ev in evaluations for e in ev.expired_exemptions)
    return Evaluation(
        findings=tuple(f for ev in evaluations for f in ev.findings),
        exempted=tuple(f for ev in evaluations for f in ev.exempted),
        expired_exemptions=tuple(expired),
        problems=tuple(p for ev in evaluations for p in ev.problems),
    )

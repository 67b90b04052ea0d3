"""Records + config + an explicit ``now`` become findings. Pure: no clock, no I/O.

Every check runs the same way whatever its scope (``_run``): the enabled checks of
the policy whose scope has subjects get all of them at once. What differs per scope
is only how a hit is attributed: a report row carries its own user and ARN, a role
has no user and is named in the facts, the account's facts belong to root.

``evaluate`` runs the checks on the credential report (scopes root, user, any);
``evaluate_details`` those on roles and account facts (scopes role, account), which
come from other IAM APIs and may be missing when the report is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from functools import partial
from itertools import repeat
from operator import attrgetter
from typing import Any, NamedTuple

from exporter.core.checks import CHECKS, Hit, Thresholds
from exporter.core.exemptions import Exemption
from exporter.core.findings import ROLE_FACT, Finding
from exporter.core.policy import Policy
from exporter.core.records import (
    ROOT_USER,
    AccountFacts,
    CredentialReport,
    ParseProblem,
    RoleRecord,
)
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
    for cid, severity, hits in _run(policy, {"root": roots, "user": users, "any": records}, now):
        # Column-wise and in C (zip, map): findings can outnumber users.
        recs, keys, messages, facts = zip(*hits, strict=True)
        raw.extend(map(_finding, zip(
            repeat(account), map(_user, recs), map(_arn, recs), repeat(cid),
            repeat(severity), keys, messages, facts, strict=False,
        )))  # fmt: skip
    return apply_exemptions(raw, policy.exemptions, now, report.problems)


def evaluate_details(
    account_id: str,
    roles: Sequence[RoleRecord] | None,
    facts: AccountFacts | None,
    policy: Policy,
    now: datetime,
) -> Evaluation:
    """Findings of the role and account checks. ``None`` was not fetched: the checks
    of that scope are not evaluated (no finding, and no claim that all is clean)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    raw: list[Finding] = []
    if roles is not None:
        # AWS services own the roles under the excluded paths (service-linked roles).
        audited = [r for r in roles if not r.path.startswith(policy.roles.exclude_paths)]
        for cid, severity, role_hits in _run(policy, {"role": audited}, now):
            raw.extend(
                Finding(account_id, "", role.arn, cid, severity, key, message,
                        {ROLE_FACT: role.name, **found})
                for role, key, message, found in role_hits
            )  # fmt: skip
    if facts is not None:
        root_arn = f"arn:{facts.partition}:iam::{account_id}:root"
        for cid, severity, account_hits in _run(policy, {"account": (facts,)}, now):
            raw.extend(
                Finding(account_id, ROOT_USER, root_arn, cid, severity, key, message, found)
                for _, key, message, found in account_hits
            )
    return apply_exemptions(raw, policy.exemptions, now)


def _run(
    policy: Policy, subjects: Mapping[str, Sequence[Any]], now: datetime
) -> Iterator[tuple[str, str, list[Hit[Any]]]]:
    """(id, severity, hits) of each enabled check whose scope is in ``subjects``
    with at least one subject, in the policy's order, when it found something."""
    for cid, cfg in policy.checks.items():
        spec = CHECKS[cid]
        if not cfg.enabled:
            continue
        rows = subjects.get(spec.scope)
        if not rows:
            continue
        hits = spec.fn(rows, Thresholds(cfg.human, cfg.programmatic), now)
        if hits:
            yield cid, cfg.severity, hits


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
    """Several evaluations as one (accounts, or an account's report and its details)."""
    expired = dict.fromkeys(e for ev in evaluations for e in ev.expired_exemptions)
    return Evaluation(
        findings=tuple(f for ev in evaluations for f in ev.findings),
        exempted=tuple(f for ev in evaluations for f in ev.exempted),
        expired_exemptions=tuple(expired),
        problems=tuple(p for ev in evaluations for p in ev.problems),
    )

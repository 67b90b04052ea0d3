"""Records + config + an explicit ``now`` become findings. Pure: no clock, no I/O.

Every check runs the same way whatever its scope (``_run``): the enabled checks of
the policy whose scope has subjects get all of them at once. What differs per scope
is only how a hit is attributed: a report row carries its own user and ARN, a role
has no user and is named in the facts, the account's facts belong to root.

``evaluate`` runs the checks on the credential report (scopes root, user, any);
``evaluate_details`` those on roles and account facts (scopes role, account), which
come from other IAM APIs and may be missing when the report is not.

A check whose input is missing is not evaluated: it has no finding, and
``Evaluation.not_evaluated`` names it with the reason, so that nobody reads its
silence as clean (a report without the root row, one in the pre-2015 format
without key use dates, roles or account facts that were not fetched).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from functools import partial
from itertools import compress, repeat
from operator import attrgetter, not_
from types import MappingProxyType
from typing import Any, NamedTuple

from exporter.core.checks import CHECKS, Hit, Thresholds
from exporter.core.exemptions import Exemption, ExemptionSet
from exporter.core.findings import ROLE_FACT, Finding
from exporter.core.policy import Policy
from exporter.core.records import (
    ROOT_USER,
    AccountFacts,
    CredentialRecord,
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

# Why a check was not evaluated (the values of Evaluation.not_evaluated).
NO_ROOT_ROW = f"the report has no {ROOT_USER} row"
NO_KEY_USE = "the report has no access_key_N_last_used_* columns (the pre-2015 format)"
NO_ROLES = "the account's roles are not known (not fetched, or a report file)"
NO_ACCOUNT_FACTS = "the account's facts are not known (not fetched, or a report file)"

NOTHING_SKIPPED: Mapping[str, str] = MappingProxyType({})


class Evaluation(NamedTuple):
    findings: tuple[Finding, ...]
    # Findings an exemption matched: kept and counted, not dropped.
    exempted: tuple[Finding, ...]
    # Exemptions past their ``expires`` date: they no longer apply.
    expired_exemptions: tuple[Exemption, ...]
    problems: tuple[ParseProblem, ...]
    # Enabled checks that could not be evaluated -> why (NO_ROOT_ROW...), in the
    # policy's order. They have no finding, and their absence of findings means nothing.
    not_evaluated: Mapping[str, str] = NOTHING_SKIPPED


def evaluate(report: CredentialReport, policy: Policy, now: datetime) -> Evaluation:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    with gc_paused():  # one finding or more per user: see gc_paused
        return _evaluate(report, policy, now.astimezone(timezone.utc))


def _evaluate(report: CredentialReport, policy: Policy, now: datetime) -> Evaluation:
    account = report.account_id or ""
    complete = any(r.user == ROOT_USER for r in report.records)
    skipped = _not_evaluated(policy, complete, report.missing_columns)
    # Per check, its findings in row order: the batches are joined back into the order
    # of a single pass (policy order, then rows), which serve's output follows.
    by_check: dict[str, list[Finding]] = {cid: [] for cid in policy.checks}
    for subjects in report_batches(report.records, complete):
        for cid, severity, hits in _run(policy, subjects, now, skipped):
            # Column-wise and in C (zip, map): findings can outnumber users.
            recs, keys, messages, facts = zip(*hits, strict=True)
            by_check[cid].extend(map(_finding, zip(
                repeat(account), map(_user, recs), map(_arn, recs), repeat(cid),
                repeat(severity), keys, messages, facts, strict=False,
            )))  # fmt: skip
    raw = [f for found in by_check.values() for f in found]
    return apply_exemptions(raw, policy.exemptions, now, report.problems, skipped)


# Report rows per batch: each check runs over one batch while its records are still in
# the CPU caches, instead of each of the 13 checks walking every record of a 100k-user
# report in turn (that took twice as long per user as over 1000 users).
BATCH_ROWS = 1000


def report_batches(
    records: Sequence[CredentialRecord], complete: bool
) -> Iterator[dict[str, Sequence[CredentialRecord]]]:
    """The report checks' subjects (``root``, ``user``, ``any``), a batch of rows at a
    time. ``complete``: the report has a root row (else every row is a user's)."""
    for start in range(0, len(records), BATCH_ROWS):
        rows = records[start : start + BATCH_ROWS]
        roots = [r for r in rows if r.user == ROOT_USER] if complete else []
        users = [r for r in rows if r.user != ROOT_USER] if roots else rows
        yield {"root": roots, "user": users, "any": rows}


def _not_evaluated(policy: Policy, complete: bool, missing: frozenset[str]) -> Mapping[str, str]:
    """The enabled report checks whose input the report lacks. A check of scope "any"
    is evaluated on the rows there are, root or not."""
    if complete and not missing:
        return NOTHING_SKIPPED
    skipped: dict[str, str] = {}
    for cid, cfg in policy.checks.items():
        spec = CHECKS[cid]
        if not cfg.enabled:
            continue
        if spec.scope == "root" and not complete:
            skipped[cid] = NO_ROOT_ROW
        elif spec.needs & missing:
            skipped[cid] = NO_KEY_USE
    return MappingProxyType(skipped)


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
    skipped = {
        cid: why
        for cid in policy.enabled_checks
        for scope, known, why in (("role", roles, NO_ROLES), ("account", facts, NO_ACCOUNT_FACTS))
        if known is None and CHECKS[cid].scope == scope
    }
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
    return apply_exemptions(
        raw, policy.exemptions, now, not_evaluated=MappingProxyType(skipped) if skipped else None
    )


def _run(
    policy: Policy,
    subjects: Mapping[str, Sequence[Any]],
    now: datetime,
    skipped: Mapping[str, str] = NOTHING_SKIPPED,
) -> Iterator[tuple[str, str, list[Hit[Any]]]]:
    """(id, severity, hits) of each enabled check whose scope is in ``subjects``
    with at least one subject, in the policy's order, when it found something;
    the checks in ``skipped`` are not run."""
    for cid, cfg in policy.checks.items():
        spec = CHECKS[cid]
        if not cfg.enabled or cid in skipped:
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
    not_evaluated: Mapping[str, str] | None = None,
) -> Evaluation:
    """Split findings into reported and exempted; list the exemptions that expired.

    An exemption applies up to and including its ``expires`` day (in ``now``'s
    time zone, UTC for the command line and the daemon)."""
    skipped = not_evaluated or NOTHING_SKIPPED
    today = now.date()
    exemptions = tuple(exemptions)
    live = [e for e in exemptions if not e.expired(today)]
    expired = tuple(e for e in exemptions if e.expired(today))
    if not live:
        return Evaluation(tuple(raw), (), expired, problems, skipped)
    raw = tuple(raw)
    hits = ExemptionSet(live).flags(raw)
    findings = tuple(compress(raw, map(not_, hits)))
    exempted = tuple(compress(raw, hits))
    return Evaluation(findings, exempted, expired, problems, skipped)


def merge(*evaluations: Evaluation) -> Evaluation:
    """Several evaluations as one (accounts, or an account's report and its details).
    ``not_evaluated`` is the union: a check not evaluated for one of them is not
    evaluated for the whole (when merging accounts, keep each account's own)."""
    expired = dict.fromkeys(e for ev in evaluations for e in ev.expired_exemptions)
    skipped = {cid: why for ev in evaluations for cid, why in ev.not_evaluated.items()}
    return Evaluation(
        findings=tuple(f for ev in evaluations for f in ev.findings),
        exempted=tuple(f for ev in evaluations for f in ev.exempted),
        expired_exemptions=tuple(expired),
        problems=tuple(p for ev in evaluations for p in ev.problems),
        not_evaluated=MappingProxyType(skipped) if skipped else NOTHING_SKIPPED,
    )

"""Records + config + an explicit ``now`` become findings. Pure: no clock, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from exporter.checks import CHECKS, CheckFn
from exporter.config import CheckConfig, Config
from exporter.exemptions import Exemption
from exporter.findings import Finding
from exporter.records import CredentialReport, ParseProblem


class Evaluation(NamedTuple):
    findings: tuple[Finding, ...]
    exempted: tuple[Finding, ...]
    expired_exemptions: tuple[Exemption, ...]
    problems: tuple[ParseProblem, ...]


_Plan = list[tuple[str, CheckFn, CheckConfig]]


def evaluate(report: CredentialReport, config: Config, now: datetime) -> Evaluation:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    account = report.account_id or ""
    root_plan, user_plan = _plans(config)
    raw: list[Finding] = []
    for rec in report.records:
        for cid, fn, cfg in root_plan if rec.is_root else user_plan:
            for key, message, facts in fn(rec, cfg.thresholds(rec.is_human), now):
                raw.append(
                    Finding(account, rec.user, rec.arn, cid, cfg.severity, key, message, facts)
                )
    return apply_exemptions(raw, config.exemptions, now, report.problems)


def apply_exemptions(
    raw: Iterable[Finding],
    exemptions: Iterable[Exemption],
    now: datetime,
    problems: tuple[ParseProblem, ...] = (),
) -> Evaluation:
    today = now.date()
    live = [e for e in exemptions if not e.expired(today)]
    expired = tuple(e for e in exemptions if e.expired(today))
    findings: list[Finding] = []
    exempted: list[Finding] = []
    for f in raw:
        (exempted if live and any(e.matches(f) for e in live) else findings).append(f)
    return Evaluation(tuple(findings), tuple(exempted), expired, problems)


def _plans(config: Config) -> tuple[_Plan, _Plan]:
    root: _Plan = []
    user: _Plan = []
    for cid, cfg in config.checks.items():
        spec = CHECKS[cid]
        if not cfg.enabled or spec.fn is None:
            continue
        if spec.scope in ("root", "any"):
            root.append((cid, spec.fn, cfg))
        if spec.scope in ("user", "any"):
            user.append((cid, spec.fn, cfg))
    return root, user

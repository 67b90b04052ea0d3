"""Checks evaluated from IAM roles and account facts instead of the credential report.

Pure: role records + account facts + config + an explicit ``now`` become findings.
Their ids, severities and thresholds are declared in ``exporter.core.checks.CATALOGUE``
(scope ``role`` and ``account``) and configured like every other check.

Role findings carry ``user=""`` and the role ARN; exemptions match them with an
``arn:`` pattern. The account finding is attributed to ``<root_account>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from exporter.core.checks import Hit, days_since
from exporter.core.evaluate import Evaluation, apply_exemptions
from exporter.core.findings import Finding
from exporter.core.policy import Policy, RoleAudit
from exporter.core.records import ROOT_USER, AccountFacts, RoleRecord

ROLE_CHECKS = ("role_unused",)
ACCOUNT_CHECKS = ("root_hardware_mfa_missing",)


def role_unused(role: RoleRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    limit = t["max_idle_days"]
    if role.last_used is not None:
        idle = days_since(now, role.last_used)
        if idle > limit:
            return [(None, f"Role {role.name} unused for {idle} days", {"days_idle": idle})]
        return []
    age = days_since(now, role.created)
    if age > limit:
        msg = f"Role {role.name} never used; created {age} days ago"
        return [(None, msg, {"role_age_days": age})]
    return []


def root_hardware_mfa_missing(
    facts: AccountFacts, t: Mapping[str, int], now: datetime
) -> list[Hit]:
    # No MFA at all is root_mfa_disabled's finding (critical); this one is about its kind.
    if facts.root_mfa_enabled and facts.root_virtual_mfa:
        return [(None, "Root MFA is a virtual device, not a hardware key", {"mfa": "virtual"})]
    return []


def audited_roles(roles: Sequence[RoleRecord], audit: RoleAudit) -> list[RoleRecord]:
    return [r for r in roles if not any(r.path.startswith(p) for p in audit.exclude_paths)]


def evaluate_account(
    account_id: str,
    roles: Sequence[RoleRecord] | None,
    facts: AccountFacts | None,
    policy: Policy,
    audit: RoleAudit,
    now: datetime,
) -> Evaluation:
    """Findings of the role and account checks; ``None`` inputs were not fetched."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    raw: list[Finding] = []
    cfg = policy.checks.get("role_unused")
    if roles is not None and cfg is not None and cfg.enabled:
        thresholds = cfg.thresholds(False)
        for role in audited_roles(roles, audit):
            for key, message, facts_ in role_unused(role, thresholds, now):
                raw.append(_finding(account_id, "", role.arn, "role_unused", cfg.severity,
                                    key, message, {"role": role.name, **facts_}))  # fmt: skip
    cfg = policy.checks.get("root_hardware_mfa_missing")
    if facts is not None and cfg is not None and cfg.enabled:
        root_arn = f"arn:{facts.partition}:iam::{account_id}:root"
        for key, message, facts_ in root_hardware_mfa_missing(facts, cfg.thresholds(True), now):
            raw.append(_finding(account_id, ROOT_USER, root_arn, "root_hardware_mfa_missing",
                                cfg.severity, key, message, facts_))  # fmt: skip
    return apply_exemptions(raw, policy.exemptions, now)


def role_name(finding: Finding) -> str:
    """The role a role finding is about (``""`` for other findings)."""
    name = finding.facts.get("role")
    return name if isinstance(name, str) else ""


def _finding(
    account: str, user: str, arn: str, check: str, severity: str, key: int | None,
    message: str, facts: dict[str, Any],
) -> Finding:  # fmt: skip
    return Finding(account, user, arn, check, severity, key, message, facts)

"""The credential checks: one function per check, and the catalogue that names them.

Each function takes one report row, its resolved thresholds and ``now``, and
returns hits: ``(key number or None, message, facts)``. Ages are whole days,
``(now - t).days``, as the seed script counts them, and every threshold is
exceeded only when the age is strictly greater, as in the seed's ``> 90``.
Fields that are unknown (``Special``) never produce a finding on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exporter.records import AccessKey, CredentialRecord, Special, Timestamp

Hit = tuple["int | None", str, dict[str, Any]]
CheckFn = Callable[[CredentialRecord, Mapping[str, int], datetime], list[Hit]]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    severity: str
    title: str
    cis: str
    rationale: str
    # "root": the <root_account> row; "user": IAM users; "any": both;
    # "account"/"role": evaluated from other APIs (see exporter.account_checks).
    scope: str
    thresholds: Mapping[str, int] = field(default_factory=dict)
    fn: CheckFn | None = None


def days_since(now: datetime, when: datetime) -> int:
    return (now - when).days


def _active_keys(rec: CredentialRecord) -> list[AccessKey]:
    return [k for k in rec.access_keys if k.active is True]


def root_mfa_disabled(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    if rec.mfa_active is False:
        return [(None, "Root account does not have MFA enabled", {})]
    return []


def root_access_key_active(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    return [
        (k.number, f"Root account has active access key {k.number}", _key_facts(k, now))
        for k in _active_keys(rec)
    ]


def console_without_mfa(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    if rec.password_enabled is True and rec.mfa_active is False:
        return [(None, "Console access enabled but MFA not configured", {})]
    return []


def password_unused(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    used = rec.password_last_used
    if rec.password_enabled is not True or not isinstance(used, datetime):
        return []
    idle = days_since(now, used)
    if idle > t["max_idle_days"]:
        return [(None, f"Console password unused for {idle} days", {"days_idle": idle})]
    return []


def access_key_not_rotated(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    hits: list[Hit] = []
    for k in _active_keys(rec):
        if isinstance(k.last_rotated, datetime):
            age = days_since(now, k.last_rotated)
            if age > t["max_age_days"]:
                msg = f"Access key {k.number} is {age} days old (not rotated)"
                hits.append((k.number, msg, {"age_days": age}))
    return hits


def access_key_never_used(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    hits: list[Hit] = []
    for k in _active_keys(rec):
        if k.last_used is not Special.NOT_APPLICABLE and k.last_used is not Special.NOT_SUPPORTED:
            continue
        age = _age(now, k.last_rotated)
        # An unknown age is flagged: the grace period cannot be shown to apply.
        if age is None or age >= t["grace_days"]:
            facts = {} if age is None else {"age_days": age}
            hits.append((k.number, f"Access key {k.number} has never been used", facts))
    return hits


def access_key_unused(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    hits: list[Hit] = []
    for k in _active_keys(rec):
        if isinstance(k.last_used, datetime):
            idle = days_since(now, k.last_used)
            if idle > t["max_idle_days"]:
                msg = f"Access key {k.number} unused for {idle} days"
                hits.append((k.number, msg, {"days_idle": idle}))
    return hits


def root_used_recently(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    window = t["window_days"]
    hits: list[Hit] = []
    used = _age(now, rec.password_last_used)
    if used is not None and used < window:
        hits.append((None, f"Root password used {used} days ago", {"days_since_use": used}))
    for k in rec.access_keys:
        used = _age(now, k.last_used)
        if used is not None and used < window:
            msg = f"Root access key {k.number} used {used} days ago"
            hits.append((k.number, msg, {"days_since_use": used}))
    return hits


def multiple_active_access_keys(
    rec: CredentialRecord, t: Mapping[str, int], now: datetime
) -> list[Hit]:
    if len(_active_keys(rec)) > 1:
        return [(None, "User has two active access keys", {"active_keys": 2})]
    return []


def password_never_used(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    if rec.password_enabled is not True or isinstance(rec.password_last_used, datetime):
        return []
    if rec.password_last_used is Special.INVALID:
        return []
    age = _age(now, rec.user_creation_time)
    if age is not None and age > t["min_user_age_days"]:
        msg = f"Console password never used; user created {age} days ago"
        return [(None, msg, {"user_age_days": age})]
    return []


def user_inactive(rec: CredentialRecord, t: Mapping[str, int], now: datetime) -> list[Hit]:
    uses = [rec.password_last_used, *(k.last_used for k in rec.access_keys)]
    if Special.INVALID in uses:
        return []
    last = max((u for u in uses if isinstance(u, datetime)), default=None)
    limit = t["max_idle_days"]
    if last is not None:
        idle = days_since(now, last)
        if idle > limit:
            return [(None, f"No credential used for {idle} days", {"days_idle": idle})]
        return []
    age = _age(now, rec.user_creation_time)
    if age is not None and age > limit:
        msg = f"No credential ever used; user created {age} days ago"
        return [(None, msg, {"user_age_days": age})]
    return []


def inactive_access_key_present(
    rec: CredentialRecord, t: Mapping[str, int], now: datetime
) -> list[Hit]:
    return [
        (k.number, f"Access key {k.number} is inactive but not deleted", _key_facts(k, now))
        for k in rec.access_keys
        if k.active is False and isinstance(k.last_rotated, datetime)
    ]


def signing_certificate_active(
    rec: CredentialRecord, t: Mapping[str, int], now: datetime
) -> list[Hit]:
    active = [c.number for c in rec.certificates if c.active is True]
    if active:
        msg = "Active X.509 signing certificate(s): " + ", ".join(map(str, active))
        return [(None, msg, {"certificates": active})]
    return []


def _age(now: datetime, when: Timestamp) -> int | None:
    return days_since(now, when) if isinstance(when, datetime) else None


def _key_facts(k: AccessKey, now: datetime) -> dict[str, Any]:
    age = _age(now, k.last_rotated)
    return {} if age is None else {"age_days": age}


CATALOGUE: tuple[CheckSpec, ...] = (
    CheckSpec(
        "root_mfa_disabled", "critical", "Root account has no MFA", "1.5",
        "Whoever holds the root password alone controls the whole account, billing and "
        "account closure included. MFA is the only second factor root can have.",
        "root", fn=root_mfa_disabled,
    ),
    CheckSpec(
        "root_access_key_active", "high", "Root account has an active access key", "1.4",
        "A root access key cannot be limited by any policy. Use IAM roles or users for "
        "programmatic access and delete root keys.",
        "root", fn=root_access_key_active,
    ),
    CheckSpec(
        "console_without_mfa", "high", "Console user without MFA", "1.10",
        "A console password alone can be phished or guessed; MFA stops most takeovers.",
        "user", fn=console_without_mfa,
    ),
    CheckSpec(
        "password_unused", "medium", "Console password unused", "1.12",
        "A password nobody uses is only attack surface. Disable it.",
        "user", {"max_idle_days": 90}, fn=password_unused,
    ),
    CheckSpec(
        "access_key_not_rotated", "high", "Access key not rotated", "1.14",
        "Long-lived keys leak through laptops, CI logs and repositories; rotation bounds "
        "how long a leaked key stays useful.",
        "user", {"max_age_days": 90}, fn=access_key_not_rotated,
    ),
    CheckSpec(
        "access_key_never_used", "medium", "Access key never used", "1.11",
        "A key that was created and never used was probably not needed. Keys should not "
        "be created during initial user setup.",
        "user", {"grace_days": 0}, fn=access_key_never_used,
    ),
    CheckSpec(
        "access_key_unused", "medium", "Access key unused", "1.12",
        "An active key nobody uses is only attack surface. Deactivate it.",
        "user", {"max_idle_days": 90}, fn=access_key_unused,
    ),
    CheckSpec(
        "root_used_recently", "high", "Root account used recently", "1.7",
        "Root should be kept for the few tasks only it can do. Recent use means someone "
        "is doing daily work as root, or the credentials are in the wrong hands.",
        "root", {"window_days": 7}, fn=root_used_recently,
    ),
    CheckSpec(
        "multiple_active_access_keys", "medium", "User has two active access keys", "1.13",
        "Two active keys are normal only during a rotation; left alone, the old key is "
        "forgotten and never deactivated.",
        "user", fn=multiple_active_access_keys,
    ),
    CheckSpec(
        "password_never_used", "low", "Console password never used", "1.12",
        "A password set at creation and never used was probably not needed, and its "
        "initial value may be known to others.",
        "user", {"min_user_age_days": 30}, fn=password_never_used,
    ),
    CheckSpec(
        "user_inactive", "low", "Inactive user", "1.12",
        "A user with no password or key use for a long time is a candidate for deletion.",
        "user", {"max_idle_days": 90}, fn=user_inactive,
    ),
    CheckSpec(
        "inactive_access_key_present", "low", "Inactive access key not deleted", "1.12",
        "A deactivated key can be re-activated by anyone with iam:UpdateAccessKey; "
        "delete keys that are no longer needed.",
        "user", fn=inactive_access_key_present,
    ),
    CheckSpec(
        "signing_certificate_active", "low", "Active X.509 signing certificate", "-",
        "Signing certificates serve legacy SOAP APIs. An active one is a long-lived "
        "credential that nobody rotates; delete it unless a legacy service needs it.",
        "any", fn=signing_certificate_active,
    ),
    # Evaluated from other IAM APIs, not from the report: see exporter.account_checks.
    CheckSpec(
        "root_hardware_mfa_missing", "medium", "Root MFA is not a hardware device", "1.6",
        "A virtual MFA lives on a phone that can be lost, backed up or cloned; root deserves "
        "a hardware key.",
        "account",
    ),
    CheckSpec(
        "role_unused", "medium", "IAM role unused", "-",
        "A role nobody assumes keeps its trust policy and permissions: attack surface "
        "with no benefit. Delete roles unused for a long time.",
        "role", {"max_idle_days": 90},
    ),
)  # fmt: skip

CHECKS: dict[str, CheckSpec] = {c.id: c for c in CATALOGUE}

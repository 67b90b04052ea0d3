"""The credential checks: one function per check, and the catalogue that names them.

A check function takes the report rows in its scope (the root row, the IAM
users, or both), the thresholds and ``now``, and returns hits (``RowHit``):
``(record, key number or None, message, facts)``. It loops over the rows itself
because one call per check per row was most of the evaluation time.

Ages are whole days, ``(now - t).days``, as the seed script counts them, and a
"more than N days" threshold is exceeded only when the age is strictly greater,
as in the seed's ``> 90``. Thresholds come as a pair: the values for human users
(with a console password) and for programmatic users (without). Fields that are
unknown (``Special``) never produce a finding on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from exporter.core.records import CredentialRecord, Special, Timestamp

# What a check finds: (key number or None, message, facts)...
Hit = tuple["int | None", str, dict[str, Any]]
# ...and, from the report checks, the row it was found in.
RowHit = tuple[CredentialRecord, "int | None", str, dict[str, Any]]


class Thresholds(NamedTuple):
    """One check's thresholds for human and for programmatic users."""

    human: Mapping[str, int]
    programmatic: Mapping[str, int]

    def pair(self, name: str) -> tuple[int, int]:
        return self.human[name], self.programmatic[name]


CheckFn = Callable[[Sequence[CredentialRecord], Thresholds, datetime], list[RowHit]]

# The seed script's messages, kept word for word (tests compare them).
ROOT_MFA_MESSAGE = "Root account does not have MFA enabled"
ROOT_KEY_MESSAGE = "Root account has active access keys"
CONSOLE_MFA_MESSAGE = "Console access enabled but MFA not configured"

_NEVER_USED = (Special.NOT_APPLICABLE, Special.NOT_SUPPORTED)


@dataclass(frozen=True)
class CheckSpec:
    id: str
    severity: str
    title: str
    cis: str
    rationale: str
    # "root": the <root_account> row; "user": IAM users; "any": both;
    # "account"/"role": evaluated from other APIs (see exporter.core.account_checks).
    scope: str
    thresholds: Mapping[str, int] = field(default_factory=dict)
    fn: CheckFn | None = None


def days_since(now: datetime, when: datetime) -> int:
    return (now - when).days


def cutoff(now: datetime, days: int) -> datetime:
    """The latest instant more than ``days`` whole days before ``now``:
    ``t <= cutoff(now, n)`` is exactly ``(now - t).days > n``, without building a
    timedelta per row (the checks compare first and compute ages for hits only)."""
    return now - timedelta(days=days + 1)


def _age(now: datetime, when: Timestamp) -> int | None:
    return (now - when).days if isinstance(when, datetime) else None


def root_mfa_disabled(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    return [(r, None, ROOT_MFA_MESSAGE, {}) for r in rows if r.mfa_active is False]


def root_access_key_active(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    # One finding per active key. The seed looked at key 1 only (see docs/checks.md).
    return [
        (r, k.number, ROOT_KEY_MESSAGE, _key_facts(k.last_rotated, now))
        for r in rows
        for k in r.access_keys
        if k.active is True
    ]


def console_without_mfa(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    return [
        (r, None, CONSOLE_MFA_MESSAGE, {})
        for r in rows
        if r.password_enabled is True and r.mfa_active is False
    ]


def password_unused(rows: Sequence[CredentialRecord], t: Thresholds, now: datetime) -> list[RowHit]:
    # A console password makes the user human: only the human threshold applies.
    cut = cutoff(now, t.human["max_idle_days"])
    hits: list[RowHit] = []
    for r in rows:
        used = r.password_last_used
        if r.password_enabled is True and isinstance(used, datetime) and used <= cut:
            idle = (now - used).days
            hits.append((r, None, f"Console password unused for {idle} days", {"days_idle": idle}))
    return hits


def access_key_not_rotated(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    human, machine = (cutoff(now, d) for d in t.pair("max_age_days"))
    hits: list[RowHit] = []
    for r in rows:
        for k in r.access_keys:
            rotated = k.last_rotated
            if (
                k.active is True
                and isinstance(rotated, datetime)
                and rotated <= (human if r.password_enabled is True else machine)
            ):
                age = (now - rotated).days
                msg = f"Access key {k.number} is {age} days old (not rotated)"
                hits.append((r, k.number, msg, {"age_days": age}))
    return hits


def access_key_never_used(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    """A grace period of N days spares keys younger than N whole days; 0 (the
    default, the seed's behaviour) flags every never-used key, whatever its age."""
    human, machine = t.pair("grace_days")
    hits: list[RowHit] = []
    for r in rows:
        for k in r.access_keys:
            if k.active is not True or k.last_used not in _NEVER_USED:
                continue
            age = _age(now, k.last_rotated)
            grace = human if r.password_enabled is True else machine
            # An unknown age is flagged: the grace period cannot be shown to apply.
            if grace == 0 or age is None or age >= grace:
                facts = {} if age is None else {"age_days": age}
                hits.append((r, k.number, f"Access key {k.number} has never been used", facts))
    return hits


def access_key_unused(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    human, machine = (cutoff(now, d) for d in t.pair("max_idle_days"))
    hits: list[RowHit] = []
    for r in rows:
        for k in r.access_keys:
            used = k.last_used
            if (
                k.active is True
                and isinstance(used, datetime)
                and used <= (human if r.password_enabled is True else machine)
            ):
                idle = (now - used).days
                msg = f"Access key {k.number} unused for {idle} days"
                hits.append((r, k.number, msg, {"days_idle": idle}))
    return hits


def root_used_recently(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    """Use fewer than ``window_days`` whole days ago, i.e. within the last
    window_days x 24 hours, of the root password or of either root key."""
    window = t.human["window_days"]
    hits: list[RowHit] = []
    for r in rows:
        used = _age(now, r.password_last_used)
        if used is not None and used < window:
            hits.append((r, None, f"Root password used {used} days ago", {"days_since_use": used}))
        for k in r.access_keys:
            used = _age(now, k.last_used)
            if used is not None and used < window:
                msg = f"Root access key {k.number} used {used} days ago"
                hits.append((r, k.number, msg, {"days_since_use": used}))
    return hits


def multiple_active_access_keys(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    return [
        (r, None, "User has two active access keys", {"active_keys": 2})
        for r in rows
        if r.access_keys[0].active is True and r.access_keys[1].active is True
    ]


def password_never_used(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    """Password enabled, last use N/A or no_information (never used, or not
    since AWS began tracking in 2014), user older than ``min_user_age_days``."""
    cut = cutoff(now, t.human["min_user_age_days"])
    hits: list[RowHit] = []
    for r in rows:
        if r.password_enabled is not True or r.password_last_used not in _NO_USE:
            continue
        created = r.user_creation_time
        if isinstance(created, datetime) and created <= cut:
            age = (now - created).days
            msg = f"Console password never used; user created {age} days ago"
            hits.append((r, None, msg, {"user_age_days": age}))
    return hits


_NO_USE = (Special.NOT_APPLICABLE, Special.NO_INFORMATION, Special.NOT_SUPPORTED)


def user_inactive(rows: Sequence[CredentialRecord], t: Thresholds, now: datetime) -> list[RowHit]:
    """No use of the password or of either key for more than ``max_idle_days``;
    a user with no recorded use counts from its creation. An unreadable use date
    makes the answer unknown: no finding."""
    human, machine = (cutoff(now, d) for d in t.pair("max_idle_days"))
    invalid = Special.INVALID
    hits: list[RowHit] = []
    for r in rows:
        k1, k2 = r.access_keys
        cut = human if r.password_enabled is True else machine
        last = None
        for used in (r.password_last_used, k1.last_used, k2.last_used):
            if isinstance(used, datetime):
                if used > cut:
                    break  # used recently: the common case, decided at once
                if last is None or used > last:
                    last = used
            elif used is invalid:
                break
        else:
            if last is not None:
                idle = (now - last).days
                hits.append((r, None, f"No credential used for {idle} days", {"days_idle": idle}))
                continue
            created = r.user_creation_time
            if isinstance(created, datetime) and created <= cut:
                age = (now - created).days
                msg = f"No credential ever used; user created {age} days ago"
                hits.append((r, None, msg, {"user_age_days": age}))
    return hits


def inactive_access_key_present(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    # A key exists when it has a creation (last_rotated) date; "N/A" means no key.
    return [
        (
            r,
            k.number,
            f"Access key {k.number} is inactive but not deleted",
            _key_facts(rotated, now),
        )
        for r in rows
        for k in r.access_keys
        if k.active is False and isinstance(rotated := k.last_rotated, datetime)
    ]


def signing_certificate_active(
    rows: Sequence[CredentialRecord], t: Thresholds, now: datetime
) -> list[RowHit]:
    hits: list[RowHit] = []
    for r in rows:
        c1, c2 = r.certificates
        if c1.active is True or c2.active is True:
            active = [c.number for c in r.certificates if c.active is True]
            msg = "Active X.509 signing certificate(s): " + ", ".join(map(str, active))
            hits.append((r, None, msg, {"certificates": active}))
    return hits


def _key_facts(rotated: Timestamp, now: datetime) -> dict[str, Any]:
    return {"age_days": (now - rotated).days} if isinstance(rotated, datetime) else {}


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
    # Evaluated from other IAM APIs, not from the report: see exporter.core.account_checks.
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

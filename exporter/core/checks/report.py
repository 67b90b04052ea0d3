"""The checks that read the credential report: scopes root, user and any.

Each takes the report rows of its scope (the root row, the IAM users, or both) and
loops over them itself. Thresholds come as a pair: the values for human users (with
a console password) and for programmatic users (without). Fields that are unknown
(``Special``) never produce a finding on their own. "More than N days" is strictly
more, as in the seed's ``> 90``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from exporter.core.checks.spec import Hit, Thresholds, cutoff
from exporter.core.records import CredentialRecord, Special, Timestamp

RowHit = Hit[CredentialRecord]

# The seed script's messages, kept word for word (tests compare them).
ROOT_MFA_MESSAGE = "Root account does not have MFA enabled"
ROOT_KEY_MESSAGE = "Root account has active access keys"
CONSOLE_MFA_MESSAGE = "Console access enabled but MFA not configured"

_NEVER_USED = (Special.NOT_APPLICABLE, Special.NOT_SUPPORTED)


def _age(now: datetime, when: Timestamp) -> int | None:
    # A date a little after now is kept (a report generated while the refresh waited,
    # clocks that drift: see CLOCK_LEEWAY); it is no negative age, it is today.
    return max(0, (now - when).days) if isinstance(when, datetime) else None


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
    age = _age(now, rotated)
    return {} if age is None else {"age_days": age}

"""What changed between two credential reports of the same account. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from exporter.core.records import AccessKey, CredentialRecord, CredentialReport

CHANGE_KINDS: tuple[str, ...] = (
    "user_created",
    "user_deleted",
    "mfa_enabled",
    "mfa_disabled",
    "password_enabled",
    "password_disabled",
    "access_key_created",
    "access_key_activated",
    "access_key_deactivated",
    "access_key_deleted",
)


class Change(NamedTuple):
    account_id: str
    user: str
    arn: str
    change: str
    key: int | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


def diff_reports(old: CredentialReport, new: CredentialReport) -> list[Change]:
    """The changes from ``old`` to ``new``, user by user in name order.

    Users are matched by name, as in the seed's script. A user deleted and
    created again under the same name (a different creation time) is reported
    as deleted and created, not as a change of credentials."""
    account = new.account_id or old.account_id or ""
    before = {r.user: r for r in old.records}
    after = {r.user: r for r in new.records}
    changes: list[Change] = []
    for user in sorted(before.keys() | after.keys()):
        o, n = before.get(user), after.get(user)
        if o is not None and (n is None or _recreated(o, n)):
            changes.append(Change(account, user, o.arn, "user_deleted", None, "user removed"))
        if n is not None and (o is None or _recreated(o, n)):
            changes.append(Change(account, user, n.arn, "user_created", None, "new user"))
        elif o is not None and n is not None:
            changes.extend(_user_changes(account, o, n))
    return changes


def _recreated(old: CredentialRecord, new: CredentialRecord) -> bool:
    return (
        isinstance(old.user_creation_time, datetime)
        and isinstance(new.user_creation_time, datetime)
        and old.user_creation_time != new.user_creation_time
    )


def _user_changes(account: str, old: CredentialRecord, new: CredentialRecord) -> list[Change]:
    out: list[Change] = []

    def add(kind: str, key: int | None, detail: str) -> None:
        out.append(Change(account, new.user, new.arn, kind, key, detail))

    if old.mfa_active is True and new.mfa_active is False:
        add("mfa_disabled", None, "MFA removed")
    elif old.mfa_active is False and new.mfa_active is True:
        add("mfa_enabled", None, "MFA enabled")
    if old.password_enabled is True and new.password_enabled is False:
        add("password_disabled", None, "console password removed")
    elif old.password_enabled is False and new.password_enabled is True:
        add("password_enabled", None, "console password set")
    for ok, nk in zip(old.access_keys, new.access_keys, strict=True):
        kind = _key_change(ok, nk)
        if kind:
            add(kind, nk.number, _KEY_DETAIL[kind].format(n=nk.number))
    return out


_KEY_DETAIL = {
    "access_key_created": "access key {n} created or rotated",
    "access_key_activated": "access key {n} activated again",
    "access_key_deactivated": "access key {n} deactivated",
    "access_key_deleted": "access key {n} deleted",
}


def _key_change(old: AccessKey, new: AccessKey) -> str | None:
    """A key is identified by its creation time (``last_rotated``): a new time
    in the same slot is a new key, i.e. a rotation."""
    if new.active is True:
        if old.active is True and (old.last_rotated == new.last_rotated or not _exists(new)):
            return None  # the same key (or its creation date is unreadable)
        if old.active is False and _exists(old) and old.last_rotated == new.last_rotated:
            return "access_key_activated"
        return "access_key_created"
    if old.active is True and new.active is False:
        return "access_key_deactivated" if _exists(new) else "access_key_deleted"
    if old.active is False and _exists(old) and not _exists(new):
        return "access_key_deleted"
    return None


def _exists(key: AccessKey) -> bool:
    return isinstance(key.last_rotated, datetime)

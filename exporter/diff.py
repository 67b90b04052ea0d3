"""What changed between two credential reports of the same account. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from exporter.records import AccessKey, CredentialRecord, CredentialReport

CHANGE_KINDS: tuple[str, ...] = (
    "user_created",
    "user_deleted",
    "mfa_enabled",
    "mfa_disabled",
    "password_enabled",
    "password_disabled",
    "access_key_created",
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
    account = new.account_id or old.account_id or ""
    before = {r.user: r for r in old.records}
    after = {r.user: r for r in new.records}
    changes: list[Change] = []
    for user in sorted(after.keys() - before.keys()):
        changes.append(Change(account, user, after[user].arn, "user_created", None, "new user"))
    for user in sorted(before.keys() - after.keys()):
        changes.append(
            Change(account, user, before[user].arn, "user_deleted", None, "user removed")
        )
    for user in sorted(before.keys() & after.keys()):
        changes.extend(_user_changes(account, before[user], after[user]))
    return changes


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
    "access_key_deactivated": "access key {n} deactivated",
    "access_key_deleted": "access key {n} deleted",
}


def _key_change(old: AccessKey, new: AccessKey) -> str | None:
    if new.active is True and (old.active is not True or old.last_rotated != new.last_rotated):
        return "access_key_created"
    if old.active is True and new.active is False:
        return "access_key_deactivated" if _exists(new) else "access_key_deleted"
    if old.active is False and _exists(old) and not _exists(new):
        return "access_key_deleted"
    return None


def _exists(key: AccessKey) -> bool:
    return isinstance(key.last_rotated, datetime)

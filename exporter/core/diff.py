"""What changed between two credential reports of the same account. Pure."""

from __future__ import annotations

import hashlib
import pickle
from datetime import datetime
from typing import Any, NamedTuple

from exporter.core.records import ROOT_USER, AccessKey, CredentialRecord, CredentialReport, Special

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

    Users are matched by name, as in the seed's script (a report lists each once:
    the parser keeps a repeated user's first row). A user deleted and created again
    under the same name (a different creation time) is reported as deleted and
    created, not as a change of credentials. The root user is never created nor
    deleted: when a report lacks its row, the report is incomplete, and nothing
    is said about root."""
    account = new.account_id or old.account_id or ""
    before = {r.user: r for r in old.records}
    after = {r.user: r for r in new.records}
    changes: list[Change] = []
    for user in sorted(before.keys() | after.keys()):
        o, n = before.get(user), after.get(user)
        if user == ROOT_USER and (o is None or n is None):
            continue
        if o is not None and (n is None or _recreated(o, n)):
            changes.append(Change(account, user, o.arn, "user_deleted", None, "user removed"))
        if n is not None and (o is None or _recreated(o, n)):
            changes.append(Change(account, user, n.arn, "user_created", None, "new user"))
        elif o is not None and n is not None:
            changes.extend(_user_changes(account, o, n))
    return changes


def fingerprint(report: CredentialReport) -> bytes:
    """A digest of every field ``diff_reports`` reads to find a change, user by user.

    Two reports with the same fingerprint have no change between them (a user's fields
    all equal), so the daemon keeps this instead of parsing its previous report again.
    A different fingerprint says nothing more: the reports are then diffed in full.
    Fields diff_reports only copies into a change (ARN, account) are left out: they
    cannot make one. The digest is stable across processes (pickle of plain values,
    not ``hash()``, which is salted per process)."""
    rows = [
        (r.user, r.user_creation_time, r.mfa_active, r.password_enabled,
         k1.active, k1.last_rotated, k2.active, k2.last_rotated)
        for r in report.records
        for k1, k2 in (r.access_keys,)
    ]  # fmt: skip
    return hashlib.blake2b(pickle.dumps(rows, protocol=5), digest_size=16).digest()


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
    for kind, number in _key_changes(old, new):
        add(kind, number, _KEY_DETAIL[kind].format(n=number))
    return out


_KEY_DETAIL = {
    "access_key_created": "access key {n} created or rotated",
    "access_key_activated": "access key {n} activated again",
    "access_key_deactivated": "access key {n} deactivated",
    "access_key_deleted": "access key {n} deleted",
}


def _key_changes(old: CredentialRecord, new: CredentialRecord) -> list[tuple[str, int]]:
    """(kind, key number) of each change of the user's access keys, in key order.

    A key is identified by its creation time (``last_rotated``), not by its slot:
    when key 1 goes, AWS may move key 2 into slot 1, and a key created next takes
    the free slot. So a key is created when its creation time is new, and deleted
    when its creation time is gone, except that a key gone from the slot a new key
    took is a rotation: one ``access_key_created``. Where the times cannot tell keys
    apart (unreadable, an active key without one, both keys created in the same
    second), keys are matched slot by slot."""
    if not (_identified(old) and _identified(new)):
        pairs = zip(old.access_keys, new.access_keys, strict=True)
        return [(kind, nk.number) for ok, nk in pairs if (kind := _key_change(ok, nk))]
    before = {k.last_rotated: k for k in old.access_keys if _exists(k)}
    after = {k.last_rotated for k in new.access_keys if _exists(k)}
    changes: list[tuple[str, int]] = []
    for key in new.access_keys:
        if not _exists(key):
            continue
        was = before.get(key.last_rotated)
        if was is None:
            if key.active is True:
                changes.append(("access_key_created", key.number))
        elif was.active is False and key.active is True:
            changes.append(("access_key_activated", key.number))
        elif was.active is True and key.active is False:
            changes.append(("access_key_deactivated", key.number))
    created = {n for kind, n in changes if kind == "access_key_created"}
    changes += [
        ("access_key_deleted", key.number)
        for key in old.access_keys
        if _exists(key) and key.last_rotated not in after and key.number not in created
    ]
    return sorted(changes, key=lambda change: change[1])


def _identified(record: CredentialRecord) -> bool:
    """Whether the creation times tell the user's keys apart: each key has one, or is
    no key at all (inactive, N/A), and no two keys share one."""
    k1, k2 = record.access_keys
    no_key = (False, Special.NOT_APPLICABLE)
    if any(not _exists(k) and (k.active, k.last_rotated) != no_key for k in (k1, k2)):
        return False
    return not (_exists(k1) and k1.last_rotated == k2.last_rotated)


def _key_change(old: AccessKey, new: AccessKey) -> str | None:
    """Slot by slot: a new creation time in the same slot is a new key, i.e. a rotation."""
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

"""What a state file keeps beside the report: the account facts and the users' owners.

A restart shows, before its first refresh ends, what the last refresh showed: the
facts (``GetAccountSummary``, root's MFA kind, whether the organisation manages root)
decide whether root is centrally managed (core.central_root), and the owners label
the series (``--labels.owner-tag``). The owners are saved with the tags they were read
with: under other tags they would be wrong, and are not restored.

Both are checked field by field when read: a malformed section raises
``SectionError``, and the file is ignored whole, like one whose report is corrupt.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from exporter.core.records import AccountFacts


class SectionError(ValueError):
    """A section of a state file is malformed; the message names the field."""


class SavedOwners(NamedTuple):
    # The --labels.owner-tag keys the owners were read with, in their order (the first
    # a user carries wins, so the order matters as much as the keys).
    tags: tuple[str, ...]
    users: Mapping[str, str]  # user name -> owner, the users with an owner only


def encode_facts(facts: AccountFacts) -> dict[str, Any]:
    return {
        "account_id": facts.account_id,
        "root_mfa_enabled": facts.root_mfa_enabled,
        "root_virtual_mfa": facts.root_virtual_mfa,
        "summary": dict(facts.summary),
        "partition": facts.partition,
        "org_root_management": facts.org_root_management,
    }


def decode_facts(value: Any, account_id: str) -> AccountFacts:
    if not isinstance(value, dict):
        raise SectionError("facts: not an object")
    summary = value.get("summary")
    if not isinstance(summary, dict) or not all(_is_int(v) for v in summary.values()):
        raise SectionError("facts.summary: not an object of integers")
    org = value.get("org_root_management")
    if org is not None and not isinstance(org, bool):
        raise SectionError("facts.org_root_management: not true, false or null")
    facts = AccountFacts(
        _field(value, "account_id", str),
        _field(value, "root_mfa_enabled", bool),
        _field(value, "root_virtual_mfa", bool),
        MappingProxyType(dict(summary)),
        _field(value, "partition", str),
        org,
    )
    if account_id and facts.account_id != account_id:
        raise SectionError(f"facts: of account {facts.account_id!r}, not {account_id!r}")
    return facts


def encode_owners(owners: SavedOwners) -> dict[str, Any]:
    # Grouped by owner: owners name teams, so each is written once, and the section
    # stays smaller than the report (every user name is in a report row twice).
    by_owner: dict[str, list[str]] = {}
    for user, owner in sorted(owners.users.items()):
        by_owner.setdefault(owner, []).append(user)
    return {"tags": list(owners.tags), "users_by_owner": by_owner}


def decode_owners(value: Any) -> SavedOwners:
    if not isinstance(value, dict):
        raise SectionError("owners: not an object")
    tags = value.get("tags")
    if not isinstance(tags, list) or not tags or not all(_is_text(t) for t in tags):
        raise SectionError("owners.tags: not a list of tag keys")
    grouped = value.get("users_by_owner")
    if not isinstance(grouped, dict):
        raise SectionError("owners.users_by_owner: not an object")
    users: dict[str, str] = {}
    for owner, names in grouped.items():
        if not owner or not isinstance(names, list) or not all(_is_text(n) for n in names):
            raise SectionError("owners.users_by_owner: not an object of lists of user names")
        for name in names:
            if users.setdefault(name, owner) != owner:
                raise SectionError(f"owners.users_by_owner: user {name!r} has two owners")
    return SavedOwners(tuple(tags), MappingProxyType(users))


def _field(value: dict[str, Any], name: str, kind: type) -> Any:
    found = value.get(name)
    if not isinstance(found, kind) or (kind is str and not found):
        raise SectionError(f"facts.{name}: missing or not a {kind.__name__}")
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)

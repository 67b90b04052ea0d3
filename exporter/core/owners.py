"""Owners from IAM tags: the value of the first configured tag a principal carries.

``--labels.owner-tag`` may be given more than once (e.g. ``team`` then ``owner``):
the first key, in the configured order, that the principal has a tag for wins,
whatever order AWS lists the tags in. A principal with none of them has the owner
``""``, so a route on ``owner=""`` catches what nobody claimed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from exporter.core.findings import Finding, role_name
from exporter.core.records import RoleRecord, UserTags

NO_OWNER = ""


def owner_of(tags: Iterable[tuple[str, str]], keys: Sequence[str]) -> str:
    """The value of the first of ``keys`` found in ``tags``; ``""`` when none is."""
    values = dict(tags)  # IAM keys are unique per principal
    for key in keys:
        if key in values:
            return values[key]
    return NO_OWNER


def owners_of_users(users: Iterable[UserTags], keys: Sequence[str]) -> Mapping[str, str]:
    """User name -> owner, only for the users that have one (the rest are ``""``)."""
    found = {u.user: owner_of(u.tags, keys) for u in users}
    return {user: owner for user, owner in found.items() if owner != NO_OWNER}


class Owners(NamedTuple):
    """One account's owners: of its users and of its roles (names may coincide)."""

    users: Mapping[str, str] = {}
    roles: Mapping[str, str] = {}

    def of(self, finding: Finding) -> str:
        """The owner of the user or role ``finding`` is about; ``""`` when none."""
        role = role_name(finding)
        if role:
            return self.roles.get(role, NO_OWNER)
        return self.users.get(finding.user, NO_OWNER)


def account_owners(
    users: Iterable[UserTags] | None, roles: Iterable[RoleRecord] | None, keys: Sequence[str]
) -> Owners:
    """``Owners`` from what was read; a part not read gives every principal ``""``."""
    return Owners(
        owners_of_users(users or (), keys),
        {r.name: owner for r in roles or () if (owner := owner_of(r.tags, keys))},
    )

"""Owners from IAM tags: the value of the first configured tag a principal carries.

``--labels.owner-tag`` may be given more than once (e.g. ``team`` then ``owner``):
the first key, in the configured order, that the principal has a tag for wins,
whatever order AWS lists the tags in. A principal with none of them has the owner
``""``, so a route on ``owner=""`` catches what nobody claimed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from exporter.core.records import UserTags

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

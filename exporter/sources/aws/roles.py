"""IAM roles with their last use, and users' tags, one ``GetAccountAuthorizationDetails``
page at a time.

``RoleDetailList`` carries ``RoleLastUsed`` and ``Tags``, so an account costs one call
per page (up to 1000 roles) instead of one ``GetRole`` per role. ``UserDetailList``
carries each user's tags: asked for (``Filter`` ``User``) only when an owner tag is
configured, so nothing more is read otherwise.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple

from exporter.core.records import RoleRecord, UserTags

PAGE_SIZE = 1000


class Authorization(NamedTuple):
    """What was asked of ``GetAccountAuthorizationDetails``; None: not asked for."""

    roles: tuple[RoleRecord, ...] | None
    users: tuple[UserTags, ...] | None


def fetch_roles(iam: Any) -> tuple[RoleRecord, ...]:
    roles = fetch_authorization(iam, roles=True, users=False).roles
    assert roles is not None
    return roles


def fetch_authorization(iam: Any, roles: bool, users: bool) -> Authorization:
    """Roles and/or users' tags in one paginated call (both filters in one request)."""
    wanted = [name for name, on in (("Role", roles), ("User", users)) if on]
    found_roles: list[RoleRecord] = []
    found_users: list[UserTags] = []
    if wanted:
        pages = iam.get_paginator("get_account_authorization_details").paginate(
            Filter=wanted, PaginationConfig={"PageSize": PAGE_SIZE}
        )
        for page in pages:
            found_roles.extend(role_record(d) for d in page.get("RoleDetailList", []) if roles)
            found_users.extend(user_tags(d) for d in page.get("UserDetailList", []) if users)
    return Authorization(
        tuple(found_roles) if roles else None, tuple(found_users) if users else None
    )


def role_record(detail: dict[str, Any]) -> RoleRecord:
    used = detail.get("RoleLastUsed") or {}
    return RoleRecord(
        name=str(detail["RoleName"]),
        arn=str(detail["Arn"]),
        path=str(detail.get("Path", "/")),
        created=_utc(detail["CreateDate"]),
        last_used=_utc(used["LastUsedDate"]) if used.get("LastUsedDate") else None,
        last_used_region=used.get("Region"),
        tags=_tags(detail),
    )


def user_tags(detail: dict[str, Any]) -> UserTags:
    return UserTags(str(detail["UserName"]), _tags(detail))


def _tags(detail: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(t["Key"]), str(t.get("Value", ""))) for t in detail.get("Tags") or ())


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when

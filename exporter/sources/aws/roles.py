"""IAM roles with their last use, one ``GetAccountAuthorizationDetails`` page at a time.

``RoleDetailList`` carries ``RoleLastUsed``, so an account costs one call per page
(up to 1000 roles) instead of one ``GetRole`` per role.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from exporter.core.records import RoleRecord

PAGE_SIZE = 1000


def fetch_roles(iam: Any) -> tuple[RoleRecord, ...]:
    pages = iam.get_paginator("get_account_authorization_details").paginate(
        Filter=["Role"], PaginationConfig={"PageSize": PAGE_SIZE}
    )
    return tuple(role_record(d) for page in pages for d in page.get("RoleDetailList", []))


def role_record(detail: dict[str, Any]) -> RoleRecord:
    used = detail.get("RoleLastUsed") or {}
    return RoleRecord(
        name=str(detail["RoleName"]),
        arn=str(detail["Arn"]),
        path=str(detail.get("Path", "/")),
        created=_utc(detail["CreateDate"]),
        last_used=_utc(used["LastUsedDate"]) if used.get("LastUsedDate") else None,
        last_used_region=used.get("Region"),
    )


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when

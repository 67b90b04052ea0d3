"""Discover member accounts with AWS Organizations.

``ListAccounts`` (paginated) from the management or a delegated-admin account;
accounts that are not ACTIVE (SUSPENDED, PENDING_CLOSURE) are skipped. OU filters
walk the OU tree with ``ListAccountsForParent`` and
``ListOrganizationalUnitsForParent``: one call per OU, not one ``ListParents``
per account.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exporter.config.accounts import AccountSpec, OrganizationsSpec


def discover_accounts(
    org: Any, spec: OrganizationsSpec, listed: list[dict[str, Any]] | None = None
) -> list[AccountSpec]:
    """``listed``: the result of ``active_accounts`` when the caller has it already."""
    listed = active_accounts(org) if listed is None else listed
    accounts = {a["Id"]: str(a.get("Name") or a["Id"]) for a in listed}
    ids = set(accounts)
    if spec.include_accounts or spec.include_ous:
        ids &= set(spec.include_accounts) | accounts_under(org, spec.include_ous)
    ids -= set(spec.exclude_accounts) | accounts_under(org, spec.exclude_ous)
    return [spec.target(i, accounts[i]) for i in sorted(ids)]


def active_accounts(org: Any) -> list[dict[str, Any]]:
    pages = org.get_paginator("list_accounts").paginate()
    return [a for page in pages for a in page.get("Accounts", []) if _active(a)]


def accounts_under(org: Any, parents: Iterable[str]) -> set[str]:
    """Account ids in the given OUs or roots, nested OUs included."""
    found: set[str] = set()
    todo = list(parents)
    seen: set[str] = set()
    while todo:
        parent = todo.pop()
        if parent in seen:
            continue
        seen.add(parent)
        for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
            found.update(a["Id"] for a in page.get("Accounts", []) if _active(a))
        ous = org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent)
        for page in ous:
            todo.extend(ou["Id"] for ou in page.get("OrganizationalUnits", []))
    return found


def _active(account: dict[str, Any]) -> bool:
    # "State" supersedes "Status" in newer API versions; accept either.
    state = account.get("State") or account.get("Status")
    return state == "ACTIVE"

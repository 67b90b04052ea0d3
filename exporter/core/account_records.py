"""Typed records of what IAM says about an account beyond the credential report:
its roles (``GetAccountAuthorizationDetails``) and account-level facts
(``GetAccountSummary`` and ``ListVirtualMFADevices``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable


class RoleRecord(NamedTuple):
    name: str
    arn: str
    path: str
    created: datetime
    # None: AWS has no record of use (never used, or not within its tracking window).
    last_used: datetime | None = None
    last_used_region: str | None = None


class AccountFacts(NamedTuple):
    account_id: str
    root_mfa_enabled: bool
    # True when root's MFA is a virtual device (an app), not a hardware key.
    root_virtual_mfa: bool
    summary: Mapping[str, int] = {}
    partition: str = "aws"


class AccountDetails(NamedTuple):
    """What one refresh learnt about an account besides its credential report.
    ``None`` means "not fetched" (disabled, or the call failed: see ``errors``)."""

    account_id: str | None = None
    roles: tuple[RoleRecord, ...] | None = None
    facts: AccountFacts | None = None
    # (part, reason, message) of the calls that failed; the report itself may still be fine.
    errors: tuple[tuple[str, str, str], ...] = ()


@runtime_checkable
class AccountDetailsSource(Protocol):
    """A report source that can also fetch roles and account facts (AWS sources do)."""

    def fetch_details(self) -> AccountDetails: ...

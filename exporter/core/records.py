"""Typed records of the IAM credential report.

The report's special values (``N/A``, ``no_information``, ``not_supported``)
mean different things, so each keeps its own state instead of becoming None.
A value that is not known is ``Special.INVALID``: one that could not be read,
a date later than the report itself (see ``parse_report``), or a column that
the report's format does not have. The checks that need it stay silent.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

ROOT_USER = "<root_account>"


class Special(enum.Enum):
    NOT_APPLICABLE = "N/A"
    NO_INFORMATION = "no_information"
    NOT_SUPPORTED = "not_supported"
    INVALID = "invalid"

    def __repr__(self) -> str:
        return f"Special.{self.name}"


# A column that holds a date, or one of the special states.
Timestamp = datetime | Special
# A column that holds true/false, or one of the special states.
Flag = bool | Special


class AccessKey(NamedTuple):
    number: int
    active: Flag
    last_rotated: Timestamp
    last_used: Timestamp
    last_used_region: str
    last_used_service: str


class Certificate(NamedTuple):
    number: int
    active: Flag
    last_rotated: Timestamp


class CredentialRecord(NamedTuple):
    user: str
    arn: str
    user_creation_time: Timestamp
    password_enabled: Flag
    password_last_used: Timestamp
    password_last_changed: Timestamp
    password_next_rotation: Timestamp
    mfa_active: Flag
    access_keys: tuple[AccessKey, AccessKey]
    certificates: tuple[Certificate, Certificate]

    @property
    def is_root(self) -> bool:
        return self.user == ROOT_USER

    @property
    def is_human(self) -> bool:
        """A user with a console password; the others are programmatic."""
        return self.password_enabled is True


# ParseProblem.reason: why a value is a problem.
UNREADABLE = "unreadable"  # not a value of its column; the field is unknown
# A date later than the report's generation time (or than ``now``): no report can hold
# one, so the field is unknown. Also the report's own generation time when later than now.
FUTURE = "future"
# The user is in the report already: its first row is audited, this one is left out.
DUPLICATE_USER = "duplicate_user"


class ParseProblem(NamedTuple):
    """A value of the report that is not believed. ``line`` is the record number
    (the header is 1); 0 is the report as a whole (its generation time)."""

    line: int
    user: str
    column: str
    value: str
    reason: str = UNREADABLE


class CredentialReport(NamedTuple):
    records: tuple[CredentialRecord, ...]
    account_id: str | None
    problems: tuple[ParseProblem, ...] = ()
    generated_time: datetime | None = None
    # Columns of the format that the report lacks: the pre-2015 16-column format has no
    # access_key_N_last_used_* columns, whose fields are then unknown for every user.
    missing_columns: frozenset[str] = frozenset()

    @property
    def users(self) -> tuple[CredentialRecord, ...]:
        """IAM users, the root row excluded."""
        return tuple(r for r in self.records if not r.is_root)

    @property
    def complete(self) -> bool:
        """AWS always writes the ``<root_account>`` row: a report without it is
        truncated, hand-made or from a fake, and the root checks cannot be evaluated."""
        return any(r.user == ROOT_USER for r in self.records)

    def with_generated_time(self, when: datetime | None) -> CredentialReport:
        return self._replace(generated_time=when)


class FetchedReport(NamedTuple):
    """A report's raw bytes as a source returned them, and when AWS generated it."""

    content: bytes
    generated_time: datetime | None


class ServiceUse(NamedTuple):
    """One service a principal's policies grant, from IAM Access Advisor."""

    namespace: str  # e.g. "s3"
    name: str  # e.g. "Amazon S3"
    # None: not accessed within Access Advisor's tracking period.
    last_authenticated: datetime | None = None


class RoleRecord(NamedTuple):
    name: str
    arn: str
    path: str
    created: datetime
    # None: AWS has no record of use (never used, or not within its tracking window).
    last_used: datetime | None = None
    last_used_region: str | None = None
    # The services its policies grant, with their last access (Access Advisor);
    # None when Access Advisor has not reported on this role.
    services: tuple[ServiceUse, ...] | None = None
    # Its IAM tags as (key, value) pairs, in the order AWS lists them.
    tags: tuple[tuple[str, str], ...] = ()


class UserTags(NamedTuple):
    """An IAM user's tags, as (key, value) pairs in the order AWS lists them."""

    user: str
    tags: tuple[tuple[str, str], ...] = ()


class AccountFacts(NamedTuple):
    account_id: str
    root_mfa_enabled: bool
    # True when root's MFA is a virtual device (an app), not a hardware key.
    root_virtual_mfa: bool
    summary: Mapping[str, int] = {}
    partition: str = "aws"
    # Whether AWS Organizations manages this account's root credentials: True for a
    # member account of an organisation with RootCredentialsManagement enabled, False
    # when known otherwise (the feature off, the management account), None when unknown
    # (no Organizations discovery, or the feature could not be read).
    org_root_management: bool | None = None

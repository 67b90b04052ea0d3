"""Typed records of the IAM credential report.

The report's special values (``N/A``, ``no_information``, ``not_supported``)
mean different things, so each keeps its own state instead of becoming None.
A value that could not be read at all is ``Special.INVALID``: the field is
unknown for that user, and the checks that need it stay silent.
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


class ParseProblem(NamedTuple):
    """A value that could not be read; the field is unknown for that user."""

    line: int
    user: str
    column: str
    value: str


class CredentialReport(NamedTuple):
    records: tuple[CredentialRecord, ...]
    account_id: str | None
    problems: tuple[ParseProblem, ...] = ()
    generated_time: datetime | None = None

    @property
    def users(self) -> tuple[CredentialRecord, ...]:
        """IAM users, the root row excluded."""
        return tuple(r for r in self.records if not r.is_root)

    def with_generated_time(self, when: datetime | None) -> CredentialReport:
        return self._replace(generated_time=when)


class FetchedReport(NamedTuple):
    """A report's raw bytes as a source returned them, and when AWS generated it."""

    content: bytes
    generated_time: datetime | None


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

"""What a check is: a function over the subjects of its scope, and the spec naming it.

Every check, whatever its scope, has the same shape: it takes all the subjects of
its scope at once, the thresholds and ``now``, and returns hits ``(subject, key
number or None, message, facts)``. Evaluation turns a hit into a ``Finding``, and
only evaluation knows how a subject of each scope is attributed (user and ARN).

Ages are whole days, ``(now - t).days``, as the seed script counts them, and a
"more than N days" threshold is exceeded only when the age is strictly greater.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, NamedTuple, TypeVar

# The subjects of each scope:
# "root": the <root_account> row of the credential report; "user": the IAM users'
# rows; "any": both. "role": the account's IAM roles (RoleRecord), those under
# ``Policy.roles.exclude_paths`` left out. "account": the account's facts
# (AccountFacts), one subject.
REPORT_SCOPES = ("root", "user", "any")
DETAIL_SCOPES = ("role", "account")
SCOPES = REPORT_SCOPES + DETAIL_SCOPES

S = TypeVar("S")

# What a check finds: (subject, key number or None, message, facts).
Hit = tuple[S, "int | None", str, dict[str, Any]]


class Thresholds(NamedTuple):
    """One check's thresholds for human and for programmatic users."""

    human: Mapping[str, int]
    programmatic: Mapping[str, int]

    def pair(self, name: str) -> tuple[int, int]:
        return self.human[name], self.programmatic[name]


# One call per check with every subject, not one per subject: a call per check per
# report row was most of the evaluation time.
CheckFn = Callable[[Sequence[S], Thresholds, datetime], list[Hit[S]]]


@dataclass(frozen=True)
class CheckSpec(Generic[S]):
    id: str
    severity: str
    title: str
    cis: str
    rationale: str
    scope: str
    thresholds: Mapping[str, int] = field(default_factory=dict)
    fn: CheckFn[S] = field(kw_only=True)
    # Report columns it reads that a report may lack (the pre-2015 format has no
    # access_key_N_last_used_*): for a report without one, the check is not evaluated.
    needs: frozenset[str] = field(default=frozenset(), kw_only=True)

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"check {self.id}: scope {self.scope!r} is not one of {SCOPES}")


def days_since(now: datetime, when: datetime) -> int:
    return (now - when).days


def cutoff(now: datetime, days: int) -> datetime:
    """The latest instant more than ``days`` whole days before ``now``:
    ``t <= cutoff(now, n)`` is exactly ``(now - t).days > n``, without building a
    timedelta per row (the checks compare first and compute ages for hits only)."""
    return now - timedelta(days=days + 1)

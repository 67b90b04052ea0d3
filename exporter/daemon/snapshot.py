"""What one refresh knows: the state of every account, frozen, plus its rendered exposition.

A ``Snapshot`` is built by the refresh job and never changed afterwards; HTTP
handlers read whichever snapshot is current. Counters (``*_total``) are not
recomputed from scratch: each ``AccountState`` carries the totals of the
previous one forward, so they only ever grow while the process lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from exporter.core.diff import CHANGE_KINDS
from exporter.daemon.stored import AnyAnalysis, StoredAnalysis

# AccountState.extras key: check scopes ("role", "account") whose input was never
# fetched for that account (a report file, a disabled or failing API). Their checks
# are left out of aws_iam_findings instead of reading as a clean 0.
UNEVALUATED_SCOPES = "unevaluated_scopes"

_EMPTY: Mapping[str, int] = MappingProxyType({})


def frozen_counts(counts: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(counts))


@dataclass(frozen=True)
class AccountState:
    """One account after a refresh. ``analysis`` is the last good one (None until then):
    between refreshes a ``StoredAnalysis`` (compressed report + summary, see stored.py)."""

    key: str  # the target's identity (see refresh.AccountTarget)
    account_id: str  # the account_id label
    name: str
    analysis: AnyAnalysis | None = None
    # When ``analysis`` was evaluated; ages in it are relative to this instant.
    evaluated_at: datetime | None = None
    attempted: bool = False
    success: bool = False
    duration_seconds: float = 0.0
    last_success: datetime | None = None
    last_error_reason: str | None = None
    last_error_message: str | None = None
    errors_total: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    changes_total: Mapping[str, int] = field(
        default_factory=lambda: frozen_counts(dict.fromkeys(CHANGE_KINDS, 0))
    )
    # Room for collaborators (account-level checks, roles, shard ownership...):
    # read by exposition/landing code that knows the key, ignored otherwise.
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def report_generated(self) -> datetime | None:
        if isinstance(self.analysis, StoredAnalysis):
            return self.analysis.generated_time
        return None if self.analysis is None else self.analysis.report.generated_time


@dataclass(frozen=True)
class Exposition:
    """The bytes a scrape returns, rendered once per refresh."""

    text: bytes = b""
    text_gzip: bytes = b""
    openmetrics: bytes = b""  # without the final "# EOF" line; the live part adds it
    openmetrics_gzip: bytes = b""


@dataclass(frozen=True)
class Snapshot:
    accounts: tuple[AccountState, ...]
    created_at: datetime
    generation: int
    exposition: Exposition = field(default_factory=Exposition)

    def account(self, key: str) -> AccountState | None:
        for state in self.accounts:
            if state.key == key:
                return state
        return None

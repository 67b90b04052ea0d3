"""What the daemon knows, frozen: each account's state, the sources without an account
of their own, and the rendered exposition.

A ``Snapshot`` is built by the publisher and never changed afterwards; HTTP
handlers read whichever snapshot is current. Counters (``*_total``) are not
recomputed from scratch: each ``AccountState`` carries the totals of the
previous one forward, so they only ever grow while the process lives.

An account is known by its id only: states, state files and series are keyed
by it, whatever source (a file, the ambient credentials, an assumed role) yields it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from exporter.config import Config
from exporter.core.diff import CHANGE_KINDS
from exporter.core.records import AccountFacts, RoleRecord
from exporter.daemon.exemptions import ExemptionStatus, statuses
from exporter.daemon.stored import AnyAnalysis, StoredAnalysis, summary_of

_EMPTY: Mapping[str, int] = MappingProxyType({})


def frozen_counts(counts: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(counts))


@dataclass(frozen=True)
class DetailsState:
    """What the role and account checks read, kept across refreshes (accounts.py)."""

    roles: tuple[RoleRecord, ...] | None = None  # last good; None: never fetched
    facts: AccountFacts | None = None  # last good; None: never fetched
    detail_errors_total: Mapping[tuple[str, str], int] = field(
        default_factory=lambda: MappingProxyType({})
    )
    last_detail_errors: tuple[tuple[str, str, str], ...] = ()  # (part, reason, message)
    throttled_total: int = 0
    # Whether Organizations manages root and root holds no credential (core.central_root):
    # None when it cannot be told.
    root_centrally_managed: bool | None = None
    # User name -> owner (--labels.owner-tag), users with an owner only; last good read.
    owners: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class AccountState:
    """One account after a refresh. ``analysis`` is the last good one (None until then):
    between refreshes a ``StoredAnalysis`` (compressed report + summary, see stored.py)."""

    account_id: str
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
    details: DetailsState = field(default_factory=DetailsState)
    # Check scopes ("role", "account") whose input was never fetched for this account
    # (a report file, a disabled or failing API): their checks are left out of
    # aws_iam_findings instead of reading as a clean 0.
    unevaluated: frozenset[str] = frozenset()

    @property
    def report_generated(self) -> datetime | None:
        if isinstance(self.analysis, StoredAnalysis):
            return self.analysis.generated_time
        return None if self.analysis is None else self.analysis.report.generated_time


@dataclass(frozen=True)
class PendingSource:
    """A source that exports no series of its own: it has not been read yet (its
    account is unknown), or the account it yields is another source's."""

    name: str  # what the source is called: a report file's path, "ambient"
    reason: str  # of its last failure, one of sources.base.REASONS
    message: str
    failures: int  # failed reads since the last good one
    since: datetime  # the first of them
    account_id: str = ""  # for duplicate_account: the account it yields


@dataclass(frozen=True)
class Exposition:
    """The bytes a scrape returns, rendered once per publication."""

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
    pending: tuple[PendingSource, ...] = ()
    header: str = ""  # shown once at the top of the landing page (shards, discovery)
    # Every source has data or a recorded failure (or had, once: readiness never drops).
    ready: bool = True
    # The configuration's exemptions at ``created_at`` (exemptions.py).
    exemptions: tuple[ExemptionStatus, ...] = ()
    # The landing page, rendered once per publication (landing.with_landing).
    landing: bytes = b""

    def account(self, account_id: str) -> AccountState | None:
        for state in self.accounts:
            if state.account_id == account_id:
                return state
        return None


def exemption_statuses(
    accounts: Sequence[AccountState], config: Config, now: datetime
) -> tuple[ExemptionStatus, ...]:
    """The configuration's exemptions at ``now``, with the findings each matched in
    ``accounts`` at their last evaluation."""
    return statuses(
        config,
        (
            summary_of(s.analysis, config.exemptions).exempted_by
            for s in accounts
            if s.analysis is not None
        ),
        now,
    )

"""How one refresh attempt changes an account's state. Pure, apart from the log line.

Error counters are not touched here: the refresher adds the attempt's reason to the
account's current totals when it accepts the result (another source's duplicate
may have been counted on the account meanwhile).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from exporter.config import Config
from exporter.core.analyse import Analysis
from exporter.core.evaluate import evaluate
from exporter.core.report import ReportFormatError
from exporter.daemon.snapshot import AccountState, frozen_counts
from exporter.daemon.stored import AnyAnalysis, changes_between, store
from exporter.sources.base import SourceError, failure_reason

log = logging.getLogger("exporter.refresh")


def succeeded(
    state: AccountState, analysis: Analysis, now: datetime, duration: float
) -> AccountState:
    changes = dict(state.changes_total)
    if state.analysis is not None:
        for change in changes_between(state.analysis, analysis):
            changes[change.change] = changes.get(change.change, 0) + 1
    return replace(
        state,
        analysis=analysis,
        evaluated_at=now,
        attempted=True,
        success=True,
        duration_seconds=duration,
        last_success=now,
        last_error_reason=None,
        last_error_message=None,
        changes_total=frozen_counts(changes),
    )


def failed(
    state: AccountState,
    reason: str,
    message: str,
    config: Config,
    now: datetime,
    duration: float,
) -> AccountState:
    """The last good report stays, re-evaluated at ``now`` so that its ages keep moving."""
    kept = state.analysis
    analysis = None
    if kept is not None:
        report = kept.report  # parsed again when the analysis is stored
        analysis = Analysis(report, evaluate(report, config, now))
    return replace(
        state,
        analysis=analysis,
        evaluated_at=now if analysis is not None else None,
        attempted=True,
        success=False,
        duration_seconds=duration,
        last_error_reason=reason,
        last_error_message=message,
    )


def describe(err: Exception, source: str) -> tuple[str, str]:
    """(reason, message) of a failed read, logged with the traceback when unexpected."""
    reason = failure_reason(err)
    expected = isinstance(err, (SourceError, ReportFormatError))
    message = str(err) if expected else f"{type(err).__name__}: {err}"
    log.warning(
        "refresh failed: %s",
        message,
        extra={"account_id": source, "reason": reason},
        exc_info=not expected,
    )
    return reason, message


def kept_small(
    state: AccountState,
    base: AnyAnalysis | None,
    content: bytes | None,
    config: Config,
    now: datetime,
) -> AccountState:
    """The state with its analysis kept small until the next refresh (stored.py).

    ``base`` is the analysis before the state hooks ran; ``content`` the compressed
    report it was parsed from."""
    analysis = state.analysis
    if content is None or not isinstance(analysis, Analysis):
        return state
    if not isinstance(base, Analysis) or state.evaluated_at != now:
        return state
    return replace(state, analysis=store(analysis, content, base, config, now))


def with_error(
    state: AccountState, current: AccountState | None, reason: str | None
) -> AccountState:
    """``state`` whose error totals are the account's current ones, plus ``reason``."""
    errors = dict(current.errors_total if current is not None else state.errors_total)
    if reason is not None:
        errors[reason] = errors.get(reason, 0) + 1
    return replace(state, errors_total=frozen_counts(errors))

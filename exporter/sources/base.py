"""Where reports come from: the interface every source implements, and file sources.

``ReportSource.fetch()`` returns the raw report or raises ``SourceError`` whose
``reason`` is one of ``REASONS`` (used as the ``reason`` label of
``aws_iam_exporter_refresh_errors_total``). The AWS sources live in
``exporter.sources.aws``; tests and ``--report-file`` use the ones here.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

from exporter.core.records import AccountFacts, FetchedReport, RoleRecord
from exporter.core.report import ReportFormatError

REASONS = (
    "throttled",
    "server_error",
    "connection_error",
    "timeout",
    "access_denied",
    "expired_credentials",
    "no_credentials",
    "report_in_progress",
    "report_expired",
    "report_not_present",
    "invalid_report",
    "incomplete_report",
    "role_missing",
    "file_error",
    # The daemon's own: another source already yields the same account.
    "duplicate_account",
    "error",
)


class SourceError(Exception):
    """A report could not be fetched or read. ``reason`` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def failure_reason(err: BaseException) -> str:
    """The ``reason`` label of a failed refresh or audit."""
    if isinstance(err, SourceError):
        return err.reason
    if isinstance(err, ReportFormatError):
        return "invalid_report"
    return "error"


class ReportSource(Protocol):
    def fetch(self) -> FetchedReport: ...


class FileReportSource:
    """A report saved on disk (``-`` is standard input); re-read on every fetch."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fetch(self) -> FetchedReport:
        if self.path == "-":
            return FetchedReport(sys.stdin.buffer.read(), None)
        try:
            p = Path(self.path)
            content = p.read_bytes()
            mtime = datetime.fromtimestamp(p.stat().st_mtime, tz=timezone.utc)
        except OSError as err:
            raise SourceError("file_error", f"cannot read {self.path}: {err.strerror}") from None
        return FetchedReport(content, mtime)


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


__all__ = [
    "REASONS",
    "AccountDetails",
    "AccountDetailsSource",
    "FetchedReport",
    "FileReportSource",
    "ReportSource",
    "SourceError",
    "failure_reason",
]

"""Where reports come from: the interface every source implements, and file sources.

``ReportSource.fetch()`` returns the raw report or raises ``SourceError`` whose
``reason`` is one of ``REASONS`` (used as the ``reason`` label of
``aws_iam_exporter_refresh_errors_total``). The AWS sources live in
``exporter.sources.aws``; tests and ``--report-file`` use the ones here.
"""

from __future__ import annotations

import os
import stat
import sys
from datetime import datetime, timezone
from typing import NamedTuple, Protocol, runtime_checkable

from exporter.config.settings import Settings
from exporter.core.records import AccountFacts, FetchedReport, RoleRecord, UserTags
from exporter.core.report import IncompleteReportError, ReportFormatError

DEFAULT_MAX_BYTES = Settings().report_max_bytes

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
    # Larger than --report.max-bytes: refused before it is parsed.
    "report_too_large",
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
    if isinstance(err, IncompleteReportError):
        return "incomplete_report"
    if isinstance(err, ReportFormatError):
        return "invalid_report"
    return "error"


class ReportSource(Protocol):
    def fetch(self) -> FetchedReport: ...


def too_large(what: str, limit: int, size: int | None = None) -> SourceError:
    """The refusal of a report over ``--report.max-bytes`` (``size`` if known)."""
    amount = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return SourceError(
        "report_too_large",
        f"{what} is {amount}, over --report.max-bytes ({limit}); a real report of "
        "5000 users is 1-2 MB, so this is not one (or raise the limit)",
    )


class FileReportSource:
    """A report saved on disk (``-`` is standard input); re-read on every fetch, and
    refused, before it is parsed, when larger than ``max_bytes``."""

    def __init__(self, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes

    def fetch(self) -> FetchedReport:
        limit = self.max_bytes
        if self.path == "-":
            content = sys.stdin.buffer.read(limit + 1)
            if len(content) > limit:
                raise too_large("standard input", limit)
            return FetchedReport(content, None)
        try:
            # Links are followed and pipes read (a mounted ConfigMap is a link, and
            # ``audit --report-file <(...)`` a pipe): blocking is the point here.
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                info = os.fstat(fd)
                content = read_capped(fd, info, limit)
            finally:
                os.close(fd)
        except OSError as err:
            raise SourceError("file_error", f"cannot read {self.path}: {err.strerror}") from None
        if content is None:
            size = info.st_size if info.st_size > limit else None  # None: it grew, or no size
            raise too_large(self.path, limit, size)
        return FetchedReport(content, datetime.fromtimestamp(info.st_mtime, tz=timezone.utc))


def read_capped(fd: int, info: os.stat_result, limit: int) -> bytes | None:
    """The content of the open file ``fd`` (``info`` is its ``fstat``), or None when it
    holds more than ``limit`` bytes. A regular file's size is checked first, so a sparse
    10 GiB file is not read; anything else (a pipe, a device such as ``/dev/zero``, a
    file that grew since ``fstat``) is cut after ``limit + 1`` bytes."""
    if stat.S_ISREG(info.st_mode) and info.st_size > limit:
        return None
    chunks, left = [], limit + 1
    while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    return data if len(data) <= limit else None


class AccountDetails(NamedTuple):
    """What one refresh learnt about an account besides its credential report.
    ``None`` means "not fetched" (disabled, or the call failed: see ``errors``)."""

    account_id: str | None = None
    roles: tuple[RoleRecord, ...] | None = None
    facts: AccountFacts | None = None
    # (part, reason, message) of the calls that failed; the report itself may still be fine.
    errors: tuple[tuple[str, str, str], ...] = ()
    # The users' tags (for --labels.owner-tag); None: not asked for, or the call failed.
    users: tuple[UserTags, ...] | None = None


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
    "read_capped",
    "too_large",
]

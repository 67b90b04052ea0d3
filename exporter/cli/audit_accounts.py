"""``audit`` across accounts: fetch in parallel, add role and account checks, keep going.

A failing account does not stop the others; it is returned in ``failed`` with its
reason. A part that fails on its own (e.g. roles denied while the report is
readable) is a warning on stderr, and the rest of that account is still audited.
A report without the root row fails (reason ``incomplete_report``) unless
``allow_incomplete``; then it is audited without the root checks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import NamedTuple, TextIO

from exporter.cli.messages import warning_line
from exporter.cli.progress import Progress
from exporter.config import Config
from exporter.config.flags import format_duration
from exporter.core.analyse import read_report
from exporter.core.central_root import apply_central_root, withhold
from exporter.core.checks.services import unknown_services
from exporter.core.evaluate import Evaluation, evaluate, evaluate_details, merge
from exporter.core.owners import Owners, account_owners
from exporter.core.records import CredentialReport, RoleRecord
from exporter.core.report import IncompleteReportError, ReportFormatError, require_complete
from exporter.core.upcoming import Upcoming, upcoming_in_report, upcoming_in_roles
from exporter.sources.base import (
    AccountDetailsSource,
    FileReportSource,
    ReportSource,
    SourceError,
    failure_reason,
)

# The ``reason`` of an account refused because its report has no root row.
INCOMPLETE = "incomplete_report"
ALLOW_HINT = " (--allow-incomplete audits it without the root checks)"


class AccountAudit(NamedTuple):
    """One audited account: where its report came from, the report, what was found."""

    label: str  # the --report-file path, or the account's name
    account_id: str | None  # from the report's ARNs, or the account's own
    report: CredentialReport
    evaluation: Evaluation
    # Findings due within the upcoming window (config.settings.upcoming_window).
    upcoming: tuple[Upcoming, ...] = ()
    # With --labels.owner-tag: the owners of its users and roles (else None).
    owners: Owners | None = None


def audit_accounts(
    sources: Sequence[tuple[str, ReportSource]],
    config: Config,
    now: datetime,
    stderr: TextIO | None = None,
    allow_incomplete: bool = False,
) -> tuple[list[AccountAudit], list[dict[str, str]]]:
    """The audited accounts and the failed ones, each in the order of ``sources``."""
    stderr = stderr or sys.stderr
    progress = Progress(len(sources), stderr)
    deadline = format_duration(config.settings.aws_poll_deadline)
    waiting = f"waiting for the credential report (AWS may take up to {deadline})"

    def one(
        item: tuple[str, ReportSource],
    ) -> tuple[AccountAudit | None, dict[str, str], list[str]]:
        label, source = item
        # A file is only read; an account's report may first have to be generated.
        progress.stage(label, waiting if isinstance(source, AccountDetailsSource) else "reading")
        try:
            stage = partial(progress.stage, label)
            audited, warnings = audit_one(label, source, config, now, allow_incomplete, stage)
        except IncompleteReportError as err:
            progress.advance(label, ok=False)
            failure = {"account": label, "reason": INCOMPLETE, "message": str(err) + ALLOW_HINT}
            return None, failure, []
        except (SourceError, ReportFormatError) as err:
            progress.advance(label, ok=False)
            failure = {"account": label, "reason": failure_reason(err), "message": str(err)}
            return None, failure, []
        progress.advance(label)
        return audited, {}, warnings

    workers = max(1, min(config.settings.refresh_workers, len(sources) or 1))
    if workers == 1 or all(isinstance(s, FileReportSource) for _, s in sources):
        # Local files: reading them does not wait, the rest holds the GIL, and threads
        # only add switching (a third of a second on four files of 5000 users).
        outcomes = list(map(one, sources))
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="audit") as pool:
            outcomes = list(pool.map(one, sources))  # map keeps the configured order
    progress.close()
    results = [ev for ev, _, _ in outcomes if ev is not None]
    failed = [f for ev, f, _ in outcomes if ev is None]
    for _, _, warnings in outcomes:
        for warning in warnings:
            print(warning_line(warning), file=stderr)
    return results, failed


def audit_one(
    label: str,
    source: ReportSource,
    config: Config,
    now: datetime,
    allow_incomplete: bool = False,
    stage: Callable[[str], None] = lambda _: None,
) -> tuple[AccountAudit, list[str]]:
    """``stage`` is told what comes next (for the progress on a terminal)."""
    keys = config.settings.labels_owner_tag
    report = read_report(source.fetch(), now)
    if not allow_incomplete:
        require_complete(report)
    stage("checks")
    evaluation = evaluate(report, config, now)
    if not isinstance(source, AccountDetailsSource):
        # A report file has no roles nor account facts: those checks are not evaluated.
        extra = evaluate_details(report.account_id or "", None, None, config, now)
        owners = account_owners(None, None, keys) if keys else None  # no tags: owner ""
        merged = merge(evaluation, extra)
        soon = _upcoming(report, None, report.account_id or "", merged, config, now)
        return AccountAudit(label, report.account_id, report, merged, soon, owners), []
    stage("roles and account facts")
    details = source.fetch_details()
    warnings = [
        f"{label}: {part} checks skipped ({reason}): {message}"
        for part, reason, message in details.errors
    ]
    account_id = details.account_id or report.account_id
    extra = evaluate_details(account_id or "", details.roles, details.facts, config, now)
    # audit runs no Access Advisor job: role_unused_services is not evaluated, unless the
    # source reports services itself (the demo).
    extra = withhold(extra, unknown_services(details.roles, config.enabled_checks))
    merged = merge(evaluation, extra)
    if config.settings.organizations_central_root:
        # A centrally managed root lists its MFA checks in not_evaluated, with the reason.
        merged, _ = apply_central_root(merged, details.facts, report, config.enabled_checks)
    soon = _upcoming(report, details.roles, account_id or "", merged, config, now)
    owners = account_owners(details.users, details.roles, keys) if keys else None
    return AccountAudit(label, account_id, report, merged, soon, owners), warnings


def _upcoming(
    report: CredentialReport,
    roles: Sequence[RoleRecord] | None,
    account_id: str,
    evaluation: Evaluation,
    config: Config,
    now: datetime,
) -> tuple[Upcoming, ...]:
    # The checks not evaluated (whatever the reason) have no upcoming findings either.
    window, skipped = config.settings.upcoming_window, evaluation.not_evaluated
    current = (*evaluation.findings, *evaluation.exempted)
    found = upcoming_in_report(report, config, now, window, skipped, current)
    return found + upcoming_in_roles(account_id, roles, config, now, window, skipped)

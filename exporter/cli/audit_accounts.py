"""``audit`` across accounts: fetch in parallel, add role and account checks, keep going.

A failing account does not stop the others; it is returned in ``failed`` with its
reason. A part that fails on its own (e.g. roles denied while the report is
readable) is a warning on stderr, and the rest of that account is still audited.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TextIO

from exporter.cli.progress import Progress
from exporter.config import Config
from exporter.core.analyse import analyse
from exporter.core.evaluate import Evaluation, evaluate_details, merge
from exporter.core.report import ReportFormatError
from exporter.sources.base import AccountDetailsSource, ReportSource, SourceError, failure_reason


def audit_accounts(
    sources: Sequence[tuple[str, ReportSource]],
    config: Config,
    now: datetime,
    stderr: TextIO | None = None,
) -> tuple[list[Evaluation], list[dict[str, str]]]:
    stderr = stderr or sys.stderr
    progress = Progress(len(sources), stderr)

    def one(item: tuple[str, ReportSource]) -> tuple[Evaluation | None, dict[str, str], list[str]]:
        label, source = item
        try:
            evaluation, warnings = audit_one(label, source, config, now)
        except (SourceError, ReportFormatError) as err:
            progress.advance(ok=False)
            failure = {"account": label, "reason": failure_reason(err), "message": str(err)}
            return None, failure, []
        progress.advance()
        return evaluation, {}, warnings

    workers = max(1, min(config.settings.refresh_workers, len(sources) or 1))
    with ThreadPoolExecutor(workers, thread_name_prefix="audit") as pool:
        outcomes = list(pool.map(one, sources))  # map keeps the configured order
    progress.close()
    results = [ev for ev, _, _ in outcomes if ev is not None]
    failed = [f for ev, f, _ in outcomes if ev is None]
    for _, _, warnings in outcomes:
        for warning in warnings:
            print(warning, file=stderr)
    return results, failed


def audit_one(
    label: str, source: ReportSource, config: Config, now: datetime
) -> tuple[Evaluation, list[str]]:
    analysis = analyse(source.fetch(), config, now)
    if not isinstance(source, AccountDetailsSource):
        return analysis.evaluation, []
    details = source.fetch_details()
    warnings = [
        f"{label}: {part} checks skipped ({reason}): {message}"
        for part, reason, message in details.errors
    ]
    account_id = details.account_id or analysis.report.account_id or ""
    extra = evaluate_details(account_id, details.roles, details.facts, config, now)
    return merge(analysis.evaluation, extra), warnings

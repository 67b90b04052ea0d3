"""The metrics of upcoming findings: what a day threshold will raise within the window.

``aws_iam_upcoming_findings`` counts them per check of the credential report that has
a day threshold, enabled and evaluated (0 when nothing is due); a check not evaluated,
or an account whose upcoming findings were not worked out, has no series: unknown is
not zero. With per-finding series on, ``aws_iam_finding_due_timestamp_seconds`` has
one series per upcoming finding with a user label, soonest first, under the same
limit as ``aws_iam_finding``, the rest counted per account in
``aws_iam_finding_due_series_dropped``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, time, timezone

from prometheus_client.core import GaugeMetricFamily, Metric

from exporter.config import Config
from exporter.core.analyse import Analysis
from exporter.core.checks import CHECKS, REPORT_SCOPES
from exporter.core.upcoming import Upcoming, sorted_upcoming
from exporter.daemon.snapshot import AccountState
from exporter.daemon.stored import AnalysisSummary, upcoming_of

# A user name to its ``user`` label; None leaves the series out (--labels.user=none).
UserLabel = Callable[[str], "str | None"]
DUE_LABELS = ["account_id", "check", "severity", "user", "key"]


def upcoming_metrics(
    analysed: Sequence[tuple[AccountState, AnalysisSummary]],
    config: Config,
    finding_series: bool,
    limit: int,
    user_label: UserLabel,
) -> Iterator[Metric]:
    known = [(state, summary, soon) for state, summary in analysed
             if (soon := _upcoming(state, summary, config)) is not None]  # fmt: skip
    window = f"{config.settings.upcoming_window.days}d"
    counts = GaugeMetricFamily(
        "aws_iam_upcoming_findings",
        "Findings that a day threshold will raise within the upcoming window "
        f"(upcoming.window, {window}), per check of the credential report that has one; "
        "absent for checks not evaluated.",
        labels=["account_id", "check", "severity"],
    )
    checks = [(cid, c.severity) for cid, c in config.checks.items() if c.enabled and _dated(cid)]
    for state, summary, soon in known:
        per_check = Counter(u.finding.check for u in soon)
        for cid, severity in checks:
            if cid not in summary.not_evaluated:
                counts.add_metric([state.account_id, cid, severity], per_check.get(cid, 0))
    yield counts
    if finding_series:
        yield from _due_series(known, limit, user_label)


def _due_series(
    known: Sequence[tuple[AccountState, AnalysisSummary, tuple[Upcoming, ...]]],
    limit: int,
    label: UserLabel,
) -> Iterator[Metric]:
    due = GaugeMetricFamily(
        "aws_iam_finding_due_timestamp_seconds",
        "Unix time of the start (00:00 UTC) of the day on which an upcoming finding "
        "becomes a finding, one series per upcoming finding with a user.",
        labels=DUE_LABELS,
    )
    dropped = GaugeMetricFamily(
        "aws_iam_finding_due_series_dropped",
        "Upcoming findings left out of aws_iam_finding_due_timestamp_seconds by the "
        "series limit (metrics.finding-series-limit).",
        labels=["account_id"],
    )
    kept = 0
    left_out: Counter[str] = Counter()
    every = sorted_upcoming(u for _, _, soon in known for u in soon)
    for u in every:
        f = u.finding
        user = label(f.user) if f.user else None
        if user is None:
            continue  # no user label (role findings, --labels.user=none): no series
        if kept >= limit:
            left_out[f.account_id] += 1
            continue
        key = "" if f.key is None else str(f.key)
        start = datetime.combine(u.due, time.min, timezone.utc).timestamp()
        due.add_metric([f.account_id, f.check, f.severity, user, key], start)
        kept += 1
    for state, _, _ in known:
        dropped.add_metric([state.account_id], left_out.get(state.account_id, 0))
    yield from (due, dropped)


def _upcoming(
    state: AccountState, summary: AnalysisSummary, config: Config
) -> tuple[Upcoming, ...] | None:
    """The summary's; for an analysis kept whole (a failed refresh's last good
    report), worked out now, once per publication, at its evaluation time."""
    if summary.upcoming is not None:
        return summary.upcoming
    if isinstance(state.analysis, Analysis) and state.evaluated_at is not None:
        return upcoming_of(state.analysis, config, state.evaluated_at)
    return None


def _dated(cid: str) -> bool:
    """A check of the credential report with a day threshold: it can have upcoming findings."""
    spec = CHECKS[cid]
    return bool(spec.thresholds) and spec.scope in REPORT_SCOPES

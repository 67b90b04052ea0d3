"""The configuration's exemptions as ``serve`` reports them: active or expired, when
each lapses, and how many findings each one matches.

``audit`` lists the expired exemptions of a run; a daemon runs for months, so it
says the same in its metrics (``aws_iam_exemptions{state}``,
``aws_iam_exemption_expiry_timestamp_seconds{exemption}``), on the landing page
and, once per exemption, in its log.

The evaluation (exporter/core) only tells a finding exempted or not. Which
exemption matched it is worked out here, with ``Exemption.matches``: a finding
two exemptions match counts for both, so each count says what that exemption
alone still covers (0: it can go).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from exporter.config import Config
from exporter.core.exemptions import Exemption
from exporter.core.findings import Finding

log = logging.getLogger("exporter.exemptions")


@dataclass(frozen=True)
class ExemptionStatus:
    id: str
    exemption: Exemption
    expired: bool
    # The first instant it no longer applies; None: it never expires.
    ends_at: datetime | None
    # Findings it matched at each account's last evaluation, summed over the accounts.
    suppressed: int


def ends_at(expires: date | None) -> datetime | None:
    """An exemption applies through its whole ``expires`` day, in UTC (core's
    ``Exemption.expired``): it ends at the following midnight, UTC."""
    if expires is None:
        return None
    return datetime.combine(expires + timedelta(days=1), time(), tzinfo=timezone.utc)


def matched(
    exempted: Iterable[Finding],
    exemptions: Sequence[Exemption],
    expired: Iterable[Exemption] = (),
) -> tuple[int, ...]:
    """For each of ``exemptions`` (in order), how many of the ``exempted`` findings it
    matches. The ``expired`` ones applied to nothing: they count 0."""
    lapsed = set(expired)
    live = [(i, e) for i, e in enumerate(exemptions) if e not in lapsed]
    counts = [0] * len(exemptions)
    for finding in exempted:
        for i, exemption in live:
            if exemption.matches(finding):
                counts[i] += 1
    return tuple(counts)


def statuses(
    config: Config, per_account: Iterable[Sequence[int]], now: datetime
) -> tuple[ExemptionStatus, ...]:
    """Every exemption of ``config`` at ``now``; ``per_account``: each account's
    ``matched`` counts (``AnalysisSummary.exempted_by``)."""
    named = config.named_exemptions()
    totals = [0] * len(named)
    for counts in per_account:
        for i, count in enumerate(counts[: len(totals)]):
            totals[i] += count
    today = now.astimezone(timezone.utc).date()
    return tuple(
        ExemptionStatus(ident, e, e.expired(today), ends_at(e.expires), totals[i])
        for i, (ident, e) in enumerate(named)
    )


class ExpiryLog:
    """Logs each exemption's expiry once per process (the metrics say it every scrape)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logged: set[str] = set()

    def __call__(self, current: Iterable[ExemptionStatus]) -> None:
        with self._lock:
            new = [s for s in current if s.expired and s.id not in self._logged]
            self._logged.update(s.id for s in new)
        for s in new:
            log.warning(
                "expired exemption no longer applies: %s",
                s.exemption.describe(),
                extra={"exemption": s.id},
            )

"""``aws_iam_findings_by_owner{account_id, owner, severity}``, with --labels.owner-tag.

Counts every finding with a principal: users' (root's owner is ``""``) and roles'
(role_unused...), exemptions left out as in ``aws_iam_findings``. It does not depend
on the series limit nor on ``--labels.user``: an owner names a team, not a person,
so a dashboard per team works with ``--labels.user=none`` too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from prometheus_client.core import GaugeMetricFamily

from exporter.core.findings import role_name
from exporter.core.owners import NO_OWNER, owner_of
from exporter.daemon.snapshot import AccountState
from exporter.daemon.stored import series_severity, series_user, summary_of


def findings_by_owner(
    accounts: Sequence[AccountState], owner_tags: tuple[str, ...]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "aws_iam_findings_by_owner",
        "Findings of users and roles per owner (the first --labels.owner-tag they carry; "
        '"" for none) and severity.',
        labels=["account_id", "owner", "severity"],
    )
    for state in accounts:
        counts = owner_counts(state, owner_tags)
        for (owner, severity), count in sorted((counts or {}).items()):
            family.add_metric([state.account_id, owner, severity], count)
    return family


def owner_counts(
    state: AccountState, owner_tags: tuple[str, ...]
) -> Counter[tuple[str, str]] | None:
    """The account's findings per (owner, severity); None: no data yet. The metric and
    the landing page count them here, so the two always agree."""
    if state.analysis is None:
        return None
    summary = summary_of(state.analysis)
    owners = state.details.owners
    counts: Counter[tuple[str, str]] = Counter(
        (owners.get(series_user(entry), NO_OWNER), series_severity(entry))
        for entry in summary.series
    )
    roles = {r.name: r for r in state.details.roles or ()}
    for f in summary.role_findings:
        role = roles.get(role_name(f))
        counts[(owner_of(role.tags, owner_tags) if role else NO_OWNER, f.severity)] += 1
    return counts

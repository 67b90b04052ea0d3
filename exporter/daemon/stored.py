"""An account's last good analysis, kept small between refreshes.

Parsed records and findings cost about 1.2 KB per user: 245 MB for 200 accounts of
1000 users, more than the whole memory budget. Between refreshes the daemon only
needs counts, the labels of the per-finding series and the few role findings. So a
``StoredAnalysis`` keeps the raw report zlib-compressed (about 55 B per user) and an
``AnalysisSummary``; ``report`` and ``evaluation`` are rebuilt from the bytes only
when asked (re-evaluating a failed account, user facts). The next refresh's diff
reads a fingerprint of the fields it compares instead (core.diff.fingerprint): an
unchanged account costs no parsing of its previous report. Parsing and evaluating
are pure, so the rebuilt objects equal the ones dropped.
"""

from __future__ import annotations

import threading
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exporter.config import Config
from exporter.core.analyse import Analysis
from exporter.core.central_root import withhold
from exporter.core.checks import findings_of_scope
from exporter.core.diff import Change, diff_reports, fingerprint
from exporter.core.evaluate import Evaluation, evaluate, merge
from exporter.core.exemptions import Exemption
from exporter.core.findings import SEVERITIES, SEVERITY_RANK, Finding
from exporter.core.records import CredentialReport
from exporter.core.report import parse_report
from exporter.core.upcoming import Upcoming, sorted_upcoming, upcoming_in_report
from exporter.daemon.exemptions import matched

# One aws_iam_finding series: "rank\0account_id\0check\0user\0key", the finding's
# severity rank, account id, check, user and key ("" for none). A string, not a tuple:
# an organisation holds hundreds of thousands of them between refreshes, and the
# cyclic collector walks every tuple it has not yet seen, while a string it never
# looks at. "\0" sorts before any character of the fields (a user name cannot hold
# it), so the strings sort as ``Finding.sort_key`` does.
SeriesEntry = str
_SEP = "\0"


def series_entry(rank: int, account_id: str, check: str, user: str, key: int | None) -> str:
    return _SEP.join((str(rank), account_id, check, user, "" if key is None else str(key)))


def series_fields(entry: SeriesEntry) -> tuple[str, str, str, str, str]:
    """(severity, account id, check, user, key) of an entry; key "" for none."""
    rank, account_id, check, user, key = entry.split(_SEP)
    return SEVERITIES[int(rank)], account_id, check, user, key


def series_user(entry: SeriesEntry) -> str:
    return entry.split(_SEP, 4)[3]


def series_severity(entry: SeriesEntry) -> str:
    return SEVERITIES[int(entry[0])]


@dataclass(frozen=True, eq=False)
class AnalysisSummary:
    """What the exposition and the landing page read of one account's analysis."""

    users: int  # root excluded
    root_without_mfa: int
    console_without_mfa: int
    generated_time: datetime | None
    problems: int  # the report's unreadable values
    findings: Mapping[tuple[str, str], int]  # (check, severity) -> count
    exempted: Mapping[str, int]  # check -> count
    # Findings with a user, in Finding.sort_key order (a stable sort).
    series: tuple[SeriesEntry, ...]
    role_findings: tuple[Finding, ...]  # checks of scope "role", in evaluation order
    # Enabled checks whose input the report lacks (no root row, old format): absent
    # from the metrics, never a clean 0.
    not_evaluated: frozenset[str] = frozenset()
    # Why each of those was not evaluated (check, reason), for people (the landing page).
    not_evaluated_why: tuple[tuple[str, str], ...] = ()
    # Per exemption of the configuration, in its order: the findings it matched
    # (exemptions.matched); () when summarised without the configuration's exemptions.
    exempted_by: tuple[int, ...] = ()
    # The report checks' findings due within the upcoming window, soonest first; None:
    # not worked out (summarised without a time), so absent from the metrics.
    upcoming: tuple[Upcoming, ...] | None = None

    def by_check(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (check, _), count in self.findings.items():
            counts[check] += count
        return counts

    def by_severity(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (_, severity), count in self.findings.items():
            counts[severity] += count
        return counts


def summarise(
    analysis: Analysis,
    exemptions: Sequence[Exemption] = (),
    upcoming: tuple[Upcoming, ...] | None = None,
) -> AnalysisSummary:
    report, evaluation = analysis.report, analysis.evaluation
    findings = evaluation.findings
    users = report.users
    entries: list[SeriesEntry] = [
        series_entry(SEVERITY_RANK[f.severity], f.account_id, f.check, f.user, f.key)
        for f in findings
        if f.user
    ]
    entries.sort()
    return AnalysisSummary(
        users=len(users),
        root_without_mfa=sum(1 for r in report.records if r.is_root and r.mfa_active is False),
        console_without_mfa=sum(
            1 for r in users if r.password_enabled is True and r.mfa_active is False
        ),
        generated_time=report.generated_time,
        problems=len(report.problems),
        findings=dict(Counter((f.check, f.severity) for f in findings)),
        exempted=dict(Counter(f.check for f in evaluation.exempted)),
        series=tuple(entries),
        role_findings=findings_of_scope(findings, "role"),
        not_evaluated=frozenset(evaluation.not_evaluated),
        not_evaluated_why=tuple(sorted(evaluation.not_evaluated.items())),
        exempted_by=matched(evaluation.exempted, exemptions, evaluation.expired_exemptions),
        upcoming=upcoming,
    )


def upcoming_of(analysis: Analysis, config: Config, now: datetime) -> tuple[Upcoming, ...]:
    """The report checks' upcoming findings of an analysis evaluated at ``now`` (the
    checks it did not evaluate, for whatever reason, have none)."""
    evaluation = analysis.evaluation
    window, skipped = config.settings.upcoming_window, evaluation.not_evaluated
    current = (*evaluation.findings, *evaluation.exempted)
    found = upcoming_in_report(analysis.report, config, now, window, skipped, current)
    return tuple(sorted_upcoming(found))


@dataclass(frozen=True, eq=False)
class StoredAnalysis:
    """An ``Analysis`` as its compressed report, the inputs to re-evaluate it, and a summary."""

    content: bytes  # the raw report, zlib-compressed
    generated_time: datetime | None
    config: Config
    evaluated_at: datetime
    # What the state hooks (account and role checks) merged into the report's own
    # evaluation (core.evaluate.merge): each field is appended to it.
    added: Evaluation
    summary: AnalysisSummary
    fingerprint: bytes = b""  # core.diff.fingerprint of the report; b"": unknown

    @property
    def report(self) -> CredentialReport:
        content = zlib.decompress(self.content)
        return parse_report(content, self.generated_time, self.evaluated_at)

    @property
    def evaluation(self) -> Evaluation:
        return self.rebuild().evaluation

    def rebuild(self) -> Analysis:
        report = self.report
        own = _withheld(evaluate(report, self.config, self.evaluated_at), self.added)
        return Analysis(report, merge(own, self.added))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredAnalysis):
            other = other.rebuild()
        return isinstance(other, Analysis) and self.rebuild() == other

    __hash__ = None  # type: ignore[assignment]


AnyAnalysis = Analysis | StoredAnalysis


def summary_of(analysis: AnyAnalysis, exemptions: Sequence[Exemption] = ()) -> AnalysisSummary:
    """A stored analysis's own summary (made with its configuration's exemptions);
    a whole one is summarised now, against ``exemptions``."""
    if isinstance(analysis, StoredAnalysis):
        return analysis.summary
    return summarise(analysis, exemptions)


def compress(content: bytes) -> bytes:
    # Level 1: a 1000-user report (235 kB) becomes ~55 kB in ~2 ms; level 6 saves
    # another 15 kB for three times the CPU, spent under the GIL in the refresh workers.
    return zlib.compress(content, 1)


def store(
    analysis: Analysis, content: bytes, base: Analysis, config: Config, now: datetime
) -> AnyAnalysis:
    """``analysis`` kept as ``content`` + a summary, when it can be rebuilt from them.

    ``base`` is the report parsed from ``content`` (zlib-compressed) and evaluated with
    ``config`` at ``now``; ``analysis`` is what the state hooks made of it. If they did
    more than append to its evaluation, ``analysis`` is kept whole."""
    added = _appended(_withheld(base.evaluation, analysis.evaluation), analysis.evaluation)
    if added is None or analysis.report is not base.report:
        return analysis
    return StoredAnalysis(
        content,
        analysis.report.generated_time,
        config,
        now,
        added,
        summarise(analysis, config.exemptions, upcoming_of(analysis, config, now)),
        report_fingerprint(analysis.report, forget=True),
    )


def changes_between(old: AnyAnalysis, new: Analysis) -> list[Change]:
    """``diff_reports`` of the two analyses' reports; none, without parsing ``old``
    again, when their fingerprints say that nothing diff reads has changed."""
    if isinstance(old, StoredAnalysis) and old.fingerprint == report_fingerprint(new.report):
        return []
    return diff_reports(old.report, new.report)


_last = threading.local()  # per refresh thread: (report, its fingerprint)


def report_fingerprint(report: CredentialReport, forget: bool = False) -> bytes:
    """``fingerprint(report)``, remembered for the last report of this thread: the
    diff and the storing of the same refresh both ask for it. The storing, last,
    ``forget``s it, so that no parsed report outlives its refresh here."""
    recent = getattr(_last, "pair", None)
    _last.pair = None
    if recent is not None and recent[0] is report:
        digest: bytes = recent[1]
    else:
        digest = fingerprint(report)
    if not forget:
        _last.pair = (report, digest)
    return digest


# The fields merge concatenates; it unites not_evaluated, a mapping.
_APPENDED_FIELDS = tuple(f for f in Evaluation._fields if f != "not_evaluated")


def _withheld(base: Evaluation, final: Evaluation) -> Evaluation:
    """``base`` without the findings of the checks ``final`` says were not evaluated: a
    state hook may withhold report checks (core.central_root), which no append can say."""
    gone = {f.check for f in (*base.findings, *base.exempted)} & set(final.not_evaluated)
    return withhold(base, {cid: final.not_evaluated[cid] for cid in gone})


def _appended(base: Evaluation, final: Evaluation) -> Evaluation | None:
    """What ``merge(base, added) == final`` needs as ``added``; None if there is none."""
    parts: dict[str, tuple[Any, ...]] = {}
    for name in _APPENDED_FIELDS:
        before, after = getattr(base, name), getattr(final, name)
        if after[: len(before)] != before:
            return None
        parts[name] = after[len(before) :]
    added = Evaluation(**parts, not_evaluated=final.not_evaluated)
    return added if merge(base, added) == final else None

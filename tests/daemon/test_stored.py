"""Stored analyses: the daemon keeps a compressed report and a summary, and loses nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.config import config_from_dict
from exporter.core.analyse import Analysis, analyse
from exporter.core.evaluate import Evaluation, merge
from exporter.core.findings import SEVERITIES, Finding
from exporter.daemon import stored as stored_module
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.exposition import ExpositionOptions, render
from exporter.daemon.landing import render_landing
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.snapshot import AccountState, Snapshot
from exporter.daemon.stored import (
    StoredAnalysis,
    compress,
    series_entry,
    series_fields,
    series_user,
    store,
)
from exporter.sources.base import FetchedReport, SourceError
from tests.support.sample_reports import NOW, report_csv, root_row, sample_report, user_row

A, B = "111111111111", "222222222222"
CONFIG = config_from_dict(
    {"exemptions": [{"user": "user0", "checks": ["console_without_mfa"], "reason": "kiosk"}]}
)


class Source:
    def __init__(self, content: bytes) -> None:
        self.content = content
        self.error: Exception | None = None

    def fetch(self) -> FetchedReport:
        if self.error is not None:
            raise self.error
        return FetchedReport(self.content, NOW - timedelta(hours=2))


def role_finding(account: str, role: str) -> Finding:
    return Finding(account, "", f"arn:aws:iam::{account}:role/{role}", "role_unused", "low",
                   None, f"role {role} unused", {"role": role})  # fmt: skip


def add_roles(target: AccountTarget, state: AccountState, now: object) -> AccountState:
    """A state hook like the accounts one: appends role findings to the evaluation."""
    if state.analysis is None:
        return state
    found = (role_finding(state.account_id, "b"), role_finding(state.account_id, "a"))
    more = Evaluation(found, (), (), ())
    analysis = Analysis(state.analysis.report, merge(state.analysis.evaluation, more))
    return replace(state, analysis=analysis)


def test_a_stored_analysis_rebuilds_exactly_what_was_dropped() -> None:
    content = sample_report(30, A)
    base = analyse(FetchedReport(content, NOW), CONFIG, NOW)
    extra = Evaluation((role_finding(A, "x"),), (), (), ())
    final = Analysis(base.report, merge(base.evaluation, extra))
    stored = store(final, compress(content), base, CONFIG, NOW)
    assert isinstance(stored, StoredAnalysis)
    assert len(stored.content) < len(content) / 2
    assert stored.rebuild() == final and stored == final
    assert stored.report == final.report and stored.evaluation == final.evaluation
    assert stored.evaluation.exempted, "the exemption matched: exempted findings are kept too"
    summary = stored.summary
    assert summary.users == len(final.report.users) == 30
    assert sum(summary.findings.values()) == len(final.evaluation.findings)
    assert summary.role_findings == (role_finding(A, "x"),)
    assert [series_user(e) for e in summary.series] == [
        f.user for f in sorted(final.evaluation.findings, key=Finding.sort_key) if f.user
    ]


def test_an_analysis_the_hooks_rewrote_is_kept_whole() -> None:
    content = sample_report(5, A)
    base = analyse(FetchedReport(content, NOW), CONFIG, NOW)
    fewer = Analysis(base.report, base.evaluation._replace(findings=base.evaluation.findings[1:]))
    assert store(fewer, compress(content), base, CONFIG, NOW) is fewer
    other = analyse(FetchedReport(content, NOW), CONFIG, NOW)  # equal, but another parse
    assert store(other, compress(content), base, CONFIG, NOW) is other


def test_the_refresher_stores_analyses_and_renders_what_the_full_ones_render() -> None:
    aged = report_csv(root_row(A), user_row("ci", A, key_age=89, key_used=1))
    sources = [Source(aged), Source(sample_report(40, B))]
    targets = [AccountTarget(A, "prod", sources[0]), AccountTarget(B, "dev", sources[1])]
    wiring = AccountsWiring(CONFIG, fixed=targets)
    options = ExpositionOptions(user_facts=True, collectors=(wiring.collector,))
    clock = [NOW]
    refresher = Refresher(wiring.targets, CONFIG, options, now=lambda: clock[0], hooks=[add_roles])
    try:
        first = refresher.run()
        clock[0] = NOW + timedelta(days=2)
        sources[0].error = SourceError("throttled", "Rate exceeded")
        second = refresher.run()
    finally:
        refresher.close()
    for snapshot in (first, second):
        stored = [s.analysis for s in snapshot.accounts]
        assert all(isinstance(a, StoredAnalysis) for a in stored)
        # The same states holding full analyses render byte for byte the same.
        whole = tuple(
            replace(s, analysis=s.analysis.rebuild())  # type: ignore[union-attr]
            for s in snapshot.accounts
        )
        assert render(whole, CONFIG, options, (), snapshot.exemptions) == snapshot.exposition
        full = Snapshot(
            whole, snapshot.created_at, snapshot.generation, exemptions=snapshot.exemptions
        )
        assert render_landing(full, "/metrics", clock[0]) == render_landing(
            snapshot, "/metrics", clock[0]
        )
    # The failed account's last good report is re-evaluated at the new time.
    failed = second.account(A)
    assert failed is not None and not failed.success and failed.evaluated_at == clock[0]
    checks = {f.check for f in failed.analysis.evaluation.findings}  # type: ignore[union-attr]
    assert "access_key_not_rotated" in checks and "role_unused" in checks
    assert b'aws_iam_finding{account_id="111111111111",check="access_key_not_rotated"' in (
        second.exposition.text
    )


def test_series_of_many_accounts_keep_the_global_order_and_the_limit() -> None:
    states = tuple(
        AccountState(account_id=a, name=a, analysis=store(
            base := analyse(FetchedReport(sample_report(n, a), NOW), CONFIG, NOW),
            compress(sample_report(n, a)), base, CONFIG, NOW))
        for a, n in ((B, 12), (A, 20), ("333333333333", 7))
    )  # fmt: skip
    every = sorted(
        (f for s in states for f in s.analysis.evaluation.findings if f.user),  # type: ignore[union-attr]
        key=Finding.sort_key,
    )
    lines = [
        f'aws_iam_finding{{account_id="{f.account_id}",check="{f.check}",'
        f'key="{"" if f.key is None else f.key}",severity="{f.severity}",user="{f.user}"}} 1.0'
        for f in every
    ]
    for limit in (5, 17, 10_000):
        text = render(states, CONFIG, ExpositionOptions(finding_series_limit=limit)).text
        series = [x for x in text.decode().splitlines() if x.startswith("aws_iam_finding{")]
        assert series == lines[:limit]


def test_an_unchanged_report_is_diffed_without_parsing_the_previous_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = [Source(sample_report(30, A)), Source(sample_report(20, B))]
    targets = [AccountTarget(A, "prod", sources[0]), AccountTarget(B, "dev", sources[1])]
    refresher = Refresher(lambda: targets, CONFIG, ExpositionOptions(), now=lambda: NOW)
    reparsed: list[int] = []
    real = stored_module.parse_report

    def counted(*args: object) -> object:
        reparsed.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(stored_module, "parse_report", counted)
    try:
        refresher.run()
        assert reparsed == []
        refresher.run()  # both unchanged: nothing to parse again
        assert reparsed == []
        # One user fewer in B: a change, found by the full diff of both reports.
        sources[1].content = sample_report(19, B)
        changed = refresher.run()
    finally:
        refresher.close()
    assert len(reparsed) == 1
    state = changed.account(B)
    assert state is not None and state.changes_total["user_deleted"] == 1
    assert changed.account(A).changes_total["user_deleted"] == 0  # type: ignore[union-attr]


_NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=6)


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["", "1", "12", "123456789012"]),
                          _NAMES, _NAMES, st.sampled_from([None, 1, 2])), max_size=30))  # fmt: skip
def test_series_entries_sort_as_the_findings_do(
    fields: list[tuple[int, str, str, str, int | None]],
) -> None:
    """The entries are strings (the collector never walks them); sorted, they keep
    ``Finding.sort_key``'s order, a field that is a prefix of another included."""
    entries = [series_entry(*f) for f in fields]
    by_finding = sorted(fields, key=lambda f: (*f[:4], f[4] or 0))
    assert [series_fields(e) for e in sorted(entries)] == [
        (SEVERITIES[r], a, c, u, "" if k is None else str(k)) for r, a, c, u, k in by_finding
    ]

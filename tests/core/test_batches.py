"""The parser, the checks and the upcoming findings work a batch of rows at a time (for
the CPU caches): however a report is cut into batches, the result is the one of a
single pass, in the same order (serve's output follows that order)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.config import config_from_dict
from exporter.core import evaluate as evaluate_module
from exporter.core import report as report_module
from exporter.core.evaluate import Evaluation, evaluate
from exporter.core.records import CredentialReport
from exporter.core.report import COLUMNS, KEY_USE_COLUMNS, ReportFormatError, parse_report
from exporter.core.upcoming import Upcoming, upcoming_in_report
from tests.support.reports import AS_OF, report
from tests.support.strategies import report_rows

CONFIG = config_from_dict(
    {"exemptions": [{"user": "a*", "reason": "accepted"}, {"user": "*z", "reason": "accepted"}]}
)
LEGACY = tuple(c for c in COLUMNS if c not in KEY_USE_COLUMNS)
DATES = st.sampled_from(["2026-11-30T00:00:00+00:00", "2026-11-20T00:00:00Z", "garbage", ""])


@contextmanager
def batches_of(rows: int) -> Iterator[None]:
    saved = report_module.BATCH_ROWS, evaluate_module.BATCH_ROWS
    report_module.BATCH_ROWS = evaluate_module.BATCH_ROWS = rows
    try:
        yield
    finally:
        report_module.BATCH_ROWS, evaluate_module.BATCH_ROWS = saved


Outcome = tuple[CredentialReport, Evaluation, tuple[Upcoming, ...]] | str


def audit(data: bytes, rows: int) -> Outcome:
    with batches_of(rows):
        try:
            rep = parse_report(data, AS_OF - timedelta(days=1), AS_OF)
        except ReportFormatError as err:
            return str(err)
        ev = evaluate(rep, CONFIG, AS_OF)
        soon = upcoming_in_report(rep, CONFIG, AS_OF, timedelta(days=30), ev.not_evaluated)
        return rep, ev, soon


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=report_rows(max_users=9),
    legacy=st.booleans(),
    dates=st.lists(st.tuples(st.integers(0, 9), DATES), max_size=3),
    size=st.integers(1, 4),
)
def test_batches_change_nothing(
    rows: list[dict[str, str]], legacy: bool, dates: list[tuple[int, str]], size: int
) -> None:
    # Some rows get a date later than the report, unreadable or empty: problems whose
    # texts are collected across batches.
    for at, text in dates:
        if rows:
            rows[at % len(rows)]["password_last_used"] = text
    data = report(*rows, columns=LEGACY if legacy else COLUMNS)
    whole = audit(data, 10_000)
    batched = audit(data, size)
    assert batched == whole
    if not isinstance(whole, str):
        # Each list in check order (the policy's), rows in order within a check.
        rank = list(CONFIG.checks).index
        for found in (whole[1].findings, whole[1].exempted):
            assert [rank(f.check) for f in found] == sorted(rank(f.check) for f in found)

"""Nothing crashes: any bytes either parse or raise ReportFormatError, and evaluating
whatever parses never raises (Hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.config import Config
from exporter.core.diff import diff_reports
from exporter.core.evaluate import evaluate
from exporter.core.records import FUTURE, CredentialReport
from exporter.core.report import CLOCK_LEEWAY, COLUMNS, ReportFormatError, parse_report
from tests.support.reports import AS_OF, report
from tests.support.strategies import report_rows

HEADER = ",".join(COLUMNS).encode()
CONFIG = Config()
# Cheap inputs get many examples; the mutated reports (built field by field) fewer.
SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=150)


def parse_or_reject(data: bytes) -> CredentialReport | None:
    try:
        return parse_report(data)
    except ReportFormatError as err:
        assert str(err)  # a message that says something
        return None


def check_everything(data: bytes) -> None:
    rep = parse_or_reject(data)
    if rep is None:
        return
    for now in (AS_OF, AS_OF + timedelta(days=3650), AS_OF - timedelta(days=3650)):
        result = evaluate(rep, CONFIG, now)
        assert len(result.findings) + len(result.exempted) >= 0
    diff_reports(rep, rep)
    assert diff_reports(rep, rep) == []


@SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    check_everything(data)


@SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_bytes_after_a_valid_header(data: bytes) -> None:
    check_everything(HEADER + b"\n" + data)


# Fields of CSV-looking text: commas, quotes, newlines, specials, dates and junk.
FIELDS = st.one_of(
    st.sampled_from(["true", "false", "N/A", "no_information", "not_supported", "", '"', ","]),
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00", "0001-01-01T00:00:00",
                     "9999-12-31T23:59:59+14:00", "2026-02-30T00:00:00Z", "\r", "\n"]),
    st.text(max_size=12),
)  # fmt: skip


@FEWER
@given(st.lists(st.lists(FIELDS, min_size=20, max_size=24), max_size=6))
def test_rows_of_arbitrary_fields(rows: list[list[str]]) -> None:
    body = "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")
    check_everything(HEADER + b"\n" + body)


INSERTS = [b",", b'"', b"\n", b"\r", b"\x00", b"\xff", b"Z", b"N/A", b"true", b"+99:99"]


@st.composite
def mutated_reports(draw: st.DrawFn) -> bytes:
    data = bytearray(report(*draw(report_rows(max_users=4))))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "delete" and data:
            del data[at : at + draw(st.integers(1, 40))]
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(INSERTS))
        else:
            del data[at:]
    return bytes(data)


@FEWER
@given(mutated_reports())
def test_mutated_valid_reports(data: bytes) -> None:
    check_everything(data)


@FEWER
@given(
    rows=report_rows(max_users=5),
    generated=st.none() | st.integers(-3 * 86400, 3 * 86400),
    now=st.integers(-3 * 86400, 3 * 86400),
)
def test_no_date_later_than_the_report_survives_the_parse(
    rows: list[dict[str, str]], generated: int | None, now: int
) -> None:
    when = None if generated is None else AS_OF + timedelta(seconds=generated)
    at = AS_OF + timedelta(seconds=now)
    rep = parse_report(report(*rows), when, at)
    limit = min(t for t in (when, at + CLOCK_LEEWAY) if t is not None)
    for r in rep.records:
        dates = [r.user_creation_time, r.password_last_used, r.password_last_changed]
        dates += [t for k in r.access_keys for t in (k.last_rotated, k.last_used)]
        dates += [c.last_rotated for c in r.certificates]
        assert all(not isinstance(d, datetime) or d <= limit for d in dates)
    unbounded = parse_report(report(*rows))
    over = sum(
        isinstance(d, datetime) and d > limit
        for r in unbounded.records
        for d in (
            r.user_creation_time, r.password_last_used, r.password_last_changed,
            *(t for k in r.access_keys for t in (k.last_rotated, k.last_used)),
            *(c.last_rotated for c in r.certificates),
        )
    )  # fmt: skip
    assert over == sum(p.reason == FUTURE and p.line > 0 for p in rep.problems)
    # No age is negative, whatever the clocks.
    for f in evaluate(rep, CONFIG, at).findings:
        assert all(v >= 0 for k, v in f.facts.items() if k.endswith(("_days", "_use")))

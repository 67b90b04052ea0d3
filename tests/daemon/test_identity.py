"""Account identity is the account id: a source of unknown account exports nothing
until read, and two sources that yield one account are caught at every refresh."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from exporter.config import Config
from exporter.daemon.landing import render_landing
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.snapshot import Snapshot
from exporter.sources.base import FetchedReport, FileReportSource, SourceError
from tests.support.exporter_process import parse_samples, sample_value
from tests.support.sample_reports import NOW, sample_report

A, B = "111111111111", "222222222222"


def files(tmp_path: Path, *names: str) -> list[AccountTarget]:
    return [
        AccountTarget("", str(tmp_path / n), FileReportSource(str(tmp_path / n))) for n in names
    ]


def refresher(targets: list[AccountTarget]) -> Refresher:
    # One worker reads the sources in their order: the first to yield an account is
    # then always the first listed (with more, the first to answer).
    return Refresher(lambda: targets, Config(), now=lambda: NOW, workers=1)


def samples(snapshot: Snapshot) -> dict:  # type: ignore[type-arg]
    return parse_samples(snapshot.exposition.text.decode())


def test_a_duplicate_account_appearing_later_fails_at_every_refresh(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(sample_report(3, A))
    targets = files(tmp_path, "a.csv", "b.csv")  # b.csv does not exist yet
    r = refresher(targets)
    first = r.run()
    assert [s.account_id for s in first.accounts] == [A]
    assert [(p.name, p.reason) for p in first.pending] == [(targets[1].name, "file_error")]

    (tmp_path / "b.csv").write_bytes(sample_report(5, A))  # another copy of account A
    for count in (1, 2):
        snapshot = r.run()
        s = samples(snapshot)
        assert sample_value(s, "aws_iam_users", account_id=A) == 3  # one series, a.csv's
        assert sample_value(s, "aws_iam_exporter_refresh_success", account_id=A) == 1
        assert sample_value(s, "aws_iam_exporter_refresh_errors_total",
                            account_id=A, reason="duplicate_account") == count  # fmt: skip
        assert sample_value(s, "aws_iam_exporter_pending_sources",
                            reason="duplicate_account") == 1  # fmt: skip
        (pending,) = snapshot.pending
        assert (pending.name, pending.account_id) == (targets[1].name, A)
        assert f"{tmp_path / 'a.csv'} already yields" in pending.message
    page = render_landing(snapshot, "/metrics", NOW).decode()
    assert "b.csv" in page and "duplicate_account" in page
    assert len([x for x in s["aws_iam_finding"] if x[0]["account_id"] == A]) == 6  # 3 users
    r.close()


def test_the_first_source_keeps_its_account_while_it_fails(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_bytes(sample_report(2, A))
    r = refresher(files(tmp_path, "a.csv", "b.csv"))
    r.run()
    (tmp_path / "a.csv").unlink()
    snapshot = r.run()
    state = snapshot.account(A)
    assert state is not None and state.name == str(tmp_path / "a.csv") and not state.success
    assert dict(state.errors_total) == {"duplicate_account": 2, "file_error": 1}
    assert [p.reason for p in snapshot.pending] == ["duplicate_account"]
    r.close()


def test_a_configured_account_id_beats_a_source_that_learns_it() -> None:
    class Ambient:
        """An AWS-like source: it can tell its account without its report."""

        def __init__(self, account: str) -> None:
            self.account = account

        def account_id(self) -> str:
            return self.account

        def fetch(self) -> FetchedReport:
            return FetchedReport(sample_report(1, self.account), NOW - timedelta(hours=1))

    targets = [AccountTarget("", "ambient", Ambient(A)), AccountTarget(A, "prod", Ambient(A))]
    r = refresher(targets)
    for _ in range(2):  # whichever answers first
        snapshot = r.run()
        assert [(s.account_id, s.name) for s in snapshot.accounts] == [(A, "prod")]
        assert [(p.name, p.reason) for p in snapshot.pending] == [("ambient", "duplicate_account")]
    r.close()


def test_a_failure_is_the_account_s_once_the_source_can_tell_its_account() -> None:
    class Ambient:
        """An AWS-like source: when its report fails, STS may still tell its account."""

        def __init__(self) -> None:
            self.identity: Exception | None = SourceError("connection_error", "no route")
            self.report: Exception | None = SourceError("access_denied", "no GetCredentialReport")

        def account_id(self) -> str:
            if self.identity is not None:
                raise self.identity
            return B

        def fetch(self) -> FetchedReport:
            if self.report is not None:
                raise self.report
            return FetchedReport(sample_report(1, B), NOW)

    source = Ambient()
    r = refresher([AccountTarget("", "ambient", source)])
    snapshot = r.run()  # neither the report nor STS: the account is unknown
    assert snapshot.accounts == () and snapshot.ready
    assert [(p.name, p.reason) for p in snapshot.pending] == [("ambient", "access_denied")]
    assert not {"aws_iam_account_info", "aws_iam_exporter_refresh_success"} & set(samples(snapshot))
    source.identity = None
    snapshot = r.run()  # STS answers: the report's failure is the account's
    assert not snapshot.pending
    s = samples(snapshot)
    assert sample_value(s, "aws_iam_exporter_refresh_success", account_id=B) == 0
    assert sample_value(s, "aws_iam_exporter_refresh_errors_total",
                        account_id=B, reason="access_denied") == 1  # fmt: skip
    source.report = None
    assert r.run().account(B).success  # type: ignore[union-attr]
    r.close()


def test_a_file_that_now_holds_another_account_moves_to_it(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(sample_report(2, A))
    r = refresher(files(tmp_path, "a.csv"))
    assert [s.account_id for s in r.run().accounts] == [A]
    (tmp_path / "a.csv").write_bytes(sample_report(2, B))
    snapshot = r.run()
    assert [s.account_id for s in snapshot.accounts] == [B]
    assert sample_value(samples(snapshot), "aws_iam_users", account_id=A) is None
    r.close()


def test_a_report_that_names_no_account_is_pending(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(sample_report(0, A).splitlines(keepends=True)[0])
    snapshot = refresher(files(tmp_path, "a.csv")).run()
    assert snapshot.accounts == ()
    assert [p.reason for p in snapshot.pending] == ["invalid_report"]

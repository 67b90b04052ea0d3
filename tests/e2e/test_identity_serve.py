"""Account identity with the real serve process: a report file that is empty at
start-up has no state until read and a restart serves it once; a second file of the
same account created later fails with ``duplicate_account``, never doubling a series."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.aws_exporter import errors, success, users, wait_samples
from tests.support.exporter_process import Samples, exporter_process, sample_value
from tests.support.sample_reports import sample_report

pytestmark = pytest.mark.slow

ACCOUNT = "111122223333"


def write_atomically(path: Path, content: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def pending(samples: Samples, reason: str) -> float | None:
    return sample_value(samples, "aws_iam_exporter_pending_sources", reason=reason)


def test_a_file_empty_at_start_up_is_saved_under_its_account_and_restored_once(
    tmp_path: Path,
) -> None:
    report, state = tmp_path / "report.csv", tmp_path / "state"
    report.write_bytes(b"")
    flags = ("--report-file", str(report), "--state.dir", str(state), "--refresh.interval", "1s")
    with exporter_process(*flags, ready=True) as exp:  # a recorded failure makes it ready
        s = wait_samples(exp, lambda s: pending(s, "invalid_report") == 1)
        assert "aws_iam_account_info" not in s and "aws_iam_users" not in s
        assert not list(state.glob("report-*.json"))
        assert str(report) in exp.get("/")[2].decode()
        write_atomically(report, sample_report(3, ACCOUNT))
        wait_samples(exp, lambda s: users(s, ACCOUNT) == 3 and pending(s, "invalid_report") is None)
    files = list(state.glob("report-*.json"))
    assert len(files) == 1 and ACCOUNT in files[0].name
    with exporter_process(*flags) as exp:
        s = exp.samples()  # sample_value fails on two samples with the same labels
        assert users(s, ACCOUNT) == 3
        assert len(s["aws_iam_account_info"]) == 1
        wait_samples(exp, lambda s: success(s, ACCOUNT) == 1)
    assert len(list(state.glob("report-*.json"))) == 1


def test_a_second_file_of_the_same_account_created_later_is_a_duplicate(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_atomically(first, sample_report(3, ACCOUNT))
    flags = ("--report-file", str(first), "--report-file", str(second), "--refresh.interval", "1s")
    with exporter_process(*flags) as exp:
        s = exp.samples()
        assert users(s, ACCOUNT) == 3 and pending(s, "file_error") == 1
        write_atomically(second, sample_report(5, ACCOUNT))
        s = wait_samples(exp, lambda s: errors(s, "duplicate_account", ACCOUNT) >= 2)
        assert users(s, ACCOUNT) == 3  # the first file's, once
        assert pending(s, "duplicate_account") == 1 and pending(s, "file_error") is None
        series = [labels for labels, _ in s["aws_iam_finding"]]
        assert len(series) == len({tuple(sorted(x.items())) for x in series}) == 6
        page = exp.get("/")[2].decode()
        assert str(second) in page and "duplicate_account" in page
        assert f"it yields account {ACCOUNT}, which {first} already yields" in exp.log()

"""How ``audit`` runs as a process: no collector for a one-shot command, no threads
for local files."""

from __future__ import annotations

import argparse
import base64
import gc
import json
from pathlib import Path

import pytest

import exporter.cli.audit_accounts as audit_accounts_module
from exporter.cli import audit
from exporter.cli.main import main
from tests.support.reports import ACCOUNT, AS_OF_TEXT, report, root_row, saved, user_row


def two_reports(tmp_path: Path) -> list[str]:
    args = []
    for i in range(2):
        account = f"{int(ACCOUNT) + i}"
        rows = [root_row(), user_row("alice")]
        for row in rows:
            row["arn"] = row["arn"].replace(ACCOUNT, account)
        args += ["--report-file", str(saved(tmp_path / f"r{i}.csv", report(*rows)))]
    return args


def test_audit_runs_without_the_collector_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[bool] = []
    real_run = audit.run

    def run(args: argparse.Namespace) -> int:
        seen.append(gc.isenabled())
        return real_run(args)

    monkeypatch.setattr(audit, "run", run)
    gc.enable()
    args = ["audit", "--format", "json", "--as-of", AS_OF_TEXT, *two_reports(tmp_path)]
    assert main(args) == 0
    assert seen == [False]
    assert gc.isenabled()
    assert len(json.loads(capsys.readouterr().out)["accounts"]) == 2


def test_report_files_are_audited_without_a_thread_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a thread pool for local files")

    monkeypatch.setattr(audit_accounts_module, "ThreadPoolExecutor", no_pool)
    args = ["audit", "--format", "json", "--as-of", AS_OF_TEXT, *two_reports(tmp_path)]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [a["source"] for a in doc["accounts"]] == [str(tmp_path / "r0.csv"),
                                                       str(tmp_path / "r1.csv")]  # fmt: skip


def test_a_base64_report_file_is_one_line_that_says_how_to_decode_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    encoded = base64.encodebytes(report(root_row(), user_row("alice")))  # wrapped, as saved
    path = saved(tmp_path / "report.csv", encoded)
    assert main(["audit", "--report-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "looks base64-encoded" in err
    assert "base64 --decode > report.csv" in err and "missing" not in err

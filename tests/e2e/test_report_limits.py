"""Big reports with the real ``serve`` process: refused over --report.max-bytes, and
never in the way of listening."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from benchmarks.bench_scrape import report_csv
from tests.support.exporter_process import exporter_process
from tests.support.net import free_port
from tests.support.sample_reports import sample_report

pytestmark = pytest.mark.slow


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_report_over_the_cap_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as f:
        f.truncate(200 << 20)  # 200 MB, over the default 64 MiB
    with exporter_process("--report-file", str(huge)) as exp:
        samples = exp.samples()
        pending = exp.value(samples, "aws_iam_exporter_pending_sources", reason="report_too_large")
        assert pending == 1
        assert "over --report.max-bytes (67108864)" in exp.log()
        assert peak_rss_mb(exp.proc.pid) < 150


def test_the_cap_is_set_with_report_max_bytes(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_bytes(sample_report(3))
    limit = str(len(sample_report(3)) - 1)
    with exporter_process("--report-file", str(report), "--report.max-bytes", limit) as exp:
        samples = exp.samples()
        assert exp.value(samples, "aws_iam_exporter_pending_sources", reason="report_too_large")
    with exporter_process("--report-file", str(report), "--report.max-bytes", "1MiB") as exp:
        assert exp.value(exp.samples(), "aws_iam_users", account_id="111122223333") == 3


def first_200(url: str, started: float, timeout: float = 120) -> float:
    """Seconds from ``started`` to the first 200 from ``url``."""
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError(url)


def test_the_server_listens_before_a_big_saved_report_is_parsed(tmp_path: Path) -> None:
    report, state = tmp_path / "report.csv", tmp_path / "state"
    report.write_bytes(report_csv(30_000, datetime.now(timezone.utc)))  # ~10 MB
    flags = ("--report-file", str(report), "--state.dir", str(state))
    with exporter_process(*flags, timeout=120):
        pass  # refreshed once: the report is saved
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with exporter_process(*flags, "--web.listen-address", f"127.0.0.1:{port}", ready=False):
        first_200(f"{base}/-/healthy", time.monotonic())
        # Ordering, not a time budget: the server answers while the saved report is still
        # being parsed, so readiness is still refused at the first healthy answer.
        assert status(f"{base}/-/ready") == 503
        first_200(f"{base}/-/ready", time.monotonic())


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return e.code

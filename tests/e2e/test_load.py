"""50 concurrent scrapers for 30 s while refreshes run: no request fails and every
body is one consistent snapshot.

The report file flips between two versions (B lacks some users) faster than the
exporter refreshes, so consecutive snapshots differ. A body mixing two snapshots
would show a user count of one version with the findings of the other, or
``aws_iam_findings`` totals that disagree with its own ``aws_iam_finding`` series.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.bench_load import scrape_concurrently
from exporter.sources.demo import DemoSource
from tests.support.exporter_process import exporter_process

pytestmark = pytest.mark.slow

_USERS = re.compile(rb"^aws_iam_users\{[^}]*\} (\S+)$", re.M)
_FINDINGS = re.compile(rb'^aws_iam_findings\{[^}]*check="([^"]+)"[^}]*\} (\S+)$', re.M)
_FINDING = re.compile(rb'^aws_iam_finding\{[^}]*check="([^"]+)"', re.M)


def versions() -> tuple[bytes, bytes]:
    full = DemoSource().fetch().content
    lines = full.splitlines(keepends=True)
    return full, b"".join(lines[:-6])  # B: the last six users removed


class ConsistencyCheck:
    """Remembers the findings seen with each user count; every body must agree."""

    def __init__(self) -> None:
        self.by_users: dict[float, dict[bytes, float]] = {}
        self.lock = threading.Lock()

    def __call__(self, body: bytes) -> str | None:
        users = _USERS.findall(body)
        if len(users) != 1:
            return f"{len(users)} aws_iam_users samples"
        findings = {check: float(v) for check, v in _FINDINGS.findall(body)}
        series = Counter(_FINDING.findall(body))
        for check, count in findings.items():
            if series.get(check, 0) != count:
                return (
                    f"aws_iam_findings{{check={check!r}}}={count} but {series.get(check, 0)} series"
                )
        with self.lock:
            known = self.by_users.setdefault(float(users[0]), findings)
        if known != findings:
            return f"users={users[0]!r} seen with two different sets of findings"
        return None


def test_fifty_scrapers_during_refreshes_see_only_whole_snapshots(tmp_path: Path) -> None:
    a, b = versions()
    report = tmp_path / "report.csv"
    report.write_bytes(a)
    stop = threading.Event()
    flips = [0]

    def flipper() -> None:
        while not stop.wait(0.3):
            tmp = tmp_path / "report.tmp"
            tmp.write_bytes(b if flips[0] % 2 == 0 else a)
            os.replace(tmp, report)
            flips[0] += 1

    with exporter_process("--report-file", str(report), "--refresh.interval", "1s") as exp:
        thread = threading.Thread(target=flipper, daemon=True)
        thread.start()
        check = ConsistencyCheck()
        try:
            stats = scrape_concurrently(exp.port, seconds=30, clients=50, check=check)
        finally:
            stop.set()
            thread.join()
        assert exp.proc.poll() is None
    assert stats.failures == [], stats.failures[:5]
    assert len(stats.latencies) > 50
    # Both versions were served: refreshes really ran while the scrapers did.
    assert len(check.by_users) == 2, check.by_users.keys()

"""Target 5: from process start to ``/-/ready`` with a saved state, <= 1 s.

A first ``serve --report-file R --state.dir S`` refreshes once and saves the
report. Each measured run then starts ``serve`` on the same state directory with
``--report-file`` pointing at a FIFO that nobody writes: its first refresh blocks
for as long as the run lasts (a stand-in for an AWS account that takes its time
to generate the report), so the only way to be ready is to restore the saved
state. The run checks that ``/metrics`` serves the saved account at that moment,
then writes nothing to the FIFO, which ends the blocked refresh.

The clock starts just before the process is spawned (interpreter start-up and
imports included) and stops at the first 200 from ``/-/ready`` (polled every
5 ms). For context: the same start-up with no state and a readable report file,
and ``python -m exporter --version`` (interpreter + imports, the floor).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result
from benchmarks.serve_process import REPO, serve
from benchmarks.synthetic import ACCOUNT_ID, generate_report

TARGET_S = 1.0
USERS = 1000


def save_state(report: Path, state: Path) -> float:
    """Run serve once so that it saves ``report`` under ``state``; its time to ready."""
    with serve(["--report-file", str(report), "--state.dir", str(state)]) as server:
        ready = server.wait_ready()
        deadline = time.monotonic() + 30
        while not any(state.glob("report-*.json")):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no state saved in {state}:\n{server.tail()}")
            time.sleep(0.05)
    return ready


def ready_from_state(fifo: Path, state: Path) -> float:
    with serve(["--report-file", str(fifo), "--state.dir", str(state)]) as server:
        try:
            ready = server.wait_ready()
            status, body = server.get("/metrics")
            wanted = f'aws_iam_users{{account_id="{ACCOUNT_ID}"'
            if status != 200 or wanted.encode() not in body:
                raise RuntimeError(f"ready, but the saved account is not served:\n{server.tail()}")
        finally:
            _release(fifo)
    return ready


def _release(fifo: Path) -> None:
    """Open the FIFO for writing and close it: the blocked reader sees an empty file."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # nobody is reading it (yet): nothing is blocked
    os.close(fd)


def version_seconds() -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "exporter", "--version"], cwd=REPO, check=True, capture_output=True
    )
    return time.perf_counter() - start


def run(quick: bool) -> list[Result]:
    runs = 2 if quick else 9
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        report, state, fifo = Path(tmp, "report.csv"), Path(tmp, "state"), Path(tmp, "slow.csv")
        report.write_bytes(generate_report(USERS))
        os.mkfifo(fifo)
        cold = [save_state(report, state)]
        warm = []
        for _ in range(runs):
            warm.append(ready_from_state(fifo, state))
            if len(cold) < runs:
                cold.append(save_state(report, Path(tmp, f"state-{len(cold)}")))
    floor = statistics.median(version_seconds() for _ in range(runs))
    median = statistics.median(warm)
    return [
        Result(
            f"start-up to /-/ready, saved state ({USERS} users, first refresh blocked)",
            median,
            "s",
            target=f"<= {TARGET_S:g} s",
            passed=median <= TARGET_S,
        ),
        Result(
            f"start-up to /-/ready, no state, report file ({USERS} users)",
            statistics.median(cold),
            "s",
        ),
        Result("reference: python -m exporter --version (imports)", floor, "s"),
    ]

"""50 concurrent scrapers against the real ``serve`` process while refreshes run.

Measures requests per second and p99 latency of ``/metrics`` with a refresh every
second (a 2,000-user report re-read, re-evaluated and re-rendered each time),
against the same load on the same process kind with no refresh running (the
baseline, measured in the same run). Every request must succeed.

``scrape_concurrently`` is also used by ``tests/faults/test_load.py``, which adds
a per-body consistency check.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import Result, percentile
from benchmarks.synthetic import generate_report

REPO = Path(__file__).resolve().parents[1]
CLIENTS = 50
# Returns None when the body is fine, else what is wrong with it.
BodyCheck = Callable[[bytes], "str | None"]


@dataclass
class LoadStats:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.failures)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def scrape_concurrently(
    port: int,
    seconds: float,
    clients: int = CLIENTS,
    check: BodyCheck | None = None,
    path: str = "/metrics",
) -> LoadStats:
    """``clients`` threads scrape ``path`` back to back (keep-alive) for ``seconds``."""
    stats = LoadStats(seconds)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def scraper() -> None:
        conn: http.client.HTTPConnection | None = None
        start.wait()
        while time.monotonic() < deadline[0]:
            began = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                elapsed = time.perf_counter() - began
                problem = f"HTTP {resp.status}" if resp.status != 200 else None
                if problem is None and check is not None:
                    problem = check(body)
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as err:
                problem, elapsed = f"{type(err).__name__}: {err}", 0.0
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                if problem is None:
                    stats.latencies.append(elapsed)
                else:
                    stats.failures.append(problem)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=scraper, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + seconds
    start.wait()
    for t in threads:
        t.join(timeout=seconds + 60)
    return stats


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(report: Path, interval: str) -> Iterator[int]:
    """A real ``serve --report-file`` child refreshing every ``interval``; yields its port."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "serve", "--report-file", str(report),
         "--refresh.interval", interval, "--web.listen-address", f"127.0.0.1:{port}",
         "--log.level", "warn"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the exporter did not become ready") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(quick: bool) -> list[Result]:
    seconds = 5.0 if quick else 30.0
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.csv"
        report.write_bytes(generate_report(2000))
        with serving(report, "1h") as port:  # baseline: no refresh during the run
            idle = scrape_concurrently(port, seconds)
        with serving(report, "1s") as port:
            busy = scrape_concurrently(port, seconds)
    p99_idle = percentile(idle.latencies, 99) * 1000 if idle.latencies else float("nan")
    p99_busy = percentile(busy.latencies, 99) * 1000 if busy.latencies else float("nan")
    failed = len(idle.failures) + len(busy.failures)
    label = f"{CLIENTS} scrapers, {seconds:g}s, refresh every 1s"
    return [
        Result(f"load: {label} (req/s)", busy.rate, "req/s", idle.rate,
               "ratio >= 0.5", busy.rate >= 0.5 * idle.rate),
        Result(f"load: {label} (p99 ms)", p99_busy, "ms", p99_idle,
               "ratio <= 4", p99_busy <= 4 * p99_idle),
        Result(f"load: failed requests ({idle.requests + busy.requests} sent)", failed, "",
               None, "== 0", failed == 0),
    ]  # fmt: skip

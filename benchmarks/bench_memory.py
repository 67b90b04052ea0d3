"""Target 4: resident memory of ``serve``: an idle demo, and 200 accounts x 1000 users.

The demo is the smallest real deployment: two small accounts (46 users), the
scheduler, the HTTP server and a rendered snapshot. RSS is read from ``/proc/PID/status`` after
the process is ready, has served ``/metrics`` once and has sat idle for a
moment; the figure is the median over several fresh processes. For context
the same is measured for a bare interpreter, and for one that only imports
what ``serve`` imports: the difference is what the data and threads cost.

``bench_multi_account`` measures the peak RSS of a process holding the daemon
state of 200 accounts x 1000 users after one refresh (the Refresher in process).
This module measures the whole ``serve`` process end to end: 200 saved reports of
1000 users each (``--report-file`` x 200, distinct account ids), the first
refresh, one scrape of ``/metrics``, then VmHWM, the peak resident set.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result
from benchmarks.serve_process import serve
from benchmarks.synthetic import generate_report

TARGET_PEAK_MB = 200.0

IDLE_SECONDS = 1.0
_STATUS = "print(open('/proc/self/status').read())"
# What ``serve --demo`` imports before it holds any data (boto3 is imported lazily).
_SERVE_IMPORTS = "import exporter.cli.main, exporter.cli.serve, exporter.sources.demo;"


def idle_demo_mb() -> dict[str, float]:
    with serve(["--demo"]) as server:
        server.wait_ready()
        status, _ = server.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        time.sleep(IDLE_SECONDS)
        return server.memory_mb()


def serve_many_mb(accounts: int, users: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        args = []
        for i in range(accounts):
            path = Path(tmp, f"account-{i:03d}.csv")
            path.write_bytes(generate_report(users, seed=i, account_id=f"{100000000000 + i}"))
            args += ["--report-file", str(path)]
        with serve(args) as server:
            server.wait_ready(timeout=600)
            status, body = server.get("/metrics", timeout=60)
            if status != 200 or b"aws_iam_finding{" not in body:
                raise RuntimeError(f"/metrics answered {status}:\n{server.tail()}")
            return {**server.memory_mb(), "metrics_mb": len(body) / 1e6}


def interpreter_mb(code: str = "") -> float:
    out = subprocess.run(
        [sys.executable, "-c", code + _STATUS], capture_output=True, text=True, check=True
    )
    for line in out.stdout.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("no VmRSS in /proc/self/status")


def run(quick: bool) -> list[Result]:
    runs = 1 if quick else 5
    demo = [idle_demo_mb() for _ in range(runs)]
    bare = statistics.median(interpreter_mb() for _ in range(runs))
    imports = statistics.median(interpreter_mb(_SERVE_IMPORTS) for _ in range(runs))
    rss = statistics.median(d["VmRSS"] for d in demo)
    accounts, users = (10, 200) if quick else (200, 1000)
    many = serve_many_mb(accounts, users)
    return [
        Result(
            f"serve peak RSS (VmHWM), {accounts} accounts x {users} users, after a scrape",
            many["VmHWM"],
            "MB",
            target="" if quick else f"< {TARGET_PEAK_MB:g} MB",
            passed=None if quick else many["VmHWM"] < TARGET_PEAK_MB,
        ),
        Result(
            f"serve RSS after that scrape ({many['metrics_mb']:.1f} MB of /metrics)",
            many["VmRSS"],
            "MB",
        ),
        Result("idle demo RSS (serve --demo, after one scrape)", rss, "MB"),
        Result("idle demo peak RSS (VmHWM)", statistics.median(d["VmHWM"] for d in demo), "MB"),
        Result("reference: serve's imports only, no data RSS", imports, "MB"),
        Result("reference: bare python interpreter RSS", bare, "MB"),
    ]

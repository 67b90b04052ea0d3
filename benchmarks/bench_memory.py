"""Target 4 (part): resident memory of an idle ``serve --demo``.

The demo is the smallest real deployment: one account, the scheduler, the HTTP
server and a rendered snapshot. RSS is read from ``/proc/PID/status`` after
the process is ready, has served ``/metrics`` once and has sat idle for a
moment; the figure is the median over several fresh processes. For context
the same is measured for a bare interpreter, and for one that only imports
what ``serve`` imports: the difference is what the data and threads cost.

(The peak RSS of ``serve`` holding 200 accounts x 1000 users is measured by
``bench_multi_account``; see docs/performance.md.)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from benchmarks.common import Result
from benchmarks.serve_process import serve

IDLE_SECONDS = 1.0
_STATUS = "print(open('/proc/self/status').read())"
# What ``serve --demo`` imports before it holds any data (boto3 is imported lazily).
_SERVE_IMPORTS = "import exporter.cli, exporter.commands.serve, exporter.demo;"


def idle_demo_mb() -> dict[str, float]:
    with serve(["--demo"]) as server:
        server.wait_ready()
        status, _ = server.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        time.sleep(IDLE_SECONDS)
        return server.memory_mb()


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
    return [
        Result("idle demo RSS (serve --demo, after one scrape)", rss, "MB"),
        Result("idle demo peak RSS (VmHWM)", statistics.median(d["VmHWM"] for d in demo), "MB"),
        Result("reference: serve's imports only, no data RSS", imports, "MB"),
        Result("reference: bare python interpreter RSS", bare, "MB"),
    ]

"""Many accounts: refresh wall time against the ideal and a sequential loop; peak RSS.

Each fake account answers like AWS with a fixed latency per call: two calls for the
credential report (GenerateCredentialReport, GetCredentialReport) and two for the
role and account checks (GetAccountAuthorizationDetails, GetAccountSummary);
assumed-role credentials are cached for an hour, so AssumeRole is not on the path.
The daemon's real refresh (``Refresher`` with the accounts state hook, evaluation
and one rendering) runs them on its bounded pool.

* wall time vs the ideal ``ceil(accounts / workers) x per-account latency``
  (target <= 1.3x), and the speed-up over a plain sequential loop doing the same work;
* peak RSS (``ru_maxrss``) of a fresh process whose daemon state holds
  200 accounts x 1000 users after one refresh (target < 200 MB);
* an organisation from report files (200 x 1000, ``--report-file`` sources, the
  default 4 workers), in a fresh process: the whole refresh (first and second
  round: the second diffs every account) against parsing the same reports alone,
  measured in that process just before (target <= 2x); the time from the start of
  the first refresh to the first account served (target <= 1 s); peak RSS (< 200 MB).
"""

from __future__ import annotations

import gc
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta

from benchmarks.common import Result
from benchmarks.synthetic import AS_OF, generate_report

REPORT_CALLS = 2
DETAIL_CALLS = 2
WORKERS = 16
TARGET_RATIO = 1.3
TARGET_RSS_MB = 200.0


class FakeAccount:
    """A ``ReportSource`` and ``AccountDetailsSource`` with a fixed latency per call."""

    def __init__(self, account_id: str, users: int, latency: float, keep: bool = True) -> None:
        self.account_id = account_id
        self.users = users
        self.latency = latency
        # Small reports are made once; large ones on each fetch, as AWS would send them.
        self._content = (
            generate_report(users, seed=int(account_id), account_id=account_id) if keep else None
        )

    def fetch(self) -> object:
        from exporter.sources.base import FetchedReport

        time.sleep(REPORT_CALLS * self.latency)
        content = self._content or generate_report(
            self.users, seed=int(self.account_id), account_id=self.account_id
        )
        return FetchedReport(content, AS_OF - timedelta(minutes=20))

    def fetch_details(self) -> object:
        from exporter.core.records import AccountFacts, RoleRecord
        from exporter.sources.base import AccountDetails

        time.sleep(DETAIL_CALLS * self.latency)
        roles = tuple(
            RoleRecord(
                f"role-{n}", f"arn:aws:iam::{self.account_id}:role/role-{n}", "/",
                AS_OF - timedelta(days=400), AS_OF - timedelta(days=n * 7) if n % 3 else None,
            )
            for n in range(40)
        )  # fmt: skip
        facts = AccountFacts(self.account_id, True, self.account_id.endswith("7"))
        return AccountDetails(self.account_id, roles, facts)


def _targets(accounts: int, users: int, latency: float, keep: bool = True) -> list[object]:
    from exporter.daemon.refresh import AccountTarget

    return [
        AccountTarget(f"{n:012d}", f"account-{n}", FakeAccount(f"{n:012d}", users, latency, keep))  # type: ignore[arg-type]
        for n in range(100000000001, 100000000001 + accounts)
    ]


class _Timed:
    """Times the fetch phase of a refresh: from listing the targets to the last account's
    state hook (report, roles, facts, evaluation); the rest of ``run()`` is rendering."""

    def __init__(self, wiring: object) -> None:
        self.wiring = wiring
        self.started = 0.0
        self.last_done = 0.0

    def targets(self) -> object:
        self.started = self.last_done = time.perf_counter()
        return self.wiring.targets()  # type: ignore[attr-defined]

    def hook(self, target: object, state: object, now: object) -> object:
        state = self.wiring.state_hook(target, state, now)  # type: ignore[attr-defined]
        self.last_done = max(self.last_done, time.perf_counter())
        return state


def _refresher(targets: Sequence[object], workers: int) -> tuple[object, _Timed]:
    from exporter.config import Config
    from exporter.daemon.accounts import AccountsWiring
    from exporter.daemon.exposition import ExpositionOptions
    from exporter.daemon.refresh import Refresher

    wiring = AccountsWiring(Config(), fixed=targets)
    timed = _Timed(wiring)
    refresher = Refresher(
        timed.targets,  # type: ignore[arg-type]
        Config(),
        ExpositionOptions(collectors=(wiring.collector,)),
        now=lambda: AS_OF,
        workers=workers,
        hooks=[timed.hook],  # type: ignore[list-item]
    )
    return refresher, timed


def parallel_seconds(
    accounts: int, latency: float, workers: int, repeat: int
) -> tuple[float, float]:
    """Median (fetch phase, whole refresh) in seconds."""
    refresher, timed = _refresher(_targets(accounts, 20, latency), workers)
    fetch, whole = [], []
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            refresher.run()  # type: ignore[attr-defined]
            whole.append(time.perf_counter() - start)
            fetch.append(timed.last_done - timed.started)
    finally:
        refresher.close()  # type: ignore[attr-defined]
    return statistics.median(fetch), statistics.median(whole)


def sequential_seconds(accounts: int, latency: float) -> float:
    """The same work in a plain loop: what the pool is compared with."""
    from exporter.config import Config
    from exporter.core.analyse import analyse
    from exporter.core.evaluate import evaluate_details

    config = Config()
    targets = _targets(accounts, 20, latency)
    start = time.perf_counter()
    for t in targets:
        source = t.source  # type: ignore[attr-defined]
        analyse(source.fetch(), config, AS_OF)
        d = source.fetch_details()
        evaluate_details(d.account_id, d.roles, d.facts, config, AS_OF)
    return time.perf_counter() - start


def rss_child(accounts: int, users: int, workers: int) -> None:
    """Run in a fresh process: one refresh of ``accounts`` x ``users``, print peak RSS."""
    refresher, _ = _refresher(_targets(accounts, users, 0.0, keep=False), workers)
    snapshot = refresher.run()  # type: ignore[attr-defined]
    held = sum(len(s.analysis.report.records) for s in snapshot.accounts if s.analysis)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    gc.collect()
    figures = {"peak_mb": peak_kb * 1024 / 1e6, "held_mb": _rss_now_mb(), "records": held}
    print(json.dumps(figures))


def _rss_now_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def peak_rss_mb(accounts: int, users: int, workers: int) -> dict[str, float]:
    code = (
        "from benchmarks.bench_multi_account import rss_child; "
        f"rss_child({accounts}, {users}, {workers})"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=1800
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def org_child(directory: str, rounds: int) -> None:
    """Run in a fresh process: parse the reports of ``directory`` alone, then refresh
    them ``rounds`` times as ``serve --report-file`` would; print the figures."""
    from pathlib import Path

    from exporter.config import Config
    from exporter.core.report import parse_report
    from exporter.daemon.exposition import ExpositionOptions
    from exporter.daemon.refresh import AccountTarget, Refresher
    from exporter.sources.base import FileReportSource

    paths = sorted(str(p) for p in Path(directory).iterdir())
    parse = []
    for _ in range(rounds):
        start = time.perf_counter()
        for path in paths:
            parse_report(Path(path).read_bytes(), None, AS_OF)
        parse.append(time.perf_counter() - start)
    targets = [AccountTarget("", p, FileReportSource(p, 1 << 30)) for p in paths]
    served: list[float] = []

    def first_served(snapshot: object) -> None:
        if not served and any(s.analysis for s in snapshot.accounts):  # type: ignore[attr-defined]
            served.append(time.perf_counter())

    refresher = Refresher(lambda: targets, Config(), ExpositionOptions(), now=lambda: AS_OF,
                          on_snapshot=[first_served])  # fmt: skip
    whole = []
    started = time.perf_counter()
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            refresher.run()
            whole.append(time.perf_counter() - start)
    finally:
        refresher.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first = served[0] - started if served else float("nan")
    print(json.dumps({"parse": parse, "whole": whole, "peak_mb": peak_kb * 1024 / 1e6,
                      "first_served": first}))  # fmt: skip


def organisation(accounts: int, users: int, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as directory:
        for n in range(accounts):
            account = f"{100000000001 + n:012d}"
            content = generate_report(users, seed=int(account), account_id=account)
            with open(f"{directory}/{account}.csv", "wb") as out:
                out.write(content)
        code = (
            "from benchmarks.bench_multi_account import org_child; "
            f"org_child({directory!r}, {rounds})"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, timeout=1800)  # fmt: skip
    figures: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def _org_results(quick: bool) -> list[Result]:
    accounts, users, rounds = (20, 200, 2) if quick else (200, 1000, 3)
    org = organisation(accounts, users, rounds)
    parse = statistics.median(org["parse"])  # type: ignore[arg-type]
    first, *later = org["whole"]  # type: ignore[misc]
    steady = statistics.median(later) if later else first
    full = not quick
    label = f"{accounts} accounts x {users} users from report files"
    return [
        Result(f"{label}: parsing the reports alone (median s)", parse, "s"),
        Result(f"{label}: first refresh, start to swap (s)", first, "s", baseline=parse,
               target="ratio <= 2 (vs parsing alone)" if full else "",
               passed=(first <= 2 * parse) if full else None),
        Result(f"{label}: later refresh with diffs (median s)", steady, "s", baseline=parse,
               target="ratio <= 2 (vs parsing alone)" if full else "",
               passed=(steady <= 2 * parse) if full else None),
        Result(f"{label}: first account served after the start (s)",
               org["first_served"], "s", target="<= 1 s" if full else "",  # type: ignore[arg-type]
               passed=(org["first_served"] <= 1.0) if full else None),  # type: ignore[operator]
        Result(f"{label}: peak RSS", org["peak_mb"], "MB",  # type: ignore[arg-type]
               target=f"< {TARGET_RSS_MB:g} MB" if full else "",
               passed=(org["peak_mb"] < TARGET_RSS_MB) if full else None),  # type: ignore[operator]
    ]  # fmt: skip


def run(quick: bool) -> list[Result]:
    accounts, latency, workers = (24, 0.02, 8) if quick else (200, 0.1, WORKERS)
    per_account = (REPORT_CALLS + DETAIL_CALLS) * latency
    ideal = math.ceil(accounts / workers) * per_account
    fetch, whole = parallel_seconds(accounts, latency, workers, repeat=3)
    sequential = sequential_seconds(accounts, latency)
    rss_accounts, rss_users = (20, 200) if quick else (200, 1000)
    rss = peak_rss_mb(rss_accounts, rss_users, workers)
    ratio = fetch / ideal
    label = f"{accounts} accounts, {workers} workers, {latency * 1000:g} ms/call"
    full = not quick
    return [
        Result(f"fetch phase {label} (median s)", fetch, "s", baseline=ideal,
               target=f"ratio <= {TARGET_RATIO} (vs ideal)", passed=ratio <= TARGET_RATIO),
        Result("whole refresh incl. evaluation and rendering (median s)", whole, "s",
               baseline=ideal),
        Result(f"sequential loop, same {accounts} accounts (no rendering)", sequential, "s"),
        Result("speed-up of the pool (fetch phase) over the sequential loop",
               sequential / fetch, "x"),
        Result(f"peak RSS, state of {rss_accounts} accounts x {rss_users} users", rss["peak_mb"],
               "MB", target=f"< {TARGET_RSS_MB:g} MB" if full else "",
               passed=(rss["peak_mb"] < TARGET_RSS_MB) if full else None),
        Result("RSS held after the refresh (state + rendered metrics, after gc)",
               rss["held_mb"], "MB"),
        *_org_results(quick),
    ]  # fmt: skip

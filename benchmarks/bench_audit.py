"""``audit`` as a user runs it: whole processes, against the seed script's processes.

Ours: one ``python -m exporter audit --format json`` over 4 saved reports of 5000
users (distinct accounts), every check that reads the report evaluated and the
complete JSON written to a file; the run checks the document (4 accounts, every
finding of an in-process evaluation, nothing left out but the role and account
checks, which need the AWS APIs). Baseline, measured in the same run and in turn
with ours: the seed article's script run once per file, four processes one after
the other (``benchmarks.seed_process``), printing its findings to a file. The
script as published imports boto3; the article's code alone, without that import,
is shown too.

Each process is timed from spawn to exit, interpreter start-up and imports
included. The figures are the CPU time (user + system, from ``wait4``) of the
processes, medians over the rounds: on a machine shared with other jobs, wall time
also counts the waits for a core. Wall-clock ratios are shown as information.

Scaling: the same command on one report of 1k, 5k, 20k and 100k users, as whole
processes (CPU, peak RSS), and per user. Start-up costs 0.2-0.3 s, more than the work
on 1k users, and varies by more than that work from run to run: per-user figures
are therefore measured in a warm process (see ``WARM``), the same ``main()`` of the
command line after a first audit: CPU per user is (median CPU at N users - at the
root row only) / N, memory per user the audit's traced peak (``tracemalloc``) less
what the root-only audit holds, / N.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from benchmarks.common import Result
from benchmarks.synthetic import AS_OF, generate_report
from exporter.config import Config
from exporter.core.checks import CHECKS, REPORT_SCOPES
from exporter.core.evaluate import evaluate
from exporter.core.report import parse_report

REPO = Path(__file__).resolve().parent.parent
REPORTS, USERS = 4, 5000
TARGET_RATIO = 0.8
SCALING = (1000, 5000, 20000, 100000)
QUICK_SCALING = (1000, 5000, 20000)
FLAT_RATIO = 1.3
PEAK_TARGET_MB = 400.0
AS_OF_TEXT = AS_OF.isoformat().replace("+00:00", "Z")


# The audit of one report in a warm process: a first audit of the root-only report
# (argv[3]) loads every module and fills every cache, then the audit of argv[4:] is
# measured alone, without the interpreter and imports, which at 1k users weigh more
# than the data. "cpu": the median CPU time of ``repeat`` audits. "memory": the peak
# of the memory the audit allocates (tracemalloc), and what it still holds at the
# end (for the root-only report, that is the fixed part: a transient such as a read
# buffer never coincides with a large report's peak, so it is not subtracted).
WARM = """
import os, statistics, sys, time, tracemalloc
from exporter.cli.main import main
mode, repeat, out, warm_up, *args = sys.argv[1:]
repeat = int(repeat)
sys.stdout = open(os.devnull, "w")
main([*args[:-1], warm_up])
times = []
for _ in range(repeat):
    sys.stdout = open(out, "w")
    if mode == "memory":
        tracemalloc.start()
    start = time.process_time()
    main(args)
    sys.stdout.close()
    times.append(time.process_time() - start)
    if mode == "memory":
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
print(statistics.median(times) if mode == "cpu" else f"{peak} {current}", file=sys.stderr)
"""


# Runs a module as ``python -m`` does, then prints the process's peak RSS (VmHWM) on
# stderr as it exits. wait4's ru_maxrss cannot be used: it counts the benchmark's own
# memory, which the child shares between fork and exec.
AS_MAIN = """
import atexit, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        hwm = [line.split()[1] for line in status if line.startswith("VmHWM:")]
    print("VmHWM", hwm[0], file=sys.stderr)
atexit.register(peak)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


class Run(NamedTuple):
    cpu: float  # seconds, user + system
    wall: float  # seconds
    peak_mb: float  # VmHWM of the process (the largest, for several)


def spawn(module: str, args: Sequence[str], out: Path) -> Run:
    """``python -m module args``, from spawn to exit, its stdout in ``out``."""
    args = [sys.executable, "-c", AS_MAIN, module, *args]
    with out.open("wb") as stdout:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=REPO, stdout=stdout, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {err[-2000:]}")
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    hwm = [line.split()[1] for line in err.splitlines() if line.startswith("VmHWM ")]
    return Run(usage.ru_utime + usage.ru_stime, wall, int(hwm[-1]) / 1024)


def audit_args(paths: Sequence[Path]) -> list[str]:
    args = ["audit", "--format", "json", "--as-of", AS_OF_TEXT]
    for path in paths:
        args += ["--report-file", str(path)]
    return args


def audit(paths: Sequence[Path], out: Path) -> Run:
    return spawn("exporter", audit_args(paths), out)


def warm(mode: str, repeat: int, path: Path, warm_up: Path, out: Path) -> list[float]:
    """The audit of ``path`` in a warm process (see WARM): [CPU seconds], or [peak MB,
    held MB]."""
    done = subprocess.run(
        [sys.executable, "-c", WARM, mode, str(repeat), str(out), str(warm_up),
         *audit_args([path])],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    figures = [float(f) for f in done.stderr.strip().splitlines()[-1].split()]
    return figures if mode == "cpu" else [f / 2**20 for f in figures]


def traced_peak_mb(path: Path, warm_up: Path, out: Path) -> float:
    """The peak of the memory the audit of ``path`` allocates (tracemalloc), in MB."""
    return warm("memory", 1, path, warm_up, out)[0]


def seed(paths: Sequence[Path], out: Path, boto3: bool = True) -> Run:
    """The seed script once per file, one process after the other."""
    runs = []
    for path in paths:
        args = [str(path)] if boto3 else [str(path), "--no-boto3"]
        runs.append(spawn("benchmarks.seed_process", args, out))
    return Run(sum(r.cpu for r in runs), sum(r.wall for r in runs), max(r.peak_mb for r in runs))


def check_document(out: Path, reports: Sequence[bytes]) -> int:
    """The findings in the JSON ``audit`` wrote, after checking it is the whole audit."""
    doc = json.loads(out.read_bytes())
    expected = sum(
        len(evaluate(parse_report(data, None, AS_OF), Config(), AS_OF).findings) for data in reports
    )
    if len(doc["findings"]) != expected or len(doc["accounts"]) != len(reports):
        raise AssertionError(f"incomplete audit: {len(doc['findings'])} of {expected} findings")
    for account in doc["accounts"]:
        skipped = {CHECKS[c].scope for c in account["not_evaluated"]}
        if skipped & set(REPORT_SCOPES) or account["problems"]:
            raise AssertionError(f"not every report check was evaluated: {account}")
    return expected


def save(path: Path, data: bytes) -> Path:
    """The report saved as generated at AS_OF (a file's time is its report's)."""
    path.write_bytes(data)
    os.utime(path, (AS_OF.timestamp(), AS_OF.timestamp()))
    return path


def median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def whole_process(tmp: Path, rounds: int) -> list[Result]:
    reports = [generate_report(USERS, seed=i, account_id=f"{100000000000 + i}") for i in range(4)]
    paths = [save(tmp / f"account-{i}.csv", data) for i, data in enumerate(reports)]
    out = tmp / "audit.json"
    audit(paths, out)
    findings = check_document(out, reports)
    ours: list[Run] = []
    seeds: list[Run] = []
    bare: list[Run] = []
    for _ in range(rounds):  # in turn, so that a busy moment slows all alike
        seeds.append(seed(paths, tmp / "seed.txt"))
        bare.append(seed(paths, tmp / "seed.txt", boto3=False))
        ours.append(audit(paths, out))
    cpu, base = median(ours, "cpu"), median(seeds, "cpu")
    what = f"audit --format json, {REPORTS} reports x {USERS} users ({findings} findings)"
    return [
        Result(
            f"{what}: whole process (median CPU)",
            cpu,
            "s",
            baseline=base,
            target=f"ratio <= {TARGET_RATIO:g} vs seed script, 4 processes",
            passed=cpu <= TARGET_RATIO * base,
        ),
        Result(
            f"{what}: against the seed's code without its boto3 import (CPU)",
            cpu,
            "s",
            baseline=median(bare, "cpu"),
        ),
        Result(f"{what}: wall clock", median(ours, "wall"), "s", baseline=median(seeds, "wall")),
        Result(f"{what}: peak RSS", median(ours, "peak_mb"), "MB", median(seeds, "peak_mb")),
    ]


def scaling(tmp: Path, sizes: Sequence[int], rounds: int) -> list[Result]:
    paths = {}
    for users in (0, *sizes):
        paths[users] = save(tmp / f"users-{users}.csv", generate_report(users))
    runs: dict[int, list[Run]] = {users: [] for users in paths}
    for _ in range(rounds):
        for users, path in paths.items():
            runs[users].append(audit([path], tmp / "scaling.json"))
    out = tmp / "warm.json"
    held = warm("memory", 1, paths[0], paths[0], out)[1]
    per_user_kb = {n: (traced_peak_mb(paths[n], paths[0], out) - held) * 1024 / n for n in sizes}
    # CPU: in rounds over every size, so that a busy moment of the machine falls on
    # all sizes alike; per round, enough audits of a size to last a second or so.
    samples: dict[int, list[float]] = {n: [] for n in (0, *sizes)}
    for _ in range(rounds + 2):
        for n in samples:
            repeat = max(3, 20000 // max(n, 1000))
            samples[n] += warm("cpu", repeat, paths[n], paths[0], out)
    cpu = {n: statistics.median(times) for n, times in samples.items()}
    per_user_us = {n: (cpu[n] - cpu[0]) * 1e6 / n for n in sizes}
    results = [
        Result("audit scaling: root row only, whole process CPU", median(runs[0], "cpu"), "s"),
        Result("audit scaling: root row only, peak RSS", median(runs[0], "peak_mb"), "MB"),
    ]
    for n in sizes:
        results += [
            Result(f"audit scaling {n} users: whole process CPU", median(runs[n], "cpu"), "s"),
            Result(f"audit scaling {n} users: CPU per user", per_user_us[n], "us"),
            Result(f"audit scaling {n} users: peak memory per user (traced)", per_user_kb[n], "KB"),
            Result(f"audit scaling {n} users: peak RSS", median(runs[n], "peak_mb"), "MB"),
        ]
    small, large = sizes[0], sizes[-1]
    full = large == SCALING[-1]
    for name, per_user in (("CPU", per_user_us), ("peak memory", per_user_kb)):
        ratio = per_user[large] / per_user[small]
        results.append(
            Result(
                f"audit scaling: {name} per user at {large} / at {small} users",
                ratio,
                "x",
                target=f"<= {FLAT_RATIO:g}",
                passed=ratio <= FLAT_RATIO,
            )
        )
    peak = median(runs[large], "peak_mb")
    results.append(
        Result(
            f"audit {large} users: peak RSS",
            peak,
            "MB",
            target=f"<= {PEAK_TARGET_MB:g} MB" if full else "",
            passed=peak <= PEAK_TARGET_MB if full else None,
        )
    )
    return results


def run(quick: bool) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        results = whole_process(Path(tmp), rounds=2 if quick else 7)
        results += scaling(Path(tmp), QUICK_SCALING if quick else SCALING, 1 if quick else 3)
    return results

"""Target 1: parse a 5000-user report and evaluate every check, against the seed script.

The baseline is ``benchmarks.baseline_seed.seed_audit``: the article's script
(``csv.DictReader``, ``datetime.fromisoformat`` per date it reads, seven checks).
Ours is ``parse_report`` + ``evaluate`` with the default configuration, i.e. every
check in the catalogue that reads the report. Both get the same bytes and the
same ``now``; samples alternate between the two so that a noisy neighbour slows
both alike. Before timing, the run checks that both find the same seven-check
findings, so the comparison is like for like.

Exemptions: the same evaluation with 50 exemptions of the kinds a configuration
holds (exact user names, ``prefix*`` globs, ARN path globs, some limited to checks
or with an expiry), against none, in the same run; the target is that matching
costs next to nothing whatever the number of exemptions.

Both sides are single-threaded and CPU-bound, so the figures are CPU time
(``time.process_time``): on a shared machine wall time also counts the time the
process waited for a core. The wall-clock ratio is reported too.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from benchmarks.baseline_seed import SEED_CHECKS, check_of, seed_audit
from benchmarks.common import Result
from benchmarks.synthetic import ACCOUNT_ID, AS_OF, generate_report
from exporter.config import Config, config_from_dict
from exporter.core.checks import CHECKS, REPORT_SCOPES
from exporter.core.evaluate import evaluate
from exporter.core.report import parse_report

FULL_USERS = 5000  # the IAM quota of users per account
QUICK_USERS = 1000
EXEMPTIONS = 50
EXEMPTION_TARGET = 1.2

# One finding reduced to what both implementations state: the check, the user,
# the key, the severity and the message (root's key message differs in wording only).
Fact = tuple[str, str, "int | None", str, "str | None"]


def seed_facts(data: bytes, now: datetime) -> Counter[Fact]:
    facts: Counter[Fact] = Counter()
    for f in seed_audit(data, now):
        check, key = check_of(f)
        message = None if check == "root_access_key_active" else f["issue"]
        facts[(check, f["user"], key, f["severity"].lower(), message)] += 1
    return facts


def core_facts(data: bytes, now: datetime) -> Counter[Fact]:
    """Our findings for the seed's seven checks only."""
    facts: Counter[Fact] = Counter()
    for f in evaluate(parse_report(data), Config(), now).findings:
        if f.check in SEED_CHECKS:
            message = None if f.check == "root_access_key_active" else f.message
            facts[(f.check, f.user, f.key, f.severity, message)] += 1
    return facts


def exemptions(count: int) -> list[dict[str, object]]:
    """``count`` exemptions of a realistic mix; a few match findings, most do not."""
    kinds = (
        lambda i: {"user": f"svc-{i:05d}*"},
        lambda i: {"user": f"alice.{i * 97:05d}"},
        lambda i: {"arn": f"arn:aws:iam::*:user/team-{i}/*", "checks": ["password_unused"]},
        lambda i: {"arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ops/ci-{i:05d}*"},
        lambda i: {"user": f"deploy-0{i:03d}?", "checks": ["access_key_unused"],
                   "expires": "2099-12-31"},
    )  # fmt: skip
    return [{**kinds[i % len(kinds)](i), "reason": "accepted risk"} for i in range(count)]


def interleaved(
    fns: dict[str, Callable[[], object]], repeat: int
) -> dict[str, tuple[float, float]]:
    """Median (CPU, wall) seconds of each function, sampled in turn, after a warm-up."""
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    wall: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    return {n: (statistics.median(cpu[n]), statistics.median(wall[n])) for n in fns}


def run(quick: bool) -> list[Result]:
    users = QUICK_USERS if quick else FULL_USERS
    repeat = 5 if quick else 31
    data = generate_report(users)
    now = AS_OF
    config = Config()
    if seed_facts(data, now) != core_facts(data, now):
        raise AssertionError("the seed baseline and our core disagree: not comparable")
    report = parse_report(data)
    exempting = config_from_dict({"exemptions": exemptions(EXEMPTIONS)})
    exempted = len(evaluate(report, exempting, now).exempted)
    if not exempted:
        raise AssertionError("the exemptions match nothing: not a measure of matching")
    times = interleaved(
        {
            "seed": lambda: seed_audit(data, now),
            "core": lambda: evaluate(parse_report(data), config, now),
            "parse": lambda: parse_report(data),
            "evaluate": lambda: evaluate(report, config, now),
            "exempting": lambda: evaluate(report, exempting, now),
        },
        repeat,
    )
    ms = {name: cpu * 1000 for name, (cpu, _) in times.items()}
    wall_ratio = times["core"][1] / times["seed"][1]
    # The checks that read the report (the others use other IAM APIs).
    checks = sum(1 for c in config.enabled_checks if CHECKS[c].scope in REPORT_SCOPES)
    ratio = ms["core"] / ms["seed"]
    return [
        Result(
            f"analysis {users} users: parse + evaluate (median CPU)",
            ms["core"],
            "ms",
            baseline=ms["seed"],
            target="ratio <= 1.0 vs seed script",
            passed=ratio <= 1.0,
        ),
        Result(f"analysis {users} users: parse_report only", ms["parse"], "ms"),
        Result(f"analysis {users} users: evaluate ({checks} checks) only", ms["evaluate"], "ms"),
        Result(
            f"analysis {users} users: evaluate with {EXEMPTIONS} exemptions "
            f"({exempted} findings exempted)",
            ms["exempting"],
            "ms",
            baseline=ms["evaluate"],
            target=f"ratio <= {EXEMPTION_TARGET:g} vs no exemption",
            passed=ms["exempting"] <= EXEMPTION_TARGET * ms["evaluate"],
        ),
        Result("analysis per user: parse + evaluate", ms["core"] * 1000 / (users + 1), "us"),
        Result("analysis: core / seed in wall-clock time", wall_ratio, "x"),
    ]

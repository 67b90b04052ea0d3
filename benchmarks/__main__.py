"""Run every ``benchmarks/bench_*.py`` and print one table of figures and targets."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time

import benchmarks
from benchmarks.common import Result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run (CI)")
    parser.add_argument("--only", action="append", metavar="NAME", help="run bench_NAME only")
    args = parser.parse_args(argv)
    names = sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_")
    )
    if args.only:
        unknown = set(args.only) - set(names)
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        names = [n for n in names if n in args.only]
    results: list[Result] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        start = time.perf_counter()
        results.extend(module.run(quick=args.quick))
        print(f"# bench_{name}: {time.perf_counter() - start:.1f}s", file=sys.stderr)
    print(render(results))
    return 0


def render(results: list[Result]) -> str:
    header = ("figure", "value", "baseline", "ratio", "target", "result")
    rows = [
        (
            r.figure,
            f"{r.value:.4g} {r.unit}",
            "-" if r.baseline is None else f"{r.baseline:.4g} {r.unit}",
            "-" if r.ratio is None else f"{r.ratio:.3g}",
            r.target or "-",
            {True: "pass", False: "FAIL", None: "info"}[r.passed],
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(header)]  # fmt: skip
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    return "\n".join([line, sep, *body])


if __name__ == "__main__":
    raise SystemExit(main())

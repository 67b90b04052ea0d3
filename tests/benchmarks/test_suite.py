"""``python -m benchmarks --quick`` runs every benchmark and prints one table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import render
from benchmarks.bench_analysis import run as run_analysis
from benchmarks.common import Result

REPO = Path(__file__).resolve().parents[2]
HEADER = "| figure"


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_analysis_quick_run_reports_figure_against_the_seed_baseline() -> None:
    results = run_analysis(quick=True)
    headline = results[0]
    assert headline.figure.startswith("analysis 1000 users")
    assert headline.baseline is not None and headline.baseline > 0
    assert headline.value > 0
    assert headline.passed is not None  # a target, judged
    assert all(r.value > 0 for r in results)


def test_render_marks_pass_fail_and_info() -> None:
    table = render(
        [
            Result("a", 1.0, "ms", baseline=2.0, target="ratio <= 1.0", passed=True),
            Result("b", 3.0, "ms", baseline=2.0, target="ratio <= 1.0", passed=False),
            Result("c", 5.0, "MB"),
        ]
    )
    lines = table.splitlines()
    assert lines[0].startswith(HEADER)
    assert cells(lines[2]) == ["a", "1 ms", "2 ms", "0.5", "ratio <= 1.0", "pass"]
    assert cells(lines[3])[3:] == ["1.5", "ratio <= 1.0", "FAIL"]
    assert cells(lines[4]) == ["c", "5 MB", "-", "-", "-", "info"]


@pytest.mark.slow
def test_quick_suite_runs_and_prints_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith(HEADER)
    rows = lines[2:]
    assert rows, "no result rows"
    assert all(cells(r)[-1] in ("pass", "FAIL", "info") for r in rows)
    benches = sorted(p.stem for p in (REPO / "benchmarks").glob("bench_*.py"))
    for bench in benches:
        assert f"# {bench}:" in out.stderr, f"{bench} did not run"
    figures = [cells(r)[0] for r in rows]
    assert any(f.startswith("analysis 1000 users: parse + evaluate") for f in figures)
    assert any(f.startswith("idle demo RSS") for f in figures)
    assert any(f.startswith("start-up to /-/ready, saved state") for f in figures)
    assert any(f.startswith("audit --format json, 4 reports x 5000 users") for f in figures)
    assert any(f.startswith("audit scaling: CPU per user at") for f in figures)
    assert any("evaluate with 50 exemptions" in f for f in figures)

"""bench_audit measures real processes: the seed script's prints what the article's
prints, ours writes the whole audit, and each run's figures come from that process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.baseline_seed import seed_audit
from benchmarks.bench_audit import audit, check_document, save, seed, traced_peak_mb, warm
from benchmarks.synthetic import AS_OF, generate_report

pytestmark = pytest.mark.slow  # each test starts interpreters


def test_the_seed_process_prints_every_finding_of_the_seed_script(tmp_path: Path) -> None:
    data = generate_report(300, seed=3)
    path = save(tmp_path / "report.csv", data)
    run = seed([path], tmp_path / "seed.txt", boto3=False)
    lines = (tmp_path / "seed.txt").read_text().splitlines()
    expected = seed_audit(data, AS_OF)
    assert f"Total findings: {len(expected)}" in lines
    assert sum(line.startswith("[") for line in lines) == len(expected) > 50
    assert run.cpu > 0 and run.wall >= run.cpu / 2 and run.peak_mb > 5


def test_our_process_writes_the_whole_audit_and_its_peak_is_its_own(tmp_path: Path) -> None:
    reports = [generate_report(200, seed=i, account_id=f"{100000000000 + i}") for i in range(2)]
    paths = [save(tmp_path / f"r{i}.csv", data) for i, data in enumerate(reports)]
    out = tmp_path / "audit.json"
    run = audit(paths, out)
    assert check_document(out, reports) == len(json.loads(out.read_bytes())["findings"]) > 50
    # The benchmark process holds more than a small audit: ru_maxrss would show it.
    assert 5 < run.peak_mb < 200


def test_check_document_refuses_an_audit_that_lost_findings(tmp_path: Path) -> None:
    data = generate_report(200)
    path = save(tmp_path / "r.csv", data)
    out = tmp_path / "audit.json"
    audit([path], out)
    doc = json.loads(out.read_bytes())
    doc["findings"] = doc["findings"][1:]
    out.write_text(json.dumps(doc))
    with pytest.raises(AssertionError, match="incomplete audit"):
        check_document(out, [data])


def test_traced_memory_grows_with_the_report(tmp_path: Path) -> None:
    empty = save(tmp_path / "r0.csv", generate_report(0))
    small = save(tmp_path / "r1.csv", generate_report(500))
    large = save(tmp_path / "r2.csv", generate_report(5000))
    sizes = [traced_peak_mb(p, empty, tmp_path / "out.json") for p in (empty, small, large)]
    assert sizes[0] < sizes[1] < sizes[2]
    # After the warm-up, a root-only audit holds next to nothing at its end: what the
    # benchmark subtracts as the fixed part (its peak has a 1 MB read buffer in it).
    assert warm("memory", 1, empty, empty, tmp_path / "out.json")[1] < 0.2

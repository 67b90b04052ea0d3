"""Golden files: the exact JSON of ``audit`` and ``diff`` on the fixture reports.

Any difference fails. After an intended change of the output, regenerate them and
review the diff before committing:

    UPDATE_GOLDEN=1 pytest tests/cli/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from exporter.cli.main import main
from tests.support.reports import AS_OF_TEXT, FIXTURES, saved

REPORTS = FIXTURES / "reports"
GOLDEN = FIXTURES / "golden"
# Paths in the output are given relative to the repository, as a user would type them.
ROOT = FIXTURES.parent.parent

CASES = {
    "audit_aws_real.json": [
        "audit", "--report-file", "tests/fixtures/reports/aws_real.csv",
        "--config", "tests/fixtures/config/golden.yaml",
    ],
    "audit_malformed_value.json": [
        "audit", "--report-file", "tests/fixtures/reports/malformed_value.csv",
    ],
    "diff.json": [
        "diff", "tests/fixtures/reports/diff_old.csv", "tests/fixtures/reports/diff_new.csv",
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_output_matches_the_golden_file(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The output has each report's generation time, a file's modification time: the
    # files are copied with a fixed one, at the same relative paths.
    for arg in CASES[name]:
        if arg.startswith("tests/fixtures/"):
            saved(tmp_path / arg, (ROOT / arg).read_bytes())
    monkeypatch.chdir(tmp_path)
    args = CASES[name] + ["--format", "json"]
    if args[0] == "audit":
        args += ["--as-of", AS_OF_TEXT]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(out, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    if out != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), out.splitlines(True), str(golden), "actual output"
            )
        )
        pytest.fail(f"output differs from {golden.name} (UPDATE_GOLDEN=1 to accept):\n{diff}")


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.name for p in Path(GOLDEN).glob("*.json")) == sorted(CASES)

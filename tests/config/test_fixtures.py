"""Every config fixture: the valid ones load, the invalid ones are refused by every
command with the same one-line message, exit 2 and no traceback.

An invalid fixture's first line is ``# error: <what the message must contain>``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli.main import main
from exporter.config import ConfigError, load_config
from tests.support.reports import FIXTURES

VALID = sorted((FIXTURES / "config" / "valid").glob("*.ok.yml"))
INVALID = sorted((FIXTURES / "config" / "invalid").glob("*.bad.yml"))


def expected_error(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# error: "), f"{path.name}: first line must be '# error: ...'"
    return first.removeprefix("# error: ")


def test_there_are_fixtures_of_both_kinds() -> None:
    assert len(VALID) >= 5 and len(INVALID) >= 10


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_fixture_loads(path: Path) -> None:
    config = load_config(path)
    assert config == load_config(path), "parsing is deterministic"


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_fixture_is_refused_naming_the_problem(path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert expected_error(path) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_audit_and_serve_refuse_the_same_file_with_the_same_message(
    path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    report.write_text("user,arn\n", encoding="utf-8")
    messages = []
    for argv in (
        ["audit", "--config", str(path), "--report-file", str(report)],
        ["serve", "--config", str(path), "--report-file", str(report)],
    ):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "Traceback" not in captured.err
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and expected_error(path) in lines[0]
        messages.append(lines[0])
    assert messages[0] == messages[1]


def test_audit_uses_the_files_refresh_workers(tmp_path: Path) -> None:
    config = load_config(FIXTURES / "config" / "valid" / "flags_only.ok.yml")
    assert config.settings.refresh_workers == 8
    assert config.settings.report_file == ("a.csv", "b.csv")

"""``diff``: says when nothing changed; ``--fail-on-change`` exits 1 on any change."""

from __future__ import annotations

import json

import pytest

from exporter.cli.main import main
from tests.support.reports import FIXTURES

OLD = str(FIXTURES / "reports" / "diff_old.csv")
NEW = str(FIXTURES / "reports" / "diff_new.csv")


def test_no_change_is_said_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", NEW, NEW, "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert out == "No changes: both reports list the same users with the same credentials.\n"
    assert main(["diff", NEW, NEW, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == []


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_fail_on_change_exits_1_on_a_change_in_every_format(
    capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    assert main(["diff", OLD, NEW, "--format", fmt, "--fail-on-change"]) == 1
    assert capsys.readouterr().out  # the changes are still printed
    assert main(["diff", NEW, NEW, "--format", fmt, "--fail-on-change"]) == 0
    assert main(["diff", OLD, NEW, "--format", fmt]) == 0  # off by default

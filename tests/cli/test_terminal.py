"""Widths, cuts, colour and natural order for the terminal output."""

from __future__ import annotations

import io

import pytest

from exporter.cli.terminal import Terminal, fit_widths, natural_key, table, terminal_of


class FakeTTY(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def test_natural_order() -> None:
    names = ["alice.12", "alice.6", "bob", "alice.100", "Alice.7", "alice"]
    assert sorted(names, key=natural_key) == [
        "alice", "alice.6", "Alice.7", "alice.12", "alice.100", "bob"
    ]  # fmt: skip


def test_the_widest_column_gives_way_first() -> None:
    assert fit_widths([8, 10, 50], [8, 6, 10], 60) == [8, 10, 38]
    assert sum(fit_widths([8, 30, 50], [8, 6, 10], 40)) + 4 == 40
    # Below the minimums every column gives way, down to one character.
    assert sum(fit_widths([8, 30, 50], [8, 20, 20], 20)) + 4 <= 20


def test_clip_keeps_the_width_with_an_ellipsis() -> None:
    term = Terminal(10, False)
    assert term.clip("short") == "short"
    assert term.clip("exactly-10") == "exactly-10"
    assert term.clip("a-much-longer-name") == "a-much-lo…"
    assert Terminal(10, False, "...").clip("a-much-longer-name") == "a-much-..."


def test_table_lines_never_exceed_the_width() -> None:
    term = Terminal(30, True)
    rows = [["HIGH", "x" * 40, "a message that is long"], ["LOW", "y", "z"]]
    lines = table(term, ["SEVERITY", "USER", "MESSAGE"], rows, severity_col=0)
    plain = [line.replace("\x1b[31m", "").replace("\x1b[36m", "").replace("\x1b[0m", "")
             for line in lines]  # fmt: skip
    assert all(len(line) <= 30 for line in plain)
    assert lines[1].startswith("\x1b[31mHIGH") and lines[2].startswith("\x1b[36mLOW")
    assert "\x1b[" not in lines[0]  # the header is not painted


@pytest.mark.parametrize(
    ("env", "colour"),
    [({}, True), ({"NO_COLOR": "1"}, False), ({"NO_COLOR": ""}, True), ({"TERM": "dumb"}, False)],
)
def test_colour_honours_no_color(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], colour: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "72")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    term = terminal_of(FakeTTY())
    assert term is not None and term.colour is colour and term.width == 72


def test_no_terminal_on_a_pipe() -> None:
    assert terminal_of(io.StringIO()) is None

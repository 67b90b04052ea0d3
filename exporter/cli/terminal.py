"""What a terminal allows: its width, colour, and text cut to fit rather than wrapped.

Only output going to a terminal gets these; a pipe or a file gets the plain
format unchanged, so scripts that read it see the same bytes as before.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from typing import NamedTuple, TextIO

# SGR codes per severity: bold red, red, yellow, cyan.
SEVERITY_STYLE = {"critical": "1;31", "high": "31", "medium": "33", "low": "36"}
DEFAULT_WIDTH = 80
GAP = "  "


class Terminal(NamedTuple):
    width: int
    colour: bool
    ellipsis: str = "…"

    def paint(self, text: str, severity: str) -> str:
        """``text`` in the colour of ``severity`` (unchanged without colour)."""
        style = SEVERITY_STYLE.get(severity)
        if not self.colour or style is None or not text:
            return text
        return f"\x1b[{style}m{text}\x1b[0m"

    def clip(self, text: str, width: int | None = None) -> str:
        """``text`` cut to ``width`` (default: the terminal's) with an ellipsis."""
        room = self.width if width is None else width
        if len(text) <= room:
            return text
        if room <= len(self.ellipsis):
            return text[:room]
        return text[: room - len(self.ellipsis)] + self.ellipsis


def terminal_of(stream: TextIO) -> Terminal | None:
    """The terminal ``stream`` writes to, or None when it is not one."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    # COLUMNS first (as shutil does), then the terminal's own size.
    width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns or DEFAULT_WIDTH
    # https://no-color.org: set and not empty means no colour; a dumb terminal has none.
    colour = not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return Terminal(max(width, 20), colour, "…" if encoding == "utf8" else "...")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sorts ``alice.6`` before ``alice.12``: runs of digits compare as numbers."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts)


def fit_widths(natural: Sequence[int], minimum: Sequence[int], room: int) -> list[int]:
    """Column widths whose sum (with the gaps) fits ``room``: the widest column gives
    up a character at a time, down to its minimum, so short columns stay whole."""
    widths = list(natural)
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - room
    # Narrower than the minimums: then every column gives way, down to one character.
    for floor in (minimum, [1] * len(widths)):
        while excess > 0:
            shrinkable = [i for i, w in enumerate(widths) if w > floor[i]]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda i: widths[i] - floor[i])
            widths[widest] -= 1
            excess -= 1
    return widths


def table(
    term: Terminal,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    minimum: Sequence[int] | None = None,
    right: frozenset[int] = frozenset(),
    severity_col: int | None = None,
) -> list[str]:
    """Lines of a table no wider than the terminal: cells cut with an ellipsis,
    ``right`` columns aligned right, the ``severity_col`` cell painted."""
    natural = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    floor = minimum or [len(h) for h in header]
    widths = fit_widths(natural, [min(n, m) for n, m in zip(natural, floor, strict=True)],
                        term.width)  # fmt: skip

    def line(cells: Sequence[str], paint: bool) -> str:
        out = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            text = term.clip(cell, w)
            text = text.rjust(w) if i in right else text.ljust(w)
            if paint and i == severity_col:
                text = term.paint(text, cell.lower())
            out.append(text)
        return GAP.join(out).rstrip()

    return [line(header, False), *(line(r, True) for r in rows)]

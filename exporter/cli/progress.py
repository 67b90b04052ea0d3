"""Live progress on stderr while ``audit`` waits for AWS, shown only on a terminal.

One line of totals, then one line per account in flight with its stage and how
long it has been in it, redrawn twice a second (AWS may take up to the poll
deadline to generate a report, and a silent wait reads as a hang). Nothing is
drawn before ``delay`` has passed, so an audit of files or of the demo, done in
less, shows nothing. The block is erased at the end, so the output that follows
starts clean. Without a TTY (CI logs, pipes) nothing at all is written.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TextIO

# Cursor movement and erasing (ECMA-48): up N lines to column 1, erase to the end.
_UP = "\x1b[{}F"
_ERASE_BELOW = "\x1b[J"


class Progress:
    def __init__(
        self,
        total: int,
        stream: TextIO,
        label: str = "accounts",
        delay: float = 0.5,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream
        self.label = label
        self.enabled = total > 0 and _isatty(stream)
        self._clock = clock
        self._started = clock()
        self._delay = delay
        self._interval = interval
        self._lock = threading.Lock()
        self._stages: dict[str, tuple[str, float]] = {}  # in flight: name -> (stage, since)
        self._drawn = 0  # lines on screen
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self.enabled:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def stage(self, name: str, stage: str) -> None:
        """Account ``name`` has started ``stage`` (e.g. waiting for its report)."""
        with self._lock:
            self._stages[name] = (stage, self._clock())

    def advance(self, name: str | None = None, ok: bool = True) -> None:
        """An account is done (``ok``) or failed; it leaves the list in flight."""
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1
            if name is not None:
                self._stages.pop(name, None)

    def lines(self) -> list[str]:
        """What is drawn: the totals, then each account in flight (as many as fit)."""
        now = self._clock()
        failed = f", {self.failed} failed" if self.failed else ""
        label = self.label.removesuffix("s") if self.total == 1 else self.label
        head = (f"auditing {self.total} {label}: {self.done} done{failed}, "
                f"{self.total - self.done} to go  {_secs(now - self._started)}")  # fmt: skip
        columns, rows = _size(self.stream)
        flight = sorted(self._stages.items(), key=lambda kv: kv[1][1])
        room = max(1, rows - 2)
        shown = [f"  {name}: {stage}  {_secs(now - since)}" for name, (stage, since) in flight]
        if len(shown) > room:
            shown = [*shown[: room - 1], f"  ... and {len(shown) - room + 1} more in flight"]
        # One column short of the width: a line that fills it would wrap on some terminals.
        return [_clip(line, columns - 1) for line in (head, *shown)]

    def close(self) -> None:
        if not self.enabled:
            return
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if self._drawn:
                self._erase()
                self.stream.flush()

    def _tick(self) -> None:
        if self._stop.wait(self._delay):
            return
        while True:
            with self._lock:
                self._erase()
                block = self.lines()
                self.stream.write("\n".join(block))
                self.stream.flush()
                self._drawn = len(block)
            if self._stop.wait(self._interval):
                return

    def _erase(self) -> None:
        """Back to the first line drawn, and clear from there down."""
        if self._drawn:
            up = _UP.format(self._drawn - 1) if self._drawn > 1 else ""
            self.stream.write("\r" + up + _ERASE_BELOW)
            self._drawn = 0


def _secs(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def _size(stream: TextIO) -> tuple[int, int]:
    """The terminal's columns and rows (stderr's own: stdout may be a pipe)."""
    try:
        size = os.get_terminal_size(stream.fileno())
        return size.columns or 80, size.lines or 24
    except (AttributeError, OSError, ValueError):
        return 80, 24


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

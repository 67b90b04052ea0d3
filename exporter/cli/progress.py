"""A one-line progress bar on stderr, shown only on a terminal.

Without a TTY (CI logs, pipes) it writes nothing at all, so output stays clean.
"""

from __future__ import annotations

import threading
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, total: int, stream: TextIO, label: str = "accounts") -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream
        self.label = label
        self.enabled = total > 0 and _isatty(stream)
        self._lock = threading.Lock()

    def advance(self, ok: bool = True) -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1
            if self.enabled:
                self.stream.write("\r" + self.line())
                self.stream.flush()

    def line(self) -> str:
        filled = WIDTH * self.done // self.total if self.total else WIDTH
        failed = f", {self.failed} failed" if self.failed else ""
        bar = "#" * filled + "." * (WIDTH - filled)
        return f"[{bar}] {self.done}/{self.total} {self.label}{failed}"

    def close(self) -> None:
        if self.enabled:
            # Erase the bar so what follows starts on a clean line.
            self.stream.write("\r" + " " * (len(self.line()) + 2) + "\r")
            self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

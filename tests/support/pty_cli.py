"""Run the real CLI process on a pseudo-terminal of a given size, as a user's shell would.

stdout (and, unless ``stderr_tty`` is False, stderr) is the terminal; what the process
wrote to it comes back as text with the terminal's ``\\r\\n`` line ends made ``\\n``.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping
from typing import NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PtyRun(NamedTuple):
    code: int
    screen: str  # what reached the terminal
    stderr: str  # stderr when it was a pipe ("" when it was the terminal)


def run_on_pty(
    *args: str,
    columns: int = 80,
    rows: int = 24,
    env: Mapping[str, str] | None = None,
    stderr_tty: bool = True,
    stdin: bytes | None = None,
    timeout: float = 120,
) -> PtyRun:
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary if stderr_tty else subprocess.PIPE,
        env=full_env, cwd=ROOT, close_fds=True,
    )  # fmt: skip
    os.close(secondary)
    if stdin is not None and proc.stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    code = proc.wait(timeout=30)
    err = proc.stderr.read().decode() if proc.stderr is not None else ""
    return PtyRun(code, b"".join(chunks).decode().replace("\r\n", "\n"), err)

"""Starting and stopping the real servers the tests run (Prometheus, Alertmanager)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from tests.support.net import wait_http


def wait_ready(
    proc: subprocess.Popen[bytes], url: str, name: str, log: Callable[[], str], timeout: float
) -> None:
    """Poll ``url`` until it answers 200, but give up at once when the process exits
    (a bad config or rule file): its log says why."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            wait_http(url, timeout=1.0)
            return
        except TimeoutError:
            continue
    state = f"exited with {proc.returncode}" if proc.poll() is not None else "still running"
    raise RuntimeError(f"{name} did not become ready ({state}); log:\n{log()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

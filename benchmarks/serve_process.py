"""Start ``iam-credential-exporter serve`` as a real process for the benchmarks.

Used by the start-up and memory benchmarks: a fresh interpreter on a free
loopback port, its log in a temp file (shown if it fails), and the RSS figures
Linux keeps in ``/proc/PID/status``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    started: float  # perf_counter() just before the process was spawned
    log: Path

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 60.0, poll: float = 0.005) -> float:
        """Seconds from spawn to the first 200 from ``/-/ready``."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.get("/-/ready", timeout=1.0)[0] == 200:
                    return time.perf_counter() - self.started
            time.sleep(poll)
        raise TimeoutError(f"serve not ready after {timeout}s:\n{self.tail()}")

    def memory_mb(self) -> dict[str, float]:
        """VmRSS (now) and VmHWM (peak) of the process, in MB (10^6 bytes)."""
        fields: dict[str, float] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024 / 1e6
        return fields

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def serve(args: list[str], env: dict[str, str] | None = None) -> Iterator[Server]:
    """``serve`` on a free loopback port with ``args``; stopped with SIGTERM on exit."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        log = Path(tmp) / "serve.log"
        cmd = [sys.executable, "-m", "exporter", "serve"]
        cmd += ["--web.listen-address", f"127.0.0.1:{port}", "--log.level", "warn", *args]
        with log.open("wb") as out:
            started = time.perf_counter()
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, **(env or {})},
            )
        try:
            yield Server(proc, port, started, log)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

"""The HTTP server's limits against hostile clients, with the real ``serve`` process.

Every attack here is bounded in connections and seconds, runs against loopback only,
and cleans up its sockets and the process, whatever the outcome.
"""

from __future__ import annotations

import contextlib
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
from typing import IO

import pytest

from tests.support.exporter_process import REPO, parse_samples, sample_value
from tests.support.net import free_port, wait_http

pytestmark = pytest.mark.slow

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    port: int
    log_file: IO[bytes]

    def log(self) -> str:
        self.log_file.flush()
        return Path(self.log_file.name).read_text(errors="replace")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


# Sets the descriptor limit, then becomes ``python -m exporter ARGS`` (same pid).
WITH_FD_LIMIT = (
    "import os, resource, sys; n = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'exporter', *sys.argv[2:]])"
)


@contextlib.contextmanager
def serve(*args: str, fd_limit: int | None = None) -> Iterator[Serve]:
    port = free_port()
    argv = [sys.executable, "-m", "exporter"]
    if fd_limit is not None:
        argv = [sys.executable, "-c", WITH_FD_LIMIT, str(fd_limit)]
    argv += ["serve", "--demo", "--web.listen-address", f"127.0.0.1:{port}", *args]
    with tempfile.NamedTemporaryFile(prefix="exporter-", suffix=".log") as log_file:
        proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO)
        server = Serve(proc, port, log_file)
        try:
            wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30)
            yield server
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, body), (0, b"") when refused or cut."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
    except OSError:
        return 0, b""
    reply = b"".join(chunks)
    if not reply.startswith(b"HTTP/1.1 "):
        return 0, reply
    return int(reply[9:12]), reply.partition(b"\r\n\r\n")[2]


def metric(port: int, name: str) -> float | None:
    status, body = get(port, "/metrics")
    assert status == 200
    return sample_value(parse_samples(body.decode()), name)


def test_accept_backs_off_and_logs_when_file_descriptors_run_out() -> None:
    limit = 40
    with serve("--log.level", "info", fd_limit=limit) as server:
        clients: list[socket.socket] = []
        try:
            # More connections than descriptors left: the rest wait in the backlog,
            # so the listening socket stays readable while accept() fails.
            for _ in range(limit + 20):
                clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            time.sleep(0.5)
            before = server.cpu_seconds()
            time.sleep(2.0)
            busy = (server.cpu_seconds() - before) / 2.0
            assert busy < 0.15, f"accept loop used {busy:.0%} of a core"
        finally:
            for c in clients:
                c.close()
        # Once descriptors are free again it serves, and has said what happened.
        deadline = time.monotonic() + 10
        while get(server.port, "/-/healthy")[0] != 200:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        errors = metric(server.port, "aws_iam_exporter_http_accept_errors_total")
        assert errors is not None and errors >= 1
        lines = [line for line in server.log().splitlines() if "accept" in line]
        assert 1 <= len(lines) <= 2, lines
        assert "Too many open files" in lines[0] and "retrying" in lines[0]

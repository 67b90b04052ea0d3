"""The HTTP server's limits against hostile clients, with the real ``serve`` process.

Every attack here is bounded in connections and seconds, runs against loopback only,
and cleans up its sockets and the process, whatever the outcome.
"""

from __future__ import annotations

import os
import resource
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.support.exporter_process import exporter_process, parse_samples, sample_value

pytestmark = pytest.mark.slow

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


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
    with exporter_process("--demo", "--log.level", "info") as server:
        # Lowered on the running process: it holds far fewer descriptors than this.
        resource.prlimit(server.proc.pid, resource.RLIMIT_NOFILE, (limit, limit))
        clients: list[socket.socket] = []
        try:
            # More connections than descriptors left: the rest wait in the backlog,
            # so the listening socket stays readable while accept() fails.
            for _ in range(limit + 20):
                clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            time.sleep(0.5)
            before = cpu_seconds(server.proc.pid)
            time.sleep(2.0)
            busy = (cpu_seconds(server.proc.pid) - before) / 2.0
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


class SlowLoris:
    """``count`` connections that each send half a request line, then one byte a
    second, and reconnect as soon as the server closes them; for a bounded time."""

    HALF = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: "

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.connects = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def __enter__(self) -> SlowLoris:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(timeout=10)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    with self._lock:
                        self.connects += 1
                    s.sendall(self.HALF)
                    while not self.stop.wait(1.0):
                        s.sendall(b"a")
            except OSError:
                self.stop.wait(0.05)  # closed by the server: come back at once


def test_slow_clients_do_not_lock_out_scrapes_or_health_checks() -> None:
    cap = 20
    with exporter_process(
        "--demo", "--web.max-connections", str(cap), "--log.level", "info"
    ) as server:
        with SlowLoris(server.port, 2 * cap) as attack:
            time.sleep(2.0)  # every slot held by the attack before the first scrape
            results = []
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                for path in ("/metrics", "/-/healthy"):
                    started = time.monotonic()
                    status, _ = get(server.port, path, timeout=3)
                    results.append((path, status, time.monotonic() - started))
                time.sleep(0.3)
            connects = attack.connects
        failed = [r for r in results if r[1] != 200]
        assert not failed, f"{len(failed)} of {len(results)} failed: {failed[:5]}"
        assert max(took for _, _, took in results) < 2.0
        assert connects > 2 * cap  # the attack kept reconnecting
        # The attack is visible in the metrics and in a bounded number of log lines.
        assert (metric(server.port, "aws_iam_exporter_http_connections_evicted_total") or 0) > 0
        warnings = [line for line in server.log().splitlines() if "WARN" in line]
        assert len(warnings) <= 4, warnings


def test_read_header_timeout_flag_closes_a_trickling_request() -> None:
    with exporter_process("--demo", "--web.read-header-timeout", "2s") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(SlowLoris.HALF)
            started = time.monotonic()
            closed_after = None
            while closed_after is None and time.monotonic() - started < 10:
                try:
                    s.sendall(b"a")
                    s.settimeout(0.2)
                    if s.recv(1) == b"":
                        closed_after = time.monotonic() - started
                except TimeoutError:
                    continue
                except OSError:
                    closed_after = time.monotonic() - started
        assert closed_after is not None and 1.5 < closed_after < 3.5, closed_after
        assert metric(server.port, "aws_iam_exporter_http_request_timeouts_total") == 1

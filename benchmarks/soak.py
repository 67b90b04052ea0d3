"""Soak: the real ``serve --demo`` under steady scrapes and hostile clients for minutes,
sampling its RSS, threads and open file descriptors; they must stay flat.

    python -m benchmarks.soak --minutes 10

Not part of ``python -m benchmarks`` or CI (it takes minutes). The exporter refreshes
every second with ``--state.dir`` (a render, a gzip and two state files saved per
second) and a small ``--web.max-connections``, while on loopback:

- 4 scrapers fetch ``/metrics`` on kept-alive connections: plain, gzip, OpenMetrics;
- 1 client fetches ``/-/healthy`` and ``/-/ready`` on a new connection each time;
- 2x the connection cap of slow-loris clients send half a request line, then a byte
  a second, and reconnect whenever the server closes them;
- 1 client sends requests with bodies (small, large, chunked) and malformed ones.

Every 5 s it reads ``/proc/PID/status`` (VmRSS, Threads) and ``/proc/PID/fd``. The
verdict compares the last minute with the first full minute after warm-up: flat
when the medians grow by at most 10 % (RSS, plus 5 MB), 2 threads and 4 descriptors.
Scrape failures are counted too: the good clients must get no error.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.serve_process import serve

CAP = 32
SAMPLE_EVERY = 5.0


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, good: bool, why: str = "") -> None:
        with self.lock:
            if good:
                self.ok += 1
            else:
                self.failed += 1
                if len(self.errors) < 10:
                    self.errors.append(why)


def scraper(port: int, headers: dict[str, str], stop: threading.Event, tally: Tally) -> None:
    """Scrapes on one kept-alive connection, as Prometheus does; a request that finds it
    closed (idle, or closed to make room) is retried once on a new one, as Go's client
    does, and only a failed retry counts."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        for retry in (False, True):
            try:
                conn.request("GET", "/metrics", headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                tally.add(resp.status == 200 and len(body) > 1000, f"/metrics {resp.status}")
                break
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                if retry:
                    tally.add(False, f"/metrics {err!r}")
        stop.wait(0.2)
    conn.close()


def prober(port: int, stop: threading.Event, tally: Tally) -> None:
    while not stop.is_set():
        for path in ("/-/healthy", "/-/ready"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                tally.add(resp.status == 200, f"{path} {resp.status}")
            except (OSError, http.client.HTTPException) as err:
                tally.add(False, f"{path} {err!r}")
            finally:
                conn.close()
        stop.wait(0.5)


def slow_loris(port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                while not stop.wait(1.0):
                    s.sendall(b"a")
        except OSError:
            stop.wait(0.05)


ODD_REQUESTS = (
    b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\n\r\n"
    b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + b"x" * 200_000,
    b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
)


def odd_client(port: int, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(ODD_REQUESTS[i % len(ODD_REQUESTS)])
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
        except OSError:
            pass
        i += 1
        stop.wait(0.1)


@dataclass
class Sample:
    at: float
    rss_mb: float
    threads: int
    fds: int


def sample(pid: int, started: float) -> Sample:
    rss = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "VmRSS":
            rss = int(value.split()[0])
        elif name == "Threads":
            threads = int(value)
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return Sample(time.monotonic() - started, rss / 1024, threads, fds)


def verdict(samples: list[Sample], warmup: float = 30.0) -> tuple[bool, list[str]]:
    """Flat when the last minute's medians are close to the first full minute's."""
    settled = [s for s in samples if s.at >= warmup]
    first = [s for s in settled if s.at < warmup + 60] or settled[:1]
    end = settled[-1].at if settled else 0.0
    last = [s for s in settled if s.at > end - 60] or settled[-1:]
    lines, flat = [], True
    limits = {"rss_mb": (1.10, 5.0), "threads": (1.0, 2), "fds": (1.0, 4)}
    for name, (ratio, slack) in limits.items():
        a = statistics.median(getattr(s, name) for s in first)
        b = statistics.median(getattr(s, name) for s in last)
        peak = max(getattr(s, name) for s in settled)
        ok = b <= a * ratio + slack
        flat &= ok
        lines.append(f"{name}: first minute {a:g}, last minute {b:g}, peak {peak:g}: "
                     f"{'flat' if ok else 'GROWING'}")  # fmt: skip
    return flat, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--no-attack",
        action="store_true",
        help="good clients only (to compare with builds without the limits)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="soak-") as state:
        flags = ["--demo", "--refresh.interval", "1s", "--state.dir", state,
                 "--web.max-connections", str(CAP)]  # fmt: skip
        if not args.no_attack:
            flags += ["--web.read-header-timeout", "2s"]
        with serve(flags) as server:
            server.wait_ready()
            stop = threading.Event()
            good = Tally()
            threads = [
                threading.Thread(target=scraper, args=(server.port, h, stop, good))
                for h in ({}, {"Accept-Encoding": "gzip"},
                          {"Accept": "application/openmetrics-text;version=1.0.0"},
                          {"Accept-Encoding": "gzip", "Accept": "application/openmetrics-text"})
            ]  # fmt: skip
            threads.append(threading.Thread(target=prober, args=(server.port, stop, good)))
            if not args.no_attack:
                threads += [threading.Thread(target=slow_loris, args=(server.port, stop))
                            for _ in range(2 * CAP)]  # fmt: skip
                threads.append(threading.Thread(target=odd_client, args=(server.port, stop)))
            for t in threads:
                t.daemon = True
                t.start()
            started = time.monotonic()
            samples: list[Sample] = []
            print("seconds  rss_mb  threads  fds", flush=True)
            try:
                while time.monotonic() - started < args.minutes * 60:
                    s = sample(server.proc.pid, started)
                    samples.append(s)
                    print(f"{s.at:7.0f}  {s.rss_mb:6.1f}  {s.threads:7d}  {s.fds:3d}", flush=True)
                    if server.proc.poll() is not None:
                        print(f"serve exited with {server.proc.returncode}:\n{server.tail()}")
                        return 1
                    time.sleep(SAMPLE_EVERY)
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=10)
    flat, lines = verdict(samples)
    print("\n".join(lines))
    print(f"good requests: {good.ok} ok, {good.failed} failed {good.errors[:5]}")
    return 0 if flat and good.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

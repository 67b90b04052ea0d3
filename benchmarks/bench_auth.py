"""Basic auth under a stream of wrong passwords, against the real ``serve`` process.

``serve --demo`` with one basic-auth user whose bcrypt hash has cost 12 (what
``bcrypt.gensalt()`` gives). One client scrapes ``/metrics`` back to back with
the right credentials, whose verdict is cached after the first scrape; its
latency is measured alone (the baseline) and while ``ATTACKERS`` clients send
wrong passwords as fast as they are answered, each a new password, so that every
one of them costs a bcrypt check. The bound on concurrent bcrypt checks keeps the
cached scrape from queueing behind them for CPU.

Also: a wrong password for the configured user against one for a user that does
not exist. Both pay one bcrypt check of the same cost, so the two medians are alike
and the response time does not tell which user names exist.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import statistics
import tempfile
import threading
import time
from pathlib import Path

import bcrypt

from benchmarks.common import Result, percentile
from benchmarks.serve_process import serve

ATTACKERS = 16
COST = 12
USER, PASSWORD = "prometheus", "right"


def _header(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _get(conn: http.client.HTTPConnection, headers: dict[str, str]) -> int:
    conn.request("GET", "/metrics", headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def cached_scrapes(port: int, seconds: float, attackers: int) -> tuple[list[float], int]:
    """Latencies of the cached client, and how many wrong passwords were answered."""
    stop = threading.Event()
    answered = itertools.count()
    guesses = itertools.count()

    def attack() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while not stop.is_set():
                if _get(conn, _header(USER, f"guess-{next(guesses)}")) != 401:
                    raise AssertionError("a wrong password was not refused")
                next(answered)
        except (OSError, http.client.HTTPException):
            pass  # the run is over and the server went away
        finally:
            conn.close()

    threads = [threading.Thread(target=attack, daemon=True) for _ in range(attackers)]
    for t in threads:
        t.start()
    time.sleep(1.0 if attackers else 0)  # let the attack reach its steady state
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            if _get(conn, _header(USER, PASSWORD)) != 200:
                raise AssertionError("the right credentials were refused")
            latencies.append(time.perf_counter() - began)
    finally:
        conn.close()
        stop.set()
        for t in threads:
            t.join(timeout=60)
    return latencies, next(answered)


def wrong_password_seconds(port: int, user: str, repeat: int) -> float:
    samples = []
    for i in range(repeat):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            began = time.perf_counter()
            assert _get(conn, _header(user, f"nope-{i}")) == 401
            samples.append(time.perf_counter() - began)
        finally:
            conn.close()
    return statistics.median(samples)


def run(quick: bool) -> list[Result]:
    seconds = 5.0 if quick else 20.0
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        web = Path(tmp) / "web.yml"
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(COST)).decode()
        web.write_text(f"basic_auth_users:\n  {USER}: '{hashed}'\n")
        with serve(["--demo", "--web.config.file", str(web)]) as server:
            server.wait_ready()
            alone, _ = cached_scrapes(server.port, seconds, 0)
            attacked, answered = cached_scrapes(server.port, seconds, ATTACKERS)
            repeat = 3 if quick else 9
            known = wrong_password_seconds(server.port, USER, repeat)
            unknown = wrong_password_seconds(server.port, "nobody", repeat)
    ms = 1000.0
    base, under = statistics.median(alone) * ms, statistics.median(attacked) * ms
    label = f"cached scrape, {ATTACKERS} clients sending wrong passwords (bcrypt cost {COST})"
    return [
        Result(f"auth: {label}, median", under, "ms", base, "ratio <= 5", under <= 5 * base),
        Result(f"auth: {label}, p99", percentile(attacked, 99) * ms, "ms",
               percentile(alone, 99) * ms),
        Result(f"auth: wrong passwords answered during the {seconds:g}s attack",
               answered / seconds, "req/s"),
        Result("auth: wrong password, unknown user vs known user (median)", unknown * ms, "ms",
               known * ms, "0.7 <= ratio <= 1.4", 0.7 <= unknown / known <= 1.4),
    ]  # fmt: skip

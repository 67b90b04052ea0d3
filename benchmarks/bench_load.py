"""50 concurrent scrapers against the real ``serve`` process while refreshes run.

Measures requests per second and p99 latency of ``/metrics`` with a refresh every
second (a 2,000-user report re-read, re-evaluated and re-rendered each time),
against the same load on the same process kind with no refresh running (the
baseline, measured in the same run), and the same load over TLS with basic auth
(bcrypt verdicts cached). Every request must succeed. The scrapers are threads of
this process, so the figures are a floor of what the exporter can serve.

``scrape_concurrently`` is also used by ``tests/e2e/test_load.py``, which adds
a per-body consistency check.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from benchmarks.common import Result, percentile
from benchmarks.synthetic import generate_report

REPO = Path(__file__).resolve().parents[1]
CLIENTS = 50
# Returns None when the body is fine, else what is wrong with it.
BodyCheck = Callable[[bytes], "str | None"]


@dataclass
class LoadStats:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.failures)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def scrape_concurrently(
    port: int,
    seconds: float,
    clients: int = CLIENTS,
    check: BodyCheck | None = None,
    path: str = "/metrics",
    tls: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
) -> LoadStats:
    """``clients`` threads scrape ``path`` back to back (keep-alive) for ``seconds``."""
    stats = LoadStats(seconds)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def scraper() -> None:
        conn: http.client.HTTPConnection | None = None
        start.wait()
        while time.monotonic() < deadline[0]:
            began = time.perf_counter()
            try:
                if conn is None:
                    conn = (
                        http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=tls)
                        if tls is not None
                        else http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    )
                conn.request("GET", path, headers=headers or {})
                resp = conn.getresponse()
                body = resp.read()
                elapsed = time.perf_counter() - began
                problem = f"HTTP {resp.status}" if resp.status != 200 else None
                if problem is None and check is not None:
                    problem = check(body)
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as err:
                problem, elapsed = f"{type(err).__name__}: {err}", 0.0
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                if problem is None:
                    stats.latencies.append(elapsed)
                else:
                    stats.failures.append(problem)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=scraper, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + seconds
    start.wait()
    for t in threads:
        t.join(timeout=seconds + 60)
    return stats


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    report: Path | list[Path], interval: str, *extra: str, tls: ssl.SSLContext | None = None
) -> Iterator[int]:
    """A real ``serve --report-file`` child refreshing every ``interval``; yields its port."""
    port = _free_port()
    scheme = "https" if tls is not None else "http"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    files = [a for r in (report if isinstance(report, list) else [report])
             for a in ("--report-file", str(r))]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "serve", *files,
         "--refresh.interval", interval, "--web.listen-address", f"127.0.0.1:{port}",
         "--log.level", "warn", *extra],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600  # an organisation's first refresh included
        while True:
            try:
                url = f"{scheme}://127.0.0.1:{port}/-/ready"
                with urllib.request.urlopen(url, timeout=2, context=tls):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the exporter did not become ready") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _secured(tmp: Path) -> tuple[Path, ssl.SSLContext, dict[str, str]]:
    """A web config with TLS and a bcrypt (cost 10) user; the client context and header."""
    from tests.support.certs import make_pki

    pki = make_pki(tmp / "pki")
    hashed = bcrypt.hashpw(b"bench", bcrypt.gensalt(10)).decode()
    config = tmp / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    auth = "Basic " + base64.b64encode(b"prometheus:bench").decode()
    return config, context, {"Authorization": auth}


def run(quick: bool) -> list[Result]:
    seconds = 5.0 if quick else 30.0
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        report = tmp / "report.csv"
        report.write_bytes(generate_report(2000))
        with serving(report, "1h") as port:  # baseline: no refresh during the run
            idle = scrape_concurrently(port, seconds)
        with serving(report, "1s") as port:
            busy = scrape_concurrently(port, seconds)
        web, tls, auth = _secured(tmp)
        with serving(report, "1h", "--web.config.file", str(web), tls=tls) as port:
            secured = scrape_concurrently(port, seconds, tls=tls, headers=auth)
        org = _organisation(tmp, quick)
    p99_idle = percentile(idle.latencies, 99) * 1000 if idle.latencies else float("nan")
    p99_busy = percentile(busy.latencies, 99) * 1000 if busy.latencies else float("nan")
    failed = len(idle.failures) + len(busy.failures) + len(secured.failures)
    sent = idle.requests + busy.requests + secured.requests
    label = f"{CLIENTS} scrapers, {seconds:g}s, refresh every 1s"
    return [
        Result(f"load: {label} (req/s)", busy.rate, "req/s", idle.rate,
               "ratio >= 0.5", busy.rate >= 0.5 * idle.rate),
        Result(f"load: {label} (p99 ms)", p99_busy, "ms", p99_idle,
               "ratio <= 4", p99_busy <= 4 * p99_idle),
        # bcrypt costs ~50 ms a check: without the verdict cache this would be ~0.05.
        Result(f"load: {CLIENTS} scrapers, TLS + basic auth (req/s)", secured.rate, "req/s",
               idle.rate, "ratio >= 0.3", secured.rate >= 0.3 * idle.rate),
        Result(f"load: failed requests ({sent} sent)", failed, "", None, "== 0", failed == 0),
        *org,
    ]  # fmt: skip


def _wait_for_accounts(port: int, accounts: int, timeout: float = 600.0) -> None:
    """Until ``/metrics`` serves data of ``accounts`` accounts."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
            if resp.read().count(b"\naws_iam_users{") >= accounts:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the exporter did not serve {accounts} accounts within {timeout:g}s")


ORG_CLIENTS = 4
ORG_TARGET_P99_MS = 20.0


def _organisation(tmp: Path, quick: bool) -> list[Result]:
    """Scrape p99 while an organisation's reports (200 x 1000 users) are refreshed back to
    back (interval 1s: a round starts as soon as the last ended), against the same
    process with no refresh running."""
    accounts, users, seconds = (20, 200, 5.0) if quick else (200, 1000, 20.0)
    reports = []
    for n in range(accounts):
        account = f"{100000000001 + n:012d}"
        path = tmp / f"org-{account}.csv"
        path.write_bytes(generate_report(users, seed=int(account), account_id=account))
        reports.append(path)
    with serving(reports, "1h") as port:
        _wait_for_accounts(port, accounts)  # ready comes before the round's last rendering
        idle = scrape_concurrently(port, seconds, clients=ORG_CLIENTS)
    with serving(reports, "1s") as port:
        busy = scrape_concurrently(port, seconds, clients=ORG_CLIENTS)
    p99_idle = percentile(idle.latencies, 99) * 1000 if idle.latencies else float("nan")
    p99_busy = percentile(busy.latencies, 99) * 1000 if busy.latencies else float("nan")
    full = not quick
    label = f"{accounts} accounts x {users} users refreshing, {ORG_CLIENTS} scrapers"
    return [
        Result(f"load: {label} (p99 ms)", p99_busy, "ms", p99_idle,
               f"p99 <= {ORG_TARGET_P99_MS:g} ms" if full else "",
               (p99_busy <= ORG_TARGET_P99_MS) if full else None),
        Result(f"load: {label} (max ms)", max(busy.latencies, default=0.0) * 1000, "ms",
               max(idle.latencies, default=0.0) * 1000),
        Result(f"load: {label}, failed requests", len(busy.failures) + len(idle.failures), "",
               None, "== 0", not busy.failures and not idle.failures),
    ]  # fmt: skip

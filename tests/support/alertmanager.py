"""A real Alertmanager for tests, and a loopback HTTP sink for its notifications.

``alertmanager(config)`` writes ``config`` (a dict) to a temp dir, starts
``/usr/bin/prometheus-alertmanager`` on a free loopback port with clustering
off, waits until it is ready, and stops it on exit. ``http_sink()`` records
every POST it receives (a stand-in for Slack's webhook endpoint).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.support.net import free_port
from tests.support.processes import stop, wait_ready

ALERTMANAGER_BINARY = "/usr/bin/prometheus-alertmanager"


@dataclass
class Alertmanager:
    url: str
    log_path: Path

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        req = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200, resp.status

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=10) as resp:
            return list(json.load(resp))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def alertmanager(
    config: dict[str, Any],
    *,
    files: dict[str, str] | None = None,
    binary: str = ALERTMANAGER_BINARY,
    ready_timeout: float = 30.0,
) -> Iterator[Alertmanager]:
    """Run Alertmanager with ``config``; ``files`` are written next to it (templates)."""
    with tempfile.TemporaryDirectory(prefix="alertmanager-test-") as tmp:
        root = Path(tmp)
        for name, text in (files or {}).items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        config_path = root / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        am = Alertmanager(f"http://127.0.0.1:{port}", root / "alertmanager.log")
        with am.log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_path}",
                    f"--storage.path={root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                    "--log.level=debug",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
            )
            try:
                wait_ready(proc, f"{am.url}/-/ready", "Alertmanager", am.log, ready_timeout)
                yield am
            finally:
                stop(proc)


@dataclass
class HttpSink:
    """Every POST received: ``(path, parsed JSON body)``."""

    url: str
    received: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [body for p, body in self.received if p == path]

    def wait_for(
        self, check: Callable[[list[tuple[str, Any]]], bool], what: str, timeout: float = 60.0
    ) -> list[tuple[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                seen = list(self.received)
            if check(seen):
                return seen
            if time.monotonic() > deadline:
                raise TimeoutError(f"sink: {what} not received in {timeout}s; got {seen}")
            time.sleep(0.2)


@contextmanager
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            with sink.lock:
                sink.received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""Run the real ``python -m exporter serve ...`` as a child process on a free loopback port.

    with exporter_process("--demo", env=aws_env(endpoint)) as exp:
        samples = exp.samples()                       # parsed /metrics
        assert exp.value(samples, "aws_iam_users", account_id="123456789012") == 39
        status, headers, body = exp.get("/-/ready")

The helper adds ``--web.listen-address 127.0.0.1:PORT`` unless the arguments
already hold one, waits for ``/-/ready`` (or only ``/-/healthy`` with
``ready=False``), and on exit sends SIGTERM, waits, and kills as a last resort.
The child's stderr (its log) is kept in a temp file: ``exp.log()``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import IO

from prometheus_client.parser import text_string_to_metric_families

from tests.support.net import free_port, wait_http

REPO = Path(__file__).resolve().parents[2]

Samples = dict[str, list[tuple[dict[str, str], float]]]


@dataclass
class ExporterProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log_file: IO[bytes]
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def get(
        self, path: str, headers: Mapping[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, Message, bytes]:
        """Status, headers and raw body; HTTP errors are returned, not raised."""
        req = urllib.request.Request(self.url + path, headers=dict(headers or {}), method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def metrics(self, path: str = "/metrics") -> str:
        status, _, body = self.get(path)
        assert status == 200, f"GET {path} answered {status}: {body[:200]!r}"
        return body.decode("utf-8")

    def samples(self, path: str = "/metrics") -> Samples:
        return parse_samples(self.metrics(path))

    @staticmethod
    def value(samples: Samples, name: str, **labels: str) -> float | None:
        """The value of the one sample of ``name`` whose labels include ``labels``."""
        return sample_value(samples, name, **labels)

    def log(self) -> str:
        self.log_file.flush()
        return Path(self.log_file.name).read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return int(self.proc.returncode)


def parse_samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def sample_value(samples: Samples, name: str, **labels: str) -> float | None:
    matches = [
        v for lab, v in samples.get(name, []) if all(lab.get(k) == w for k, w in labels.items())
    ]
    if len(matches) > 1:
        raise AssertionError(f"{len(matches)} samples of {name} match {labels}")
    return matches[0] if matches else None


def start_exporter(
    *args: str,
    env: Mapping[str, str] | None = None,
    ready: bool = True,
    timeout: float = 30.0,
    scheme: str = "http",
    cwd: str | Path | None = None,
) -> ExporterProcess:
    argv = list(args)
    if not any(a.startswith("--web.listen-address") for a in argv):
        port = free_port()
        argv += ["--web.listen-address", f"127.0.0.1:{port}"]
    else:
        port = _port_in(argv)
    child_env = dict(env if env is not None else os.environ)
    child_env["PYTHONPATH"] = str(REPO) + os.pathsep + child_env.get("PYTHONPATH", "")
    log_file = tempfile.NamedTemporaryFile(prefix="exporter-", suffix=".log")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "serve", *argv],
        env=child_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        cwd=str(cwd or REPO),
    )
    exp = ExporterProcess(proc, port, log_file, scheme)
    if scheme == "http":
        try:
            _wait(exp, "/-/ready" if ready else "/-/healthy", timeout)
        except BaseException:
            exp.stop()
            raise
    return exp


def _wait(exp: ExporterProcess, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if exp.proc.poll() is not None:
            raise RuntimeError(f"the exporter exited with {exp.proc.returncode}:\n{exp.log()}")
        try:
            wait_http(exp.url + path, timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{exp.url}{path} not 200 in {timeout}s:\n{exp.log()}") from None


def _port_in(argv: list[str]) -> int:
    for i, a in enumerate(argv):
        if a.startswith("--web.listen-address"):
            value = a.split("=", 1)[1] if "=" in a else argv[i + 1]
            return int(value.rsplit(":", 1)[1])
    raise ValueError("no --web.listen-address")


@contextmanager
def exporter_process(
    *args: str,
    env: Mapping[str, str] | None = None,
    ready: bool = True,
    timeout: float = 30.0,
    scheme: str = "http",
) -> Iterator[ExporterProcess]:
    exp = start_exporter(*args, env=env, ready=ready, timeout=timeout, scheme=scheme)
    try:
        yield exp
    finally:
        exp.stop()
        exp.log_file.close()

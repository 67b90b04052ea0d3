"""Stopping: SIGTERM/SIGINT end the process cleanly in under 5 s, even during a stuck
AWS call, and an in-process daemon leaves no thread behind."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from exporter.config import Config
from exporter.config.settings import Settings
from exporter.daemon.app import Daemon
from exporter.daemon.refresh import AccountTarget
from exporter.sources.base import FileReportSource
from exporter.sources.demo import DemoSource
from tests.support.aws_exporter import moto_behind_proxy
from tests.support.exporter_process import start_exporter
from tests.support.moto import aws_env
from tests.support.net import wait_http

pytestmark = pytest.mark.slow

STOP_LIMIT = 5.0  # seconds, from the issue


def _stop_with(exp_proc: subprocess.Popen[bytes], signum: int) -> int:
    exp_proc.send_signal(signum)
    try:
        return exp_proc.wait(timeout=STOP_LIMIT)
    except subprocess.TimeoutExpired:
        exp_proc.kill()
        exp_proc.wait()
        name = signal.Signals(signum).name
        raise AssertionError(f"still running {STOP_LIMIT}s after {name}") from None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_a_serving_process_with_exit_0(signum: int) -> None:
    exp = start_exporter("--demo", "--refresh.interval", "1s")
    try:
        assert exp.get("/metrics")[0] == 200
        assert _stop_with(exp.proc, signum) == 0
        log = exp.log()
        assert f"signal={signal.Signals(signum).name}" in log
        assert "Traceback" not in log
    finally:
        exp.stop()
        exp.log_file.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_process_while_a_refresh_hangs_in_aws(signum: int) -> None:
    with moto_behind_proxy(users=1) as (_, proxy):
        proxy.set("slow", delay=120)  # AWS accepts the call and never answers in time
        exp = start_exporter(
            "--refresh.interval", "1s", "--aws.read-timeout", "60s",
            env=aws_env(proxy.url), ready=False,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while proxy.seen["GenerateCredentialReport"] == 0:  # the refresh is inside AWS now
                assert time.monotonic() < deadline, exp.log()
                time.sleep(0.1)
            assert _stop_with(exp.proc, signum) == 0
        finally:
            exp.stop()
            exp.log_file.close()


def test_in_process_daemon_leaves_no_thread_behind(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(DemoSource().fetch().content)
    before = set(threading.enumerate())
    daemon = Daemon(
        lambda: [AccountTarget("", "file", FileReportSource(str(path)))],
        Config(settings=Settings(web_listen_address="127.0.0.1:0",
                                 refresh_interval=timedelta(seconds=1))),
    )  # fmt: skip
    daemon.start()
    wait_http(f"http://127.0.0.1:{daemon.port}/-/ready")
    daemon.stop()
    deadline = time.monotonic() + STOP_LIMIT
    while (left := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"threads left behind: {sorted(t.name for t in left)}"


def test_idle_and_half_open_clients_do_not_delay_the_stop() -> None:
    exp = start_exporter("--demo")
    try:
        idle = socket.create_connection(("127.0.0.1", exp.port))  # connects, never speaks
        partial = socket.create_connection(("127.0.0.1", exp.port))
        partial.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        assert exp.get("/-/healthy")[0] == 200
        assert _stop_with(exp.proc, signal.SIGTERM) == 0
        idle.close()
        partial.close()
    finally:
        exp.stop()
        exp.log_file.close()

"""The progress block: totals and accounts in flight with their stage, only on a TTY."""

from __future__ import annotations

import io
import time

from exporter.cli.progress import Progress


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_for(stream: io.StringIO, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in stream.getvalue():
        assert time.monotonic() < deadline, stream.getvalue()
        time.sleep(0.01)


def test_each_account_in_flight_has_its_stage_and_time() -> None:
    clock, tty = Clock(), FakeTTY()
    progress = Progress(3, tty, delay=0, interval=0.01, clock=clock)
    progress.stage("prod", "waiting for the credential report")
    clock.now += 75
    progress.stage("dev", "roles and account facts")
    progress.advance("qa", ok=False)
    wait_for(tty, "1m15s")
    progress.close()
    lines = progress.lines()
    assert lines == [
        "auditing 3 accounts: 1 done, 1 failed, 2 to go  1m15s",
        "  prod: waiting for the credential report  1m15s",
        "  dev: roles and account facts  0s",
    ]
    shown = tty.getvalue()
    assert "\x1b[2F\x1b[J" in shown  # redrawn in place: up two lines, erase below
    assert shown.endswith("\x1b[J")


def test_nothing_before_the_delay() -> None:
    tty = FakeTTY()
    progress = Progress(2, tty, delay=5)
    progress.stage("prod", "waiting")
    progress.advance("prod")
    progress.close()
    assert tty.getvalue() == ""


def test_nothing_on_a_pipe() -> None:
    out = io.StringIO()
    progress = Progress(2, out, delay=0, interval=0.01)
    progress.stage("prod", "waiting")
    time.sleep(0.05)
    progress.close()
    assert out.getvalue() == "" and not progress.enabled


def test_more_accounts_than_rows_are_counted_not_drawn() -> None:
    progress = Progress(100, io.StringIO())  # 24 rows without a terminal to ask
    for n in range(40):
        progress.stage(f"acct-{n}", "waiting")
    lines = progress.lines()
    assert len(lines) == 23 and lines[-1] == "  ... and 19 more in flight"

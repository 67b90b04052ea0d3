"""What ``serve`` sets for its whole process before the daemon starts."""

from __future__ import annotations

import sys

import pytest

from exporter.cli import serve
from exporter.cli.main import build_parser


def test_serve_hands_the_interpreter_over_sooner(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scrape waits for the refresh thread to hand the interpreter over; serve shortens
    that wait (5 ms by default) for its process, before the daemon is built."""
    from exporter.daemon import app, compose, logs

    seen: list[float] = []
    monkeypatch.setattr(compose, "build_daemon", lambda config: seen.append(
        sys.getswitchinterval()))  # fmt: skip
    monkeypatch.setattr(app, "run_until_signalled", lambda daemon: 0)
    monkeypatch.setattr(logs, "setup_logging", lambda level, fmt: None)  # the test's own stay
    before = sys.getswitchinterval()
    try:
        args = build_parser().parse_args(["serve", "--demo"])
        assert serve.run(args) == 0
    finally:
        sys.setswitchinterval(before)
    assert seen == [pytest.approx(serve.SWITCH_INTERVAL_SECONDS)]
    assert before > serve.SWITCH_INTERVAL_SECONDS


@pytest.mark.parametrize(
    ("argv", "enabled"),
    [
        (["--demo"], True),  # the demo shows role_unused_services too
        (["--demo", "--no-access-advisor.enabled"], False),
        (["--report-file", "r.csv"], False),  # off by default: it spends AWS quota
        (["--report-file", "r.csv", "--access-advisor.enabled"], True),
    ],
)
def test_the_demo_runs_access_advisor_unless_told_not_to(argv: list[str], enabled: bool) -> None:
    from exporter.config import Config

    settings = serve.resolve_flags(build_parser().parse_args(["serve", *argv]), Config())
    assert settings.access_advisor_enabled is enabled

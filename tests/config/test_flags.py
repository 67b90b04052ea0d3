"""serve's flags: Prometheus-style names, config-file defaults, clear errors with exit 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from exporter.cli.main import build_parser
from exporter.cli.serve import resolve_flags
from exporter.config import ConfigError, config_from_dict
from exporter.config.flags import FLAGS
from exporter.config.settings import Settings


def resolved(argv: list[str], flags: dict[str, object] | None = None) -> Settings:
    args = build_parser().parse_args(["serve", *argv])
    return resolve_flags(args, config_from_dict({"flags": flags or {}}))


def serve(*argv: str, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", "serve", *argv],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp,
    )  # fmt: skip


def test_defaults() -> None:
    values = resolved([])
    assert values.web_listen_address == ":10063"
    assert values.web_telemetry_path == "/metrics"
    assert values.refresh_interval == timedelta(hours=1)
    assert values.metrics_finding_series is True and values.metrics_user_facts is False
    assert values.report_file == () and values.demo is False


def test_config_file_sets_flags_and_command_line_wins() -> None:
    flags = {"refresh.interval": "30m", "log.format": "json", "report-file": ["a.csv", "b.csv"],
             "metrics.finding-series": False, "refresh.workers": 8}  # fmt: skip
    values = resolved(["--log.format", "text"], flags)
    assert values.refresh_interval == timedelta(minutes=30)
    assert values.log_format == "text"
    assert values.report_file == ("a.csv", "b.csv")
    assert values.metrics_finding_series is False
    assert values.refresh_workers == 8
    assert resolved(["--metrics.finding-series"], flags).metrics_finding_series is True


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"refresh.intervall": "5m"}, "flags.refresh.intervall: unknown flag"),
        ({"refresh.interval": "5 minutes"}, "flags.refresh.interval: not a duration"),
        ({"refresh.workers": 0}, "flags.refresh.workers: must be at least 1"),
        ({"demo": "yes"}, "flags.demo: must be true or false"),
        ({"log.level": "verbose"}, "flags.log.level: must be one of"),
        ({"web.telemetry-path": "metrics"}, "flags.web.telemetry-path: must be an absolute path"),
        ({"web.listen-address": {"port": 1}}, "flags.web.listen-address: must be a single value"),
    ],
)
def test_bad_config_flags_name_the_key(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        resolved([], flags)


def test_every_flag_has_help_and_a_unique_name() -> None:
    names = [f.name for f in FLAGS]
    assert len(names) == len(set(names)) and all(f.help for f in FLAGS)
    assert all(f.name.replace(".", "").replace("-", "").isalnum() for f in FLAGS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--refresh.interval", "5x"], "argument --refresh.interval: not a duration"),
        (["--refresh.interval", "0s"], "must be at least 1s"),
        (
            ["--demo", "--refresh.interval", "999999999d"],
            "argument --refresh.interval: must be at most 3650d (ten years), got '999999999d'",
        ),
        (["--demo", "--aws.read-timeout", "9" * 5000 + "s"], "--aws.read-timeout: not a duration"),
        (
            ["--web.listen-address", "localhost"],
            "argument --web.listen-address: 'localhost' is not host:port",
        ),
        (["--log.level", "loud"], "argument --log.level: must be one of debug, info, warn, error"),
        (["--metrics.finding-series-limit", "-1"], "must be 0 or more"),
        (["--demo", "--report-file", "x.csv"], "--demo cannot be combined with --report-file"),
        (["--report-file", "-"], "standard input"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(argv: list[str], message: str) -> None:
    out = serve(*argv)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_config_file_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("flags:\n  refresh.interval: soon\n")
    out = serve("--config", str(cfg), "--demo")
    assert out.returncode == 2 and "flags.refresh.interval" in out.stderr
    assert "Traceback" not in out.stderr


def test_port_in_use_exits_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = serve("--demo", "--web.listen-address", f"127.0.0.1:{port}")
    assert out.returncode == 2
    assert "cannot listen on" in out.stderr and "Traceback" not in out.stderr


def test_help_lists_the_flags() -> None:
    out = serve("--help")
    assert out.returncode == 0
    for flag in FLAGS:
        assert f"--{flag.name}" in out.stdout


def test_the_refresh_deadline_formula_as_documented() -> None:
    # README, Operations, "Refresh deadline": the same two figures.
    assert Settings().refresh_deadline == timedelta(minutes=20, seconds=6)
    fast = Settings(
        aws_max_attempts=1,
        aws_connect_timeout=timedelta(seconds=1),
        aws_read_timeout=timedelta(seconds=1),
        aws_poll_deadline=timedelta(seconds=2),
    )
    assert fast.aws_call_deadline == timedelta(seconds=5)
    assert fast.refresh_deadline == timedelta(seconds=32)


@pytest.mark.parametrize(
    "text", ["999999999d", "3651d", "3650d1s", "9" * 30 + "d", "9" * 5000 + "s", "87600h1s"]
)
@pytest.mark.parametrize("flag", ["refresh.interval", "aws.read-timeout", "aws.poll-deadline"])
def test_durations_beyond_ten_years_are_refused_with_a_clear_message(flag: str, text: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolved([], {flag: text})
    message = str(err.value)
    assert message.startswith(f"flags.{flag}: ")
    assert "must be at most 3650d (ten years)" in message or "not a duration" in message
    assert len(message) < 200


def test_durations_up_to_ten_years_are_accepted() -> None:
    assert resolved([], {"refresh.interval": "3650d"}).refresh_interval == timedelta(days=3650)
    assert resolved([], {"refresh.interval": "87600h"}).refresh_interval == timedelta(days=3650)


@pytest.mark.parametrize(
    "path",
    ["/metrics?x", "/metrics?", "/metrics#top", "/my metrics", "/metrics%20", "/caf\u00e9",
     "/", "//metrics", "/a//metrics", "/a/../metrics", "/./metrics", "/..", "/-/healthy",
     "/-/ready", "/-/metrics", "metrics", "", "/metrics\n", "/metrics\\x"],
)  # fmt: skip
def test_a_telemetry_path_that_no_request_could_reach_is_refused(path: str) -> None:
    with pytest.raises(ConfigError, match=r"^flags\.web\.telemetry-path: "):
        resolved([], {"web.telemetry-path": path})


@pytest.mark.parametrize("path", ["/metrics", "/aws-iam/metrics", "/metrics/", "/v1.0/a_b~c"])
def test_ordinary_telemetry_paths_are_accepted(path: str) -> None:
    assert resolved(["--web.telemetry-path", path]).web_telemetry_path == path

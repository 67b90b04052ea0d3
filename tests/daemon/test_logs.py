"""The logfmt log format: Prometheus's default style, what ``--log.format logfmt`` and
``--log.format text`` give, one parseable line per record."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator

import pytest

from exporter.cli.main import build_parser
from exporter.cli.serve import resolve_flags
from exporter.config import Config
from exporter.config.settings import Settings
from exporter.daemon.logs import JsonFormatter, LogfmtFormatter, setup_logging
from tests.support.exporter_process import exporter_process

# key=value, the value bare or double-quoted with backslash escapes (the logfmt grammar).
PAIR = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?:\s+|$)')
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def parse(line: str) -> list[tuple[str, str]]:
    """The pairs of one logfmt line, values unquoted; fails on anything else."""
    pairs, at = [], 0
    while at < len(line):
        m = PAIR.match(line, at)
        assert m, f"not logfmt at {at}: {line[at:]!r}"
        key, value = m.groups()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t"}.get(e[1], e[1]), value[1:-1])
        pairs.append((key, value))
        at = m.end()
    return pairs


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("exporter.refresh", logging.WARNING, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_fields_in_order_time_level_logger_msg_then_the_extras() -> None:
    line = LogfmtFormatter().format(record("refresh failed: %s", "x", account_id="123", n=2))
    pairs = parse(line)
    assert [k for k, _ in pairs] == ["time", "level", "logger", "msg", "account_id", "n"]
    values = dict(pairs)
    assert TIME.fullmatch(values["time"]), values["time"]
    assert values["level"] == "warning" and values["logger"] == "exporter.refresh"
    assert values["msg"] == "refresh failed: x" and values["account_id"] == "123"
    assert line.startswith("time=") and ' msg="refresh failed: x" account_id=123 n=2' in line


def test_quotes_spaces_newlines_and_equals_signs_survive_on_one_line() -> None:
    tricky = 'a "quoted" value\nwith = and \\ in it'
    line = LogfmtFormatter().format(record("%s", tricky, source="path with spaces"))
    assert "\n" not in line
    values = dict(parse(line))
    assert values["msg"] == tricky and values["source"] == "path with spaces"


def test_a_traceback_stays_on_the_line_of_its_record() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    line = LogfmtFormatter().format(rec)
    assert "\n" not in line
    values = dict(parse(line))
    assert values["exc_info"].startswith("Traceback") and "ValueError: bad" in values["exc_info"]


def test_the_record_is_not_changed_for_other_handlers() -> None:
    rec = record("m")
    LogfmtFormatter().format(rec)
    assert rec.levelname == "WARNING" and not hasattr(rec, "asctime")


def resolved(*argv: str) -> Settings:
    return resolve_flags(build_parser().parse_args(["serve", *argv]), Config())


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name in ("apscheduler", "botocore"):
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.usefixtures("root_handlers")
@pytest.mark.parametrize(
    ("argv", "formatter"),
    [((), LogfmtFormatter), (("--log.format", "logfmt"), LogfmtFormatter),
     (("--log.format", "text"), LogfmtFormatter), (("--log.format", "json"), JsonFormatter)],
)  # fmt: skip
def test_logfmt_is_the_default_and_text_is_logfmt(
    argv: tuple[str, ...], formatter: type[logging.Formatter]
) -> None:
    settings = resolved(*argv)
    setup_logging(settings.log_level, settings.log_format)
    assert type(logging.getLogger().handlers[0].formatter) is formatter


@pytest.mark.slow
def test_every_line_serve_writes_is_logfmt() -> None:
    with exporter_process("--demo", "--log.format", "logfmt") as exp:
        exp.metrics()
        log = exp.log()
    lines = log.splitlines()
    assert any("msg=listening" in line for line in lines), log
    for line in lines:
        keys = [k for k, _ in parse(line)]
        assert keys[:4] == ["time", "level", "logger", "msg"], line
    started = [dict(parse(line)) for line in lines if "msg=started" in line]
    assert started and started[0]["version"]

"""Logging setup: stdlib logging on stderr as logfmt lines (Prometheus's default style,
also what ``--log.format text`` gives) or JSON lines. Both carry the same fields:
``time`` (ISO 8601, UTC), ``level``, ``logger``, ``msg``, then whatever was passed with
``extra=``."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from logfmter import Logfmter

from exporter.config.flags import LOG_LEVELS

LEVELS = dict(zip(LOG_LEVELS, (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR),
                  strict=True))  # fmt: skip

# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


def _time(record: logging.LogRecord) -> str:
    """Milliseconds, UTC, ``Z``: the timestamps of Prometheus's own logs."""
    when = datetime.fromtimestamp(record.created, timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class LogfmtFormatter(Logfmter):
    """``time=... level=warning logger=exporter.refresh msg="..." account_id=...``: one
    line per record, a traceback included (as ``exc_info``, escaped)."""

    def __init__(self) -> None:
        super().__init__(
            keys=["time", "level", "logger"],
            mapping={"time": "asctime", "level": "levelname", "logger": "name"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _time(record)

    def format(self, record: logging.LogRecord) -> str:
        # A copy: the record is shared with every other handler.
        copy = logging.makeLogRecord(vars(record))
        copy.levelname = record.levelname.lower()
        return str(super().format(copy))


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    # APScheduler logs every job start at INFO; keep that for --log.level=debug.
    quiet = logging.DEBUG if level == "debug" else logging.WARNING
    logging.getLogger("apscheduler").setLevel(quiet)
    logging.getLogger("botocore").setLevel(max(quiet, logging.INFO))

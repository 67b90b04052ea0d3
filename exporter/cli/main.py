"""The command line: ``audit``, ``diff`` and ``serve``.

Exit codes: 0 success, 1 ``audit --fail-on`` matched, 2 any error.
Errors are one line on stderr that names the problem, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from exporter import __version__
from exporter.cli import audit, diff, serve
from exporter.cli.messages import PROG, error_line
from exporter.config import ConfigError
from exporter.core.report import ReportFormatError
from exporter.sources.base import SourceError


class UsageError(ValueError):
    """A flag value that argparse cannot check by itself."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        # The program's name alone, as in every other error; the help names the command.
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Watch the IAM credential report of AWS accounts: audit it once, "
        "compare two reports, or serve it to Prometheus.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    serve.add_parser(sub)
    audit.add_parser(sub)
    diff.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    collecting = _pause_collector(args.command)
    try:
        code: int = args.run(args)
        sys.stdout.flush()
        return code
    except (ConfigError, ReportFormatError, SourceError, UsageError, ValueError) as err:
        print(error_line(str(err)), file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``audit | head``): not an error of ours. Point
        # stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if collecting:
            gc.enable()  # main() called in a longer-lived process (tests) gives it back


def _pause_collector(command: str) -> bool:
    """Turn the cyclic collector off for a one-shot command; whether it was on.

    Such a command builds its records and findings once, frees them at exit and
    forms no cycles worth collecting: the collector's passes over tens of thousands
    of fresh objects were a sixth of an audit's time. ``serve`` runs for good and
    keeps it."""
    collecting = gc.isenabled()
    if command != "serve":
        gc.disable()
    return collecting

"""``diff OLD NEW``: what changed between two saved credential reports."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from exporter.cli.common import add_format_flag, output_format
from exporter.cli.output import render_changes
from exporter.core.diff import diff_reports
from exporter.core.records import CredentialReport
from exporter.core.report import ReportFormatError, parse_report
from exporter.sources.base import FileReportSource


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        help="list what changed between two saved credential reports",
        description="Compare two credential reports of the same account and list the "
        "changes per user: users created or deleted, MFA, console passwords, access keys. "
        "Exit codes: 0 done (changes or not), 2 error.",
    )
    p.add_argument("old", metavar="OLD", help="the earlier report file ('-' for stdin)")
    p.add_argument("new", metavar="NEW", help="the later report file ('-' for stdin)")
    add_format_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.old == "-" and args.new == "-":
        raise ValueError("only one of OLD and NEW can be standard input")
    old, new = _load(args.old), _load(args.new)
    if old.account_id and new.account_id and old.account_id != new.account_id:
        raise ValueError(
            f"{args.old} is account {old.account_id} but {args.new} is account "
            f"{new.account_id}: diff compares two reports of the same account"
        )
    sys.stdout.write(render_changes(output_format(args.format), diff_reports(old, new)))
    return 0


def _load(path: str) -> CredentialReport:
    content = FileReportSource(path).fetch().content
    try:
        return parse_report(content)
    except ReportFormatError as err:
        raise ReportFormatError(f"{path}: {err}") from None

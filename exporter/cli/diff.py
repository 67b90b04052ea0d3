"""``diff OLD NEW``: what changed between two saved credential reports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from exporter.cli.common import add_format_flag, output_format
from exporter.cli.output import NO_ROOT_ROW_PROBLEM, problem_text, render_changes
from exporter.cli.terminal import Terminal, table, terminal_of
from exporter.core.diff import Change, diff_reports
from exporter.core.records import ROOT_USER, CredentialReport, ParseProblem
from exporter.core.report import (
    IncompleteReportError,
    ReportFormatError,
    parse_report,
    require_complete,
)
from exporter.sources.base import FileReportSource


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        help="list what changed between two saved credential reports",
        description="Compare two credential reports of the same account and list the "
        "changes per user: users created or deleted, MFA, console passwords, access keys "
        "(a key is known by its creation date, whatever its slot). Problems of either "
        "report (a user listed twice, unreadable values) are listed with the changes. "
        "Exit codes: 0 done (changes or not; with --fail-on-change: no change), 1 some change "
        "with --fail-on-change, 2 error.",
    )
    p.add_argument("old", metavar="OLD", help="the earlier report file ('-' for stdin)")
    p.add_argument("new", metavar="NEW", help="the later report file ('-' for stdin)")
    add_format_flag(p)
    p.add_argument(
        "--fail-on-change",
        action="store_true",
        help="exit 1 when anything changed, for CI (default: off, exit 0 either way); "
        "problems of the reports are not changes",
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help=f"compare a report that has no {ROOT_USER} row (truncated, hand-made or from a "
        "fake) instead of refusing it; the users it lacks read as deleted",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.old == "-" and args.new == "-":
        raise ValueError("only one of OLD and NEW can be standard input")
    old, new = _load(args.old, args.allow_incomplete), _load(args.new, args.allow_incomplete)
    if old.account_id and new.account_id and old.account_id != new.account_id:
        raise ValueError(
            f"{args.old} is account {old.account_id} but {args.new} is account "
            f"{new.account_id}: diff compares two reports of the same account"
        )
    problems = [(path, p) for path, rep in ((args.old, old), (args.new, new))
                for p in _problems(rep)]  # fmt: skip
    changes = diff_reports(old, new)
    account = new.account_id or old.account_id or ""
    fmt = output_format(args.format)
    term = terminal_of(sys.stdout) if fmt == "table" and changes else None
    if term is None:
        sys.stdout.write(render_changes(fmt, changes, problems, account))
    else:
        sys.stdout.write(changes_screen(term, changes, problems, account))
    return 1 if args.fail_on_change and changes else 0


def changes_screen(
    term: Terminal,
    changes: Sequence[Change],
    problems: Sequence[tuple[str, ParseProblem]],
    account: str,
) -> str:
    """The changes cut to the terminal's width. Both reports are of one account, so it
    is named once, under the table, rather than on every row."""
    rows = [[c.change, c.user, "" if c.key is None else str(c.key), c.detail] for c in changes]
    out = table(term, ["CHANGE", "USER", "KEY", "DETAIL"], rows, [14, 14, 3, 16])
    out += ["", term.clip(f"{len(changes)} change(s) in account {account or 'unknown'}")]
    if problems:
        out.append(f"{len(problems)} problem(s) in the reports:")
        out += [term.clip(f"  {source}: {problem_text(p)}") for source, p in problems]
    return "\n".join(out) + "\n"


def _load(path: str, allow_incomplete: bool) -> CredentialReport:
    content = FileReportSource(path).fetch().content
    try:
        report = parse_report(content)
        return report if allow_incomplete else require_complete(report)
    except IncompleteReportError as err:
        hint = "--allow-incomplete compares it anyway"
        raise IncompleteReportError(f"{path}: {err} ({hint})") from None
    except ReportFormatError as err:
        raise ReportFormatError(f"{path}: {err}") from None


def _problems(report: CredentialReport) -> list[ParseProblem]:
    missing = (
        [] if report.complete else [ParseProblem(0, "", "user", ROOT_USER, NO_ROOT_ROW_PROBLEM)]
    )
    return missing + list(report.problems)

"""``audit``: a one-shot report of findings, with CI-friendly exit codes."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from exporter.cli.audit_accounts import INCOMPLETE, AccountAudit
from exporter.cli.common import add_format_flag, output_format, parse_instant
from exporter.cli.filters import FindingFilter, add_filter_flags, severity
from exporter.cli.messages import error_line
from exporter.cli.output import audit_json_pieces, render_audit
from exporter.cli.terminal import terminal_of
from exporter.config import Config, load_config
from exporter.config.flags import parse_duration, parse_tag_key
from exporter.core.findings import at_or_above
from exporter.core.records import ROOT_USER
from exporter.sources.base import FileReportSource, ReportSource, SourceError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="audit credential reports once and print the findings",
        description="Audit the IAM credential report once. Reads --report-file(s), or the "
        "live account(s) through the AWS SDK's usual credentials (see 'accounts' in the "
        "config). Exit codes: 0 no finding at or above --fail-on, 1 some finding at or above "
        "it, 2 error (a --report-file that cannot be read, a report without the "
        f"{ROOT_USER} row, two reports of one account, or no account could be audited; "
        "accounts that fail are listed on stderr). --demo audits two built-in synthetic "
        "accounts instead, with no AWS and no network.",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="audit the built-in demo accounts (no AWS, no network), as serve --demo serves",
    )
    p.add_argument(
        "--report-file",
        action="append",
        metavar="PATH",
        help="read a saved credential report ('-' for standard input); repeatable. Its "
        "generation time is the file's modification time (unknown for standard input)",
    )
    p.add_argument("--config", metavar="FILE", help="YAML configuration file")
    p.add_argument(
        "--as-of",
        type=parse_instant,
        metavar="ISO8601",
        help="evaluate ages as of this time (default: now, UTC)",
    )
    add_format_flag(p)
    p.add_argument(
        "--fail-on",
        type=severity,
        metavar="SEVERITY",
        help="exit 1 when a finding is at or above SEVERITY (critical, high, medium, low; "
        "any case) (default: none, findings alone never change the exit code)",
    )
    add_filter_flags(p)
    p.add_argument(
        "--upcoming",
        type=parse_duration,
        metavar="DURATION",
        help="list as upcoming the findings that a day threshold will raise within this "
        "long (e.g. 14d, 30d) (default: the config's upcoming.window, else 14d)",
    )
    p.add_argument(
        "--labels.owner-tag",
        dest="owner_tags",
        action="append",
        type=parse_tag_key,
        metavar="TAG",
        help="add each finding's owner: the value of this IAM tag of its user or role "
        '(read with the roles); repeatable, first match wins, "" when none '
        "(default: the config file's flags: labels.owner-tag)",
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help=f"audit a report that has no {ROOT_USER} row (truncated, hand-made or from a "
        "fake) instead of refusing it; its root checks are listed as not evaluated",
    )
    p.set_defaults(run=run)


def with_flags(config: Config, args: argparse.Namespace) -> Config:
    """The config file's settings, with those given on the command line instead (the
    command line wins, as for serve)."""
    given: dict[str, Any] = {}
    if args.upcoming is not None:
        given["upcoming_window"] = args.upcoming
    if args.owner_tags:
        given["labels_owner_tag"] = tuple(args.owner_tags)
    return replace(config, settings=replace(config.settings, **given)) if given else config


def run(args: argparse.Namespace) -> int:
    config = with_flags(load_config(args.config), args)
    now: datetime = (args.as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    if args.demo:
        config, sources = demo_sources(config, args.report_file)
    else:
        sources = audit_sources(args.report_file, config)
    results, failed = audit_all(sources, config, now, args.allow_incomplete)
    shown = FindingFilter.from_args(args.min_severity, args.check)
    results = [
        a._replace(evaluation=shown.apply(a.evaluation), upcoming=shown.apply_upcoming(a.upcoming))
        for a in results
    ]
    if not results:
        if len(failed) == 1:  # one source: one line, that names it
            f = failed[0]
            named = f["account"] != "-" and f["account"] in f["message"]
            where = "" if named else f"{f['account']}: "
            raise SourceError(f["reason"], where + f["message"])
        for f in failed:
            print(error_line(f"{f['account']}: {f['reason']}: {f['message']}"), file=sys.stderr)
        raise SourceError("error", "no account could be audited")
    refuse_one_account_twice(results)
    order = [label for label, _ in sources]
    fmt = output_format(args.format)
    if fmt == "json":
        sys.stdout.flush()
        # Written as it is encoded: the whole document is never held (46 MB at 100k users).
        sys.stdout.buffer.writelines(audit_json_pieces(now, results, failed, order))
    else:
        sys.stdout.write(render(fmt, now, results, failed, order, shown))
    for f in failed:
        why = f"could not audit {f['account']} ({f['reason']}): {f['message']}"
        print(error_line(why), file=sys.stderr)
    if failed and args.report_file:
        return 2  # a named file that cannot be read is an error, whatever the others found
    if any(f["reason"] == INCOMPLETE for f in failed):
        return 2  # never a fault of the moment: the report itself cannot be trusted
    # Accounts: the failed ones are listed above; exit 2 only if none was audited.
    findings = (f for a in results for f in a.evaluation.findings)
    if args.fail_on and any(at_or_above(f.severity, args.fail_on) for f in findings):
        return 1
    return 0


def render(
    fmt: str,
    now: datetime,
    results: list[AccountAudit],
    failed: list[dict[str, str]],
    order: list[str],
    shown: FindingFilter,
) -> str:
    """The table for a terminal (summary first, fitted, coloured), else the plain format."""
    term = terminal_of(sys.stdout) if fmt == "table" else None
    if term is None:
        return render_audit(fmt, now, results, failed, order)
    from exporter.cli.audit_screen import render_screen

    return render_screen(term, now, results, failed, order, every_row=shown.checks is not None)


def refuse_one_account_twice(results: list[AccountAudit]) -> None:
    """Two reports of one account would count its findings twice, and say nothing of
    which report is right: refuse, naming both."""
    seen: dict[str, str] = {}
    for a in results:
        if a.account_id is None:
            continue
        if a.account_id in seen:
            raise ValueError(
                f"{seen[a.account_id]} and {a.label} are both reports of account "
                f"{a.account_id}: audit one report per account"
            )
        seen[a.account_id] = a.label


def demo_sources(
    config: Config, paths: list[str] | None
) -> tuple[Config, list[tuple[str, ReportSource]]]:
    if paths:
        raise ValueError("--demo cannot be combined with --report-file")
    from exporter.cli.demo import demo_audit

    return demo_audit(config)


def audit_sources(paths: list[str] | None, config: Config) -> list[tuple[str, ReportSource]]:
    if paths:
        if paths.count("-") > 1:
            raise ValueError("--report-file - (standard input) can be given only once")
        return [(p, FileReportSource(p)) for p in paths]
    from exporter.sources.aws.directory import account_sources  # the accounts: section

    return account_sources(config)


def audit_all(
    sources: list[tuple[str, ReportSource]],
    config: Config,
    now: datetime,
    allow_incomplete: bool = False,
) -> tuple[list[AccountAudit], list[dict[str, str]]]:
    # In parallel, with a progress bar on a TTY; role and account checks included.
    from exporter.cli.audit_accounts import audit_accounts

    return audit_accounts(sources, config, now, allow_incomplete=allow_incomplete)

"""``audit`` on a terminal: the summary first, then the findings worst first.

Every line fits the terminal's width (cells are cut with an ellipsis, never
wrapped), severities are coloured unless ``NO_COLOR`` is set, user names sort
naturally (``alice.6`` before ``alice.12``) and the account column is there only
when several accounts were audited. Each check lists at most ``ROWS_PER_CHECK``
findings, and says how to see the others, so that a report of thousands of users
still reads from the top; ``--check ID`` lists all of that check's findings.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from exporter.cli.audit_accounts import AccountAudit
from exporter.cli.output import (
    OwnerOf,
    _account_cells,
    account_summaries,
    iso,
    owner_lookup,
    problem_text,
    severity_counts,
    upcoming_cells,
    upcoming_of,
)
from exporter.cli.terminal import Terminal, natural_key, table
from exporter.core.checks import CHECKS
from exporter.core.evaluate import merge
from exporter.core.findings import SEVERITIES, SEVERITY_RANK, Finding, role_name

ROWS_PER_CHECK = 10
INDENT = "  "
MAX_PROBLEMS_SHOWN = 10


def render_screen(
    term: Terminal,
    as_of: datetime,
    audits: Sequence[AccountAudit],
    failed: Sequence[Mapping[str, str]] = (),
    order: Sequence[str] = (),
    every_row: bool = False,
) -> str:
    """``every_row``: list every finding (``--check`` asked for these checks)."""
    result = merge(*(a.evaluation for a in audits))
    findings = result.findings
    accounts = account_summaries(as_of, audits, failed, order)
    several = len({a.account_id for a in audits}) > 1
    per_check = Counter(f.check for f in findings)
    checks = sorted(per_check, key=lambda c: (_rank(c, findings), -per_check[c], c))
    out = [term.clip(f"IAM credential audit as of {iso(as_of)}"), ""]
    out.append(_severity_line(term, findings))
    if findings:
        out += ["", *_check_summary(term, checks, per_check, findings)]
        owner = owner_lookup(audits)
        out += ["", *_findings(term, checks, findings, several, every_row, owner)]
    out += _upcoming(term, audits)
    out += _notes(term, audits, result.exempted, result.expired_exemptions)
    out += ["", term.clip(f"Audited {len(accounts)} report(s):")]
    header = ["SOURCE", "ACCOUNT", "USERS", "REPORT AGE", "COMPLETE", "RESULT"]
    out += table(term, header, [_account_cells(e) for e in accounts], [12, 12, 5, 10, 8, 10])
    out += [term.clip(line) for line in _not_evaluated(accounts)]
    return "\n".join(out) + "\n"


def _rank(check: str, findings: Sequence[Finding]) -> int:
    """A check's severity: the worst of its findings (the config may have changed it)."""
    return min(SEVERITY_RANK[f.severity] for f in findings if f.check == check)


def _severity_line(term: Terminal, findings: Sequence[Finding]) -> str:
    counts = severity_counts(findings)
    plain = f"{len(findings)} finding(s): " + ", ".join(f"{counts[s]} {s}" for s in SEVERITIES)
    if len(plain) > term.width:
        return term.clip(plain)
    parts = [term.paint(f"{counts[s]} {s}", s) if counts[s] else f"0 {s}" for s in SEVERITIES]
    return f"{len(findings)} finding(s): " + ", ".join(parts)


def _check_summary(
    term: Terminal, checks: list[str], per_check: Counter[str], findings: Sequence[Finding]
) -> list[str]:
    rows = []
    for cid in checks:
        worst = SEVERITIES[_rank(cid, findings)]
        title = CHECKS[cid].title if cid in CHECKS else ""
        rows.append([worst.upper(), cid, str(per_check[cid]), title])
    header = ["SEVERITY", "CHECK", "FINDINGS", "TITLE"]
    return table(term, header, rows, [8, 14, 8, 12], right=frozenset({2}), severity_col=0)


def _findings(
    term: Terminal,
    checks: list[str],
    findings: Sequence[Finding],
    several: bool,
    every_row: bool,
    owner: OwnerOf = None,
) -> list[str]:
    """One group per check, worst first, under a heading with its severity; the rows of
    every group share one set of columns, so they line up down the whole list. With an
    owner tag configured, an OWNER column follows USER (as in the plain table)."""
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_check[f.check].append(f)
    rows: list[list[str]] = []
    groups: list[tuple[str, int, int]] = []  # (check, rows shown, findings left out)
    for cid in checks:
        listed = sorted(by_check[cid], key=_worst_first)
        shown = listed if every_row else listed[:ROWS_PER_CHECK]
        rows += [_finding_cells(f, several, owner) for f in shown]
        groups.append((cid, len(shown), len(listed) - len(shown)))
    owned = owner is not None
    header = [*(["ACCOUNT"] if several else []), "USER", *(["OWNER"] if owned else []), "KEY",
              "MESSAGE"]  # fmt: skip
    minimum = [*([12] if several else []), 14, *([8] if owned else []), 3, 20]
    indent = Terminal(term.width - len(INDENT), term.colour, term.ellipsis)
    lines = table(indent, header, rows, minimum)
    out = [term.clip(f"Findings, worst first ({len(findings)}):"), INDENT + lines[0]]
    at = 1
    for n, (cid, count, left) in enumerate(groups):
        total = count + left
        severity = by_check[cid][0].severity
        heading = term.clip(f"{severity.upper()}  {cid}: {total} finding(s)")
        out += [""] if n else []
        out += [term.paint(heading[: len(severity)], severity) + heading[len(severity) :]]
        out += [INDENT + line for line in lines[at : at + count]]
        at += count
        if left:
            hint = f"{term.ellipsis} and {left} more: --check {cid} lists them all"
            out.append(INDENT + indent.clip(hint))
    return out


def _worst_first(f: Finding) -> tuple[Any, ...]:
    return (SEVERITY_RANK[f.severity], f.account_id, natural_key(_who(f)), f.user, f.key or 0)


def _who(f: Finding) -> str:
    """The user, or for a role finding (no user) the role, as ``role/NAME``."""
    if f.user:
        return f.user
    name = role_name(f)
    return f"role/{name}" if name else ""


def _finding_cells(f: Finding, several: bool, owner: OwnerOf = None) -> list[str]:
    key = "" if f.key is None else str(f.key)
    account = [f.account_id] if several else []
    owned = [] if owner is None else [owner(f)]
    return [*account, _who(f), *owned, key, f.message]


def _upcoming(term: Terminal, audits: Sequence[AccountAudit]) -> list[str]:
    """After the findings: those a day threshold will raise within the window."""
    soon = upcoming_of(audits)
    if not soon:
        return []
    head = term.clip(f"Upcoming ({len(soon)}): not yet findings, due on the date shown")
    header = ["DUE", "SEVERITY", "ACCOUNT", "USER", "CHECK", "KEY"]
    rows = table(term, header, [upcoming_cells(u) for u in soon], [10, 8, 12, 14, 14, 3],
                 severity_col=1)  # fmt: skip
    return ["", head, *rows]


def _notes(
    term: Terminal, audits: Sequence[AccountAudit], exempted: Sequence[Finding], expired: Any
) -> list[str]:
    out: list[str] = []
    if exempted:
        out.append(f"{len(exempted)} finding(s) exempted by the exemption list")
    out += [f"expired exemption no longer applies: {e.describe()}" for e in expired]
    problems = [(a.label, p) for a in audits for p in a.evaluation.problems]
    if problems:
        out.append(f"{len(problems)} problem(s) in the report(s):")
        out += [f"  {source}: {problem_text(p)}" for source, p in problems[:MAX_PROBLEMS_SHOWN]]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            out.append(f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more (see --format json)")
    return ["", *(term.clip(line) for line in out)] if out else []


def _not_evaluated(accounts: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for entry in accounts:
        reasons: dict[str, list[str]] = defaultdict(list)
        for cid, why in entry["not_evaluated"].items():
            reasons[why].append(cid)
        # The ids first: a line cut to the width keeps what was not evaluated.
        out += [f"  {entry['source']}: not evaluated: {', '.join(ids)} ({why})"
                for why, ids in reasons.items()]  # fmt: skip
    return out

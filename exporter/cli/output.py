"""Render findings and changes as a table, JSON or CSV for the command line.

``audit`` also says what it audited: per account, the source, the users, the
report's age, whether it was complete, the checks not evaluated and the result
(``clean``, ``findings`` or ``failed``), and the problems of each report.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson

from exporter.cli.audit_accounts import AccountAudit
from exporter.core.diff import Change
from exporter.core.evaluate import Evaluation, merge
from exporter.core.findings import (
    SEVERITIES,
    Finding,
    finding_dicts,
    role_name,
    sorted_findings,
)
from exporter.core.owners import Owners
from exporter.core.records import DUPLICATE_USER, FUTURE, ParseProblem
from exporter.core.upcoming import Upcoming, sorted_upcoming

FORMATS = ("table", "json", "csv")
FINDING_COLUMNS = ("account_id", "user", "arn", "check", "severity", "key", "message", "facts")
# The audit's CSV: the finding columns, then what the row is (finding, upcoming, problem,
# account). An upcoming row has no message; its facts hold the due date.
AUDIT_CSV_COLUMNS = (*FINDING_COLUMNS, "kind")
MAX_PROBLEMS_SHOWN = 20
CHANGE_COLUMNS = ("account_id", "user", "arn", "change", "key", "detail")
# The diff's CSV: the change columns, then what the row is (change, problem).
DIFF_CSV_COLUMNS = (*CHANGE_COLUMNS, "kind")
NO_CHANGES = "No changes: both reports list the same users with the same credentials."
# The reason of the problem that diff lists for a report without the root row.
NO_ROOT_ROW_PROBLEM = "no_root_row"


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def render_audit(
    fmt: str,
    as_of: datetime,
    audits: Sequence[AccountAudit],
    failed: Sequence[Mapping[str, str]] = (),
    order: Sequence[str] = (),
) -> str:
    """``order``: the sources' labels as given, for the account list (default: the
    audited accounts, then the failed ones)."""
    result = merge(*(a.evaluation for a in audits))
    findings = sorted_findings(result.findings)
    accounts = account_summaries(as_of, audits, failed, order)
    problems = [(a.label, a.account_id, p) for a in audits for p in a.evaluation.problems]
    soon = upcoming_of(audits)
    owner = owner_lookup(audits)
    if fmt == "json":
        pieces = _json_audit(as_of, findings, result, failed, accounts, problems, soon, owner)
        return b"".join(pieces).decode("ascii")
    if fmt == "csv":
        return _csv_audit(findings, accounts, problems, soon, owner)
    return _table_audit(as_of, findings, result, accounts, problems, soon, owner)


def upcoming_of(audits: Sequence[AccountAudit]) -> list[Upcoming]:
    """Every account's upcoming findings, soonest first."""
    return sorted_upcoming(u for a in audits for u in a.upcoming)


def audit_json(
    as_of: datetime,
    audits: Sequence[AccountAudit],
    failed: Sequence[Mapping[str, str]] = (),
    order: Sequence[str] = (),
) -> bytes:
    """``render_audit("json", ...)`` as bytes (see ``audit_json_pieces``)."""
    return b"".join(audit_json_pieces(as_of, audits, failed, order))


def audit_json_pieces(
    as_of: datetime,
    audits: Sequence[AccountAudit],
    failed: Sequence[Mapping[str, str]] = (),
    order: Sequence[str] = (),
) -> Iterator[bytes]:
    """The audit's JSON document as consecutive pieces of bytes, to be written as they
    come: an audit of 100k users is a 46 MB document that need not be held at once,
    and its findings are encoded a few at a time, while their dicts are in the caches."""
    result = merge(*(a.evaluation for a in audits))
    accounts = account_summaries(as_of, audits, failed, order)
    problems = [(a.label, a.account_id, p) for a in audits for p in a.evaluation.problems]
    findings = sorted_findings(result.findings)
    return _json_audit(
        as_of,
        findings,
        result,
        failed,
        accounts,
        problems,
        upcoming_of(audits),
        owner_lookup(audits),
    )


Located = tuple[str, "str | None", ParseProblem]  # (source, account id, problem)
# A finding's owner (--labels.owner-tag); None: no owner tag configured, no owner field.
OwnerOf = Callable[[Finding], str] | None


def owner_lookup(audits: Sequence[AccountAudit]) -> OwnerOf:
    """The owner of each finding, by its account, when the audits read owners."""
    by_account = {a.account_id or "": a.owners for a in audits if a.owners is not None}
    if not by_account:
        return None
    none = Owners()
    return lambda f: by_account.get(f.account_id, none).of(f)


def _with_owners(dicts: list[dict[str, Any]], findings: list[Finding], owner: OwnerOf) -> Any:
    if owner is not None:
        for d, f in zip(dicts, findings, strict=True):
            d["owner"] = owner(f)
    return dicts


def account_summaries(
    as_of: datetime,
    audits: Sequence[AccountAudit],
    failed: Sequence[Mapping[str, str]],
    order: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One entry per source, audited or failed, in ``order``: nothing audited is left
    out, so a clean account, an empty one and a failed one read differently."""
    pending: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
    for a in audits:
        pending[a.label].append(_audited(as_of, a))
    for f in failed:
        pending[f["account"]].append(_failed(f))
    entries = [pending[label].popleft() for label in order if pending.get(label)]
    return entries + [e for queue in pending.values() for e in queue]


def _audited(as_of: datetime, a: AccountAudit) -> dict[str, Any]:
    report, ev = a.report, a.evaluation
    generated = report.generated_time
    return {
        "source": a.label,
        "account_id": a.account_id,
        "result": "findings" if ev.findings else "clean",
        "users": len(report.users),
        "generated_time": None if generated is None else iso(generated),
        "report_age_seconds": None if generated is None else _seconds(as_of - generated),
        "complete": report.complete,
        "missing_columns": sorted(report.missing_columns),
        "not_evaluated": dict(ev.not_evaluated),
        "findings": len(ev.findings),
        "exempted": len(ev.exempted),
        "problems": len(ev.problems),
        "reason": None,
    }


def _failed(f: Mapping[str, str]) -> dict[str, Any]:
    return {
        "source": f["account"], "account_id": None, "result": "failed", "users": None,
        "generated_time": None, "report_age_seconds": None, "complete": None,
        "missing_columns": [], "not_evaluated": {}, "findings": None, "exempted": None,
        "problems": None, "reason": f["reason"],
    }  # fmt: skip


def _seconds(delta: timedelta) -> int:
    return math.floor(delta.total_seconds())


def _json_audit(
    as_of: datetime,
    findings: list[Finding],
    result: Evaluation,
    failed: Sequence[Mapping[str, str]],
    accounts: list[dict[str, Any]],
    problems: list[Located],
    upcoming: Sequence[Upcoming] = (),
    owner: OwnerOf = None,
) -> Iterator[bytes]:
    exempted = sorted_findings(result.exempted)
    doc: dict[str, Any] = {
        "as_of": iso(as_of),
        "findings": _FindingList(findings, owner),
        "summary": severity_counts(findings),
        "upcoming": [u.as_dict() for u in upcoming],
        "exempted": _FindingList(exempted, owner),
        "expired_exemptions": [e.as_dict() for e in result.expired_exemptions],
        "problems": [
            {**p._asdict(), "source": source, "account_id": account}
            for source, account, p in problems
        ],
        "failed_accounts": [dict(f) for f in failed],
        "accounts": accounts,
    }
    return dumps_pieces(doc)


class _FindingList(NamedTuple):
    """Findings to be written as a JSON list of their dicts, made a few at a time."""

    findings: Sequence[Finding]
    owner: OwnerOf

    def dicts(self) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(self.findings), FINDINGS_PER_PIECE):
            some = self.findings[start : start + FINDINGS_PER_PIECE]
            yield _with_owners(finding_dicts(some), list(some), self.owner)


# Findings encoded per piece: their dicts (and their JSON, about 330 bytes each) stay
# in the caches, and the whole list of dicts never exists at once.
FINDINGS_PER_PIECE = 1000


def dumps_pieces(doc: dict[str, Any]) -> Iterator[bytes]:
    """``dumps_indented(doc)`` in pieces, byte for byte, a value of ``doc`` at a time
    and a ``_FindingList`` a piece of findings at a time.

    Indented JSON nests by lines: a value's encoding at depth 1 is its own encoding
    with two more spaces after each newline (no string holds a raw newline), and a
    list's items are joined by ``,`` and a newline. So each piece is encoded on its
    own (by orjson, or by json where that is what ``dumps_indented`` would use) and
    indented where it goes."""
    if not doc:
        yield b"{}\n"
        return
    yield b"{\n"
    for n, (key, value) in enumerate(doc.items()):
        yield b"  " + _encoded(key) + b": "
        if isinstance(value, _FindingList) and value.findings:
            yield b"[\n"
            for i, some in enumerate(value.dicts()):
                items = _encoded(some)[len(b"[\n") : -len(b"\n]")]  # "  {...},\n  {...}"
                yield (b",\n  " if i else b"  ") + items.replace(b"\n", b"\n  ")
            yield b"\n  ]"
        else:
            plain = [] if isinstance(value, _FindingList) else value
            yield _encoded(plain).replace(b"\n", b"\n  ")
        yield b",\n" if n < len(doc) - 1 else b"\n"
    yield b"}\n"


def _encoded(value: Any) -> bytes:
    """``dumps_indented(value)`` without its final newline."""
    return dumps_indented(value)[:-1]


# Dates and dataclasses go to ``default`` (and are refused), as json refuses them.
_ORJSON_OPTIONS = (
    orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps_indented(doc: Any) -> bytes:
    """``json.dumps(doc, indent=2) + "\n"`` (ASCII), byte for byte, written by orjson.

    With ``indent`` the standard library encodes in pure Python: it was two thirds of
    an audit of 20k users. orjson writes the same text for what the audit holds
    (dicts, lists, strings, integers, booleans, None) except that it leaves non-ASCII
    characters and DEL unescaped, where ``json`` escapes them: such a document, or
    one orjson refuses (an integer over 64 bits), is written by ``json`` instead."""
    try:
        out = orjson.dumps(doc, default=_plain, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        out = b"\x80"  # not ASCII: written by json below
    if not out.isascii() or b"\x7f" in out:
        return (json.dumps(doc, indent=2, default=_plain) + "\n").encode("ascii")
    return out + b"\n"


def _plain(value: Any) -> Any:
    # A read-only mapping (the facts of a finding may be one): json writes it as a
    # dict only when it is a dict, so it is written as one here too.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def problem_text(p: ParseProblem) -> str:
    """One problem in words, for the table."""
    if p.reason == NO_ROOT_ROW_PROBLEM:
        return f"no {p.value} row: the report is incomplete, users it lacks read as deleted"
    if p.line == 0:
        return f"{p.column} = {p.value!r} is over an hour after the audit's time (now or --as-of)"
    where = f"record {p.line}, user {p.user!r}"
    if p.reason == DUPLICATE_USER:
        return f"{where}: listed again; only the user's first row counts"
    if p.reason == FUTURE:
        return f"{where}: {p.column} = {p.value!r} is later than the report itself (unknown)"
    return f"{where}: {p.column} = {p.value!r} is unreadable (unknown)"


def _csv_audit(
    findings: list[Finding],
    accounts: list[dict[str, Any]],
    problems: list[Located],
    upcoming: Sequence[Upcoming] = (),
    owner: OwnerOf = None,
) -> str:
    rows = [[*_finding_row(f), "finding"] for f in findings]
    for u in upcoming:
        f, due = u.finding, json.dumps({"due": u.due.isoformat()})
        key = "" if f.key is None else str(f.key)
        rows.append([f.account_id, f.user, f.arn, f.check, f.severity, key, "", due, "upcoming"])
    for source, account, p in problems:
        facts = json.dumps({**p._asdict(), "source": source}, sort_keys=True)
        rows.append([account or "", p.user, "", "", "", "", problem_text(p), facts, "problem"])
    for entry in accounts:
        facts = json.dumps(entry, sort_keys=True)
        rows.append([entry["account_id"] or "", "", "", "", "", "", _result_text(entry), facts,
                     "account"])  # fmt: skip
    if owner is None:
        return _csv(rows, AUDIT_CSV_COLUMNS)
    # The owner column comes last, so readers of the columns above are unaffected.
    owners = [owner(f) for f in findings] + [owner(u.finding) for u in upcoming]
    for n, row in enumerate(rows):
        row.append(owners[n] if n < len(owners) else "")
    return _csv(rows, (*AUDIT_CSV_COLUMNS, "owner"))


def severity_counts(findings: Sequence[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in SEVERITIES}


def _finding_row(f: Finding) -> list[str]:
    key = "" if f.key is None else str(f.key)
    facts = json.dumps(dict(f.facts), sort_keys=True)
    return [f.account_id, f.user, f.arn, f.check, f.severity, key, f.message, facts]


def _table_audit(
    as_of: datetime,
    findings: list[Finding],
    result: Evaluation,
    accounts: list[dict[str, Any]],
    problems: list[Located],
    upcoming: Sequence[Upcoming] = (),
    owner: OwnerOf = None,
) -> str:
    rows = [
        [f.severity.upper(), f.account_id, f.user, f.check, "" if f.key is None else str(f.key),
         f.message]
        for f in findings
    ]  # fmt: skip
    header = ["SEVERITY", "ACCOUNT", "USER", "CHECK", "KEY", "MESSAGE"]
    if owner is not None:
        header.insert(3, "OWNER")
        for row, f in zip(rows, findings, strict=True):
            row.insert(3, owner(f))
    out = [f"IAM credential audit as of {iso(as_of)}", ""]
    out.append(_table(header, rows))
    counts = severity_counts(findings)
    out.append("")
    out.append(f"{len(findings)} finding(s): " + ", ".join(f"{counts[s]} {s}" for s in SEVERITIES))
    if upcoming:
        out += ["", *upcoming_lines(upcoming)]
    if result.exempted:
        out.append(f"{len(result.exempted)} finding(s) exempted by the exemption list")
    for e in result.expired_exemptions:
        out.append(f"expired exemption no longer applies: {e.describe()}")
    if problems:
        out.append(f"{len(problems)} problem(s) in the report(s):")
        out.extend(
            f"  {source}: {problem_text(p)}" for source, _, p in problems[:MAX_PROBLEMS_SHOWN]
        )
        if len(problems) > MAX_PROBLEMS_SHOWN:
            more = len(problems) - MAX_PROBLEMS_SHOWN
            out.append(f"  ... and {more} more (see --format json)")
    out += ["", f"Audited {len(accounts)} report(s):"]
    header = ["SOURCE", "ACCOUNT", "USERS", "REPORT AGE", "COMPLETE", "RESULT"]
    out.append(_table(header, [_account_cells(e) for e in accounts]))
    for entry in accounts:
        reasons: dict[str, list[str]] = defaultdict(list)
        for cid, why in entry["not_evaluated"].items():
            reasons[why].append(cid)
        out.extend(
            f"  {entry['source']}: not evaluated, {why}: {', '.join(ids)}"
            for why, ids in reasons.items()
        )
    return "\n".join(out) + "\n"


UPCOMING_HEADER = ["DUE", "SEVERITY", "ACCOUNT", "USER", "CHECK", "KEY"]


def upcoming_cells(u: Upcoming) -> list[str]:
    f = u.finding
    who = f.user or (f"role/{role_name(f)}" if role_name(f) else "")
    key = "" if f.key is None else str(f.key)
    return [u.due.isoformat(), f.severity.upper(), f.account_id, who, f.check, key]


def upcoming_lines(upcoming: Sequence[Upcoming]) -> list[str]:
    """The findings a day threshold will raise within the window, soonest first."""
    head = f"Upcoming ({len(upcoming)}): not yet findings, due on the date shown"
    return [head, _table(UPCOMING_HEADER, [upcoming_cells(u) for u in upcoming])]


def _account_cells(e: Mapping[str, Any]) -> list[str]:
    if e["result"] == "failed":
        return [e["source"], "-", "-", "-", "-", _result_text(e)]
    complete = "yes" if e["complete"] else "no (no <root_account> row)"
    return [e["source"], e["account_id"] or "-", str(e["users"]),
            age_text(e["report_age_seconds"]), complete, _result_text(e)]  # fmt: skip


def _result_text(e: Mapping[str, Any]) -> str:
    if e["result"] == "failed":
        return f"failed ({e['reason']})"
    if e["result"] == "clean":
        return "clean"
    return f"{e['findings']} finding(s)"


def age_text(seconds: int | None) -> str:
    """A report's age, roughly: minutes, hours below two days, then days."""
    if seconds is None:
        return "unknown"
    sign, left = ("-", -seconds) if seconds < 0 else ("", seconds)
    if left < 3600:
        return f"{sign}{left // 60}m"
    if left < 2 * 86400:
        return f"{sign}{left // 3600}h"
    return f"{sign}{left // 86400}d"


def render_changes(
    fmt: str,
    changes: Sequence[Change],
    problems: Sequence[tuple[str, ParseProblem]] = (),
    account_id: str = "",
) -> str:
    """``problems``: (source, problem) of the two reports of account ``account_id``."""
    if fmt == "json":
        doc = {
            "changes": [c.as_dict() for c in changes],
            "problems": [{**p._asdict(), "source": source} for source, p in problems],
        }
        return json.dumps(doc, indent=2) + "\n"
    rows = [[c.account_id, c.user, c.arn, c.change, "" if c.key is None else str(c.key), c.detail]
            for c in changes]  # fmt: skip
    if fmt == "csv":
        rows = [[*r, "change"] for r in rows] + [
            [account_id, p.user, "", "", "", f"{source}: {problem_text(p)}", "problem"]
            for source, p in problems
        ]
        return _csv(rows, DIFF_CSV_COLUMNS)
    table_rows = [[r[3], r[0], r[1], r[4], r[5]] for r in rows]
    if changes:
        body = _table(["CHANGE", "ACCOUNT", "USER", "KEY", "DETAIL"], table_rows)
        out = [body, "", f"{len(changes)} change(s)"]
    else:  # an empty table under a header reads like a failure to compare
        out = [NO_CHANGES]
    if problems:
        out.append(f"{len(problems)} problem(s) in the reports:")
        out.extend(f"  {source}: {problem_text(p)}" for source, p in problems)
    return "\n".join(out) + "\n"


def _csv(rows: list[list[str]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]  # fmt: skip
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)

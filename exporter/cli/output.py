"""Render findings and changes as a table, JSON or CSV for the command line."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from exporter.core.diff import Change
from exporter.core.evaluate import Evaluation
from exporter.core.findings import SEVERITIES, Finding

FORMATS = ("table", "json", "csv")
FINDING_COLUMNS = ("account_id", "user", "arn", "check", "severity", "key", "message", "facts")
MAX_PROBLEMS_SHOWN = 20
CHANGE_COLUMNS = ("account_id", "user", "arn", "change", "key", "detail")


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def render_audit(fmt: str, as_of: datetime, result: Evaluation, failed: Sequence[Any] = ()) -> str:
    findings = sorted(result.findings, key=Finding.sort_key)
    if fmt == "json":
        return _json_audit(as_of, findings, result, failed)
    if fmt == "csv":
        return _csv([_finding_row(f) for f in findings], FINDING_COLUMNS)
    return _table_audit(as_of, findings, result)


def _json_audit(
    as_of: datetime, findings: list[Finding], result: Evaluation, failed: Sequence[Any]
) -> str:
    doc = {
        "as_of": iso(as_of),
        "findings": [f.as_dict() for f in findings],
        "summary": severity_counts(findings),
        "exempted": [f.as_dict() for f in sorted(result.exempted, key=Finding.sort_key)],
        "expired_exemptions": [e.as_dict() for e in result.expired_exemptions],
        "problems": [p._asdict() for p in result.problems],
        "failed_accounts": [dict(f) for f in failed],
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def severity_counts(findings: Sequence[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in SEVERITIES}


def _finding_row(f: Finding) -> list[str]:
    key = "" if f.key is None else str(f.key)
    facts = json.dumps(dict(f.facts), sort_keys=True)
    return [f.account_id, f.user, f.arn, f.check, f.severity, key, f.message, facts]


def _table_audit(as_of: datetime, findings: list[Finding], result: Evaluation) -> str:
    rows = [
        [f.severity.upper(), f.account_id, f.user, f.check, "" if f.key is None else str(f.key),
         f.message]
        for f in findings
    ]  # fmt: skip
    out = [f"IAM credential audit as of {iso(as_of)}", ""]
    out.append(_table(["SEVERITY", "ACCOUNT", "USER", "CHECK", "KEY", "MESSAGE"], rows))
    counts = severity_counts(findings)
    out.append("")
    out.append(f"{len(findings)} finding(s): " + ", ".join(f"{counts[s]} {s}" for s in SEVERITIES))
    if result.exempted:
        out.append(f"{len(result.exempted)} finding(s) exempted by the exemption list")
    for e in result.expired_exemptions:
        out.append(f"expired exemption no longer applies: {e.describe()}")
    if result.problems:
        out.append(f"{len(result.problems)} unreadable value(s) in the report (fields unknown):")
        out.extend(
            f"  record {p.line}, user {p.user!r}: {p.column} = {p.value!r}"
            for p in result.problems[:MAX_PROBLEMS_SHOWN]
        )
        if len(result.problems) > MAX_PROBLEMS_SHOWN:
            more = len(result.problems) - MAX_PROBLEMS_SHOWN
            out.append(f"  ... and {more} more (see --format json)")
    return "\n".join(out) + "\n"


def render_changes(fmt: str, changes: Sequence[Change]) -> str:
    if fmt == "json":
        return json.dumps({"changes": [c.as_dict() for c in changes]}, indent=2) + "\n"
    rows = [[c.account_id, c.user, c.arn, c.change, "" if c.key is None else str(c.key), c.detail]
            for c in changes]  # fmt: skip
    if fmt == "csv":
        return _csv(rows, CHANGE_COLUMNS)
    table_rows = [[r[3], r[0], r[1], r[4], r[5]] for r in rows]
    body = _table(["CHANGE", "ACCOUNT", "USER", "KEY", "DETAIL"], table_rows)
    return body + f"\n\n{len(changes)} change(s)\n"


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

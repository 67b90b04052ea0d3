"""The audit's JSON is written by orjson, and must stay byte for byte what
``json.dumps(doc, indent=2)`` wrote: scripts and golden files compare it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import pytest

from benchmarks.synthetic import AS_OF, generate_report
from exporter.cli import output
from exporter.cli.audit_accounts import AccountAudit
from exporter.cli.output import audit_json, dumps_indented, render_audit
from exporter.config import Config
from exporter.core.evaluate import evaluate
from exporter.core.exemptions import Exemption
from exporter.core.findings import Finding, finding_dicts, sorted_findings
from exporter.core.report import parse_report


def stdlib(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode("ascii")


@pytest.mark.parametrize(
    "doc",
    [
        {"a": [], "b": {}, "c": [{"x": 1, "y": None, "z": True, "w": False}], "d": [1, -2]},
        {"quotes and escapes": 'a"b\\c\n\t\r\b\f\x01\x1f/'},
        {"non-ASCII": "caf\u00e9 \u2028 \U0001f600"},
        {"DEL": "a\x7fb"},
        {"over 64 bits": 2**70, "negative": -(2**70)},
        [],
        {},
    ],
    ids=["plain", "escapes", "non-ascii", "del", "big-int", "empty-list", "empty-dict"],
)
def test_documents_are_written_exactly_as_the_standard_library_writes_them(doc: Any) -> None:
    assert dumps_indented(doc) == stdlib(doc)


def test_read_only_facts_are_written_as_a_dict() -> None:
    doc = {"facts": MappingProxyType({"days": 3, "role": "r"})}
    assert dumps_indented(doc) == stdlib({"facts": {"days": 3, "role": "r"}})


def test_an_unknown_type_is_refused_as_json_refuses_it() -> None:
    with pytest.raises(TypeError):
        dumps_indented({"when": datetime(2026, 1, 1, tzinfo=timezone.utc)})


def test_finding_dicts_and_sort_are_those_of_the_finding_methods() -> None:
    report = parse_report(generate_report(2000))
    findings = list(evaluate(report, Config(), AS_OF).findings)
    # Shuffle deterministically, with ties (equal keys) kept in a known order.
    findings = findings[1::2] + findings[::2]
    assert sorted_findings(findings) == sorted(findings, key=Finding.sort_key)
    assert finding_dicts(findings) == [f.as_dict() for f in findings]


def test_a_5000_user_audit_is_byte_identical_to_the_standard_library_encoding() -> None:
    data = generate_report(5000)
    report = parse_report(data, AS_OF, AS_OF)
    evaluation = evaluate(report, Config(), AS_OF)
    audit = AccountAudit("report.csv", report.account_id, report, evaluation)
    out = render_audit("json", AS_OF, [audit], order=["report.csv"])
    assert len(json.loads(out)["findings"]) == len(evaluation.findings) > 1000
    assert out.encode("ascii") == stdlib(json.loads(out))
    assert audit_json(AS_OF, [audit], order=["report.csv"]) == out.encode("ascii")


@pytest.mark.parametrize("per_piece", [1, 3, 1000])
@pytest.mark.parametrize("user", ["someone", "caf\u00e9", "a\x7fb"])
def test_the_pieces_are_the_standard_library_encoding_of_the_whole(
    per_piece: int, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Findings encoded a few at a time, some of them by json (non-ASCII, DEL), joined
    # into the one document json.dumps(indent=2) writes.
    monkeypatch.setattr(output, "FINDINGS_PER_PIECE", per_piece)
    data = generate_report(40).replace(b"\napp-", f"\n{user}-".encode(), 3)
    report = parse_report(data, AS_OF, AS_OF)
    live = Exemption("*2", False, None, "accepted")
    evaluation = evaluate(report, replace(Config(), exemptions=(live,)), AS_OF)
    assert len(evaluation.findings) > 3 * per_piece or per_piece == 1000
    assert evaluation.exempted
    audit = AccountAudit("report.csv", report.account_id, report, evaluation)
    out = audit_json(AS_OF, [audit], order=["report.csv"])
    doc = json.loads(out)
    assert out == stdlib(doc)
    assert doc["findings"] == [f.as_dict() for f in sorted_findings(evaluation.findings)]
    assert doc["exempted"] == [f.as_dict() for f in sorted_findings(evaluation.exempted)]
    assert list(doc) == KEYS


KEYS = ["as_of", "findings", "summary", "upcoming", "exempted", "expired_exemptions",
        "problems", "failed_accounts", "accounts"]  # fmt: skip


def test_an_audit_without_findings_writes_empty_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    report = parse_report(generate_report(0), AS_OF, AS_OF)
    evaluation = evaluate(report, Config(), AS_OF)
    audit = AccountAudit("report.csv", report.account_id, report, evaluation)
    out = audit_json(AS_OF, [audit], order=["report.csv"])
    doc = json.loads(out)
    assert out == stdlib(doc) and doc["exempted"] == []

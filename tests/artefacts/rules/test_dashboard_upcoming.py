"""Both dashboards show the upcoming findings: a table "Due in the next 14 days"."""

from __future__ import annotations

import json

import pytest

from tests.artefacts.rules.promql import REPO

DASHBOARDS = sorted((REPO / "grafana" / "dashboards").glob("*.json"))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_due_in_the_next_14_days(path: object) -> None:
    doc = json.loads(path.read_text())  # type: ignore[attr-defined]
    [panel] = [p for p in doc["panels"] if p.get("title") == "Due in the next 14 days"]
    assert panel["type"] == "table"
    [expr] = [t["expr"] for t in panel["targets"]]
    # Milliseconds for Grafana's date unit; one series per instance-deduplicated finding.
    assert "aws_iam_finding_due_timestamp_seconds{" in expr and expr.endswith("* 1000")
    assert expr.startswith("max by (job, account_id, check, severity, user, key)")
    units = [p["value"] for o in panel["fieldConfig"]["overrides"]
             if o["matcher"]["options"] == "due" for p in o["properties"]]  # fmt: skip
    assert units == ["dateTimeAsIsoNoDateIfToday"]
    assert panel["options"]["sortBy"] == [{"displayName": "due", "desc": False}]

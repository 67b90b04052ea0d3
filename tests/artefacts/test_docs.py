"""docs/checks.md agrees with the catalogue in exporter/core/checks/catalogue.py.

Both ways: every check has its summary row and its section, and every row and
section is a check of the catalogue.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter.core.checks import CATALOGUE, CheckSpec

DOC = (Path(__file__).resolve().parents[2] / "docs" / "checks.md").read_text(encoding="utf-8")


def summary_row(spec: CheckSpec) -> list[str]:
    match = re.search(rf"^\| `{spec.id}` \|(.*)\|$", DOC, re.MULTILINE)
    assert match, f"{spec.id} is missing from the summary table of docs/checks.md"
    return [cell.strip() for cell in match.group(1).split("|")]


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.id)
def test_every_check_is_documented_as_in_the_catalogue(spec: CheckSpec) -> None:
    severity, thresholds, cis, _seed = summary_row(spec)
    assert severity == spec.severity
    assert cis == spec.cis
    expected = ", ".join(f"`{k}` {v}" for k, v in spec.thresholds.items()) or "-"
    assert thresholds == expected
    section = DOC.split(f"### `{spec.id}`\n", 1)
    assert len(section) == 2, f"docs/checks.md has no section for {spec.id}"
    body = section[1].split("\n### ", 1)[0]
    assert f"Severity: {spec.severity}." in body
    assert "CIS" in body and "Rationale:" in body and "Seed:" in body
    for name, value in spec.thresholds.items():
        assert f"`{name}` = {value}" in body


def test_no_undocumented_ids_in_the_summary() -> None:
    ids = re.findall(r"^\| `([a-z0-9_]+)` \|", DOC, re.MULTILINE)
    assert ids == [spec.id for spec in CATALOGUE]


def test_every_section_is_a_check_of_the_catalogue() -> None:
    # Sections are grouped by topic, not in catalogue order; each one is a check id.
    headings = re.findall(r"^### (.*)$", DOC, re.MULTILINE)
    not_ids = [h for h in headings if not re.fullmatch(r"`[a-z0-9_]+`", h)]
    assert not_ids == [], "level-3 headings of docs/checks.md are check ids in backquotes"
    ids = [h.strip("`") for h in headings]
    assert len(ids) == len(set(ids)), "a check has two sections"
    assert set(ids) == {spec.id for spec in CATALOGUE}

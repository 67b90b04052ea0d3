"""Every real report in ``shared/real-reports`` through ``audit``, against the seed script.

Each file with today's 22 columns audits without a traceback: exit 0, or exit 2 with
one line naming the ``<root_account>`` row and the file when the report has no root
row (and exit 0 with --allow-incomplete). The seven seed checks then give the seed
script's findings on the rows we audit, with the two documented differences:

- ``root_access_key_active`` also reports root's access key 2 (docs/checks.md);
- a user listed twice is audited once, on its first row (the others are report
  problems), where the seed script audits every row.

Without the root row the seed has no root finding either, and ours are not evaluated.
The other files (the pre-2015 16-column format, broken headers) audit or fail with
one line, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmarks.seed_script import seed_audit
from exporter.cli.main import main
from tests.support.real_reports import current_format_reports, real_reports_dir
from tests.support.reports import AS_OF, AS_OF_TEXT

SEED_CHECKS = frozenset({
    "root_mfa_disabled", "root_access_key_active", "console_without_mfa", "password_unused",
    "access_key_not_rotated", "access_key_never_used", "access_key_unused",
})  # fmt: skip
ROOT_KEY = ("high", "<root_account>", "Root account has active access keys")
REPORTS = current_format_reports()
Triple = tuple[str, str, str]


def audit(capsys: pytest.CaptureFixture[str], path: Path, *flags: str) -> tuple[int, str, str]:
    code = main(["audit", "--report-file", str(path), "--as-of", AS_OF_TEXT, *flags])
    out, err = capsys.readouterr()
    return code, out, err


def first_rows(text: str) -> tuple[str, list[dict[str, str]]]:
    """The report with each user's first row only (what we audit), and those rows."""
    rows = list(csv.DictReader(io.StringIO(text)))
    seen: set[str] = set()
    kept = [r for r in rows if not (r["user"] in seen or seen.add(r["user"]))]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    out.write(text.splitlines()[0] + "\n")
    writer.writerows(kept)
    return out.getvalue(), kept


def expected(text: str) -> Counter[Triple]:
    audited, rows = first_rows(text)
    seed = Counter(
        (f["severity"].lower(), f["user"], f["issue"]) for f in seed_audit(audited, AS_OF)
    )
    root_key_2 = sum(
        1 for r in rows if r["user"] == "<root_account>" and r["access_key_2_active"] == "true"
    )
    return seed + Counter({ROOT_KEY: root_key_2})


def ours(doc: dict[str, Any]) -> Counter[Triple]:
    return Counter(
        (f["severity"], f["user"], f["message"])
        for f in doc["findings"]
        if f["check"] in SEED_CHECKS
    )


def test_the_real_reports_are_there() -> None:
    if real_reports_dir() is None:
        pytest.skip("shared/real-reports not found beside the repository")
    assert len(REPORTS) >= 20  # the folder's 22-column files


@pytest.mark.parametrize("path", REPORTS, ids=[p.name for p in REPORTS])
def test_each_real_report_audits_and_matches_the_seed_script(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = path.read_text(encoding="utf-8-sig")
    has_root = any(r["user"] == "<root_account>" for r in csv.DictReader(io.StringIO(text)))
    code, out, err = audit(capsys, path, "--format", "json")
    if not has_root:
        assert code == 2 and out == "", err
        assert err == (
            f"iam-credential-exporter: error: {path}: the credential report has no "
            "<root_account> row, which AWS always writes: it is truncated, hand-made or from "
            "a fake (--allow-incomplete audits it without the root checks)\n"
        )
        code, out, err = audit(capsys, path, "--format", "json", "--allow-incomplete")
    assert code == 0, err
    doc = json.loads(out)
    [account] = doc["accounts"]
    assert account["complete"] is has_root
    root_checks = {"root_mfa_disabled", "root_access_key_active", "root_used_recently"}
    assert root_checks.isdisjoint(account["not_evaluated"]) is has_root
    assert ours(doc) == expected(text)
    for fmt in ("table", "csv"):
        code, out, err = audit(capsys, path, "--format", fmt, "--allow-incomplete")
        assert code == 0 and out, err


def test_every_file_of_the_folder_audits_or_fails_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = real_reports_dir()
    if folder is None:
        pytest.skip("shared/real-reports not found beside the repository")
    outcomes = {}
    for path in sorted(folder.glob("*.csv")):
        code, out, err = audit(capsys, path, "--format", "json", "--allow-incomplete")
        if code == 0:
            json.loads(out)
        else:
            assert code == 2 and out == "" and err.count("\n") == 1, (path.name, err)
            assert err.startswith(f"iam-credential-exporter: error: {path}: "), err
        outcomes[path.name] = code
    # The pre-2015 format is read; a header that lacks columns is refused, naming them.
    assert outcomes["awsdoc_powershell_restored.csv"] == 0
    assert outcomes["insightwatch_oldformat_header_only.csv"] == 0
    assert outcomes["guardian_invalid_5col.csv"] == 2
    assert outcomes["insightwatch_no_user_column.csv"] == 2

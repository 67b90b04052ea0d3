"""The seed article's script as a user runs it, on a saved report: ``python -m
benchmarks.seed_process REPORT [--no-boto3]``.

The article's script starts with ``import boto3`` and ends by sorting its findings
by severity and printing them; between the two it asks AWS for the report, which is
replaced here by reading the file (the same replacement as ``seed_script``). Ages
are counted as of ``benchmarks.synthetic.AS_OF`` so the findings do not drift with
the calendar. ``--no-boto3`` leaves the import out: the article's code alone.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if "--no-boto3" not in argv:
        import boto3  # noqa: F401 (the article's first line, paid by whoever runs it)
    from benchmarks import seed_script
    from benchmarks.synthetic import AS_OF

    with open(argv[0], "rb") as report:
        content = report.read().decode("utf-8")
    findings = seed_script.seed_audit(content, AS_OF)
    # The article's display part, verbatim but for the date.
    severity_order = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3}
    findings.sort(key=lambda f: severity_order.get(f["severity"], 99))
    print(f"\n{'=' * 70}")
    print(f"IAM Credential Audit Report - {AS_OF.strftime('%Y-%m-%d')}")
    print(f"{'=' * 70}\n")
    print(f"Total findings: {len(findings)}\n")
    for f in findings:
        print(f"[{f['severity']}] {f['user']}: {f['issue']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

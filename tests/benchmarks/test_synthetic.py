"""The synthetic report generator: deterministic, real AWS format, realistic values."""

from __future__ import annotations

import csv
import io

from benchmarks.synthetic import ACCOUNT_ID, HEADER, generate_report
from exporter.core.records import ROOT_USER, Special
from exporter.core.report import COLUMNS, parse_report


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert generate_report(200) == generate_report(200)
    assert generate_report(200, seed=1) != generate_report(200, seed=2)


def test_header_is_the_aws_column_order() -> None:
    assert tuple(HEADER) == COLUMNS
    first_line = generate_report(1).split(b"\n", 1)[0].decode()
    assert first_line.split(",") == list(COLUMNS)


def test_parses_cleanly_with_root_first_and_every_user() -> None:
    report = parse_report(generate_report(300, account_id="210987654321"))
    assert report.problems == ()
    assert report.account_id == "210987654321"
    assert report.records[0].user == ROOT_USER
    assert len(report.users) == 300
    assert len({r.user for r in report.records}) == 301


def test_has_the_special_values_where_aws_writes_them() -> None:
    rows = list(csv.DictReader(io.StringIO(generate_report(2000).decode())))
    root, users = rows[0], rows[1:]
    assert root["password_enabled"] == "not_supported"
    assert root["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    used = {r["password_last_used"] for r in users}
    assert {"N/A", "no_information"} <= used
    assert {r["password_enabled"] for r in users} == {"true", "false"}
    assert {r["access_key_1_last_used_date"] for r in users} >= {"N/A"}
    assert any(r["access_key_2_active"] == "true" for r in users)
    assert any(r["cert_1_active"] == "true" for r in users)
    # Timestamps are ISO 8601 with an explicit UTC offset, as AWS writes them.
    assert all(r["user_creation_time"].endswith("+00:00") for r in users)


def test_mix_of_human_and_programmatic_users() -> None:
    users = parse_report(generate_report(2000)).users
    humans = sum(1 for u in users if u.is_human)
    assert 0.5 < humans / len(users) < 0.8
    never_used = sum(
        1
        for u in users
        for k in u.access_keys
        if k.active is True and k.last_used is Special.NOT_APPLICABLE
    )
    assert never_used > 0

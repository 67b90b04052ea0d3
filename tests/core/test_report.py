"""The parser on reports in the real AWS format (tests/fixtures/reports)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from exporter.core.records import (
    DUPLICATE_USER,
    FUTURE,
    ROOT_USER,
    UNREADABLE,
    CredentialRecord,
    Special,
)
from exporter.core.report import (
    CLOCK_LEEWAY,
    COLUMNS,
    KEY_USE_COLUMNS,
    TIMESTAMP_COLUMNS,
    ReportFormatError,
    parse_report,
    parse_timestamp,
)
from tests.support.real_reports import real_report
from tests.support.reports import ACCOUNT, AS_OF, FIXTURES, key, report, root_row, ts, user_row

REPORTS = FIXTURES / "reports"


def fixture(name: str) -> bytes:
    return (REPORTS / name).read_bytes()


def by_user(data: bytes) -> dict[str, CredentialRecord]:
    return {r.user: r for r in parse_report(data).records}


def test_real_report_root_row_comes_first_with_its_special_values() -> None:
    rep = parse_report(fixture("aws_real.csv"))
    root = rep.records[0]
    assert root.user == ROOT_USER and root.is_root
    assert root.arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert root.password_enabled is Special.NOT_SUPPORTED
    assert root.password_last_changed is Special.NOT_SUPPORTED
    assert root.password_next_rotation is Special.NOT_SUPPORTED
    assert root.password_last_used == datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    assert root.mfa_active is False
    assert root.access_keys[0].active is True
    assert root.access_keys[1].last_rotated is Special.NOT_APPLICABLE
    assert [r.user for r in rep.users] == [r.user for r in rep.records[1:]]
    assert rep.account_id == ACCOUNT
    assert rep.problems == ()


def test_user_names_with_every_allowed_character_and_a_quoted_comma() -> None:
    users = by_user(fixture("aws_real.csv"))
    for name in ("alice@example.com", "bob+ops", "ci.deployer", "doe,john", "svc_backup-01=x"):
        assert name in users
    assert users["doe,john"].arn == f"arn:aws:iam::{ACCOUNT}:user/doe,john"


def test_arn_paths_are_kept_and_the_account_comes_from_the_arns() -> None:
    users = by_user(fixture("aws_real.csv"))
    assert users["ci.deployer"].arn == f"arn:aws:iam::{ACCOUNT}:user/ops/ci/ci.deployer"
    # No root row: the account still comes from a user ARN.
    rep = parse_report(report(user_row("x", arn="arn:aws-us-gov:iam::444455556666:user/a/x")))
    assert rep.account_id == "444455556666"


def test_z_and_offset_timestamps_mean_the_same_instant() -> None:
    users = by_user(fixture("aws_real.csv"))
    bob = users["bob+ops"]
    assert bob.user_creation_time == datetime(2019, 5, 5, 5, 5, 5, tzinfo=timezone.utc)
    assert parse_timestamp("2026-01-01T00:00:00Z") == parse_timestamp("2026-01-01T00:00:00+00:00")
    assert parse_timestamp("2026-01-01T02:00:00+02:00") == datetime(2026, 1, 1, tzinfo=timezone.utc)
    # No offset at all: taken as UTC rather than left naive (naive would break arithmetic).
    assert parse_timestamp("2026-01-01T00:00:00") == datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("N/A", Special.NOT_APPLICABLE),
        ("no_information", Special.NO_INFORMATION),
        ("not_supported", Special.NOT_SUPPORTED),
        ("yesterday", Special.INVALID),
        ("", Special.INVALID),
        ("2026-13-01T00:00:00+00:00", Special.INVALID),
    ],
)
def test_special_values_each_keep_their_own_state(text: str, state: Special) -> None:
    assert parse_timestamp(text) is state
    row = user_row("u", password_enabled="true", password_last_used=text)
    rec = parse_report(report(row)).records[0]
    assert rec.password_last_used is state
    assert rec.password_enabled is True


def test_flags_keep_special_states() -> None:
    rec = parse_report(report(root_row(password_enabled="not_supported"))).records[0]
    assert rec.password_enabled is Special.NOT_SUPPORTED
    for text, value in (("true", True), ("false", False)):
        rec = parse_report(report(root_row(password_enabled=text))).records[0]
        assert rec.password_enabled is value


def test_bom_crlf_and_extra_unknown_columns_are_tolerated() -> None:
    data = fixture("bom_extra_columns.csv")
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rep = parse_report(data)
    assert [r.user for r in rep.records] == [ROOT_USER, "bob+ops"]
    bob = rep.records[1]
    assert bob.mfa_active is False and bob.password_enabled is True
    assert bob.access_keys[0].last_used_region == "eu-west-1"
    assert rep.problems == ()


def test_same_records_whatever_the_column_order_and_quoting() -> None:
    rows = [root_row(), user_row("a", password_enabled="true"), user_row("b")]
    plain = parse_report(report(*rows))
    shuffled = parse_report(report(*rows, columns=tuple(reversed(COLUMNS))))
    quoted = parse_report(
        b"\n".join(
            b",".join(b'"' + v.encode() + b'"' for v in line.decode().split(","))
            for line in report(*rows).splitlines()
        )
    )
    assert plain.records == shuffled.records == quoted.records


def test_malformed_value_is_counted_and_the_rest_of_the_row_is_read() -> None:
    rep = parse_report(fixture("malformed_value.csv"))
    mallory = rep.records[1]
    assert mallory.password_last_used is Special.INVALID
    assert mallory.mfa_active is Special.INVALID
    assert mallory.password_enabled is True
    assert mallory.access_keys[0].active is True
    assert [(p.line, p.user, p.column, p.value) for p in rep.problems] == [
        (3, "mallory", "password_last_used", "yesterday"),
        (3, "mallory", "mfa_active", "maybe"),
    ]


def test_a_bad_text_in_one_column_does_not_taint_the_same_text_elsewhere() -> None:
    # "true" is a fine flag but a bad date: only the date column is reported.
    row = user_row("u", password_enabled="true", user_creation_time="true")
    rep = parse_report(report(row))
    assert [p.column for p in rep.problems] == ["user_creation_time"]


def test_empty_user_name_is_a_problem_not_a_crash() -> None:
    rep = parse_report(report(user_row("", arn="arn:aws:iam::1:user/")))
    assert [(p.column, p.value) for p in rep.problems] == [("user", "")]


def test_missing_required_column_names_it() -> None:
    with pytest.raises(ReportFormatError, match=r"missing required column\(s\): mfa_active$"):
        parse_report(fixture("missing_column.csv"))
    columns = tuple(c for c in COLUMNS if c not in ("arn", "cert_2_last_rotated"))
    with pytest.raises(ReportFormatError, match="arn, cert_2_last_rotated"):
        parse_report(report(user_row(), columns=columns))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"\xff\xfe\x00u", "not UTF-8"),
        (b"user,arn\x00", "NUL"),
        (b'user,"arn\n', "not valid CSV"),
    ],
)
def test_unreadable_reports_raise_report_format_error(data: bytes, message: str) -> None:
    with pytest.raises(ReportFormatError, match=message):
        parse_report(data)


def test_truncated_row_is_an_error_that_says_where() -> None:
    data = report(root_row(), user_row("a")) + b"b,arn:aws:iam::1:user/b,2020\n"
    with pytest.raises(ReportFormatError, match="record 4 has 3 fields but the header has 22"):
        parse_report(data)


def test_blank_lines_and_a_missing_final_newline_are_fine() -> None:
    data = report(root_row(), user_row("a")).replace(b"\n", b"\n\n").rstrip(b"\n")
    assert [r.user for r in parse_report(data).records] == [ROOT_USER, "a"]


def test_header_only_report_has_no_records() -> None:
    rep = parse_report(report())
    assert rep.records == () and rep.account_id is None


def test_str_input_and_duplicated_timestamps() -> None:
    when = (datetime(2026, 1, 1, tzinfo=timezone.utc) - timedelta(days=3)).isoformat()
    rows = [user_row(f"u{i}", user_creation_time=when) for i in range(3)]
    rep = parse_report(report(*rows).decode())
    assert {r.user_creation_time for r in rep.records} == {datetime.fromisoformat(when)}


# -- users listed twice ----------------------------------------------------------------


def test_a_user_listed_twice_keeps_its_first_row_and_each_repeat_is_a_problem() -> None:
    first = user_row("dup", mfa_active="true")
    rows = [root_row(), first, user_row("other"), user_row("dup"), user_row("dup")]
    rep = parse_report(report(*rows))
    assert [r.user for r in rep.records] == [ROOT_USER, "dup", "other"]
    assert rep.records[1].mfa_active is True  # the first row, not the last
    assert [(p.line, p.user, p.column, p.reason) for p in rep.problems] == [
        (5, "dup", "user", DUPLICATE_USER),
        (6, "dup", "user", DUPLICATE_USER),
    ]


def test_a_repeated_row_has_no_other_problem_listed() -> None:
    rows = [root_row(), user_row("dup"), user_row("dup", mfa_active="maybe")]
    assert [p.reason for p in parse_report(report(*rows)).problems] == [DUPLICATE_USER]


def test_the_real_report_that_lists_a_user_twice() -> None:
    rep = parse_report(real_report("c7n_account_credential_report.csv").read_bytes())
    christopher = [r for r in rep.records if r.user == "christopher"]
    assert len(christopher) == 1 and christopher[0].password_last_used is Special.NO_INFORMATION
    assert [(p.line, p.user, p.reason) for p in rep.problems] == [
        (10, "christopher", DUPLICATE_USER)
    ]


# -- the pre-2015 format ---------------------------------------------------------------


def test_the_16_column_format_is_read_with_key_use_unknown() -> None:
    rep = parse_report(real_report("awsdoc_powershell_restored.csv").read_bytes())
    assert rep.missing_columns == frozenset(KEY_USE_COLUMNS) and len(KEY_USE_COLUMNS) == 6
    assert rep.problems == () and rep.complete
    admin = {r.user: r for r in rep.records}["Administrator"]
    for k in admin.access_keys:
        assert k.active is True and isinstance(k.last_rotated, datetime)
        assert k.last_used is Special.INVALID
        assert (k.last_used_region, k.last_used_service) == ("", "")
    assert admin.password_last_used == datetime(2015, 4, 20, 15, 18, 32, tzinfo=timezone.utc)
    assert rep.records[2].certificates[0].last_rotated == datetime(
        2015, 4, 20, 20, 0, 12, tzinfo=timezone.utc
    )


def test_the_16_column_format_header_alone() -> None:
    rep = parse_report(real_report("insightwatch_oldformat_header_only.csv").read_bytes())
    assert rep.records == () and not rep.complete and rep.missing_columns


def test_some_key_use_columns_without_the_others_is_a_garbled_header() -> None:
    columns = tuple(c for c in COLUMNS if c != "access_key_2_last_used_service")
    with pytest.raises(ReportFormatError, match=r"column\(s\): access_key_2_last_used_service$"):
        parse_report(report(root_row(), columns=columns))


def test_todays_format_misses_no_column() -> None:
    assert parse_report(fixture("aws_real.csv")).missing_columns == frozenset()


# -- complete: the root row ------------------------------------------------------------


def test_a_report_is_complete_when_it_has_the_root_row() -> None:
    assert parse_report(report(root_row(), user_row("a"))).complete
    assert parse_report(report(user_row("a"), root_row())).complete  # wherever it is
    assert not parse_report(report()).complete  # the header alone
    assert not parse_report(report(user_row("a"))).complete


def test_a_report_cut_at_a_line_boundary_reads_as_incomplete() -> None:
    lines = fixture("aws_real.csv").splitlines(keepends=True)
    header_only = parse_report(b"".join(lines[:1]))
    assert header_only.records == () and header_only.problems == ()
    assert not header_only.complete
    # Cut before the root row, from a report whose root row came last.
    reordered = lines[:1] + lines[2:] + lines[1:2]
    assert not parse_report(b"".join(reordered[:-1])).complete


# -- dates later than the report -------------------------------------------------------

GENERATED = AS_OF - timedelta(hours=2)


def later_row(**fields: str) -> dict[str, str]:
    return user_row("late", password_enabled="true", **fields)


def test_a_date_after_the_generation_time_is_a_problem_and_unknown() -> None:
    rows = [root_row(), later_row(password_last_used=ts(hours=1), **key(1, used=ts(hours=3)))]
    rep = parse_report(report(*rows), GENERATED, AS_OF)
    late = rep.records[1]
    assert late.password_last_used is Special.INVALID
    assert late.access_keys[0].last_used == AS_OF - timedelta(hours=3)  # before: kept
    assert [(p.line, p.user, p.column, p.value, p.reason) for p in rep.problems] == [
        (3, "late", "password_last_used", ts(hours=1), FUTURE)
    ]
    assert rep.generated_time == GENERATED


def test_without_a_generation_time_now_is_the_limit_give_or_take_the_leeway() -> None:
    assert timedelta(hours=1) == CLOCK_LEEWAY
    rows = [
        root_row(),
        later_row(password_last_used=ts(hours=-1.5), user_creation_time=ts(hours=-1)),
    ]
    rep = parse_report(report(*rows), None, AS_OF)
    assert [(p.column, p.reason) for p in rep.problems] == [("password_last_used", FUTURE)]
    assert rep.records[1].user_creation_time == AS_OF + timedelta(hours=1)


def test_the_earlier_of_generation_time_and_now_is_the_limit() -> None:
    rows = [root_row(), later_row(password_last_used=ts(hours=-2))]
    rep = parse_report(report(*rows), AS_OF + timedelta(days=1), AS_OF)
    assert [(p.line, p.column, p.reason) for p in rep.problems] == [
        (0, "generated_time", FUTURE),  # a generation time in the future is a problem too
        (3, "password_last_used", FUTURE),
    ]
    assert rep.problems[0].value == "2026-11-25T12:00:00Z"
    assert rep.generated_time == AS_OF + timedelta(days=1)  # kept: its age alerts still fire


def test_a_report_generated_while_the_refresh_waited_is_no_problem() -> None:
    # now is taken before the fetch; AWS dates the report when it is done generating.
    generated = AS_OF + timedelta(minutes=2)
    rows = [root_row(), later_row(password_last_used=ts(hours=-1 / 60))]
    rep = parse_report(report(*rows), generated, AS_OF)
    assert rep.problems == () and isinstance(rep.records[1].password_last_used, datetime)


def test_every_past_column_is_bounded_and_the_next_rotation_is_not() -> None:
    later = ts(hours=-5)
    fields = {c: later for c in TIMESTAMP_COLUMNS}
    rep = parse_report(report(root_row(), user_row("u", **fields)), GENERATED, AS_OF)
    assert {p.column for p in rep.problems} == set(TIMESTAMP_COLUMNS) - {"password_next_rotation"}
    user = rep.records[1]
    assert user.password_next_rotation == AS_OF + timedelta(hours=5)
    assert user.user_creation_time is Special.INVALID
    assert user.password_last_changed is Special.INVALID
    assert all(k.last_rotated is k.last_used is Special.INVALID for k in user.access_keys)
    assert all(c.last_rotated is Special.INVALID for c in user.certificates)


def test_dates_are_not_checked_against_time_unless_asked() -> None:
    data = report(root_row(), later_row(password_last_used=ts(hours=-1)))
    rep = parse_report(data)
    assert rep.problems == () and isinstance(rep.records[1].password_last_used, datetime)
    # The generation time alone bounds the dates.
    assert [p.column for p in parse_report(data, GENERATED).problems] == ["password_last_used"]


def test_unreadable_and_late_dates_in_one_report() -> None:
    rows = [root_row(), later_row(password_last_used=ts(hours=-1), user_creation_time="soon")]
    rep = parse_report(report(*rows), GENERATED, AS_OF)
    assert [(p.column, p.reason) for p in rep.problems] == [
        ("user_creation_time", UNREADABLE),
        ("password_last_used", FUTURE),
    ]


def test_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_report(report(root_row()), None, datetime(2026, 1, 1))


def test_the_real_reports_dated_2099() -> None:
    now = datetime(2026, 11, 24, tzinfo=timezone.utc)
    data = real_report("c7n_multi_delete_noop_2099.csv").read_bytes()
    rep = parse_report(data, None, now)
    assert [(p.line, p.user, p.column, p.reason) for p in rep.problems] == [
        (3, "test1", "access_key_2_last_rotated", FUTURE)
    ]
    assert rep.records[1].access_keys[1].last_rotated is Special.INVALID
    older = parse_report(real_report("c7n_multi_delete_noop_2021.csv").read_bytes(), None, now)
    assert older.problems == ()


BASE64_HINT = "aws iam get-credential-report --query Content --output text | base64 --decode"


@pytest.mark.parametrize("wrap", [0, 76], ids=["one line", "wrapped at 76"])
def test_a_report_saved_without_base64_decode_says_so_and_how_to_decode_it(wrap: int) -> None:
    encoded = base64.b64encode(fixture("aws_real.csv")).decode("ascii")
    if wrap:
        encoded = "\n".join(encoded[i : i + wrap] for i in range(0, len(encoded), wrap)) + "\n"
    with pytest.raises(ReportFormatError) as err:
        parse_report(encoded.encode("ascii"))
    message = str(err.value)
    assert "looks base64-encoded" in message and BASE64_HINT in message
    assert "\n" not in message and "missing required column" not in message


def test_base64_that_is_not_a_report_is_refused_for_its_columns() -> None:
    encoded = base64.b64encode(b"hello world, not a credential report\n")
    with pytest.raises(ReportFormatError, match="missing required column"):
        parse_report(encoded)

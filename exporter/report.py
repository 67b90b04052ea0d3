"""Parse the IAM credential report CSV into typed records.

Pure: bytes in, records out. Any input either parses or raises
``ReportFormatError`` with a message that names the problem; a bad value in
one row only marks that field unknown (see ``ParseProblem``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timezone

from exporter.records import (
    AccessKey,
    Certificate,
    CredentialRecord,
    CredentialReport,
    Flag,
    ParseProblem,
    Special,
    Timestamp,
)

KEY_FIELDS = ("active", "last_rotated", "last_used_date", "last_used_region", "last_used_service")
COLUMNS: tuple[str, ...] = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    *(f"access_key_1_{f}" for f in KEY_FIELDS),
    *(f"access_key_2_{f}" for f in KEY_FIELDS),
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
)

_SPECIALS = {s.value: s for s in Special if s is not Special.INVALID}
_FLAGS: dict[str, Flag] = {"true": True, "false": False, **_SPECIALS}


class ReportFormatError(ValueError):
    """The report as a whole cannot be read (not CSV, a missing column...)."""


def parse_report(data: bytes | str) -> CredentialReport:
    text = _decode(data)
    rows = _rows(text)
    header = next(rows, None)
    if header is None or header in ([], [""]):
        raise ReportFormatError("the credential report is empty")
    index = _column_index(header)
    parser = _RowParser(index)
    records = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise ReportFormatError(
                f"line {line} has {len(row)} fields but the header has {len(header)}: "
                "the report is truncated or garbled"
            )
        records.append(parser.record(line, row))
    return CredentialReport(
        records=tuple(records),
        account_id=account_id_of(records),
        problems=tuple(parser.problems),
    )


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ReportFormatError(
            f"the credential report is not UTF-8 text (bad byte at offset {err.start})"
        ) from None


def _rows(text: str) -> Iterator[list[str]]:
    if "\x00" in text:
        raise ReportFormatError("the credential report contains NUL bytes: it is not CSV text")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        yield from reader
    except csv.Error as err:
        raise ReportFormatError(
            f"the credential report is not valid CSV (line {reader.line_num}): {err}"
        ) from None


def _column_index(header: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(name.strip(), position)
    missing = [c for c in COLUMNS if c not in index]
    if missing:
        raise ReportFormatError(
            "the credential report is missing required column(s): " + ", ".join(missing)
        )
    return index


def parse_timestamp(value: str) -> Timestamp:
    special = _SPECIALS.get(value)
    if special is not None:
        return special
    if value.endswith("Z"):
        # Python 3.10's fromisoformat does not take the Z suffix.
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return Special.INVALID
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed


def parse_flag(value: str) -> Flag:
    return _FLAGS.get(value, Special.INVALID)


class _RowParser:
    """Reads one row at a time; remembers the values it could not read."""

    def __init__(self, index: dict[str, int]) -> None:
        self.index = index
        self.problems: list[ParseProblem] = []
        self._line = 0
        self._user = ""
        self._row: list[str] = []

    def record(self, line: int, row: list[str]) -> CredentialRecord:
        self._line, self._row = line, row
        self._user = user = row[self.index["user"]]
        if not user:
            self._problem("user", user)
        return CredentialRecord(
            user=user,
            arn=row[self.index["arn"]],
            user_creation_time=self._ts("user_creation_time"),
            password_enabled=self._flag("password_enabled"),
            password_last_used=self._ts("password_last_used"),
            password_last_changed=self._ts("password_last_changed"),
            password_next_rotation=self._ts("password_next_rotation"),
            mfa_active=self._flag("mfa_active"),
            access_keys=(self._key(1), self._key(2)),
            certificates=(self._cert(1), self._cert(2)),
        )

    def _key(self, n: int) -> AccessKey:
        p = f"access_key_{n}_"
        return AccessKey(
            number=n,
            active=self._flag(p + "active"),
            last_rotated=self._ts(p + "last_rotated"),
            last_used=self._ts(p + "last_used_date"),
            last_used_region=self._row[self.index[p + "last_used_region"]],
            last_used_service=self._row[self.index[p + "last_used_service"]],
        )

    def _cert(self, n: int) -> Certificate:
        p = f"cert_{n}_"
        return Certificate(
            number=n, active=self._flag(p + "active"), last_rotated=self._ts(p + "last_rotated")
        )

    def _ts(self, column: str) -> Timestamp:
        raw = self._row[self.index[column]]
        value = parse_timestamp(raw)
        if value is Special.INVALID:
            self._problem(column, raw)
        return value

    def _flag(self, column: str) -> Flag:
        raw = self._row[self.index[column]]
        value = parse_flag(raw)
        if value is Special.INVALID:
            self._problem(column, raw)
        return value

    def _problem(self, column: str, raw: str) -> None:
        self.problems.append(ParseProblem(self._line, self._user, column, raw[:80]))


def account_id_of(records: list[CredentialRecord] | tuple[CredentialRecord, ...]) -> str | None:
    """The account id, from the first ARN shaped like ``arn:PARTITION:iam::ID:...``."""
    for record in records:
        parts = record.arn.split(":", 5)
        if len(parts) == 6 and parts[2] == "iam" and parts[4].isdigit():
            return parts[4]
    return None

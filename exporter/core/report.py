"""Parse the IAM credential report CSV into typed records.

Pure: bytes in, records out. Any input either parses or raises
``ReportFormatError`` with a message that names the problem; a bad value in
one row only marks that field unknown (see ``ParseProblem``). So does a date
later than the report itself, when the parse is told the time (``now``). A user
listed twice keeps its first row; the others are problems, never merged.

Two formats are read: today's 22 columns, and the pre-2015 one with 16, which
lacks the ``access_key_N_last_used_*`` columns (``CredentialReport.missing_columns``).

Speed matters (a 5000-user report is parsed on every refresh, and the seed's
``csv.DictReader`` loop is the baseline to beat), so the work is done column by
column with C-level iteration (``zip``, ``map``, ``set``): each distinct date
text is parsed once, and no Python code runs per field.
"""

from __future__ import annotations

import binascii
import csv
import gc
import io
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from itertools import repeat
from operator import attrgetter
from typing import NamedTuple

from exporter.core.records import (
    DUPLICATE_USER,
    FUTURE,
    ROOT_USER,
    UNREADABLE,
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
FLAG_COLUMNS = frozenset(c for c in COLUMNS if c.endswith(("_enabled", "_active")))
TIMESTAMP_COLUMNS = frozenset(
    c
    for c in COLUMNS
    if c.endswith(("_time", "_last_used", "_changed", "_rotation", "_rotated", "_used_date"))
)
# The columns the pre-2015 format lacks. A report has all of them or none: some alone
# is a garbled header, refused like any missing column.
KEY_USE_COLUMNS: tuple[str, ...] = tuple(
    f"access_key_{n}_{f}" for n in (1, 2) for f in KEY_FIELDS[2:]
)
# Dates no report can hold after its generation time: all but the next password
# rotation, which is in the future by design.
PAST_COLUMNS = TIMESTAMP_COLUMNS - {"password_next_rotation"}

_SPECIALS: dict[str, Special] = {s.value: s for s in Special if s is not Special.INVALID}
_FLAGS: dict[str, Flag] = {"true": True, "false": False, **_SPECIALS}
_fromisoformat = datetime.fromisoformat


# How much later than ``now`` a report's generation time may be. ``now`` is taken when a
# refresh or an audit starts, and a report AWS generates for it is dated when AWS is done
# (within --aws.poll-deadline, 2 minutes by default), by a clock that may drift from
# ours. An hour later is no longer that: the report (or a clock) is wrong, and its age
# would hide the report-too-old alert.
CLOCK_LEEWAY = timedelta(hours=1)


class ReportFormatError(ValueError):
    """The report as a whole cannot be read (not CSV, a missing column...)."""


class IncompleteReportError(ReportFormatError):
    """The report has no ``<root_account>`` row (see ``require_complete``)."""


def require_complete(report: CredentialReport) -> CredentialReport:
    """``report``, or ``IncompleteReportError`` when it has no root row: AWS always
    writes one, so a report without it is truncated (possibly at a line boundary,
    down to the header alone), hand-made or from a fake, and reading it as it is
    would pass its silence off as clean."""
    if not report.complete:
        raise IncompleteReportError(
            f"the credential report has no {ROOT_USER} row, which AWS always writes: "
            "it is truncated, hand-made or from a fake"
        )
    return report


def parse_report(
    data: bytes | str, generated_time: datetime | None = None, now: datetime | None = None
) -> CredentialReport:
    """The report in ``data``, generated at ``generated_time`` (None: unknown).

    Dates are checked against time: one later than the generation time is a problem
    (``FUTURE``) and its field unknown. Given ``now``, so is one later than
    ``now + CLOCK_LEEWAY``, and a generation time later than that is a problem too
    (line 0). The next password rotation is never checked: it is a future date.
    Both times must be timezone-aware."""
    for when in (generated_time, now):
        if when is not None and when.tzinfo is None:
            raise ValueError("generated_time and now must be timezone-aware")
    with gc_paused():
        return _parse(data, generated_time, now)


class _Pause:
    """How many pauses are on, across threads, and whether the collector was on
    before the first: the last pause to end restores it. Checking and setting the
    collector's state under one lock is what keeps a thread that sees it disabled
    (by another thread's pause) from disabling it again after that pause ended."""

    lock = threading.Lock()
    depth = 0
    resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that survive.

    Tens of thousands of new tuples trigger collection after collection, each
    walking every young object (it doubled the parse time), and they form no
    cycles, so there is nothing to find. Reference counting still frees
    everything as usual. Pauses may overlap, in one thread or several: the
    collector is off while any lasts, and its previous state comes back when the
    last one ends."""
    with _Pause.lock:
        if _Pause.depth == 0:
            _Pause.resume = gc.isenabled()
            gc.disable()
        _Pause.depth += 1
    try:
        yield
    finally:
        with _Pause.lock:
            _Pause.depth -= 1
            if _Pause.depth == 0 and _Pause.resume:
                gc.enable()


def _parse(
    data: bytes | str, generated_time: datetime | None, now: datetime | None
) -> CredentialReport:
    text = _decode(data)
    if _looks_base64(text):
        raise ReportFormatError(
            "the credential report looks base64-encoded (the Content field as the AWS API "
            "returns it): decode it when saving, e.g. aws iam get-credential-report "
            "--query Content --output text | base64 --decode > report.csv"
        )
    if "\x00" in text:
        raise ReportFormatError("the credential report contains NUL bytes: it is not CSV text")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    table = _plain_table(text)
    columns: Sequence[Sequence[str]]
    if table is None:
        rows = _rows(text)
        if not rows or rows[0] in ([], [""]):
            raise ReportFormatError("the credential report is empty")
        index = _column_index(rows[0])
        columns = _columns(rows, len(rows[0]))
    else:
        index = _column_index(table[0])
        columns = table[1]
    latest = None if now is None else now + CLOCK_LEEWAY
    limits = [t for t in (generated_time, latest) if t is not None]
    found = _records(columns, index, min(limits) if limits else None)
    records = found.records
    users = columns[index["user"]] if columns else ()
    duplicates = _duplicates(users)
    if duplicates:
        records = [r for i, r in enumerate(records) if i not in duplicates]
    problems = []
    # An empty user name is a problem too; looked for in the column, in C.
    if found.bad_times or found.bad_flags or found.late or duplicates or "" in users:
        problems = _problems(_rows(text), index, found, duplicates)
    if generated_time is not None and latest is not None and generated_time > latest:
        problems.insert(0, ParseProblem(0, "", "generated_time", _iso(generated_time), FUTURE))
    missing = frozenset(c for c in KEY_USE_COLUMNS if c not in index)
    return CredentialReport(
        records=tuple(records),
        account_id=account_id_of(records),
        problems=tuple(problems),
        generated_time=generated_time,
        missing_columns=missing,
    )


_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
# What a decoded report starts with: its header (possibly after a BOM).
_HEADER_START = ("user,", "\ufeffuser,", '"user",')


def _looks_base64(text: str) -> bool:
    """Whether ``text`` is a report saved without ``base64 --decode``: base64 text
    (maybe wrapped in lines) that decodes to a credential report's header. Looked at
    only when the start has no comma, which every CSV report's header has."""
    head = text[:64]
    if "," in head or not head.strip():
        return False
    packed = "".join(text.split())
    if not _BASE64.fullmatch(packed):
        return False
    chunk = packed[:4096]
    try:
        start = binascii.a2b_base64(chunk[: len(chunk) // 4 * 4])
    except binascii.Error:
        return False
    return start.decode("utf-8", "replace").lstrip().startswith(_HEADER_START)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _duplicates(users: Sequence[str]) -> set[int]:
    """Body positions of the rows whose user came earlier (empty names excepted:
    they are problems already). In C unless there is a duplicate."""
    if len(set(users)) == len(users):
        return set()
    seen: set[str] = set()
    again = set()
    for i, user in enumerate(users):
        if user in seen and user:
            again.add(i)
        seen.add(user)
    return again


Table = tuple[list[str], Sequence[Sequence[str]]]  # the header, and the body column by column


def _plain_table(text: str) -> Table | None:
    """The table of a report without quotes (nearly every real one), or None.

    Then CSV is lines split on commas. The whole body is split at once and each
    column taken as every ``width``-th field: no list per row and no
    transposition (a third of the parse time went there). Anything unusual
    (quotes, a bare CR, a blank first line, a row of another width) returns
    None and goes through ``csv``, whose errors name the line.
    """
    if '"' in text or "\r" in text:
        return None
    lines = text.split("\n")
    if not lines[0]:
        return None
    header = lines[0].split(",")
    body = lines[1:]
    if "" in body:
        body = [line for line in body if line]  # csv skips blank lines
    if not body:
        return header, []
    if set(map(str.count, body, repeat(","))) != {len(header) - 1}:
        return None
    width = len(header)
    fields = ",".join(body).split(",")
    return header, [fields[i::width] for i in range(width)]


def _columns(rows: list[list[str]], width: int) -> list[tuple[str, ...]]:
    body = [r for r in rows[1:] if r and r != [""]]
    if body and set(map(len, body)) != {width}:
        _check_widths(rows, width)
    return list(zip(*body, strict=True))


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ReportFormatError(
            f"the credential report is not UTF-8 text (bad byte at offset {err.start})"
        ) from None


def _rows(text: str) -> list[list[str]]:
    """Every row, as ``csv`` reads them (blank lines are empty rows)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        return list(reader)
    except csv.Error as err:
        raise ReportFormatError(
            f"the credential report is not valid CSV (line {reader.line_num}): {err}"
        ) from None


def _column_index(header: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(name.strip(), position)
    optional = () if any(c in index for c in KEY_USE_COLUMNS) else KEY_USE_COLUMNS
    missing = [c for c in COLUMNS if c not in index and c not in optional]
    if missing:
        raise ReportFormatError(
            "the credential report is missing required column(s): " + ", ".join(missing)
        )
    return index


def _check_widths(rows: list[list[str]], width: int) -> None:
    for line, row in enumerate(rows, start=1):
        if row and row != [""] and len(row) != width:
            raise ReportFormatError(
                f"record {line} has {len(row)} fields but the header has {width}: "
                "the report is truncated or garbled"
            )


def parse_timestamp(value: str) -> Timestamp:
    """ISO 8601 with ``+00:00`` or ``Z``; no offset means UTC; else a ``Special``."""
    special = _SPECIALS.get(value)
    if special is not None:
        return special
    try:
        parsed = _fromisoformat(value)
    except ValueError:
        if not value.endswith("Z"):
            return Special.INVALID
        # Python 3.10's fromisoformat does not take the Z suffix (3.11 does).
        try:
            parsed = _fromisoformat(value[:-1] + "+00:00")
        except ValueError:
            return Special.INVALID
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed


class _Flags(dict[str, Flag]):
    """true/false/specials; any other text is INVALID and remembered in ``bad``."""

    def __init__(self, bad: set[str]) -> None:
        super().__init__(_FLAGS)
        self.bad = bad

    def __missing__(self, raw: str) -> Flag:
        self.bad.add(raw)
        return Special.INVALID


def _timestamps(
    past: Sequence[Iterable[str]],
    other: Iterable[str],
    bad: set[str],
    late: set[str],
    limit: datetime | None,
) -> tuple[dict[str, Timestamp], dict[str, Timestamp]]:
    """Each distinct text of the date columns, parsed once: the values for the
    ``other`` column, and for the ``past`` columns, where a date after ``limit`` is
    unknown (and its text added to ``late``)."""
    inside = set().union(*past).difference(_SPECIALS)
    texts = [*inside, *set(other).difference(_SPECIALS, inside)]
    try:
        # Fast path, all in C: every text is an ISO 8601 date with an offset.
        values: list[Timestamp] = list(map(_fromisoformat, texts))
        if None in set(map(_tzinfo, values)):
            raise ValueError("naive")
    except ValueError:
        values = list(map(parse_timestamp, texts))
        bad.update(t for t, v in zip(texts, values, strict=True) if v is Special.INVALID)
    parsed: dict[str, Timestamp] = dict(_SPECIALS)
    parsed.update(zip(texts, values, strict=True))
    if limit is None or not inside:
        return parsed, parsed
    head = values[: len(inside)]
    try:
        over = max(head) > limit  # type: ignore[type-var,operator]
    except TypeError:  # an unreadable text among them (a Special): look at each
        over = True
    if over:
        late.update(
            t for t, v in zip(texts, head, strict=False) if isinstance(v, datetime) and v > limit
        )
    if not late:
        return parsed, parsed
    return parsed, {**parsed, **dict.fromkeys(late, Special.INVALID)}


_tzinfo = attrgetter("tzinfo")


# NamedTuple's generated __new__ is a Python function; tuple.__new__ builds the very
# same objects from C, which matters at five tuples per row.
_record = partial(tuple.__new__, CredentialRecord)
_key = partial(tuple.__new__, AccessKey)
_cert = partial(tuple.__new__, Certificate)


class _Found(NamedTuple):
    records: list[CredentialRecord]
    bad_times: set[str]  # unreadable date texts
    bad_flags: set[str]  # unreadable flag texts
    late: set[str]  # date texts later than the limit (in PAST_COLUMNS)


# Rows per batch of records. Every date and flag lookup, and every record built, works
# on a batch whose texts, dicts and new objects stay in the CPU caches: over 100k rows
# at once the same work took twice as long per row as over 1000 (the working set of
# one pass had outgrown the caches). Dates that recur across batches are parsed once
# per batch, which costs little: most date texts are distinct.
BATCH_ROWS = 1000


def _records(
    columns: Sequence[Sequence[str]], index: dict[str, int], limit: datetime | None
) -> _Found:
    """Build the records batch by batch (``BATCH_ROWS``), column by column in each;
    also returns the texts that are problems."""
    found = _Found([], set(), set(), set())
    if not columns:
        return found
    cols = {name: columns[index[name]] for name in COLUMNS if name in index}
    rows = len(cols["user"])
    for start in range(0, rows, BATCH_ROWS):
        batch = {name: column[start : start + BATCH_ROWS] for name, column in cols.items()}
        found.records.extend(_batch(batch, found, limit))
    return found


def _batch(
    cols: dict[str, Sequence[str]], found: _Found, limit: datetime | None
) -> list[CredentialRecord]:
    """The records of one batch of rows; its problem texts are added to ``found``'s
    sets."""
    rotation, times = _timestamps(
        [cols[c] for c in PAST_COLUMNS if c in cols],
        cols["password_next_rotation"],
        found.bad_times,
        found.late,
        limit,
    )
    if len(cols) < len(COLUMNS):
        # The pre-2015 format: no key use at all. "" reads as unknown (INVALID).
        absent = [""] * len(cols["user"])
        cols.update((c, absent) for c in KEY_USE_COLUMNS if c not in cols)
        times.setdefault("", Special.INVALID)
    flags = _Flags(found.bad_flags)

    def ts(name: str) -> map[Timestamp]:
        return map(times.__getitem__, cols[name])

    def flag(name: str) -> map[Flag]:
        return map(flags.__getitem__, cols[name])

    def keys(n: int) -> map[AccessKey]:
        p = f"access_key_{n}_"
        return map(_AccessKeys(n, times, flags).__getitem__,
                   zip(*(cols[p + f] for f in KEY_FIELDS), strict=True))  # fmt: skip

    return list(map(_record, zip(
        cols["user"], cols["arn"], ts("user_creation_time"), flag("password_enabled"),
        ts("password_last_used"), ts("password_last_changed"),
        map(rotation.__getitem__, cols["password_next_rotation"]),
        flag("mfa_active"), zip(keys(1), keys(2), strict=True),
        map(_CertificatePairs(times, flags).__getitem__,
            zip(cols["cert_1_active"], cols["cert_1_last_rotated"], cols["cert_2_active"],
                cols["cert_2_last_rotated"], strict=True)),
        strict=True,
    )))  # fmt: skip


class _AccessKeys(dict[tuple[str, ...], AccessKey]):
    """Raw columns of access key N -> the AccessKey. Users without that key (most
    users for key 1, nearly all for key 2) share one object, and the region and
    service texts are shared too: a daemon watching 200 accounts of 1000 users
    holds 200k records, and this is a fifth of their memory."""

    def __init__(self, number: int, times: dict[str, Timestamp], flags: _Flags) -> None:
        super().__init__()
        self.number = number
        self.times = times
        self.flags = flags
        self.texts: dict[str, str] = {}

    def __missing__(self, raw: tuple[str, ...]) -> AccessKey:
        active, rotated, used, region, service = raw
        text = self.texts.setdefault
        key = AccessKey(
            self.number,
            self.flags[active],
            self.times[rotated],
            self.times[used],
            text(region, region),
            text(service, service),
        )
        self[raw] = key
        return key


class _CertificatePairs(dict[tuple[str, ...], tuple[Certificate, Certificate]]):
    """Raw cert columns -> the pair of certificates. Nearly every user has the same
    two absent certificates, so one shared pair serves them all."""

    def __init__(self, times: dict[str, Timestamp], flags: _Flags) -> None:
        super().__init__()
        self.times = times
        self.flags = flags

    def __missing__(self, raw: tuple[str, ...]) -> tuple[Certificate, Certificate]:
        a1, r1, a2, r2 = raw
        pair = (
            Certificate(1, self.flags[a1], self.times[r1]),
            Certificate(2, self.flags[a2], self.times[r2]),
        )
        self[raw] = pair
        return pair


def _problems(
    rows: list[list[str]], index: dict[str, int], found: _Found, duplicates: set[int]
) -> list[ParseProblem]:
    """Name every problem value (and empty user name, and user seen before) with its
    record number. A row left out as a duplicate has that problem only."""
    problems: list[ParseProblem] = []
    none: set[str] = set()
    checked = [
        (c, index[c], found.bad_flags if c in FLAG_COLUMNS else found.bad_times,
         found.late if c in PAST_COLUMNS else none)
        for c in COLUMNS
        if c in index and (c in FLAG_COLUMNS or c in TIMESTAMP_COLUMNS)
    ]  # fmt: skip
    i_user = index["user"]
    body = -1
    for line, row in enumerate(rows[1:], start=2):
        if not row or row == [""]:
            continue
        body += 1
        user = row[i_user]
        if body in duplicates:
            problems.append(ParseProblem(line, user, "user", user[:80], DUPLICATE_USER))
            continue
        if not user:
            problems.append(ParseProblem(line, user, "user", user))
        for column, i, bad, late in checked:
            value = row[i]
            if value in bad:
                problems.append(ParseProblem(line, user, column, value[:80], UNREADABLE))
            elif value in late:
                problems.append(ParseProblem(line, user, column, value[:80], FUTURE))
    return problems


def account_id_of(records: Iterable[CredentialRecord]) -> str | None:
    """The account id, from the first ARN shaped like ``arn:PARTITION:iam::ID:...``."""
    for record in records:
        parts = record.arn.split(":", 5)
        if len(parts) == 6 and parts[2] == "iam" and parts[4].isdigit():
            return parts[4]
    return None

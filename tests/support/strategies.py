"""Hypothesis strategies for credential reports in the real AWS format.

Every value is one AWS can write: ``true``/``false``, ``N/A``, ``no_information``,
``not_supported`` where AWS uses them, and timestamps with ``+00:00`` or ``Z``.
Dates cluster around the thresholds (89 to 92 days, 6 to 8 days...) so the
boundaries are exercised, not just the easy middle.
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from exporter.core.report import COLUMNS
from tests.support.reports import ACCOUNT, AS_OF

NAME_CHARS = string.ascii_letters + string.digits + "+=,.@_-"
BOUNDARIES = (0, 1, 6, 7, 8, 29, 30, 31, 89, 90, 91, 92, 364, 365, 366)


@st.composite
def instants(draw: st.DrawFn, now: datetime = AS_OF) -> str:
    """A timestamp as AWS writes it, near a threshold or anywhere in ~4 years."""
    if draw(st.booleans()):
        days = draw(st.sampled_from(BOUNDARIES))
        seconds = draw(st.integers(0, 86399))
        when = now - timedelta(days=days, seconds=seconds)
    else:
        when = now - timedelta(seconds=draw(st.integers(-3 * 86400, 1500 * 86400)))
    text = when.astimezone(timezone.utc).replace(microsecond=0).isoformat()
    return text.replace("+00:00", "Z") if draw(st.booleans()) else text


def _key(draw: st.DrawFn, n: int) -> dict[str, str]:
    p = f"access_key_{n}_"
    if not draw(st.booleans()):  # no key in this slot
        return {p + f: "N/A" for f in ("last_rotated", "last_used_date", "last_used_region",
                                        "last_used_service")} | {p + "active": "false"}  # fmt: skip
    used = draw(st.one_of(instants(), st.sampled_from(["N/A", "not_supported"])))
    in_use = used not in ("N/A", "not_supported")
    return {
        p + "active": draw(st.sampled_from(["true", "false"])),
        p + "last_rotated": draw(st.one_of(instants(), st.just("not_supported"))),
        p + "last_used_date": used,
        p + "last_used_region": "us-east-1" if in_use else "N/A",
        p + "last_used_service": "iam" if in_use else "N/A",
    }


def _certs(draw: st.DrawFn) -> dict[str, str]:
    row = {}
    for n in (1, 2):
        active = draw(st.sampled_from(["true", "false", "false"]))
        row[f"cert_{n}_active"] = active
        row[f"cert_{n}_last_rotated"] = draw(instants()) if active == "true" else "N/A"
    return row


@st.composite
def user_rows(draw: st.DrawFn, name: str) -> dict[str, str]:
    path = draw(st.sampled_from(["", "ops/", "ops/ci/"]))
    password = draw(st.sampled_from(["true", "false"]))
    if password == "true":
        last_used = draw(st.one_of(instants(), st.sampled_from(["no_information", "N/A"])))
        changed, rotation = draw(instants()), draw(st.one_of(instants(), st.just("N/A")))
    else:
        last_used = draw(st.one_of(st.just("N/A"), instants()))  # a removed password keeps it
        changed = rotation = "N/A"
    return {
        "user": name,
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{path}{name}",
        "user_creation_time": draw(instants()),
        "password_enabled": password,
        "password_last_used": last_used,
        "password_last_changed": changed,
        "password_next_rotation": rotation,
        "mfa_active": draw(st.sampled_from(["true", "false"])),
        **_key(draw, 1),
        **_key(draw, 2),
        **_certs(draw),
    }


@st.composite
def root_rows(draw: st.DrawFn) -> dict[str, str]:
    return {
        "user": "<root_account>",
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "user_creation_time": draw(instants()),
        "password_enabled": draw(st.sampled_from(["not_supported", "true", "false"])),
        "password_last_used": draw(st.one_of(instants(), st.just("no_information"))),
        "password_last_changed": "not_supported",
        "password_next_rotation": "not_supported",
        "mfa_active": draw(st.sampled_from(["true", "false"])),
        **_key(draw, 1),
        **_key(draw, 2),
        **_certs(draw),
    }


@st.composite
def report_rows(draw: st.DrawFn, max_users: int = 12) -> list[dict[str, str]]:
    names = draw(
        st.lists(
            st.text(NAME_CHARS, min_size=1, max_size=20),
            max_size=max_users,
            unique_by=str.lower,  # IAM user names are unique regardless of case
        )
    )
    rows = [draw(user_rows(name)) for name in names]
    if draw(st.integers(0, 9)):  # nearly always a root row, first, as AWS writes it
        rows.insert(0, draw(root_rows()))
    assert all(set(r) == set(COLUMNS) for r in rows)
    return rows

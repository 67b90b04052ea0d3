"""A built-in synthetic account for ``serve --demo``: no AWS, no network.

The report is written as a CSV in the real AWS format, with dates relative to
the time of each fetch, and goes through the normal parser and checks. The
population is meant to look like a real, somewhat neglected account: people
with and without MFA, CI and service users with old keys, leavers, and a root
account that is used.

Account- and role-level checks (``root_hardware_mfa_missing``, ``role_unused``)
come from other IAM APIs, not from the report. ``DEMO_ACCOUNT_FACTS`` and
``DEMO_ROLES`` describe the demo account for them, so that code can give the
demo findings for those checks too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from exporter.report import COLUMNS
from exporter.sources import FetchedReport

DEMO_ACCOUNT_ID = "123456789012"
DEMO_ACCOUNT_NAME = "demo"

# For the account-level check: root's only MFA device is a virtual one.
DEMO_ACCOUNT_FACTS: dict[str, Any] = {"AccountMFAEnabled": 1, "root_virtual_mfa": True}
# For role_unused: (role name, path, days since creation, days since last use or None).
DEMO_ROLES: tuple[tuple[str, str, int, int | None], ...] = (
    ("OrganizationAccountAccessRole", "/", 900, 2),
    ("github-actions-deploy", "/ci/", 400, 0),
    ("legacy-etl-runner", "/", 700, 320),
    ("vendor-audit-readonly", "/", 200, None),
    ("AWSServiceRoleForSupport", "/aws-service-role/", 900, None),
)

NA = "N/A"
NO_INFO = "no_information"
NOT_SUPPORTED = "not_supported"


class _User:
    """One row of the report. Ages are in days; a key used ``None`` days ago was never used."""

    def __init__(
        self,
        name: str,
        created: int,
        password_used: int | str = NA,
        mfa: bool = False,
        keys: tuple[tuple[bool, int, int | None] | None, ...] = (),
        cert: bool = False,
        path: str = "/",
    ) -> None:
        self.name = name
        self.created = created
        self.password_used = password_used
        self.mfa = mfa
        self.keys = keys
        self.cert = cert
        self.path = path


def _people() -> list[_User]:
    first = ["alice", "bruno", "chen", "dara", "emeka", "fatima", "gustav", "hana", "ivan",
             "julia", "kofi", "lena", "mateo", "noor", "olga", "pedro", "quinn", "rosa",
             "sven", "tara"]  # fmt: skip
    users = []
    for i, name in enumerate(first):
        created = 200 + 37 * i
        # Most people log in regularly and have MFA; a few fall into every trap.
        if i % 7 == 3:
            users.append(_User(f"{name}@corp", created, password_used=1 + i, mfa=False))
        elif i % 9 == 5:
            users.append(_User(f"{name}@corp", created, password_used=150 + i, mfa=True))
        elif i == 11:
            users.append(_User(f"{name}@corp", created, password_used=NO_INFO, mfa=False))
        else:
            keys: tuple[tuple[bool, int, int | None] | None, ...] = ()
            if i % 4 == 0:
                keys = ((True, 20 + i, 1),)  # a developer's recent, rotated key
            users.append(_User(f"{name}@corp", created, password_used=i % 5, mfa=True, keys=keys))
    return users


def _machines() -> list[_User]:
    return [
        _User("ci-deploy", 1100, keys=((True, 700, 0),), path="/ci/"),
        _User("ci-terraform", 900, keys=((True, 60, 0), (True, 2, 0)), path="/ci/"),
        _User("ci-artifacts", 500, keys=((True, 30, 0), (False, 400, 200)), path="/ci/"),
        _User("svc-backup", 1500, keys=((True, 1400, 3),), path="/service/"),
        _User("svc-reporting", 800, keys=((True, 780, 190),), path="/service/"),
        _User("svc-metrics", 300, keys=((True, 45, None),), path="/service/"),
        _User("svc-mailer", 600, keys=((True, 20, 0),), path="/service/"),
        _User("svc-legacy-soap", 2000, keys=((True, 1900, 500),), cert=True, path="/service/"),
        _User("svc-search", 150, keys=((True, 10, 0),), path="/service/"),
        _User("s3-uploader", 1000, keys=((False, 800, 700),), path="/service/"),
        _User("data-pipeline", 420, keys=((True, 400, 0), (True, 100, 1)), path="/service/"),
        _User("former-contractor", 700, password_used=300, mfa=False, keys=((True, 650, 280),)),
        _User("test-user-2019", 2400),
        _User("breakglass-admin", 1000, password_used=NO_INFO, mfa=True),
        _User("monitoring-agent", 60, keys=((True, 55, None), (True, 50, 0)), path="/service/"),
        _User("qa-automation", 365, keys=((True, 95, 1),), path="/ci/"),
        _User("intern-2023", 500, password_used=200, mfa=True),
        _User("sec-scanner", 90, keys=((True, 85, 0),), path="/security/"),
        _User("ops-oncall", 700, password_used=0, mfa=True, keys=((True, 30, 0),)),
    ]


def demo_report_csv(now: datetime) -> bytes:
    """The demo account's credential report as AWS would return it at ``now``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow(_root_row(now))
    for user in _people() + _machines():
        writer.writerow(_user_row(user, now))
    return buf.getvalue().encode("utf-8")


def _iso(now: datetime, days_ago: float) -> str:
    when = (now - timedelta(days=days_ago)).replace(microsecond=0)
    return when.astimezone(timezone.utc).isoformat()


def _root_row(now: datetime) -> list[str]:
    # Root: no MFA, an active access key that someone used two days ago, and a
    # second, inactive one; the password was used last month.
    key1 = ["true", _iso(now, 1600), _iso(now, 2), "us-east-1", "s3"]
    key2 = ["false", _iso(now, 2000), NA, NA, NA]
    return [
        "<root_account>", f"arn:aws:iam::{DEMO_ACCOUNT_ID}:root", _iso(now, 2600),
        NOT_SUPPORTED, _iso(now, 31), NOT_SUPPORTED, NOT_SUPPORTED, "false",
        *key1, *key2, "false", NA, "false", NA,
    ]  # fmt: skip


def _user_row(u: _User, now: datetime) -> list[str]:
    has_password = u.password_used != NA
    pw = u.password_used
    used = _iso(now, pw) if isinstance(pw, int) else pw
    cells = [
        u.name, f"arn:aws:iam::{DEMO_ACCOUNT_ID}:user{u.path}{u.name}", _iso(now, u.created),
        "true" if has_password else "false", used,
        _iso(now, min(u.created, 80)) if has_password else NA, NA,
        "true" if u.mfa else "false",
    ]  # fmt: skip
    for n in range(2):
        key = u.keys[n] if n < len(u.keys) else None
        cells += _key_cells(key, now)
    cells += ["true", _iso(now, 900)] if u.cert else ["false", NA]
    cells += ["false", NA]
    return cells


def _key_cells(key: tuple[bool, int, int | None] | None, now: datetime) -> list[str]:
    if key is None:
        return ["false", NA, NA, NA, NA]
    active, rotated, used = key
    if used is None:
        return ["true" if active else "false", _iso(now, rotated), NA, NA, NA]
    return ["true" if active else "false", _iso(now, rotated), _iso(now, used), "eu-west-1", "s3"]


class DemoSource:
    """A ``ReportSource`` that writes a fresh demo report on every fetch."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def fetch(self) -> FetchedReport:
        now = self._clock()
        # AWS hands out a cached report up to 4 hours old; pretend ours is 25 minutes old.
        generated = (now - timedelta(minutes=25)).replace(microsecond=0)
        return FetchedReport(demo_report_csv(generated), generated)

"""Deterministic synthetic IAM credential reports in the real AWS format.

``generate_report(users, seed=...)`` returns the CSV bytes AWS would return from
``GetCredentialReport``: the 22 columns in AWS's order, a ``<root_account>`` row
first, ``+00:00`` timestamps and the special values where AWS writes them
(``N/A``, ``no_information``, ``not_supported``). The same arguments always give
the same bytes, so every benchmark (and every engineer reusing this module)
measures the same input.

The mix is meant to look like a real, somewhat neglected account: mostly console
users with MFA, a third of programmatic users, stale and never-used keys, a few
second keys, inactive keys left behind, pre-2014 users with ``no_information``
and the odd signing certificate. Every date is computed against ``AS_OF`` so the
findings do not drift with the calendar.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta, timezone

# "now" for every benchmark: ages are measured against this instant.
AS_OF = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)
DEFAULT_SEED = 20261124
ACCOUNT_ID = "123456789012"

_KEY = ("active", "last_rotated", "last_used_date", "last_used_region", "last_used_service")
# The columns in AWS's order (written out here, not imported, so that a change to
# the parser's idea of the format cannot silently change the benchmark's input).
HEADER: tuple[str, ...] = (
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
    "password_last_changed", "password_next_rotation", "mfa_active",
    *(f"access_key_1_{f}" for f in _KEY), *(f"access_key_2_{f}" for f in _KEY),
    "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
)  # fmt: skip

# AWS stopped recording password use before this date: older use is "no_information".
_TRACKING_START = datetime(2014, 10, 20, tzinfo=timezone.utc)
_REGIONS = ("us-east-1", "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
_SERVICES = ("s3", "sts", "ec2", "iam", "dynamodb", "lambda", "sqs", "cloudformation")
_PATHS = ("/", "/", "/", "/engineering/", "/ops/", "/contractors/")
_FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
_SERVICE_PREFIX = ("svc", "ci", "deploy", "backup", "etl", "app")


def ts(when: datetime) -> str:
    """A timestamp exactly as the credential report writes it."""
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def generate_report(
    users: int,
    seed: int = DEFAULT_SEED,
    account_id: str = ACCOUNT_ID,
    as_of: datetime = AS_OF,
) -> bytes:
    """``users`` IAM users plus the root row, as the CSV bytes AWS returns."""
    gen = _Generator(random.Random(seed), account_id, as_of)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerow(gen.root())
    for i in range(users):
        writer.writerow(gen.user(i))
    return out.getvalue().encode("utf-8")


class _Generator:
    def __init__(self, rnd: random.Random, account_id: str, as_of: datetime) -> None:
        self.rnd = rnd
        self.account_id = account_id
        self.as_of = as_of

    def _days_ago(self, low: float, high: float) -> datetime:
        seconds = self.rnd.uniform(low * 86400, high * 86400)
        return self.as_of - timedelta(seconds=int(seconds))

    def _between(self, start: datetime, end: datetime) -> datetime:
        span = max(0, int((end - start).total_seconds()))
        return start + timedelta(seconds=self.rnd.randint(0, span))

    def _recent_or_stale(self, since: datetime) -> datetime:
        """A last-use time: usually recent, sometimes months or years ago."""
        recent = self.rnd.random() < 0.7
        when = self._days_ago(0, 30) if recent else self._days_ago(30, 900)
        return max(when, since)

    def root(self) -> list[str]:
        r = self.rnd
        created = self._days_ago(2000, 3500)
        has_key = r.random() < 0.5
        return [
            "<root_account>",
            f"arn:aws:iam::{self.account_id}:root",
            ts(created),
            "not_supported",
            ts(self._days_ago(1, 60)),
            "not_supported",
            "not_supported",
            "false",  # the classic finding the article opens with
            # Root key 1 present and active (the seed checks key 1 only); key 2 absent.
            "true" if has_key else "false",
            ts(self._between(created, self.as_of)) if has_key else "N/A",
            ts(self._days_ago(0, 20)) if has_key else "N/A",
            r.choice(_REGIONS) if has_key else "N/A",
            r.choice(_SERVICES) if has_key else "N/A",
            "false",
            "N/A",
            "N/A",
            "N/A",
            "N/A",
            "false",
            "N/A",
            "false",
            "N/A",
        ]

    def user(self, i: int) -> list[str]:
        r = self.rnd
        human = r.random() < 0.65
        name = f"{r.choice(_FIRST)}.{i:05d}" if human else f"{r.choice(_SERVICE_PREFIX)}-{i:05d}"
        path = r.choice(_PATHS)
        created = self._days_ago(1, 5400)  # back to 2012
        row = [name, f"arn:aws:iam::{self.account_id}:user{path}{name}", ts(created)]
        row += self._password(human, created)
        row.append("true" if human and r.random() < 0.8 else "false")
        key_odds = 0.3 if human else 0.9
        has_key_1 = r.random() < key_odds
        row += self._key(created, present=has_key_1)
        row += self._key(created, present=has_key_1 and r.random() < 0.12)
        row += self._cert(created, present=r.random() < 0.01)
        row += self._cert(created, present=False)
        return row

    def _password(self, human: bool, created: datetime) -> list[str]:
        if not human:
            return ["false", "N/A", "N/A", "N/A"]
        r = self.rnd
        roll = r.random()
        if created < _TRACKING_START and roll < 0.3:
            last_used = "no_information"
        elif roll < 0.06:
            last_used = "N/A"  # never signed in
        else:
            last_used = ts(self._recent_or_stale(created))
        changed = self._between(created, self.as_of)
        # A password policy with expiry applies to some users only.
        expires = r.random() < 0.4
        next_rotation = ts(changed + timedelta(days=90)) if expires else "N/A"
        return ["true", last_used, ts(changed), next_rotation]

    def _key(self, created: datetime, present: bool) -> list[str]:
        if not present:
            return ["false", "N/A", "N/A", "N/A", "N/A"]
        r = self.rnd
        rotated = self._between(created, self.as_of)
        active = "true" if r.random() < 0.85 else "false"
        if r.random() < 0.1:
            return [active, ts(rotated), "N/A", "N/A", "N/A"]
        used = self._recent_or_stale(rotated)
        return [active, ts(rotated), ts(used), r.choice(_REGIONS), r.choice(_SERVICES)]

    def _cert(self, created: datetime, present: bool) -> list[str]:
        if not present:
            return ["false", "N/A"]
        active = "true" if self.rnd.random() < 0.7 else "false"
        return [active, ts(self._between(created, self.as_of))]

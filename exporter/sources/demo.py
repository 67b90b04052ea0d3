"""Built-in synthetic accounts for ``serve --demo``: no AWS, no network.

Each report is written as a CSV in the real AWS format, with dates relative to
the time of each fetch, and goes through the normal parser and checks. Three
accounts, each consistent with itself:

- ``demo-production`` looks like a real, somewhat neglected account: people with
  and without MFA, CI and service users with old keys, leavers, and a root user
  without MFA whose access key is in use.
- ``demo-sandbox`` is small and better kept: root has MFA, but only a virtual
  device (an app), so ``root_hardware_mfa_missing`` is its root finding. It is a
  member of an organisation that manages root credentials centrally, but its root
  still has a password: the root checks still apply.
- ``demo-member`` is a member account whose root credentials the organisation
  removed (centralised root access): no password, no key, no MFA, and so no root
  MFA finding; ``aws_iam_root_credentials_centrally_managed`` says why (production's
  organisation does not manage root centrally: 0). Its roles carry Access Advisor's
  answer, so ``role_unused_services`` has findings there (the other accounts' roles have
  none yet: the check is not evaluated for them, unless ``--access-advisor.enabled``
  runs the demo's jobs, which find no unused service for those roles).

Account- and role-level checks (``root_hardware_mfa_missing``, ``role_unused``)
come from other IAM APIs, not from the report. ``demo_details`` derives those
facts from the same description as the report (root's MFA in the report and in
the account summary agree), so the demo has findings for those checks too.

Users and roles carry a ``team`` tag by their path (``/ci/`` platform, ``/service/``
and ``/service-role/`` data, ``/security/`` security); people and the other roles have
none. The demo reads that tag as the owner (``with_demo_owner_tag``) unless
``--labels.owner-tag`` names other tags, so it shows owners, and the owner ``""``.

``demo_exemptions`` are what ``serve --demo`` uses when the configuration has none:
one that never expires, one that expires within days and one already expired, so
that each state of an exemption shows in the metrics, dashboards and alerts. They
only cover low-severity findings and a user whose findings come back anyway.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone

from exporter.config import Config
from exporter.core.exemptions import Exemption
from exporter.core.records import AccountFacts, RoleRecord, ServiceUse, UserTags
from exporter.core.report import COLUMNS
from exporter.sources.base import AccountDetails, FetchedReport

NA = "N/A"
NO_INFO = "no_information"
NOT_SUPPORTED = "not_supported"


# (active, days since rotation, days since last use or None: never used).
KeySpec = tuple[bool, int, int | None]


@dataclass(frozen=True)
class _User:
    """One row of the report. Ages are in days."""

    name: str
    created: int
    password_used: int | str = NA
    mfa: bool = False
    keys: tuple[KeySpec | None, ...] = ()
    cert: bool = False
    path: str = "/"


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
            keys: tuple[KeySpec | None, ...] = ()
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
        # Rotated 85 days ago: no finding yet, an upcoming access_key_not_rotated in 6 days.
        _User("sec-scanner", 90, keys=((True, 85, 0),), path="/security/"),
        _User("ops-oncall", 700, password_used=0, mfa=True, keys=((True, 30, 0),)),
    ]


def _sandbox_users() -> list[_User]:
    return [
        _User("amara@corp", 400, password_used=1, mfa=True),
        _User("benji@corp", 350, password_used=6, mfa=True, keys=((True, 30, 1),)),
        _User("carla@corp", 120, password_used=3, mfa=False),
        _User("hackathon-2024", 420, password_used=240, mfa=True),
        _User("sandbox-ci", 500, keys=((True, 480, 0),), path="/ci/"),
        _User("experiment-bot", 60, keys=((True, 40, None),), path="/service/"),
        _User("load-test", 90, keys=((True, 20, 0),), path="/service/"),
    ]


@dataclass(frozen=True)
class DemoRoot:
    """The root user. ``mfa``: "none", "virtual" or "hardware". Ages are in days;
    ``password_used`` None: root has no password (centrally managed)."""

    created: int
    password_used: int | None
    mfa: str
    keys: tuple[KeySpec | None, KeySpec | None] = (None, None)


@dataclass(frozen=True)
class DemoAccount:
    account_id: str
    name: str
    root: DemoRoot
    users: Callable[[], list[_User]]
    # (role name, path, days since creation, days since last use or None).
    roles: tuple[tuple[str, str, int, int | None], ...]
    # AccountFacts.org_root_management: whether the organisation manages root centrally.
    org_root_management: bool | None = None
    # Access Advisor's answer per role name: (service namespace, days since last access
    # or None: never). Roles not listed have no answer (not read yet).
    services: Mapping[str, tuple[tuple[str, int | None], ...]] = field(default_factory=dict)


DEMO_PRODUCTION = DemoAccount(
    "123456789012",
    "demo-production",
    # No MFA; an active access key someone used two days ago and an inactive one;
    # the password was used last month.
    DemoRoot(created=2600, password_used=31, mfa="none",
             keys=((True, 1600, 2), (False, 2000, None))),
    lambda: _people() + _machines(),
    (
        ("OrganizationAccountAccessRole", "/", 900, 2),
        ("github-actions-deploy", "/ci/", 400, 0),
        ("legacy-etl-runner", "/", 700, 320),
        ("vendor-audit-readonly", "/", 200, None),
        ("AWSServiceRoleForSupport", "/aws-service-role/", 900, None),
    ),
    # Its organisation has not turned on centralised root access: the root is its own.
    org_root_management=False,
)  # fmt: skip
DEMO_SANDBOX = DemoAccount(
    "210987654321",
    "demo-sandbox",
    # MFA on an authenticator app, no access keys, signed in to set that up.
    DemoRoot(created=900, password_used=120, mfa="virtual"),
    _sandbox_users,
    (
        ("OrganizationAccountAccessRole", "/", 900, 5),
        ("sandbox-admin", "/", 300, 1),
        ("old-experiment-lambda", "/service-role/", 400, 210),
    ),
    org_root_management=True,
)
DEMO_MEMBER = DemoAccount(
    "345678901234",
    "demo-member",
    # Centralised root access: the organisation removed root's password and keys.
    DemoRoot(created=600, password_used=None, mfa="none"),
    lambda: [
        _User("reporting-bot", 300, keys=((True, 60, 1),), path="/service/"),
        _User("backup-agent", 500, keys=((True, 30, 0),), path="/service/"),
    ],
    (
        ("OrganizationAccountAccessRole", "/", 600, 3),
        ("nightly-report-lambda", "/service-role/", 500, 1),
        ("migration-2023", "/", 550, 400),
    ),
    org_root_management=True,
    # The report lambda may use four services but only reads S3 and writes SQS.
    services={
        "OrganizationAccountAccessRole": (("iam", 3), ("sts", 3)),
        "nightly-report-lambda": (("s3", 1), ("sqs", 1), ("dynamodb", None), ("sns", 200)),
        "migration-2023": (("s3", 400), ("dms", None)),
    },
)
DEMO_ACCOUNTS = (DEMO_PRODUCTION, DEMO_SANDBOX, DEMO_MEMBER)
# The main demo account (the README's examples and dashboards' default).
DEMO_ACCOUNT_ID = DEMO_PRODUCTION.account_id
DEMO_ACCOUNT_NAME = DEMO_PRODUCTION.name


def demo_report_csv(now: datetime, account: DemoAccount = DEMO_PRODUCTION) -> bytes:
    """A demo account's credential report as AWS would return it at ``now``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow(_root_row(account, now))
    for user in account.users():
        writer.writerow(_user_row(account.account_id, user, now))
    return buf.getvalue().encode("utf-8")


# The demo's ``team`` tag by IAM path: what --labels.owner-tag team reads as the owner.
DEMO_OWNER_TAG = "team"
_TEAMS_BY_PATH = {"/ci/": "platform", "/service/": "data", "/service-role/": "data",
                  "/security/": "security"}  # fmt: skip


def _team(path: str) -> tuple[tuple[str, str], ...]:
    team = _TEAMS_BY_PATH.get(path)
    return () if team is None else ((DEMO_OWNER_TAG, team), ("managed-by", "demo"))


def with_demo_owner_tag(config: Config) -> Config:
    """``config`` reading the demo's ``team`` tag as the owner, unless it names owner
    tags of its own (the flag or the config file's): the demo shows owners by default."""
    if config.settings.labels_owner_tag:
        return config
    settings = replace(config.settings, labels_owner_tag=(DEMO_OWNER_TAG,))
    return replace(config, settings=settings)


def demo_user_tags(account: DemoAccount) -> tuple[UserTags, ...]:
    """Each user's tags (UserDetailList), agreeing with the report's paths."""
    return tuple(UserTags(u.name, _team(u.path)) for u in account.users())


def demo_details(account: DemoAccount, now: datetime) -> AccountDetails:
    """Roles and account facts (GetAccountSummary, root's MFA kind) at ``now``,
    agreeing with the account's report."""
    aid = account.account_id
    roles = tuple(
        RoleRecord(
            name=name,
            arn=f"arn:aws:iam::{aid}:role{path}{name}",
            path=path,
            created=now - timedelta(days=created),
            last_used=None if used is None else now - timedelta(days=used),
            last_used_region=None if used is None else "eu-west-1",
            services=_services(account, name, now),
            tags=_team(path),
        )
        for name, path, created, used in account.roles
    )
    mfa = account.root.mfa != "none"
    keys = any(k is not None and k[0] for k in account.root.keys)
    facts = AccountFacts(
        aid,
        root_mfa_enabled=mfa,
        root_virtual_mfa=account.root.mfa == "virtual",
        summary={
            "AccountMFAEnabled": int(mfa),
            "AccountAccessKeysPresent": int(keys),
            "AccountPasswordPresent": int(account.root.password_used is not None),
            "AccountSigningCertificatesPresent": 0,
        },
        org_root_management=account.org_root_management,
    )
    return AccountDetails(aid, roles, facts, users=demo_user_tags(account))


def _services(account: DemoAccount, role: str, now: datetime) -> tuple[ServiceUse, ...] | None:
    listed = account.services.get(role)
    if listed is None:
        return None
    return tuple(
        ServiceUse(ns, ns.upper(), None if days is None else now - timedelta(days=days))
        for ns, days in listed
    )


def demo_exemptions(today: date) -> tuple[tuple[str, Exemption], ...]:
    """``(id, exemption)`` pairs, their expiry relative to ``today``."""
    return (
        ("break-glass", Exemption(
            "breakglass-admin", False, frozenset({"password_never_used", "user_inactive"}),
            "Emergency access: the password is in the safe and used only in an incident",
        )),
        ("legacy-soap-migration", Exemption(
            "svc-legacy-soap", False, frozenset({"user_inactive"}),
            "Kept for the vendor's SOAP integration until its migration",
            expires=today + timedelta(days=10),
        )),
        ("contractor-offboarding", Exemption(
            "former-contractor", False, None,
            "Offboarding was to finish by the end of the contract",
            expires=today - timedelta(days=3),
        )),
    )  # fmt: skip


def _iso(now: datetime, days_ago: float) -> str:
    when = (now - timedelta(days=days_ago)).replace(microsecond=0)
    return when.astimezone(timezone.utc).isoformat()


def _root_row(account: DemoAccount, now: datetime) -> list[str]:
    root = account.root
    return [
        "<root_account>", f"arn:aws:iam::{account.account_id}:root", _iso(now, root.created),
        NOT_SUPPORTED, NA if root.password_used is None else _iso(now, root.password_used),
        NOT_SUPPORTED, NOT_SUPPORTED,
        "false" if root.mfa == "none" else "true",
        *_key_cells(root.keys[0], now, region="us-east-1"),
        *_key_cells(root.keys[1], now, region="us-east-1"),
        "false", NA, "false", NA,
    ]  # fmt: skip


def _user_row(account_id: str, u: _User, now: datetime) -> list[str]:
    has_password = u.password_used != NA
    pw = u.password_used
    used = _iso(now, pw) if isinstance(pw, int) else pw
    cells = [
        u.name, f"arn:aws:iam::{account_id}:user{u.path}{u.name}", _iso(now, u.created),
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


def _key_cells(key: KeySpec | None, now: datetime, region: str = "eu-west-1") -> list[str]:
    if key is None:
        return ["false", NA, NA, NA, NA]
    active, rotated, used = key
    if used is None:
        return ["true" if active else "false", _iso(now, rotated), NA, NA, NA]
    return ["true" if active else "false", _iso(now, rotated), _iso(now, used), region, "s3"]


class DemoSource:
    """A ``ReportSource`` that writes a fresh report of one demo account on every fetch."""

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        account: DemoAccount = DEMO_PRODUCTION,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.account = account

    def fetch(self) -> FetchedReport:
        now = self._clock()
        # AWS hands out a cached report up to 4 hours old; pretend ours is 25 minutes old.
        generated = (now - timedelta(minutes=25)).replace(microsecond=0)
        return FetchedReport(demo_report_csv(generated, self.account), generated)

    def fetch_details(self) -> AccountDetails:
        """The account's roles and facts, as an AWS source would fetch them."""
        return demo_details(self.account, self._clock().replace(microsecond=0))

    # With --access-advisor.enabled the demo's answers come through the real job pipeline
    # (its schedule, budget and metrics) instead of with the roles: the job of a role is
    # its ARN, and it answers at once with the services the account lists for the role
    # (none for a role it lists nothing for).
    def start_access_advisor_job(self, arn: str) -> str:
        return arn

    def poll_access_advisor_job(self, job_id: str) -> tuple[ServiceUse, ...] | None:
        name = job_id.rsplit("/", 1)[-1]
        return _services(self.account, name, self._clock().replace(microsecond=0)) or ()

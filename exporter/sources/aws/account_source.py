"""One AWS account as a source: its credential report, roles and account facts.

Clients are made once and reused across refreshes (botocore clients are
thread-safe); assumed-role credentials refresh themselves. Every failure leaves
as a ``SourceError`` whose reason names it, ``role_missing`` when the role could
not be assumed. Throttled responses are counted (botocore's standard retry mode
retries them) instead of failing the refresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import boto3
import botocore.session

from exporter.config.accounts import AccountSpec
from exporter.core.policy import RoleAudit
from exporter.core.records import AccountFacts, RoleRecord, ServiceUse
from exporter.sources.aws.access_advisor import poll_job, start_job
from exporter.sources.aws.account_facts import fetch_account_facts
from exporter.sources.aws.assume_role import ClientCreator, assume_role_session, ensure_credentials
from exporter.sources.aws.clients import ClientSettings, make_client
from exporter.sources.aws.errors import THROTTLING_CODES, classify
from exporter.sources.aws.report_fetch import IamReportFetcher
from exporter.sources.aws.roles import Authorization, fetch_authorization, fetch_roles
from exporter.sources.base import AccountDetails, FetchedReport, SourceError

T = TypeVar("T")
# botocore sessions are not safe for concurrent client creation; creation is rare.
_CREATE_LOCK = threading.Lock()


class AwsAccountSource:
    def __init__(
        self,
        spec: AccountSpec,
        base: botocore.session.Session,
        settings: ClientSettings | None = None,
        roles: RoleAudit | None = None,
        account_checks: bool = True,
        sts_client_creator: ClientCreator | None = None,
        org_root_management: Callable[[str], bool | None] | None = None,
        user_tags: bool = False,
    ) -> None:
        """``org_root_management``: whether Organizations manages an account's root
        credentials (the directory's last read), copied into the account's facts.
        ``user_tags``: also read the users' tags (an owner tag is configured)."""
        self.spec = spec
        self.key = spec.key
        self.name = spec.name
        self._base = base
        # Each account's clients live in its own region (and so its partition).
        self._settings = replace(settings or ClientSettings(), region=spec.region)
        self._roles = roles or RoleAudit()
        self._account_checks = account_checks
        self._sts_client_creator = sts_client_creator
        self._org_root_management = org_root_management
        self._user_tags = user_tags
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._iam: Any = None
        self._account_id = spec.account_id
        self._throttled = 0

    @property
    def throttled_total(self) -> int:
        """Throttled AWS responses seen so far (each was retried, or failed the call)."""
        return self._throttled

    def fetch(self) -> FetchedReport:
        deadline, limit = self._settings.poll_deadline, self._settings.report_max_bytes
        return self._call(lambda iam: IamReportFetcher(iam, deadline, max_bytes=limit).fetch())

    def fetch_roles(self) -> tuple[RoleRecord, ...]:
        return self._call(fetch_roles)

    def fetch_facts(self) -> AccountFacts:
        facts = self._call(
            lambda iam: fetch_account_facts(iam, self.account_id(), self.spec.partition)
        )
        if self._org_root_management is None:
            return facts
        return facts._replace(org_root_management=self._org_root_management(facts.account_id))

    def start_access_advisor_job(self, arn: str) -> str:
        """Start an Access Advisor job for ``arn``; its id (failures classified)."""
        return self._call(lambda iam: start_job(iam, arn))

    def poll_access_advisor_job(self, job_id: str) -> tuple[ServiceUse, ...] | None:
        """The job's services, None while it runs (failures classified)."""
        return self._call(lambda iam: poll_job(iam, job_id))

    def fetch_details(self) -> AccountDetails:
        """Roles, users' tags and account facts; each part fails on its own, recorded in
        ``errors``. Roles and users' tags come from the same paginated call."""
        errors: list[tuple[str, str, str]] = []
        want_roles, want_users = self._roles.enabled, self._user_tags
        auth = Authorization(None, None)
        if want_roles or want_users:
            got = self._part(
                "roles" if want_roles else "users",
                lambda: self._call(lambda iam: fetch_authorization(iam, want_roles, want_users)),
                errors,
            )
            if got is None and want_roles and want_users:
                _, reason, message = errors[-1]
                errors.append(("users", reason, message))
            auth = got or auth
        facts = self._part("account", self.fetch_facts, errors) if self._account_checks else None
        account_id = facts.account_id if facts else self._account_id
        return AccountDetails(account_id, auth.roles, facts, tuple(errors), auth.users)

    def account_id(self) -> str:
        """The account's id: configured, or asked of STS (GetCallerIdentity) once."""
        if self._account_id is None:
            try:
                session = self._ensure_session()
                with _CREATE_LOCK:
                    sts = make_client("sts", session, self._settings)
                self._account_id = str(sts.get_caller_identity()["Account"])
            except Exception as err:  # every failure leaves classified
                raise classify(err) from err
        return self._account_id

    def _part(self, part: str, fn: Callable[[], T], errors: list[tuple[str, str, str]]) -> T | None:
        try:
            return fn()
        except SourceError as err:
            errors.append((part, err.reason, str(err)))
            return None

    def _call(self, fn: Callable[[Any], T]) -> T:
        try:
            return fn(self._client())
        except Exception as err:  # every failure leaves classified
            raise classify(err) from err

    def _client(self) -> Any:
        session = self._ensure_session()
        if self.spec.role_arn:
            ensure_credentials(session, self.spec.role_arn)
        with _CREATE_LOCK:
            if self._iam is None:
                self._iam = make_client("iam", session, self._settings)
                self._iam.meta.events.register("needs-retry.*", self._count_throttle)
            return self._iam

    def _ensure_session(self) -> boto3.session.Session:
        with _CREATE_LOCK:
            if self._session is None:
                self._session = self._make_session()
            return self._session

    def _make_session(self) -> boto3.session.Session:
        if not self.spec.role_arn:
            return boto3.session.Session(botocore_session=self._base, region_name=self.spec.region)
        return assume_role_session(
            self.spec.role_arn,
            self._base,
            self._settings,
            self.spec.session_name,
            self.spec.external_id,
            self._sts_client_creator,
        )

    def _count_throttle(self, response: Any = None, **_: Any) -> None:
        # Called by botocore before each retry decision; returning None leaves it to botocore.
        if response is None:
            return
        code = (response[1] or {}).get("Error", {}).get("Code", "")
        if code in THROTTLING_CODES:
            with self._lock:
                self._throttled += 1

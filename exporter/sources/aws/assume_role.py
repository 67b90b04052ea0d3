"""Sessions whose credentials come from ``sts:AssumeRole`` and refresh themselves.

botocore does the work: ``AssumeRoleCredentialFetcher`` calls STS, and
``DeferredRefreshableCredentials`` calls it again before the credentials expire
(15 minutes ahead, with a mandatory refresh 10 minutes ahead), so a daemon runs
for weeks without a timer of ours. Nothing is called until the first request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import ClientError

from exporter.sources.aws.clients import ClientSettings
from exporter.sources.aws.errors import classify
from exporter.sources.base import SourceError

ClientCreator = Callable[..., Any]
# What AWS answers for a role that does not exist or does not trust us: the two
# are indistinguishable by design, and the fix is the same (deploy the role).
_ROLE_MISSING_CODES = frozenset({"AccessDenied", "NoSuchEntity", "NoSuchEntityException"})


class _FixedProvider(CredentialProvider):  # type: ignore[misc]
    METHOD = "assume-role"
    CANONICAL_NAME = "iam-credential-exporter-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def assume_role_session(
    role_arn: str,
    source: botocore.session.Session,
    settings: ClientSettings,
    session_name: str,
    external_id: str | None = None,
    client_creator: ClientCreator | None = None,
) -> boto3.session.Session:
    """A boto3 session acting as ``role_arn``, assumed with ``source``'s credentials.

    ``source`` may itself be an assumed-role session (a chain): the fetcher reads
    its current credentials on each refresh. ``client_creator`` makes the STS
    client (tests pass a stubbed one)."""
    extra: dict[str, Any] = {"RoleSessionName": session_name}
    if external_id:
        extra["ExternalId"] = external_id
    creator = client_creator or functools.partial(
        source.create_client, region_name=_region(settings, source), config=settings.boto_config()
    )
    source_credentials = source.get_credentials()
    if source_credentials is None:
        raise SourceError("no_credentials", f"no AWS credentials to assume {role_arn} with")
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=creator,
        source_credentials=source_credentials,
        role_arn=role_arn,
        extra_args=extra,
    )
    credentials = DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role"
    )
    target = botocore.session.Session()
    # Share the parsed service models: one loader per session would hold a copy each.
    target.register_component("data_loader", source.get_component("data_loader"))
    target.register_component(
        "credential_provider", CredentialResolver([_FixedProvider(credentials)])
    )
    return boto3.session.Session(botocore_session=target, region_name=_region(settings, source))


def ensure_credentials(session: boto3.session.Session, role_arn: str) -> None:
    """Assume the role now if needed, so a failure names the role, not a later call."""
    try:
        creds = session.get_credentials()
        if creds is None:
            raise SourceError("no_credentials", f"no AWS credentials to assume {role_arn} with")
        creds.get_frozen_credentials()
    except Exception as err:
        raise assume_role_error(role_arn, err) from err


def assume_role_error(role_arn: str, err: Exception) -> SourceError:
    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        if code in _ROLE_MISSING_CODES:
            text = err.response.get("Error", {}).get("Message", "")
            return SourceError(
                "role_missing",
                f"cannot assume {role_arn}: the role is missing or does not trust this "
                f"exporter ({code}: {text})".replace(": )", ")"),
            )
    failure = classify(err)
    return SourceError(failure.reason, f"cannot assume {role_arn}: {failure}")


def _region(settings: ClientSettings, source: botocore.session.Session) -> str:
    return settings.region or source.get_config_variable("region") or "us-east-1"

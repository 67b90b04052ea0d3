"""AWS failures mapped to a small set of reasons, used as metric label values."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from exporter.sources.base import SourceError

THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
     "LimitExceeded", "LimitExceededException", "SlowDown", "RequestThrottled"}
)  # fmt: skip
CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
     "SignatureDoesNotMatch", "UnrecognizedClientException", "AuthFailure"}
)  # fmt: skip
ACCESS_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def classify(err: Exception) -> SourceError:
    if isinstance(err, SourceError):
        return err
    if isinstance(err, ClientError):
        return _client_error(err)
    if isinstance(err, (ConnectTimeoutError, ReadTimeoutError)):
        return SourceError("timeout", f"AWS did not answer in time: {err}")
    if isinstance(err, EndpointConnectionError):
        return SourceError("connection_error", f"cannot connect to AWS: {err}")
    if isinstance(err, NoCredentialsError):
        return SourceError("no_credentials", "no AWS credentials found")
    if isinstance(err, BotoCoreError):
        return SourceError("connection_error", f"AWS request failed: {err}")
    return SourceError("error", f"{type(err).__name__}: {err}")


def _client_error(err: ClientError) -> SourceError:
    code = err.response.get("Error", {}).get("Code", "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    message = f"{code}: {err.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    if code in THROTTLING_CODES or status == 429:
        return SourceError("throttled", f"AWS throttled the request ({message})")
    if code in CREDENTIAL_CODES:
        return SourceError("expired_credentials", f"AWS rejected the credentials ({message})")
    if code in ACCESS_CODES or status == 403:
        return SourceError("access_denied", f"access denied ({message})")
    if code == "ReportExpired":
        return SourceError("report_expired", "the credential report expired")
    if code == "ReportNotPresent":
        return SourceError("report_not_present", "no credential report has been generated")
    if code in ("ReportInProgress", "ReportNotReady"):
        return SourceError("report_in_progress", "the credential report is still being generated")
    if status >= 500:
        return SourceError("server_error", f"AWS server error {status} ({message})")
    return SourceError("error", f"AWS error ({message})")

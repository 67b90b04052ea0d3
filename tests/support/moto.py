"""A real moto server on a loopback port; boto3 reaches it through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from moto.core.responses import ActionResult
from moto.iam.responses import IamResponse
from moto.server import ThreadedMotoServer

from tests.support.net import free_port

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _generated_now(self: IamResponse) -> ActionResult:
    """GetCredentialReport with the time of the call as GeneratedTime, as AWS answers.

    moto answers a fixed 2015-02-02, before every date its reports hold, and a date
    later than the report's generation time is a problem that makes the field unknown."""
    result = _moto_get_credential_report(self).result
    assert isinstance(result, dict)
    when = datetime.now(timezone.utc)
    return ActionResult({**result, "GeneratedTime": when.isoformat().replace("+00:00", "Z")})


# moto runs in this process (also for the exporter processes the tests start, which
# reach it over HTTP), so patching its response class covers every test.
_moto_get_credential_report = IamResponse.get_credential_report
IamResponse.get_credential_report = _generated_now  # type: ignore[method-assign]


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto in server mode and yield its endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws_env(endpoint: str) -> dict[str, str]:
    """Environment for a child process (or os.environ) that talks to the moto server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(FAKE_CREDENTIALS)
    env["AWS_ENDPOINT_URL"] = endpoint
    return env

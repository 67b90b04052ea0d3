"""The real ``serve`` process behind TLS and basic auth, probed with real HTTPS clients."""

from __future__ import annotations

import base64
import http.client
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import bcrypt
import pytest

from tests.support.certs import PKI, make_pki
from tests.support.exporter_process import REPO, ExporterProcess, exporter_process

pytestmark = pytest.mark.slow

HEADERS = {
    "X-Frame-Options": "deny",
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=31536000",
}


def web_config(pki: PKI, password: str, client_auth: str = "NoClientCert") -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    ca = f"  client_ca_file: {pki.ca_cert}\n" if client_auth != "NoClientCert" else ""
    headers = "".join(f"    {k}: {v}\n" for k, v in HEADERS.items())
    return (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: {client_auth}\n{ca}  min_version: TLS12\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
        f"http_server_config:\n  headers:\n{headers}"
    )


def client_context(pki: PKI, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def https(
    exp: ExporterProcess,
    ctx: ssl.SSLContext,
    path: str = "/metrics",
    auth: tuple[str, str] | None = None,
) -> tuple[int, Message, bytes]:
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    conn = http.client.HTTPSConnection("127.0.0.1", exp.port, context=ctx, timeout=15)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def wait_https(exp: ExporterProcess, ctx: ssl.SSLContext, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if exp.proc.poll() is not None:
            raise RuntimeError(f"exporter exited {exp.proc.returncode}:\n{exp.log()}")
        try:
            if https(exp, ctx, "/-/ready")[0] == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no HTTPS answer:\n{exp.log()}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_exporter(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    path = tmp_path_factory.mktemp("web") / "web.yml"
    path.write_text(web_config(pki, "right"))
    with exporter_process("--demo", "--web.config.file", str(path), scheme="https") as exp:
        wait_https(exp, client_context(pki))
        yield exp


def test_right_credentials_get_the_metrics_and_the_landing_page(
    tls_exporter: ExporterProcess, pki: PKI
) -> None:
    status, _, body = https(tls_exporter, client_context(pki), auth=("prometheus", "right"))
    assert status == 200 and b"aws_iam_users{" in body
    status, _, page = https(tls_exporter, client_context(pki), "/", auth=("prometheus", "right"))
    assert status == 200 and b"<html" in page.lower()


@pytest.mark.parametrize("path", ["/metrics", "/"])
@pytest.mark.parametrize(
    "auth", [None, ("prometheus", "wrong"), ("intruder", "right"), ("", "")], ids=str
)
def test_missing_or_wrong_credentials_get_401(
    tls_exporter: ExporterProcess, pki: PKI, path: str, auth: tuple[str, str] | None
) -> None:
    status, headers, body = https(tls_exporter, client_context(pki), path, auth=auth)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic")
    assert b"aws_iam" not in body


@pytest.mark.parametrize("path", ["/-/healthy", "/-/ready"])
def test_health_endpoints_stay_open(tls_exporter: ExporterProcess, pki: PKI, path: str) -> None:
    assert https(tls_exporter, client_context(pki), path)[0] == 200


@pytest.mark.parametrize(
    ("path", "auth"),
    [("/metrics", ("prometheus", "right")), ("/metrics", None), ("/-/healthy", None),
     ("/nope", None)],
)  # fmt: skip
def test_configured_headers_are_on_every_response(
    tls_exporter: ExporterProcess, pki: PKI, path: str, auth: tuple[str, str] | None
) -> None:
    _, headers, _ = https(tls_exporter, client_context(pki), path, auth=auth)
    for name, value in HEADERS.items():
        assert headers[name] == value


def test_plain_http_against_the_tls_port_fails(tls_exporter: ExporterProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", tls_exporter.port, timeout=15)
    with pytest.raises((http.client.HTTPException, OSError)):
        conn.request("GET", "/-/healthy")
        conn.getresponse().read()
    conn.close()
    assert tls_exporter.proc.poll() is None


def test_a_client_that_does_not_trust_the_server_refuses_it(
    tls_exporter: ExporterProcess, pki: PKI
) -> None:
    ctx = ssl.create_default_context(cafile=str(pki.other_ca_cert))
    with pytest.raises(ssl.SSLCertVerificationError):
        https(tls_exporter, ctx, "/-/healthy")


def test_tls_below_the_minimum_version_is_refused(pki: PKI, tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(web_config(pki, "pw").replace("min_version: TLS12", "min_version: TLS13"))
    with exporter_process("--demo", "--web.config.file", str(path), scheme="https") as exp:
        wait_https(exp, client_context(pki))
        old = client_context(pki)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises((ssl.SSLError, OSError)):
            https(exp, old, "/-/healthy")


@pytest.fixture(scope="module")
def mtls_exporter(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    path = tmp_path_factory.mktemp("mtls") / "web.yml"
    path.write_text(web_config(pki, "right", "RequireAndVerifyClientCert"))
    with exporter_process("--demo", "--web.config.file", str(path), scheme="https") as exp:
        wait_https(exp, client_context(pki, (pki.client_cert, pki.client_key)))
        yield exp


def test_mtls_client_with_a_trusted_certificate_and_credentials_gets_200(
    mtls_exporter: ExporterProcess, pki: PKI
) -> None:
    ctx = client_context(pki, (pki.client_cert, pki.client_key))
    assert https(mtls_exporter, ctx, auth=("prometheus", "right"))[0] == 200
    assert https(mtls_exporter, ctx, auth=("prometheus", "wrong"))[0] == 401


@pytest.mark.parametrize("which", ["none", "rogue"])
def test_mtls_client_without_a_trusted_certificate_is_refused(
    mtls_exporter: ExporterProcess, pki: PKI, which: str
) -> None:
    cert = None if which == "none" else (pki.rogue_cert, pki.rogue_key)
    with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
        https(mtls_exporter, client_context(pki, cert), "/-/healthy")
    assert mtls_exporter.proc.poll() is None


def test_web_config_changes_apply_without_restart(pki: PKI, tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(web_config(pki, "first"))
    with exporter_process("--demo", "--web.config.file", str(path), scheme="https") as exp:
        ctx = client_context(pki)
        wait_https(exp, ctx)
        assert https(exp, ctx, auth=("prometheus", "first"))[0] == 200
        new = tmp_path / "web.new"
        new.write_text(web_config(pki, "second"))
        new.replace(path)
        _eventually(lambda: https(exp, ctx, auth=("prometheus", "second"))[0] == 200)
        assert https(exp, ctx, auth=("prometheus", "first"))[0] == 401

        broken = tmp_path / "web.broken"
        broken.write_text("basic_auth_users:\n  prometheus: plaintext-password\n")
        broken.replace(path)
        # Each request looks at the file; the bad version is logged and not applied.
        _eventually(
            lambda: (
                https(exp, ctx, auth=("prometheus", "second"))[0] == 200
                and "web config not reloaded" in exp.log()
            )
        )
        assert "basic_auth_users.prometheus: not a bcrypt hash" in exp.log()
        assert https(exp, ctx, auth=("prometheus", "second"))[0] == 200  # last good config
        assert https(exp, ctx, auth=("prometheus", "plaintext-password"))[0] == 401
        assert exp.proc.poll() is None


def _eventually(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read web config file"),
     ("tls_server_config:\n  cert_file: /no/such.crt\n  key_file: /no/such.key\n",
      "cert_file: cannot read /no/such.crt"),
     ("basic_auth_users:\n  bob: hunter2\n", "basic_auth_users.bob: not a bcrypt hash"),
     ("tls_server_config: [\n", "is not valid YAML")],
)  # fmt: skip
def test_invalid_web_config_stops_start_up_with_a_clear_message(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "web.yml"
    if content is not None:
        path.write_text(content)
    out = subprocess.run(
        [sys.executable, "-m", "exporter", "serve", "--demo", "--web.config.file", str(path),
         "--web.listen-address", "127.0.0.1:0"],
        check=False, capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_rotated_certificates_are_served_to_new_connections_without_restart(
    tmp_path: Path,
) -> None:
    old, new = make_pki(tmp_path / "old"), make_pki(tmp_path / "new")
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server.crt", "server.key"):
        (live / name).write_bytes((old.server_cert.parent / name).read_bytes())
    path = tmp_path / "web.yml"
    path.write_text(
        "tls_server_config:\n  cert_file: live/server.crt\n  key_file: live/server.key\n"
    )
    with exporter_process("--demo", "--web.config.file", str(path), scheme="https") as exp:
        wait_https(exp, client_context(old))
        for name in ("server.key", "server.crt"):  # what cert-manager or certbot does
            staged = live / f"{name}.new"
            staged.write_bytes((new.server_cert.parent / name).read_bytes())
            staged.replace(live / name)

        def serves_new_certificate() -> bool:
            try:
                return https(exp, client_context(new), "/-/healthy")[0] == 200
            except ssl.SSLError:
                return False

        _eventually(serves_new_certificate)
        with pytest.raises(ssl.SSLCertVerificationError):
            https(exp, client_context(old), "/-/healthy")


def test_verify_client_cert_if_given_accepts_none_and_refuses_untrusted(
    pki: PKI, tmp_path: Path
) -> None:
    path = tmp_path / "web.yml"
    path.write_text(web_config(pki, "pw", "VerifyClientCertIfGiven"))
    with exporter_process("--demo", "--web.config.file", str(path), scheme="https") as exp:
        wait_https(exp, client_context(pki))
        assert https(exp, client_context(pki), auth=("prometheus", "pw"))[0] == 200
        trusted = client_context(pki, (pki.client_cert, pki.client_key))
        assert https(exp, trusted, auth=("prometheus", "pw"))[0] == 200
        with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
            https(exp, client_context(pki, (pki.rogue_cert, pki.rogue_key)), "/-/healthy")

"""WebAccess: start-up validation, open health paths, reload on change, last good config kept."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import bcrypt
import pytest

from exporter.web import ReloadStatus, WebAccess, WebConfigError
from exporter.web.hooks import WebHooks
from tests.support.certs import PKI, make_pki


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def write(path: Path, text: str) -> None:
    # A new inode and a bumped mtime, as an editor or a config-management tool does.
    tmp = path.with_suffix(".new")
    tmp.write_text(text)
    st = path.stat() if path.exists() else None
    os.replace(tmp, path)
    if st is not None:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    return make_pki(tmp_path / "pki")


def test_no_file_means_everything_open_without_tls() -> None:
    access = WebAccess(None)
    assert access.authorized("/metrics", None)
    assert access.ssl_context() is None
    assert dict(access.headers()) == {}


def test_health_paths_stay_open_and_others_need_auth(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    write(path, f"basic_auth_users:\n  prom: '{hashed('pw')}'\n")
    access = WebAccess(path)
    for open_path in ("/-/healthy", "/-/ready", "/-/ready?x=1"):
        assert access.authorized(open_path, None)
    for guarded in ("/", "/metrics", "/metrics?x", "/-/healthy/../metrics", "/nope"):
        assert not access.authorized(guarded, None)
        assert access.authorized(guarded, basic("prom", "pw"))


def test_invalid_file_at_start_up_is_fatal(tmp_path: Path, pki: PKI) -> None:
    path = tmp_path / "web.yml"
    write(path, f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.ca_cert}\n")
    with pytest.raises(WebConfigError, match="cannot load cert_file"):
        WebAccess(path)
    write(path, "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /x.key\n")
    with pytest.raises(WebConfigError, match=r"cert_file: cannot read /nonexistent\.crt"):
        WebAccess(path)


def test_changes_apply_without_restart_and_bad_changes_keep_the_last_good_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "web.yml"
    write(path, f"basic_auth_users:\n  prom: '{hashed('old')}'\n")
    access = WebAccess(path, check_interval=0)
    assert access.authorized("/metrics", basic("prom", "old"))

    write(path, f"basic_auth_users:\n  prom: '{hashed('new')}'\n"
                "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")  # fmt: skip
    assert access.authorized("/metrics", basic("prom", "new"))
    assert not access.authorized("/metrics", basic("prom", "old"))
    assert dict(access.headers()) == {"X-Frame-Options": "deny"}
    assert access.reloads == 1

    with caplog.at_level(logging.ERROR, logger="exporter.web"):
        write(path, "basic_auth_users:\n  prom: not-a-hash\n")
        for _ in range(3):  # logged once per change, not per request
            assert access.authorized("/metrics", basic("prom", "new"))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "basic_auth_users.prom" in errors[0].getMessage()
    assert not access.last_reload_successful

    path.unlink()
    assert access.authorized("/metrics", basic("prom", "new"))  # a deleted file changes nothing

    write(path, "")  # an empty file is no config (a rewrite in progress): the last good stays
    assert access.authorized("/metrics", basic("prom", "new"))
    assert not access.authorized("/metrics", None)

    write(path, f"basic_auth_users:\n  prom: '{hashed('newer')}'\n")  # valid again
    assert access.authorized("/metrics", basic("prom", "newer"))
    assert access.last_reload_successful


def test_certificates_are_reloaded_and_tls_cannot_be_switched_off_live(
    tmp_path: Path, pki: PKI
) -> None:
    path = tmp_path / "web.yml"
    tls = f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
    write(path, tls)
    access = WebAccess(path, check_interval=0)
    first = access.ssl_context()
    assert first is not None and access.tls_enabled
    assert access.ssl_context() is first  # unchanged files: the same context

    other = make_pki(tmp_path / "rotated")
    for src, dst in ((other.server_cert, pki.server_cert), (other.server_key, pki.server_key)):
        write(dst, src.read_text())
    rotated = access.ssl_context()
    assert rotated is not None and rotated is not first

    write(path, "basic_auth_users: {}\n")
    assert access.ssl_context() is rotated  # refused: turning TLS off needs a restart
    assert not access.last_reload_successful


def test_a_reload_that_keeps_the_users_keeps_the_verdict_cache(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    users = f"basic_auth_users:\n  prom: '{hashed('pw')}'\n"
    write(path, users)
    access = WebAccess(path, check_interval=0)
    assert access.authorized("/metrics", basic("prom", "pw"))
    auth = access._loaded.auth
    write(path, users + "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
    assert access.authorized("/metrics", basic("prom", "pw"))
    assert access.reloads == 1 and access._loaded.auth is auth


def test_certificates_that_appear_after_a_failed_reload_are_picked_up(
    tmp_path: Path, pki: PKI, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "web.yml"
    write(
        path, f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
    )
    access = WebAccess(path, check_interval=0)
    first = access.ssl_context()
    pending = tmp_path / "issued"  # where a certificate manager will write them later
    write(
        path, f"tls_server_config:\n  cert_file: {pending}/tls.crt\n  key_file: {pending}/tls.key\n"
    )
    with caplog.at_level(logging.ERROR, logger="exporter.web"):
        for _ in range(3):
            assert access.ssl_context() is first
    assert caplog.text.count("web config not reloaded") == 1
    other = make_pki(tmp_path / "other")
    pending.mkdir()
    (pending / "tls.key").write_bytes(other.server_key.read_bytes())
    (pending / "tls.crt").write_bytes(other.server_cert.read_bytes())
    assert access.ssl_context() is not first  # the config file itself did not change
    assert access.last_reload_successful


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


USERS = f"basic_auth_users:\n  prom: '{hashed('pw')}'\n"
# What a reader can see while the file is rewritten in place, and edits that drop auth.
WEAKER = ["", "\n", "# basic_auth_users: moved\n", "{}\n", "basic_auth_users:\n",
          "basic_auth_users: {}\n", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
          "basic_auth_users:\n  prom: '$2b$12$trunc"]  # fmt: skip


@pytest.mark.parametrize("text", WEAKER)
def test_a_reload_that_would_remove_basic_auth_is_refused_logged_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    path = tmp_path / "web.yml"
    write(path, USERS)
    wall = Clock()
    access = WebAccess(path, check_interval=0, wall_clock=wall)
    assert access.last_reload_successful
    assert access.last_reload_success_timestamp == wall.now
    started = wall.now

    wall.now += 60
    with caplog.at_level(logging.INFO, logger="exporter.web"):
        write(path, text)
        for _ in range(3):
            assert not access.authorized("/metrics", None)
            assert access.authorized("/metrics", basic("prom", "pw"))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, caplog.text
    assert "web config not reloaded" in errors[0].getMessage()
    assert "web config reloaded" not in caplog.text
    assert not access.last_reload_successful
    assert access.last_reload_success_timestamp == started
    assert access.reload_failures == 1 and access.reloads == 0
    status = access.reload_status()
    assert (status.successful, status.success_timestamp, status.failures) == (False, started, 1)

    wall.now += 60
    write(path, USERS)  # written back: the same config again is a good reload
    assert access.authorized("/metrics", basic("prom", "pw"))
    assert access.last_reload_successful
    assert access.last_reload_success_timestamp == wall.now
    assert access.reloads == 1


def test_the_refusal_says_what_would_be_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "web.yml"
    write(path, USERS)
    access = WebAccess(path, check_interval=0)
    with caplog.at_level(logging.ERROR, logger="exporter.web"):
        write(path, "basic_auth_users:\n")
        access.authorized("/metrics", None)
    assert "basic_auth_users: a reload cannot switch basic auth off" in caplog.text
    assert "needs a restart" in caplog.text


@pytest.mark.parametrize(
    ("before", "after"),
    [("RequireAndVerifyClientCert", "NoClientCert"),
     ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven"),
     ("VerifyClientCertIfGiven", "NoClientCert")],
)  # fmt: skip
def test_a_reload_that_would_weaken_client_certificates_is_refused(
    tmp_path: Path, pki: PKI, caplog: pytest.LogCaptureFixture, before: str, after: str
) -> None:
    def tls(auth: str) -> str:
        ca = f"  client_ca_file: {pki.ca_cert}\n" if auth != "NoClientCert" else ""
        return (f"tls_server_config:\n  cert_file: {pki.server_cert}\n"
                f"  key_file: {pki.server_key}\n  client_auth_type: {auth}\n{ca}")  # fmt: skip

    path = tmp_path / "web.yml"
    write(path, tls(before))
    access = WebAccess(path, check_interval=0)
    first = access.ssl_context()
    with caplog.at_level(logging.ERROR, logger="exporter.web"):
        write(path, tls(after))
        assert access.ssl_context() is first
    assert not access.last_reload_successful
    assert "tls_server_config.client_auth_type" in caplog.text


def test_reloads_that_keep_or_add_protection_are_applied(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    write(path, "{}\n")  # deliberately open at start-up
    access = WebAccess(path, check_interval=0)
    assert access.authorized("/metrics", None)
    write(path, USERS)  # adding basic auth needs no restart
    assert not access.authorized("/metrics", None)
    write(path, f"basic_auth_users:\n  prom: '{hashed('pw')}'\n  grafana: '{hashed('g')}'\n")
    assert access.authorized("/metrics", basic("grafana", "g"))
    write(path, f"basic_auth_users:\n  grafana: '{hashed('g')}'\n")  # one user fewer, still on
    assert not access.authorized("/metrics", basic("prom", "pw"))
    assert access.authorized("/metrics", basic("grafana", "g"))
    assert access.last_reload_successful and access.reloads == 3


def test_without_a_file_the_reload_status_is_good_from_the_start() -> None:
    wall = Clock()
    status = WebAccess(None, wall_clock=wall).reload_status()
    assert (status.successful, status.success_timestamp, status.failures) == (True, wall.now, 0)


def test_the_hooks_hand_the_reload_status_to_the_daemon(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    write(path, USERS)
    hooks = WebHooks(WebAccess(path, check_interval=0))
    write(path, "basic_auth_users:\n")
    status = hooks.reload_status()
    assert isinstance(status, ReloadStatus) and not status.successful and status.failures == 1

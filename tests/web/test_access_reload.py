"""WebAccess: start-up validation, open health paths, reload on change, last good config kept."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import bcrypt
import pytest

from exporter.web import WebAccess, WebConfigError
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
    assert not access.last_reload_ok

    path.unlink()
    assert access.authorized("/metrics", basic("prom", "new"))  # a deleted file changes nothing

    write(path, "")  # an empty file is no config (a rewrite in progress): the last good stays
    assert access.authorized("/metrics", basic("prom", "new"))
    assert not access.authorized("/metrics", None)

    write(path, f"basic_auth_users:\n  prom: '{hashed('newer')}'\n")  # valid again
    assert access.authorized("/metrics", basic("prom", "newer"))
    assert access.last_reload_ok


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
    assert not access.last_reload_ok


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
    assert access.last_reload_ok

"""Basic auth against bcrypt hashes: verdicts, malformed headers, the verdict cache."""

from __future__ import annotations

import base64
import threading
import time

import bcrypt
import pytest

from exporter.web import basic_auth
from exporter.web.basic_auth import BasicAuth, parse_basic

USERS = {"prometheus": bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4))}


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_only_the_right_password_of_a_known_user_passes() -> None:
    auth = BasicAuth(USERS)
    assert auth.check(header("prometheus", "s3cret"))
    assert not auth.check(header("prometheus", "wrong"))
    assert not auth.check(header("Prometheus", "s3cret"))
    assert not auth.check(header("nobody", "s3cret"))
    assert not auth.check(None)


@pytest.mark.parametrize(
    "value",
    ["", "Basic", "Basic !!!notbase64", "Bearer abc",
     "Basic " + base64.b64encode(b"nocolon").decode(),
     "Basic " + base64.b64encode(b"\xff\xfe:x").decode()],
)  # fmt: skip
def test_malformed_headers_are_refused(value: str) -> None:
    assert parse_basic(value) is None or value.startswith("Basic ")
    assert not BasicAuth(USERS).check(value)


def test_password_may_contain_colons() -> None:
    assert parse_basic(header("u", "a:b:c")) == ("u", "a:b:c")


def test_no_users_means_no_auth() -> None:
    auth = BasicAuth({})
    assert not auth.enabled
    assert auth.check(None)


def test_repeated_credentials_pay_bcrypt_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(basic_auth.bcrypt, "checkpw", counting)
    auth = BasicAuth(USERS)
    for _ in range(5):
        assert auth.check(header("prometheus", "s3cret"))
        assert not auth.check(header("prometheus", "bad"))
    assert len(calls) == 2


def test_unknown_users_still_pay_a_bcrypt_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # Equal work for known and unknown names: the timing does not reveal which exist.
    calls: list[bytes] = []
    monkeypatch.setattr(basic_auth.bcrypt, "checkpw", lambda p, h: calls.append(h) or True)
    assert not BasicAuth(USERS).check(header("ghost", "whatever"))
    assert calls == [basic_auth._DUMMY_HASH]


def test_the_cache_is_bounded() -> None:
    auth = BasicAuth(USERS, cache_size=3)
    for i in range(10):
        auth.check(header("prometheus", f"guess{i}"))
    assert len(auth._cache) == 3


def test_the_cache_does_not_hold_plain_passwords() -> None:
    auth = BasicAuth(USERS)
    auth.check(header("prometheus", "s3cret"))
    assert all(b"s3cret" not in key for key in auth._cache)


def test_concurrent_first_checks_pay_bcrypt_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    release = threading.Event()
    real = bcrypt.checkpw

    def slow(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        release.wait(10)  # hold the first check until every thread has arrived
        return real(password, hashed)

    monkeypatch.setattr(basic_auth.bcrypt, "checkpw", slow)
    auth = BasicAuth(USERS)
    results: list[bool] = []
    started = threading.Barrier(21)

    def scrape() -> None:
        started.wait()
        results.append(auth.check(header("prometheus", "s3cret")))

    threads = [threading.Thread(target=scrape) for _ in range(20)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.3)  # let every thread reach the check while the first one is in bcrypt
    release.set()
    for t in threads:
        t.join(10)
    assert results == [True] * 20
    assert len(calls) == 1

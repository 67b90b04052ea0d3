"""Basic auth against bcrypt hashes: verdicts, malformed headers, the verdict cache."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable

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
    assert len(calls) == 1 and calls[0] not in USERS.values()


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


def cost(hashed: bytes) -> int:
    return int(hashed.split(b"$")[2])


@pytest.mark.parametrize("costs", [(4,), (5, 4), (4, 6, 5)])
def test_the_dummy_hash_of_unknown_users_costs_as_much_as_the_dearest_configured_hash(
    monkeypatch: pytest.MonkeyPatch, costs: tuple[int, ...]
) -> None:
    # Equal cost, not equal wall time, is what the test can assert: bcrypt's time is
    # 2^cost rounds, and the cost is a field of the hash it is given.
    users = {f"u{i}": bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=c)) for i, c in enumerate(costs)}
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def recording(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(basic_auth.bcrypt, "checkpw", recording)
    auth = BasicAuth(users)
    assert not auth.check(header("ghost", "pw"))
    assert not auth.check(header("ghost", "u0"))
    assert [cost(h) for h in calls] == [max(costs)] * 2
    assert all(h not in users.values() for h in calls)


def test_the_dummy_hash_never_matches() -> None:
    auth = BasicAuth({"u": bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4))})
    assert not auth.check(header("ghost", ""))
    assert not auth.check(header("ghost", "pw"))


class Gate:
    """A stand-in for bcrypt.checkpw that holds every caller until opened, counting
    how many are inside at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.calls = 0
        self.lock = threading.Lock()
        self.open = threading.Event()

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        with self.lock:
            self.inside += 1
            self.calls += 1
            self.most = max(self.most, self.inside)
        try:
            self.open.wait(30)
            return password == b"s3cret"
        finally:
            with self.lock:
                self.inside -= 1


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_concurrent_bcrypt_checks_are_bounded_and_cached_verdicts_never_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = BasicAuth(USERS, slots=threading.BoundedSemaphore(2))
    assert auth.check(header("prometheus", "s3cret"))  # cached from now on
    gate = Gate()
    monkeypatch.setattr(basic_auth.bcrypt, "checkpw", gate)
    results: list[bool] = []
    guesses = [threading.Thread(target=lambda i=i: results.append(
        auth.check(header("prometheus", f"wrong-{i}")))) for i in range(16)]  # fmt: skip
    for t in guesses:
        t.start()
    try:
        wait_for(lambda: gate.inside >= 2)
        time.sleep(0.2)  # give the other 14 every chance to get in too
        assert gate.most == 2
        # The cached verdict is answered while every bcrypt slot is taken.
        cached = threading.Thread(target=lambda: results.append(
            auth.check(header("prometheus", "s3cret"))))  # fmt: skip
        cached.start()
        cached.join(5)
        assert not cached.is_alive() and results == [True]
    finally:
        gate.open.set()
        for t in guesses:
            t.join(30)
    assert results.count(False) == 16 and gate.most == 2 and gate.calls == 16


def test_a_check_that_waits_too_long_for_a_slot_is_refused_and_not_cached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = BasicAuth(USERS, slots=threading.BoundedSemaphore(1), queue_timeout=0.1)
    gate = Gate()
    monkeypatch.setattr(basic_auth.bcrypt, "checkpw", gate)
    first = threading.Thread(target=auth.check, args=(header("prometheus", "guess"),))
    first.start()
    try:
        wait_for(lambda: gate.inside == 1)
        assert not auth.check(header("prometheus", "s3cret"))  # no slot within 0.1 s
        assert auth.busy_refusals == 1
    finally:
        gate.open.set()
        first.join(30)
    assert auth.check(header("prometheus", "s3cret"))  # that refusal was not cached

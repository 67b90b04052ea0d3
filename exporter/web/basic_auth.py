"""HTTP basic auth against bcrypt hashes, as the exporter-toolkit checks it.

bcrypt is deliberately slow (tens of ms), and Prometheus scrapes with the
same credentials every few seconds, so a verdict is cached. The cache key is a
SHA-256 of user, password and stored hash: the plain password is never kept,
and changing a user's hash in the config invalidates its entries.

An unknown user is still checked against a dummy hash of the highest cost
among the configured hashes, and user names are compared with
``hmac.compare_digest``, so the response time does not tell whether a user
name exists.

bcrypt releases the GIL and keeps a core busy for its whole run, so a stream
of wrong passwords (each one new, each one a bcrypt check) would take every
core and make each cached scrape wait for CPU. At most ``MAX_CONCURRENT_CHECKS``
checks run at once in the process; a cached verdict never waits for one, and a
check that finds no free slot within ``QUEUE_TIMEOUT`` seconds is refused
(401, not cached).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping

import bcrypt

# Salt and digest of a bcrypt hash of a random string nobody knows (the toolkit does
# this). The cost in front of it is set per config: bcrypt's time is 2^cost rounds,
# whatever the digest.
_DUMMY_SALT_AND_DIGEST = b"QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
CACHE_SIZE = 256
# One bcrypt check per core: more at once only make them all, and every other
# request of the process, wait for CPU.
MAX_CONCURRENT_CHECKS = max(1, os.cpu_count() or 1)
QUEUE_TIMEOUT = 10.0  # seconds a check waits for a free slot before it is refused
_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic base64(user:password)`` -> (user, password), or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class BasicAuth:
    """Checks ``Authorization`` headers against ``users`` (name -> bcrypt hash)."""

    def __init__(
        self,
        users: Mapping[str, bytes],
        cache_size: int = CACHE_SIZE,
        slots: threading.Semaphore | None = None,
        queue_timeout: float = QUEUE_TIMEOUT,
    ) -> None:
        self._users = tuple((name.encode("utf-8"), hashed) for name, hashed in users.items())
        self._dummy = dummy_hash(max((_cost(h) for _, h in self._users), default=4))
        self._slots = _SLOTS if slots is None else slots  # shared by every config of the process
        self._queue_timeout = queue_timeout
        self.busy_refusals = 0  # checks refused because no slot was free in time
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._pending: dict[bytes, threading.Event] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def check(self, header: str | None) -> bool:
        if not self._users:
            return True
        creds = parse_basic(header)
        if creds is None:
            return False
        user, password = creds[0].encode("utf-8"), creds[1].encode("utf-8")
        known, hashed = self._lookup(user)
        key = hashlib.sha256(b"\0".join((user, password, hashed))).digest()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            # Single flight: when many scrapers arrive at once with the same credentials
            # (start-up, a reload), one pays bcrypt and the others wait for its verdict.
            pending = self._pending.get(key)
            owner = pending is None
            if pending is None:
                pending = self._pending[key] = threading.Event()
        if not owner:
            pending.wait(timeout=10)
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None:
                return cached
        try:
            if not self._slots.acquire(timeout=self._queue_timeout):
                with self._lock:
                    self.busy_refusals += 1
                return False  # not cached: the same credentials may pass once it is quieter
            try:
                ok = _checkpw(password, hashed) and known
            finally:
                self._slots.release()
            with self._lock:
                self._cache[key] = ok
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        finally:
            if owner:
                with self._lock:
                    self._pending.pop(key, None)
                pending.set()
        return ok

    def _lookup(self, user: bytes) -> tuple[bool, bytes]:
        # Visit every user with a constant-time comparison: no early exit on a match.
        found, hashed = False, self._dummy
        for name, candidate in self._users:
            if hmac.compare_digest(name, user):
                found, hashed = True, candidate
        return found, hashed


def dummy_hash(cost: int) -> bytes:
    """A well-formed bcrypt hash of cost ``cost`` that no password matches."""
    return b"$2b$%02d$" % cost + _DUMMY_SALT_AND_DIGEST


def _cost(hashed: bytes) -> int:
    """The cost field of ``$2b$12$...``; the config parser checked the format."""
    try:
        return min(31, max(4, int(hashed.split(b"$")[2])))
    except (IndexError, ValueError):
        return 4


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # a malformed hash; the config parser should have refused it
        return False

"""HTTP basic auth against bcrypt hashes, as the exporter-toolkit checks it.

bcrypt is deliberately slow (tens of ms), and Prometheus scrapes with the
same credentials every few seconds, so a verdict is cached. The cache key is a
SHA-256 of user, password and stored hash: the plain password is never kept,
and changing a user's hash in the config invalidates its entries.

An unknown user is still checked against a dummy hash, and user names are
compared with ``hmac.compare_digest``, so the response time does not tell
whether a user name exists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Mapping

import bcrypt

# bcrypt of a random string nobody knows, same cost as a typical config (the toolkit does this).
_DUMMY_HASH = b"$2b$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
CACHE_SIZE = 256


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

    def __init__(self, users: Mapping[str, bytes], cache_size: int = CACHE_SIZE) -> None:
        self._users = tuple((name.encode("utf-8"), hashed) for name, hashed in users.items())
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
            ok = _checkpw(password, hashed) and known
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
        found, hashed = False, _DUMMY_HASH
        for name, candidate in self._users:
            if hmac.compare_digest(name, user):
                found, hashed = True, candidate
        return found, hashed


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # a malformed hash; the config parser should have refused it
        return False

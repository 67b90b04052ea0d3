"""What the ``user`` label of the metrics carries: ``--labels.user=name|hash|none``.

- ``name``: the IAM user name, as in the report.
- ``hash``: a keyed HMAC-SHA256 of the name, truncated to 16 hex digits. The key
  comes from ``--labels.user-hash-key-file`` or the environment variable
  ``AWS_IAM_EXPORTER_USER_HASH_KEY``, so the label is stable across restarts and
  hosts that share the key, and cannot be reversed by hashing a list of likely
  names without it. Look a user up with
  ``printf %s NAME | openssl dgst -sha256 -hmac KEY`` (first 16 digits).
- ``none``: no per-user series at all; only the aggregates are exported.

The root row keeps its report name ``<root_account>``: it names no person and
alerts on root findings depend on it. Only metrics are affected; ``audit``,
``diff`` and the logs are tools for people who may read the report anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path

from exporter.config.flags import KEY_ENV, USER_LABEL_MODES
from exporter.core.records import ROOT_USER

MIN_KEY_BYTES = 16
HASH_HEX_DIGITS = 16


class PrivacyError(ValueError):
    """The label mode or its key is unusable; the message names the problem."""


class UserLabeler:
    """``labeler(user)`` is the ``user`` label value, or None to leave the series out."""

    def __init__(self, mode: str = "name", key: bytes | None = None) -> None:
        if mode not in USER_LABEL_MODES:
            raise PrivacyError(
                f"--labels.user: unknown mode {mode!r} "
                f"(expected one of {', '.join(USER_LABEL_MODES)})"
            )
        if mode == "hash" and (key is None or len(key) < MIN_KEY_BYTES):
            raise PrivacyError(
                f"--labels.user=hash needs a key of at least {MIN_KEY_BYTES} bytes "
                f"(--labels.user-hash-key-file or ${KEY_ENV})"
            )
        self.mode = mode
        self._key = key or b""
        self._cache: dict[str, str] = {}

    def __call__(self, user: str) -> str | None:
        if self.mode == "none":
            return None
        if self.mode == "name" or user == ROOT_USER:
            return user
        label = self._cache.get(user)
        if label is None:
            label = hash_user(self._key, user)
            self._cache[user] = label  # a dict store is atomic under the GIL
        return label

    @property
    def per_user_series(self) -> bool:
        return self.mode != "none"


def hash_user(key: bytes, user: str) -> str:
    return hmac.new(key, user.encode("utf-8"), hashlib.sha256).hexdigest()[:HASH_HEX_DIGITS]


def load_hash_key(key_file: str | None, env: Mapping[str, str] | None = None) -> bytes | None:
    """The HMAC key from a file (preferred) or the environment; None when neither is set.

    Surrounding whitespace is stripped, so ``echo KEY > file`` works.
    """
    if key_file:
        try:
            key = Path(key_file).read_bytes().strip()
        except OSError as err:
            raise PrivacyError(
                f"--labels.user-hash-key-file: cannot read {key_file}: {err.strerror}"
            ) from None
        if not key:
            raise PrivacyError(f"--labels.user-hash-key-file: {key_file} is empty")
        return key
    value = (os.environ if env is None else env).get(KEY_ENV, "").strip()
    return value.encode("utf-8") if value else None


def make_labeler(
    mode: str, key_file: str | None, env: Mapping[str, str] | None = None
) -> UserLabeler:
    """Build the labeler for the serve flags; only ``hash`` reads the key."""
    key = load_hash_key(key_file, env) if mode == "hash" else None
    return UserLabeler(mode, key)

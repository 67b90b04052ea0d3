"""--labels.user: names, keyed hashes stable across restarts, or nothing."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from exporter.core.records import ROOT_USER
from exporter.daemon.labels import KEY_ENV, PrivacyError, UserLabeler, load_hash_key, make_labeler

KEY = b"0123456789abcdef-test-key"


def test_name_mode_keeps_names() -> None:
    assert UserLabeler("name")("alice") == "alice"


def test_hash_mode_is_a_truncated_keyed_hmac() -> None:
    label = UserLabeler("hash", KEY)("alice")
    assert label == hmac.new(KEY, b"alice", hashlib.sha256).hexdigest()[:16]
    assert label is not None and "alice" not in label


def test_hash_is_stable_across_instances_and_differs_by_key_and_user() -> None:
    first, second = UserLabeler("hash", KEY), UserLabeler("hash", KEY)
    assert first("alice") == second("alice")  # a restart builds a new labeler
    assert first("alice") != first("bob")
    assert first("alice") != UserLabeler("hash", KEY + b"2")("alice")


def test_root_keeps_its_report_name() -> None:
    assert UserLabeler("hash", KEY)(ROOT_USER) == ROOT_USER


def test_none_mode_drops_per_user_series() -> None:
    labeler = UserLabeler("none")
    assert labeler("alice") is None
    assert not labeler.per_user_series


def test_bad_mode_and_short_or_missing_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PrivacyError, match="unknown mode 'email'"):
        UserLabeler("email")
    with pytest.raises(PrivacyError, match="at least 16 bytes"):
        UserLabeler("hash", b"short")
    with pytest.raises(PrivacyError, match="at least 16 bytes"):
        make_labeler("hash", None, env={})
    with pytest.raises(PrivacyError, match=r"cannot read .*nokey"):
        load_hash_key(str(tmp_path / "nokey"))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(PrivacyError, match="is empty"):
        load_hash_key(str(empty))


def test_key_from_file_wins_over_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    assert load_hash_key(str(key_file), env={KEY_ENV: "other-key-from-env"}) == KEY
    assert load_hash_key(None, env={KEY_ENV: " env-key-0123456789 "}) == b"env-key-0123456789"
    assert make_labeler("hash", None, env={KEY_ENV: KEY.decode()})("a") == UserLabeler("hash", KEY)(
        "a"
    )


def test_name_mode_does_not_need_a_key() -> None:
    assert make_labeler("name", "/does/not/exist", env={})("bob") == "bob"

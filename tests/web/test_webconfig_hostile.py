"""The web config file against hostile or half-written documents: one-line errors, never
a config that serves unprotected by accident."""

from __future__ import annotations

import time
from pathlib import Path

import bcrypt
import pytest

from exporter.config.errors import EXCERPT_CHARS
from exporter.web import WebAccess
from exporter.web.webconfig import WebConfigError, load_web_config
from tests.config.hostile import alias_bomb

HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
HUGE = "x" * 100_000


def refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "web.yml"
    path.write_text(text)
    start = time.monotonic()
    with pytest.raises(WebConfigError) as err:
        load_web_config(path)
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert message.startswith(f"web config file {path}")
    assert "\n" not in message and "x" * (EXCERPT_CHARS + 1) not in message, message[:300]
    assert len(message) < 600, message[:600]
    return message


@pytest.mark.parametrize("text", ["", "\n\n", "# a comment\n# and another\n", "---\n"])
def test_an_empty_or_comments_only_file_is_never_a_valid_config(tmp_path: Path, text: str) -> None:
    assert "is empty" in refused(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(alias_bomb("basic_auth_users"), "basic_auth_users["),
     ("basic_auth_users: " + "[" * 20_000, "nested deeper than"),
     ("basic_auth_users: &a {bob: *a}\n", "refers to a node that contains it"),
     (f"basic_auth_users:\n  bob: '{HASH}'\nbasic_auth_users:\n",
      "basic_auth_users: duplicate key (lines 1 and 3)"),
     (f"basic_auth_users:\n  bob: '{HASH}'\n  bob: '{HASH}'\n", "basic_auth_users.bob: duplicate"),
     ("http_server_config:\n  http2: " + "9" * 5000 + "\n", "http_server_config.http2: number"),
     ("basic_auth_users: [unclosed\n", "is not valid YAML"),
     ("basic_auth_users: *" + HUGE + "\n", "is not defined"),
     ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: " + HUGE + "\n",
      "client_auth_type"),
     ("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: " + HUGE + "\n",
      "min_version"),
     ("http_server_config:\n  headers:\n    X-Frame-Options: " + HUGE + "\n", "X-Frame-Options"),
     # A plain key is at most 1024 characters; "? key" has no limit.
     ("http_server_config:\n  headers:\n    ? " + HUGE + "\n    : x\n", "headers.xxx"),
     ("? " + HUGE + "\n: 1\n", "unknown key"),
     ("tls_server_config:\n  ? " + HUGE + "\n  : 1\n", "tls_server_config.xxx"),
     ("basic_auth_users:\n  ? " + HUGE + "\n  : nothash\n", "basic_auth_users.xxx"),
     ("basic_auth_users:\n  bob: " + HUGE + "\n", "basic_auth_users.bob: not a bcrypt hash")],
)  # fmt: skip
def test_hostile_documents_are_one_line_errors_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in refused(tmp_path, text)


def test_a_hostile_file_at_start_up_is_a_web_config_error(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("[" * 20_000)
    with pytest.raises(WebConfigError, match="nested deeper than"):
        WebAccess(path)

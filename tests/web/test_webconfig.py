"""Parsing and validation of the exporter-toolkit web config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.web.webconfig import WebConfigError, load_web_config, parse_web_config

HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()


def test_full_config_is_parsed_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {
                    "cert_file": "server.crt",
                    "key_file": "/abs/server.key",
                    "client_auth_type": "RequireAndVerifyClientCert",
                    "client_ca_file": "ca.crt",
                    "min_version": "TLS13",
                },
                "http_server_config": {
                    "http2": True,
                    "headers": {"x-frame-options": "deny", "Strict-Transport-Security": "x"},
                },
                "basic_auth_users": {"prometheus": HASH},
            }
        )
    )
    config = load_web_config(path)
    assert config.tls is not None
    assert config.tls.cert_file == tmp_path / "server.crt"
    assert config.tls.key_file == Path("/abs/server.key")
    assert config.tls.client_ca_file == tmp_path / "ca.crt"
    assert (config.tls.min_version, config.tls.max_version) == ("TLS13", "TLS13")
    assert config.users == {"prometheus": HASH.encode()}
    assert config.headers == {"X-Frame-Options": "deny", "Strict-Transport-Security": "x"}


@pytest.mark.parametrize("text", ["{}", "tls_server_config: {}\n", "basic_auth_users:\n"])
def test_empty_settings_mean_plain_http_without_auth(tmp_path: Path, text: str) -> None:
    path = tmp_path / "web.yml"
    path.write_text(text)
    config = load_web_config(path)
    assert config.tls is None and not config.users and not config.headers


TLS = {"cert_file": "a.crt", "key_file": "a.key"}
BAD: list[tuple[Any, str]] = [
    ([1, 2], "the document: must be a mapping"),
    ({"tls_config": {}}, "tls_config: unknown key"),
    ({"tls_server_config": {**TLS, "certfile": "x"}}, "tls_server_config.certfile: unknown key"),
    ({"tls_server_config": {"cert_file": "a.crt"}}, "tls_server_config.key_file: required"),
    ({"tls_server_config": {**TLS, "min_version": "TLS14"}}, "min_version: unknown TLS version"),
    ({"tls_server_config": {**TLS, "min_version": "TLS13", "max_version": "TLS12"}}, "above"),
    ({"tls_server_config": {**TLS, "client_auth_type": "Sometimes"}}, "unknown value 'Sometimes'"),
    ({"tls_server_config": {**TLS, "client_auth_type": "RequireAnyClientCert"}}, "not supported"),
    ({"tls_server_config": {**TLS, "client_auth_type": "RequireAndVerifyClientCert"}},
     "client_ca_file: required"),
    ({"tls_server_config": {**TLS, "client_ca_file": "ca.crt"}},
     "client_auth_type is NoClientCert"),
    ({"tls_server_config": {**TLS, "cipher_suites": ["X"]}}, "cipher_suites: not supported"),
    ({"tls_server_config": {"cert_file": 5, "key_file": "k"}}, "cert_file: must be a string"),
    ({"tls_server_config": {"client_auth_type": "RequireAndVerifyClientCert"}},
     "client settings given without cert_file"),
    ({"basic_auth_users": {"bob": "plaintext"}}, "basic_auth_users.bob: not a bcrypt hash"),
    ({"basic_auth_users": {"a:b": HASH}}, "without ':'"),
    ({"basic_auth_users": ["bob"]}, "basic_auth_users: must be a mapping"),
    ({"http_server_config": {"headers": {"Server": "x"}}}, "this header cannot be configured"),
    ({"http_server_config": {"headers": {"X-Frame-Options": "allow"}}}, "must be one of deny"),
    ({"http_server_config": {"headers": {"X-XSS-Protection": "1\r\nSet-Cookie: a"}}},
     "single-line"),
    ({"http_server_config": {"http2": "yes"}}, "http2: must be true or false"),
    ({"http_server_config": {"keepalive": True}}, "http_server_config.keepalive: unknown key"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_invalid_settings_are_refused_with_the_key_named(data: Any, message: str) -> None:
    with pytest.raises(WebConfigError, match=message.replace("(", r"\(")):
        parse_web_config(data)


def test_unreadable_and_malformed_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yml"
    with pytest.raises(WebConfigError, match=r"cannot read web config file .*missing\.yml"):
        load_web_config(missing)
    bad_yaml = tmp_path / "bad.yml"
    bad_yaml.write_text("basic_auth_users: [unclosed\n")
    with pytest.raises(WebConfigError, match=r"bad\.yml is not valid YAML"):
        load_web_config(bad_yaml)
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(WebConfigError, match="not UTF-8"):
        load_web_config(binary)
    wrong = tmp_path / "wrong.yml"
    wrong.write_text("basic_auth_users:\n  bob: nothash\n")
    with pytest.raises(WebConfigError, match=r"wrong\.yml: basic_auth_users\.bob"):
        load_web_config(wrong)


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=30)
_keys = st.sampled_from(
    ["tls_server_config", "http_server_config", "basic_auth_users", "cert_file", "key_file",
     "client_auth_type", "client_ca_file", "min_version", "max_version", "headers", "http2",
     "X-Frame-Options", "bob", "TLS12", "RequireAndVerifyClientCert"]
) | st.text(max_size=10)  # fmt: skip
_documents = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4)
)


@settings(max_examples=400, deadline=None)
@given(_documents)
def test_any_document_parses_or_fails_with_a_web_config_error(data: Any) -> None:
    try:
        parse_web_config(data)
    except WebConfigError as err:
        assert str(err)

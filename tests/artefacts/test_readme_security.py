"""The README's Security and Operations sections agree with the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import bcrypt
import yaml

from exporter.daemon.labels import hash_user
from exporter.sources.base import REASONS
from exporter.web.webconfig import parse_web_config

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def test_the_example_web_config_is_valid() -> None:
    block = re.search(r"```yaml\n(.*?)```", section("Security"), re.S)
    assert block is not None
    config = parse_web_config(yaml.safe_load(block.group(1)), base_dir=Path("/etc/exporter"))
    assert config.tls is not None
    assert config.tls.client_auth_type == "RequireAndVerifyClientCert"
    assert bcrypt.checkpw(b"example-password", config.users["prometheus"])
    assert set(config.headers) == {
        "Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
    }  # fmt: skip


def test_the_openssl_lookup_command_gives_the_label() -> None:
    command = re.search(r"`(printf %s alice \| openssl[^`]*)`", section("Security"))
    assert command is not None
    key = "0123456789abcdef-test-key"
    out = subprocess.run(
        ["bash", "-c", command.group(1)], env={"KEY": key, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == hash_user(key.encode(), "alice")


def test_every_failure_reason_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", section("Operations"),
                                re.M))  # fmt: skip
    names = {n for pair in documented for n in pair if n}
    assert names == set(REASONS)

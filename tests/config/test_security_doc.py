"""docs/security.md agrees with the code: the tests it cites exist, the limits it states
are the constants' values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter.config import model, safe_yaml
from exporter.config.errors import EXCERPT_CHARS
from exporter.config.flags import MAX_DURATION
from exporter.web import access, basic_auth, webconfig

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")


def cited_tests() -> list[tuple[str, str]]:
    """(file, test) for each ``tests/...py::name``, and each bare ``test_...`` after it
    in the same table cell or paragraph, which names a test of that file."""
    out = []
    for cell in re.split(r"\n\s*\n|\|", DOC):
        current = None
        for m in re.finditer(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`(test_\w+)`", cell):
            if m[1]:
                current = m[1]
                if m[2]:
                    out.append((current, m[2]))
            elif current is not None:
                out.append((current, m[3]))
    return out


@pytest.mark.parametrize(("path", "name"), cited_tests())
def test_every_cited_test_exists(path: str, name: str) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    assert re.search(rf"^def {name}\(", source, re.M), f"{path}::{name} not found"


def test_the_cited_test_files_exist() -> None:
    for path in set(re.findall(r"`(tests/[\w/]+\.py)", DOC)):
        assert (ROOT / path).is_file(), path
    assert len(cited_tests()) > 20


@pytest.mark.parametrize(
    "text",
    [f"{model.MAX_FILE_BYTES >> 20} MiB (`exporter.config.model.MAX_FILE_BYTES`)",
     f"{safe_yaml.MAX_VALUES:,} (`exporter.config.safe_yaml.MAX_VALUES`)",
     f"| {safe_yaml.MAX_DEPTH} (`MAX_DEPTH`)",
     f"{safe_yaml.MAX_INT_CHARS} characters (`MAX_INT_CHARS`)",
     f"at most {EXCERPT_CHARS} characters",
     f"1s to {MAX_DURATION.days}d",
     f"{webconfig.MAX_FILE_BYTES >> 20} MiB (`exporter.web.webconfig.MAX_FILE_BYTES`)",
     f"{basic_auth.CACHE_SIZE} verdicts (`exporter.web.basic_auth.CACHE_SIZE`)",
     f"{basic_auth.QUEUE_TIMEOUT:g} s (`QUEUE_TIMEOUT`)"],
)  # fmt: skip
def test_the_stated_limits_are_the_constants(text: str) -> None:
    assert text in DOC
    assert access.CHECK_INTERVAL == 1.0 and "once per second" in DOC

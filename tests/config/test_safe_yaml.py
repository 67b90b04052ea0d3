"""The YAML loader of the config and web config files: hostile documents are one-line errors."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from exporter.config import ConfigError, load_config
from exporter.config.errors import EXCERPT_CHARS
from exporter.config.safe_yaml import MAX_DEPTH, MAX_VALUES, YAMLSyntaxError, load_yaml
from tests.config.hostile import alias_bomb


def one_line_error(text: str) -> str:
    start = time.monotonic()
    with pytest.raises(ConfigError) as err:
        load_yaml(text)
    assert time.monotonic() - start < 10  # bounded work; a bomb used to run for 40 s
    message = str(err.value)
    assert "\n" not in message and len(message) < 400, message[:400]
    return message


def test_plain_documents_load_as_with_safe_load() -> None:
    text = "a: 1\nb: [x, 'y', 2.5, true, null]\nc: {d: 2027-01-31}\nmerge: &m {k: v}\nuse: *m\n"
    assert load_yaml(text) == {
        "a": 1, "b": ["x", "y", 2.5, True, None], "c": {"d": date(2027, 1, 31)},
        "merge": {"k": "v"}, "use": {"k": "v"},
    }  # fmt: skip
    assert load_yaml("") is None
    assert load_yaml("# only a comment\n") is None


def test_an_alias_bomb_is_refused_quickly_naming_the_key() -> None:
    bomb = alias_bomb()
    assert len(bomb) < 423
    message = one_line_error(bomb)
    assert message.startswith("flags.log.level[")
    assert f"more than {MAX_VALUES} values" in message and "line 2" in message


def test_a_few_aliases_are_fine() -> None:
    assert load_yaml(alias_bomb(levels=3))["flags"]["log.level"][2][0][0][0] == "lol"


def test_a_recursive_alias_is_refused() -> None:
    message = one_line_error("flags:\n  log.level: &a [x, *a]\n")
    assert message.startswith("flags.log.level[1]: ") and "contains it" in message


@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_deep_nesting_is_refused_before_it_can_exhaust_the_stack(opener: str) -> None:
    message = one_line_error("checks: " + opener * 20_000)
    assert f"nested deeper than {MAX_DEPTH} levels" in message
    assert message.startswith("checks")


def test_nesting_up_to_the_limit_loads() -> None:
    text = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert load_yaml(f"k: {text}") is not None


@pytest.mark.parametrize(
    ("text", "start", "lines"),
    [("checks: {}\nflags: {}\nchecks: {}\n", "checks: duplicate key", "lines 1 and 3"),
     ("flags:\n  log.level: info\n  log.level: debug\n", "flags.log.level: duplicate", "2 and 3"),
     ("exemptions:\n  - user: a\n    user: b\n", "exemptions[0].user: duplicate", "2 and 3"),
     ("a: {'x': 1, \"x\": 2}\n", "a.x: duplicate key", "lines 1 and 1")],
)  # fmt: skip
def test_duplicate_keys_are_refused_naming_the_key_and_both_lines(
    text: str, start: str, lines: str
) -> None:
    message = one_line_error(text)
    assert message.startswith(start) and lines in message


def test_merge_keys_may_be_overridden_without_a_duplicate_error() -> None:
    assert load_yaml("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")["use"] == {"x": 1, "y": 3}


def test_an_impossible_date_stays_a_string_for_the_validation_to_name() -> None:
    assert load_yaml("expires: 2027-02-30\n") == {"expires": "2027-02-30"}
    assert load_yaml("t: 2027-01-31 25:00:00\n") == {"t": "2027-01-31 25:00:00"}


@pytest.mark.parametrize("digits", ["9" * 5000, "1:" * 5000 + "1"])
def test_an_enormous_integer_is_refused_naming_the_key(digits: str) -> None:
    message = one_line_error(f"flags:\n  refresh.workers: {digits}\n")
    assert message.startswith("flags.refresh.workers: ") and "too long" in message


def test_syntax_errors_are_one_line_with_the_position() -> None:
    with pytest.raises(YAMLSyntaxError) as err:
        load_yaml("a: [unclosed\n")
    assert "line 2" in str(err.value) and "\n" not in str(err.value)
    long_alias = one_line_error("a: *" + "x" * 10_000 + "\n")
    assert "x" * (EXCERPT_CHARS + 1) not in long_alias


def test_load_config_refuses_each_hostile_document_naming_the_file_and_key(
    tmp_path: Path,
) -> None:
    cases = {
        "bomb.yml": (alias_bomb(), "flags.log.level["),
        "deep.yml": ("[" * 20_000, "nested deeper than"),
        "dup.yml": ("checks: {}\nchecks: {}\n", "checks: duplicate key"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert str(err.value).startswith(f"config file {path}: ") and expected in str(err.value)


def test_a_config_file_beyond_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    from exporter.config.model import MAX_FILE_BYTES

    path = tmp_path / "big.yml"
    path.write_text("# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match=f"config file {path} is larger than {MAX_FILE_BYTES}"):
        load_config(path)

"""--labels.owner-tag: repeatable, in order, from the file or the command line."""

from __future__ import annotations

import pytest

from exporter.cli.main import build_parser
from exporter.cli.serve import resolve_flags
from exporter.config import ConfigError, config_from_dict
from exporter.config.settings import Settings


def resolved(argv: list[str], flags: dict[str, object] | None = None) -> Settings:
    args = build_parser().parse_args(["serve", *argv])
    return resolve_flags(args, config_from_dict({"flags": flags or {}}))


def test_off_by_default() -> None:
    assert resolved([]).labels_owner_tag == ()


def test_repeatable_in_the_order_given() -> None:
    argv = ["--labels.owner-tag", "team", "--labels.owner-tag", "owner"]
    assert resolved(argv).labels_owner_tag == ("team", "owner")


def test_from_the_config_file_a_string_or_a_list() -> None:
    assert resolved([], {"labels.owner-tag": "team"}).labels_owner_tag == ("team",)
    listed = resolved([], {"labels.owner-tag": ["team", "aws:cloudformation:stack-name"]})
    assert listed.labels_owner_tag == ("team", "aws:cloudformation:stack-name")


def test_the_command_line_replaces_the_file() -> None:
    flags = {"labels.owner-tag": ["team", "owner"]}
    assert resolved(["--labels.owner-tag", "squad"], flags).labels_owner_tag == ("squad",)


@pytest.mark.parametrize("bad", ["", "team#1", "x" * 129, "a\nb"])
def test_a_key_iam_could_not_hold_is_refused_in_one_line(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolved([], {"labels.owner-tag": [bad]})
    message = str(err.value)
    assert message.startswith("flags.labels.owner-tag: not an IAM tag key")
    assert "\n" not in message


def test_a_bad_key_on_the_command_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", "--labels.owner-tag", "a#b"])
    assert exit_.value.code == 2
    assert "argument --labels.owner-tag: not an IAM tag key: 'a#b'" in capsys.readouterr().err

"""What README.md and CONTRIBUTING.md say about the checks and the configuration file is
what the code does: every count of checks is read from the catalogue, and a missing
``--config`` file is the error the README quotes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from exporter.core.checks import CATALOGUE

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = {
    name: (REPO / name).read_text(encoding="utf-8") for name in ("README.md", "CONTRIBUTING.md")
}
# Scopes whose checks read the credential report; "role" and "account" read other calls.
REPORT_SCOPES = {"root", "user", "any"}
_COUNT = re.compile(r"\b(\d+) (?:\S+ ){0,2}?checks?\b")


def report_checks() -> list[str]:
    return [spec.id for spec in CATALOGUE if spec.scope in REPORT_SCOPES]


def counted_phrases() -> set[str]:
    """The only ways the documents may count checks, with the catalogue's numbers."""
    total, report = len(CATALOGUE), len(report_checks())
    return {
        f"{total} checks: {report} of them read the credential report",
        f"evaluating the {report} checks that read it",
    }


def flat(text: str) -> str:
    return " ".join(text.split())


def test_every_count_of_checks_is_the_catalogues() -> None:
    phrases = counted_phrases()
    stated = 0
    for name, raw in DOCUMENTS.items():
        text = flat(raw)
        for match in _COUNT.finditer(text):
            around = text[max(0, match.start() - 40) : match.end() + 60]
            assert any(p in around for p in phrases), f"{name}: uncounted {match.group(0)!r}"
            stated += 1
    assert stated >= 2  # the README's summary and the benchmark figure
    readme = flat(DOCUMENTS["README.md"])
    assert f"{len(CATALOGUE)} checks: {len(report_checks())} of them read" in readme


def test_the_checks_that_do_not_read_the_report_are_named() -> None:
    """The README names the checks outside the report's count: they are all of them."""
    others = [spec for spec in CATALOGUE if spec.scope not in REPORT_SCOPES]
    readme = flat(DOCUMENTS["README.md"])
    start = readme.index(f"{len(CATALOGUE)} checks:")
    sentence = readme[start : readme.index(". ", start)]
    assert sorted(re.findall(r"`([a-z0-9_]+)`", sentence)) == sorted(s.id for s in others)


def test_a_stale_count_is_caught() -> None:
    text = "It evaluates 13 checks on every report."
    match = _COUNT.search(text)
    assert match is not None
    assert not any(p in text for p in counted_phrases())


def test_the_seed_checks_named_are_checks_of_the_catalogue() -> None:
    readme = flat(DOCUMENTS["README.md"])
    start = readme.index("The seven checks of the article")
    seed = re.findall(r"`([a-z0-9_]+)`", readme[start : readme.index(")", start)])
    assert len(seed) == 7
    assert set(seed) <= {spec.id for spec in CATALOGUE}


def test_a_missing_config_file_is_the_error_the_readme_quotes(tmp_path: Path) -> None:
    readme = flat(DOCUMENTS["README.md"])
    section = readme[readme.index("## Configuration ") : readme.index("## Running the exporter")]
    assert "is an error, not the defaults" in section
    quoted = re.search(
        r"`(iam-credential-exporter: error: cannot read config file c\.yaml: [^`]+)`", section
    )
    assert quoted is not None
    for command in ("audit", "serve"):
        out = subprocess.run(
            [sys.executable, "-m", "exporter", command, "--config", "c.yaml"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert out.returncode == 2, command
        assert out.stderr.strip() == quoted.group(1), command


def test_an_empty_config_file_means_the_defaults(tmp_path: Path) -> None:
    """The README says so; an empty file parses to the default configuration."""
    from exporter.config import Config, load_config

    assert "An empty file means the defaults." in flat(DOCUMENTS["README.md"])
    empty = tmp_path / "c.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_config(empty) == Config()

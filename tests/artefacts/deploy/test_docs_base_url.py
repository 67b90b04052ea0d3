"""One configurable address for the documentation: deploy/generator.yaml's docs_base_url.

The generator builds every runbook_url from it (rule files, the promtool unit tests that
expect those annotations, the PrometheusRule and the chart's rule files); grafana/build.py
builds the dashboards' documentation links from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.artefacts.deploy.k8s import generator
from tests.artefacts.deploy.paths import REPO

CONFIG = REPO / "deploy" / "generator.yaml"
ELSEWHERE = "https://docs.example.org/iam-exporter/v2"


def configured_base() -> str:
    return str(yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["docs_base_url"]).rstrip("/")


def repointed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str) -> Any:
    """The generator reading a copy of the config with another base URL."""
    config = tmp_path / "generator.yaml"
    config.write_text(f"docs_base_url: {base}/\n", encoding="utf-8")
    gen = generator()
    monkeypatch.setattr(gen, "GENERATOR_CONFIG", config)
    return gen


def test_the_base_url_is_written_in_the_config_only() -> None:
    base = configured_base()
    assert base.startswith("https://")
    sources = [
        *(REPO / "deploy" / "prometheus" / "rules").glob("*.yml"),
        REPO / "grafana" / "build.py",
        REPO / "deploy" / "kubernetes" / "generate.py",
    ]
    for path in sources:
        assert base not in path.read_text(encoding="utf-8").replace(f"runbook_url: {base}", ""), (
            f"{path} writes the base URL itself"
        )


def test_every_output_follows_a_new_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = repointed(tmp_path, monkeypatch, ELSEWHERE)
    old = configured_base()
    out = gen.outputs()
    carrying = {
        path.relative_to(REPO).as_posix()
        for path, text in out.items()
        if f"{ELSEWHERE}/runbook.md#" in text
    }
    assert carrying >= {
        "deploy/prometheus/rules/aws-iam-alerts.rules.yml",
        "deploy/kubernetes/base/generated/prometheusrule.yaml",
        "deploy/helm/iam-credential-exporter/files/rules/aws-iam-alerts.yaml",
        "tests/artefacts/rules/unit/credentials.test.yml",
        "tests/artefacts/rules/unit/exporter.test.yml",
        "tests/artefacts/rules/unit/exemptions.test.yml",
    }
    for path, text in out.items():
        # The dashboards' links are grafana/build.py's (tests/artefacts/rules/test_dashboards.py).
        if path.suffix != ".json" and path != gen.DASHBOARDS_FILE:
            assert f"{old}/runbook.md" not in text, path
    alerts = yaml.safe_load(out[gen.RULES_DIR / "aws-iam-alerts.rules.yml"])
    for group in alerts["groups"]:
        for rule in group["rules"]:
            url = rule["annotations"]["runbook_url"]
            assert url == f"{ELSEWHERE}/runbook.md#{rule['alert'].lower()}"


def test_a_new_alert_gets_its_runbook_url_filled_in() -> None:
    gen = generator()
    text = (
        "groups:\n  - name: g\n    rules:\n      - alert: AwsIamSomethingNew\n"
        "        expr: vector(1)\n        annotations:\n          summary: s  # kept\n"
        "          runbook_url: TODO\n"
    )
    out = gen.with_runbook_urls(text, ELSEWHERE)
    assert out == text.replace("TODO", f"{ELSEWHERE}/runbook.md#awsiamsomethingnew")
    # promtool unit tests name the alert with alertname:
    case = "      - alertname: AwsIamX\n        exp_annotations:\n          runbook_url: x\n"
    assert gen.with_runbook_urls(case, ELSEWHERE).endswith("/runbook.md#awsiamx\n")


def test_check_mode_reports_a_rule_file_behind_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = repointed(tmp_path, monkeypatch, ELSEWHERE)
    assert gen.main(["--check"]) == 1  # the committed rule files carry the configured base


@pytest.mark.parametrize("bad", ["docs_base_url: ''\n", "other: 1\n", "docs_base_url: ftp://x\n"])
def test_a_bad_config_is_one_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    config = tmp_path / "generator.yaml"
    config.write_text(bad, encoding="utf-8")
    gen = generator()
    monkeypatch.setattr(gen, "GENERATOR_CONFIG", config)
    with pytest.raises(SystemExit, match="docs_base_url must be an http"):
        gen.docs_base_url()


def test_the_landing_page_links_to_the_configured_docs() -> None:
    """The exporter cannot read deploy/generator.yaml at run time (it is not installed with
    the package), so the landing page carries a copy of the base: held equal here."""
    from exporter.daemon.doc_links import DOCS_BASE_URL

    assert DOCS_BASE_URL.rstrip("/") == configured_base(), (
        "exporter/daemon/doc_links.py's DOCS_BASE_URL differs from deploy/generator.yaml"
    )

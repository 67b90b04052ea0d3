"""tests/support/prometheus.py itself: it starts, answers queries, reports a broken
rule file clearly, and leaves no process or data dir behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.prometheus import PrometheusError, prometheus

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running either; Popen.wait() reaps it, so this is rare.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_starts_queries_and_cleans_up() -> None:
    with prometheus([]) as prom:
        assert prom.query("1 + 1")[0]["value"][1] == "2"
        assert prom.query_values('label_replace(vector(5), "a", "b", "", "")') == {
            (("a", "b"),): 5.0
        }
        with pytest.raises(PrometheusError, match="bad_data"):
            prom.query("sum(")
        pid, data_dir = prom.pid, prom.log_path.parent
        assert _alive(pid) and data_dir.is_dir()
    assert not _alive(pid)
    assert not data_dir.exists()


def test_a_broken_rule_file_fails_fast_with_the_log(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rules.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(\n")
    with (
        pytest.raises(
            RuntimeError, match=r"(?s)exited with 1.*bad\.rules\.yml.*unclosed left parenthesis"
        ),
        prometheus([], [bad]),
    ):
        pass

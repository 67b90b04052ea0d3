"""A real Prometheus server for tests.

``prometheus(targets, rule_files)`` starts ``/usr/bin/prometheus`` on a free
loopback port with a temporary data dir and a generated configuration that
scrapes the targets and loads the rule files, waits until it is ready, yields a
``PrometheusServer`` with query helpers over the HTTP API, and stops it (then
removes the data dir) on exit. Scrape and evaluation intervals default to one
second so that recording rules and alerts settle within seconds.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.support.net import free_port
from tests.support.processes import stop, wait_ready

PROMETHEUS_BINARY = "/usr/bin/prometheus"
DEFAULT_JOB = "aws-iam-credential-exporter"

T = TypeVar("T")


class PrometheusError(RuntimeError):
    """The API answered with an error (bad query, bad parameter) or not at all."""


class PrometheusServer:
    def __init__(self, url: str, log_path: Path) -> None:
        self.url = url
        self.log_path = log_path
        self.pid = 0  # of the prometheus process, once started

    def api(self, path: str, **params: str | Sequence[str]) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``; raise PrometheusError on error."""
        query = urllib.parse.urlencode(params, doseq=True)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as err:
            # 400/422 carry a JSON error body that names the problem in the query.
            body = json.load(err)
        except OSError as err:
            raise PrometheusError(f"{url}: {err}") from err
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate ``expr`` now. Vectors come back as is; a scalar or string as one
        unlabelled sample, so every result is a list of ``{"metric", "value"}``."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        if data["resultType"] == "matrix":
            return [{"metric": s["metric"], "value": s["values"][-1]} for s in data["result"]]
        return list(data["result"])

    def query_values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """``{sorted label items: value}`` for an instant query."""
        return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in self.query(expr)}

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.api("alerts")["alerts"])

    def alert_states(self) -> dict[str, set[str]]:
        """``{alertname: {states}}`` for every active (pending or firing) alert."""
        states: dict[str, set[str]] = {}
        for alert in self.alerts():
            states.setdefault(alert["labels"]["alertname"], set()).add(alert["state"])
        return states

    def wait_for_alerts(
        self, names: set[str], state: str = "firing", timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        """Wait until every alert in ``names`` is in ``state``; return the alerts in
        that state (all of them, not only ``names``)."""

        def check() -> list[dict[str, Any]] | None:
            active = [a for a in self.alerts() if a["state"] == state]
            return active if names <= {a["labels"]["alertname"] for a in active} else None

        return self.wait_until(check, f"{sorted(names)} {state}", timeout)

    def rule_groups(self) -> list[dict[str, Any]]:
        return list(self.api("rules")["groups"])

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        params = {"match[]": [match]} if match else {}
        return list(self.api(f"label/{label}/values", **params))

    def targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets")["activeTargets"])

    def wait_until(self, check: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
        """Call ``check`` until it returns something truthy and return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"Prometheus: {what} not reached in {timeout}s")
            time.sleep(0.25)

    def wait_for_data(self, expr: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        return self.wait_until(lambda: self.query(expr), f"data for {expr!r}", timeout)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def scrape_config(
    targets: Sequence[str],
    rule_files: Sequence[Path | str],
    *,
    job: str = DEFAULT_JOB,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    metrics_path: str = "/metrics",
    alertmanagers: Sequence[str] = (),
) -> dict[str, Any]:
    """The prometheus.yml the helper generates: one job, static targets, and the
    Alertmanagers (``host:port``) to send alerts to, if any."""
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "rule_files": [str(Path(p).resolve()) for p in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": metrics_path,
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }
    if alertmanagers:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]
        }
    return config


@contextmanager
def prometheus(
    targets: Sequence[str],
    rule_files: Sequence[Path | str] = (),
    *,
    job: str = DEFAULT_JOB,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    metrics_path: str = "/metrics",
    alertmanagers: Sequence[str] = (),
    binary: str = PROMETHEUS_BINARY,
    ready_timeout: float = 60.0,
) -> Iterator[PrometheusServer]:
    """Run a real Prometheus scraping ``targets`` (``host:port``) with ``rule_files``."""
    with tempfile.TemporaryDirectory(prefix="prometheus-test-") as tmp:
        root = Path(tmp)
        config_path = root / "prometheus.yml"
        config = scrape_config(
            targets,
            rule_files,
            job=job,
            scrape_interval=scrape_interval,
            evaluation_interval=evaluation_interval,
            metrics_path=metrics_path,
            alertmanagers=alertmanagers,
        )
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        log_path = root / "prometheus.log"
        server = PrometheusServer(f"http://127.0.0.1:{port}", log_path)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
            )
            server.pid = proc.pid
            try:
                url = f"{server.url}/-/ready"
                wait_ready(proc, url, "Prometheus", server.log_tail, ready_timeout)
                yield server
            finally:
                stop(proc)

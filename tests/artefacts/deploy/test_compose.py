"""deploy/compose/: the local stack (exporter --demo, Prometheus, Alertmanager, Grafana).

No Docker engine runs here, so: the compose file is validated against the Compose
Specification schema (vendored, tests/artefacts/deploy/schemas/), every mount, port and path is
cross-checked against the repository and the exporter's flags, the mounted Prometheus and
Alertmanager configurations pass promtool and amtool with container paths mapped back to
the repository, and the real exporter and Prometheus run that Prometheus configuration on
loopback until the demo alerts fire.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from exporter import __version__
from exporter.cli.main import build_parser
from exporter.cli.serve import resolve_flags
from exporter.config import Config
from exporter.config.settings import DEFAULT_PORT
from tests.artefacts.deploy.compose import COMPOSE_FILE, flag, load, mounts, to_host
from tests.artefacts.deploy.dockerfile import instructions
from tests.artefacts.deploy.paths import COMPOSE, REPO, SCHEMAS, run_tool, tool
from tests.support.exporter_process import exporter_process
from tests.support.net import free_port
from tests.support.processes import stop, wait_ready
from tests.support.prometheus import PrometheusServer

SCHEMA = SCHEMAS / "compose-spec.json"
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml"
PROMETHEUS_PORT, ALERTMANAGER_PORT, GRAFANA_PORT = 9090, 9093, 3000
EXPORTER = "aws-iam-credential-exporter"  # the compose service, and its scrape job


def service(name: str) -> dict[str, Any]:
    return dict(load()["services"][name])


def prometheus_config() -> dict[str, Any]:
    prom = service("prometheus")
    assert flag(prom["command"], "config.file") == PROMETHEUS_CONFIG
    return dict(yaml.safe_load(to_host(prom, PROMETHEUS_CONFIG).read_text(encoding="utf-8")))


def rule_files_in_container(config: dict[str, Any]) -> list[str]:
    """rule_files entries as absolute container paths (relative ones follow the config)."""
    config_dir = Path(PROMETHEUS_CONFIG).parent
    return [str(config_dir / p) for p in config["rule_files"]]


def scrape_targets(config: dict[str, Any], job: str) -> list[str]:
    (scrape,) = [s for s in config["scrape_configs"] if s["job_name"] == job]
    return [t for sc in scrape["static_configs"] for t in sc["targets"]]


def published(name: str) -> dict[int, str]:
    """{container port: host binding} of a service."""
    out = {}
    for spec in service(name).get("ports", []):
        host_ip, host_port, container_port = spec.split(":")
        out[int(container_port)] = f"{host_ip}:{host_port}"
    return out


# --- schema ---------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = run_tool("check-jsonschema", "--schemafile", str(SCHEMA), str(COMPOSE_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_rejects_a_misspelt_key() -> None:
    """The check above can fail: an unknown service key is an error."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    bad = copy.deepcopy(load())
    bad["services"][EXPORTER]["read_only_root"] = True
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


# --- cross-checks with the repository -------------------------------------------------------


def test_bind_mounts_exist_and_are_read_only() -> None:
    for name, svc in load()["services"].items():
        for m in mounts(svc):
            if not m.is_bind:
                assert m.source in load()["volumes"], f"{name}: undeclared volume {m.source}"
                continue
            assert m.host.exists(), f"{name}: {m.source} does not exist"
            assert m.host.is_relative_to(REPO), f"{name}: {m.source} is outside the repository"
            assert m.read_only, f"{name}: {m.source} should be mounted :ro"
            if m.host.is_file():  # a file keeps its name: no mix-up of two configs
                assert m.host.name == Path(m.target).name, f"{name}: {m.source} -> {m.target}"


def test_ports_are_published_on_loopback_only() -> None:
    for name in load()["services"]:
        for binding in published(name).values():
            assert binding.startswith("127.0.0.1:"), f"{name}: {binding}"
    assert published(EXPORTER) == {DEFAULT_PORT: f"127.0.0.1:{DEFAULT_PORT}"}
    assert PROMETHEUS_PORT in published("prometheus")
    assert ALERTMANAGER_PORT in published("alertmanager")
    assert GRAFANA_PORT in published("grafana")


def test_exporter_service_builds_the_image_and_runs_the_demo() -> None:
    exporter = service(EXPORTER)
    context = (COMPOSE / exporter["build"]["context"]).resolve()
    assert context == REPO
    assert (context / exporter["build"]["dockerfile"]).is_file()
    assert exporter["image"] == f"aws-iam-credential-exporter:{__version__}"
    args = build_parser().parse_args(exporter["command"])
    flags = resolve_flags(args, Config())
    assert flags.demo is True
    assert flags.web_listen_address == f":{DEFAULT_PORT}"
    # The state volume is the image's VOLUME, and the hardening matches Kubernetes'.
    volume = next(i for i in instructions(REPO / "Dockerfile") if i.keyword == "VOLUME")
    (state,) = json.loads(volume.rest)
    assert flags.state_dir == state
    assert [m.target for m in mounts(exporter)] == [state]
    assert exporter["read_only"] is True
    assert exporter["user"] == "65534:65534"
    assert exporter["cap_drop"] == ["ALL"]


def test_prometheus_uses_the_projects_example_configuration() -> None:
    """One Prometheus configuration: the example in deploy/prometheus/, mounted unchanged."""
    assert to_host(service("prometheus"), PROMETHEUS_CONFIG) == (
        REPO / "deploy" / "prometheus" / "prometheus.yml"
    )


def test_prometheus_scrapes_the_services_of_the_stack() -> None:
    config = prometheus_config()
    assert scrape_targets(config, EXPORTER) == [f"{EXPORTER}:{DEFAULT_PORT}"]
    (alerting,) = config["alerting"]["alertmanagers"]
    assert alerting["static_configs"][0]["targets"] == [f"alertmanager:{ALERTMANAGER_PORT}"]
    assert {EXPORTER, "alertmanager"} <= set(load()["services"])


def test_prometheus_loads_exactly_the_project_rule_files() -> None:
    prom = service("prometheus")
    loaded: set[Path] = set()
    for pattern in rule_files_in_container(prometheus_config()):
        host = to_host(prom, pattern)
        loaded.update(host.parent.glob(host.name))
    expected = set((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
    assert expected and loaded == expected


def mapped_prometheus_config(tmp_path: Path) -> Path:
    config = prometheus_config()
    prom = service("prometheus")
    config["rule_files"] = [str(to_host(prom, p)) for p in rule_files_in_container(config)]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    result = run_tool("promtool", "check", "config", str(mapped_prometheus_config(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    count = len(list((REPO / "deploy" / "prometheus" / "rules").glob("*.yml")))
    assert f"SUCCESS: {count} rule files found" in result.stdout


def alertmanager_files(config: Any) -> list[str]:
    """Every *_file path in the Alertmanager configuration (secrets read at run time)."""
    if isinstance(config, dict):
        found = [v for k, v in config.items() if k.endswith("_file") and isinstance(v, str)]
        return found + [f for v in config.values() for f in alertmanager_files(v)]
    if isinstance(config, list):
        return [f for v in config for f in alertmanager_files(v)]
    return []


def test_alertmanager_config_passes_amtool_with_its_mounts(tmp_path: Path) -> None:
    am = service("alertmanager")
    assert flag(am["command"], "config.file") == ALERTMANAGER_CONFIG
    source = to_host(am, ALERTMANAGER_CONFIG)
    assert source == REPO / "deploy" / "alertmanager" / "alertmanager.yml"
    text = source.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    # Relative template globs resolve against the config file's directory in the container.
    config_dir = str(Path(ALERTMANAGER_CONFIG).parent)
    config["templates"] = [str(to_host(am, f"{config_dir}/{t}")) for t in config["templates"]]
    assert all(list(Path(t).parent.glob(Path(t).name)) for t in config["templates"])
    for secret in alertmanager_files(config):
        host = to_host(am, secret)
        assert host.is_file(), f"{secret} is not mounted from an existing file"
        text = yaml.safe_dump(config).replace(secret, str(host))
        config = yaml.safe_load(text)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = run_tool("amtool", "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisioning_points_at_the_stack() -> None:
    grafana = service("grafana")
    provisioning = to_host(grafana, "/etc/grafana/provisioning")
    assert provisioning == REPO / "grafana" / "provisioning"
    datasources = [
        d
        for f in sorted((provisioning / "datasources").glob("*.y*ml"))
        for d in yaml.safe_load(f.read_text(encoding="utf-8"))["datasources"]
    ]
    (prometheus,) = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus["url"] == f"http://prometheus:{PROMETHEUS_PORT}"
    interval = prometheus_config()["global"]["scrape_interval"]
    assert prometheus["jsonData"]["timeInterval"] == interval
    providers = [
        p
        for f in sorted((provisioning / "dashboards").glob("*.y*ml"))
        for p in yaml.safe_load(f.read_text(encoding="utf-8"))["providers"]
    ]
    assert providers
    for provider in providers:
        folder = to_host(grafana, provider["options"]["path"])
        assert folder == REPO / "grafana" / "dashboards"
        assert list(folder.glob("*.json"))
    home = to_host(grafana, grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home.is_file() and json.loads(home.read_text(encoding="utf-8"))["uid"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"


# --- the stack, run on loopback -------------------------------------------------------------


@pytest.mark.slow
def test_stack_prometheus_config_scrapes_the_demo_and_fires_alerts(tmp_path: Path) -> None:
    """The compose Prometheus configuration, with service names replaced by loopback
    addresses, intervals shortened to 1s and no Alertmanager, runs the real Prometheus
    against the real exporter in --demo mode: the demo's alerts fire with no clicks."""
    command = [a for a in service(EXPORTER)["command"] if not a.startswith("--state.dir")]
    assert command[0] == "serve"
    state = tmp_path / "state"
    with exporter_process(*command[1:], f"--state.dir={state}") as exp:
        config = yaml.safe_load(mapped_prometheus_config(tmp_path).read_text())
        config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
        del config["alerting"]
        port = free_port()
        config["scrape_configs"] = [
            {"job_name": EXPORTER, "static_configs": [{"targets": [f"127.0.0.1:{exp.port}"]}]}
        ]
        path = tmp_path / "prometheus.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        log = (tmp_path / "prometheus.log").open("wb")
        proc = subprocess.Popen(
            [tool("prometheus"), f"--config.file={path}",
             f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
        server = PrometheusServer(f"http://127.0.0.1:{port}", tmp_path / "prometheus.log")
        try:
            wait_ready(proc, f"{server.url}/-/ready", "Prometheus", server.log_tail, 60)
            server.wait_for_data(f'up{{job="{EXPORTER}"}} == 1')

            # Accounts are published as they are ready: the first scrape may hold only
            # one account's findings, so wait for both severities, not for any alert.
            def severities() -> set[str]:
                alerts = server.query('ALERTS{alertstate="firing", category="credentials"}')
                found = {a["metric"]["severity"] for a in alerts}
                return found if found >= {"critical", "high"} else set()

            firing = server.wait_until(severities, "firing critical and high credential alerts")
            assert firing >= {"critical", "high"}
            groups = server.rule_groups()
            assert groups
            for group in groups:
                for rule in group["rules"]:
                    assert rule["health"] != "err", rule
        finally:
            stop(proc)
            log.close()

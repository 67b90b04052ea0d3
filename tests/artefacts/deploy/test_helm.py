"""The Helm chart in deploy/helm/iam-credential-exporter.

Linted and rendered by Helm itself (PyPI helm-python-sdk, see tests/artefacts/deploy/helm.py),
with its default values and with each feature switched on; every rendered object validated
with kubernetes-validate (strict) or, for the Prometheus Operator kinds, with the vendored
CRD schemas; the rules and dashboards checked against their sources and against the
kustomize build; the container args parsed by the exporter's own parser.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import bcrypt
import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml

from exporter import __version__
from exporter.config import load_config
from exporter.config.settings import DEFAULT_PORT
from exporter.web.access import WebAccess
from exporter.web.webconfig import parse_web_config
from tests.artefacts.deploy.crds import CRD_SCHEMAS, crd_validator
from tests.artefacts.deploy.helm import (
    CHART,
    NAMESPACE,
    NOTES,
    RELEASE,
    lint,
    lint_problems,
    render,
    render_files,
)
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
from tests.artefacts.deploy.paths import AWS, REPO, run_generator, run_tool

CORE_KINDS = {
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "Service",
    "Deployment",
    "StatefulSet",
    "PersistentVolumeClaim",
}
ROLE_ARN = "arn:aws:iam::111122223333:role/iam-credential-exporter-irsa"
TLS_DIR = "/etc/iam-credential-exporter-tls"
# A real bcrypt hash, so the exporter's own web config loader accepts the Secret.
PASSWORD_HASH = bcrypt.hashpw(b"scrape-password", bcrypt.gensalt(rounds=4)).decode()

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "sharded": {"sharding": {"replicas": 3}},
    "irsa": {"serviceAccount": {"roleArn": ROLE_ARN}},
    "web-config": {
        "webConfig": {
            "enabled": True,
            "config": {"basic_auth_users": {"prometheus": PASSWORD_HASH}},
        }
    },
    "web-config-tls": {
        "webConfig": {
            "enabled": True,
            "config": {
                "tls_server_config": {
                    "cert_file": f"{TLS_DIR}/tls.crt",
                    "key_file": f"{TLS_DIR}/tls.key",
                },
                "basic_auth_users": {"prometheus": PASSWORD_HASH},
            },
        },
        "extraVolumes": [{"name": "tls", "secret": {"secretName": "iam-exporter-tls"}}],
        "extraVolumeMounts": [{"name": "tls", "mountPath": TLS_DIR, "readOnly": True}],
        "serviceMonitor": {
            "tlsConfig": {"insecureSkipVerify": True},
            "basicAuth": {
                "username": {"name": "scrape-credentials", "key": "username"},
                "password": {"name": "scrape-credentials", "key": "password"},
            },
        },
    },
    "web-config-existing-secret": {
        "webConfig": {"enabled": True, "existingSecret": "my-web-config", "tls": True}
    },
    "service-monitor": {
        "serviceMonitor": {
            "namespace": "prometheus",
            "additionalLabels": {"release": "prom"},
            "interval": "2m",
            "scrapeTimeout": "1m",
            "relabelings": [{"targetLabel": "cluster", "replacement": "prod"}],
            "metricRelabelings": [
                {"sourceLabels": ["__name__"], "regex": "aws_iam_user_.*", "action": "drop"}
            ],
        }
    },
    "toggles-off": {
        "serviceMonitor": {"enabled": False},
        "prometheusRule": {"enabled": False},
        "dashboards": {"enabled": False},
    },
    "persistence": {"persistence": {"enabled": True, "storageClassName": "gp3", "size": "2Gi"}},
    "sharded-persistence": {
        "sharding": {"replicas": 2},
        "persistence": {"storageClassName": "gp3", "size": "2Gi"},
    },
    "scheduling-and-extras": {
        "image": {
            "repository": "registry.example.com/aws-iam-credential-exporter",
            "digest": "sha256:" + "a" * 64,
        },
        "imagePullSecrets": [{"name": "registry-credentials"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "monitoring"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                            ]
                        }
                    ]
                }
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "x"}},
            }
        ],
        "priorityClassName": "system-cluster-critical",
        "extraArgs": ["--log.level=debug", "--metrics.finding-series"],
        "env": [{"name": "AWS_REGION", "value": "eu-west-1"}],
        "envFrom": [{"secretRef": {"name": "exporter-env"}}],
        "podAnnotations": {"example.com/team": "security"},
        "podLabels": {"team": "security"},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
        },
        "config": {
            "flags": {"refresh.interval": "30m", "labels.user": "hash"},
            "accounts": {
                "list": [
                    {
                        "account_id": "444455556666",
                        "name": "prod",
                        "role_arn": "arn:aws:iam::444455556666:role/iam-credential-exporter",
                    }
                ],
                "ambient": True,
            },
        },
    },
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> tuple[str, Manifests]:
    return request.param, render(VARIANTS[request.param])


@pytest.fixture(scope="module")
def defaults() -> Manifests:
    return render()


@pytest.fixture(scope="module")
def sharded_chart() -> Manifests:
    return render(VARIANTS["sharded"])


def default_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return values


def values_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text("utf-8"))
    return schema


def named(docs: Manifests, kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return found


def pod_spec(docs: Manifests) -> dict[str, Any]:
    spec: dict[str, Any] = workload(docs)["spec"]["template"]["spec"]
    return spec


# --- the chart itself ---------------------------------------------------------------------


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == CHART.name == RELEASE
    assert chart["type"] == "application"
    assert chart["appVersion"] == __version__
    # The pod-index label that sharding reads is set from Kubernetes 1.28 on.
    assert chart["kubeVersion"] == ">=1.28.0-0"
    with helm_python.Chart.load(CHART) as loaded:
        assert loaded.metadata["appVersion"] == __version__
        assert loaded.schema == values_schema()


def test_helm_is_the_embedded_sdk() -> None:
    """The Helm these tests run: Helm v4's Go SDK inside the helm-python-sdk wheel."""
    assert helm_python.helm_sdk_version().startswith("v4.")
    assert Path(helm_python.library_path).is_file()


@pytest.mark.parametrize("name", sorted(VARIANTS))
@pytest.mark.parametrize("kube_version", [f"v{K8S_VERSION}", None])
def test_helm_lint_strict_passes(name: str, kube_version: str | None) -> None:
    report = lint(VARIANTS[name], kube_version=kube_version)
    assert report["total_charts_linted"] == 1
    assert not lint_problems(report)


def test_helm_lint_fails_on_a_broken_template(tmp_path: Path) -> None:
    """The lint check can fail: a template that does not parse is an error."""
    broken = tmp_path / CHART.name
    subprocess.run(["cp", "-r", str(CHART), str(broken)], check=True)
    (broken / "templates" / "service.yaml").write_text("{{ .Values.service.port ", "utf-8")
    report = helm_python.lint(broken, strict=True)
    assert report["errors"]


def test_notes_render(variant: tuple[str, Manifests]) -> None:
    name, _ = variant
    notes = render_files(VARIANTS[name])[NOTES]
    assert f"port-forward service/{RELEASE} {DEFAULT_PORT}:{DEFAULT_PORT}" in notes
    assert "/metrics" in notes


# --- validation of every rendered object --------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_kinds_pass_kubernetes_validate(variant: tuple[str, Manifests], version: str) -> None:
    _, docs = variant
    core = [d for d in docs if d["kind"] not in CRD_SCHEMAS]
    assert {d["kind"] for d in core} >= {"ServiceAccount", "ConfigMap", "Service"}
    for doc in core:
        kubernetes_validate.validate(doc, version, strict=True)


def test_custom_resources_match_their_crd_schema(variant: tuple[str, Manifests]) -> None:
    _, docs = variant
    for doc in docs:
        if doc["kind"] in CRD_SCHEMAS:
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            crd_validator(doc["kind"]).validate(doc)


def test_every_object_is_validated(variant: tuple[str, Manifests]) -> None:
    """No kind slips through both validators unchecked."""
    _, docs = variant
    assert {d["kind"] for d in docs} <= CORE_KINDS | set(CRD_SCHEMAS)


def test_kubernetes_validate_command_line(tmp_path: Path) -> None:
    """The `kubernetes-validate --strict` command on a multi-document rendering, as a user
    would run it on `helm template` output, and it fails on a misspelt field."""
    docs = [d for d in render(VARIANTS["scheduling-and-extras"]) if d["kind"] in CORE_KINDS]
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    bad_docs = copy.deepcopy(docs)
    bad_deployment = one(bad_docs, "Deployment")
    bad_deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(bad_docs), encoding="utf-8")

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return run_tool("kubernetes-validate", "--strict", "-k", K8S_VERSION, str(path))

    result = run(good)
    assert result.returncode == 0, result.stdout + result.stderr
    assert run(bad).returncode != 0


def test_everything_lands_in_the_release_namespace(defaults: Manifests) -> None:
    assert {d["metadata"].get("namespace") for d in defaults} == {NAMESPACE}


def test_namespaces_of_the_monitoring_objects_can_be_set() -> None:
    docs = render(
        {
            "serviceMonitor": {"namespace": "prometheus"},
            "prometheusRule": {"namespace": "prometheus"},
            "dashboards": {"namespace": "grafana"},
        }
    )
    assert one(docs, "ServiceMonitor")["metadata"]["namespace"] == "prometheus"
    # The ServiceMonitor still selects the Service in the release namespace.
    assert one(docs, "ServiceMonitor")["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert {r["metadata"]["namespace"] for r in of_kind(docs, "PrometheusRule")} == {"prometheus"}
    dashboards = [c for c in of_kind(docs, "ConfigMap") if "grafana_dashboard" in labels_of(c)]
    assert dashboards and {c["metadata"]["namespace"] for c in dashboards} == {"grafana"}
    assert one(docs, "Service")["metadata"]["namespace"] == NAMESPACE


def labels_of(doc: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = doc["metadata"].get("labels", {})
    return labels


# --- values.schema.json -------------------------------------------------------------------


def test_values_schema_is_a_valid_draft7_schema() -> None:
    """Draft 7 (if/then/else, const): what Helm 3 and Helm 4 both understand."""
    schema = values_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(default_values())


def test_values_schema_is_strict_where_the_chart_owns_the_keys() -> None:
    """additionalProperties: false on the top level and on every object of the chart's own
    keys; free-form only where Kubernetes' or the exporter's schema applies."""
    schema = values_schema()
    free_form = {
        "config.flags",
        "config.checks",
        "config.accounts",
        "webConfig.config.tls_server_config",
        "webConfig.config.http_server_config",
        "serviceMonitor.tlsConfig",
        "serviceMonitor.basicAuth",
        "podSecurityContext",
        "securityContext",
        "affinity",
    }
    loose = []

    def walk(node: dict[str, Any], where: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            if node.get("additionalProperties") is not False:
                loose.append(where)
            for key, child in node["properties"].items():
                walk(child, f"{where}.{key}".lstrip("."))
        elif (
            node.get("type") == "object"
            and "additionalProperties" not in node
            and where not in free_form
        ):
            loose.append(where)

    walk(schema, "")
    assert not loose
    assert set(schema["properties"]) == set(default_values())


BAD_VALUES: dict[str, dict[str, Any]] = {
    "unknown top-level key": {"replicaCount": 2},
    "misspelt nested key": {"serviceMonitor": {"intervall": "30s"}},
    "shard count zero": {"sharding": {"replicas": 0}},
    "shard count not a number": {"sharding": {"replicas": "three"}},
    "surge during a rollout": {
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    },
    "rolling update without maxSurge 0": {"strategy": {"type": "RollingUpdate"}},
    "unknown strategy": {"strategy": {"type": "BlueGreen"}},
    "not a role ARN": {"serviceAccount": {"roleArn": "iam-credential-exporter-irsa"}},
    "not a duration": {"serviceMonitor": {"interval": "one minute"}},
    "unknown exporter config key": {"config": {"flag": {}}},
    "shard flag in the config file": {"config": {"flags": {"shard.count": 2}}},
    "flag the chart sets, in extraArgs": {"extraArgs": ["--shard.count=2"]},
    "listen address in extraArgs": {"extraArgs": ["--web.listen-address=:9000"]},
    "extraArgs not a flag": {"extraArgs": ["serve"]},
    "unknown web config key": {"webConfig": {"config": {"basic_auth": {}}}},
    "bad pull policy": {"image": {"pullPolicy": "Sometimes"}},
    "bad digest": {"image": {"digest": "latest"}},
    "port out of range": {"service": {"port": 70000}},
    "probe path cannot be changed": {"livenessProbe": {"httpGet": {"path": "/"}}},
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_values_schema_rejects_a_bad_value(name: str) -> None:
    values = BAD_VALUES[name]
    with pytest.raises(helm_python.HelmValuesError):
        render(values)
    assert lint_problems(lint(values)), "helm lint passed"
    # A second implementation of JSON Schema agrees with Helm's.
    with helm_python.Chart.load(CHART) as chart:
        merged = chart.merge_values(values)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(values_schema()).validate(merged)


def test_flags_the_chart_sets_are_refused_as_extra_args(sharded_chart: Manifests) -> None:
    """Every flag in the chart's own args (sharded, with a web config) is one extraArgs
    must not repeat: the exporter would take the last one given."""
    docs = render({**VARIANTS["sharded"], **VARIANTS["web-config"]})
    own = {a.split("=", 1)[0] for a in container(docs)["args"] if a.startswith("--")}
    assert own == {"--config", "--state.dir", "--web.config.file", "--shard.index", "--shard.count"}
    for flag in own:
        with pytest.raises(helm_python.HelmValuesError):
            render({"extraArgs": [f"{flag}=x"]})


# --- generated from the same sources as the kustomize files -------------------------------


def test_chart_files_are_generated_from_the_sources() -> None:
    """files/rules and files/dashboards are exactly what generate.py writes, and nothing else."""
    gen = generator()
    wanted = gen.chart_outputs()
    assert wanted, "no rule files or dashboards found"
    for path, text in wanted.items():
        assert path.is_relative_to(CHART / "files")
        assert path.read_text(encoding="utf-8") == text, f"stale: {path}"
    assert not gen.leftovers(gen.outputs())
    result = run_generator("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generator_removes_chart_files_without_a_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = generator()
    rules, dashboards = tmp_path / "rules", tmp_path / "dashboards"
    monkeypatch.setattr(gen, "CHART_RULES_DIR", rules)
    monkeypatch.setattr(gen, "CHART_DASHBOARDS_DIR", dashboards)
    monkeypatch.setattr(gen, "PROMETHEUS_RULE_FILE", tmp_path / "prometheusrule.yaml")
    monkeypatch.setattr(gen, "DASHBOARDS_FILE", tmp_path / "dashboards.yaml")
    assert gen.main([]) == 0  # writes every output into tmp_path, none in the repo
    assert {p.name for p in rules.iterdir()} == {
        f"{gen.name_part(p)}.yaml" for p in gen.rule_files()
    }
    assert {p.name for p in dashboards.iterdir()} == {p.name for p in gen.dashboard_files()}
    (rules / "removed-rules.yaml").write_text("groups: []\n", encoding="utf-8")
    edited = dashboards / gen.dashboard_files()[0].name
    edited.write_text("{}\n", encoding="utf-8")
    assert gen.main(["--check"]) == 1
    assert (rules / "removed-rules.yaml").exists()  # --check changes nothing
    assert gen.main([]) == 0
    assert not (rules / "removed-rules.yaml").exists()
    assert edited.read_text(encoding="utf-8") == gen.dashboard_files()[0].read_text("utf-8")
    assert gen.main(["--check"]) == 0


def test_prometheus_rules_are_the_rule_files(defaults: Manifests) -> None:
    files = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
    assert files
    rules = of_kind(defaults, "PrometheusRule")
    assert len(rules) == len(files)
    expected = [g for f in files for g in yaml.safe_load(f.read_text(encoding="utf-8"))["groups"]]
    assert [g for rule in rules for g in rule["spec"]["groups"]] == expected


def test_rules_and_dashboards_equal_the_kustomize_build(
    defaults: Manifests, base: Manifests
) -> None:
    """The drift test between the two installs: same names, same rules, same dashboards."""
    for kind in ("PrometheusRule",):
        chart = {d["metadata"]["name"]: d["spec"] for d in of_kind(defaults, kind)}
        kustomize = {d["metadata"]["name"]: d["spec"] for d in of_kind(base, kind)}
        assert chart == kustomize

    def dashboards(docs: Manifests) -> dict[str, Any]:
        return {
            c["metadata"]["name"]: (c["data"], c["metadata"]["annotations"]["grafana_folder"])
            for c in of_kind(docs, "ConfigMap")
            if labels_of(c).get("grafana_dashboard") == "1"
        }

    assert dashboards(defaults) == dashboards(base)
    assert dashboards(defaults)


def test_dashboards_are_the_dashboard_files(defaults: Manifests) -> None:
    files = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
    maps = [c for c in of_kind(defaults, "ConfigMap") if "grafana_dashboard" in labels_of(c)]
    got = {key: text for c in maps for key, text in c["data"].items()}
    assert got == {f.name: f.read_text(encoding="utf-8") for f in files}
    for config_map in maps:
        for text in config_map["data"].values():
            json.loads(text)


def test_defaults_follow_the_generator() -> None:
    """The release label and the dashboards' folder are the ones generate.py gives the
    kustomize objects."""
    gen = generator()
    values = default_values()
    assert values["serviceMonitor"]["additionalLabels"] == gen.RELEASE_LABEL
    assert values["prometheusRule"]["additionalLabels"] == gen.RELEASE_LABEL
    assert values["dashboards"]["labels"] == gen.DASHBOARD_LABEL
    assert values["dashboards"]["folderAnnotation"] == gen.FOLDER_ANNOTATION
    assert values["dashboards"]["folder"] == gen.dashboard_folder()


def test_prometheus_rules_pass_promtool(defaults: Manifests, tmp_path: Path) -> None:
    assert_rules_pass_promtool(defaults, tmp_path)


# --- the same pod as the kustomize files --------------------------------------------------


def comparable(docs: Manifests) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """Container, pod spec and volume claims without what differs by design: the image
    reference and its pull policy, Helm's names and the chart's pod-level additions."""
    c = container(docs)
    c.pop("image")
    c.pop("imagePullPolicy", None)
    pod = dict(pod_spec(docs))
    pod.pop("containers")
    volumes = copy.deepcopy(pod.pop("volumes"))
    for volume in volumes:
        if "configMap" in volume:
            volume["configMap"]["name"] = "CONFIG"
    pod.pop("serviceAccountName")
    # Labels of a claim template are immutable in a StatefulSet: the chart sets none (its
    # chart-version label would block every upgrade), kustomize adds its part-of label.
    claims = copy.deepcopy(workload(docs)["spec"].get("volumeClaimTemplates", []))
    for claim in claims:
        claim["metadata"].pop("labels", None)
    return c, {**pod, "volumes": volumes}, claims


def test_default_pod_is_the_kustomize_base_pod(defaults: Manifests, base: Manifests) -> None:
    assert comparable(defaults) == comparable(base)


def test_sharded_pod_is_the_sharded_overlay_pod(
    sharded_chart: Manifests, sharded: Manifests
) -> None:
    assert comparable(sharded_chart) == comparable(sharded)
    chart_set, overlay_set = workload(sharded_chart)["spec"], workload(sharded)["spec"]
    for key in ("replicas", "podManagementPolicy"):
        assert chart_set[key] == overlay_set[key]


# --- workload -----------------------------------------------------------------------------


def test_one_deployment_replica_that_never_surges(defaults: Manifests) -> None:
    """Two pods exporting the same accounts double every sum: one replica, and its rollout
    stops the old pod before starting the new one."""
    assert not of_kind(defaults, "StatefulSet")
    deployment = one(defaults, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    rolling = one(render(VARIANTS["scheduling-and-extras"]), "Deployment")["spec"]["strategy"]
    assert rolling == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }
    assert "replicaCount" not in default_values()


def test_sharded_is_a_statefulset_of_shards(sharded_chart: Manifests) -> None:
    assert not of_kind(sharded_chart, "Deployment")
    statefulset = one(sharded_chart, "StatefulSet")
    assert statefulset["spec"]["serviceName"] == one(sharded_chart, "Service")["metadata"]["name"]
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    assert statefulset["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    c = container(sharded_chart)
    assert int(flag_value(c["args"], "shard.count")) == statefulset["spec"]["replicas"] == 3
    assert flag_value(c["args"], "shard.index") == "$(SHARD_INDEX)"
    (env,) = [e for e in c["env"] if e["name"] == "SHARD_INDEX"]
    field = env["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.labels['apps.kubernetes.io/pod-index']"
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "state"
    assert "state" not in {v["name"] for v in pod_spec(sharded_chart)["volumes"]}


@pytest.mark.parametrize("replicas", [2, 3, 5])
def test_every_pod_ordinal_is_a_valid_shard(replicas: int, tmp_path: Path) -> None:
    """Pods 0..replicas-1 each get a distinct shard the exporter accepts, covering all."""
    docs = render({"sharding": {"replicas": replicas}})
    assert one(docs, "StatefulSet")["spec"]["replicas"] == replicas
    config = write_config(docs, tmp_path)
    shards = set()
    for ordinal in range(replicas):
        _, flags = exporter_flags(container(docs), config, ordinal)
        assert flags.shard_count == replicas
        shards.add(flags.shard_index)
    assert shards == set(range(replicas))


def test_persistence(defaults: Manifests) -> None:
    (state,) = [v for v in pod_spec(defaults)["volumes"] if v["name"] == "state"]
    assert state == {"name": "state", "emptyDir": {}}
    assert not of_kind(defaults, "PersistentVolumeClaim")

    docs = render(VARIANTS["persistence"])
    claim = one(docs, "PersistentVolumeClaim")
    assert claim["spec"]["storageClassName"] == "gp3"
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    (state,) = [v for v in pod_spec(docs)["volumes"] if v["name"] == "state"]
    assert state["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]

    docs = render({"persistence": {"enabled": True, "existingClaim": "kept-state"}})
    assert not of_kind(docs, "PersistentVolumeClaim")
    (state,) = [v for v in pod_spec(docs)["volumes"] if v["name"] == "state"]
    assert state["persistentVolumeClaim"]["claimName"] == "kept-state"

    docs = render(VARIANTS["sharded-persistence"])
    assert not of_kind(docs, "PersistentVolumeClaim")
    (template,) = one(docs, "StatefulSet")["spec"]["volumeClaimTemplates"]
    assert template["spec"]["storageClassName"] == "gp3"
    assert template["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_security_context(variant: tuple[str, Manifests]) -> None:
    _, docs = variant
    assert_hardened(docs)


def test_writable_paths_are_volumes(variant: tuple[str, Manifests]) -> None:
    """With a read-only root filesystem, only the state dir and /tmp may be written."""
    _, docs = variant
    state_dir = flag_value(container(docs)["args"], "state.dir")
    assert writable_paths(docs) == {state_dir, "/tmp"}


def test_probes_use_the_health_endpoints(variant: tuple[str, Manifests]) -> None:
    _, docs = variant
    assert_probes_use_the_health_endpoints(docs)


def test_scheduling_and_extras_reach_the_pod() -> None:
    values = VARIANTS["scheduling-and-extras"]
    docs = render(values)
    pod = pod_spec(docs)
    for key in ("nodeSelector", "tolerations", "affinity", "topologySpreadConstraints"):
        assert pod[key] == values[key]
    assert pod["priorityClassName"] == values["priorityClassName"]
    assert pod["imagePullSecrets"] == values["imagePullSecrets"]
    c = container(docs)
    assert c["image"] == f"{values['image']['repository']}@{values['image']['digest']}"
    assert c["args"][-2:] == values["extraArgs"]
    assert c["env"] == values["env"] and c["envFrom"] == values["envFrom"]
    assert c["resources"] == values["resources"]
    template = workload(docs)["spec"]["template"]["metadata"]
    assert template["annotations"]["example.com/team"] == "security"
    assert template["labels"]["team"] == "security"


def test_image_defaults_to_the_app_version(defaults: Manifests) -> None:
    assert container(defaults)["image"] == f"aws-iam-credential-exporter:{__version__}"
    docs = render({"image": {"repository": "registry.example.com/iam", "tag": "0.2.0"}})
    assert container(docs)["image"] == "registry.example.com/iam:0.2.0"


# --- config, flags and the web config -----------------------------------------------------


def write_config(docs: Manifests, tmp_path: Path) -> Path:
    """The rendered ConfigMap's config.yml, where the exporter can read it."""
    c = container(docs)
    config_path = Path(flag_value(c["args"], "config"))
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == str(config_path.parent)]
    (volume,) = [v for v in pod_spec(docs)["volumes"] if v["name"] == mount["name"]]
    config_map = named(docs, "ConfigMap", volume["configMap"]["name"])
    path = tmp_path / config_path.name
    path.write_text(config_map["data"][config_path.name], encoding="utf-8")
    return path


def test_config_map_holds_the_config_values(variant: tuple[str, Manifests], tmp_path: Path) -> None:
    name, docs = variant
    path = write_config(docs, tmp_path)
    with helm_python.Chart.load(CHART) as chart:  # Helm merges maps: values add to defaults
        expected = chart.merge_values(VARIANTS[name])["config"]
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == expected
    for key, given in VARIANTS[name].get("config", {}).items():
        assert expected[key].items() >= given.items()
    load_config(path)  # the exporter accepts it


def test_container_args_are_valid_exporter_flags(
    variant: tuple[str, Manifests], tmp_path: Path
) -> None:
    """The exporter's own parser accepts the args, and resolves the ConfigMap's config."""
    name, docs = variant
    c = container(docs)
    assert c["args"][0] == "serve"
    config = write_config(docs, tmp_path)
    parsed, flags = exporter_flags(c, config)
    assert parsed.command == "serve"
    assert flags.web_listen_address == f":{DEFAULT_PORT}"
    assert c["ports"][0]["containerPort"] == DEFAULT_PORT
    assert flags.state_dir == flag_value(c["args"], "state.dir")
    if name == "scheduling-and-extras":
        assert flags.log_level == "debug" and flags.metrics_finding_series is True
        assert flags.refresh_interval.total_seconds() == 30 * 60


def web_config_secret(docs: Manifests) -> tuple[Path, dict[str, Any]]:
    """Where --web.config.file points, and the Secret volume mounted there."""
    c = container(docs)
    path = Path(flag_value(c["args"], "web.config.file"))
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == str(path.parent)]
    assert mount["readOnly"] is True
    assert "subPath" not in mount  # a subPath mount would never see the Secret change
    (volume,) = [v for v in pod_spec(docs)["volumes"] if v["name"] == mount["name"]]
    return path, volume["secret"]


def test_web_config_secret_is_mounted_and_passed(tmp_path: Path) -> None:
    docs = render(VARIANTS["web-config"])
    path, volume = web_config_secret(docs)
    secret = named(docs, "Secret", volume["secretName"])
    text = secret["stringData"][path.name]
    assert yaml.safe_load(text) == VARIANTS["web-config"]["webConfig"]["config"]
    # The exporter loads it as it would at start-up: basic auth, no TLS.
    file = tmp_path / path.name
    file.write_text(text, encoding="utf-8")
    access = WebAccess(file)
    assert access.tls_enabled is False
    c = container(docs)
    assert "scheme" not in c["livenessProbe"]["httpGet"]
    assert one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["scheme"] == "http"
    annotations = workload(docs)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/web-config"]


def test_web_config_with_tls_switches_probes_and_scrapes_to_https() -> None:
    values = VARIANTS["web-config-tls"]
    docs = render(values)
    path, volume = web_config_secret(docs)
    text = named(docs, "Secret", volume["secretName"])["stringData"][path.name]
    web = parse_web_config(yaml.safe_load(text), base_dir=path.parent)
    assert web.tls is not None and str(web.tls.cert_file).startswith(TLS_DIR)
    c = container(docs)
    assert {m["mountPath"] for m in c["volumeMounts"]} >= {TLS_DIR}
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["scheme"] == "HTTPS"
    (endpoint,) = one(docs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == values["serviceMonitor"]["tlsConfig"]
    assert endpoint["basicAuth"] == values["serviceMonitor"]["basicAuth"]


def test_web_config_from_an_existing_secret() -> None:
    docs = render(VARIANTS["web-config-existing-secret"])
    assert not of_kind(docs, "Secret")
    path, volume = web_config_secret(docs)
    assert volume["secretName"] == "my-web-config"
    assert path.name == default_values()["webConfig"]["secretKey"]
    assert container(docs)["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    annotations = workload(docs)["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/web-config" not in annotations


def test_an_empty_tls_section_is_plain_http() -> None:
    """As in the exporter (and the toolkit), tls_server_config without files is plain HTTP."""
    docs = render({"webConfig": {"enabled": True, "config": {"tls_server_config": {}}}})
    assert "scheme" not in container(docs)["livenessProbe"]["httpGet"]
    assert parse_web_config({"tls_server_config": {}}).tls is None


def test_no_web_config_by_default(defaults: Manifests) -> None:
    assert not of_kind(defaults, "Secret")
    assert not [a for a in container(defaults)["args"] if a.startswith("--web.config.file")]


def test_a_config_change_rolls_the_pods(defaults: Manifests) -> None:
    def checksum(docs: Manifests) -> str:
        value: str = workload(docs)["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]
        return value

    changed = render({"config": {"flags": {"refresh.interval": "2h"}}})
    assert checksum(changed) != checksum(defaults)
    assert checksum(render()) == checksum(defaults)


# --- wiring: ServiceAccount, Service, monitoring objects ----------------------------------


def test_irsa_annotation(defaults: Manifests) -> None:
    account = one(render(VARIANTS["irsa"]), "ServiceAccount")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    assert account["automountServiceAccountToken"] is False
    assert "annotations" not in one(defaults, "ServiceAccount")["metadata"]


def test_service_account_is_the_one_the_trust_policy_names(defaults: Manifests) -> None:
    """Installed as the README says, the pods run as the ServiceAccount that
    deploy/aws/irsa-trust-policy.json lets assume the role."""
    policy = json.loads((AWS / "irsa-trust-policy.json").read_text(encoding="utf-8"))
    (condition,) = policy["Statement"]
    subjects = [v for k, v in condition["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    account = one(defaults, "ServiceAccount")
    subject = (
        f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"
    )
    assert subjects == [subject]
    assert pod_spec(defaults)["serviceAccountName"] == account["metadata"]["name"]


def test_existing_service_account() -> None:
    docs = render({"serviceAccount": {"create": False, "name": "shared-exporter"}})
    assert not of_kind(docs, "ServiceAccount")
    assert pod_spec(docs)["serviceAccountName"] == "shared-exporter"


def test_selectors_match_labels(variant: tuple[str, Manifests]) -> None:
    _, docs = variant
    work = workload(docs)
    pod_labels = work["spec"]["template"]["metadata"]["labels"]
    assert matches(work["spec"]["selector"]["matchLabels"], pod_labels)
    service = one(docs, "Service")
    assert matches(service["spec"]["selector"], pod_labels)
    for monitor in of_kind(docs, "ServiceMonitor"):
        assert matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        assert monitor["spec"]["namespaceSelector"]["matchNames"] == [
            service["metadata"]["namespace"]
        ]


def test_two_releases_do_not_select_each_other() -> None:
    one_release = render(release="iam-a")
    other = render(release="iam-b")
    assert not matches(
        one(one_release, "Service")["spec"]["selector"],
        workload(other)["spec"]["template"]["metadata"]["labels"],
    )
    names = {d["metadata"]["name"] for d in one_release}
    assert not names & {d["metadata"]["name"] for d in other}


def test_ports_match_the_exporter(variant: tuple[str, Manifests]) -> None:
    _, docs = variant
    (port,) = container(docs)["ports"]
    assert port["containerPort"] == DEFAULT_PORT
    (service_port,) = one(docs, "Service")["spec"]["ports"]
    assert service_port["port"] == DEFAULT_PORT
    assert service_port["targetPort"] == port["name"]
    for monitor in of_kind(docs, "ServiceMonitor"):
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == service_port["name"]
        assert endpoint["path"] == "/metrics"


def test_service_monitor_values() -> None:
    values = VARIANTS["service-monitor"]["serviceMonitor"]
    monitor = one(render(VARIANTS["service-monitor"]), "ServiceMonitor")
    assert labels_of(monitor)["release"] == "prom"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("2m", "1m")
    assert endpoint["relabelings"] == values["relabelings"]
    assert endpoint["metricRelabelings"] == values["metricRelabelings"]


def test_release_label_for_kube_prometheus_stack(defaults: Manifests) -> None:
    release = labels_of(one(defaults, "ServiceMonitor"))["release"]
    assert release == generator().RELEASE_LABEL["release"]
    for rule in of_kind(defaults, "PrometheusRule"):
        assert labels_of(rule)["release"] == release


def test_monitoring_objects_can_be_switched_off() -> None:
    docs = render(VARIANTS["toggles-off"])
    assert not of_kind(docs, "ServiceMonitor")
    assert not of_kind(docs, "PrometheusRule")
    assert [c["metadata"]["name"] for c in of_kind(docs, "ConfigMap")] == [f"{RELEASE}-config"]
    full = render()
    assert one(full, "ServiceMonitor") and of_kind(full, "PrometheusRule")

"""The Prometheus Operator custom resources, validated with their vendored CRD schemas."""

from __future__ import annotations

import json

import jsonschema

from tests.artefacts.deploy.paths import SCHEMAS

CRD_SCHEMAS = {
    "PrometheusRule": SCHEMAS / "prometheusrule_v1.json",
    "ServiceMonitor": SCHEMAS / "servicemonitor_v1.json",
}


def crd_validator(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads(CRD_SCHEMAS[kind].read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    # Against the metaschema but without format checks: the CRDs' patterns are Go regexps
    # ("^(?i)..."), which Python's re rejects; none of them applies to our objects.
    cls(cls.META_SCHEMA).validate(schema)
    return cls(schema)

"""Grafana's published dashboard schema, as the grafana-foundation-sdk package ships it.

The package ships no .json schema file (neither its wheel nor its sdist): it ships the
models that Grafana's schema (the CUE kinds its JSON schema is also made from) generates,
one class per object, panel options and field config per panel type, enums as Python
enums. A dashboard is checked by reading it into those models and writing it back out:
a key the schema does not declare is dropped on the way, a value it does not allow
(an unknown enum member, a wrong type of object) raises, and a value it reads otherwise
comes back changed; then every value read is checked against its model's type hints
(enums by their members, numbers, strings, lists, nested models): the models assign
what they read without checking it. ``problems()`` lists all of these.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

plugins.register_default_plugins()

# The schemaVersion of the pinned SDK's dashboards (its model's default).
SCHEMA_VERSION = Dashboard().schema_version

# What Grafana reads although the schema leaves it out, by path (list indexes as []):
# the Prometheus data source's own annotation options (its AnnotationSupport reads them
# from the annotation, and moves expr and step into the query), the query variables'
# `definition` (the text the variable editor shows), and a provisioned dashboard's
# `"id": null` (the schema's id is optional and never null).
NOT_IN_SCHEMA = {
    "/id",
    "/templating/list[]/definition",
    *(
        f"/annotations/list[]/{key}"
        for key in ("step", "titleFormat", "textFormat", "tagKeys", "useValueForTime")
    ),
}


def _differences(given: Any, read: Any, path: str = "") -> Iterator[str]:
    if isinstance(given, dict) and isinstance(read, dict):
        for key, value in given.items():
            if key not in read:
                yield f"{path}/{key}: not in the schema"
            else:
                yield from _differences(value, read[key], f"{path}/{key}")
    elif isinstance(given, list) and isinstance(read, list) and len(given) == len(read):
        for i, (a, b) in enumerate(zip(given, read, strict=True)):
            yield from _differences(a, b, f"{path}[{i}]")
    elif given != read:
        yield f"{path}: {given!r} read as {read!r}"


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):
        return {}


def _is_model(value: Any) -> bool:
    return type(value).__module__.startswith("grafana_foundation_sdk.models.")


def _union_errors(value: Any, args: tuple[Any, ...], path: str) -> Iterator[str]:
    if value is None and type(None) in args:
        return
    arms = [list(_type_errors(value, arm, path)) for arm in args if arm is not type(None)]
    if arms and all(arms):
        yield min(arms, key=len)[0]


def _container_errors(value: Any, origin: Any, args: tuple[Any, ...], path: str) -> Iterator[str]:
    if origin is list:
        if not isinstance(value, list):
            yield f"{path}: {value!r} is not a list"
            return
        for i, item in enumerate(value):
            yield from _type_errors(item, args[0] if args else Any, f"{path}[{i}]")
    elif not isinstance(value, dict):
        yield f"{path}: {value!r} is not an object"
    else:
        for key, item in value.items():
            yield from _type_errors(item, args[1] if args else Any, f"{path}/{key}")


def _scalar_errors(value: Any, hint: type, path: str) -> Iterator[str]:
    if issubclass(hint, enum.Enum):
        if not isinstance(value, hint) and value not in {m.value for m in hint}:
            yield f"{path}: {value!r} is not one of {sorted(str(m.value) for m in hint)}"
        return
    ok = isinstance(value, (int, float)) if hint is float else isinstance(value, hint)
    if not ok or (hint in (int, float) and isinstance(value, bool)):
        yield f"{path}: {value!r} is not {hint.__name__}"


def _type_errors(value: Any, hint: Any, path: str) -> Iterator[str]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object or isinstance(hint, typing.TypeVar):
        if _is_model(value) and not isinstance(value, enum.Enum):
            yield from _model_errors(value, path)
    elif origin in (typing.Union, types.UnionType):
        yield from _union_errors(value, args, path)
    elif origin is typing.Literal:
        if value not in args:
            yield f"{path}: {value!r} is none of {args}"
    elif origin in (list, dict):
        yield from _container_errors(value, origin, args, path)
    elif isinstance(hint, type) and (
        issubclass(hint, enum.Enum) or hint in (int, float, str, bool)
    ):
        yield from _scalar_errors(value, hint, path)
    elif isinstance(hint, type) and hint.__module__.startswith("grafana_foundation_sdk."):
        if isinstance(value, dict) and hasattr(hint, "from_json"):
            # Some models keep a nested object as read (a panel's links, transformations).
            yield from _as_model(value, hint, path)
        elif not isinstance(value, hint):
            yield f"{path}: {type(value).__name__} where the schema has {hint.__name__}"
        else:
            yield from _model_errors(value, path)


def _as_model(value: dict[str, Any], cls: Any, path: str) -> Iterator[str]:
    try:
        model = cls.from_json(value)
        read = json.loads(json.dumps(model, cls=JSONEncoder))
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        yield f"{path}: not a {cls.__name__}: {type(e).__name__}: {e}"
        return
    yield from _differences(value, read, path)
    yield from _model_errors(model, path)


def _model_errors(model: Any, path: str) -> Iterator[str]:
    for name, hint in _hints(type(model)).items():
        if hasattr(model, name):
            yield from _type_errors(getattr(model, name), hint, f"{path}/{name}")


def problems(dashboard: dict[str, Any]) -> list[str]:
    """What in ``dashboard`` Grafana's schema does not declare or allow; [] when valid."""
    try:
        model = Dashboard.from_json(dashboard)
        read = json.loads(json.dumps(model, cls=JSONEncoder))
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        return [f"not a dashboard of the schema: {type(e).__name__}: {e}"]
    unknown = [
        p
        for p in _differences(dashboard, read)
        if re.sub(r"\[\d+\]", "[]", p.split(":", 1)[0]) not in NOT_IN_SCHEMA
    ]
    return unknown + list(_model_errors(model, ""))

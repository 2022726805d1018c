"""JSON Schema from marshmallow schemas (record types, connector options)."""

from __future__ import annotations

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema


@functools.cache
def _converter():
    plugin = MarshmallowPlugin()
    APISpec(title="kluis", version="1", openapi_version="3.1.0", plugins=[plugin])
    return plugin.converter


def to_json_schema(schema: type[Schema] | Schema) -> dict[str, Any]:
    """The JSON Schema of ``schema``, with field labels kept as ``x-label``."""
    instance = schema() if isinstance(schema, type) else schema
    out = dict(_converter().schema2jsonschema(instance))
    out.setdefault("type", "object")
    out["additionalProperties"] = False
    for name, field in instance.fields.items():
        key = field.data_key or name
        prop = out.get("properties", {}).get(key)
        if prop is not None and "label" in field.metadata:
            prop["x-label"] = field.metadata["label"]
            prop.pop("label", None)
            if "choices" in field.metadata:
                prop["x-choices"] = field.metadata["choices"]
                prop.pop("choices", None)
                prop.pop("unit", None)
    return out

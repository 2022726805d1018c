"""JSON Schema from marshmallow schemas (record types, connector options)."""

from __future__ import annotations

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import Schema


def _inline_nested(_schema: type[Schema]) -> str:
    """A name resolver that names nothing: apispec then inlines a nested schema (it documents
    None for that, while its annotation says str)."""
    return None  # type: ignore[return-value]  # None is apispec's documented "inline"


@functools.cache
def _converter() -> OpenAPIConverter:
    # No names: nested schemas (a property's WOZ values) are inlined, so each JSON Schema
    # stands alone instead of pointing at a #/components/schemas/... that no document has.
    plugin = MarshmallowPlugin(schema_name_resolver=_inline_nested)
    APISpec(title="kluis", version="1", openapi_version="3.1.0", plugins=[plugin])
    if plugin.converter is None:
        raise RuntimeError("APISpec did not initialise the marshmallow plugin")
    return plugin.converter


def to_json_schema(schema: type[Schema] | Schema) -> dict[str, Any]:
    """The JSON Schema of ``schema`` (record types, connector options and credentials).

    Kluis metadata becomes extension keywords: ``label`` -> ``title`` (English)
    and ``x-label`` (nl/en), ``choices`` -> ``x-choices``, ``help`` ->
    ``description`` and ``x-help``, ``secret`` -> ``writeOnly`` and ``x-secret``.
    """
    instance = schema() if isinstance(schema, type) else schema
    # apispec leaves schema2jsonschema unannotated; it returns the JSON Schema as a dict.
    out = dict(_converter().schema2jsonschema(instance))  # type: ignore[no-untyped-call]
    out.setdefault("type", "object")
    out["additionalProperties"] = False
    for name, field in instance.fields.items():
        prop = out.get("properties", {}).get(field.data_key or name)
        if prop is None:
            continue
        meta = field.metadata
        for key in ("label", "choices", "unit", "help", "secret"):
            prop.pop(key, None)
        if "label" in meta:
            prop["title"] = meta["label"].get("en", name)
            prop["x-label"] = meta["label"]
        if "choices" in meta:
            prop["x-choices"] = meta["choices"]
        if "help" in meta:
            prop["description"] = meta["help"].get("en", "")
            prop["x-help"] = meta["help"]
        if meta.get("secret"):
            prop["writeOnly"] = True
            prop["x-secret"] = True
    extra = getattr(getattr(instance, "Meta", None), "json_schema_extra", None)
    if extra:
        out.update(extra)
    return out

"""Marshmallow schema -> JSON Schema (2020-12), for the fields connector options use."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate


def field_to_json(field: fields.Field) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(field, fields.Integer):
        out = {"type": "integer"}
    elif isinstance(field, fields.Boolean):
        out = {"type": "boolean"}
    elif isinstance(field, fields.Url):
        out = {"type": "string", "format": "uri"}
    elif isinstance(field, fields.Date):
        out = {"type": "string", "format": "date"}
    elif isinstance(field, fields.List):
        out = {"type": "array", "items": field_to_json(field.inner)}
    else:
        out = {"type": "string"}
    for validator in field.validators:
        if isinstance(validator, validate.Length):
            if validator.min is not None:
                out["minLength"] = validator.min
            if validator.max is not None:
                out["maxLength"] = validator.max
        elif isinstance(validator, validate.Range):
            if validator.min is not None:
                out["minimum"] = validator.min
            if validator.max is not None:
                out["maximum"] = validator.max
        elif isinstance(validator, validate.Regexp):
            out["pattern"] = validator.regex.pattern
        elif isinstance(validator, validate.OneOf):
            out["enum"] = list(validator.choices)
    label = field.metadata.get("label")
    if label:
        out["title"] = label.get("en", "")
        out["x-label"] = label
    if field.metadata.get("secret"):
        out["writeOnly"] = True
        out["x-secret"] = True
    if field.metadata.get("help"):
        out["description"] = field.metadata["help"].get("en", "")
        out["x-help"] = field.metadata["help"]
    return out


def schema_to_json(schema: Schema) -> dict[str, Any]:
    properties = {}
    required = []
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        properties[key] = field_to_json(field)
        if field.required:
            required.append(key)
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    extra = getattr(getattr(schema, "Meta", None), "json_schema_extra", None)
    if extra:
        out.update(extra)
    return out

"""Marshmallow schemas of the owner API payloads (the record data schemas are in vault.records)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class AccountCreateSchema(Strict):
    username = fields.String(required=True, validate=validate.Length(min=3, max=64))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    invite = fields.String(validate=validate.Length(max=200))


class AccountCreatedSchema(Strict):
    vault_id = fields.String(required=True)
    username = fields.String(required=True)
    recovery_code = fields.String(
        required=True, metadata={"description": "Shown once. Print it and keep it safe."}
    )


class TokenCreateSchema(Strict):
    username = fields.String(required=True, validate=validate.Length(max=64))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    totp = fields.String(validate=validate.Length(max=10))
    name = fields.String(validate=validate.Length(max=100))


class AppTokenSchema(Strict):
    id = fields.String(required=True)
    name = fields.String(required=True)
    created_at = fields.String(required=True)


class TokenCreatedSchema(AppTokenSchema):
    token = fields.String(required=True, metadata={"description": "Shown once."})


class AppTokenCreateSchema(Strict):
    name = fields.String(validate=validate.Length(max=100))


class ProvenanceSchema(Strict):
    source = fields.String(required=True,
                           metadata={"description": "manual, upload or a connector id"})
    fetched_at = fields.String(required=True)
    evidence = fields.Dict(keys=fields.String())


class RecordInSchema(Strict):
    type = fields.String(required=True, validate=validate.Length(max=64))
    data = fields.Dict(required=True, keys=fields.String())


class RecordUpdateSchema(Strict):
    data = fields.Dict(required=True, keys=fields.String())


class RecordSchema(Strict):
    id = fields.String(required=True)
    type = fields.String(required=True)
    version = fields.Integer(required=True)
    data = fields.Dict(required=True)
    provenance = fields.Nested(ProvenanceSchema, required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)


class RecordListSchema(Strict):
    records = fields.List(fields.Nested(RecordSchema), required=True)


class RecordVersionSchema(Strict):
    version = fields.Integer(required=True)
    data = fields.Dict(required=True)
    digest = fields.String(required=True)
    provenance = fields.Nested(ProvenanceSchema, required=True)
    created_at = fields.String(required=True)


class RecordVersionListSchema(Strict):
    versions = fields.List(fields.Nested(RecordVersionSchema), required=True)


class FieldDescriptionSchema(Strict):
    name = fields.String(required=True)
    label = fields.Dict(required=True)
    type = fields.String(required=True)
    required = fields.Boolean(required=True)
    choices = fields.List(fields.String())


class RecordTypeSchema(Strict):
    id = fields.String(required=True)
    category = fields.String(required=True)
    label = fields.Dict(required=True)
    fields_ = fields.List(fields.Nested(FieldDescriptionSchema), data_key="fields", required=True)
    json_schema = fields.Dict(required=True)


class RecordTypeListSchema(Strict):
    record_types = fields.List(fields.Nested(RecordTypeSchema), required=True)


class PasswordChangeSchema(Strict):
    old_password = fields.String(required=True, validate=validate.Length(max=1024))
    new_password = fields.String(required=True, validate=validate.Length(max=1024))


class PasswordResetSchema(Strict):
    username = fields.String(required=True, validate=validate.Length(max=64))
    recovery_code = fields.String(required=True, validate=validate.Length(max=100))
    new_password = fields.String(required=True, validate=validate.Length(max=1024))
    totp = fields.String(validate=validate.Length(max=10))


class TotpResetSchema(Strict):
    username = fields.String(required=True, validate=validate.Length(max=64))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    recovery_code = fields.String(required=True, validate=validate.Length(max=100))


class RecoveryCodeSchema(Strict):
    recovery_code = fields.String(required=True, metadata={"description": "Shown once."})


class TotpEnrolmentSchema(Strict):
    secret = fields.String(required=True)
    otpauth_uri = fields.String(required=True)


class TotpConfirmSchema(Strict):
    secret = fields.String(required=True, validate=validate.Length(min=16, max=64))
    code = fields.String(required=True, validate=validate.Length(max=10))


class EventSchema(Strict):
    seq = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    action = fields.String(required=True)
    grant_id = fields.String(allow_none=True)
    detail = fields.Dict(required=True)

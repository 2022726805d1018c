"""``woz``: Haal Centraal WOZ bevragen v1 (``GET /wozobjecten``, ``GET /wozobjecten/{id}``).

The owner names the property by its WOZ object number (``identificatie``) or by
its address (``postcode`` + ``huisnummer``). Each WOZ object becomes one
``property`` record with its value history.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from vault.connectors.base import (
    Connector,
    CredentialKind,
    Draft,
    FetchContext,
    NeedsAttention,
    TransientError,
)
from vault.connectors.common import base_url_field, join_url, prune

HEADERS = {"Accept": "application/hal+json"}


class WozOptions(Schema):
    base_url = base_url_field()
    identificatie = fields.String(
        validate=validate.Regexp(r"^[0-9]{12}$", error="A WOZ object number has 12 digits."),
        metadata={"label": {"nl": "WOZ-objectnummer", "en": "WOZ object number"}},
    )
    postcode = fields.String(
        validate=validate.Regexp(r"^[1-9][0-9]{3} ?[A-Za-z]{2}$",
                                 error="A Dutch postcode looks like 1234 AB."),
        metadata={"label": {"nl": "Postcode", "en": "Postcode"}},
    )
    huisnummer = fields.Integer(
        strict=False, validate=validate.Range(min=1, max=99999),
        metadata={"label": {"nl": "Huisnummer", "en": "House number"}},
    )

    class Meta:
        json_schema_extra = {"oneOf": [{"required": ["identificatie"]},
                                       {"required": ["postcode", "huisnummer"]}]}

    @validates_schema
    def one_way_to_find(self, data: dict[str, Any], **_: Any) -> None:
        by_id = "identificatie" in data
        by_address = "postcode" in data or "huisnummer" in data
        if by_id == by_address:
            raise ValidationError("Give either the WOZ object number or postcode and house number.",
                                  "identificatie")
        if by_address and not ("postcode" in data and "huisnummer" in data):
            raise ValidationError("Give both postcode and house number.", "postcode")


def map_property(obj: dict[str, Any]) -> dict[str, Any]:
    aanduiding = obj.get("aanduiding") or {}
    number = "".join(str(x) for x in (aanduiding.get("huisnummer"), aanduiding.get("huisletter"))
                     if x)
    if aanduiding.get("huisnummertoevoeging"):
        number += f"-{aanduiding['huisnummertoevoeging']}"
    street = " ".join(x for x in (aanduiding.get("straat"), number) if x)
    address = ", ".join(x for x in (street, aanduiding.get("woonplaats")) if x)
    postcode = aanduiding.get("postcode")
    if postcode and len(postcode) == 6:
        postcode = f"{postcode[:4]} {postcode[4:]}"
    values = []
    for waarde in obj.get("waarden") or []:
        if waarde.get("vastgesteldeWaarde") is None or not waarde.get("waardepeildatum"):
            continue
        entry = {"reference_date": waarde["waardepeildatum"],
                 "value_cents": int(waarde["vastgesteldeWaarde"]) * 100}
        # The value on 1 January of year N is the tax value for year N + 1.
        entry["tax_year"] = int(waarde["waardepeildatum"][:4]) + 1
        values.append(entry)
    values.sort(key=lambda v: v["reference_date"], reverse=True)
    owner_type = (obj.get("belanghebbendeEigenaar") or {}).get("type")
    return prune({
        "woz_object_id": obj.get("identificatie"),
        "address": address or obj.get("identificatie"),
        "postcode": postcode,
        "ownership": {"natuurlijk_persoon": "owner"}.get(owner_type or "", None),
        "woz_values": values,
    })


def label_for(data: dict[str, Any]) -> str:
    values = data.get("woz_values") or []
    if values:
        return f"WOZ value {values[0]['tax_year']}"
    return "property"


class WozConnector(Connector):
    id = "woz"
    title = {"nl": "WOZ-waarde (Waardering Onroerende Zaken)", "en": "WOZ property value"}
    source_organisation = "Gemeente / Waarderingskamer"
    record_types = ("property",)
    options_schema = WozOptions
    credential = CredentialKind.API_KEY
    default_interval = 30 * 24 * 3600

    def fetch(self, context: FetchContext) -> Iterator[Draft]:
        base = context.options["base_url"]
        headers = {**HEADERS, "X-API-KEY": context.credentials["api_key"]}
        if "identificatie" in context.options:
            context.progress(0, 1)
            obj, evidence = context.json(
                "GET", join_url(base, f"wozobjecten/{context.options['identificatie']}"),
                headers=headers,
            )
            found = [(obj, evidence)]
        else:
            context.progress(0, 2)
            postcode = context.options["postcode"].replace(" ", "").upper()
            body, evidence = context.json(
                "GET", join_url(base, "wozobjecten"), headers=headers,
                params={"postcode": postcode, "huisnummer": context.options["huisnummer"]},
            )
            if not isinstance(body, dict):
                raise TransientError("The WOZ service sent an answer in an unexpected shape.")
            objects = (body.get("_embedded") or {}).get("wozObjecten") or []
            if not objects:
                raise NeedsAttention("The WOZ service knows no property at this address.")
            context.progress(1, 2)
            found = [(obj, evidence) for obj in objects]
        for obj, evidence in found:
            if not isinstance(obj, dict) or not obj.get("identificatie"):
                raise TransientError("The WOZ service sent an answer in an unexpected shape.")
            data = map_property(obj)
            yield Draft("property", f"woz:{obj['identificatie']}", data, evidence,
                        label_for(data))
        context.progress(1, 1)

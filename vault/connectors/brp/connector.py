"""``brp``: Haal Centraal BRP Personen API v2 (``POST /personen``, RaadpleegMetBurgerservicenummer).

Asks only for the fields it maps (``fields`` selection), with the API key in the
``X-API-KEY`` header, and maps the answer to a ``person``, an ``address`` and one
``household-member`` per partner, child and parent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from marshmallow import Schema, fields

from vault.connectors.base import (
    Connector,
    CredentialKind,
    Draft,
    FetchContext,
    NeedsAttention,
    TransientError,
)
from vault.connectors.common import base_url_field, join_url, prune, valid_bsn
from vault.records import validators

FIELDS = [
    "burgerservicenummer",
    "naam",
    "geboorte",
    "geslacht",
    "nationaliteiten",
    "verblijfplaats",
    "gemeenteVanInschrijving",
    "partners",
    "kinderen",
    "ouders",
]


class BrpOptions(Schema):
    base_url = base_url_field()
    bsn = fields.String(
        required=True, validate=validators.bsn,
        metadata={"label": {"nl": "Burgerservicenummer", "en": "Citizen service number (BSN)"}},
    )


def brp_date(value: Any) -> str | None:
    """A v2 date object (``{"type": "Datum", "datum": "2001-02-03"}``) as ISO, when complete."""
    if isinstance(value, dict) and value.get("type") == "Datum":
        return value.get("datum")
    return None


def name_parts(naam: dict[str, Any]) -> dict[str, Any]:
    return {
        "given_names": (naam.get("voornamen") or "").strip() or None,
        "surname_prefix": naam.get("voorvoegsel"),
        "surname": (naam.get("geslachtsnaam") or "").strip() or None,
    }


def map_person(person: dict[str, Any]) -> dict[str, Any]:
    nationalities = [
        (n.get("nationaliteit") or {}).get("omschrijving")
        for n in person.get("nationaliteiten") or []
    ]
    geboorte = person.get("geboorte") or {}
    gender = (person.get("geslacht") or {}).get("code")
    return prune({
        **name_parts(person.get("naam") or {}),
        "bsn": valid_bsn(person.get("burgerservicenummer")),
        "birth_date": brp_date(geboorte.get("datum")),
        "birth_place": (geboorte.get("plaats") or {}).get("omschrijving"),
        "birth_country": (geboorte.get("land") or {}).get("omschrijving"),
        "nationality": ", ".join(n for n in nationalities if n) or None,
        "gender": gender if gender in ("M", "V", "O") else None,
    })


def map_address(person: dict[str, Any]) -> dict[str, Any] | None:
    place = person.get("verblijfplaats") or {}
    if place.get("type") != "Adres":
        return None
    adres = place.get("verblijfadres") or {}
    postcode = adres.get("postcode")
    if postcode and len(postcode) == 6:
        postcode = f"{postcode[:4]} {postcode[4:]}"
    addition = "".join(x for x in (adres.get("huisletter"), adres.get("huisnummertoevoeging")) if x)
    return prune({
        "street": adres.get("officieleStraatnaam") or adres.get("korteStraatnaam"),
        "house_number": adres.get("huisnummer"),
        "house_number_addition": addition or None,
        "postcode": postcode,
        "city": adres.get("woonplaats"),
        "municipality": (person.get("gemeenteVanInschrijving") or {}).get("omschrijving"),
        "country": "Nederland",
        "valid_from": brp_date(place.get("datumVan")),
    })


def map_relative(relation: str, relative: dict[str, Any]) -> dict[str, Any] | None:
    data = prune({
        "relation": relation,
        **name_parts(relative.get("naam") or {}),
        "birth_date": brp_date((relative.get("geboorte") or {}).get("datum")),
        "bsn": valid_bsn(relative.get("burgerservicenummer")),
    })
    if "given_names" not in data or "surname" not in data:
        return None  # the BRP knows this relation only partly ("onbekend"): nothing to keep
    return data


def _relative_key(relation: str, index: int, relative: dict[str, Any]) -> str:
    bsn = relative.get("burgerservicenummer")
    if bsn:
        return f"{relation}:{bsn}"
    if relation == "parent" and relative.get("ouderAanduiding"):
        return f"parent:{relative['ouderAanduiding']}"
    return f"{relation}:{index}"


class BrpConnector(Connector):
    id = "brp"
    title = {"nl": "Basisregistratie Personen (BRP)", "en": "Personal Records Database (BRP)"}
    source_organisation = "Rijksdienst voor Identiteitsgegevens (RvIG)"
    record_types = ("person", "address", "household-member")
    options_schema = BrpOptions
    credential = CredentialKind.API_KEY
    default_interval = 7 * 24 * 3600

    def fetch(self, context: FetchContext) -> Iterator[Draft]:
        bsn = context.options["bsn"]
        url = join_url(context.options["base_url"], "personen")
        context.progress(0, 2)
        body, evidence = context.json(
            "POST", url,
            json={"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn],
                  "fields": FIELDS},
            headers={"X-API-KEY": context.credentials["api_key"],
                     "Accept": "application/json",
                     "Content-Type": "application/json; charset=utf-8"},
        )
        context.progress(1, 2)
        if not isinstance(body, dict) or not isinstance(body.get("personen"), list):
            raise TransientError("The BRP sent an answer in an unexpected shape.")
        if not body["personen"]:
            raise NeedsAttention("The BRP knows no person with this BSN.")
        person = body["personen"][0]
        yield Draft("person", f"person:{bsn}", map_person(person), evidence, "person")
        address = map_address(person)
        if address:
            yield Draft("address", f"address:{bsn}", address, evidence, "address")
        for relation, key in (("partner", "partners"), ("child", "kinderen"),
                              ("parent", "ouders")):
            for index, relative in enumerate(person.get(key) or []):
                data = map_relative(relation, relative)
                if data:
                    yield Draft("household-member",
                                f"household:{bsn}:{_relative_key(relation, index, relative)}",
                                data, evidence, f"household ({relation})")
        context.progress(2, 2)

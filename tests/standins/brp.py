"""Stand-in for Haal Centraal BRP Personen API v2 (``POST /personen``).

Serves the BRP mock's test persons, converted the way the official mock does:
``YYYYMMDD`` strings become v2 date objects, the flat ``verblijfplaats`` becomes an
``Adres`` with a ``verblijfadres``, and only the requested ``fields`` are returned.
Where a test person lacks ``woonplaats``, it is derived from ``gemeenteVanInschrijving``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from werkzeug.wrappers import Request, Response

from tests.standins.common import FIXTURES, StandIn, json_response, problem

MONTHS = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december"]

_persons: dict[str, dict] | None = None


def test_persons() -> dict[str, dict]:
    global _persons
    if _persons is None:
        with open(FIXTURES / "brp" / "test-data.json", encoding="utf-8") as handle:
            _persons = {p["burgerservicenummer"]: p for p in json.load(handle)}
    return _persons


def convert_date(raw: str) -> dict[str, Any]:
    """``"19750707"`` -> ``{"type": "Datum", "datum": "1975-07-07", "langFormaat": ...}``."""
    year, month, day = raw[:4], raw[4:6], raw[6:8]
    if raw == "00000000" or year == "0000":
        return {"type": "DatumOnbekend", "onbekend": True, "langFormaat": "onbekend"}
    if month == "00":
        return {"type": "JaarDatum", "jaar": int(year), "langFormaat": year}
    if day == "00":
        return {"type": "JaarMaandDatum", "jaar": int(year), "maand": int(month),
                "langFormaat": f"{MONTHS[int(month) - 1]} {year}"}
    return {"type": "Datum", "datum": f"{year}-{month}-{day}",
            "langFormaat": f"{int(day)} {MONTHS[int(month) - 1]} {year}"}


DATE_KEYS = {"datum", "datumIngangGeldigheid", "datumEersteInschrijvingGBA",
             "datumInschrijvingInGemeente", "datumIngangFamilierechtelijkeBetrekking",
             "datumIngangOnderzoek", "datumAanvangAdreshouding", "datumAanvangAdresBuitenland",
             "datumVan", "datumEinde", "datumIngang"}


def convert_dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (convert_date(v) if k in DATE_KEYS and isinstance(v, str) and len(v) == 8
                    and v.isdigit() else convert_dates(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [convert_dates(v) for v in value]
    return value


def convert_residence(person: dict[str, Any]) -> dict[str, Any] | None:
    place = person.get("verblijfplaats")
    if not place:
        return None
    if "land" in place or "regel1" in place:
        return {"type": "VerblijfplaatsBuitenland",
                "verblijfadres": {k: place[k] for k in ("regel1", "regel2", "regel3", "land")
                                  if k in place},
                **({"datumVan": place["datumAanvangAdresBuitenland"]}
                   if "datumAanvangAdresBuitenland" in place else {})}
    adres = {
        "officieleStraatnaam": place.get("naamOpenbareRuimte") or place.get("straat"),
        "korteStraatnaam": place.get("straat"),
        "huisnummer": int(place["huisnummer"]) if place.get("huisnummer") else None,
        "huisletter": place.get("huisletter"),
        "huisnummertoevoeging": place.get("huisnummertoevoeging"),
        "postcode": place.get("postcode"),
        # Derived where the test data lacks it: the municipality of registration.
        "woonplaats": place.get("woonplaats")
        or (person.get("gemeenteVanInschrijving") or {}).get("omschrijving"),
    }
    out = {"type": "Adres", "verblijfadres": {k: v for k, v in adres.items() if v is not None}}
    for key in ("functieAdres", "adresseerbaarObjectIdentificatie",
                "nummeraanduidingIdentificatie", "datumIngangGeldigheid"):
        if key in place:
            out[key] = place[key]
    if "datumAanvangAdreshouding" in place:
        out["datumVan"] = place["datumAanvangAdreshouding"]
    return out


def to_v2(person: dict[str, Any]) -> dict[str, Any]:
    person = copy.deepcopy(person)
    residence = convert_residence(person)
    if residence is not None:
        person["verblijfplaats"] = residence
    return convert_dates(person)


def select_fields(value: Any, paths: list[list[str]]) -> Any:
    """Keep only the requested dotted paths (lists are filtered element by element)."""
    if any(not p for p in paths):
        return value
    if isinstance(value, list):
        return [select_fields(v, paths) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, sub in value.items():
        rest = [p[1:] for p in paths if p[0] == key]
        if rest:
            out[key] = select_fields(sub, rest)
    return out


class BrpStandIn(StandIn):
    spec_file = "brp/openapi.yaml"
    prefix = "/haalcentraal/api/brp"

    def validate_more(self, request: Request) -> None:
        body = request.get_json()
        query_type = body.get("type")
        mapping = self.spec["components"]["schemas"]["PersonenQuery"]["discriminator"]["mapping"]
        if query_type not in mapping:
            raise ValueError(f"unknown query type {query_type!r}")
        registry = Registry().with_resource("urn:brp", DRAFT202012.create_resource(self.spec))
        schema = {"$ref": "urn:brp" + mapping[query_type]}
        jsonschema.Draft202012Validator(
            schema, registry=registry, format_checker=jsonschema.FormatChecker()
        ).validate(body)

    def handle(self, request: Request) -> Response:
        body = request.get_json()
        if body["type"] != "RaadpleegMetBurgerservicenummer":
            return problem(400, "Deze stand-in kent alleen RaadpleegMetBurgerservicenummer.")
        paths = [f.split(".") for f in body["fields"]]
        persons = []
        for bsn in body["burgerservicenummer"]:
            person = test_persons().get(bsn)
            if person is not None:
                persons.append(select_fields(to_v2(person), paths))
        return json_response({"type": body["type"], "personen": persons})

"""Stand-in for Haal Centraal WOZ bevragen v1 (``GET /wozobjecten``, ``/wozobjecten/{id}``)."""

from __future__ import annotations

import copy
import json

from werkzeug.wrappers import Request, Response

from tests.standins.common import FIXTURES, StandIn, json_response, problem

HAL = "application/hal+json"


def test_objects() -> list[dict]:
    with open(FIXTURES / "woz" / "test-data.json", encoding="utf-8") as handle:
        return json.load(handle)


class WozStandIn(StandIn):
    spec_file = "woz/openapi.yaml"
    prefix = "/haalcentraal/api/wozbevragen"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.objects = test_objects()

    def _hal(self, obj: dict) -> dict:
        out = copy.deepcopy(obj)
        out["_links"] = {"self": {"href": f"{self.base_url}/wozobjecten/{obj['identificatie']}"}}
        return out

    def handle(self, request: Request) -> Response:
        path = request.path[len(self.prefix):]
        if path.startswith("/wozobjecten/"):
            ident = path.rsplit("/", 1)[1]
            for obj in self.objects:
                if obj["identificatie"] == ident:
                    return json_response(self._hal(obj), mimetype=HAL)
            return problem(404, "Opgevraagde resource bestaat niet.")
        postcode = request.args.get("postcode")
        number = request.args.get("huisnummer", type=int)
        found = [self._hal(o) for o in self.objects
                 if (o.get("aanduiding") or {}).get("postcode") == postcode
                 and (o.get("aanduiding") or {}).get("huisnummer") == number]
        seen, unique = set(), []
        for obj in found:
            if obj["identificatie"] not in seen:
                seen.add(obj["identificatie"])
                unique.append(obj)
        return json_response({"_links": {"self": {"href": request.url}},
                              "_embedded": {"wozObjecten": unique}}, mimetype=HAL)

"""The connector endpoints answer as the generated OpenAPI document says."""

from __future__ import annotations

from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.integration.connectors.conftest import add_connection, wait_state
from tests.standins.fixtures import API_KEY, BRP_BSN


def test_connection_responses_match_the_openapi_document(make_owner, start_worker, brp_standin,
                                                          live_server):
    owner = make_owner()
    doc = owner.get("/api/v1/openapi.json").json()
    openapi = OpenAPI.from_dict(doc)
    start_worker()
    connection = add_connection(owner, "brp", {"base_url": brp_standin.base_url, "bsn": BRP_BSN},
                                {"api_key": API_KEY})
    wait_state(owner, connection["id"], {"ok"})
    for path in (f"/api/v1/connections/{connection['id']}", "/api/v1/connections",
                 "/api/v1/connectors", "/api/v1/changes"):
        resp = owner.get(path)
        assert resp.status_code == 200
        openapi.validate_response(RequestsOpenAPIRequest(resp.request),
                                  RequestsOpenAPIResponse(resp))

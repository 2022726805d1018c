"""``/api/v1/openapi.json``: the OpenAPI 3 document generated from the schemas."""

from __future__ import annotations

from flask import Blueprint, jsonify

from vault.api.spec import build_spec
from vault.web.auth import services

bp = Blueprint("openapi", __name__)


@bp.get("/api/v1/openapi.json")
def openapi_document():
    from importlib.metadata import version

    return jsonify(build_spec(services().settings.public_url, version("kluis")))

"""Registers the portability blueprints (API, UI, /.well-known/jwks.json) on the app."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from vault.api.exports import bp as exports_api
    from vault.api.exports import wellknown

    app.register_blueprint(exports_api)
    if not any(rule.rule == "/.well-known/jwks.json" for rule in app.url_map.iter_rules()):
        app.register_blueprint(wellknown)
    try:
        from vault.ui.portability import bp as portability_ui
        from vault.ui.portability import verify_bp
    except ImportError:  # pragma: no cover - the UI is optional for API-only deployments
        return
    app.register_blueprint(portability_ui)
    app.register_blueprint(verify_bp)

"""JSON blueprints: owner API, organisation API, OAuth endpoints, OpenAPI document."""

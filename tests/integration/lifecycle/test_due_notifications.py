"""Notifications that time brings, made when the owner's vault opens: a grant about to end,
a deletion statement overdue, a connection needing attention. Each is made once."""

from __future__ import annotations

from vault.connectors import service as connections


def _kinds(owner) -> list[str]:
    return [n["kind"] for n in owner.get("/api/v1/notifications").json()["notifications"]]


def test_a_grant_ending_within_a_week_is_notified_once(granted, clock):
    owner, _org, _token = granted(duration="P30D")
    assert "grant.expiring" not in _kinds(owner)
    clock.advance(24 * 3600 * 24)  # six days left
    assert _kinds(owner).count("grant.expiring") == 1
    assert _kinds(owner).count("grant.expiring") == 1  # the next open makes no second one


def test_a_deletion_statement_overdue_after_retention_is_notified(granted, clock):
    owner, _org, token = granted()  # retention P60D
    assert owner.delete(f"/api/v1/grants/{token['grant_id']}").status_code == 200
    clock.advance(24 * 3600 * 59)
    assert "deletion.overdue" not in _kinds(owner)
    clock.advance(24 * 3600 * 2)
    listed = owner.get("/api/v1/notifications").json()["notifications"]
    overdue = [n for n in listed if n["kind"] == "deletion.overdue"]
    assert len(overdue) == 1 and overdue[0]["grant_id"] == token["grant_id"]


def test_a_connection_needing_attention_is_notified(live_server, make_owner):
    owner = make_owner()
    instance = live_server.app.extensions["kluis"].instance
    made = connections.create_connection(instance, owner.vault_id, "brp",
                                         {"base_url": "http://127.0.0.1:9/api", "bsn": "111222333"},
                                         {"api_key": "a-key-for-the-test"})
    assert "connector.attention" not in _kinds(owner)
    connections.update_connection(instance, made.id, status="needs_attention",
                                  last_error="The source refused the credentials.")
    assert _kinds(owner).count("connector.attention") == 1
    assert _kinds(owner).count("connector.attention") == 1

"""The webhook and mail outboxes are emptied of what is done, after the documented period."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import free_port
from vault import services as services_mod
from vault.clock import utcnow
from vault.grants import events, notifications, webhooks


@pytest.fixture
def svc(make_settings):
    # An SMTP address where nothing listens: each send fails for real, and the fifth gives up.
    services = services_mod.build(make_settings(
        smtp_url=f"smtp+insecure://127.0.0.1:{free_port()}", outbox_retention_days=30))
    yield services
    services.close()


def _rows(instance, table: str) -> list[str]:
    return [r[0] for r in instance.conn.execute(f"SELECT status FROM {table} ORDER BY status")]  # noqa: S608 - test table names


def test_done_deliveries_and_mails_go_after_30_days_queued_ones_stay(svc, clock):
    instance, settings = svc.instance, svc.settings
    start = utcnow()
    clock(start)
    with instance.transaction() as tx:
        done = events.emit(tx, events.GRANT_REVOKED, client_id="org-gone", grant_id="g1")
    assert webhooks.deliver(instance, settings, done) == "no-endpoint"
    failed = notifications.queue_mail(instance, kind="grant.read", to="a@example.test",
                                      subject="s", body="b")
    for _ in range(5):
        status = notifications.send(instance, settings, failed)
    assert status == "failed"
    with instance.transaction() as tx:
        # An event still being tried stays whatever its age; an attempt of the done one goes
        # with it.
        events.emit(tx, events.GRANT_EXPIRED, client_id="org-gone", grant_id="g2")
        tx.execute("INSERT INTO webhook_attempts (event_id, url, attempt, at, ok)"
                   " VALUES (?, 'https://x.example/h', 1, ?, 0)", (done, start.isoformat()))
    notifications.queue_mail(instance, kind="grant.read", to="a@example.test", subject="s",
                             body="b")

    clock(start + timedelta(days=29))
    counts = svc.grants.purge_expired()
    assert counts["webhook_events_purged"] == 0 and counts["mails_purged"] == 0
    assert _rows(instance, "webhook_events") == ["no-endpoint", "queued"]

    clock(start + timedelta(days=31))
    counts = svc.grants.purge_expired()
    assert counts["webhook_events_purged"] == 1 and counts["mails_purged"] == 1
    assert _rows(instance, "webhook_events") == ["queued"]
    assert instance.conn.execute("SELECT count(*) FROM webhook_attempts").fetchone()[0] == 0
    assert _rows(instance, "mail_outbox") == ["queued"]
    assert svc.grants.purge_expired()["webhook_events_purged"] == 0  # safe to run again

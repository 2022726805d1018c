"""``kluis operator stats`` counts queued and failed webhook and mail deliveries."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, free_port, settings_env
from vault import services as services_mod
from vault.grants import events, notifications, webhooks


def test_operator_stats_shows_queued_and_failed_webhooks_and_mails(make_settings):
    nowhere = free_port()  # nothing listens: every delivery and every send fails for real
    settings = make_settings(smtp_url=f"smtp+insecure://127.0.0.1:{nowhere}",
                             webhook_max_attempts=1)
    svc = services_mod.build(settings)
    try:
        info, _ = svc.grants.orgs.register({
            "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
            "redirect_uris": ["https://dekern.example/cb"],
            "kluis_webhook_uris": [f"http://127.0.0.1:{nowhere}/hook"]})
        with svc.instance.transaction() as tx:
            given_up = events.emit(tx, events.GRANT_REVOKED, client_id=info["client_id"],
                                   grant_id="g1", data={"by": "person"})
            events.emit(tx, events.GRANT_EXPIRED, client_id=info["client_id"], grant_id="g2")
        assert webhooks.deliver(svc.instance, settings, given_up) == "failed"
        failing = notifications.queue_mail(svc.instance, kind="grant.read",
                                           to="annemarie@example.test", subject="s", body="b")
        for _ in range(5):
            notifications.send(svc.instance, settings, failing)
        notifications.queue_mail(svc.instance, kind="grant.read", to="annemarie@example.test",
                                 subject="s", body="b")
    finally:
        svc.close()

    run = subprocess.run([sys.executable, "-m", "vault.cli", "operator", "stats"],
                         env=settings_env(settings), cwd=str(ROOT), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stdout)
    assert stats["webhook_deliveries"] == {"failed": 1, "queued": 1}
    assert stats["mail_deliveries"] == {"failed": 1, "queued": 1}
    assert "annemarie" not in run.stdout and "dekern" not in run.stdout

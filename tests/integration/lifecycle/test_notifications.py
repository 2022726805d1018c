"""Owner notifications, and their mail through a real SMTP server on loopback."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.integration.grants.test_ui_pages import signed_in


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos),
                                  envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.url = f"smtp+insecure://127.0.0.1:{port}"
    yield inbox
    controller.stop()


@pytest.fixture
def settings(make_settings, smtp):
    with smtp.lock:
        smtp.messages.clear()
    return make_settings(webhook_pump_seconds=0.3, smtp_url=smtp.url,
                         smtp_from="kluis@kluis.test")


def _wait(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_reads_give_one_mail_per_grant_per_day_without_record_values(
        live_server, granted, start_worker, smtp):
    owner, _org, token = granted()
    start_worker()
    resp = owner.put("/api/v1/notifications/mail",
                     json={"email": "annemarie@example.test", "mail_kinds": ["grant.read"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["email"] is None and resp.json()["pending_email"]
    _wait(lambda: smtp.messages)
    rcpt, confirmation = smtp.messages[0]
    assert rcpt == ["annemarie@example.test"]
    code = re.search(r"bevestigingscode voor meldingen van je kluis: (\S+)", confirmation)
    assert code
    assert owner.post("/api/v1/notifications/mail/confirm",
                      json={"code": "wrong"}).status_code == 422
    confirmed = owner.post("/api/v1/notifications/mail/confirm", json={"code": code.group(1)})
    assert confirmed.json()["email"] == "annemarie@example.test"

    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    for _ in range(3):
        assert requests.get(f"{live_server.url}/api/v1/grant/records", headers=bearer,
                            timeout=30).status_code == 200
    listed = owner.get("/api/v1/notifications").json()  # the owner's open merges the reads
    reads = [n for n in listed["notifications"] if n["kind"] == "grant.read"]
    assert len(reads) == 1 and reads[0]["count"] == 3
    assert reads[0]["text"] == "Woonstichting De Kern las je inkomen"
    _wait(lambda: len(smtp.messages) >= 2)
    for _ in range(2):
        requests.get(f"{live_server.url}/api/v1/grant/records", headers=bearer, timeout=30)
    listed = owner.get("/api/v1/notifications").json()
    assert [n["count"] for n in listed["notifications"] if n["kind"] == "grant.read"] == [5]
    time.sleep(2)  # the worker has had time for a second mail, had there been one
    mails = [m for _r, m in smtp.messages[1:]]
    assert len(mails) == 1
    assert "Woonstichting De Kern las je inkomen; bekijk het in je kluis" in mails[0]
    for value in ("5400000", "3900000", "ACME", "2025"):
        assert value not in mails[0]
    instance = live_server.app.extensions["kluis"].instance
    rows = instance.conn.execute("SELECT status, payload FROM mail_outbox").fetchall()
    assert [r["status"] for r in rows] == ["sent", "sent"]
    assert all(r["payload"] is None for r in rows)  # no address left in instance.db


def test_the_menu_shows_the_unread_count_and_the_list_clears_it(live_server, granted):
    owner, _org, token = granted()
    requests.get(f"{live_server.url}/api/v1/grant/records", timeout=30,
                 headers={"Authorization": f"Bearer {token['access_token']}"})
    http = signed_in(live_server.url, owner)
    page = http.get(f"{live_server.url}/grants", timeout=30).text
    assert re.search(r'id="unread-count">1<', page)
    listing = http.get(f"{live_server.url}/notifications", timeout=30).text
    assert "Woonstichting De Kern las je inkomen" in listing
    page = http.get(f"{live_server.url}/grants", timeout=30).text
    assert 'id="unread-count"' not in page
